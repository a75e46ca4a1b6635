"""The mask-format check of :func:`automl_mm.engine.preflight.check_config`: a COCO dataset whose pipeline loads
masks as polygons (mmdet's ``LoadAnnotations(with_mask=True, poly2mask=False)``) reads an annotation file whose
non-crowd masks are polygons.

mmdet's ``LoadAnnotations`` with ``poly2mask=False`` keeps masks as ``PolygonMasks`` and flags every instance
whose ``segmentation`` is an RLE dict as ignored. automl_mm's generated sets (``generate_coco``,
``generate_fmnist_det``) give every mask as RLE (exactly the drawn pixels), so a stock mmdet config that loads
polygons (``mask-rcnn_r50_fpn_poly-1x_coco.py``, the ``ms-poly`` and RTMDet-Ins configs) packed every object into
``ignored_instances`` and trained its detector on images without a single object, silently.
"""
from __future__ import annotations

from typing import Any

from .preflight_coco import CocoSummary
from .preflight_walk import ConfigCheckError, _coco_datasets


def _polygon_loads(pipeline: Any, where: str) -> list[str]:
    """Keys of the transforms of ``pipeline`` (a list of configs) that load masks as polygons."""
    if not isinstance(pipeline, (list, tuple)):
        return []
    return [f'{where}[{i}]' for i, t in enumerate(pipeline) if isinstance(t, dict) and t.get('with_mask')
            and t.get('poly2mask', True) is False]


def check_mask_format(cfg: Any, files: dict[str, CocoSummary], test_only: bool) -> None:
    """Raise if a COCO dataset loads masks as polygons (``poly2mask=False``) from an annotation file (``files``:
    the loaded files by path) with RLE masks on non-crowd annotations.

    Raises:
        ConfigCheckError: naming the transform's key, the file and how many of its masks are RLE.
    """
    for dataset, where, path in _coco_datasets(cfg):
        summary = files.get(path)
        if (test_only and not where.startswith('test_')) or summary is None or not summary.rle_masks:
            continue
        for at in _polygon_loads(dataset.get('pipeline'), f'{where}.pipeline'):
            raise ConfigCheckError(
                f'{at} loads masks as polygons (poly2mask=False), but {summary.rle_masks} non-crowd annotations of '
                f'{path} give their segmentation as RLE: mmdet flags each of them as ignored, and the model would '
                f'train and be scored without those objects. Set {at}.poly2mask=True (bitmap masks; automl_mm\'s '
                'generated sets give every mask as RLE)')
