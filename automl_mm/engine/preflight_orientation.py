"""Config check: a COCO file's boxes lie on the pixel grid its loader decodes an EXIF-rotated image to."""
from __future__ import annotations

import os.path as osp
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_coco import CocoSummary, image_folder, image_size
from .preflight_walk import ConfigCheckError, _coco_datasets, outside_split

#: mmcv ``LoadImageFromFile`` ``color_type`` values that turn an image by its EXIF orientation (cv2 and Pillow
#: backends alike; ``'unchanged'`` and the ``*_ignore_orientation`` flags do not).
TURNING = ('color', 'grayscale')


def _color_type(dataset: dict) -> str | None:
    """The ``color_type`` of the first ``LoadImageFromFile`` in the dataset's pipeline (mmcv's default
    ``'color'``), ``None`` without one."""
    for step in dataset.get('pipeline') or []:
        if isinstance(step, dict) and config_type_name(step).endswith('LoadImageFromFile'):
            return step.get('color_type', 'color')
    return None


def _fits(boxes: list, width: int, height: int) -> bool:
    return all(x + w <= width + 1 and y + h <= height + 1 for x, y, w, h in boxes)


def check_exif_orientation(cfg: Any, files: dict[str, CocoSummary], test_only: bool, split: str = 'test') -> None:
    """For each sampled image (:data:`~automl_mm.engine.preflight_coco.SIZE_SAMPLE`) of a COCO dataset whose
    EXIF orientation turns it (5 to 8) and whose width and height differ, the file's boxes fit the image as the
    loader decodes it: mmcv's ``LoadImageFromFile`` with ``color_type='color'`` (the default) or ``'grayscale'``
    turns it, ``'color_ignore_orientation'`` / ``'unchanged'`` do not, and mmdet moves no box. A phone photo
    annotated on its stored (unturned) pixels, e.g. boxes reaching x = 60 of a stored 64x32 image that the loader
    turned to 32x64, trained and was scored with every box off its object, silently (mmdet's ``Resize`` clips the
    overhang). Only boxes that fit one grid and not the other tell which grid the file uses; other images pass.

    Raises:
        ConfigCheckError: names the dataset's key, the image, both sizes and the ``color_type`` to use.
    """
    for dataset, where, path in _coco_datasets(cfg):
        summary, folder, color_type = files.get(path), image_folder(dataset), _color_type(dataset)
        if outside_split(where, test_only, split) or summary is None or folder is None or \
                not isinstance(color_type, str):
            continue
        for entry in summary.sample:
            boxes, name = summary.sample_boxes.get(entry.get('id')), entry.get('file_name')
            image = osp.join(folder, name) if isinstance(name, str) else None
            found = image_size(image) if boxes and image is not None and osp.isfile(image) else None
            if found is None or not found[1] or found[0][0] == found[0][1]:
                continue
            (width, height), turns = found[0], color_type in TURNING
            decoded, other = ((height, width), (width, height)) if turns else ((width, height), (height, width))
            if _fits(boxes, *decoded) or not _fits(boxes, *other):
                continue
            fix = repr(f'{color_type}_ignore_orientation') if turns else repr(
                color_type.replace('_ignore_orientation', '') if color_type != 'unchanged' else 'color')
            raise ConfigCheckError(
                f'{where}: {image} has an EXIF orientation that turns it; the pipeline\'s LoadImageFromFile '
                f'(color_type={color_type!r}) decodes it {"turned" if turns else "as stored"}, {decoded[0]}x'
                f'{decoded[1]} (width x height), but the boxes {path} gives it fit only the '
                f'{"stored" if turns else "turned"} {other[0]}x{other[1]} image: every box would be off its object. '
                f'Set color_type={fix} in that LoadImageFromFile, or re-export the annotations on the other grid')


__all__ = ['TURNING', 'check_exif_orientation']
