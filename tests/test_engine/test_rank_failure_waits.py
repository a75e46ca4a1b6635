"""A rank that waited in a collective for a peer that failed (gloo's 'Timed out waiting ...ms for recv operation',
'Connection closed by peer'; NCCL's watchdog timeout) raises an error of its own too; the ranks' agreement
(``rank_failures.raise_agreed_failure``) and the record of a run's first failure (``naming_first_failure``) name the
rank whose own code failed, not the lower rank or the earlier one that timed out waiting for it. Real gloo groups,
forked, with a group timeout of 1 s."""
from __future__ import annotations

import json
import os
import os.path as osp
import time

import torch
from _forked_ranks import fork_ranks, join_gloo, outcome

from automl_mm.engine.rank_failures import RankFailure, waited_for_peer
from automl_mm.engine.tool_errors import origin_output

WORLD_TIMEOUT_S = 30  # the world's agreement: never reached here
GROUP_TIMEOUT_S = 1  # a copy's group: rank 0 times out waiting in it for rank 1
PLANTED = 'OSError: planted: cannot identify image file data/reward/3.png'
WHAT = 'OHL trunk 3: the reward reading'


def _copies_rank(rank: int, tmp: str, where: str) -> None:
    """4 ranks in 2 copies of 2 (groups ``[0, 1]``, ``[2, 3]``); a block under ``stopping_together`` over the world
    holds a barrier of each rank's copy. ``where='before'``: rank 1 raises before its copy's barrier (rank 0 waits in
    it until the group's timeout). ``where='late'``: rank 1 raises nothing but reaches its copy's barrier once rank 0
    timed out in it (and finds rank 0 gone there)."""
    import datetime

    import torch.distributed as torch_dist

    from automl_mm.engine.rank_failures import stopping_together

    join_gloo(rank, 4, osp.join(tmp, 'init'), timeout=WORLD_TIMEOUT_S)
    groups = [torch_dist.new_group(ranks, timeout=datetime.timedelta(seconds=GROUP_TIMEOUT_S))
              for ranks in ([0, 1], [2, 3])]
    out: dict = {}
    try:
        with stopping_together(WHAT):
            if rank == 1:
                if where == 'before':
                    raise OSError(PLANTED.partition(': ')[2])
                deadline = time.monotonic() + 30
                while not osp.exists(osp.join(tmp, 'timed_out')) and time.monotonic() < deadline:
                    time.sleep(0.01)
            try:
                torch_dist.barrier(group=groups[rank // 2])
            finally:
                if rank == 0:
                    open(osp.join(tmp, 'timed_out'), 'w').close()
    except Exception as err:  # noqa: BLE001 (recorded for the test)
        out = dict(error=f'{type(err).__name__}: {err}', chained=type(err.__cause__).__name__,
                   chained_wait=err.__cause__ is not None and waited_for_peer(err.__cause__),
                   rank=getattr(err, 'rank', None), waited=getattr(err, 'waited', None))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)
    os._exit(0)  # rank 0's copy group broke on its timeout: no teardown that meets its peer again


def _outcomes(tmp_path, nprocs: int) -> list[dict]:
    return [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(nprocs)]


def test_the_agreement_names_the_rank_that_raised_not_the_lower_one_that_timed_out_waiting_for_it(tmp_path):
    """Rank 1 raises before its copy's barrier; rank 0 waits in it until the group's timeout; then all 4 meet in the
    world's agreement: rank 0, the lower rank, was named, with its timeout, on ranks 2 and 3 (and raised it itself),
    while rank 1's OSError was shown on rank 1 alone."""
    fork_ranks(_copies_rank, (str(tmp_path), 'before'), nprocs=4, timeout=60)
    outs = _outcomes(tmp_path, 4)
    assert outs[1]['error'] == PLANTED, outs
    named = f'RankFailure: {WHAT} failed on rank 1 ({PLANTED}); rank 0 stopped waiting for it in a collective ('
    for r in (0, 2, 3):  # the same RankFailure on every other rank, rank 0's timeout among its words
        assert outs[r]['error'].startswith(named), (r, outs)
        assert 'Timed out waiting 1000ms' in outs[r]['error'], (r, outs)
        assert outs[r]['error'] == outs[0]['error'], outs
        assert outs[r]['error'].endswith(f'every rank stops here ({origin_output(1)})'), (r, outs)
        assert (outs[r]['rank'], outs[r]['waited']) == (1, False), (r, outs)
    assert outs[0]['chained_wait'], outs  # rank 0's own timeout, chained as the cause of its RankFailure


def test_an_agreement_on_waits_alone_says_no_rank_raised_one_of_its_own(tmp_path):
    """Rank 1 hangs (raises nothing) until rank 0 timed out in their copy's barrier, then loses its peer there: the
    lowest rank's timeout is named, and the message says it is a wait, not that rank's fault."""
    fork_ranks(_copies_rank, (str(tmp_path), 'late'), nprocs=4, timeout=60)
    outs = _outcomes(tmp_path, 4)
    for r in (0, 1):
        kind, _, message = outs[r]['error'].partition(': ')
        assert kind == 'RuntimeError' and waited_for_peer(RuntimeError(message)), outs
    for r in (2, 3):
        assert outs[r]['error'].startswith(f'RankFailure: {WHAT} failed on rank 0 (RuntimeError: '), outs
        assert "rank 0's error is a collective's timeout or lost peer" in outs[r]['error'], outs
        assert 'no rank of this agreement raised an error of its own' in outs[r]['error'], outs
        assert (outs[r]['rank'], outs[r]['waited']) == (0, True), outs


#: What rank 1 raises once rank 0's timeout was recorded: an error of its own, or a wait of its own (gloo's lost peer).
LOST_PEER = ('RuntimeError: [gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:32145. This is '
             'typically caused by a remote worker crashing.')


def _wait_recorded_first(rank: int, tmp: str, second: str) -> None:
    """Rank 0 times out in the world's barrier (rank 1 is late), so records its timeout first; rank 1 then raises
    ``second`` (``'<type>: <message>'``, an ``OSError`` or a ``RuntimeError``)."""
    from automl_mm.engine.rank_failures import naming_first_failure

    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=GROUP_TIMEOUT_S)

    def run() -> None:
        import torch.distributed as torch_dist

        with naming_first_failure('tools/train.py: the run'):
            if rank == 0:
                torch_dist.barrier()
            deadline = time.monotonic() + 30
            while not osp.exists(osp.join(tmp, 'recorded')) and time.monotonic() < deadline:
                time.sleep(0.01)
            kind, _, message = second.partition(': ')
            raise {'OSError': OSError, 'RuntimeError': RuntimeError}[kind](message)

    found = outcome(run)
    if rank == 0:
        open(osp.join(tmp, 'recorded'), 'w').close()
    with open(osp.join(tmp, f'rank{rank}.txt'), 'w') as f:
        f.write(found)
    os._exit(0)


