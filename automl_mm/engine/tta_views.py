"""The view order of a user's own ``tta_pipeline`` under ``tools/test.py --tta --show-dir``.

mmcv's ``TestTimeAug`` makes one view per combination of its ``transforms`` options (``itertools.product``, in the
order given), and mmdet's ``DetTTAModel`` returns the *first* view's data sample with the merged predictions (the
predictions are mapped back to the unflipped image, the ground truth is not). mmdet's flip TTA lists
``RandomFlip(prob=1.)`` first, so ``--show-dir`` drew every image's ground truth mirrored against the right
predictions. automl_mm's suggested TTA (:func:`automl_mm.engine.tool_args.flip_tta_pipeline`) lists the unflipped view
first; a user's own pipeline in mmdet's order gets a warning (:func:`warn_flipped_first_view`), not a refusal: the
scores are right.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from mmengine.logging import print_log

from .preflight_walk import pipeline_transforms


def _first_view(tta: dict, where: str) -> Iterator[tuple[dict, str]]:
    """The transforms of a ``TestTimeAug`` config's first view (the first option of each list), with their keys."""
    for i, options in enumerate(tta.get('transforms') or []):
        if isinstance(options, (list, tuple)) and options:
            yield from ((t, k) for t, k in pipeline_transforms(options[0], f'{where}.transforms[{i}][0]'))


def _flip_prob(transform: dict) -> float:
    """The probability a ``RandomFlip`` config flips (its ``prob``, summed over directions when a list; 0 when
    it cannot be read here)."""
    prob = transform.get('prob')
    if isinstance(prob, (list, tuple)) and all(isinstance(p, (int, float)) for p in prob):
        return float(sum(prob))
    return float(prob) if isinstance(prob, (int, float)) and not isinstance(prob, bool) else 0.0


def flipped_first_view(pipeline: Any, where: str = 'tta_pipeline') -> tuple[str, float] | None:
    """``(config key, flip probability)`` of a ``RandomFlip`` (mmcv's or mmdet's) with a probability above 0 in the
    first view of a ``TestTimeAug`` of ``pipeline`` (a list of transform configs), or ``None``.

    Examples:
        >>> pack = dict(type='PackDetInputs')
        >>> flipped_first_view([dict(type='TestTimeAug', transforms=[[dict(type='RandomFlip', prob=1.),
        ...                                                            dict(type='RandomFlip', prob=0.)], [pack]])])
        ('tta_pipeline[0].transforms[0][0]', 1.0)
        >>> flipped_first_view([dict(type='TestTimeAug', transforms=[[dict(type='RandomFlip', prob=0.),
        ...                                                            dict(type='RandomFlip', prob=1.)], [pack]])])
    """
    for tta, key in pipeline_transforms(pipeline, where):
        if str(tta.get('type', '')).rsplit('.', 1)[-1] != 'TestTimeAug':
            continue
        for transform, inner in _first_view(tta, key):
            if str(transform.get('type', '')).rsplit('.', 1)[-1] == 'RandomFlip' and _flip_prob(transform) > 0:
                return inner, _flip_prob(transform)
    return None


def warn_flipped_first_view(cfg: Any, show_dir: str | None, show: bool = False) -> None:
    """With ``--show-dir`` (``show_dir`` not ``None``) or ``--show`` (``show``) and a ``tta_model`` that is mmdet's
    ``DetTTAModel`` (or a subclass; resolved in the config's scope), warn when ``cfg.tta_pipeline``'s first view
    flips (:func:`flipped_first_view`), naming the key and the fix. Nothing is refused: the merged predictions and
    the scores are right, only the drawn ground truth is mirrored."""
    if show_dir is None and not show:
        return
    found = flipped_first_view(cfg.get('tta_pipeline'))
    if found is None:
        return
    try:
        from mmdet.models.test_time_augs import DetTTAModel
    except ImportError:
        return
    from automl_mm.registry import MODELS

    from .tool_args import _resolve

    kind = (cfg.get('tta_model') or {}).get('type')
    model = _resolve(MODELS, kind, cfg.get('default_scope'))
    if not (isinstance(model, type) and issubclass(model, DetTTAModel)):
        return
    key, prob = found
    option = ' and '.join(flag for flag, given in (('--show', show), ('--show-dir', show_dir is not None)) if given)
    option += ' draw' if ' and ' in option else ' draws'
    print_log(f'{key} is a RandomFlip (prob={prob:g}) in the first view of the TestTimeAug: {model.__name__} keeps '
              f"the first view's data sample, so {option} every image's ground truth mirrored (the merged "
              'predictions and the scores are right). List the unflipped view first, e.g. '
              "[dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1.)], in the config's tta_pipeline",
              logger='current', level=logging.WARNING)
