"""Ranks that stop together: an exception on one rank, agreed on by every rank of a process group before the
next collective, stops them all at once, each naming the rank that failed and its error.

A rank that raises between two collectives leaves the others waiting in the next one (NCCL until the process
group's timeout, 30 minutes by default; gloo until its timeout or 'Connection closed by peer', naming nothing):
an OHL copy's rank whose block of the reward split held a corrupt image left its lead in the results' gather, and
every other copy at the trunk end. Where one rank may raise alone (a reading of its own shard, a step only the lead
or the main process runs), the ranks first all-reduce a failure flag (:func:`any_rank_failed`, one int; the
collective a barrier would be) and, where it is set, gather what failed and raise on every rank
(:func:`raise_agreed_failure`): the failing rank its own error, the others a :class:`RankFailure` naming it.
:func:`stopping_together` runs a block so. The NAS scoring does the same inside its gather of scores
(:func:`~automl_mm.nas.beam.score_step`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size, is_distributed


class RankFailure(RuntimeError):
    """Raised on every rank of a group that did not fail itself, where another did (:func:`raise_agreed_failure`).

    Attributes:
        rank: The global rank that failed first (the lowest of those whose own code raised).
        cause: Its error as ``'<type>: <message>'``.
    """

    def __init__(self, message: str, rank: int, cause: str) -> None:
        super().__init__(message)
        self.rank, self.cause = rank, cause


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

    The ranks gather (one ``all_gather_object`` over ``group``) their global rank and error; a rank whose own code
    raised re-raises its ``failure``, one that holds a :class:`RankFailure` from an inner group re-raises it, and
    the others raise a :class:`RankFailure` naming the lowest rank whose own code raised and its error.

    Args:
        failure: This rank's exception, or ``None``.
        what: The step, named in the message (``'OHL trunk 3: the reward reading'``).
        group: The process group (``None``: the world).

    Raises:
        BaseException: ``failure``, on the rank that holds it.
        RankFailure: on the others.
    """
    rank = torch.distributed.get_rank() if is_distributed() else 0
    relayed = isinstance(failure, RankFailure)
    mine = None if failure is None else (
        (failure.rank, failure.cause, False) if relayed else (rank, f'{type(failure).__name__}: {failure}', True))
    gathered = all_gather_object(mine, group) if _spans(group) else [mine]
    if failure is not None:
        raise failure
    failed = [f for f in gathered if f is not None]
    if not failed:
        return
    origin, cause, _ = min(failed, key=lambda f: (not f[2], f[0]))  # an own error before a relayed one
    raise RankFailure(f'{what} failed on rank {origin} ({cause}); every rank stops here (rank {origin}\'s log has '
                      'the traceback)', origin, cause)


@contextlib.contextmanager
def keeping_own_failure(failure: BaseException | None, what: str) -> Iterator[None]:
    """Run the block, a failure agreement's collective (an all-reduce carrying ``failure``'s flag), keeping this
    rank's own ``failure`` where the collective itself fails (a peer died, or hung past the process group's timeout):
    the backend's error alone dropped it.

    Raises:
        RuntimeError: the block's ``RuntimeError`` (gloo / NCCL) on a rank whose ``failure`` is set: ``'{what}: the
            ranks could not agree on a failure ({backend error}). This rank had failed first: {type}: {message} (its
            traceback is the cause of this error)'``, chained from ``failure``. Without a ``failure``: the backend's
            error as it was.
    """
    try:
        yield
    except RuntimeError as err:
        if failure is None:
            raise
        raise RuntimeError(
            f'{what}: the ranks could not agree on a failure ({err}). This rank had failed first: '
            f'{type(failure).__name__}: {failure} (its traceback is the cause of this error)') from failure


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
