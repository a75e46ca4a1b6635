"""``tools/test.py --tta``: the config's ``tta_model`` and ``tta_pipeline`` applied (:func:`apply_tta`), and the
view order of its test-time augmentation.

mmdet's ``tools/test.py --tta`` fills in a flip TTA for a config without ``tta_model`` / ``tta_pipeline``, with a
warning only, which would be wrong for a classifier; here such a config is refused, the message giving mmdet's flip
TTA over the config's test pipeline to paste (:func:`flip_tta_pipeline`), or saying that nothing shipped fits a
model that is no mmdet detector.

mmcv's ``TestTimeAug`` makes one view per combination of its ``transforms`` options (``itertools.product``, in the
order given), and mmdet's ``DetTTAModel`` returns the *first* view's data sample with the merged predictions (the
predictions are mapped back to the unflipped image, the ground truth is not). mmdet's flip TTA lists
``RandomFlip(prob=1.)`` first, so ``--show-dir`` drew every image's ground truth mirrored against the right
predictions. automl_mm's suggested TTA (:func:`flip_tta_pipeline`) lists the unflipped view first; a user's own
pipeline in mmdet's order gets a warning (:func:`warn_flipped_first_view`), not a refusal: the scores are right.
"""
from __future__ import annotations

import copy
import logging
import os.path as osp
from collections.abc import Iterator
from typing import Any

from mmengine.logging import print_log

from .preflight_walk import ConfigCheckError, pipeline_transforms, runner_scope
from .tool_args import _resolve


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

    model = _resolve(MODELS, cfg.get('tta_model'), runner_scope(cfg))  # (the node: its _scope_ too)
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


_DET_TTA_MODEL = "dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))"


def flip_tta_pipeline(test_pipeline: Any) -> list | None:
    """mmdet's default flip TTA over a detector's test pipeline (what mmdet's ``tools/test.py --tta`` fills in):
    the pipeline with its last step, ``PackDetInputs``, replaced by a ``TestTimeAug`` of an image not flipped and
    flipped, each packed with its ``flip`` / ``flip_direction``; ``None`` when the pipeline does not end in
    ``PackDetInputs`` (a classifier's, or one given by reference). The unflipped view comes first (mmdet's comes
    second): ``DetTTAModel`` returns the first view's data sample, whose ground truth ``--show-dir`` draws."""
    if not isinstance(test_pipeline, (list, tuple)) or not test_pipeline:
        return None
    last = test_pipeline[-1]
    kind = last.get('type') if isinstance(last, dict) else None
    if not isinstance(kind, str) or kind.rsplit('.', 1)[-1] != 'PackDetInputs':
        return None
    pack = dict(type=kind, meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                      'flip_direction'))
    # the unflipped view first: DetTTAModel keeps the first view's data sample (its ground truth included) for the
    # merged predictions, and mmdet's order (flipped first) drew every --show-dir image's ground truth mirrored
    flip = dict(type='TestTimeAug', transforms=[[dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1.)],
                                                [pack]])
    return [_plain(step) for step in test_pipeline[:-1]] + [flip]


