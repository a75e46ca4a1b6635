"""The checks ``OHLHook`` makes against its runner at the start of training, made on the config in the launching
process (:func:`~automl_mm.engine.preflight.check_config` / :func:`~automl_mm.engine.preflight.build_check`).

``OHLHook.before_train`` refuses schedules and settings under which a multi-copy run would learn nothing, save
or validate while the copies differ, or mix the copies (:mod:`automl_mm.ohl.checks`). It runs in every worker,
after the launcher has started them and each has built its runner (about 20 s on a laptop): a
``train_cfg.val_interval`` or ``default_hooks.checkpoint.interval`` that falls inside a trunk failed there, once per
worker. The same functions run here on a stand-in of the runner built from the config, so the refusal comes in
seconds, once, before any worker starts, naming the config keys and values; the hook's own checks stay as the
backstop (a runner built some other way, a loop or sampler this stand-in does not model).

* :func:`check_ohl_config` (static, from ``check_config``): ``trunk_epochs`` under an iteration loop, a train
  sampler that is not copy-aware, ``model_wrapper_cfg`` other than ``CopyDataParallel`` in a multi-process run, a
  ``SyncBuffersHook`` (or mmdet's ``SyncNormHook``) in ``default_hooks`` or ``custom_hooks`` or a
  ``ZeroRedundancyOptimizer`` with several copies, mmdet's ``PipelineSwitchHook`` switching inside the run beside
  a ``PipelineChoiceSpace``, a ``bn_recalibration_batches`` without clean training images,
  an ``out_dir`` that cannot be made, a
  ``CopySampler``'s arguments (and, with ``round_up=False``, a training set ``ranks_per_copy`` does not divide),
  an ``OHLProgressHook`` without an ``OHLHook`` or called before it (it reported each trunk one trunk late), a
  ``CopySampler`` (or, under a launcher, a ``CopyDataParallel``) without an ``OHLHook`` (and, in any config, every
  ``CheckpointHook``'s ``interval`` / ``save_begin`` a whole number and a ``TrunkScheduleHook``'s
  ``trunk_epochs`` under an iteration loop), the number of processes a launcher
  started (``WORLD_SIZE``: ``num_copies * ranks_per_copy`` are needed), and the trunk
  schedule against the run's length, ``optim_wrapper.accumulative_counts``, every ``CheckpointHook``
  (``default_hooks.checkpoint``, mmengine's default ``interval=1`` when the config leaves it out, and any in
  ``custom_hooks``, and its priority against the OHL hook's: it must save after the trunk end) and
  ``train_cfg.val_interval`` / ``val_begin`` / ``dynamic_intervals``. An epoch loop whose
  check depends on the iterations per epoch (``trunk_iters``, iteration checkpoints, gradient accumulation) builds
  the train dataloader here to count them. It warns of a training choice transform no space of the hook binds
  (:mod:`automl_mm.engine.preflight_unbound_choices`).
* :mod:`automl_mm.engine.preflight_ohl_build` (from ``build_check``, with the model, optimiser and datasets it
  built): SyncBN across copies, the spaces' exports and targets, the clean images' dataset, a resume the hook would
  refuse.
"""
from __future__ import annotations

import copy
import inspect
import os.path as osp
from types import SimpleNamespace
from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.utils.scope import config_type_name

#: mmengine's ``Runner.register_default_hooks``: the checkpoint hook a config that leaves it out gets
DEFAULT_CHECKPOINT = dict(type='CheckpointHook', interval=1)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _hook_entry(cfg: Any) -> tuple[str, dict] | None:
    """``(config key, hook config)`` of the config's OHL hook, or ``None`` (none, or several: ``check_config``
    names those)."""
    from automl_mm.ohl.copies import find_ohl_hook

    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), cfg.get('default_scope'))
    except ValueError:
        return None
    if found is None or not isinstance(found[1], dict):
        return None
    return f'custom_hooks[{found[0]}]', found[1]


