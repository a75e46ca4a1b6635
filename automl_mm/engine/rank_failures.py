"""Ranks that stop together: an exception on one rank, agreed on by every rank of a process group before the
next collective, stops them all at once, each naming the rank that failed and its error.

A rank that raises between two collectives leaves the others waiting in the next one (NCCL until the process
group's timeout, 30 minutes by default; gloo until its timeout or 'Connection closed by peer', naming nothing):
an OHL copy's rank whose block of the reward split held a corrupt image left its lead in the results' gather, and
every other copy at the trunk end. Where one rank may raise alone (a reading of its own shard, a step only the lead
or the main process runs), the ranks first all-reduce a failure flag (:func:`any_rank_failed`, one int; the
collective a barrier would be) and, where it is set, gather what failed and raise on every rank
(:func:`raise_agreed_failure`): the failing rank its own error, the others a :class:`RankFailure` naming it. A
rank that waited in a collective of an inner group (an OHL copy's) for a peer that failed there raises an error too,
a timeout or a lost peer (:func:`waited_for_peer`): the rank named is one whose own code failed, not the lower rank
that timed out waiting for it, and the waiting rank raises the agreed :class:`RankFailure` as well.
:func:`stopping_together` runs a block so. The NAS scoring does the same inside its gather of scores
(:func:`~automl_mm.nas.beam.score_step`). Under torchrun the tools write every rank's error where its summary reads
it (:func:`recorded_for_torchrun`), a rank told of another's failure after that rank (:class:`TorchrunErrorHandler`),
so that its "Root Cause" is the rank whose own code failed.
"""
from __future__ import annotations

import contextlib
import json
import os
import os.path as osp
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size, is_distributed
from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

from automl_mm.engine.tool_errors import origin_output, raised_as_refusal


class RankFailure(RuntimeError):
    """Raised on every rank of a group that did not fail itself, where another did (:func:`raise_agreed_failure`).

    Attributes:
        rank: The global rank that failed first: among the errors that are no wait for a peer (:func:`waited_for_peer`;
            where every one is, among the waits), the lowest of those whose own code raised, else the lowest that an
            inner group's :class:`RankFailure` names.
        cause: Its error as ``'<type>: <message>'``.
        waited: Whether ``cause`` is itself a wait in a collective for a peer (:func:`waited_for_peer`): no rank of
            the agreement raised an error of its own (a rank that died or hung elsewhere is the cause); from
            :func:`naming_first_failure`, none had recorded one when this rank's error was raised.
    """

    def __init__(self, message: str, rank: int, cause: str, waited: bool = False) -> None:
        super().__init__(message)
        self.rank, self.cause, self.waited = rank, cause, waited


class KeptFailure(RuntimeError):
    """A rank's own error kept beside a later error that would have dropped it (the failure agreement's collective,
    or the start of its process group, failed: :func:`keeping_own_failure`, ``ohl.trunk.meet_at_trunk_end``), raised
    from it: ``'<head><type>: <message><note><tail>'``.

    A tool prints it as it prints its cause (:func:`~automl_mm.engine.tool_errors.raised_as_refusal` reads
    ``shown_as_refusal``): where the cause is one of automl_mm's refusals, as a refusal (its message alone, which
    holds the cause's, and no note); else with the Python traceback, the cause's above this error's, and the note
    says so (``' (its traceback, printed above this error's, is the cause of this error)'``). It used to be printed
    as a refusal whatever its cause, its message pointing at a traceback that was printed nowhere.

    Attributes:
        shown_as_refusal: Whether the cause is one of automl_mm's refusals, as :func:`~automl_mm.engine.tool_errors.
            raised_as_refusal` says of it (without a tool's folder).
    """

    def __init__(self, head: str, failure: BaseException, tail: str = '') -> None:
        self.shown_as_refusal = raised_as_refusal(failure)
        note = '' if self.shown_as_refusal else \
            " (its traceback, printed above this error's, is the cause of this error)"
        super().__init__(f'{head}{type(failure).__name__}: {failure}{note}{tail}')


