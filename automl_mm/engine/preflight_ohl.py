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
  a ``PipelineChoiceSpace``, a training pipeline value written (by an ``AttributeSpace``, ``SetAttributesHook`` or
  ``TrunkScheduleHook``, with or without an ``OHLHook``) beside a ``PipelineSwitchHook`` / ``YOLOXModeSwitchHook``
  that replaces or skips it (:func:`~automl_mm.engine.preflight_unbound_choices.check_switched_writes`), a
  ``bn_recalibration_batches`` without clean training images,
  an ``out_dir`` that cannot be made, a
  ``CopySampler``'s arguments (and, with ``round_up=False``, a training set ``ranks_per_copy`` does not divide into
  shards of the same number of batches),
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

The parts live beside this module, their names re-exported here (plugins and tests that import them from
``automl_mm.engine.preflight_ohl`` keep working): the stand-in runner of the schedule checks in
:mod:`~automl_mm.engine.preflight_ohl_schedule`, the OHL hook and the hooks beside it in
:mod:`~automl_mm.engine.preflight_ohl_hooks`, the copies' launcher, wrapper, optimisers and sampler in
:mod:`~automl_mm.engine.preflight_ohl_copies`, the optimiser spaces' ranges in
:mod:`~automl_mm.engine.preflight_ohl_spaces`.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError

# the parts, under their old names here too
from .preflight_ohl_copies import (  # noqa: F401
    LAUNCHER_WORLD_SIZE,
    _check_copy_parts_without_hook,
    _check_copy_sampler_arguments,
    _check_copy_shards,
    _check_launcher_world_size,
    _check_wrapper,
    _optimizer_classes,
    _train_sampler_class,
)
from .preflight_ohl_hooks import (  # noqa: F401
    _check_hook_order,
    _check_progress_hooks,
    _hook_classes,
    _hook_entry,
    _hook_entry_of,
    _refuse,
)
from .preflight_ohl_schedule import (  # noqa: F401
    DEFAULT_CHECKPOINT,
    _check_schedule_hooks,
    _checkpoint_entries,
    _checkpoint_hooks,
    _count_epoch,
    _EpochLength,
    _loop,
    _needs_epoch_length,
    _positive_int,
    _schedule_runner,
    check_checkpoint_numbers,
)
from .preflight_ohl_spaces import _optimizer_type, check_gaussian_optimizer_spaces  # noqa: F401


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
    from .preflight_unbound_choices import check_switched_writes

    check_switched_writes(cfg, scope)  # a pipeline value beside PipelineSwitchHook / YOLOXModeSwitchHook
    entry = _hook_entry(cfg)
    _check_progress_hooks(cfg, entry is not None)
    if entry is None:
        _check_copy_parts_without_hook(cfg, scope)
        from .preflight_unbound_choices import warn_hookless_choice_transforms

        warn_hookless_choice_transforms(cfg, scope)
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
            clean_train_loader_cfg(cfg, None, key)
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