def _refuse(key: str, hook: dict, err: Exception) -> ConfigCheckError:
    return ConfigCheckError(f'{key} ({config_type_name(hook)}): {err}')


def check_ohl_config(cfg: Any, scope: str) -> None:
    """The config's ``OHLHook`` (found by type) against the run it is in, as ``OHLHook.before_train`` checks it (see
    the module docstring). A hook whose own arguments are invalid (``trunk_iters='4'``) is left to its constructor,
    which names them (:func:`~automl_mm.engine.preflight.build_check`, or the runner).

    Raises:
        ConfigCheckError: prefixed with the hook's key (``custom_hooks[i] (OHLHook): ...``), naming the keys and
            values that disagree.
    """
    from automl_mm.ohl.checks import (
        check_accumulation,
        check_checkpoint_schedule,
        check_copy_hooks,
        check_copy_optimizers,
        check_copy_sampler,
        check_trunk_epochs_loop,
        check_trunk_fits,
        check_val_schedule,
    )
    from automl_mm.ohl.copies import CopyLayout
    from automl_mm.ohl.reward import clean_train_loader_cfg

    check_checkpoint_numbers(cfg, scope)
    _check_schedule_hooks(cfg, scope)
    entry = _hook_entry(cfg)
    _check_progress_hooks(cfg, entry is not None)
    if entry is None:
        _check_copy_parts_without_hook(cfg, scope)
        return
    key, hook = entry
    check_gaussian_optimizer_spaces(hook, key, cfg)
    from .preflight_unbound_choices import check_pipeline_switch, warn_unbound_choice_transforms

    warn_unbound_choice_transforms(cfg, hook, key, scope)
    check_pipeline_switch(cfg, hook, key, scope)
    num_copies, ranks_per_copy = hook.get('num_copies'), hook.get('ranks_per_copy', 1)
    trunk_epochs, trunk_iters = hook.get('trunk_epochs'), hook.get('trunk_iters')
    broadcast_interval = hook.get('broadcast_interval', 1)
    trunk = trunk_epochs if trunk_iters is None else trunk_iters
    if not all(_positive_int(v) for v in (num_copies, ranks_per_copy, broadcast_interval, trunk)) or \
            (trunk_epochs is None) == (trunk_iters is None):
        return  # the hook's constructor names the argument
    layout = CopyLayout(num_copies, ranks_per_copy, rank=0, world_size=num_copies * ranks_per_copy)
    _check_launcher_world_size(cfg, key, hook, num_copies, ranks_per_copy)
    out_dir = hook.get('out_dir', 'ohl')
    if isinstance(out_dir, str) and out_dir and (osp.isabs(out_dir) or cfg.get('work_dir')):
        from automl_mm.engine.preflight_outputs import _check_folder

        # made in before_train, in every worker: a file in the way failed there, naming no key
        _check_folder(osp.join(cfg.get('work_dir') or '', out_dir), f'{key}.out_dir', out_dir,
                      'writing the OHL history, plots and exported policy')
    try:
        _check_wrapper(cfg, layout, scope)
        check_copy_hooks(_hook_classes(cfg), num_copies)
        _check_hook_order(cfg, hook, num_copies, scope)
        check_copy_optimizers(_optimizer_classes(cfg, scope), num_copies)
        sampler = _train_sampler_class(cfg, scope)
        if sampler is not None:
            check_copy_sampler(sampler, num_copies)
            _check_copy_sampler_arguments(cfg, sampler, layout, scope)
        batches = hook.get('bn_recalibration_batches', 0)
        if _positive_int(batches) and hook.get('bn_recalibration_dataloader') is None:
            clean_train_loader_cfg(cfg, None)
        runner = _schedule_runner(cfg, layout, hook, scope)
        if runner is None:
            return
        check_trunk_epochs_loop(runner, trunk_epochs, 'OHLHook')
        counted = _needs_epoch_length(runner, trunk_iters) and _count_epoch(runner, cfg, layout, scope)
        if _needs_epoch_length(runner, trunk_iters) and not counted:
            return  # left to the hook

        def schedule() -> None:
            check_accumulation(runner, layout, trunk_epochs, trunk_iters)
            check_trunk_fits(runner, trunk_epochs, trunk_iters)
            check_checkpoint_schedule(runner, layout, trunk_epochs, trunk_iters, broadcast_interval)
            check_val_schedule(runner, layout, trunk_epochs, trunk_iters)

        try:
            schedule()
        except ValueError:
            # refused in epochs: the same verdict for any epoch length, but the message counts iterations
            if not counted and _count_epoch(runner, cfg, layout, scope):
                schedule()
            raise
    except ConfigCheckError:
        raise
    except ValueError as err:
        raise _refuse(key, hook, err) from None


