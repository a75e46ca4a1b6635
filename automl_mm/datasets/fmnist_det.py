"""A detection / instance-segmentation set of real images: Fashion-MNIST items pasted on grey canvases.

``generate_fmnist_det`` writes ``out_dir/annotations/instances_{train,reward,val,test}.json`` (COCO format, RLE
masks) and ``out_dir/<split>/<image id:06d>.png`` (single-channel uint8 PNGs; mmdet's ``LoadImageFromFile`` reads
them as 3-channel images), which mmdet's ``CocoDataset`` and ``CocoMetric`` read unchanged.

Rules (all in pixels of the ``img_size`` x ``img_size`` canvas):

* **Sources.** The official 60k training items are split once, seeded and stratified by class
  (``splits.stratified_split``), into disjoint train / reward / val pools (``holdout_fraction`` of the items each
  for reward and val: 5,000 / 5,000 / 50,000 by default); the test split draws only from the official 10k test items.
  Each split walks a seeded permutation of its pool, so an item repeats only once its whole pool has been used.
  Every annotation records its source as ``fmnist_set`` (``'train'`` / ``'test'``: the official part) and
  ``fmnist_index`` (index into that part), and where the resized item was pasted as ``fmnist_paste_box``
  ``[x, y, w, h]`` (ints; ``item_patch(item, max(w, h), threshold)`` is the patch): extra fields that pycocotools
  and mmdet ignore.
* **Item pixels.** An item is cropped to its tight extent in the 28x28 image (pixels ``> threshold``), resized with
  cv2 (``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when enlarging) to a long side ``L`` with its aspect kept, and
  only its pixels ``> threshold`` after resizing are pasted: they are its mask. The background is black, or a
  seeded low-frequency noise texture with values in ``[0, threshold]``, so ``canvas > threshold`` is exactly the
  union of the visible masks.
* **Sizes.** Areas are COCO's absolute ranges, the ones pycocotools' ``COCOeval`` uses (no rescaling to the
  canvas): small ``area < 32**2``, medium ``32**2 <= area <= 96**2``, large ``area > 96**2``, with area = mask pixels.
  Each object draws a range with ``size_probs``, a target mask area log-uniform inside it (small from
  ``MIN_AREA``; large up to what the canvas allows), and the ``L`` giving that area. The first object of image
  ``i`` (1-based) must land in range ``(i - 1) % 3`` (small, medium, large) and keep it under occlusion (other
  items are drawn until one reaches it), so any split of >= 3 images holds all three ranges.
* **Overlap and occlusion.** Items are pasted in order, a later one over an earlier one: the earlier mask loses the
  covered pixels and its box is the tight box of what stays visible. A placement (up to ``PLACEMENT_ATTEMPTS``
  seeded positions per item, else the item is left out) is accepted only if afterwards every pair of boxes has
  IoU <= ``max_iou`` and every earlier object keeps >= ``min_visible`` of its pasted pixels (and the first object
  its area range). So no annotated object is dropped after pasting and no unannotated fragment is left.
"""
from __future__ import annotations

import json
import math
import os
import os.path as osp

import cv2
import numpy as np

from automl_mm.utils.checks import as_count
from automl_mm.utils.wording import a_name

from .content import array_digest
from .fashion_mnist import FashionMNISTDataset, find_data_root, load_fashion_mnist
from .generated import (
    GeneratedSet,
    check_generator_seed,
    check_out_dir,
    mark_generated,
    prepare_generated_dir,
    read_generated_set,
    split_counts,
)
from .splits import stratified_split

CATEGORIES = FashionMNISTDataset.METAINFO['classes']
SPLITS = ('train', 'reward', 'val', 'test')
#: COCO's area-range limits (pycocotools ``COCOeval.Params.areaRng``), in pixels of mask area.
SMALL_MAX, LARGE_MIN = 32**2, 96**2
#: Smallest target mask area of a small object.
MIN_AREA = 64
PLACEMENT_ATTEMPTS = 30
_ITEM_ATTEMPTS = 200
_RANGES = ('small', 'medium', 'large')


def area_range(area: float) -> str:
    """COCO's range of a mask area in pixels: ``'small'`` (< 32²), ``'medium'`` or ``'large'`` (> 96²).

    The limits themselves (exactly 32² or 96²) belong to two ranges in ``COCOeval``; they count as medium here.
    """
    return 'small' if area < SMALL_MAX else 'large' if area > LARGE_MIN else 'medium'


