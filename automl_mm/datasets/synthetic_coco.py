"""A small deterministic COCO-format detection set: coloured shapes on textured backgrounds.

mmdet's ``CocoDataset`` and ``CocoMetric`` read the output unchanged (``annotations/instances_<split>.json``
plus ``<split>/<id>.png``), with boxes and RLE masks of exactly the drawn pixels, so detection code is tested
without any download.
"""
from __future__ import annotations

import json
import os
import os.path as osp

import cv2
import numpy as np

from automl_mm.utils.checks import as_count

from .generated import (
    GeneratedSet,
    check_generator_seed,
    mark_generated,
    prepare_generated_dir,
    read_generated_set,
    split_counts,
)

CATEGORIES = ('rectangle', 'ellipse', 'triangle')
#: Recorded in the set's marker: 2 since each split has its own seeded stream (1, unrecorded: val followed train's).
GENERATOR_VERSION = 2


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Low-frequency colour noise plus faint stripes, so a detector cannot key on a flat background."""
    coarse = rng.integers(40, 200, size=(max(2, size // 16), max(2, size // 16), 3)).astype(np.float32)
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    period = rng.uniform(6, 16)
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size]
    stripes = 12.0 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    img += stripes[:, :, None] + rng.normal(0, 4, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_shape(mask: np.ndarray, cat: int, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = box
    if cat == 0:
        cv2.rectangle(mask, (x0, y0), (x1 - 1, y1 - 1), 1, thickness=-1)
    elif cat == 1:
        center = ((x0 + x1 - 1) // 2, (y0 + y1 - 1) // 2)
        cv2.ellipse(mask, center, ((x1 - x0 - 1) // 2, (y1 - y0 - 1) // 2), 0, 0, 360, 1, thickness=-1)
    else:
        apex = int(rng.integers(x0, x1))
        pts = np.array([[apex, y0], [x0, y1 - 1], [x1 - 1, y1 - 1]], dtype=np.int32)
        cv2.fillPoly(mask, [pts], 1)


def _mask_to_annotation(mask: np.ndarray) -> dict | None:
    """COCO annotation of the drawn pixels ``mask`` (H, W) uint8: box, area and an RLE mask of exactly those pixels.
    (Polygons traced by ``cv2.findContours`` run through pixel centres, so pycocotools decoded them one column and
    one row short of the box and area: IoU 0.69 with its own drawn 6 x 6 square.)"""
    from pycocotools import mask as mask_util

    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return {'bbox': [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], 'area': float(mask.sum()),
            'segmentation': {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')},
            'iscrowd': 0}


def _overlaps(box: tuple[int, int, int, int], boxes: list[tuple[int, int, int, int]], gap: int = 2) -> bool:
    return any(box[0] < b[2] + gap and b[0] < box[2] + gap and box[1] < b[3] + gap and b[1] < box[3] + gap
               for b in boxes)


def _generate_split(out_dir: str, split: str, num_images: int, img_size: int, max_objects: int,
                    rng: np.random.Generator) -> dict:
    """The COCO dict of ``split`` (its PNGs written under ``out_dir/split``), drawn from ``rng`` alone; image and
    annotation ids from 1."""
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    ann_id = 1
    min_side, max_side = max(6, img_size // 8), max(8, img_size // 2)
    for image_id in range(1, num_images + 1):
        img = _background(rng, img_size)
        boxes: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            for _attempt in range(20):  # shapes never overlap, so every mask is a whole shape
                w, h = rng.integers(min_side, max_side + 1, size=2)
                x0, y0 = int(rng.integers(0, img_size - w + 1)), int(rng.integers(0, img_size - h + 1))
                box = (x0, y0, x0 + int(w), y0 + int(h))
                if not _overlaps(box, boxes):
                    break
            else:
                continue
            cat = int(rng.integers(0, len(CATEGORIES)))
            mask = np.zeros((img_size, img_size), np.uint8)
            _draw_shape(mask, cat, box, rng)
            ann = _mask_to_annotation(mask)
            if ann is None:
                continue
            boxes.append(box)
            color = rng.integers(0, 256, size=3)
            img[mask.astype(bool)] = color.astype(np.uint8)
            ann.update(id=ann_id, image_id=image_id, category_id=cat + 1)
            annotations.append(ann)
            ann_id += 1
        file_name = f'{image_id:06d}.png'
        cv2.imwrite(osp.join(img_dir, file_name), img)
        images.append({'id': image_id, 'file_name': file_name, 'width': img_size, 'height': img_size})
    coco = {'images': images, 'annotations': annotations,
            'categories': [{'id': i + 1, 'name': n, 'supercategory': 'shape'} for i, n in enumerate(CATEGORIES)]}
    return coco


def generate_coco(out_dir: str, num_train: int = 64, num_val: int = 16, img_size: int = 128,
                  max_objects: int = 4, seed: int = 0, overwrite: bool = False) -> GeneratedSet:
    """Write the data set under ``out_dir`` and return the annotation file of each split
    (:class:`~automl_mm.datasets.generated.GeneratedSet`: ``{split: path}``, with ``written`` and each split's
    ``counts`` of images and annotations).

    Layout: ``out_dir/annotations/instances_{train,val}.json`` and ``out_dir/{train,val}/*.png``. The same
    arguments always produce identical files. Each split is drawn from its own seeded stream, so the val files
    depend only on ``seed``, ``num_val``, ``img_size`` and ``max_objects`` (not on ``num_train``); image and
    annotation ids start at 1 in each file. A folder that holds this set already is left as it is, one that
    holds another is refused unless ``overwrite`` (``automl_mm.datasets.generated``: ``FileExistsError``).
    Categories: ``CATEGORIES`` (ids 1..3).

    Raises:
        ValueError: a count or size out of range, or a ``seed`` outside ``[0, 2**32)`` (split ``k`` is drawn from
            ``default_rng([seed, k])``, which is ``seed + 2**32``'s stream for ``k = 1``:
            :func:`~automl_mm.datasets.generated.check_generator_seed`), before anything is written.
        NotADirectoryError: ``out_dir`` or a parent of it is a file (before anything is written).
        FileExistsError: ``out_dir`` holds another set and ``overwrite`` is False.

    Examples:
        >>> import tempfile
        >>> files = generate_coco(tempfile.mkdtemp(), num_train=2, num_val=1, img_size=64)
        >>> sorted(files)
        ['train', 'val']
    """
    # as_count: int() used to truncate (max_objects=2.5 drew up to 3 objects but recorded 2) or a float failed deep
    # in numpy (num_train=1.5: "'float' object cannot be interpreted as an integer")
    num_train, num_val, max_objects = (as_count(value, name, 1) for name, value in (
        ('num_train', num_train), ('num_val', num_val), ('max_objects', max_objects)))
    img_size = as_count(img_size, 'img_size', 32)
    seed = check_generator_seed(seed, 'seed')  # [seed, k] streams: [0, 2**32)
    # generator_version 2: the val split of its own stream (a marker without it is a set whose val images depend on
    # num_train, refused unless overwrite rather than taken for this one)
    settings = {'generator': 'generate_coco', 'generator_version': GENERATOR_VERSION, 'num_train': int(num_train),
                'num_val': int(num_val), 'img_size': int(img_size), 'max_objects': int(max_objects),
                'seed': int(seed)}
    files = {split: osp.join(out_dir, 'annotations', f'instances_{split}.json') for split in ('train', 'val')}
    if prepare_generated_dir(out_dir, settings, ['train', 'val', 'annotations'], overwrite):
        return read_generated_set(out_dir, files)  # this set is there already
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    # each split its own stream, and its own annotation ids from 1: one generator drew train then val, so a larger
    # num_train gave another val set (seed 5, 2 val images: other images for num_train 3 and 5), and results were
    # not comparable. [seed, 0] is numpy's stream of seed itself (SeedSequence pads the entropy with zeros), so the
    # train split is the one earlier versions wrote.
    counts = {}
    for k, (split, count) in enumerate((('train', num_train), ('val', num_val))):
        coco = _generate_split(out_dir, split, count, img_size, max_objects, np.random.default_rng([seed, k]))
        with open(files[split], 'w') as f:
            json.dump(coco, f)
        counts[split] = split_counts(coco)
    mark_generated(out_dir, settings)
    return GeneratedSet(files, True, counts)
