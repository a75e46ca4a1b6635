"""The augmentation check of :func:`automl_mm.engine.preflight.check_config`: a loader that is scored (val, test,
OHL's reward loader, a NAS search loader) has no OHL choice transform (``OHLAutoAugment``, ``FixedAutoAugment``,
``OHLRandomChoice``) in its pipeline.

Those are training augmentations. In a scored pipeline every image was augmented before it was predicted: mmdet's
``CocoMetric`` compared the predictions on a rotated or translated image with the annotation file's boxes of the
unmoved one (on the generated shapes set's val images, a perfect detector scored bbox mAP 0.0 instead of 1.0 under
a translation pair), a classifier was scored on augmented images, and the run reported these numbers without a
word (mmdet's ``DetVisualizationHook`` drew the predictions over the unmoved image).
"""
from __future__ import annotations

from typing import Any

from .preflight_walk import ConfigCheckError, _loader_cfgs, outside_split, scoped_loader_transforms


def _choice_transform(cfg: dict, scope: str | None) -> str | None:
    """The class name of ``cfg`` when it builds an OHL choice transform (a ``LiveChoiceTransform``), else None; its
    type resolved as mmengine builds it (:func:`~automl_mm.registry.config_class`: its ``_scope_``, else ``scope``,
    the scope its dataset or wrapper is built in)."""
    from automl_mm.augment.choice import LiveChoiceTransform
    from automl_mm.registry import TRANSFORMS, config_class

    cls = config_class(TRANSFORMS, cfg, scope)
    return cls.__name__ if cls is not None and issubclass(cls, LiveChoiceTransform) else None


def check_no_augmentation_when_scored(cfg: Any, scope: str, test_only: bool, split: str = 'test') -> None:
    """Raise if a dataset of a scored loader (every loader but ``train_dataloader``; only ``{split}_dataloader`` when
    ``test_only``) has an OHL choice transform in its ``pipeline``, wrappers (``ConcatDataset``,
    ``RepeatDataset``, ...) and nested transform lists included
    (:func:`~automl_mm.engine.preflight_walk.pipeline_transforms`), each transform's type resolved in the scope
    mmengine builds it in (its ``_scope_``, else its wrapper's or dataset's, else ``scope``, the config's
    ``default_scope``: :func:`~automl_mm.engine.preflight_walk.scoped_loader_transforms`).

    Raises:
        ConfigCheckError: naming the transform's key (``val_dataloader.dataset.pipeline[3]``) and its class.
    """
    for loader, key in _loader_cfgs(cfg):
        if key == 'train_dataloader' or outside_split(key, test_only, split):
            continue
        check_scored_loader(loader, key, scope)


def check_scored_loader(loader: Any, key: str, scope: str) -> None:
    """Raise if the scored loader ``loader`` (config key ``key``) has an OHL choice transform in a dataset's
    pipeline (:func:`check_no_augmentation_when_scored`, for one loader: also what ``HeldOutEvaluator`` scores).

    Raises:
        ConfigCheckError: naming the transform's key and its class.
    """
    if not isinstance(loader, dict):
        return
    for transform, at, built_in in scoped_loader_transforms(loader.get('dataset'), f'{key}.dataset', scope):
        name = _choice_transform(transform, built_in)
        if name is None:
            continue
        raise ConfigCheckError(
            f'{at} is {name}, a training augmentation, in a pipeline that is scored: every image would be '
            'augmented before it is predicted, and geometric elements move the image but not the '
            'annotations the metric compares with (mmdet\'s CocoMetric reads the unmoved boxes of the '
            f'annotation file). Remove it from {key} (it belongs in train_dataloader\'s pipeline)')
