"""The mask-format check of :func:`automl_mm.engine.preflight.check_config`: a COCO dataset whose pipeline loads
masks as polygons (mmdet's ``LoadAnnotations(with_mask=True, poly2mask=False)``) reads an annotation file whose
non-crowd masks are polygons.

mmdet's ``LoadAnnotations`` with ``poly2mask=False`` keeps masks as ``PolygonMasks`` and flags every instance
whose ``segmentation`` is an RLE dict as ignored. automl_mm's generated sets (``generate_coco``,
``generate_fmnist_det``) give every mask as RLE (exactly the drawn pixels), so a stock mmdet config that loads
polygons (``mask-rcnn_r50_fpn_poly-1x_coco.py``, the ``ms-poly`` and RTMDet-Ins configs) packed every object into
``ignored_instances`` and trained its detector on images without a single object, silently.

:func:`check_mask_metrics` (once the model is built): a ``'segm'`` COCO metric scores a model that predicts masks.
"""
from __future__ import annotations

from typing import Any

from .preflight_coco import CocoSummary
from .preflight_walk import ConfigCheckError, _coco_datasets, outside_split, pipeline_transforms


def _polygon_loads(pipeline: Any, where: str) -> list[str]:
    """Keys of the transforms of ``pipeline`` (a list of configs) that load masks as polygons, nested ones included
    (:func:`~automl_mm.engine.preflight_walk.pipeline_transforms`: a ``LoadAnnotations`` inside mmcv's ``Compose``,
    ``RandomChoice``, ``TestTimeAug`` or mmdet's ``MultiBranch`` was missed)."""
    return [at for t, at in pipeline_transforms(pipeline, where) if t.get('with_mask')
            and t.get('poly2mask', True) is False]


def check_mask_format(cfg: Any, files: dict[str, CocoSummary], test_only: bool, split: str = 'test') -> None:
    """Raise if a COCO dataset loads masks as polygons (``poly2mask=False``) from an annotation file (``files``:
    the loaded files by path) with RLE masks on non-crowd annotations.

    Raises:
        ConfigCheckError: naming the transform's key, the file and how many of its masks are RLE.
    """
    for dataset, where, path in _coco_datasets(cfg):
        summary = files.get(path)
        if outside_split(where, test_only, split) or summary is None or not summary.rle_masks:
            continue
        for at in _polygon_loads(dataset.get('pipeline'), f'{where}.pipeline'):
            raise ConfigCheckError(
                f'{at} loads masks as polygons (poly2mask=False), but {summary.rle_masks} non-crowd annotations of '
                f'{path} give their segmentation as RLE: mmdet flags each of them as ignored, and the model would '
                f'train and be scored without those objects. Set {at}.poly2mask=True (bitmap masks; automl_mm\'s '
                'generated sets give every mask as RLE)')


def predicts_no_masks(model: Any) -> str | None:
    """Why the built mmdet detector ``model`` (or the model a wrapper or a TTA model holds) predicts no instance
    masks, or ``None`` when it does or that is not known here: a two-stage detector without ``roi_head.mask_head``
    (Faster R-CNN), or a single-stage one (not MaskFormer's family) whose ``bbox_head`` has no mask branch (RetinaNet,
    FCOS; RTMDet-Ins's head has one)."""
    from .checkpoint import inner_model

    model = inner_model(model)
    try:
        from mmdet.models.detectors import MaskFormer, SingleStageDetector, TwoStageDetector
    except ImportError:  # mmdet is not installed: no mmdet detector either
        return None
    if isinstance(model, TwoStageDetector):
        roi_head = getattr(model, 'roi_head', None)
        if roi_head is not None and not getattr(roi_head, 'with_mask', True):
            return f'{type(model).__name__} has no model.roi_head.mask_head'
    elif isinstance(model, SingleStageDetector) and not isinstance(model, MaskFormer):
        head = getattr(model, 'bbox_head', None)
        if head is not None and not any('mask' in name.lower() for name in vars(head)) and \
                not any('mask' in name.lower() for name, _ in head.named_children()):
            return f'{type(model).__name__}\'s model.bbox_head ({type(head).__name__}) has no mask branch'
    return None


def check_mask_metrics(cfg: Any, model: Any, test_only: bool = False, split: str = 'test') -> None:
    """Raise if an evaluator has a COCO metric of ``'segm'`` while the built ``model`` predicts no masks
    (:func:`predicts_no_masks`): mmdet's ``CocoMetric`` raised ``KeyError: 'segm is not in results'`` only after every
    image was predicted (at the end of tools/test.py, at the first validation of a training run, after an OHL
    trunk's reward images), naming no config key.

    Raises:
        ConfigCheckError: naming the evaluator's key and why the model predicts no masks.
    """
    from .preflight_walk import _evaluator_cfgs, coco_metric_class, config_scope

    why = None
    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        names = metric.get('metric', 'bbox')
        names = [names] if isinstance(names, str) else list(names) if isinstance(names, (list, tuple)) else []
        if coco_metric_class(metric, config_scope(cfg)) is None or 'segm' not in names:
            continue
        why = why or predicts_no_masks(model) or ''
        if why:
            raise ConfigCheckError(
                f"{key}.metric={names!r} scores instance masks, but {why}: mmdet's CocoMetric would stop with "
                "'segm is not in results' after every image was predicted. Drop 'segm' from the metric, or use a "
                'model with a mask head (Mask R-CNN)')
