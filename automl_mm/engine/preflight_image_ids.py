"""The image-id check of :func:`automl_mm.engine.preflight.check_config`: a loader that reads several COCO files and
is scored by a ``CocoMetric`` without ``ann_file`` reads no image id twice.

Without ``ann_file``, mmdet's ``CocoMetric`` builds its ground truth from the scored images, keyed by image id.
automl_mm's generated splits (``generate_coco``, ``generate_fmnist_det``) all number their images from 1, so a
``ConcatDataset`` of two splits gave two images each id: pycocotools kept the objects and the predictions of both
under one id and matched them across the two images (a detector whose every box lies on the other split's image of
the same id scored bbox mAP 1.0 instead of 0.0), silently. (With ``ann_file`` the loader is refused whatever the
ids: one metric holds one file's ground truth, :func:`automl_mm.engine.preflight.split_mismatch`.)
"""
from __future__ import annotations

import json
from typing import Any

from .preflight_walk import ConfigCheckError, coco_metric_class, evaluator_metrics, loader_coco_files


def _merging_metric(evaluator_cfg: Any, scope: str | None = None) -> bool:
    """Whether the evaluator has a COCO metric that builds its ground truth from the scored images (no
    ``ann_file``)."""
    return any(isinstance(m, dict) and coco_metric_class(m, scope) is not None and m.get('ann_file') is None
               for m in evaluator_metrics(evaluator_cfg))


def _image_ids(path: str) -> set:
    try:
        with open(path) as f:
            images = json.load(f).get('images') or []
    except (OSError, ValueError, AttributeError):
        return set()  # the annotation file checks name an unreadable file
    return {image.get('id') for image in images if isinstance(image, dict) and isinstance(image.get('id'), (int, str))}


def check_merged_image_ids(loader_cfg: Any, loader_key: str, evaluator_cfg: Any, evaluator_key: str,
                           scope: str | None = None) -> None:
    """Raise if ``loader_cfg`` reads several COCO annotation files that share image ids and ``evaluator_cfg`` has a
    COCO metric without ``ann_file`` (the files are read only then); types resolved in ``scope`` (the config's
    ``default_scope``; ``None``: the current scope, then mmdet's).

    Raises:
        ConfigCheckError: naming both keys, the two files and how many ids they share.
    """
    files = loader_coco_files(loader_cfg, scope)
    if len(files) < 2 or not _merging_metric(evaluator_cfg, scope):
        return
    ids = {path: _image_ids(path) for path in files}
    for i, first in enumerate(files):
        for second in files[i + 1:]:
            shared = ids[first] & ids[second]
            if shared:
                example = sorted(shared, key=str)[0]
                raise ConfigCheckError(
                    f'{evaluator_key} has a COCO metric without ann_file, which scores the images {loader_key} '
                    f'reads by their image ids, but {first} and {second} share {len(shared)} image ids ({example!r}, '
                    '...): each such pair of images would be scored as one image, the objects and predictions of '
                    'both together. Give the files distinct image ids, or score each file with its own loader and '
                    'metric')
