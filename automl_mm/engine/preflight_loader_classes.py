"""Config check: every loader a run scores reads the class names its training loader reads, in the same order."""
from __future__ import annotations

from typing import Any

from .preflight_classes import _built_classes, _label_scoring, _shown
from .preflight_walk import ConfigCheckError, _loader_cfgs, config_scope, outside_split


def check_loader_classes(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Each scored loader (``val_dataloader``, ``test_dataloader``, OHL's reward loader, a NAS search loader) has
    the class names of ``train_dataloader``, in its order, where both are known here (``metainfo.classes``, an
    ``ImageFolderDataset``'s class folders, a dataset class's default names; a wrapper's inner dataset's).

    A label is a position in a dataset's own class names, and nothing compared them across loaders: an image-folder
    val set with folders ``2, cat, dog, empty`` beside training folders ``10, 2, cat, empty`` (4 of each, so the
    heads' ``num_classes`` check passed) labelled its ``2`` images 0, the training set's ``10``, and the run
    reported a val accuracy of 33 % for a model that classified every image right, silently; so did a COCO val
    set named in another order than the training set (each in its own file's order). A loader scored by mmdet's
    MOT metric reads MOT's categories by design and is skipped (as by the heads' ``num_classes`` check). Without
    a training loader in the check (``test_only``), ``tools/test.py`` compares the test set with the
    checkpoint's classes instead.

    Raises:
        ConfigCheckError: names the loader's key, both sets of names and where they come from, and the first
            label they disagree on.
    """
    if outside_split('train_dataloader', test_only, split):
        return
    scope = config_scope(cfg)
    reference = None
    for loader, key in _loader_cfgs(cfg):
        found = _built_classes(loader.get('dataset'), f'{key}.dataset', scope)
        if key == 'train_dataloader':
            if found is None:
                return
            reference = tuple(found[0]), found[1]
            continue
        if found is None or reference is None or not _label_scoring(cfg, key, scope).compared:
            continue
        (train, train_source), (classes, source) = reference, (tuple(found[0]), found[1])
        if classes == train:
            continue
        k = next((i for i, (a, b) in enumerate(zip(classes, train)) if a != b), min(len(classes), len(train)))
        raise ConfigCheckError(
            f'{key}.dataset has the class names {_shown(classes)} ({source}), but train_dataloader.dataset has '
            f'{_shown(train)} ({train_source}): label {k} is {repr(classes[k]) if k < len(classes) else "none"} '
            f'here and {repr(train[k]) if k < len(train) else "none"} in training, so the model\'s predictions '
            'would be scored against labels of other classes. Give every loader the same class names in the same '
            'order (the same class folders, or the same metainfo.classes)')


__all__ = ['check_loader_classes']
