"""Checks an ``OHLHook`` run makes against the runner at start, and the train loop's schedule it follows.

Before the first iteration: the settings under which OHL would silently learn nothing or mix copies
(:func:`check_train_setup`, with a checkpoint or progress hook called before the OHL hook:
:func:`check_hook_order`) and checkpoint schedules that would save while the copies differ
(:func:`check_checkpoint_schedule`). At each trunk end: whether mmengine's loop validates next
(:func:`validates_after`), which makes a ``broadcast_interval > 1`` run broadcast first.

The launching process makes the start checks first, on the config (:mod:`automl_mm.engine.preflight_ohl`, in
``check_config`` / ``build_check``), naming the config keys before any worker starts; here they are the backstop.
"""
from __future__ import annotations

import bisect
from typing import Any

import torch
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop

from automl_mm.engine.hooks import periodic_saves
from automl_mm.utils.wording import a_class, a_type


def _train_sampler(loader: Any) -> Any:
    batch_sampler = getattr(loader, 'batch_sampler', None)
    sampler = getattr(batch_sampler, 'sampler', None)
    return sampler if sampler is not None else getattr(loader, 'sampler', None)


def loader_batching(loader: Any) -> tuple[int, bool] | None:
    """``(batch_size, drop_last)`` of a built train ``loader``, as the launching process reads them from the config
    (:func:`~automl_mm.engine.preflight_rank_shards._batching`): the loader's own where it batches (torch's
    ``BatchSampler``), a ``batch_sampler``'s ``batch_size`` where it keeps its last batch; ``None`` otherwise (one
    that drops its last batch, as mmdet's ``AspectRatioBatchSampler``, drops what its groups leave over)."""
    size = getattr(loader, 'batch_size', None)
    if isinstance(size, int) and not isinstance(size, bool):
        return size, bool(getattr(loader, 'drop_last', False))
    batch_sampler = getattr(loader, 'batch_sampler', None)
    size = getattr(batch_sampler, 'batch_size', None)
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1 and \
            getattr(batch_sampler, 'drop_last', None) is False:
        return size, False
    return None


def check_copy_shards(loader: Any) -> None:
    """Refuse a ``CopySampler(round_up=False)`` in the train ``loader`` whose copy's ranks would run different
    numbers of batches per epoch (:func:`~automl_mm.ohl.copy_sampler.check_equal_shards`, with the loader's
    :func:`loader_batching`); the sampler itself cannot tell, as mmengine builds it without the batch size. A
    sampler that passes is marked checked (``shards_checked``): iterated unchecked, unequal shards warn.

    Raises:
        ValueError: naming ``train_dataloader.sampler.round_up``, the shard lengths and iteration counts.
    """
    from .copy_sampler import CopySampler, check_equal_shards

    sampler = _train_sampler(loader)
    if isinstance(sampler, CopySampler) and not getattr(sampler, 'round_up', True):  # (unset: not built by __init__)
        check_equal_shards(sampler.size, sampler.world_size, sampler.round_up, loader_batching(loader))
        sampler.shards_checked = True  # (its __iter__ warns of unequal shards iterated unchecked)


def check_trunk_epochs_loop(runner: Any, trunk_epochs: int | None, owner: str) -> None:
    """Refuse trunks counted in epochs under mmengine's ``IterBasedTrainLoop``, which runs all its iterations as
    epoch 0: the whole run would be one trunk (``owner`` names the hook in the message)."""
    loop = runner.train_loop
    if trunk_epochs is not None and isinstance(loop, IterBasedTrainLoop):
        raise ValueError(f'{owner}(trunk_epochs={trunk_epochs}) needs an epoch-based loop, but train_cfg.type is '
                         f'{type(loop).__name__}, which runs its iterations as one epoch (the whole run would be one '
                         f'trunk); give {owner} trunk_iters instead')