def test_a_rank_that_raised_after_a_peer_timed_out_waiting_for_it_is_not_named_by_that_timeout(tmp_path):
    """Rank 0's timeout was recorded first; rank 1's own error after it raised a RankFailure naming rank 0 and
    its timeout, its own OSError demoted to 'this rank stopped with it'."""
    fork_ranks(_wait_recorded_first, (str(tmp_path), PLANTED), timeout=60)
    waited, failed = ((tmp_path / f'rank{r}.txt').read_text() for r in (0, 1))
    assert waited.startswith('RuntimeError: ') and 'Timed out waiting' in waited, waited
    assert failed == PLANTED, failed


def test_a_rank_whose_wait_follows_a_recorded_wait_names_it_as_a_wait(tmp_path):
    """Rank 1 loses its peer after rank 0's timeout was recorded: it names rank 0 (the first), saying that rank 0's
    error is a wait too, and keeps its own."""
    fork_ranks(_wait_recorded_first, (str(tmp_path), LOST_PEER), timeout=60)
    waited, failed = ((tmp_path / f'rank{r}.txt').read_text() for r in (0, 1))
    assert waited.startswith('RuntimeError: ') and 'Timed out waiting' in waited, waited
    assert failed.startswith('RankFailure: tools/train.py: the run failed on rank 0 (RuntimeError: '), failed
    assert ("; rank 0's error is a collective's timeout or lost peer, a wait for a rank that failed or hung before "
            f'it; this rank stopped with it ({LOST_PEER})') in failed, failed


class FetchError(Exception):
    """A dataset's error of two arguments (as urllib3's ``MaxRetryError(pool, url, reason)``, botocore's keyword-only
    ones): torch's DataLoader cannot rebuild it from its traceback's text in the main process, and raises a plain
    ``RuntimeError`` of that text instead (``ExceptionWrapper.reraise``)."""

    def __init__(self, url: str, reason: BaseException) -> None:
        super().__init__(f'cannot fetch {url}: {reason}')


def _data_error_of_a_worker() -> RuntimeError:
    """What the main process raises where a DataLoader worker's read of an image over HTTP lost its connection: a
    plain RuntimeError whose text, the worker's traceback, quotes ``ConnectionResetError: [Errno 104] Connection
    reset by peer``: the rank's own data error, no wait in a collective."""
    from torch._utils import ExceptionWrapper

    try:
        try:
            raise ConnectionResetError(104, 'Connection reset by peer')
        except ConnectionResetError as err:
            raise FetchError('http://data/reward/3.png', err) from err
    except FetchError:
        wrapped = ExceptionWrapper(where='in DataLoader worker process 0')
    try:
        wrapped.reraise()
    except RuntimeError as err:
        return err
    raise AssertionError('ExceptionWrapper.reraise raised nothing')