def item_patch(item: np.ndarray, long_side: int, threshold: int) -> np.ndarray | None:
    """One Fashion-MNIST item cropped to its extent and resized: the pixels that would be pasted.

    Args:
        item: (28, 28) uint8 image.
        long_side: Long side of the resized crop in pixels (>= 1); the aspect ratio is kept.
        threshold: A pixel belongs to the item when its value is ``> threshold`` (before and after resizing).

    Returns:
        (h, w) uint8 patch with ``max(h, w) == long_side``; its mask is ``patch > threshold``. ``None`` when the
        item has no pixel above ``threshold``.
    """
    ys, xs = np.nonzero(item > threshold)
    if len(ys) == 0:
        return None
    crop = item[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # cv2 sizes are (width, height)
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends, of the nonzero pixels of a non-empty 2-D mask."""
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes (exclusive ends)."""
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _noise_background(rng: np.random.Generator, size: int, level: int) -> np.ndarray:
    """A seeded low-frequency grey texture plus fine grain, values in ``[0, level]``."""
    coarse = rng.uniform(0, 1, size=(max(2, size // 16),) * 2).astype(np.float32)
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    img = 0.75 * img + 0.25 * rng.uniform(0, 1, size=(size, size)).astype(np.float32)
    return np.clip(np.rint(img * level), 0, level).astype(np.uint8)


class _ItemStream:
    """The items of one pool in seeded permutations, a fresh permutation each time the pool is used up."""

    def __init__(self, pool: np.ndarray, rng: np.random.Generator) -> None:
        self.pool, self.rng, self.order, self.pos = pool, rng, np.empty(0, np.int64), 0

    def next(self) -> int:
        if self.pos == len(self.order):
            self.order, self.pos = self.rng.permutation(self.pool), 0
        self.pos += 1
        return int(self.order[self.pos - 1])


class _Canvas:
    """The objects of one image: full-canvas masks, pasted in order, with the overlap rules of the module."""

    def __init__(self, size: int, max_iou: float, min_visible: float) -> None:
        self.size, self.max_iou, self.min_visible = size, max_iou, min_visible
        self.objects: list[dict] = []  # patch, x, y, full mask, visible mask, pixels it must keep visible

    def try_place(self, patch: np.ndarray, threshold: int, rng: np.random.Generator, keep_min: int = 0) -> bool:
        h, w = patch.shape
        for _ in range(PLACEMENT_ATTEMPTS):
            x, y = int(rng.integers(0, self.size - w + 1)), int(rng.integers(0, self.size - h + 1))
            mask = np.zeros((self.size, self.size), bool)
            mask[y:y + h, x:x + w] = patch > threshold
            visible = [o['visible'] & ~mask for o in self.objects]
            if any(v.sum() < o['keep'] for v, o in zip(visible, self.objects)):
                continue
            boxes = [tight_box(v) for v in visible] + [tight_box(mask)]
            if any(box_iou(boxes[i], boxes[j]) > self.max_iou
                   for i in range(len(boxes)) for j in range(i + 1, len(boxes))):
                continue
            for o, v in zip(self.objects, visible):
                o['visible'] = v
            area = int(mask.sum())
            self.objects.append({'patch': patch, 'x': x, 'y': y, 'mask': mask, 'visible': mask,
                                 'keep': max(1, keep_min, math.ceil(self.min_visible * area))})
            return True
        return False

    def render(self, background: np.ndarray) -> np.ndarray:
        img = background.copy()
        for o in self.objects:
            h, w = o['patch'].shape
            region = img[o['y']:o['y'] + h, o['x']:o['x'] + w]
            local = o['mask'][o['y']:o['y'] + h, o['x']:o['x'] + w]
            region[local] = o['patch'][local]
        return img


def _sized_patch(item: np.ndarray, which: str, img_size: int, threshold: int, rng: np.random.Generator,
                 strict: bool) -> np.ndarray | None:
    """A patch of ``item`` whose mask area targets COCO range ``which``; ``None`` when ``strict`` and it misses."""
    base = item_patch(item, 28, threshold)
    if base is None:
        return None
    density = float((base > threshold).sum()) / 28**2  # mask pixels per (long side)²
    if density == 0:  # nothing of the resized item passes a high threshold (250): no mask to size
        return None
    lo, hi = {'small': (MIN_AREA, SMALL_MAX), 'medium': (SMALL_MAX, LARGE_MIN),
              'large': (LARGE_MIN, max(LARGE_MIN + 1, density * img_size**2))}[which]
    target = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    patch = None
    for _ in range(4):  # the area is not exactly density * L², so correct L from the measured area
        long_side = int(np.clip(round(math.sqrt(target / density)), 4, img_size))
        patch = item_patch(item, long_side, threshold)
        area = int((patch > threshold).sum())
        if area_range(area) == which and area >= MIN_AREA:
            return patch
        if area == 0:
            break
        density = area / long_side**2
    return None if strict or patch is None or (patch > threshold).sum() < MIN_AREA else patch


def _annotation(obj: dict, label: int, part: str, index: int) -> dict:
    from pycocotools import mask as mask_util

    visible = obj['visible']
    rle = mask_util.encode(np.asfortranarray(visible.astype(np.uint8)))
    x0, y0, x1, y1 = tight_box(visible)
    return {'category_id': label + 1, 'bbox': [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
            'area': float(visible.sum()), 'iscrowd': 0,
            'segmentation': {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode('ascii')},
            'fmnist_set': part, 'fmnist_index': index,
            'fmnist_paste_box': [obj['x'], obj['y'], int(obj['patch'].shape[1]), int(obj['patch'].shape[0])]}


def _generate_split(out_dir: str, split: str, num_images: int, images: np.ndarray, labels: np.ndarray,
                    pool: np.ndarray, part: str, rng: np.random.Generator, opts: dict) -> dict:
    img_size, threshold = opts['img_size'], opts['threshold']
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    stream = _ItemStream(pool, rng)
    coco_images, annotations = [], []
    for image_id in range(1, num_images + 1):
        canvas = _Canvas(img_size, opts['max_iou'], opts['min_visible'])
        sources = []
        # The first object: a guaranteed COCO range, cycling small / medium / large over the images.
        which = _RANGES[(image_id - 1) % 3]
        for _ in range(_ITEM_ATTEMPTS):
            index = stream.next()
            patch = _sized_patch(images[index], which, img_size, threshold, rng, strict=True)
            if patch is not None:
                break
        else:
            raise RuntimeError(f'{split}: no Fashion-MNIST item of {_ITEM_ATTEMPTS} tried reaches a {which} mask '
                               f'area on {a_name(str(img_size))}-px canvas with threshold={threshold} (an item is '
                               'its pixels above it)')
        range_floor = {'small': 1, 'medium': SMALL_MAX, 'large': LARGE_MIN + 1}[which]
        canvas.try_place(patch, threshold, rng, keep_min=range_floor)  # an empty canvas always accepts
        sources.append(index)
        for _ in range(int(rng.integers(1, opts['max_objects'] + 1)) - 1):
            index = stream.next()
            which = _RANGES[int(rng.choice(3, p=opts['size_probs']))]
            patch = _sized_patch(images[index], which, img_size, threshold, rng, strict=False)
            if patch is not None and canvas.try_place(patch, threshold, rng):
                sources.append(index)
        if opts['background'] == 'noise':
            background = _noise_background(rng, img_size, threshold)
        else:
            background = np.zeros((img_size, img_size), np.uint8)
        file_name = f'{image_id:06d}.png'
        cv2.imwrite(osp.join(out_dir, split, file_name), canvas.render(background))
        coco_images.append({'id': image_id, 'file_name': file_name, 'width': img_size, 'height': img_size})
        for obj, index in zip(canvas.objects, sources):
            ann = _annotation(obj, int(labels[index]), part, index)
            ann.update(id=len(annotations) + 1, image_id=image_id)
            annotations.append(ann)
    info = {'description': f'Fashion-MNIST items pasted on {img_size}-px canvases, {split} split '
                           '(automl_mm.datasets.fmnist_det)', **opts}
    return {'info': info,
            'images': coco_images, 'annotations': annotations,
            'categories': [{'id': i + 1, 'name': n, 'supercategory': 'clothing'} for i, n in enumerate(CATEGORIES)]}


def generate_fmnist_det(out_dir: str,
                        num_train: int = 2000,
                        num_reward: int = 500,
                        num_val: int = 500,
                        num_test: int = 1000,
                        img_size: int = 160,
                        max_objects: int = 6,
                        max_iou: float = 0.3,
                        min_visible: float = 0.5,
                        threshold: int = 16,
                        background: str = 'noise',
                        size_probs: tuple[float, float, float] = (0.45, 0.45, 0.1),
                        holdout_fraction: float = 1 / 12,
                        seed: int = 0,
                        data_root: str | None = None,
                        overwrite: bool = False) -> GeneratedSet:
    """Write the Fashion-MNIST detection set under ``out_dir``; return the annotation file of each split.

    The rules (sources, masks, sizes, overlap) are in the module docstring. The same arguments give byte-identical
    json and PNG files; each split has its own seeded generator, so a split's files do not depend on the sizes of
    the other splits (only on the seed, the canvas options and ``holdout_fraction``).

    Args:
        out_dir: Output folder; ``annotations/`` and one image folder per split are created in it.
        num_train, num_reward, num_val, num_test: Images per split (>= 1 each).
        img_size: Canvas side in pixels, 128..192 (COCO's large range, > 96² mask pixels, must fit).
        max_objects: Each image holds 1..``max_objects`` items (fewer when no placement satisfies the rules).
        max_iou: Largest IoU allowed between any two boxes of an image, in [0, 1).
        min_visible: Fraction of its pasted pixels an item must keep visible under later items, in [0, 1].
        threshold: Mask threshold on 0..255 pixel values (``> threshold`` is the item); the noise background
            stays ``<= threshold``.
        background: ``'noise'`` (seeded texture in ``[0, threshold]``) or ``'black'``.
        size_probs: Probabilities of the small / medium / large range for every object but each image's first.
        holdout_fraction: Fraction of the official training items in each of the reward and val pools.
        seed: Seed of the pools and of every split, in ``[0, 2**32)`` (split ``k`` is drawn from
            ``default_rng([seed, k])``, which is ``seed + 2**32``'s stream for ``k = 1``: larger seeds are refused).
        data_root: Fashion-MNIST folder (see ``FashionMNISTDataset``); ``None`` looks in ``data/fashion-mnist``,
            then ``/usr/share/datasets/fashion-mnist``.

    Returns:
        ``{split: path of annotations/instances_<split>.json}`` for ``SPLITS``, a
        :class:`~automl_mm.datasets.generated.GeneratedSet`: ``written`` says whether this call wrote the set, and
        ``counts[split]`` gives ``'images'``, ``'annotations'`` and the objects in each COCO area range
        (``'small'``, ``'medium'``, ``'large'``), from what was written or read once from a set there already.

    Raises:
        FileNotFoundError: The Fashion-MNIST folder or one of its files is missing (the message names the path).
        ValueError: A bad argument (a seed outside ``[0, 2**32)``: ``check_generator_seed``), or an idx file that
            is not readable (the message names it).
        FileExistsError: ``out_dir`` holds another set (other arguments, one made from other Fashion-MNIST files
            than ``data_root``'s, compared by content, or files without their settings) and ``overwrite`` is False
            (``automl_mm.datasets.generated``); the same set is left as it is.
        NotADirectoryError: ``out_dir`` or a parent of it is a file (before any file is read).
        RuntimeError: No item reaches a required area range (possible only with unusual ``threshold`` or data).

    Examples:
        >>> files = generate_fmnist_det('data/fmnist_det', num_train=3, num_reward=3, num_val=3,
        ...                             num_test=3)  # doctest: +SKIP
        >>> sorted(files)  # doctest: +SKIP
        ['reward', 'test', 'train', 'val']
    """
    # as_count: a bool passed as a count, and int() truncated img_size=150.5 and threshold=16.5 without a word
    counts = {s: as_count(n, f'num_{s}', 1) for s, n in zip(SPLITS, (num_train, num_reward, num_val, num_test))}
    max_objects = as_count(max_objects, 'max_objects', 1)
    img_size, threshold = as_count(img_size, 'img_size'), as_count(threshold, 'threshold')
    if not 128 <= img_size <= 192:
        raise ValueError(f'img_size must be in 128..192, got {img_size}')
    if not 0 <= max_iou < 1 or not 0 <= min_visible <= 1:
        raise ValueError(f'max_iou must be in [0, 1) and min_visible in [0, 1], got {max_iou}, {min_visible}')
    if not 0 <= threshold < 255:
        raise ValueError(f'threshold must be in 0..254, got {threshold}')
    if background not in ('noise', 'black'):
        raise ValueError(f"background must be 'noise' or 'black', got {background!r}")
    probs = np.asarray(size_probs, dtype=np.float64)
    if probs.shape != (3, ) or (probs < 0).any() or not np.isclose(probs.sum(), 1.0):
        raise ValueError(f'size_probs must be 3 non-negative probabilities summing to 1, got {size_probs}')
    if not 0 < holdout_fraction < 0.5:
        raise ValueError(f'holdout_fraction must be in (0, 0.5), got {holdout_fraction}')

    seed = check_generator_seed(seed, 'seed')  # [seed, k] streams: [0, 2**32)
    settings = {'generator': 'generate_fmnist_det', **counts, 'img_size': int(img_size),
                'max_objects': int(max_objects), 'max_iou': float(max_iou), 'min_visible': float(min_visible),
                'threshold': int(threshold), 'background': background, 'size_probs': [float(p) for p in probs],
                'holdout_fraction': float(holdout_fraction), 'seed': int(seed)}
    check_out_dir(out_dir)  # before both Fashion-MNIST parts are read and hashed below
    # the items the set is made of, by content: a set generated from other idx files (another data_root: MNIST's,
    # a tiny test set) under the same arguments was taken for this one and kept, silently
    try:
        source = array_digest(*load_fashion_mnist(data_root, 'train'), *load_fashion_mnist(data_root, 'test'))
    except (FileNotFoundError, ValueError):
        source = None  # not known here: a set there is not compared by it (none is generated without the files)
    settings['fashion_mnist'] = source
    files = {split: osp.join(out_dir, 'annotations', f'instances_{split}.json') for split in SPLITS}
    if prepare_generated_dir(out_dir, settings, [*SPLITS, 'annotations'], overwrite, unrecorded=('fashion_mnist', )):
        return read_generated_set(out_dir, files, _split_counts)  # this set is there already
    train_images, train_labels = load_fashion_mnist(data_root, 'train')
    test_images, test_labels = load_fashion_mnist(data_root, 'test')
    pools = dict(zip(('train', 'reward', 'val'),
                     stratified_split(train_labels, (1 - 2 * holdout_fraction, holdout_fraction, holdout_fraction),
                                      seed)))
    pools['test'] = np.arange(len(test_labels))
    for split, pool in pools.items():  # named by the folder read: the tools have no holdout_fraction option
        if len(pool) == 0 and split == 'test':
            raise ValueError(f'the test pool is empty: the Fashion-MNIST folder {find_data_root(data_root)} holds no '
                             'test item (its t10k files are empty)')
        if len(pool) == 0:
            raise ValueError(f'the {split} pool is empty: the {len(train_labels)} training items of the Fashion-MNIST '
                             f'folder {find_data_root(data_root)} are too few to hold out a fraction of '
                             f'{holdout_fraction:g} (holdout_fraction) of them for each of reward and val; the full '
                             'set has 60,000')
    opts = {'img_size': int(img_size), 'max_objects': int(max_objects), 'max_iou': float(max_iou),
            'min_visible': float(min_visible), 'threshold': int(threshold), 'background': background,
            'size_probs': [float(p) for p in probs / probs.sum()], 'holdout_fraction': float(holdout_fraction),
            'seed': int(seed)}
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    written = {}
    for k, split in enumerate(SPLITS):
        images, labels, part = ((test_images, test_labels, 'test') if split == 'test' else
                                (train_images, train_labels, 'train'))
        coco = _generate_split(out_dir, split, int(counts[split]), images, labels, pools[split], part,
                               np.random.default_rng([int(seed), k]), opts)
        with open(files[split], 'w') as f:
            json.dump(coco, f)
        written[split] = _split_counts(coco)
    mark_generated(out_dir, settings)
    return GeneratedSet(files, True, written)


def area_range_counts(ann_file: str) -> dict[str, int]:
    """Number of annotations of a COCO json file in each COCO area range (``area_range``), plus ``'images'``."""
    with open(ann_file) as f:
        coco = json.load(f)
    counts = _split_counts(coco)
    del counts['annotations']
    return counts


def _split_counts(coco: dict) -> dict[str, int]:
    """``{'images', 'annotations', 'small', 'medium', 'large'}`` counts of a COCO dict."""
    counts = {**split_counts(coco), **dict.fromkeys(_RANGES, 0)}
    for ann in coco['annotations']:
        counts[area_range(ann['area'])] += 1
    return counts
