"""The unbound-choice check of :func:`automl_mm.engine.preflight.check_config`: in a run with an ``OHLHook``, an OHL
choice transform of ``train_dataloader`` (``OHLAutoAugment``, ``OHLRandomChoice``) that no ``PipelineChoiceSpace`` of
the hook binds (by its ``key``) and that has no fixed ``probs`` is warned of at start.

Such a transform samples uniformly (its unbound default, meant for replaying a policy): a config that inherits an
OHL-Auto-Aug leaf and replaces its ``custom_hooks`` to search something else (the README's lr example, a detector's
loss weight) trained every copy on uniformly random augmentation pairs, which nothing learned, nothing recorded and
neither ``final_policy.py`` nor ``schedule_policy.py`` replays (the retrained model saw other data than the search),
without a word. Uniform draws may be meant (a RandAugment-like baseline), so this warns and names the fix. So is
such a transform in a run without an ``OHLHook`` (:func:`warn_hookless_choice_transforms`: ``OHLAutoAugment`` put
into a stock mmdet config as a drop-in), where ``FixedAutoAugment`` names the uniform baseline.

A pasted ``final_policy.py`` fixed transform (``ohl_fixed_<key>``) that no training pipeline holds is refused
(:func:`check_policy_fragment_used`): that one is never meant. So is a pasted AM-LFS ``final_policy.py`` loss
(``am_lfs_loss``) beside the ``LossFunctionSpace`` that searches it (:func:`check_loss_fragment_not_searched`). So
is a training pipeline value written beside mmdet's ``PipelineSwitchHook`` / ``YOLOXModeSwitchHook`` that replaces
or skips it (:func:`check_switched_writes`, in the words of the workers' own check,
:func:`~automl_mm.ohl.switching_hooks.check_switching_hooks`).
"""
from __future__ import annotations

import inspect
import logging
from types import SimpleNamespace
from typing import Any

from mmengine.logging import print_log

from automl_mm.utils.wording import a_class

from .preflight_walk import _datasets, config_scope, pipeline_transforms, scoped_loader_transforms


def _key_default(cls: type, default: str = 'choice') -> str:
    parameter = inspect.signature(cls).parameters.get('key')
    return parameter.default if parameter is not None and isinstance(parameter.default, str) else default


def unbound_choice_transforms(cfg: Any, hook: dict, scope: str,
                              skipped: tuple[type, ...] = ()) -> list[tuple[str, str, str]]:
    """``(config key, class name, choice key)`` of each choice transform of ``train_dataloader`` with no ``probs``
    whose key no ``PipelineChoiceSpace`` of ``hook['spaces']`` names, leaving out instances of ``skipped``."""
    from automl_mm.augment.choice import LiveChoiceTransform
    from automl_mm.registry import TRANSFORMS, config_class

    bound = set(_choice_space_keys(hook, unresolved=True))
    loader = cfg.get('train_dataloader')
    if not isinstance(loader, dict):
        return []
    found = []
    for transform, at, built_in in scoped_loader_transforms(loader.get('dataset'), 'train_dataloader.dataset', scope):
        cls = config_class(TRANSFORMS, transform, built_in)
        if cls is None or not issubclass(cls, LiveChoiceTransform) or issubclass(cls, skipped) or \
                transform.get('probs') is not None:
            continue
        key = transform.get('key', _key_default(cls))
        if key not in bound:
            found.append((at, cls.__name__, key))
    return found


def warn_unbound_choice_transforms(cfg: Any, hook: dict, hook_key: str, scope: str) -> None:
    """Warn (module docstring) of each unbound choice transform of the training pipeline, naming its config key,
    its choice key, the hook and the fix."""
    for at, name, key in unbound_choice_transforms(cfg, hook, scope):
        print_log(f'{at} is {name}(key={key!r}) but no PipelineChoiceSpace of {hook_key} has key={key!r}: it '
                  f'draws uniformly at random every image, unlearned, unrecorded and not in the exported '
                  f'final_policy.py / schedule_policy.py. Take it out of train_pipeline and rebind the loader '
                  f'(train_dataloader = dict(dataset=dict(pipeline=train_pipeline))), give it probs, or add its '
                  f'space', logger='current', level=logging.WARNING)