#: What torch 2.14's backends and stores say where a rank waited in a collective (or the store) for a peer that
#: failed, died or hung: gloo raises a plain ``RuntimeError`` ('[...gloo/transport/tcp/unbound_buffer.cc:78] Timed
#: out waiting 1000ms for recv operation to complete', '[...pair.cc:561] Connection closed by peer [...]', '[...]
#: Read error [...]: Connection reset by peer'), NCCL a ``DistBackendError`` (its watchdog's 'Watchdog caught
#: collective operation timeout: WorkNCCL(...) ran for 600000 milliseconds', 'NCCL communicator was aborted on rank
#: 0', 'timed out in blocking wait', 'ncclRemoteError: ... a remote process exiting prematurely'), the store a
#: ``DistStoreError`` ('wait timeout after 10000ms, keys: ...', 'Socket Timeout').
_WAIT_MESSAGES = re.compile('|'.join([
    r'Timed out waiting \d+ ?ms', r'Connection closed by peer', r'Connection reset by peer',
    r'collective operation timeout', r'communicator was aborted', r'timed out in blocking wait',
    r'NCCL operation timed out', r'ncclRemoteError', r'remote process exited', r'timed out in monitoredBarrier',
    r'(wait|barrier) timeout after \d+ ?ms', r'Socket Timeout', r'Timed out after \d+ seconds waiting for clients',
]), re.IGNORECASE)

#: gloo's own message (a plain ``RuntimeError``) begins with its source's place, ``'[<path>/gloo/<file>:<line>] '``
#: (gloo's ``GLOO_ERROR_MSG``), at the start of the message or of one of its lines (ProcessGroupGloo's
#: ``monitored_barrier`` quotes it: '[Rank 0]: Rank 1 failed to pass monitoredBarrier in 1000 ms\n Original
#: exception: \n[...gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting 1000ms ...'); a wait's words follow it
#: on that line. A plain ``RuntimeError`` that only quotes those words elsewhere is a rank's own: torch's DataLoader
#: re-raises a worker's error it cannot rebuild (urllib3's ``MaxRetryError``, one of botocore's) as a
#: ``RuntimeError`` of the worker's traceback, which may quote 'ConnectionResetError: [Errno 104] Connection reset by
#: peer' from reading data over HTTP; a user's ``RuntimeError(f'reading {url} failed: {err}')`` quotes it too.
_GLOO_WAIT = re.compile(rf'^\[[^\]\n]*\bgloo/[^\]\n]*:\d+\] [^\n]*?(?:{_WAIT_MESSAGES.pattern})',
                        re.IGNORECASE | re.MULTILINE)


def waited_for_peer(error: BaseException) -> bool:
    """Whether ``error`` is a collective's (or the store's) timeout or lost peer: what a rank raises that waited for a
    peer which failed, died or hung, rather than a fault of its own.

    ``torch.distributed.DistNetworkError`` always; a ``DistError`` (NCCL's ``DistBackendError``, the store's
    ``DistStoreError``) where its message is one of the backends' waits (:data:`_WAIT_MESSAGES`), a plain
    ``RuntimeError`` where it is gloo's message of such a wait (:data:`_GLOO_WAIT`: gloo's source place, then the
    wait's words) or, raised from a wait (``__cause__``), quotes one (an OHL trunk end's 'rank 0 could not meet the
    other copies ... ([...] Connection closed by peer ...)'); neither where it wraps another error (a chained
    ``__cause__`` that is no wait: an error that keeps a rank's own failure beside the backend's message,
    :func:`keeping_own_failure`). Other types (an ``OSError`` such as ``ConnectionResetError``,
    ``torch.OutOfMemoryError``, :class:`RankFailure`) never, nor a plain ``RuntimeError`` that quotes a wait's words
    outside gloo's message and is raised from none (a DataLoader worker's error re-raised as its traceback's text, a
    user's message).
    """
    if isinstance(error, torch.distributed.DistNetworkError):
        return True
    if type(error) is RuntimeError:  # gloo's own, or one raised from a wait that quotes it (meet_at_trunk_end's)
        waits = _GLOO_WAIT if error.__cause__ is None else _WAIT_MESSAGES
    elif isinstance(error, torch.distributed.DistError):
        waits = _WAIT_MESSAGES
    else:
        return False
    if error.__cause__ is not None and not waited_for_peer(error.__cause__):
        return False
    return bool(waits.search(str(error)))