#: The environment variable each launcher sets to the number of processes it started.
LAUNCHER_WORLD_SIZE = {'pytorch': 'WORLD_SIZE', 'slurm': 'SLURM_NTASKS', 'mpi': 'OMPI_COMM_WORLD_SIZE'}


def _check_launcher_world_size(cfg: Any, key: str, hook: dict, num_copies: int, ranks_per_copy: int) -> None:
    """In a process that ``torchrun`` / slurm / mpirun started (``--launcher pytorch|slurm|mpi``): the number of
    processes it started is the copies' (``CopyRunner`` refused it only after every process had built its runner)."""
    import os

    from automl_mm.ohl.copies import check_world_size

    name = LAUNCHER_WORLD_SIZE.get(cfg.get('launcher', 'none'))
    try:
        world_size = int(os.environ[name]) if name else None
    except (KeyError, ValueError):
        return
    if world_size is not None:
        try:
            check_world_size(world_size, num_copies, ranks_per_copy)
        except ValueError as err:
            raise _refuse(key, hook, f'{err} ({name}={world_size})') from None


def _hook_classes(cfg: Any) -> list[tuple[str, type | None]]:
    """``(config key, class)`` of every hook the config adds: ``default_hooks.<name>`` and ``custom_hooks.<i>``, each
    resolved as the runner builds it (``None`` where it cannot be)."""
    from automl_mm.ohl.copies import _hook_class

    scope = cfg.get('default_scope')
    entries = [(f'default_hooks.{name}', hook) for name, hook in (cfg.get('default_hooks') or {}).items()]
    entries += [(f'custom_hooks.{i}', hook) for i, hook in enumerate(cfg.get('custom_hooks') or [])]
    return [(key, _hook_class(hook, scope)) for key, hook in entries if hook is not None]