def check_train_setup(runner: Any, layout: Any, trunk_epochs: int | None) -> None:
    """Refuse, before the first iteration, the settings under which OHL would silently learn nothing or mix copies.

    Raises:
        ValueError: ``trunk_epochs`` under an iteration-based loop (one silent trunk); several copies without a
            copy-aware train sampler (each copy would see a disjoint part of the data); a ``CopySampler`` whose copy's
            ranks would run different numbers of batches (:func:`check_copy_shards`); SyncBN layers or a
            ``SyncBuffersHook`` (:func:`check_copy_hooks`) that would average statistics across copies; a
            ``ZeroRedundancyOptimizer`` (:func:`check_copy_optimizers`) that would piece the copies together; a
            checkpoint or progress hook called before the OHL hook (:func:`check_hook_order`).
    """
    check_trunk_epochs_loop(runner, trunk_epochs, 'OHLHook')
    check_copy_sampler(_train_sampler(runner.train_dataloader), layout.num_copies)
    check_copy_shards(runner.train_dataloader)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    for module in check_sync_bn(model, layout.num_copies, layout.ranks_per_copy):
        module.process_group = layout.group  # statistics are shared inside the copy only
    keys = _hook_keys(runner)
    check_copy_hooks([(keys.get(type(hook), 'default_hooks / custom_hooks'), type(hook))
                      for hook in getattr(runner, 'hooks', [])], layout.num_copies)
    check_hook_order(runner, layout)
    wrapper = getattr(runner, 'optim_wrapper', None)
    wrappers = [(f'optim_wrapper.{name}.optimizer', w) for name, w in wrapper.items()] if hasattr(
        wrapper, 'items') else [('optim_wrapper.optimizer', wrapper)]  # an OptimWrapperDict names each wrapper
    check_copy_optimizers([(key, type(getattr(w, 'optimizer', None))) for key, w in wrappers], layout.num_copies)


def _hook_keys(runner: Any) -> dict:
    """``{hook class: its config key}`` (``default_hooks.<name>``, ``custom_hooks[<i>]``) of a runner's config, each
    entry resolved in the scope the runner built it in (its ``_scope_``, else the runner's own,
    :func:`~automl_mm.engine.preflight_walk.built_scope`); empty where there is no config or it cannot be read."""
    from automl_mm.engine.run_info import run_config

    cfg = run_config(runner)
    if cfg is None:
        return {}
    from automl_mm.engine.preflight_ohl_hooks import _hook_classes
    from automl_mm.engine.preflight_walk import built_scope

    try:
        found = _hook_classes(cfg, built_scope(runner))
    except Exception:  # noqa: BLE001 - a config of another shape: the message then says where to look
        return {}
    return {cls: key for key, cls in reversed(found) if cls is not None}


def check_copy_hooks(hooks: Any, num_copies: int) -> None:
    """Refuse hooks that average the model's state over every rank, in a run with several copies.

    mmengine's ``SyncBuffersHook`` all-reduces the model's buffers (BatchNorm running statistics) over the world at
    every epoch end, before ``OHLHook`` (a lower priority) reads the rewards: every copy was rewarded with the mean
    statistics of all copies, and inside a trunk of several epochs each copy trained on from the others'. mmdet's
    ``SyncNormHook`` (YOLOX's configs) does the same with every norm layer's state before each validation
    (``mmdet.utils.all_reduce_dict`` over the default group), so a validation inside a trunk left each copy
    training on from the mean of all copies' statistics.

    Args:
        hooks: ``(name, hook class)`` pairs; ``name`` is what the message calls the hook (its config key).
        num_copies: The OHL copies; with one, nothing is refused.

    Raises:
        ValueError: naming the first such hook.
    """
    if num_copies == 1:
        return
    from mmengine.hooks import SyncBuffersHook

    averaging: list[tuple[type, str]] = [(SyncBuffersHook, 'at each epoch end, before the rewards are read, so every '
                                          'copy is rewarded with the same statistics and trains on from the '
                                          'others\'')]
    try:
        from mmdet.engine.hooks import SyncNormHook
    except ImportError:  # mmdet is optional
        pass
    else:
        averaging.append((SyncNormHook, 'before each validation, so inside a trunk every copy trains on from the '
                          'mean of all copies\' statistics'))
    for name, cls in hooks:
        for base, when in averaging:
            if isinstance(cls, type) and issubclass(cls, base):
                raise ValueError(
                    f'{name}: {a_class(cls)} with {num_copies} OHL copies averages the buffers (BatchNorm running '
                    f'statistics) of every copy over all copies {when}. Remove it: each copy keeps its own buffers '
                    'and the best copy\'s are broadcast at the trunk end (with ranks_per_copy > 1, '
                    'model_wrapper_cfg=dict(type=\'automl_mm.CopyDataParallel\', broadcast_buffers=True) keeps the '
                    'buffers of a copy\'s ranks equal)')