def _spans(group: Any) -> bool:
    """Whether ``group`` (``None``: the world) holds several ranks of a distributed run."""
    return is_distributed() and get_world_size(group) > 1


def any_rank_failed(failure: BaseException | None, group: Any = None) -> bool:
    """Whether this rank's ``failure`` or any other rank's of ``group`` (``None``: the world) is set: one all-reduce
    of the maximum of a flag over ``group`` (every rank of it must call it; it returns once all have, like a
    barrier). Outside a distributed run of several ranks: whether ``failure`` is set.

    Raises:
        RuntimeError: the backend's, where a rank of ``group`` died or the collective timed out.
    """
    if not _spans(group):
        return failure is not None
    flag = torch.tensor([0 if failure is None else 1], dtype=torch.int32)
    all_reduce(flag, op='max', group=group)
    return bool(flag.item())


def raise_agreed_failure(failure: BaseException | None, what: str, group: Any = None) -> None:
    """Raise on every rank of ``group`` once :func:`any_rank_failed` said one failed: every rank of it must call it.

    The ranks gather (one ``all_gather_object`` over ``group``) their global rank, their error and whether it is a
    wait for a peer (:func:`waited_for_peer`: a collective's timeout or lost peer, as a rank raises that waited in an
    inner group's collective for a peer which failed before it). The failure named is, among the errors that are no
    such wait (where every one is: among the waits), the lowest rank's whose own code raised it, else the lowest of
    those that a :class:`RankFailure` from an inner group names: not the lower rank that timed out waiting for the one
    that raised, and an inner group's failure that is no wait before a rank's own wait.

    A rank whose own code raised re-raises its ``failure``, one that holds a :class:`RankFailure` from an inner group
    re-raises it, unless that error is a wait and the failure named is not: then, like every rank that did not fail,
    it raises the agreed :class:`RankFailure` (chained from its own error), which names the rank, its error and the
    ranks that stopped waiting for it::

        OHL trunk 3: the reward reading failed on rank 1 (OSError: cannot identify image file ...); rank 0 stopped
        waiting for it in a collective (RuntimeError: [...] Timed out waiting 1000ms for recv operation to complete);
        every rank stops here (rank 1's own output (or torchrun's failure summary) shows its error, with its
        traceback unless the error is one of automl_mm's refusals (AUTOML_MM_TRACEBACK=1 prints theirs))

    (:func:`~automl_mm.engine.tool_errors.origin_output`: true under torchrun and srun; a local launch rewrites it).

    Where every error is a wait, the message says so (a rank that died or hung outside the agreement is the cause).

    Args:
        failure: This rank's exception, or ``None``.
        what: The step, named in the message (``'OHL trunk 3: the reward reading'``).
        group: The process group (``None``: the world).

    Raises:
        BaseException: ``failure``, on the rank that holds it (unless it is a wait and another rank's is not).
        RankFailure: on the others.
    """
    rank = torch.distributed.get_rank() if is_distributed() else 0
    relayed = isinstance(failure, RankFailure)
    mine = None if failure is None else (
        (failure.rank, failure.cause, False, failure.waited) if relayed else
        (rank, f'{type(failure).__name__}: {failure}', True, waited_for_peer(failure)))
    gathered = all_gather_object(mine, group) if _spans(group) else [mine]
    failed = [f for f in gathered if f is not None]
    if not failed:
        return
    # an error of a rank's own before a wait for a peer, then an own error before a relayed one, then the lowest rank
    origin, cause, _, waited = min(failed, key=lambda f: (f[3], not f[2], f[0]))
    if failure is not None and (waited or not mine[3]):
        raise failure
    if waited:
        note = (f"; rank {origin}'s error is a collective's timeout or lost peer, a wait for a rank that failed or "
                'hung, and no rank of this agreement raised an error of its own (the cause is a rank that hung past '
                "the group's timeout, or died: its own output, or the launcher's report of it, shows which)")
    else:
        waits = sorted({(f[0], f[1]) for f in failed if f[3]})
        note = '' if not waits else (
            f'; rank {waits[0][0]} stopped waiting for it in a collective ({waits[0][1]})' if len(waits) == 1 else
            f'; ranks {", ".join(str(r) for r, _ in waits)} stopped waiting for it in a collective (rank '
            f'{waits[0][0]}: {waits[0][1]})')
    agreed = RankFailure(f'{what} failed on rank {origin} ({cause}){note}; every rank stops here '
                         f'({origin_output(origin)})', origin, cause, waited)
    if failure is None:
        raise agreed
    raise agreed from failure