def _check_hook_order(cfg: Any, hook: dict, num_copies: int, scope: str) -> None:
    """:func:`~automl_mm.ohl.checks.check_hook_order` on the config: the order mmengine's ``Runner.register_hook``
    gives the hooks (by priority, ``default_hooks`` before ``custom_hooks``, each in config order where they tie),
    with each hook's ``priority`` key or its class's. A priority that cannot be read is left to
    :func:`~automl_mm.engine.preflight_runner_args.check_runner_arguments`.

    Raises:
        ValueError: a hook of :func:`~automl_mm.ohl.checks.hooks_after_ohl` (a ``CheckpointHook`` with several
            copies, an ``OHLProgressHook``) ordered before the OHL hook, naming its key.
    """
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import get_priority

    from automl_mm.ohl.checks import hooks_after_ohl, refuse_before_ohl
    from automl_mm.ohl.copies import _hook_class, find_ohl_hook

    ohl = _hook_class(hook, cfg.get('default_scope'))

    def priority(entry: Any, cls: Any) -> int | None:
        value = entry.get('priority') if isinstance(entry, dict) else getattr(entry, 'priority', None)
        try:
            return get_priority(value if value is not None else cls.priority)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

    found = find_ohl_hook(cfg.get('custom_hooks'), cfg.get('default_scope'))
    ohl_priority = priority(hook, ohl)
    if found is None or ohl is None or ohl_priority is None:
        return
    ordered = hooks_after_ohl(num_copies)
    # mmengine's default CheckpointHook where the config sets none (_checkpoint_entries), every other listed hook
    entries = _checkpoint_entries(cfg, scope) + [
        (key, _hook_entry_of(cfg, key)) for key, cls in _hook_classes(cfg)
        if isinstance(cls, type) and not issubclass(cls, CheckpointHook)]
    for key, entry in entries:
        cls = _hook_class(entry, cfg.get('default_scope')) if isinstance(entry, dict) else type(entry)
        rule = next(((why, default) for kind, why, default in ordered
                     if isinstance(cls, type) and issubclass(cls, kind)), None)
        if rule is None:
            continue
        value = priority(entry, cls)
        # default hooks are registered before every custom hook, custom hooks in their list order
        place = int(key.split('.')[1]) if key.startswith('custom_hooks.') else -1
        if value is not None and (value, place) < (ohl_priority, found[0]):
            refuse_before_ohl(key, getattr(cls, '__name__', 'CheckpointHook'), value, ohl.__name__, ohl_priority,
                              *rule)


def _hook_entry_of(cfg: Any, key: str) -> Any:
    """The entry of ``default_hooks.<name>`` / ``custom_hooks.<i>`` in ``cfg``."""
    where, name = key.split('.', 1)
    return cfg.get('custom_hooks')[int(name)] if where == 'custom_hooks' else cfg.get('default_hooks')[name]


def _optimizer_classes(cfg: Any, scope: str) -> list[tuple[str, type | None]]:
    """``(config key, class)`` of the optimiser of ``optim_wrapper`` (``optim_wrapper.optimizer``) or of each of its
    wrappers (``optim_wrapper.<name>.optimizer``, an ``OptimWrapperDict``'s), resolved in ``scope`` (``None`` where
    it cannot be)."""
    from automl_mm.registry import OPTIMIZERS, registered_class

    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict):
        return []
    entries = [('optim_wrapper.optimizer', wrapper.get('optimizer'))]
    entries += [(f'optim_wrapper.{name}.optimizer', value.get('optimizer')) for name, value in wrapper.items()
                if isinstance(value, dict) and name != 'optimizer']
    found = []
    for key, optimizer in entries:
        kind = optimizer.get('type') if isinstance(optimizer, dict) else None
        try:
            cls = kind if isinstance(kind, type) else registered_class(OPTIMIZERS, kind, scope) if kind else None
        except KeyError:
            cls = None
        found.append((key, cls))
    return found


def _check_wrapper(cfg: Any, layout: Any, scope: str) -> None:
    """A multi-process OHL run needs ``model_wrapper_cfg`` ``CopyDataParallel`` (mmengine's default DDP would
    synchronise gradients across the copies; the hook refused it in every worker)."""
    from automl_mm.ohl.copies import CopyDataParallel
    from automl_mm.registry import MODEL_WRAPPERS, registered_class

    if layout.world_size == 1 and cfg.get('launcher', 'none') == 'none':
        return
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')  # mmengine's default
    kind = wrapper.get('type') if isinstance(wrapper, dict) else None
    cls = kind if isinstance(kind, type) else registered_class(MODEL_WRAPPERS, kind, scope) if kind else None
    if isinstance(cls, type) and not issubclass(cls, CopyDataParallel):
        raise ValueError(f'a run of {layout.world_size} processes needs model_wrapper_cfg=dict(type='
                         f'"automl_mm.CopyDataParallel"), got model_wrapper_cfg.type={kind!r}, which would synchronise '
                         'gradients across the copies (configs/_base_/ohl_copies.py sets it)')