def warn_hookless_choice_transforms(cfg: Any, scope: str) -> None:
    """Warn of each choice transform (``OHLAutoAugment``, ``OHLRandomChoice``) without ``probs`` in the training
    pipeline of a run without an ``OHLHook``, naming its config key and the fixes.

    Put into a stock mmdet config's ``train_pipeline`` as a drop-in and run by mmdet's ``tools/train.py``,
    ``OHLAutoAugment`` drew a uniformly random pair of elements for every image, which nothing learned, without a
    word (:func:`warn_unbound_choice_transforms` spoke only beside an ``OHLHook``). ``FixedAutoAugment`` without
    ``probs``, the uniform-random-pair baseline by name, is not warned of.
    """
    from automl_mm.augment.policy import FixedAutoAugment, OHLAutoAugment
    from automl_mm.registry import TRANSFORMS

    for at, name, key in unbound_choice_transforms(cfg, {}, scope, skipped=(FixedAutoAugment, )):
        cls = TRANSFORMS.get(name)
        baseline = ("write type='automl_mm.FixedAutoAugment' for the uniform-random-pair baseline (or give it the "
                    'probs of a learned policy: paste its final_policy.py)' if isinstance(cls, type) and
                    issubclass(cls, OHLAutoAugment) else 'give it probs (a learned policy: paste its final_policy.py)')
        print_log(f'{at} is {name}(key={key!r}) but custom_hooks has no OHLHook: no policy is learned for it, so it '
                  f'draws uniformly at random every image, unrecorded. To learn the policy, add an '
                  f"automl_mm.OHLHook with a PipelineChoiceSpace(key={key!r}) (configs/ohl_autoaug/); else "
                  f'{baseline}', logger='current', level=logging.WARNING)


def check_pipeline_switch(cfg: Any, hook: dict, hook_key: str, scope: str) -> None:
    """Refuse mmdet's ``PipelineSwitchHook`` (RTMDet's configs) that switches inside the run of an ``OHLHook`` with a
    ``PipelineChoiceSpace``.

    At ``switch_epoch`` the hook replaces the training dataset's pipeline by one it builds from ``switch_pipeline``:
    its choice transform is bound to no policy (it draws uniformly, or is not there) and its ``PackDetInputs`` does
    not carry the choice (``ohl_choice``), so every trunk from then on trained off the searched policy and counted
    no choice, without a word. A switch at or after ``train_cfg.max_epochs`` never happens and passes.

    Raises:
        ConfigCheckError: naming the hook's ``custom_hooks`` entry, its ``switch_epoch`` and the space.
    """
    from automl_mm.ohl.copies import _hook_class

    from .preflight_walk import ConfigCheckError

    try:
        from mmdet.engine.hooks import PipelineSwitchHook
    except ImportError:  # mmdet is optional
        return
    spaces = _choice_space_keys(hook)
    if not spaces:
        return
    max_epochs = (cfg.get('train_cfg') or {}).get('max_epochs')
    for i, entry in enumerate(cfg.get('custom_hooks') or []):
        cls = _hook_class(entry, scope)
        if not (isinstance(cls, type) and issubclass(cls, PipelineSwitchHook)):
            continue
        switch = entry.get('switch_epoch') if isinstance(entry, dict) else getattr(entry, 'switch_epoch', None)
        if isinstance(switch, int) and isinstance(max_epochs, int) and switch >= max_epochs:
            continue
        raise ConfigCheckError(
            f'custom_hooks[{i}] is {a_class(cls)} (switch_epoch={switch!r}) beside PipelineChoiceSpace(key='
            f'{spaces[0]!r}) of {hook_key}: at that epoch it rebuilds the training pipeline from switch_pipeline, '
            'whose choice transform no space binds (it draws uniformly, unlearned) and whose packing transform does '
            'not carry the choice, so the trunks from then on would train off the searched policy and count none. '
            'Remove the hook from the search (retrain with it and the exported final_policy.py), or set its '
            f'switch_epoch to train_cfg.max_epochs ({max_epochs!r}) or later')