@contextlib.contextmanager
def keeping_own_failure(failure: BaseException | None, what: str) -> Iterator[None]:
    """Run the block, a failure agreement's collective (an all-reduce carrying ``failure``'s flag) or the start of
    the process group it needs, keeping this rank's own ``failure`` where the block itself fails (a peer died, or hung
    past the process group's timeout; a process group that cannot start from the config: ``TypeError: ...
    init_process_group() got an unexpected keyword argument 'timout'`` from ``env_cfg.dist_cfg``, the key that
    ``failure``, check_config's refusal, names): the block's error alone dropped it.

    Raises:
        KeptFailure: the block's ``Exception`` (gloo / NCCL, mmengine's ``init_dist``) on a rank whose ``failure``
            is set: ``'{what}: the ranks could not agree on a failure ({block's error}). This rank had failed first:
            {type}: {message}'`` and, where ``failure`` is no refusal of automl_mm's, ``' (its traceback, printed
            above this error's, is the cause of this error)'``, chained from ``failure``. Without a ``failure``: the
            block's error as it was.
    """
    try:
        yield
    except Exception as err:  # noqa: BLE001 (re-raised below, or kept beside this rank's own failure)
        if failure is None:
            raise
        raise KeptFailure(f'{what}: the ranks could not agree on a failure ({err}). This rank had failed first: ',
                          failure) from failure


def agree_on_failure(failure: BaseException | None, what: str, group: Any = None) -> None:
    """:func:`any_rank_failed`, then :func:`raise_agreed_failure` where one did: every rank of ``group`` (``None``:
    the world) must call it, with its own exception or ``None``.

    Raises:
        RuntimeError: the flag's all-reduce failed (a peer died, or hung past the process group's timeout) on a rank
            whose ``failure`` is set: the backend's message followed by this rank's own error (type and message,
            chained as the cause), which the backend's alone dropped. Without a ``failure``, the backend's error.
    """
    with keeping_own_failure(failure, what):
        failed = any_rank_failed(failure, group)
    if failed:
        raise_agreed_failure(failure, what, group)


@contextlib.contextmanager
def stopping_together(what: str, group: Any = None, enabled: bool = True) -> Iterator[None]:
    """Run the block on every rank of ``group`` (``None``: the world) and agree on its failure after it
    (:func:`agree_on_failure`): an ``Exception`` raised inside on one rank stops every rank of ``group`` when they
    leave the block, not at the next collective. ``enabled=False`` (the same on every rank) runs the block plainly.

    The block itself must hold no collective over ``group`` that a failing rank would skip (place the block between
    them). Every rank of ``group`` must enter it.
    """
    if not enabled or not _spans(group):
        yield
        return
    failure = None
    try:
        yield
    except Exception as err:  # noqa: BLE001 (agreed on, then raised on every rank)
        failure = err
    agree_on_failure(failure, what, group)