def _check_schedule_hooks(cfg: Any, scope: str) -> None:
    """A ``TrunkScheduleHook`` (an exported ``schedule_policy.py``) with ``trunk_epochs`` under an iteration loop
    replays its first value all run; it refused that in ``before_train``, after the runner was built."""
    from automl_mm.ohl.checks import check_trunk_epochs_loop
    from automl_mm.ohl.copies import _hook_class
    from automl_mm.ohl.replay_hooks import TrunkScheduleHook

    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        cls = _hook_class(hook, cfg.get('default_scope'))
        if not (isinstance(cls, type) and issubclass(cls, TrunkScheduleHook) and isinstance(hook, dict)
                and hook.get('trunk_epochs') is not None):
            continue
        found = _loop(cfg, scope)
        if found is not None:
            try:
                check_trunk_epochs_loop(SimpleNamespace(train_loop=found[0]), hook['trunk_epochs'], cls.__name__)
            except ValueError as err:
                raise ConfigCheckError(f'custom_hooks[{i}]: {err}') from None


def _check_progress_hooks(cfg: Any, has_ohl_hook: bool) -> None:
    """An ``OHLProgressHook`` needs an ``OHLHook`` beside it (it refused in ``before_train``, after the runner was
    built; a retraining config made from an OHL config that dropped the ``OHLHook`` kept it)."""
    from automl_mm.ohl.copies import _hook_class
    from automl_mm.ohl.progress import OHLProgressHook

    if has_ohl_hook:
        return
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        cls = _hook_class(hook, cfg.get('default_scope'))
        if isinstance(cls, type) and issubclass(cls, OHLProgressHook):
            raise ConfigCheckError(f'custom_hooks[{i}] is an {cls.__name__}, which reports the trunks of an OHLHook, '
                                   'but custom_hooks has no OHLHook: remove it, or add the OHLHook')


def _check_copy_parts_without_hook(cfg: Any, scope: str) -> None:
    """Without an ``OHLHook`` there is no copy layout, which a ``CopySampler`` needs to build and a
    ``CopyDataParallel`` needs in a multi-process run. A retraining config made from an OHL config by dropping the
    hook (as the exported fragments say) kept ``configs/_base_/ohl_copies.py``'s ``train_dataloader.sampler``: it
    failed when mmengine built the train loop, after the runner, asking for the ``OHLHook`` just dropped."""
    from automl_mm.ohl.copies import CopyDataParallel, CopySampler
    from automl_mm.registry import MODEL_WRAPPERS, registered_class

    fix = ('; to train without OHL (e.g. retraining with an exported final_policy.py) set {}, or add the OHLHook')
    sampler = _train_sampler_class(cfg, scope)
    if sampler is not None and issubclass(sampler, CopySampler):
        raise ConfigCheckError(
            f'train_dataloader.sampler is a {sampler.__name__}, which needs the copies of an OHLHook, but '
            f'custom_hooks has no OHLHook'
            + fix.format("train_dataloader.sampler=dict(type='DefaultSampler', shuffle=True)"))
    if cfg.get('launcher', 'none') == 'none':
        return  # one process (tools/train.py starts no workers without an OHLHook): the wrapper runs the model as is
    wrapper = cfg.get('model_wrapper_cfg')
    kind = wrapper.get('type') if isinstance(wrapper, dict) else None
    cls = kind if isinstance(kind, type) else registered_class(MODEL_WRAPPERS, kind, scope) if kind else None
    if isinstance(cls, type) and issubclass(cls, CopyDataParallel):
        raise ConfigCheckError(
            f'model_wrapper_cfg is a {cls.__name__}, which runs DDP inside the copies of an OHLHook, but '
            f'custom_hooks has no OHLHook (launcher={cfg.get("launcher")!r})'
            + fix.format('model_wrapper_cfg=None (mmengine\'s DDP)'))