def check_switched_writes(cfg: Any, scope: str) -> None:
    """Refuse, on the config, a pipeline value written beside a hook that replaces or skips it during training, as
    each worker's writer refuses it before training (:func:`~automl_mm.ohl.switching_hooks.check_switching_hooks`,
    the same words): a target of an ``AttributeSpace`` of the ``OHLHook``, or a ``values`` path of a
    ``TrunkScheduleHook`` (a ``SetAttributesHook``, which writes once before training, is only warned of),
    through the training dataset's pipeline beside mmdet's
    ``PipelineSwitchHook`` that switches before ``train_cfg.max_epochs`` (an iteration loop has mmengine's 1 epoch),
    or into a ``MultiImageMixDataset`` transform of a type ``YOLOXModeSwitchHook`` skips, or to the
    ``bbox_head.use_l1`` it sets; and, with or without a hook, a path into a transform that a ``MultiImageMixDataset``
    (at any depth: a ``RepeatDataset``'s ``dataset``, a ``ConcatDataset``'s ``datasets``) of any loader the workers'
    check walks (``train_dataloader``, ``val_dataloader``, ``test_dataloader`` and their loops' ``dataloader``)
    skips by its own ``skip_type_keys``. In the workers the refusal came after the launcher had started every copy
    and each had built its runner. A hook the config cannot build here, or a train loop this check does not model
    beside a ``PipelineSwitchHook``, is left to the workers' check.

    Raises:
        ConfigCheckError: prefixed with the writer's key (``custom_hooks[0].spaces[1]``, ``custom_hooks[2]``).
    """
    from automl_mm.ohl.switching_hooks import check_switching_hooks

    from .preflight_walk import ConfigCheckError

    hooks = _switching_hooks(cfg, scope)
    datasets = {}
    for name in _LOADERS:
        loader = cfg.get(name)
        datasets[name] = _dataset_stand_in(loader.get('dataset') if isinstance(loader, dict) else None, scope)
    writers = _pipeline_writers(cfg, scope) if hooks or any(_skips_any(d) for d in datasets.values()) else []
    if not writers:
        return
    max_epochs = None
    if hooks:
        from mmengine.runner import IterBasedTrainLoop

        from .preflight_ohl_schedule import _loop

        found = _loop(cfg, scope)
        # the loop's max_epochs, as runner.max_epochs reads it: mmengine's iteration loop has 1
        max_epochs = None if found is None else 1 if isinstance(found[0], IterBasedTrainLoop) else found[1]
        if not isinstance(max_epochs, int):  # the workers' check reads the built loop's
            from mmdet.engine.hooks import PipelineSwitchHook

            hooks = [hook for hook in hooks if not isinstance(hook, PipelineSwitchHook)]
    runner = SimpleNamespace(hooks=hooks, max_epochs=max_epochs)
    for name, dataset in datasets.items():
        # the runner's loader and its loop's (a val / test one only where the config has it: else the runner's is
        # None and the workers' check resolves nothing there either)
        if name != 'train_dataloader' and not isinstance(cfg.get(name), dict):
            continue
        loader = SimpleNamespace(dataset=dataset)
        setattr(runner, name, loader)
        setattr(runner, name.replace('_dataloader', '_loop'), SimpleNamespace(dataloader=loader))
    for key, owner, paths in writers:
        try:
            check_switching_hooks(runner, paths, owner)
        except ValueError as err:
            raise ConfigCheckError(f'{key}: {err}') from None


