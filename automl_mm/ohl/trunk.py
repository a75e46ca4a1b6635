"""When OHL trunks begin and end within the training loop, and which trunk ends broadcast the best copy.

:class:`LateTrunkStart` begins the next trunk after every hook of the iteration that ended one inside an epoch
(:func:`add_late_trunk_start` registers it); an iteration loop's data iterator restarts on the bound pipeline before
the first trunk (:func:`restart_workers`); every rank meets at a trunk end after reading its reward and learns
whether any rank's reading failed (:func:`meet_at_trunk_end`); :func:`broadcasts_after` says whether a trunk end
broadcasts the best copy. Split from :mod:`automl_mm.ohl.hook`, whose :class:`~automl_mm.ohl.hook.OHLHook` sequences
them and which re-exports :class:`LateTrunkStart` and :func:`restart_workers`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmengine.hooks import Hook

from automl_mm.engine.rank_failures import KeptFailure, any_rank_failed, raise_agreed_failure

from .checks import validates_after
from .data_writes import mark_pipeline_changed

if TYPE_CHECKING:
    from .hook import OHLHook


class LateTrunkStart(Hook):
    """The last ``after_train_iter`` of an epoch-based run whose ``OHLHook(trunk_iters=...)`` trunks end inside
    epochs: begins the next trunk there (:meth:`OHLHook.start_pending_trunk`), right before the next batch is loaded
    and after every hook of the iteration that ended the trunk, so those hooks see that trunk's values. mmengine's
    ``ParamSchedulerHook`` (``'LOW'``, after ``OHLHook``) steps there: a searched scheduler attribute
    (``param_schedulers.0.gamma`` of an ``ExponentialLR``) of the next trunk multiplied the lr after the last
    iteration of the trunk before it, where the trunk boundaries at epoch ends, iteration-based loops and the
    exported ``TrunkScheduleHook`` step with the ending trunk's. ``OHLHook.before_train`` registers it
    (:func:`add_late_trunk_start`)."""

    priority = 'LOWEST'

    def __init__(self, ohl: OHLHook) -> None:
        self.ohl = ohl

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None) -> None:
        self.ohl.start_pending_trunk(runner)


def add_late_trunk_start(runner: Any, ohl: OHLHook, iteration_loop: bool) -> None:
    """Register a :class:`LateTrunkStart` for ``ohl`` on ``runner`` (priority ``'LOWEST'``: after every other hook of
    any priority) where its trunks can end inside epochs: an epoch-based loop (``iteration_loop`` False) with
    ``trunk_iters``. Once: a runner that holds one for ``ohl`` already (``before_train`` again) gets no second."""
    if not iteration_loop and ohl.trunk_iters is not None and not any(
            isinstance(h, LateTrunkStart) and h.ohl is ohl for h in runner.hooks):
        runner.register_hook(LateTrunkStart(ohl), priority='LOWEST')


def broadcasts_after(runner: Any, trunk: int, broadcast_interval: int, partial: bool, iters: int,
                     valids: list[bool]) -> bool:
    """Whether the end of trunk ``trunk`` (0-based; ``iters`` iterations done) broadcasts the best copy: every
    ``broadcast_interval``-th trunk does, and so do the run's last trunk (``partial``, or ``iters`` reaching
    ``runner.max_iters``: the final model is the best copy), a trunk that a validation follows
    (:func:`~automl_mm.ohl.checks.validates_after`: one model on every rank) and a trunk with a diverged copy
    (``valids`` not all true: it must be repaired)."""
    return ((trunk + 1) % broadcast_interval == 0 or partial or iters >= runner.max_iters
            or not all(valids) or validates_after(runner, iters))


def meet_at_trunk_end(failure: BaseException | None, trunk: int, rank: int, what: str) -> None:
    """Every rank meets here at a trunk end, after its reward reading (where a barrier stood: it separates waiting for
    the slowest copy from the cost of the collectives after it), and learns whether any rank's reading failed (one
    all-reduced flag, :func:`~automl_mm.engine.rank_failures.any_rank_failed`). Every rank must call it, with its
    reading's exception or ``None``.

    Raises:
        BaseException: ``failure``, on the rank whose reading raised it (a corrupt image or a metric's error on its
            shard, the lead's BN re-estimation).
        RankFailure: on every other rank where one failed, naming ``what``, that rank and its error (they used to wait
            for it at the next collective until the process group's timeout, 30 minutes by default).
        RuntimeError: a rank could not meet the others (a rank crashed, or hung longer than
            ``env_cfg.dist_cfg.timeout``), naming trunk ``trunk``, this rank (``rank``), how to continue and, where
            this rank's reading raised ``failure`` (a collective of the reading that timed out on a peer that hung),
            that error's type and message (chained as the cause: a
            :class:`~automl_mm.engine.rank_failures.KeptFailure`, printed by the tools as that error is).
    """
    try:
        failed = any_rank_failed(failure)
    except RuntimeError as err:  # gloo/nccl raise when a peer died or the collective timed out
        head = (f'OHL trunk {trunk}: rank {rank} could not meet the other copies at the trunk end: a rank crashed or '
                'hung longer than env_cfg.dist_cfg.timeout. Continue from the last checkpoint with '
                f'`tools/train.py CONFIG --resume`. ({err})')
        if failure is None:
            raise RuntimeError(head) from err
        # as its own error is shown: a refusal's message alone, a crash's traceback above this one's
        raise KeptFailure(f'{head} This rank had failed first, in {what}: ', failure, '.') from failure
    if failed:
        raise_agreed_failure(failure, what)


def restart_workers(loop: Any) -> None:
    """Give an iteration loop a new data iterator whose worker processes start from the pipeline as it is now.

    Does nothing without worker processes (the main process runs the very pipeline objects). With persistent
    workers the dataloader's own cached iterator (which a new ``iter`` would reuse) is shut down too. A loader
    prepared for data paths (:func:`~automl_mm.ohl.data_writes.watch_data_writes`) restarts its workers before
    the next batch instead.
    """
    loader = loop.dataloader
    if getattr(loader, 'num_workers', 0) == 0:
        return
    if mark_pipeline_changed(loader):
        return
    for it in (getattr(loop.dataloader_iterator, '_iterator', None), getattr(loader, '_iterator', None)):
        if hasattr(it, '_shutdown_workers'):
            it._shutdown_workers()
    if getattr(loader, '_iterator', None) is not None:
        loader._iterator = None
    loop.dataloader_iterator = type(loop.dataloader_iterator)(loader)
