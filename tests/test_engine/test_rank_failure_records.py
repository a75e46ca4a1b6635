"""The record of a distributed run's first failure (``rank_failures.naming_first_failure``): the rank that failed first
records its error in the process group's store; a rank that fails after it names that rank and its error, and its
own error as well."""
from __future__ import annotations

import os
import os.path as osp
import time

import pytest
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, outcome

from automl_mm.engine.rank_failures import RankFailure, naming_first_failure
from automl_mm.engine.tool_errors import origin_output


def _group_on(store, run) -> None:
    """Run ``run()`` as the one worker of a gloo process group started on ``store``; the group ends after it."""
    torch_dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    try:
        run()
    finally:
        torch_dist.destroy_process_group()


def test_a_record_of_an_earlier_worker_group_is_not_this_groups_first_failure(monkeypatch):
    """torchrun's store outlives its worker groups (a restart, a node joining), and a node whose workers a restart
    of another node's restarted counts no restart (torch issue 135712): the group after it read the same
    ``TORCHELASTIC_RUN_ID`` / ``TORCHELASTIC_RESTART_COUNT`` on that node, and a rank that failed first there was
    told that rank 1 had failed first, with the earlier group's error, its own error demoted to 'this rank stopped
    with it'. Two groups of one worker on one store (the agent's): the first one's run stopped with rank 1's agreed
    failure, the second one's raises its own error."""
    monkeypatch.setenv('TORCHELASTIC_RUN_ID', 'run')
    monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', '0')  # on this node in both groups
    store = torch_dist.HashStore()
    earlier = RankFailure('the run failed on rank 1 (ValueError: the earlier group\'s error)', 1,
                          "ValueError: the earlier group's error")

    def fails(error: Exception) -> None:
        with naming_first_failure('tools/train.py: the run'):
            raise error

    _group_on(store, lambda: pytest.raises(RankFailure, fails, earlier))
    own = OSError('cannot identify image file data/train/17.png')
    with pytest.raises(OSError) as caught:
        _group_on(store, lambda: fails(own))
    assert caught.value is own


def _second_to_fail(rank: int, tmp: str, own_error: str) -> None:
    """Rank 1 fails first; rank 0 fails once rank 1's record is made, with ``own_error``."""
    join_gloo(rank, 2, osp.join(tmp, 'init'))  # both ranks' gloo mesh is up before rank 1 leaves

    def run() -> None:
        with naming_first_failure('tools/train.py: the run'):
            if rank == 1:
                raise ValueError('planted: a value out of range at iteration 2')
            deadline = time.monotonic() + 60
            while not osp.exists(osp.join(tmp, 'recorded')) and time.monotonic() < deadline:
                time.sleep(0.01)
            raise RuntimeError(own_error)

    found = outcome(run)
    if rank == 1:
        open(osp.join(tmp, 'recorded'), 'w').close()  # its record was made before its error left the block
    with open(osp.join(tmp, f'rank{rank}.txt'), 'w') as f:
        f.write(found)
    os._exit(0)  # without meeting the other rank again (as a failed run's ranks end)


def test_a_rank_that_fails_second_names_the_first_and_keeps_its_own_error_whole(tmp_path):
    """Rank 0's own error, a different one of 600 characters (an out-of-memory message with its advice, a config
    check listing the keys), was cut to its first 300 in its message, which the tool prints alone
    (``exit_on_refusal``: no traceback under it): what followed was printed nowhere."""
    own = 'CUDA out of memory. ' + 'Tried to allocate 20.00 MiB; ' * 20 + 'set PYTORCH_CUDA_ALLOC_CONF'
    assert len(own) > 600
    fork_ranks(_second_to_fail, (str(tmp_path), own), timeout=120)
    first, second = ((tmp_path / f'rank{rank}.txt').read_text() for rank in (1, 0))
    cause = 'ValueError: planted: a value out of range at iteration 2'
    assert first == cause
    assert second == (f'RankFailure: tools/train.py: the run failed on rank 1 ({cause}); this rank stopped with it '
                      f'(RuntimeError: {own}); {origin_output(1)}'), second
