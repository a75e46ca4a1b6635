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
