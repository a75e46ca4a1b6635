"""``automl_mm.engine.rank_failures`` outside a distributed run: a block's error is raised as it is (the object
itself, no ``RankFailure``), and nothing failed raises nothing. The ranks' agreement itself is tested with forked
gloo ranks in ``tests/test_ohl/test_reward_reading_failure_stops_every_rank.py`` and
``test_broadcast_failure_stops_every_rank.py``."""
from __future__ import annotations

import pytest

from automl_mm.engine.rank_failures import RankFailure, agree_on_failure, any_rank_failed, stopping_together


def test_one_process_raises_its_own_error_unchanged():
    planted = OSError('cannot identify image file data/reward/3.png')
    with pytest.raises(OSError) as caught, stopping_together('the reward reading'):
        raise planted
    assert caught.value is planted
    with pytest.raises(OSError) as caught:
        agree_on_failure(planted, 'the reward reading')
    assert caught.value is planted and not isinstance(caught.value, RankFailure)


def test_nothing_failed_raises_nothing():
    with stopping_together('the reward reading'):
        value = 1
    agree_on_failure(None, 'the reward reading')
    assert value == 1 and not any_rank_failed(None) and any_rank_failed(ValueError())


def test_an_agreement_that_times_out_keeps_this_ranks_own_error():
    """The flag's all-reduce times out (a peer hung) on a rank whose block raised: the error names both."""
    from unittest import mock

    timeout = RuntimeError('[gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:27028')
    own = OSError('cannot identify image file data/reward/3.png')
    with mock.patch('automl_mm.engine.rank_failures.any_rank_failed', side_effect=timeout), \
            pytest.raises(RuntimeError) as caught:
        agree_on_failure(own, 'OHL trunk 3: the reward reading')
    assert str(caught.value) == (
        f'OHL trunk 3: the reward reading: the ranks could not agree on a failure ({timeout}). This rank had failed '
        "first: OSError: cannot identify image file data/reward/3.png (its traceback, printed above this error's, is "
        'the cause of this error)')
    assert caught.value.__cause__ is own
    with mock.patch('automl_mm.engine.rank_failures.any_rank_failed', side_effect=timeout), \
            pytest.raises(RuntimeError) as caught:
        agree_on_failure(None, 'OHL trunk 3: the reward reading')  # nothing of its own: the backend's error
    assert caught.value is timeout