def hooks_after_ohl(num_copies: int) -> list[tuple[type, str, str]]:
    """The hooks whose work depends on running after ``OHLHook`` in the stages where it ends a trunk
    (``after_train_iter``, ``after_train_epoch``, ``after_train``: reward, θ step, broadcast of the best copy, history
    record), in a run of ``num_copies`` copies: ``(hook class, what goes wrong before it, its default priority)``.

    * ``OHLProgressHook`` (``'LOW'``) reads ``OHLHook.history`` there: called first, it found the trunk still open and
      printed each trunk's line at the next trunk end, one trunk late, with the next trunk's ETA (the run's last
      trunk never), silently.
    * ``CheckpointHook`` (``'VERY_LOW'``), with several copies: rank 0 saved copy 0's own weights, and a search state
      with the trunk open, before the broadcast (``tools/test.py`` on the final checkpoint tested copy 0).

    mmengine's other hooks of those stages do not depend on the order (read from mmengine 0.10.7's hooks): an
    ``EMAHook`` or ``ParamSchedulerHook`` that steps after the broadcast steps the best copy's broadcast state on
    every rank, the same state as stepping each copy before it; ``LoggerHook`` and ``RuntimeInfoHook`` read the
    iteration's outputs only.
    """
    from .progress import OHLProgressHook

    found = [(OHLProgressHook, 'it reads the OHL history there before OHLHook records the trunk, so each trunk\'s '
              'line would be printed one trunk late (and the run\'s last trunk never)', "'LOW'")]
    if num_copies > 1:
        found.append((CheckpointHook, 'it would save before each trunk end (reward, theta step, broadcast of the best '
                      f'copy), so with num_copies={num_copies} every checkpoint, the final one too, holds copy 0 and '
                      'not the best copy', "'VERY_LOW'"))
    return found


def check_hook_order(runner: Any, layout: Any) -> None:
    """Refuse a hook of :func:`hooks_after_ohl` that mmengine calls before ``OHLHook``.

    mmengine calls a runner's hooks in their list order (``Runner.register_hook``: by priority, default hooks before
    custom ones of the same priority). ``OHLHook`` (``BELOW_NORMAL``) ends a trunk in ``after_train_iter`` /
    ``after_train_epoch`` before mmengine's ``CheckpointHook`` (``VERY_LOW``) saves and ``OHLProgressHook``
    (``LOW``) reports there. A hook given a higher priority (or ``OHLHook`` given ``priority='LOWEST'``) ran first:
    the checkpoints held copy 0, the progress lines came one trunk late. ``save_best`` saves after validation, which
    follows the trunk end either way.

    Raises:
        ValueError: naming the hook's key (``default_hooks.checkpoint``, ``custom_hooks[N]``) and both priorities.
    """
    from mmengine.runner import get_priority

    from .copies import find_ohl_hook

    hooks = list(getattr(runner, 'hooks', []))
    found = find_ohl_hook(hooks)
    if found is None:
        return
    at, ohl = found
    saving = [h for h in hooks if isinstance(h, CheckpointHook)]
    keys = _hook_keys(runner)
    for hook in hooks[:at]:
        for cls, why, default in hooks_after_ohl(layout.num_copies):
            if isinstance(hook, cls):
                key = _checkpoint_hook_key(runner, hook, len(saving)) if isinstance(hook, CheckpointHook) else \
                    keys.get(type(hook), type(hook).__name__)
                refuse_before_ohl(key, type(hook).__name__, get_priority(hook.priority), type(ohl).__name__,
                                  get_priority(ohl.priority), why, default)