#: the runner's loaders whose datasets the workers' check walks a written path into (each also as its loop's
#: ``dataloader``: ``val_loop.dataloader``)
_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _switching_hooks(cfg: Any, scope: str) -> list:
    """mmdet's ``PipelineSwitchHook`` / ``YOLOXModeSwitchHook`` (or subclasses) of ``default_hooks`` and
    ``custom_hooks``, built from their configs (they only keep their arguments); one that does not build is left
    to the runner, which names it."""
    from automl_mm.ohl.copies import _hook_class

    try:
        from mmdet.engine.hooks import PipelineSwitchHook, YOLOXModeSwitchHook
    except ImportError:  # mmdet is optional
        return []
    entries = list((cfg.get('default_hooks') or {}).values()) + list(cfg.get('custom_hooks') or [])
    hooks = []
    for entry in entries:
        cls = _hook_class(entry, scope) if entry is not None else None
        if not (isinstance(cls, type) and issubclass(cls, (PipelineSwitchHook, YOLOXModeSwitchHook))):
            continue
        if not isinstance(entry, dict):
            hooks.append(entry)
            continue
        try:
            hooks.append(cls(**{k: v for k, v in entry.items() if k not in ('type', '_scope_', 'priority')}))
        except Exception:  # noqa: BLE001 - the runner's build names it
            continue
    return hooks


def _pipeline_writers(cfg: Any, scope: str) -> list[tuple[str, str, list[str]]]:
    """``(config key, writer as the workers' messages name it, attribute paths)`` of each ``AttributeSpace`` (or
    subclass) of the ``OHLHook`` and each ``TrunkScheduleHook`` (or subclass) of ``custom_hooks`` (a
    ``SetAttributesHook`` writes once, before training: warned of in the workers, not refused)."""
    from automl_mm.ohl import OHLHook
    from automl_mm.ohl.attribute_space import AttributeSpace
    from automl_mm.ohl.copies import _hook_class
    from automl_mm.ohl.replay_hooks import TrunkScheduleHook
    from automl_mm.registry import SEARCH_SPACES, config_class

    from .preflight_option_targets import _space_targets

    found = []
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        cls = _hook_class(hook, scope) if isinstance(hook, dict) else None
        if not isinstance(cls, type):
            continue
        if issubclass(cls, OHLHook):
            for j, space in enumerate(hook.get('spaces') or []):
                space_cls = config_class(SEARCH_SPACES, space, 'automl_mm') if isinstance(space, dict) else None
                if not (isinstance(space_cls, type) and issubclass(space_cls, AttributeSpace)):
                    continue
                targets = _space_targets(space)
                paths = [targets] if isinstance(targets, str) else list(targets or [])
                name = space.get('name') or space_cls.__name__  # the space's default name (OHLSpace)
                found.append((f'custom_hooks[{i}].spaces[{j}]', f'OHL space {name!r}', paths))
        # SetAttributesHook writes once, before training, and credits nothing: beside a switch it is warned of in
        # the workers (replay_hooks.SetAttributesHook._note_switching_hooks), not refused
        for replay in (TrunkScheduleHook,):
            values = hook.get('values')
            if issubclass(cls, replay) and isinstance(values, dict):
                found.append((f'custom_hooks[{i}]', replay.__name__, list(values)))
    return found


def _dataset_stand_in(node: Any, scope: str) -> Any:
    """A loader's dataset config ``node`` (the training, val or test loader's: :func:`check_switched_writes`) with
    each mmdet ``MultiImageMixDataset`` (or subclass) in it, at any depth, standing in as an object of that class's
    name: its config's keys as attributes (the wrapped ``dataset`` converted the same way), its ``pipeline_types``
    as mmdet lists them (each transform config's ``type`` as written) and its ``_skip_type_keys`` (the config's
    ``skip_type_keys``), which the workers' :func:`~automl_mm.ohl.switching_hooks.check_switching_hooks` reads on
    the built dataset. Other dicts are copied
    with their ``dataset`` / ``datasets`` converted (their other keys as they are), lists with every item converted;
    anything else is given back as it is."""
    from automl_mm.registry import DATASETS, config_class

    if isinstance(node, (list, tuple)):
        return [_dataset_stand_in(item, scope) for item in node]
    if not isinstance(node, dict):
        return node
    inner = node.get('_scope_') if isinstance(node.get('_scope_'), str) else scope
    converted = {k: _dataset_stand_in(v, inner) if k in ('dataset', 'datasets') else v for k, v in node.items()}
    try:
        from mmdet.datasets import MultiImageMixDataset
    except ImportError:  # mmdet is optional
        return converted
    cls = config_class(DATASETS, node, scope)
    if not (isinstance(cls, type) and issubclass(cls, MultiImageMixDataset)):
        return converted
    pipeline = node.get('pipeline')
    types = [t.get('type') if isinstance(t, dict) else None for t in pipeline] if isinstance(pipeline, list) else None
    stand_in = type(cls.__name__, (SimpleNamespace,), {})(**{k: v for k, v in converted.items() if k.isidentifier()})
    stand_in.pipeline_types = types
    stand_in._skip_type_keys = node.get('skip_type_keys')
    return stand_in


