"""``--cfg-options`` on a value that a hook of the config writes over while the run trains (part of
:func:`~automl_mm.engine.preflight_options.merge_options`).

An OHL ``AttributeSpace`` writes its sample to its ``target`` at every trunk start, before the trunk's first
iteration (``optim_wrapper.optimizer.param_groups.*.lr``, or the base form ``optim_wrapper.optimizer.lr``), and
the exported fragments' ``SetAttributesHook`` / ``TrunkScheduleHook`` write their ``values`` before training / at
each trunk start: the configured value of such a key never trains. ``ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py
--cfg-options optim_wrapper.optimizer.lr=0.1`` (or ``weight_decay=0``) trained on the space's five learning rates
(four weight decays) from the first iteration, as without the option, silently; so did a retraining config with a
pasted ``final_policy.py``. Such an option is refused, naming the writer's key and what to change there.
"""
from __future__ import annotations

import inspect
from typing import Any

from .preflight_walk import ConfigCheckError, config_scope

#: A runner's loop (attribute) -> (its config's split, {loop attribute: the config key it is built from}).
_LOOPS = {'train_loop': ('train', {'dataloader': 'train_dataloader'}),
          'val_loop': ('val', {'dataloader': 'val_dataloader'}),
          'test_loop': ('test', {'dataloader': 'test_dataloader'})}


def config_key(path: str) -> str | None:
    """The config key an attribute path sets: the path itself (``model.head.loss.loss_weight``), with
    ``param_groups.*.`` dropped for every group of an optimiser (``optim_wrapper.optimizer.param_groups.*.lr`` ->
    ``optim_wrapper.optimizer.lr``) and ``loss_module``, the attribute mmpretrain-style heads build from the config's
    ``loss``, spelt ``loss`` (``model.head.loss_module.theta`` -> ``model.head.loss.theta``, as
    :func:`automl_mm.engine.learned_state.config_key`); ``None`` for one group's value (``param_groups.0.lr``: no
    config key). The runner's ``param_schedulers`` are built from ``param_scheduler``
    (``param_schedulers.0.eta_min`` -> ``param_scheduler.0.eta_min``), and an ``OptimWrapperDict``'s
    ``optim_wrappers.<name>`` from ``optim_wrapper.<name>`` (``optim_wrapper.optim_wrappers.gen.optimizer.lr`` ->
    ``optim_wrapper.gen.optimizer.lr``): the option on the config's key was let through while the space wrote over
    it. The runner's loops are built from ``train_cfg`` / ``val_cfg`` / ``test_cfg`` and hold the loaders built
    from ``train_dataloader`` / ``val_dataloader`` / ``test_dataloader``
    (``train_loop.val_interval`` -> ``train_cfg.val_interval``, ``train_loop.dataloader.batch_size`` ->
    ``train_dataloader.batch_size``), and a built dataset's pipeline (mmengine's ``Compose``) keeps the transforms of
    the config's ``pipeline`` list, one per entry in its order, in ``transforms``
    (``train_dataloader.dataset.pipeline.transforms.1.prob`` -> ``train_dataloader.dataset.pipeline.1.prob``; what
    follows the transform's index is its attribute, kept as spelt)."""
    parts = ['loss' if part == 'loss_module' else part for part in path.split('.')]
    if parts[0] in _LOOPS:
        split, built = _LOOPS[parts[0]]
        owner = built.get(parts[1]) if len(parts) > 1 else None
        parts = [owner, *parts[2:]] if owner else [f'{split}_cfg', *parts[1:]]
    for at in range(len(parts) - 2, 0, -1):  # a built pipeline's transforms.<i>: the config list's <i>
        if parts[at - 1] == 'pipeline' and parts[at] == 'transforms' and parts[at + 1].isdigit():
            del parts[at]
    if parts[0] == 'param_schedulers':
        parts[0] = 'param_scheduler'
    if parts[:2] == ['optim_wrapper', 'optim_wrappers']:
        parts = parts[:1] + parts[2:]
    if 'param_groups' in parts:
        at = parts.index('param_groups')
        if at + 1 >= len(parts) or parts[at + 1] != '*':
            return None
        parts = parts[:at] + parts[at + 2:]
    return '.'.join(parts)


def _covers(written: str, key: str) -> bool:
    """Whether the option ``key`` sets ``written`` or a part of its value (``*`` matches any one part)."""
    have, want = key.split('.'), written.split('.')
    return len(have) >= len(want) and all(w in ('*', h) for w, h in zip(want, have))