def refuse_before_ohl(key: str, kind: str, priority: int, ohl_kind: str, ohl_priority: int, why: str,
                      default: str) -> None:
    """Raise the ``ValueError`` of :func:`check_hook_order` for the hook ``key`` (of class ``kind``, ``priority`` as a
    number) that runs before the OHL hook (``ohl_kind``, ``ohl_priority``); ``why`` and ``default`` (its class's
    priority) as :func:`hooks_after_ohl` gives them. The launching process's check of the config
    (:mod:`automl_mm.engine.preflight_ohl`) raises the same."""
    raise ValueError(
        f'{key} ({kind}, priority {priority}) runs before {ohl_kind} (priority {ohl_priority}): {why}. Leave both '
        f"priorities at their defaults (OHLHook 'BELOW_NORMAL', {kind} {default}), or give {key} a lower priority (a "
        'larger number) than the OHL hook')


def check_copy_sampler(sampler: Any, num_copies: int) -> None:
    """Refuse a train sampler that is not copy-aware with several copies: it would split the data among the copies
    instead of giving each copy all of it. ``sampler`` is the sampler or its class (the launching process's
    check has only the config's type).

    Raises:
        ValueError: naming ``train_dataloader.sampler`` and the sampler's type.
    """
    if num_copies == 1 or getattr(sampler, 'copy_aware', False):
        return
    name = sampler.__name__ if isinstance(sampler, type) else type(sampler).__name__
    raise ValueError(
        f'OHLHook with num_copies={num_copies} needs a copy-aware train_dataloader.sampler, got '
        f'{name}: it would split the data among the copies instead of giving each copy '
        "all of it. Use train_dataloader.sampler=dict(type='CopySampler', shuffle=True) (a sampler of your "
        'own that shards by copy can declare copy_aware = True)')


def check_copy_optimizers(optimizers: Any, num_copies: int) -> None:
    """Refuse optimisers that share their work over every rank, in a run with several copies.

    ``ZeroRedundancyOptimizer`` (torch's, and mmengine's ``OPTIMIZERS`` wrapper of it) shards the optimiser over the
    ranks of ``dist.group.WORLD``: each rank steps only its shard of the parameters with its own gradients and
    broadcasts it to every rank, so each copy's weights would be pieced together from every copy's update (and its
    ``state_dict`` is only rank 0's, which the trunk-end broadcast of another copy cannot send).

    Args:
        optimizers: ``(config key, optimiser class)`` pairs.
        num_copies: The OHL copies; with one, nothing is refused.

    Raises:
        ValueError: naming the first such optimiser's key.
    """
    if num_copies == 1:
        return
    from torch.distributed.optim import ZeroRedundancyOptimizer

    for key, cls in optimizers:
        if isinstance(cls, type) and issubclass(cls, ZeroRedundancyOptimizer):
            raise ValueError(
                f'{key} is {a_class(cls)}: with {num_copies} OHL copies it shards the optimiser over the ranks of '
                'every copy, each rank stepping its shard of the parameters with its own gradients and sending it to '
                'all the others, so every copy\'s weights would be pieced together from all the copies\' updates. Use '
                'the plain optimiser (its optimizer_type)')


def check_sync_bn(model: torch.nn.Module, num_copies: int, ranks_per_copy: int) -> list[torch.nn.SyncBatchNorm]:
    """Refuse SyncBN layers that would average batch statistics across the OHL copies (several copies of one rank
    each: through the world process group; any SyncBN other than torch's). Returns the torch ``SyncBatchNorm``
    layers to restrict to their copy's process group (several ranks per copy), ``[]`` with one copy.

    Raises:
        ValueError: naming the first such layer (``model.<name>``).
    """
    if num_copies == 1:
        return []
    restrict = []
    for name, module in model.named_modules():
        if 'SyncBatchNorm' not in type(module).__name__:
            continue
        if isinstance(module, torch.nn.SyncBatchNorm) and ranks_per_copy > 1:
            restrict.append(module)
            continue
        raise ValueError(
            f'model.{name} is {a_type(module)}: with one rank per copy it would average batch '
            'statistics across the OHL copies through the world process group. Use BN '
            "(norm_cfg=dict(type='BN')); torch's SyncBatchNorm is restricted to the copy when ranks_per_copy > 1")
    return restrict