#: The store key (in the default process group's store) under which the first rank whose run failed names itself
#: and its error (:func:`naming_first_failure`); the token of the run's process group (:func:`_group_token`) is
#: appended.
FIRST_FAILURE_KEY = 'automl_mm/first_failure'

#: How long a failing rank waits for the store (:func:`naming_first_failure`), in seconds: the store's host may be
#: the rank that failed first, and gone.
FIRST_FAILURE_STORE_TIMEOUT = 10.0


def _group_token() -> str:
    """A token of this process group, the same on every rank and another in every group (one ``broadcast_object_list``
    of rank 0's random hex string: every rank must call it).

    torchrun's store outlives its worker groups (the agent's, or the shared rendezvous store, serves the groups of
    every restart and membership change), and no variable tells one group from the next on every node:
    ``TORCHELASTIC_RESTART_COUNT`` counts a restart only on the node whose worker failed, not on the nodes whose
    workers were restarted with it (torch issue 135712), so a record keyed by it was read again by the next group on
    such a node, naming the earlier group's failure as its first."""
    import uuid

    from mmengine.dist import broadcast_object_list, get_rank

    token = [uuid.uuid4().hex if get_rank() == 0 else None]
    broadcast_object_list(token, src=0)
    return token[0]


def _first_failure(failure: BaseException, token: str) -> tuple[int, str, bool] | None:
    """Record ``failure`` as the first of the process group of ``token`` (:func:`_group_token`) in the default
    process group's store, unless a rank did first; the first rank, its error (``'<type>: <message>'``) and whether
    that error is a wait for a peer (:func:`waited_for_peer`) where it was another rank, else ``None`` (this rank was
    first, or the store cannot be reached).

    A wait recorded first gives way to an error of a rank's own: a rank whose collective timed out waiting for a peer
    (gloo's 'Timed out waiting 1000ms for recv operation') records before that peer's own error, raised after, is
    known; the record is then that peer's (``compare_set`` from the wait's record), which raises its own error."""
    from datetime import timedelta

    from torch.distributed import distributed_c10d

    rank = distributed_c10d.get_rank()
    origin, cause, waited = (failure.rank, failure.cause, failure.waited) if isinstance(failure, RankFailure) else (
        rank, f'{type(failure).__name__}: {failure}', waited_for_peer(failure))
    key = f'{FIRST_FAILURE_KEY}/{token}'
    record = f'{origin}\n{int(waited)}\n{cause}'
    try:
        store = distributed_c10d._get_default_store()
        store.set_timeout(timedelta(seconds=FIRST_FAILURE_STORE_TIMEOUT))
        first = store.compare_set(key, '', record).decode()  # set where absent; what it holds now
        if first != record and not waited and first.split('\n', 2)[1:2] == ['1']:  # a wait's: this error is the cause
            first = store.compare_set(key, first, record).decode()  # unless another's own error replaced it first
    except Exception:  # noqa: BLE001 (the store's host is gone: this rank's own error stands)
        return None
    first_rank, first_waited, first_cause = (first.split('\n', 2) + ['', ''])[:3]
    if not first_rank.isdigit() or int(first_rank) == rank:
        return None
    return int(first_rank), first_cause, first_waited == '1'