def _skips_any(node: Any) -> bool:
    """Whether a stand-in of :func:`_dataset_stand_in` holds a ``MultiImageMixDataset`` with ``skip_type_keys``."""
    if isinstance(node, list):
        return any(_skips_any(item) for item in node)
    if isinstance(node, dict):
        return any(_skips_any(node.get(k)) for k in ('dataset', 'datasets'))
    if isinstance(node, SimpleNamespace):
        return bool(getattr(node, '_skip_type_keys', None)) or any(
            _skips_any(getattr(node, k, None)) for k in ('dataset', 'datasets'))
    return False


def _choice_space_keys(hook: dict, unresolved: bool = False) -> list[str]:
    """The ``key`` of each ``PipelineChoiceSpace`` in ``hook['spaces']`` (with ``unresolved``, also the ``key`` of
    each space whose type does not resolve here: trusted)."""
    from automl_mm.ohl.pipeline_space import PipelineChoiceSpace
    from automl_mm.registry import SEARCH_SPACES, config_class

    keys = []
    for space in hook.get('spaces') or []:
        cls = config_class(SEARCH_SPACES, space, 'automl_mm')  # OHLHook builds its spaces in automl_mm's scope
        if cls is not None and issubclass(cls, PipelineChoiceSpace):
            keys.append(space.get('key', _key_default(cls)))
        elif unresolved and cls is None and isinstance(space, dict) and 'key' in space:
            keys.append(space['key'])
    return keys


def check_policy_fragment_used(cfg: Any, scope: str) -> None:
    """Raise where a pasted ``final_policy.py`` pipeline fragment's transform is in no training pipeline.

    A ``PipelineChoiceSpace`` exports its learned distribution as a top-level name, ``ohl_fixed_<key>`` (or
    ``ohl_fixed_<key>_<i>``): an ``OHLRandomChoice`` / ``FixedAutoAugment`` config with ``probs``
    (:meth:`automl_mm.ohl.pipeline_space.PipelineChoiceSpace.export_fragment`), which the user puts into
    ``train_pipeline`` and rebinds the loader to. mmengine reads no such name: pasted into a retraining config
    without that step (the search's ``OHLRandomChoice(key='aug')`` left in place, the hook dropped), the run trained
    on uniformly random choices instead of the learned policy, without a word (the unbound-choice warning is for
    runs with an ``OHLHook``). The name counts as used where a transform of a ``train_dataloader`` dataset's
    pipeline (nested ones included) has its ``key`` and ``probs``.

    Raises:
        ConfigCheckError: naming the top-level name, the training pipeline's transform of that key (if any) and the
            lines to add.
    """
    from automl_mm.augment.choice import LiveChoiceTransform
    from automl_mm.registry import TRANSFORMS, config_class

    from .preflight_walk import ConfigCheckError

    fragments = []
    for name in cfg.keys():
        value = cfg.get(name)
        if not (isinstance(name, str) and name.startswith('ohl_fixed_') and isinstance(value, dict)
                and value.get('probs') is not None):
            continue
        cls = config_class(TRANSFORMS, value, scope)
        if cls is not None and issubclass(cls, LiveChoiceTransform):
            fragments.append((name, value, value.get('key', _key_default(cls))))
    if not fragments:
        return
    loader = cfg.get('train_dataloader')
    transforms = []
    for dataset, where in _datasets(loader.get('dataset') if isinstance(loader, dict) else None,
                                    'train_dataloader.dataset'):
        transforms += list(pipeline_transforms(dataset.get('pipeline'), f'{where}.pipeline'))
    for name, value, key in fragments:
        probs = list(value['probs'])
        same_key = [(t, at) for t, at in transforms if t.get('key') == key]
        if any(t.get('probs') is not None and list(t['probs']) == probs for t, _ in same_key):
            continue
        if same_key:
            held, at = same_key[0]
            how = 'with other probs' if held.get('probs') is not None else 'without probs (it draws uniformly)'
            instead = f'; the training pipeline has {at} = {held.get("type")}(key={key!r}) {how} in its place'
        else:
            instead = '; no transform of the training pipeline has that key'
        raise ConfigCheckError(
            f'{name}: the config sets {name} (type={value.get("type")!r}, key={key!r}), as a pasted final_policy.py '
            f'does, but no train_dataloader pipeline holds it{instead}: mmengine reads no top-level {name}, so the run '
            f'would not train with the learned policy. Put it in train_pipeline where the search had its choice '
            f'transform and rebind the loader: train_pipeline = [..., {name}, ...] and '
            f'train_dataloader = dict(dataset=dict(pipeline=train_pipeline)) (the fragment\'s comment says where)')