def _check_copy_sampler_arguments(cfg: Any, sampler: type, layout: Any, scope: str) -> None:
    """Build a ``CopySampler`` (or subclass) of ``train_dataloader.sampler`` on a one-item dataset, as mmengine
    builds it (``seed`` the run's unless the config sets one), so its arguments (``seed=-1``,
    ``shared_order='yes'``) are refused here rather than in every worker's ``Runner.train``."""
    from mmengine.registry import DefaultScope

    from automl_mm.ohl.copies import CopySampler, temporary_copy_layout
    from automl_mm.registry import DATA_SAMPLERS

    if not issubclass(sampler, CopySampler):
        return
    sampler_cfg = copy.deepcopy(dict(cfg.train_dataloader.sampler))
    try:
        with DefaultScope.overwrite_default_scope(scope), temporary_copy_layout(layout):
            # one item per rank of a copy: the arguments alone (the shards' lengths are checked below)
            built = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(dataset=list(range(layout.ranks_per_copy)),
                                                                       seed=0))
    except (TypeError, ValueError) as err:
        raise ConfigCheckError(f'train_dataloader.sampler ({sampler.__name__}): {err}') from None
    if not built.round_up and layout.ranks_per_copy > 1:
        _check_copy_shards(cfg, layout, scope, sampler)


def _check_copy_shards(cfg: Any, layout: Any, scope: str, sampler: type) -> None:
    """``round_up=False`` with several ranks per copy: build the training set (as a worker does) and refuse a
    length ``ranks_per_copy`` does not divide (:func:`~automl_mm.ohl.copies.check_equal_shards`: the copy's ranks
    would run different numbers of iterations and hang in their first collective after the shorter epoch). A
    dataset that does not build here is left to the runner, which reports its own error."""
    from mmengine.registry import DefaultScope

    from automl_mm.ohl.copies import check_equal_shards
    from automl_mm.registry import DATASETS

    dataset_cfg = copy.deepcopy(cfg.train_dataloader.get('dataset'))
    if not isinstance(dataset_cfg, dict) or cfg.train_dataloader.get('num_batch_per_epoch') is not None:
        return  # a copy reads num_batch_per_epoch x batch_size x ranks_per_copy samples (copies.copy_share)
    try:
        with DefaultScope.overwrite_default_scope(scope):
            length = len(DATASETS.build(dataset_cfg))
    except Exception:  # noqa: BLE001  (the runner builds it again and reports its own error)
        return
    try:
        check_equal_shards(length, layout.ranks_per_copy, False)
    except ValueError as err:
        raise ConfigCheckError(f'{err} ({sampler.__name__})') from None


def _train_sampler_class(cfg: Any, scope: str) -> type | None:
    """The class of ``train_dataloader.sampler`` (``None``: not a config whose type resolves)."""
    from automl_mm.registry import DATA_SAMPLERS, registered_class

    sampler = (cfg.get('train_dataloader') or {}).get('sampler')
    if not isinstance(sampler, dict):
        return None
    kind = sampler.get('type')
    cls = kind if isinstance(kind, type) else registered_class(DATA_SAMPLERS, kind, sampler.get('_scope_') or scope)
    return cls if isinstance(cls, type) else None


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
    entries += [(f'custom_hooks.{i}', entry) for i, entry in enumerate(cfg.get('custom_hooks') or [])]
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


def _optimizer_type(cfg: Any, parts: list[str]) -> Any:
    """The ``type`` of the optimiser config an ``optim_wrapper...`` path runs through (``optim_wrapper.optimizer``,
    ``optim_wrapper.<name>.optimizer`` of an ``OptimWrapperDict``), else ``None``."""
    node, found = cfg.get('optim_wrapper') if cfg is not None else None, None
    for part in parts[1:]:
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
        if part == 'optimizer' and isinstance(node, dict):
            found = node.get('type')
    return found


