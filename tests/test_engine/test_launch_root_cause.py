"""A local launch (``tools/train.py`` of an OHL config, :func:`~automl_mm.engine.launch.launch_local`) reported the
worker it saw exit first: after an agreement on a failure (``stopping_together``, the start agreements) every rank
stops at once, and the rank told of the failure (a ``RankFailure`` naming the rank whose own code failed) usually
leaves first, the failing rank's unwinding being longer. 4 real runs of 2 workers whose rank 1 failed in a
``stopping_together`` block all said 'worker rank 0 of 2 failed' with rank 0's ``RankFailure`` traceback (rank 1's own
was lost: torch terminated it). Now every failing worker records its traceback, and a worker told of another's
failure records that rank, after that rank's record (at most ``ORIGIN_RECORD_TIMEOUT`` seconds): the launcher
reports it, with its own traceback, whichever worker it saw end first."""
from __future__ import annotations

import datetime
import os.path as osp
import time

import pytest
from _forked_ranks import fork_ranks

PLANTED = 'planted: a value out of range in the shard of rank 1'


def _agreed_failure(cfg_path: str, unwinding_s: float, exiting_s: float = 0.0) -> None:
    """A launched worker: rank 1's own code fails in an agreement; it leaves ``unwinding_s`` later than rank 0,
    which is told of it (its DataLoader workers ending, its longer traceback printed), and its process ends
    ``exiting_s`` after its error left ``main`` (its exit's clean-up)."""
    import multiprocessing.util

    import torch.distributed as torch_dist

    from automl_mm.engine.rank_failures import stopping_together

    torch_dist.init_process_group('gloo', timeout=datetime.timedelta(seconds=30))
    rank = torch_dist.get_rank()
    if rank == 1 and exiting_s:
        multiprocessing.util.Finalize(None, time.sleep, args=(exiting_s,), exitpriority=0)
    try:
        with stopping_together('the reward reading'):
            if rank == 1:
                raise ValueError(PLANTED)
    finally:
        if rank == 1:
            time.sleep(unwinding_s)


def _launcher(index: int, tmp: str, unwinding_s: float, origin_timeout_s: float, exiting_s: float = 0.0) -> None:
    from functools import partial

    from mmengine.config import Config

    from automl_mm.engine import launch, rank_failures

    launch.start_method = lambda: 'fork'  # the workers forked from this process (no fork server: cheap)
    launch.prestart_workers = lambda: None
    rank_failures.ORIGIN_RECORD_TIMEOUT = origin_timeout_s
    try:
        main = partial(_agreed_failure, unwinding_s=unwinding_s, exiting_s=exiting_s)
        launch.launch_local(Config(dict(work_dir=osp.join(tmp, 'work'))), 2, main)
    except launch.WorkerError as err:
        with open(osp.join(tmp, 'reported.txt'), 'w') as f:
            f.write(str(err))


@pytest.mark.parametrize('unwinding_s, exiting_s', [(1.0, 0.0), (0.0, 1.0)], ids=['unwinding', 'exiting'])
def test_the_worker_reported_is_the_rank_whose_own_code_failed(tmp_path, monkeypatch, unwinding_s, exiting_s):
    """Rank 1 ends after rank 0, which was told of its failure: still in its own code (``unwinding``: rank 0 waits
    for its record), or after its error left it (``exiting``: torch sees rank 0 end first). With tracebacks kept
    (``AUTOML_MM_TRACEBACK=1``: a refusal is otherwise reported by its message alone, below)."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('AUTOML_MM_TRACEBACK', '1')
    fork_ranks(_launcher, (str(tmp_path), unwinding_s, 10.0, exiting_s), nprocs=1, timeout=120)
    reported = (tmp_path / 'reported.txt').read_text()
    assert reported.startswith(f'worker rank 1 of 2 failed (work_dir {tmp_path / "work"}):\n'), reported
    assert 'Traceback (most recent call last)' in reported
    assert reported.rstrip().splitlines()[-1] == f'ValueError: {PLANTED}', reported  # its own, printed last
    assert 'RankFailure' not in reported, reported


def test_a_failing_rank_that_does_not_stop_in_time_leaves_the_rank_told_of_it_reported(tmp_path, monkeypatch):
    """The rank whose own code failed hangs in its unwinding past the wait: the launcher reports the rank told of
    it (whose error names it), as before."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('AUTOML_MM_TRACEBACK', '1')
    fork_ranks(_launcher, (str(tmp_path), 30.0, 0.5), nprocs=1, timeout=120)
    reported = (tmp_path / 'reported.txt').read_text()
    assert reported.startswith('worker rank 0 of 2 failed'), reported
    # its message says what is true of a local launch: rank 1's error is in no output (it said 'rank 1's log has the
    # traceback'), and this worker's is reported because rank 1 recorded none in time
    assert reported.rstrip().splitlines()[-1].endswith(
        f"the reward reading failed on rank 1 (ValueError: {PLANTED}); every rank stops here (rank 1's error is not "
        "shown: the local launcher prints one worker's error, this one's, as rank 1 recorded none in time (it died, "
        'or hung while stopping))'), reported


def test_a_refusal_of_the_rank_whose_own_code_failed_is_reported_by_its_message_alone(tmp_path, monkeypatch):
    """Without ``AUTOML_MM_TRACEBACK`` one of automl_mm's refusals is reported by its message alone
    (``WorkerRefused``); the rank named is still the one whose own code failed, not the rank told of it (the two
    fixes meet in ``launch._run_main``, which records the refusal as the worker's traceback would end)."""
    from automl_mm.engine.launch import WorkerRefused  # noqa: F401  (the class the launcher raises here)

    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.delenv('AUTOML_MM_TRACEBACK', raising=False)
    fork_ranks(_launcher, (str(tmp_path), 0.0, 10.0, 1.0), nprocs=1, timeout=120)
    reported = (tmp_path / 'reported.txt').read_text()
    assert reported == f'worker rank 1 of 2 (work_dir {tmp_path / "work"}): {PLANTED}', reported
