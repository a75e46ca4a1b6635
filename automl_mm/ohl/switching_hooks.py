"""Hooks that replace or skip training pipeline transforms in the middle of a run, refused beside a writer of them.

An ``AttributeSpace`` writes its sample at each trunk start and credits the trunk's reward to it;
``SetAttributesHook`` writes its value once, before training; ``TrunkScheduleHook`` writes each trunk's value at its
start (:mod:`automl_mm.ohl.attributes`). Two mmdet hooks change the training pipeline under them:

* ``PipelineSwitchHook`` (RTMDet's configs) replaces ``train_dataloader.dataset.pipeline`` at ``switch_epoch`` with
  one built from ``switch_pipeline``. From then on a value written into the old pipeline is not the one the images
  are loaded with: a 2-epoch trunk whose sample ``prob=1.0`` was written at epoch 0 trained its epoch 1 at the
  switch pipeline's ``prob=0.5`` while the history recorded, and REINFORCE credited, 1.0; a replayed value was lost
  at the switch; later writes go by index into the new pipeline, whatever transform is there.
* ``YOLOXModeSwitchHook`` (YOLOX's configs) makes its ``MultiImageMixDataset`` skip the transforms of
  ``skip_type_keys`` (``Mosaic``, ``RandomAffine``, ``MixUp``) for its last ``num_last_epochs + 1`` epochs (mmdet
  switches before epoch ``e`` where ``e + 1 >= max_epochs - num_last_epochs``, 0-based): a value
  written to one of them changes nothing there, while the trunks are credited with it; and it sets
  ``model.bbox_head.use_l1`` to True, over a written value.

A ``MultiImageMixDataset`` whose own config sets ``skip_type_keys`` skips those transforms without any hook (until a
``YOLOXModeSwitchHook`` replaces them with its own at its switch): a value written to one of them changed nothing
while it was recorded and credited, and is refused the same way.

:func:`check_switching_hooks` refuses such a write before training (the writers' ``setup`` / ``before_train``),
and the config check before any worker starts, in the same words
(:func:`~automl_mm.engine.preflight_unbound_choices.check_switched_writes`).
A switch that does not happen in this run (``switch_epoch`` at ``max_epochs`` or later, or one already made) passes.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from automl_mm.utils.wording import a_or_an, a_type

#: what ``YOLOXModeSwitchHook`` sets to True at its switch (the detector's, or a wrapper's ``detector``'s)
_USE_L1_PATHS = ('model.bbox_head.use_l1', 'model.detector.bbox_head.use_l1')
_PIPELINE_ROOTS = (('train_dataloader', 'dataset', 'pipeline'), ('train_loop', 'dataloader', 'dataset', 'pipeline'))


def _pipeline_rest(path: str) -> list[str] | None:
    """The parts of ``path`` after the training dataset's ``pipeline`` (``['transforms', '1', 'prob']``), ``None``
    where ``path`` does not go through it."""
    parts = path.split('.')
    for root in _PIPELINE_ROOTS:
        if tuple(parts[:len(root)]) == root:
            return parts[len(root):]
    return None


def _mmdet_hook_classes() -> tuple[type | None, type | None]:
    try:
        from mmdet.engine.hooks import PipelineSwitchHook, YOLOXModeSwitchHook
    except ImportError:  # mmdet is optional
        return None, None
    return PipelineSwitchHook, YOLOXModeSwitchHook


def _max_epochs(runner: Any) -> int | None:
    try:
        value = runner.max_epochs
    except Exception:  # noqa: BLE001 - a runner without a train loop: the switch is taken to happen
        return None
    return value if isinstance(value, int) else None


def check_switching_hooks(runner: Any, paths: Iterable[str], owner: str) -> None:
    """Refuse writing ``paths`` where a hook of the run replaces or skips what they write during training (module
    docstring): a path through ``train_dataloader.dataset.pipeline`` beside a ``PipelineSwitchHook`` that switches
    before ``max_epochs``, and a path into a ``MultiImageMixDataset``'s transform of a type that a
    ``YOLOXModeSwitchHook`` skips, or to the ``bbox_head.use_l1`` it sets; and, with or without a hook, a path
    into a transform of a ``MultiImageMixDataset`` (at any depth of the dataset of any loader the path names, a
    val / test one too: a ``RepeatDataset``'s ``dataset``, a ``ConcatDataset``'s ``datasets``) whose own
    ``skip_type_keys`` names its type.

    Args:
        runner: The runner (its ``hooks``; a runner without them passes).
        paths: The attribute paths the writer writes.
        owner: Who writes them, for the message (``"OHL space 'flip'"``, ``'SetAttributesHook'``).

    Raises:
        ValueError: naming ``owner``, the path, the hook with its setting and what to do instead.
    """
    switch_cls, yolox_cls = _mmdet_hook_classes()
    if switch_cls is None:
        return
    hooks = list(getattr(runner, 'hooks', None) or [])
    for path in paths:
        if isinstance(path, str):
            _check_own_skips(runner, path, owner, [h for h in hooks if isinstance(h, yolox_cls)
                                                   and not getattr(h, '_has_switched', False)])
        if path in _USE_L1_PATHS:
            for hook in hooks:
                if isinstance(hook, yolox_cls) and not getattr(hook, '_has_switched', False):
                    raise ValueError(
                        f'{owner} writes {path}, but {type(hook).__name__}(num_last_epochs='
                        f'{getattr(hook, "num_last_epochs", None)!r}) sets it to True for the last epochs: there the '
                        'written value would be overwritten while it is recorded and credited. Write it in a run '
                        'without that hook')
        rest = _pipeline_rest(path) if isinstance(path, str) else None
        if rest is None:
            continue
        max_epochs = _max_epochs(runner)
        for hook in hooks:
            if isinstance(hook, switch_cls) and not getattr(hook, '_has_switched', False):
                epoch = getattr(hook, 'switch_epoch', None)
                if isinstance(epoch, int) and max_epochs is not None and epoch >= max_epochs:
                    continue  # never switches in this run
                raise ValueError(
                    f'{owner} writes {path}, but {type(hook).__name__}(switch_epoch={epoch!r}) replaces '
                    f'train_dataloader.dataset.pipeline at epoch {epoch!r} with one built from its switch_pipeline: '
                    'from then on the images are loaded with that pipeline\'s values, not the written one (the rest '
                    'of the trunk trains with them while the written value is recorded and credited), and the path '
                    'indexes the new pipeline\'s transforms. Write pipeline values in a run without the switch: set '
                    f'its switch_epoch to train_cfg.max_epochs ({max_epochs!r}) or later, or remove the hook')
            if isinstance(hook, yolox_cls) and not getattr(hook, '_has_switched', False):
                skipped = _skipped_transform(runner, rest, getattr(hook, 'skip_type_keys', None) or ())
                if skipped is None:
                    continue
                last = getattr(hook, 'num_last_epochs', None)
                raise ValueError(
                    f'{owner} writes {path}, {a_or_an(skipped)} {skipped} of train_dataloader.dataset, but '
                    f'{type(hook).__name__}(num_last_epochs={last!r}, skip_type_keys={list(hook.skip_type_keys)!r}) '
                    f'makes the dataset skip every {skipped} for the last {_switched_epochs(last)} epochs (mmdet '
                    'switches where epoch + 1 >= max_epochs - num_last_epochs): there the written value would change '
                    'nothing while it is recorded and credited. Write it in a run without that switch (drop '
                    f'{skipped!r} from skip_type_keys, or remove the hook)')


def _switched_epochs(num_last_epochs: Any) -> Any:
    """How many epochs ``YOLOXModeSwitchHook(num_last_epochs=n)`` runs switched: ``n + 1`` (its
    ``before_train_epoch`` switches where ``epoch + 1 >= max_epochs - n``, epochs counted from 0); a value that is
    no integer is given back as it is."""
    return num_last_epochs + 1 if isinstance(num_last_epochs, int) and not isinstance(num_last_epochs, bool) \
        else repr(num_last_epochs)


def _skipped_transform(runner: Any, rest: list[str], skip_type_keys: Iterable[str]) -> str | None:
    """The type (as the dataset lists it in ``pipeline_types``) of the ``MultiImageMixDataset`` transform that the
    pipeline path ``rest`` (``['2', 'prob']``; ``['*', 'prob']``: every transform) writes into, where it is one of
    ``skip_type_keys``; else ``None``."""
    try:
        dataset = runner.train_dataloader.dataset
    except Exception:  # noqa: BLE001 - no loader here: nothing to compare
        return None
    types = getattr(dataset, 'pipeline_types', None)
    if isinstance(types, (list, tuple)) and rest and rest[0] == '*':  # every transform, a skipped one too
        return next((name for name in types if isinstance(name, str) and name in set(skip_type_keys)), None)
    if not isinstance(types, (list, tuple)) or not rest or not rest[0].lstrip('-').isdigit():
        return None
    index = int(rest[0])
    if not -len(types) <= index < len(types):
        return None  # the path's own check names the index
    name = types[index]
    return name if isinstance(name, str) and name in set(skip_type_keys) else None


def _check_own_skips(runner: Any, path: str, owner: str, yolox_hooks: list) -> None:
    """Refuse ``path`` where it writes into a transform that a ``MultiImageMixDataset`` on its way skips by its own
    ``skip_type_keys`` (mmdet's ``__getitem__`` passes over every transform whose type, as written in the config
    and listed in ``pipeline_types``, is one of them): the written value changes nothing while it is recorded and
    credited. The path is walked as the writers walk it (``*`` fanned out); a part that does not resolve ends the
    walk (the writer's own check names it). A ``YOLOXModeSwitchHook`` beside the training dataset itself replaces
    its ``skip_type_keys`` with the hook's at its switch (``update_skip_type_keys``): the message says so.

    Raises:
        ValueError: naming ``owner``, the path, the dataset's path and type, its ``skip_type_keys`` and what to do.
    """
    parts = path.split('.')
    if 'pipeline' not in parts[1:]:
        return
    from .attribute_paths import path_chains

    try:
        chains = path_chains(runner, path, tolerant=True)
    except Exception:  # noqa: BLE001 - the writer's own check names a path that does not resolve
        return
    for chain in chains:
        for depth, (_, node) in enumerate(chain[:-2]):
            skip = getattr(node, '_skip_type_keys', None)
            types = getattr(node, 'pipeline_types', None)
            if (isinstance(node, dict) or not isinstance(skip, (list, tuple)) or not isinstance(types, (list, tuple))
                    or chain[depth + 1][0] != 'pipeline' or not chain[depth + 2][0].lstrip('-').isdigit()):
                continue
            index = int(chain[depth + 2][0])
            name = types[index] if -len(types) <= index < len(types) else None
            if not isinstance(name, str) or name not in skip:
                continue
            where = '.'.join(part for part, _ in chain[:depth + 1])
            until = ''
            replacing = [hook for hook in yolox_hooks if name not in (getattr(hook, 'skip_type_keys', None) or ())]
            if where in ('train_dataloader.dataset', 'train_loop.dataloader.dataset') and replacing:
                hook = replacing[0]  # (a hook that skips it too keeps it skipped for the whole run)
                last = getattr(hook, 'num_last_epochs', None)
                until = (f' until {type(hook).__name__}(num_last_epochs={last!r}) replaces them with '
                         f'{list(getattr(hook, "skip_type_keys", None) or ())!r} for the last '
                         f'{_switched_epochs(last)} epochs')
            raise ValueError(
                f'{owner} writes {path}, {a_or_an(name)} {name} of {where}, but {where} ({a_type(node)}) skips '
                f'every {name} (its skip_type_keys={list(skip)!r}){until}: the transform does not run there, so the '
                'written value would change nothing while it is recorded and credited. Write a transform the '
                f'dataset runs, or drop {name!r} from {where}.skip_type_keys')