def check_loss_fragment_not_searched(cfg: Any) -> None:
    """Raise where a pasted AM-LFS ``final_policy.py`` (its top-level ``am_lfs_loss``, set as the loss at a config
    key) sits beside an ``OHLHook`` whose ``LossFunctionSpace`` searches that very loss.

    The space starts from μ₀ = cross-entropy whatever θ the config's loss holds, and writes one sample per copy per
    trunk over it, so the learned loss the fragment sets is never trained with: pasted into the search config with
    its ``custom_hooks`` kept (the README's retrain also sets ``custom_hooks = []`` and a ``DefaultSampler``), the
    run searched again from cross-entropy, without a word.

    Raises:
        ConfigCheckError: naming ``am_lfs_loss``, the config key of the loss, the space's key and the two lines
            that turn the config into the retrain.
    """
    from automl_mm.losses.space import LossFunctionSpace
    from automl_mm.ohl.copies import find_ohl_hook
    from automl_mm.registry import SEARCH_SPACES, config_class
    from automl_mm.utils.scope import config_type_name

    from .preflight_walk import ConfigCheckError

    fragment = cfg.get('am_lfs_loss')
    if config_type_name(fragment) != 'AMLFSLoss' or fragment.get('theta') is None:
        return
    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), config_scope(cfg))
    except ValueError:
        return  # _check_ohl_hook names it
    if found is None:
        return
    i, hook = found
    spaces = hook.get('spaces') if isinstance(hook, dict) else None
    for j, space in enumerate(spaces if isinstance(spaces, (list, tuple)) else []):
        cls = config_class(SEARCH_SPACES, space, 'automl_mm')  # OHLHook builds its spaces in automl_mm's scope
        if cls is None or not issubclass(cls, LossFunctionSpace):
            continue
        target = space.get('target', inspect.signature(cls).parameters['target'].default)
        parts = target.split('.') if isinstance(target, str) else []
        if len(parts) < 4 or parts[0] != 'model' or parts[-1] != 'theta':
            continue
        # the config key that builds the loss at the target (as LossFunctionSpace.export_fragment maps it)
        keys = parts[1:-2] + ['loss' if parts[-2] == 'loss_module' else parts[-2]]
        node: Any = cfg.get('model')
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get('theta') is None or list(node['theta']) != list(fragment['theta']):
            continue
        raise ConfigCheckError(
            f'am_lfs_loss: model.{".".join(keys)} is the learned loss of a pasted AM-LFS final_policy.py, but '
            f'custom_hooks[{i}].spaces[{j}] ({cls.__name__}) searches that loss ({target}) from cross-entropy, so the '
            'run would never train with it. To retrain with the learned loss, drop the hook and its CopySampler: '
            "custom_hooks = [] and train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler', "
            'shuffle=True))')