def _space_targets(space: Any) -> Any:
    """A space config's ``target``, or, where it sets none, its class's default (``LossFunctionSpace``:
    ``model.head.loss_module.theta``; the type resolved as ``OHLHook`` builds its spaces: in the space's ``_scope_``,
    else automl_mm's, whatever the config's ``default_scope``, :func:`~automl_mm.registry.config_class`); ``None``
    for a space that has neither."""
    from automl_mm.registry import SEARCH_SPACES, config_class

    if not isinstance(space, dict):
        return None
    if 'target' in space:
        return space['target']
    cls = config_class(SEARCH_SPACES, space, 'automl_mm')
    try:
        default = inspect.signature(cls).parameters['target'].default if cls is not None else None
    except (KeyError, TypeError, ValueError):  # an unknown type or a space without a target: built and named later
        return None
    return None if default is inspect.Parameter.empty else default


def _writes(cfg: Any) -> list[tuple[str, str, str]]:
    """``(attribute path, writer's key, when)`` for every path a hook of ``custom_hooks`` writes while the run
    trains: each ``target`` of the OHL hook's spaces (a space's default one where its config sets none: the AM-LFS
    search's ``LossFunctionSpace()``), each ``values`` path of a ``SetAttributesHook`` or a ``TrunkScheduleHook``
    (their subclasses too)."""
    from automl_mm.ohl import OHLHook
    from automl_mm.ohl.copies import _hook_class
    from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook

    found = []
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if not isinstance(hook, dict):
            continue
        cls = _hook_class(hook, config_scope(cfg))
        if not isinstance(cls, type):
            continue
        if issubclass(cls, OHLHook):
            for j, space in enumerate(hook.get('spaces') or []):
                targets = _space_targets(space)
                for path in [targets] if isinstance(targets, str) else targets or []:
                    found.append((path, f'custom_hooks.{i}.spaces.{j}', 'with its sample at every trunk start'))
        elif issubclass(cls, (SetAttributesHook, TrunkScheduleHook)):
            when = 'before training' if issubclass(cls, SetAttributesHook) else 'at every trunk start'
            values = hook.get('values')
            for path in values if isinstance(values, dict) else ():
                found.append((path, f'custom_hooks.{i}.values', when))
    return [(path, writer, when) for path, writer, when in found if isinstance(path, str)]


def written_keys(cfg: Any) -> list[tuple[str, str, str, str]]:
    """``(config key, attribute path, writer's key, when)`` for every path of :func:`_writes` that a config key
    sets (:func:`config_key`)."""
    return [(key, path, writer, when) for path, writer, when in _writes(cfg) if (key := config_key(path)) is not None]


def check_scaled_lr_writes(cfg: Any) -> None:
    """Refuse ``auto_scale_lr.enable`` (``--auto-scale-lr``) with a hook that writes the groups' ``lr`` itself.

    mmengine's ``Runner.scale_lr`` multiplies each parameter group's ``lr`` by the batch ratio once, after the
    optimiser is built; a value written to ``optim_wrapper.optimizer.param_groups.*.lr`` (``ohl-lr-wd``'s space)
    replaced the scaled one with the value as given at every trunk start, so the searched learning rates trained
    unscaled, silently. The base form ``optim_wrapper.optimizer.lr`` carries the factor
    (:mod:`automl_mm.ohl.optimizer_base`).

    Raises:
        ConfigCheckError: naming the writer's key, the path and the base form to target instead.
    """
    scale = cfg.get('auto_scale_lr')
    if not (isinstance(scale, dict) and scale.get('enable')):
        return
    for path, writer, when in _writes(cfg):
        parts = path.split('.')
        if 'param_groups' in parts and parts[-1] == 'lr':
            base = '.'.join(parts[:parts.index('param_groups')] + ['lr'])
            raise ConfigCheckError(
                f'auto_scale_lr.enable=True (--auto-scale-lr) scales each parameter group\'s lr by the batch ratio '
                f'once, when the optimiser is built, but {writer} writes {path} {when} as given, so the written '
                f'learning rates would train unscaled. Target the base form {base} instead (each group gets the '
                'value x its paramwise multiplier x the batch ratio), or leave auto_scale_lr off')


def check_written_options(cfg: Any, options: dict) -> None:
    """Refuse an option on a key that a hook of the config writes over while training (module docstring).

    Raises:
        ConfigCheckError: naming the option, the writer's ``custom_hooks`` key, the path it writes and when.
    """
    written = written_keys(cfg)
    for key, value in options.items():
        for config_key_, path, writer, when in written:
            if _covers(config_key_, key):
                raise ConfigCheckError(
                    f'--cfg-options {key}={value!r} changes nothing: {writer} writes {path} {when}, over the '
                    f'configured value, so no iteration trains with it. Change what {writer} writes instead'
                    + (' (its choices)' if '.spaces.' in writer else ''))