def check_bn_recalibration(model: torch.nn.Module, ranks_per_copy: int, hook_key: str = 'OHLHook') -> None:
    """Refuse ``OHLHook(bn_recalibration_batches > 0)`` with SyncBN layers in copies of several ranks: only a copy's
    lead rank re-estimates the statistics (:meth:`~automl_mm.ohl.reward.RewardScorer.score`), so a SyncBN layer
    re-estimating them would wait forever for the copy's other ranks.

    Raises:
        ValueError: naming the first such layer and ``hook_key`` (the hook's config key, ``'custom_hooks[0]'``).
    """
    if ranks_per_copy == 1:
        return
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.SyncBatchNorm):
            raise ValueError(
                f'{hook_key}.bn_recalibration_batches > 0 with ranks_per_copy={ranks_per_copy}: model.{name} is a '
                "SyncBatchNorm, whose re-estimation on the copy's lead rank alone would hang. Use BN "
                "(norm_cfg=dict(type='BN')) or bn_recalibration_batches=0")


def _trunk(runner: Any, trunk_epochs: int | None, trunk_iters: int | None) -> tuple[int, str]:
    """The trunk's length in iterations and the OHLHook key that sets it, for the schedule checks' messages."""
    if trunk_iters is not None:
        return trunk_iters, f'trunk_iters={trunk_iters}'
    return trunk_epochs * len(runner.train_dataloader), f'trunk_epochs={trunk_epochs}'


def check_trunk_fits(runner: Any, trunk_epochs: int | None, trunk_iters: int | None) -> None:
    """Refuse a trunk longer than the whole run (the run was one partial trunk: one controller step, silently).

    Raises:
        ValueError: naming the OHL trunk key and the run's length.
    """
    length, key = _trunk(runner, trunk_epochs, trunk_iters)
    if length > runner.max_iters:
        raise ValueError(f'OHLHook({key}) gives trunks of {length} iterations but the run has {runner.max_iters} '
                         '(train_cfg): it would be one partial trunk, one controller step. Shorten the trunks')


def check_accumulation(runner: Any, layout: Any, trunk_epochs: int | None, trunk_iters: int | None) -> None:
    """Refuse gradient accumulation whose windows straddle trunk ends, in a run with several copies.

    mmengine's ``OptimWrapper(accumulative_counts=m)`` steps after every m-th iteration (counted from the start of
    the run) and at the last one. A trunk that ends inside a window leaves each copy a gradient computed on its own
    weights and samples in ``param.grad``, which the broadcast does not carry (weights, optimiser, schedulers and
    EMA are a copy's state; a pending gradient is not): every losing copy then adds its own gradient to the best
    copy's weights at the next step, and the copies drift apart unseen by ``verify_sync``.

    Raises:
        ValueError: the trunk's length in iterations is not a multiple of ``optim_wrapper.accumulative_counts``,
            naming both.
    """
    if layout.num_copies == 1:
        return
    wrapper = runner.optim_wrapper
    wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
    counts = {int(getattr(w, '_accumulative_counts', 1)) for w in wrappers}
    length, key = _trunk(runner, trunk_epochs, trunk_iters)
    bad = sorted(m for m in counts if length % m)
    if bad:
        raise ValueError(f'OHLHook({key}) gives trunks of {length} iterations, not a multiple of '
                         f'optim_wrapper.accumulative_counts={bad[0]}: a trunk would end with gradients accumulated '
                         'but not applied, and each losing copy would add its own to the best copy\'s weights after '
                         'the broadcast. Make the trunk length a multiple of accumulative_counts')


def _checkpoint_hook_key(runner: Any, hook: Any, count: int) -> str:
    """The config key of the ``CheckpointHook`` ``hook`` of the runner (one of ``count``): ``default_hooks.checkpoint``
    or ``custom_hooks[N]``, the one entry of the runner's config with its type and schedule (``interval``,
    ``by_epoch``, ``save_begin``); ``default_hooks.checkpoint`` when it is the runner's only one and the config does
    not say."""
    from automl_mm.engine.run_info import run_config
    from automl_mm.utils.scope import config_type_name

    cfg = run_config(runner) or {}
    entries = [('default_hooks.checkpoint', (cfg.get('default_hooks') or {}).get('checkpoint'))]
    entries += [(f'custom_hooks[{i}]', h) for i, h in enumerate(cfg.get('custom_hooks') or [])]
    found = [key for key, entry in entries
             if isinstance(entry, dict) and config_type_name(entry) == type(hook).__name__
             and (entry.get('interval', -1), entry.get('by_epoch', True), entry.get('save_begin', 0))
             == (hook.interval, hook.by_epoch, hook.save_begin)]
    if len(found) == 1:
        return found[0]
    return 'default_hooks.checkpoint' if count == 1 else f'{type(hook).__name__}(interval={hook.interval})'