@contextlib.contextmanager
def naming_first_failure(what: str) -> Iterator[None]:
    """Run the block (a whole run: ``runner.train()``); where it raises in a distributed run, name the rank that
    failed first, in every rank's error.

    A user's hook, search space or transform that raises on one rank during an iteration leaves the other ranks in
    their next collective: over gloo they fail at once with the backend's ``Connection closed by peer`` (torchrun then
    stops the rest and reports the failed rank's exit signal), over NCCL they wait until the process group's
    timeout; either way the last error every other rank printed, and the end of the output, named no cause (the
    error that did was a hundred lines up, in the failed rank's traceback). The first rank whose block raises records
    its error in the process group's store (``compare_set``, so one rank wins) before it unwinds, so before its peers
    can see it gone; a rank whose block raises after that raises a :class:`RankFailure` naming that rank and its error,
    and its own error whole, chained from it. A wait for a peer (:func:`waited_for_peer`: a collective's timeout or
    lost peer) recorded first gives way to a rank's own error raised after it (a peer that hung in its own code past
    the group's timeout, then raised): that rank raises its own error, not a :class:`RankFailure` naming the rank
    that timed out waiting for it. One collective before the block (every rank must enter it): the token that keys
    this process group's record (:func:`_group_token`); none at a failure: nothing is asked of the ranks that did not
    fail. Outside a distributed run the block runs plainly.

    Raises:
        BaseException: the block's error, on the rank that failed first (or where the store cannot be reached within
            :data:`FIRST_FAILURE_STORE_TIMEOUT`, or where only waits for a peer were recorded before it).
        RankFailure: the block's own (agreed on, naming the rank); or on a rank that failed after another:
            ``'{what} failed on rank {r} ({type}: {message}); this rank stopped with it ({its own error}); ...'``
            (where rank ``r``'s error is itself a wait for a peer, the message says so after it).
    """
    if not is_distributed():
        yield
        return
    token = _group_token()
    try:
        yield
    except Exception as err:
        first = _first_failure(err, token)
        if first is None or isinstance(err, RankFailure):  # agreed on already: it names the rank (and is recorded)
            _record_for_torchrun(err)
            raise
        origin, cause, waited = first
        note = '' if not waited else (
            f"; rank {origin}'s error is a collective's timeout or lost peer, a wait for a rank that failed or hung "
            'before it')
        failure = RankFailure(f'{what} failed on rank {origin} ({cause}){note}; this rank stopped with it '
                              f'({type(err).__name__}: {err}); {origin_output(origin)}',
                              origin, cause, waited)
        failure.__cause__ = err  # as the raise below sets it: the record names where err failed, as the tool does
        _record_for_torchrun(failure)
        raise failure from err


#: How long a rank whose error names another worker of its torchrun node (a :class:`RankFailure`) waits for that
#: worker's error file before it records its own (:class:`TorchrunErrorHandler`; a local launch's worker likewise,
#: :func:`automl_mm.engine.launch._record_failure`), in seconds: the worker may have died without one (killed, out
#: of memory), or hang in its own unwinding.
ORIGIN_RECORD_TIMEOUT = 10.0


def wait_for_origin_record(ready: Callable[[], Any]) -> Any:
    """Wait for the record of the rank whose own code failed (its error file, its traceback), told by ``ready``: call
    it at once and again after each sleep of 0.05 s until it gives something other than ``None`` or ``False``, at most
    :data:`ORIGIN_RECORD_TIMEOUT` seconds (read at the call) on the monotonic clock. The wait of
    :class:`TorchrunErrorHandler` (the origin's error file) and :func:`automl_mm.engine.launch._record_failure` (its
    traceback in the launcher's folder), before each records its own error.

    Args:
        ready: Called without arguments; ``None`` or ``False`` while the record is not there, else what the caller
            reads of it (``0`` and other false values but ``False`` are a record: a timestamp of 0).

    Returns:
        ``ready()``'s first value other than ``None`` / ``False``; ``None`` once the deadline passed without one (the
        origin may have died without a record, or hang in its unwinding): the caller then records its own anyway.
    """
    deadline = time.monotonic() + ORIGIN_RECORD_TIMEOUT
    while (value := ready()) is None or value is False:
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
    return value