def _own_errors_rank(rank: int, tmp: str) -> None:
    """3 ranks under ``stopping_together`` over the world: rank 0 raises a DataLoader worker's data error (a plain
    RuntimeError quoting 'Connection reset by peer'), rank 1 a ValueError, rank 2 nothing."""
    from automl_mm.engine.rank_failures import stopping_together

    join_gloo(rank, 3, osp.join(tmp, 'init'), timeout=WORLD_TIMEOUT_S)

    def run() -> None:
        with stopping_together(WHAT):
            if rank == 0:
                raise _data_error_of_a_worker()
            if rank == 1:
                raise ValueError('planted: a reward out of range')

    found = outcome(run)
    with open(osp.join(tmp, f'rank{rank}.txt'), 'w') as f:
        f.write(found)
    os._exit(0)


def test_a_ranks_own_error_that_quotes_a_lost_connection_is_no_wait_in_a_collective(tmp_path):
    """6c92a81 took any plain RuntimeError whose text held 'Connection reset by peer' for gloo's wait: rank 0's
    DataLoader error (a worker's ConnectionResetError, quoted in the traceback torch re-raises as a RuntimeError)
    raised a RankFailure naming rank 1's ValueError, saying 'rank 0 stopped waiting for it in a collective', and its
    own error was shown nowhere but as that wait; rank 2 was told the same."""
    fork_ranks(_own_errors_rank, (str(tmp_path),), nprocs=3, timeout=60)
    outs = [(tmp_path / f'rank{r}.txt').read_text() for r in range(3)]
    assert outs[0].startswith('RuntimeError: Caught FetchError in DataLoader worker process 0.'), outs
    assert outs[1] == 'ValueError: planted: a reward out of range', outs
    assert outs[2].startswith(f'RankFailure: {WHAT} failed on rank 0 (RuntimeError: Caught FetchError in '), outs
    assert 'stopped waiting' not in outs[2], outs


def test_the_waits_of_a_collective_are_told_from_a_ranks_own_errors():
    """gloo's and NCCL's messages (torch 2.14: gloo a plain RuntimeError, NCCL a DistBackendError), torch's store
    errors; and errors that are not such a wait, among them one that quotes a wait's message while keeping a rank's
    own error (``keeping_own_failure``) and torch's DataLoader timeout."""
    import torch.distributed as torch_dist

    waits = [
        RuntimeError('[/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting 1000ms '
                     'for recv operation to complete'),
        RuntimeError('[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection closed by peer '
                     '[127.0.0.1]:32145. This is typically caused by a remote worker crashing.'),
        RuntimeError('[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:2449: '
                     'Connection reset by peer.'),
        RuntimeError('[Rank 0]: Rank 1 failed to pass monitoredBarrier in 1000 ms\n Original exception: \n[/__w/'
                     'pytorch/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting '
                     '1000ms for recv operation to complete'),
        torch_dist.DistBackendError('[Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7, '
                                    'OpType=ALLREDUCE) ran for 600000 milliseconds before timing out.'),
        torch_dist.DistBackendError('NCCL communicator was aborted on rank 0.'),
        torch_dist.DistBackendError('NCCL error in: ProcessGroupNCCL.cpp:1970, remote process exited or there was a '
                                    'network error\nncclRemoteError: A call failed possibly due to a network error '
                                    'or a remote process exiting prematurely.'),
        torch_dist.DistStoreError('wait timeout after 10000ms, keys: /automl_mm/x'),
        torch_dist.DistNetworkError('failed to recv, got 0 bytes'),
    ]
    met = RuntimeError('OHL trunk 3: rank 0 could not meet the other copies at the trunk end: a rank crashed or hung '
                       f'longer than env_cfg.dist_cfg.timeout. ... ({waits[1]})')
    met.__cause__ = waits[1]  # meet_at_trunk_end's error where this rank's own reading raised nothing
    waits.append(met)
    for error in waits:
        assert waited_for_peer(error), error
    own = OSError('planted')
    kept = RuntimeError(f'the reward reading: the ranks could not agree on a failure ({waits[1]}). This rank had '
                        'failed first: OSError: planted')
    kept.__cause__ = own
    others = [own, kept, RankFailure('x failed on rank 1 (...)', 1, 'OSError: planted'),
              RuntimeError('DataLoader timed out after 5 seconds'),
              torch_dist.DistBackendError('NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error'),
              torch.OutOfMemoryError('CUDA out of memory. Connection reset by peer'),
              _data_error_of_a_worker(),
              RuntimeError('reading http://data/reward/3.png failed: [Errno 104] Connection reset by peer'),
              RuntimeError('the camera timed out: Timed out waiting 500ms for a frame')]
    for error in others:
        assert not waited_for_peer(error), error

