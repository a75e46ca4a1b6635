"""Walking a *built* dataset's pipeline (transform objects, through dataset wrappers and nested transforms), for
:class:`~automl_mm.ohl.pipeline_space.PipelineChoiceSpace`. Pipeline *configs* are walked by
:mod:`automl_mm.engine.preflight_walk`.
"""
from __future__ import annotations

from typing import Any


def _transform_lists(dataset: Any):
    """Every list of transforms in a dataset's pipeline, through dataset wrappers and nested transform wrappers:
    a ``Compose``'s transforms, and every transform, ``Compose`` or list / dict of them that a transform holds,
    whatever the attribute is called (mmcv's ``RandomChoice`` / ``RandomApply`` / ``KeyMapper`` ``transforms``,
    ``TestTimeAug``'s ``subroutines``; mmdet's ``AutoAugment`` / ``RandAugment`` lists, ``MultiBranch``'s
    ``branch_pipelines``; ``OHLRandomChoice``'s ``pipelines``) and a dataset's ``pipeline`` held as a plain list
    (mmdet's ``MultiImageMixDataset``, around ``Mosaic`` / ``MixUp``). The last three were missed: a choice
    transform in a ``MultiBranch`` branch or in a ``MultiImageMixDataset``'s pipeline was "not found", and the
    packing transforms there did not carry the choice (every trunk counted none)."""
    from mmcv.transforms import BaseTransform

    seen = set()
    stack = [dataset]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for attr in ('dataset', 'datasets'):
            child = getattr(obj, attr, None)
            if child is not None:
                stack.extend(child if isinstance(child, (list, tuple)) else [child])
        pipeline = getattr(obj, 'pipeline', None)
        transforms = getattr(pipeline, 'transforms', None) if pipeline is not None else None
        if transforms is None and isinstance(pipeline, (list, tuple)) and pipeline and \
                all(callable(t) for t in pipeline):
            transforms = pipeline  # mmdet's MultiImageMixDataset holds its built pipeline as a plain list
        if transforms is None and hasattr(obj, 'transforms'):
            transforms = obj.transforms
        if transforms:
            seen.add(id(transforms))  # a wrapper's Compose (RandomApply's): its list is this one, not another
            yield list(transforms)
            stack.extend(transforms)
        if isinstance(obj, BaseTransform):
            for value in vars(obj).values():
                items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) \
                    else (value,)
                stack.extend(v for v in items if isinstance(v, BaseTransform) or
                             (callable(v) and isinstance(getattr(v, 'transforms', None), list)))


def _iter_transforms(dataset: Any):
    """Every transform object in a dataset's pipeline, through dataset wrappers and nested Compose."""
    for transforms in _transform_lists(dataset):
        yield from transforms


def _placement(dataset: Any, transform: Any) -> str:
    """Where ``transform`` sits in its pipeline, in words: 'between RandomFlip and PackDetInputs'."""
    for transforms in _transform_lists(dataset):
        index = next((i for i, t in enumerate(transforms) if t is transform), None)
        if index is None:
            continue
        before = type(transforms[index - 1]).__name__ if index > 0 else None
        after = type(transforms[index + 1]).__name__ if index + 1 < len(transforms) else None
        if before and after:
            return f'between {before} and {after}'
        return f'after {before}' if before else (f'before {after}' if after else 'alone')
    return 'where it was'


def _following(dataset: Any, transform: Any) -> list:
    """The transforms after ``transform`` in its pipeline list (empty when it is last or not found)."""
    for transforms in _transform_lists(dataset):
        index = next((i for i, t in enumerate(transforms) if t is transform), None)
        if index is not None:
            return transforms[index + 1:]
    return []


def _preceding(dataset: Any, transform: Any) -> Any:
    """The transform before ``transform`` in its pipeline list (None when it is first or not found)."""
    for transforms in _transform_lists(dataset):
        index = next((i for i, t in enumerate(transforms) if t is transform), None)
        if index is not None:
            return transforms[index - 1] if index > 0 else None
    return None