def _node_error_file(origin: int) -> str | None:
    """The error file torchrun's agent gave its worker of global rank ``origin``, where that worker is another of this
    process's node (its agent); ``None`` where it is this process, or on another node, or outside torchrun's layout.

    torchrun gives the workers of one agent the global ranks ``RANK - LOCAL_RANK`` up to ``+ LOCAL_WORLD_SIZE``
    (``SimpleElasticAgent._assign_worker_ranks``) and the local rank ``r`` the file ``<attempt folder>/<r>/error.json``
    (``LogsSpecs.reify``: ``TORCHELASTIC_ERROR_FILE``)."""
    own = os.environ.get('TORCHELASTIC_ERROR_FILE', '')
    try:
        rank, local, size = (int(os.environ[name]) for name in ('RANK', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE'))
    except (KeyError, ValueError):
        return None
    folder, name = osp.split(own)
    other = origin - (rank - local)
    if name != 'error.json' or osp.basename(folder) != str(local) or other == local or not 0 <= other < size:
        return None
    return osp.join(osp.dirname(folder), str(other), 'error.json')


def _error_file_timestamp(path: str) -> int | None:
    """The timestamp (whole seconds since the epoch) torchrun's agent reads from the error file ``path``
    (``ProcessFailure._get_error_data``); ``None`` while it is not there or not yet whole."""
    try:
        with open(path) as f:
            data = json.load(f)
        message = data['message']
        return int(data.get('timestamp', 0)) if isinstance(message, str) else int(message['extraInfo']['timestamp'])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class TorchrunErrorHandler(ErrorHandler):
    """torchelastic's error handler (what its ``record`` writes to ``TORCHELASTIC_ERROR_FILE``, the file of the
    worker's error its agent's summary prints), for ranks that stop together: the "Root Cause" the summary names is
    the rank whose own code failed, not a rank told of its failure.

    The agent names the failed worker of its node whose file holds the earliest timestamp (whole seconds), on a tie
    the first it saw exit (the lowest local rank where several exited in one poll), a worker without a file at the
    time it saw it exit. A rank whose own code failed in an agreement (:func:`stopping_together`, the start
    agreements) and the ranks told of it (a :class:`RankFailure` naming it) stop at the same moment: the summary
    named the rank told of it where it wrote its file first, or in the same second from a lower local rank. Here a
    :class:`RankFailure` naming another worker of this node (:func:`_node_error_file`) is recorded once that worker's
    file is there (at most :data:`ORIGIN_RECORD_TIMEOUT` seconds), in a later second than that file's timestamp
    (up to 1 s more); a worker on another node is named by its own agent, and this node's summary names this rank,
    whose error names it. An error is recorded once (:func:`naming_first_failure` records it where it is raised;
    the tools' ``main`` again at the top, :func:`recorded_for_torchrun`). Outside torchrun (no
    ``TORCHELASTIC_ERROR_FILE``) nothing is written, and ``initialize`` does not enable ``faulthandler``."""

    _recorded: BaseException | None = None

    def initialize(self) -> None:
        if self._get_error_file_path():  # torchrun's worker: fatal signals print every thread's stack
            super().initialize()

    def record_exception(self, e: BaseException) -> None:
        if not self._get_error_file_path() or e is self._recorded:
            return
        with contextlib.suppress(Exception):  # the run's own error matters more than this record of it
            origin = _node_error_file(e.rank) if isinstance(e, RankFailure) else None
            if origin is not None:
                self._after(origin)
            self._write(e)
            self._recorded = e

    def _write(self, e: BaseException) -> None:
        """torchelastic's record of ``e`` (its type and message, a timestamp, and its Python traceback as
        ``py_callstack``, which the summary prints for every failed rank), but for one of automl_mm's refusals
        (:func:`~automl_mm.engine.tool_errors.refusal_summary`: not under ``AUTOML_MM_TRACEBACK``) the refusal's
        message and the hint as the tool prints them (:func:`~automl_mm.engine.tool_errors.exit_on_refusal`) in
        place of the traceback: the summary dumped, for each rank, the traceback the tool hid on the console (for a
        rank stopped by another's error mid-run, some 45 lines ending in gloo's 'Connection closed by peer')."""
        from automl_mm.engine.tool_errors import refusal_summary, refusal_text

        # a RankFailure is raised by automl_mm's own raise statement: a refusal, also where recorded before it is
        # raised (naming_first_failure; its traceback, the current one, is its cause's), unless that cause is a
        # crash of this rank's own that the origin's output does not show (its traceback is kept for the summary)
        refused = refusal_summary(e, None, refused=isinstance(e, RankFailure) and e.__traceback__ is None
                                  and not _own_crash(e))
        if refused is None:
            super().record_exception(e)
            return
        shown = refusal_text(*refused)
        with open(self._get_error_file_path(), 'w') as f:
            json.dump({'message': {'message': f'{type(e).__name__}: {e}', 'extraInfo': {
                'py_callstack': shown, 'timestamp': str(int(time.time()))}}}, f)

    @staticmethod
    def _after(path: str) -> None:
        """Wait until the error file ``path`` is there and the clock is a second past its timestamp (at most
        :data:`ORIGIN_RECORD_TIMEOUT` seconds for the file: :func:`wait_for_origin_record`)."""
        stamp = wait_for_origin_record(lambda: _error_file_timestamp(path))
        if stamp is None:
            return
        later = stamp + 1 - time.time()
        if later > 0:
            time.sleep(later)


def _own_crash(failure: RankFailure) -> bool:
    """Whether the error ``failure`` was raised from (``__cause__``: this rank's own, :func:`naming_first_failure`)
    is a crash whose traceback no other output shows: not a wait for a peer (:func:`waited_for_peer`: its traceback,
    some 45 lines of frames ending in gloo's 'Connection closed by peer', says nothing of the cause), not one of
    automl_mm's refusals (the message is what to show), not the origin's own error again (``failure.cause``: the
    same bug on every rank, whose traceback the origin prints), e.g. an ``IndexError`` of a hook on this rank after
    rank 1's ``OSError``."""
    from automl_mm.engine.tool_errors import raised_as_refusal

    own = failure.__cause__
    if own is None or waited_for_peer(own) or raised_as_refusal(own):
        return False
    return f'{type(own).__name__}: {own}' != failure.cause


#: The handler of this process's errors under torchrun (:func:`recorded_for_torchrun`, :func:`naming_first_failure`).
TORCHRUN_ERRORS = TorchrunErrorHandler()


def recorded_for_torchrun(main: Callable[..., Any]) -> Callable[..., Any]:
    """``main`` (a tool's) under torchelastic's ``record`` with :data:`TORCHRUN_ERRORS`: an ``Exception`` it raises
    is written where torchrun's summary reads the worker's error (``TORCHELASTIC_ERROR_FILE``), and re-raised; a
    ``SystemExit(0)`` returns ``None`` (``record``'s own rule). Without, the summary named a failed rank's exit status
    alone (``traceback : To enable traceback see ...``) for every error outside :func:`naming_first_failure`."""
    from torch.distributed.elastic.multiprocessing.errors import record

    return record(main, error_handler=TORCHRUN_ERRORS)


def _record_for_torchrun(failure: BaseException) -> None:
    """Write ``failure`` where torchrun reads a failed worker's error (:data:`TORCHRUN_ERRORS`), so that its summary's
    "Root Cause" names it: without, it named the failed rank's exit status alone (``traceback : To enable traceback
    see ...``, or ``Signal 6 (SIGABRT)`` where gloo's threads aborted the exit). Nothing outside torchrun."""
    TORCHRUN_ERRORS.record_exception(failure)
