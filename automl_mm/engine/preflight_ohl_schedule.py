"""The stand-in of the runner that the OHL start checks read, built from the config in the launching process
(:func:`~automl_mm.engine.preflight_ohl.check_ohl_config`): the train loop (its class, ``max_epochs`` / ``max_iters``,
``val_begin`` / ``val_interval`` / ``dynamic_intervals``: :func:`_loop`), the ``CheckpointHook`` s the runner will
have (mmengine's default one where the config sets none: :func:`_checkpoint_entries`), the optimiser wrappers'
``accumulative_counts``, and the iterations per epoch, counted on the train dataloader built as a worker builds it
only where a check's answer depends on them (:func:`_needs_epoch_length`, :func:`_count_epoch`). Also the checks of
the schedule numbers a config can hold without an ``OHLHook``: every ``CheckpointHook``'s ``interval`` /
``save_begin`` a whole number (:func:`check_checkpoint_numbers`) and a ``TrunkScheduleHook``'s ``trunk_epochs`` under
an iteration loop (:func:`_check_schedule_hooks`).
"""
from __future__ import annotations

import copy
import inspect
from types import SimpleNamespace
from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError

from .preflight_walk import config_scope

#: mmengine's ``Runner.register_default_hooks``: the checkpoint hook a config that leaves it out gets
DEFAULT_CHECKPOINT = dict(type='CheckpointHook', interval=1)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _loop(cfg: Any, scope: str) -> Any:
    """A stand-in of the train loop: an ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop`` (or subclass) instance with
    the schedule attributes mmengine's constructor sets, not constructed, with its ``max_epochs`` and ``max_iters``
    arguments; ``None`` for other loops."""
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
    from mmengine.runner.utils import calc_dynamic_intervals

    from automl_mm.registry import LOOPS, registered_class

    node = cfg.get('train_cfg')
    if not isinstance(node, dict):
        return None
    if 'type' in node:
        kind = node['type']
        cls = kind if isinstance(kind, type) else registered_class(LOOPS, kind, node.get('_scope_') or scope)
    else:
        cls = EpochBasedTrainLoop if node.get('by_epoch', True) else IterBasedTrainLoop
    if not (isinstance(cls, type) and issubclass(cls, (EpochBasedTrainLoop, IterBasedTrainLoop))):
        return None
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    args = dict(defaults, **{k: v for k, v in node.items() if k not in ('type', 'by_epoch', '_scope_')})
    loop = object.__new__(cls)
    loop.val_begin, loop.val_interval = args.get('val_begin', 1), args.get('val_interval', 1)
    try:
        loop.dynamic_milestones, loop.dynamic_intervals = calc_dynamic_intervals(
            loop.val_interval, [tuple(i) for i in args['dynamic_intervals']] if args.get('dynamic_intervals') else None)
    except (AssertionError, IndexError, TypeError, ValueError):
        return None  # a malformed train_cfg.dynamic_intervals: mmengine's loop refuses it
    return loop, args.get('max_epochs'), args.get('max_iters')


def _checkpoint_entries(cfg: Any, scope: str) -> list[tuple[str, Any]]:
    """``(config key, entry)`` of each ``CheckpointHook`` (or subclass) the runner will have:
    ``default_hooks.checkpoint`` (mmengine's default when the config does not set it; none when it is ``None``) and
    any in ``custom_hooks``."""
    from mmengine.hooks import CheckpointHook

    from automl_mm.registry import HOOKS, registered_class

    default_hooks = cfg.get('default_hooks') or {}
    entries = [('default_hooks.checkpoint', default_hooks.get('checkpoint', DEFAULT_CHECKPOINT))]
    entries += [(f'custom_hooks[{i}]', entry) for i, entry in enumerate(cfg.get('custom_hooks') or [])]
    found = []
    for key, entry in entries:
        if isinstance(entry, dict):
            kind = entry.get('type')
            cls = kind if isinstance(kind, type) else registered_class(
                HOOKS, kind, entry.get('_scope_') or scope) if isinstance(kind, str) else None
            entry = entry if isinstance(cls, type) and issubclass(cls, CheckpointHook) else None
        if isinstance(entry, (dict, CheckpointHook)):
            found.append((key, entry))
    return found