def _plain(value: Any) -> Any:
    """A config value as plain dicts / lists (``ConfigDict`` prints as a class, not as ``dict(...)``)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value) if isinstance(value, tuple) else [
            _plain(item) for item in value]
    return value


def _refuse_tta_for_a_non_detector(cfg: Any, missing: list[str], flip: list | None, base: str) -> None:
    """``--tta`` without ``tta_model`` / ``tta_pipeline`` on a model that is no mmdet detector (automl_mm's
    ``ImageClassifier``): refused saying that nothing shipped fits it (mmdet's ``DetTTAModel``, the only wrapper
    installed, merges boxes), instead of suggesting ``DetTTAModel`` "for an mmdet detector". A model whose type
    does not resolve here counts as a detector when its test pipeline ends in ``PackDetInputs`` (``flip``)."""
    from mmdet.models.detectors import BaseDetector
    from mmengine.registry import MODELS

    from automl_mm.models.classifier import ImageClassifier

    model_type = (cfg.get('model') or {}).get('type')
    model_cls = _resolve(MODELS, cfg.get('model'), runner_scope(cfg))
    if (isinstance(model_cls, type) and issubclass(model_cls, BaseDetector)) or (model_cls is None and flip):
        return
    which = 'an ImageClassifier' if isinstance(model_cls, type) and issubclass(model_cls, ImageClassifier) \
        else f'this model ({model_type})'
    raise ConfigCheckError(
        f'--tta needs {" and ".join(missing)} in the config (the test-time augmentation wrapper and pipeline, '
        f"mmdet's keys), and nothing shipped fits {which}: mmdet's DetTTAModel merges a detector's boxes, and "
        'neither automl_mm nor mmdet has a test-time augmentation wrapper for a classifier. Test without --tta, or '
        "write and register a subclass of mmengine's BaseTTAModel whose merge_preds merges the views' pred_score, "
        f'and name it in tta_model, with a tta_pipeline ending in dict(type=\'TestTimeAug\', transforms=[...]), in '
        f'a config that inherits this one (_base_ = {base!r})')


def apply_tta(cfg: Any, show_dir: str | None = None, show: bool = False) -> None:
    """``--tta``: test ``cfg.tta_model`` wrapped around ``cfg.model`` on ``cfg.tta_pipeline`` (mmdet's keys, e.g.
    ``tta_model = dict(type='DetTTAModel', tta_cfg=...)`` and a pipeline ending in ``TestTimeAug``). With
    ``show_dir`` (``--show-dir``) or ``show`` (``--show``), a ``tta_pipeline`` whose first view is flipped is warned of
    (:func:`warn_flipped_first_view`: the ground truth would be drawn mirrored).

    The pipeline is set on the dataset that reads the images: the innermost ``dataset`` of wrappers (mmdet set the
    outer wrapper's, which its inner dataset never read).

    Raises:
        ConfigCheckError: the config lacks ``tta_model`` or ``tta_pipeline``, naming the key (mmdet's
            ``tools/test.py`` fills in a flip TTA for detectors, which assumes a detector whose pipeline ends in
            ``PackDetInputs``, with a warning only). The message gives each missing key as a line to paste into a
            config inheriting this one: for a test pipeline ending in ``PackDetInputs``, the flip TTA mmdet would
            have filled in (:func:`flip_tta_pipeline`); it said ``transforms=[...]``, leaving the pipeline to write.
            For a model that is no mmdet detector (an ``ImageClassifier``) the message says that nothing shipped
            fits it, and suggests no ``DetTTAModel``.
    """
    dataset = cfg.test_dataloader.dataset
    while isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    missing = [key for key in ('tta_model', 'tta_pipeline') if cfg.get(key) is None]
    if missing:
        flip = flip_tta_pipeline(dataset.get('pipeline'))
        base = osp.abspath(cfg.filename) if getattr(cfg, 'filename', None) else '<this config>'
        _refuse_tta_for_a_non_detector(cfg, missing, flip, base)
        example = {'tta_model': f'tta_model = {_DET_TTA_MODEL}',
                   'tta_pipeline': f'tta_pipeline = {flip}' if flip else
                   "tta_pipeline = [... ending in dict(type='TestTimeAug', transforms=[...])]"}
        raise ConfigCheckError(
            f'--tta needs {" and ".join(missing)} in the config (the test-time augmentation wrapper and pipeline, '
            "mmdet's keys; they are not filled in, as mmdet's tools/test.py did for detectors with a warning). "
            f'Write them in a config that inherits this one (_base_ = {base!r}), e.g. '
            + '; '.join(example[key] for key in missing)
            + (" (mmdet's flip TTA over this config's test pipeline, the unflipped view first)" if flip
               else ' for an mmdet detector'))
    warn_flipped_first_view(cfg, show_dir, show)
    cfg.model = dict(copy.deepcopy(cfg.tta_model), module=cfg.model)
    dataset.pipeline = copy.deepcopy(cfg.tta_pipeline)