def check_gaussian_optimizer_spaces(hook: dict, hook_key: str, cfg: Any = None) -> None:
    """Refuse an ``AttributeSpace`` that can draw an optimiser hyper-parameter outside its valid range: a Gaussian
    (``DiagGaussian``) whose ``transform``'s image leaves it, or a choice outside it.

    A Gaussian has no bounds: without a ``transform`` an ``lr``, ``weight_decay`` or ``eps`` is negative with
    positive probability, and under ``'exp'`` / ``'pow10'`` (any positive number) SGD's or RMSprop's ``momentum``
    (and an Adam ``betas`` entry) reaches 1 and more, which torch's constructor does not even refuse for
    ``momentum``: SGD trained with momentum 1.5 and diverged. The ranges, by the config's optimiser type
    (``optim_wrapper.optimizer.type``; an unknown type gets the keys every optimiser reads alike), are
    :data:`~automl_mm.ohl.value_ranges.OPTIMIZER_RANGES`. In the run, the copy that drew such a value was refused at
    its trunk (:func:`~automl_mm.ohl.optimizer_base.check_group_values`), which stopped the whole run there,
    possibly after hours, or trained with it; this check names the space at start. Spaces given as objects, other
    types and targets outside ``optim_wrapper`` are left to the build check (``AttributeSpace.check_choices``).

    Raises:
        ConfigCheckError: naming ``<hook_key>.spaces[i]``, its target, transform (or choice), the range and its
            source, and the fix (``transform='exp'``, or a ``Categorical`` with ``choices``).
    """
    from automl_mm.ohl.attribute_space import AttributeSpace
    from automl_mm.ohl.value_ranges import TRANSFORM_IMAGES, optimizer_key_range
    from automl_mm.registry import SEARCH_SPACES

    for index, space in enumerate(hook.get('spaces') or []):
        if not isinstance(space, dict):
            continue
        kind = space.get('type')
        try:
            cls = kind if isinstance(kind, type) else SEARCH_SPACES.get(kind) if isinstance(kind, str) else None
        except KeyError:
            cls = None
        if not (isinstance(cls, type) and issubclass(cls, AttributeSpace)):
            continue
        choices = space.get('choices')
        gaussian = isinstance(space.get('distribution'), dict) and \
            config_type_name(space['distribution']) == 'DiagGaussian'
        if choices is None and not gaussian:
            continue
        target = space.get('target')
        transform = space.get('transform')
        for path in [target] if isinstance(target, str) else list(target or []):
            parts = str(path).split('.')
            keys = [p for p in parts if not p.isdigit() and p != '*']
            if not keys or keys[0] != 'optim_wrapper':
                continue
            found = optimizer_key_range(_optimizer_type(cfg, parts) or 'unknown', keys[-1])
            if found is None:
                continue
            interval, source = found
            name = space.get('name') or config_type_name(space)
            if choices is not None:
                for value in choices if isinstance(choices, (list, tuple)) else []:
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                            not interval.contains(value):
                        raise ConfigCheckError(
                            f'{hook_key}.spaces[{index}] ({name}, target {path!r}): choice {value!r} lies outside '
                            f'{interval} ({source}); a copy that drew it would train with it')
                continue
            image = TRANSFORM_IMAGES.get(transform)
            if image is None or interval.covers(image):
                continue
            fix = (f"transform='exp' (or 'pow10'), the mean then being ln({keys[-1]}) (log10)"
                   if interval.covers(TRANSFORM_IMAGES['exp']) else
                   'a Categorical distribution with choices inside it (e.g. choices=[0.8, 0.9, 0.95])')
            raise ConfigCheckError(
                f'{hook_key}.spaces[{index}] ({name}, target {path!r}, DiagGaussian, transform={transform!r}): a '
                f'Gaussian sample under this transform takes any value in {image}, which leaves {interval} '
                f'({source}) with positive probability; the copy that drew such a value would train with it or stop '
                f'the run at its trunk. Search it with {fix}')