def check_checkpoint_schedule(runner: Any, layout: Any, trunk_epochs: int | None, trunk_iters: int | None,
                              broadcast_interval: int = 1) -> None:
    """Refuse a checkpoint schedule that would save while the copies differ, in a run with several copies.

    Only rank 0 writes checkpoints, and the copies differ inside a trunk and after a trunk that ended without a
    broadcast: such a checkpoint would hold copy 0 only, so resuming from it could not be exact. Every checkpoint
    that a ``CheckpointHook`` schedules before the last iteration (``interval`` from ``save_begin``, in epochs or
    iterations as its ``by_epoch`` says) must fall on the end of a broadcasting trunk (every
    ``broadcast_interval``-th trunk); the final checkpoint is written after the last trunk has been ended with a
    broadcast, so it may fall anywhere. Every ``CheckpointHook`` of the runner is checked (one in
    ``custom_hooks`` beside ``default_hooks.checkpoint`` saves too; only the first was checked).

    Raises:
        ValueError: naming the hook's key (``default_hooks.checkpoint``, ``custom_hooks[N]``), its ``interval`` /
            ``save_begin``, the OHL trunk key (and ``broadcast_interval`` when it is above 1) and the first
            checkpoint that would fall between broadcasts.
    """
    if layout.num_copies == 1:
        return
    hooks = [h for h in getattr(runner, 'hooks', []) if isinstance(h, CheckpointHook)]
    for hook in hooks:
        _check_checkpoint_hook(runner, layout, hook, _checkpoint_hook_key(runner, hook, len(hooks)), trunk_epochs,
                               trunk_iters, broadcast_interval)