def check_checkpoint_numbers(cfg: Any, scope: str) -> None:
    """Every ``CheckpointHook``'s ``interval`` and ``save_begin`` are whole numbers: mmengine compares them only at
    the first save (``interval='2'``: ``TypeError: '<=' not supported ...`` after training up to it, naming nothing).

    Raises:
        ConfigCheckError: naming the key and value.
    """
    for key, entry in _checkpoint_entries(cfg, scope):
        for name in ('interval', 'save_begin'):
            value = entry.get(name, 0) if isinstance(entry, dict) else getattr(entry, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigCheckError(f'{key}.{name}={value!r} must be a whole number')


def _checkpoint_hooks(cfg: Any, scope: str) -> list:
    """The ``CheckpointHook`` s the runner will have, built (:func:`_checkpoint_entries`)."""
    from mmengine.registry import DefaultScope

    from automl_mm.registry import HOOKS

    with DefaultScope.overwrite_default_scope(scope):
        return [HOOKS.build(copy.deepcopy(entry)) if isinstance(entry, dict) else entry
                for _, entry in _checkpoint_entries(cfg, scope)]


class _EpochLength:
    """The stand-in train dataloader: its length (iterations per epoch on a rank) is 1 until :func:`_count_epoch`
    counts it; the schedule checks that read it give the same answer for any length when everything is in epochs
    (:func:`_needs_epoch_length`)."""

    def __init__(self) -> None:
        self.length = 1

    def __len__(self) -> int:
        return self.length


def _schedule_runner(cfg: Any, layout: Any, hook: dict, scope: str) -> Any:
    """A stand-in of the runner with what the schedule checks read, or ``None`` for a loop it does not model."""
    from mmengine.runner import IterBasedTrainLoop

    found = _loop(cfg, scope)
    if found is None:
        return None
    loop, max_epochs, max_iters = found
    wrapper = cfg.get('optim_wrapper') or {}
    counts = [w.get('accumulative_counts', 1) for w in [wrapper, *wrapper.values()]
              if isinstance(w, dict) and 'accumulative_counts' in w] or [1]
    optim_wrappers = {str(i): SimpleNamespace(_accumulative_counts=c) for i, c in enumerate(counts)
                      if _positive_int(c)}
    runner = SimpleNamespace(cfg=cfg, train_loop=loop, train_dataloader=_EpochLength(),
                             hooks=_checkpoint_hooks(cfg, scope), optim_wrapper=optim_wrappers,
                             val_loop=object() if cfg.get('val_cfg') is not None else None)
    iteration = isinstance(loop, IterBasedTrainLoop)
    if not _positive_int(max_iters if iteration else max_epochs):
        return None  # check_training_config names it
    runner.max_epochs = None if iteration else max_epochs
    runner.max_iters = max_iters if iteration else max_epochs  # epochs of one iteration until counted
    return runner


def _needs_epoch_length(runner: Any, trunk_iters: int | None) -> bool:
    """Whether a check's answer depends on the iterations per epoch: an epoch loop with trunks in iterations,
    iteration checkpoints or gradient accumulation (every other schedule is in epochs on both sides)."""
    from mmengine.runner import IterBasedTrainLoop

    if isinstance(runner.train_loop, IterBasedTrainLoop):
        return False
    return (trunk_iters is not None or any(not h.by_epoch and h.interval > 0 for h in runner.hooks)
            or any(w._accumulative_counts > 1 for w in runner.optim_wrapper.values()))


def _count_epoch(runner: Any, cfg: Any, layout: Any, scope: str) -> bool:
    """Set the stand-in's iterations per epoch and ``max_iters`` from the train dataloader built as a worker builds
    it (rank 0 of copy 0; no loader workers); ``False`` when it cannot be counted here (a dataset that does not
    build in this process: the runner reports that; a sampler that is not copy-aware shards by world size)."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from automl_mm.ohl.copies import temporary_copy_layout

    loader_cfg = copy.deepcopy(cfg.get('train_dataloader'))
    if runner.max_epochs is None or not isinstance(loader_cfg, dict):
        return False  # an iteration loop counts in iterations
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader_cfg.pop('prefetch_factor', None)  # torch refuses it without workers
    try:
        with DefaultScope.overwrite_default_scope(scope), temporary_copy_layout(layout):
            loader = Runner.build_dataloader(loader_cfg, seed=0)
            length = len(loader)
    except Exception:  # noqa: BLE001  (the runner builds it again and reports its own error)
        return False
    sampler = getattr(getattr(loader, 'batch_sampler', None), 'sampler', None) or getattr(loader, 'sampler', None)
    if layout.world_size > 1 and not getattr(sampler, 'copy_aware', False):
        return False
    runner.train_dataloader.length = length
    runner.max_iters = runner.max_epochs * length
    return True


def config_num_trunks(cfg: Any) -> int | None:
    """The number of trunks the run of ``cfg`` (an mmengine ``Config`` or dict) has, counted as its
    ``OHLProgressHook`` counts them (:func:`~automl_mm.ohl.progress.num_trunks`: ``ceil(max_iters / trunk
    length)``) on the stand-in runner of the OHL start checks (:func:`_schedule_runner`); the iterations per epoch are
    counted on the train dataloader (:func:`_count_epoch`) only where trunks in iterations meet an epoch loop. For a
    console line before the run (``make demo``: ``tools/demo.sh``).

    Returns:
        The count, or ``None`` where it cannot be told here: no OHL hook (or several), hook or loop schedule numbers
        the runner's checks refuse (not exactly one of ``trunk_epochs`` / ``trunk_iters``, a count that is not a
        positive int, ``trunk_epochs`` under an iteration loop), a train loop that is neither mmengine's epoch nor
        iteration loop, a train dataloader that does not build in this process.
    """
    from automl_mm.ohl.copies import CopyLayout, find_ohl_hook
    from automl_mm.ohl.progress import num_trunks

    scope = config_scope(cfg)
    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), scope)
    except ValueError:  # several OHL hooks: the config check names them
        return None
    if found is None or not isinstance(found[1], dict):
        return None
    hook = found[1]
    num_copies, ranks_per_copy = hook.get('num_copies'), hook.get('ranks_per_copy', 1)
    trunk_epochs, trunk_iters = hook.get('trunk_epochs'), hook.get('trunk_iters')
    if (trunk_epochs is None) == (trunk_iters is None) or not all(
            _positive_int(v) for v in (num_copies, ranks_per_copy, trunk_epochs or trunk_iters)):
        return None
    layout = CopyLayout(num_copies, ranks_per_copy, rank=0, world_size=num_copies * ranks_per_copy)
    runner = _schedule_runner(cfg, layout, hook, scope)
    if runner is None or trunk_epochs is not None and runner.max_epochs is None:
        return None
    if trunk_iters is not None and runner.max_epochs is not None and not _count_epoch(runner, cfg, layout, scope):
        return None
    return num_trunks(runner, trunk_epochs, trunk_iters)


def _check_schedule_hooks(cfg: Any, scope: str) -> None:
    """A ``TrunkScheduleHook`` (an exported ``schedule_policy.py``) with ``trunk_epochs`` under an iteration loop
    replays its first value all run; it refused that in ``before_train``, after the runner was built."""
    from automl_mm.ohl.checks import check_trunk_epochs_loop
    from automl_mm.ohl.copies import _hook_class
    from automl_mm.ohl.replay_hooks import TrunkScheduleHook

    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        cls = _hook_class(hook, config_scope(cfg))
        if not (isinstance(cls, type) and issubclass(cls, TrunkScheduleHook) and isinstance(hook, dict)
                and hook.get('trunk_epochs') is not None):
            continue
        found = _loop(cfg, scope)
        if found is not None:
            try:
                check_trunk_epochs_loop(SimpleNamespace(train_loop=found[0]), hook['trunk_epochs'], cls.__name__)
            except ValueError as err:
                raise ConfigCheckError(f'custom_hooks[{i}]: {err}') from None