def _check_checkpoint_hook(runner: Any, layout: Any, hook: CheckpointHook, key: str, trunk_epochs: int | None,
                           trunk_iters: int | None, broadcast_interval: int) -> None:
    """:func:`check_checkpoint_schedule` of one ``CheckpointHook``, named ``key`` in the messages."""
    if hook.interval <= 0:
        return
    per_epoch = len(runner.train_dataloader) if not isinstance(runner.train_loop, IterBasedTrainLoop) else None
    if hook.by_epoch and per_epoch is None:
        return  # an iteration loop calls after_train_epoch once, at the end: such a hook saves only the final one
    by_epoch = hook.by_epoch
    if per_epoch is not None and not by_epoch:
        where = f'{key} (interval={hook.interval}, by_epoch=False) in an epoch-based loop'
        if trunk_epochs is not None:
            # CheckpointHook saves in after_train_iter, before OHLHook ends a trunk_epochs trunk in after_train_epoch:
            # every save (the final one too) held copy 0's weights from before the trunk's broadcast
            raise ValueError(f'{where} saves before OHLHook(trunk_epochs) ends the epoch\'s trunk (reward, theta '
                             'step, broadcast), so even the final checkpoint would hold copy 0, not the best copy. '
                             'Use by_epoch=True checkpoints with trunk_epochs')
        inside = [step for step in periodic_saves(hook, runner.max_iters) if step % per_epoch]
        if inside:
            # mmengine's epoch loop resumes a checkpoint by re-running its whole epoch: the batches trained before
            # the save ran twice, and the run overran max_iters outside any trunk
            raise ValueError(f'{where} would save after iteration {inside[0]}, inside epoch '
                             f'{inside[0] // per_epoch + 1} ({per_epoch} iterations each): an epoch loop resumes '
                             'from the start of that epoch and would train its first batches twice. Save at epoch '
                             'ends (by_epoch=True, or an interval that is a multiple of the epoch)')
    unit = per_epoch if by_epoch else 1  # iterations per checkpoint-schedule step
    trunk, trunk_key = _trunk(runner, trunk_epochs, trunk_iters)  # iterations per trunk
    period = trunk * broadcast_interval  # iterations between two broadcasts, where the copies are equal
    for step in periodic_saves(hook, (runner.max_iters - 1) // unit + 1):  # saves before the last iteration
        if step * unit % period:
            where = f'epoch {step}' if by_epoch else f'iteration {step}'
            if broadcast_interval == 1:
                inside, length = f'inside an OHL trunk (OHLHook {trunk_key}, {trunk} iterations)', 'the trunk length'
            else:
                inside = (f'between two OHL broadcasts (OHLHook {trunk_key}, broadcast_interval='
                          f'{broadcast_interval}: the copies are made equal every {period} iterations)')
                length = 'the trunk length times broadcast_interval'
            raise ValueError(
                f'{key} (interval={hook.interval}, save_begin={hook.save_begin}, '
                f'by_epoch={hook.by_epoch}) would save after {where}, {inside}: with num_copies={layout.num_copies} '
                'such a checkpoint holds copy 0 only and cannot resume exactly. Make '
                f'{key}.interval (and save_begin) a multiple of {length}')


def check_val_schedule(runner: Any, layout: Any, trunk_epochs: int | None, trunk_iters: int | None) -> None:
    """Refuse a validation schedule that would validate inside an OHL trunk, in a run with several copies.

    mmengine's val loop splits the val set over every rank and each rank scores its part with its own model. At a
    trunk end ``OHLHook`` broadcasts the best copy first when a validation follows (one model on every rank), but
    inside a trunk the copies differ: the logged metric, ``save_best`` and early stopping would see a mixture of
    the copies. The validation after the last iteration follows the run's last (broadcasting) trunk and may fall
    anywhere.

    Raises:
        ValueError: naming ``train_cfg.val_interval`` / ``val_begin``, the OHL trunk key and the first validation
            that would fall inside a trunk.
    """
    loop = getattr(runner, 'train_loop', None)
    if layout.num_copies == 1 or getattr(runner, 'val_loop', None) is None or not hasattr(loop, 'val_interval'):
        return
    iteration = isinstance(loop, IterBasedTrainLoop)
    unit = 1 if iteration else len(runner.train_dataloader)  # iterations per step of the val schedule
    trunk, trunk_key = _trunk(runner, trunk_epochs, trunk_iters)
    last = runner.max_iters // unit
    if getattr(loop, 'dynamic_milestones', None):
        steps = range(1, last)
    else:  # mmengine validates at multiples of val_interval from val_begin on
        interval = max(int(loop.val_interval), 1)
        steps = range(max(interval, -(-int(loop.val_begin) // interval) * interval), last, interval)
    for step in steps:
        if step * unit % trunk and validates_after(runner, step * unit):
            where = f'iteration {step}' if iteration else f'epoch {step}'
            raise ValueError(
                f'train_cfg.val_interval={loop.val_interval} (val_begin={loop.val_begin}) would validate after '
                f'{where}, inside an OHL trunk (OHLHook {trunk_key}, {trunk} iterations): with '
                f'num_copies={layout.num_copies} every rank scores its share of the val set with its own copy, so '
                'the metric, save_best and early stopping would see a mixture of the copies. Make '
                'train_cfg.val_interval (and val_begin) a multiple of the trunk length')


def validates_after(runner: Any, iters: int) -> bool:
    """Whether the train loop runs a validation right after ``iters`` training iterations have been completed.

    Mirrors mmengine's ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop``: a validation follows epoch (iteration) n
    when a val loop exists, n ≥ ``val_begin`` and n is a multiple of the current ``val_interval`` (its dynamic
    interval, when ``dynamic_intervals`` is set) or the last; in epoch loops only at epoch ends. Loops of another
    type: ``False``.
    """
    loop = runner.train_loop
    if getattr(runner, 'val_loop', None) is None or not hasattr(loop, 'val_interval'):
        return False
    if isinstance(loop, IterBasedTrainLoop):
        n, last = iters, runner.max_iters
    else:
        per_epoch = len(runner.train_dataloader)
        if iters % per_epoch:
            return False
        n, last = iters // per_epoch, runner.max_epochs
    interval = loop.val_interval
    milestones = getattr(loop, 'dynamic_milestones', None)
    if milestones:  # mmengine decides the interval from (n + 1) before it checks
        interval = loop.dynamic_intervals[bisect.bisect(milestones, n + 1) - 1]
    return n >= loop.val_begin and (n % interval == 0 or n == last)
