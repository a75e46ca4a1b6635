"""Classification pipeline transforms on uint8 HWC images (mmcv ``BaseTransform`` contract)."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from automl_mm.augment.op_base import second_image_keys
from automl_mm.registry import TRANSFORMS
from automl_mm.utils.checks import as_count


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """Pack an image and its label into ``inputs`` (CHW uint8 tensor) and ``data_samples``.

    The data sample holds ``gt_label`` (a 1-element int64 tensor) and, as metainfo, every key of
    ``meta_keys`` present in the results (e.g. an augmentation choice index written by a transform). ``inputs``
    keeps the image's dtype; an ``(H, W)`` image becomes ``(1, H, W)``.

    Args:
        meta_keys: Results keys copied into the data sample's metainfo when present.

    Raises:
        ValueError: a sample that still holds a second image (mmseg's change-detection ``img2``, a key of mmcv 1.x's
            ``img_fields``: :func:`~automl_mm.augment.op_base.second_image_keys`), naming its key: only ``img`` is
            packed, and the other image reached no model, silently. Stack the pair into ``img`` first (mmseg's
            ``ConcatCDInput``), or leave the second image out of the pipeline.
    """

    def __init__(self, meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                                                    'ohl_choice')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        keys = second_image_keys(results, type(self).__name__)  # returns at once without img2 / img_fields
        if keys:
            raise ValueError(
                f"{type(self).__name__} packs results['img'] only, but the sample holds results['{keys[0]}'] (a "
                "second image: mmseg's change-detection img2, a key of img_fields), which no model would see. "
                "Stack the images into results['img'] before packing (mmseg's ConcatCDInput), or leave the "
                'second image out of the pipeline')
        if img.ndim == 2:
            img = img[:, :, None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if 'gt_label' in results:
            sample.gt_label = torch.as_tensor([results['gt_label']], dtype=torch.int64)
        return {'inputs': inputs, 'data_samples': sample}

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


#: Results keys that hold positions in the image (mmdet's / mmcv's ``LoadAnnotations``; mmseg's ``gt_edge_map`` and
#: ``gt_depth_map``, which its ``PackSegInputs`` packs), which a transform moving or resizing only the image leaves
#: describing other pixels; with them, every key mmseg lists in ``results['seg_fields']``.
PIXEL_ANNOTATION_KEYS = ('gt_bboxes', 'gt_masks', 'gt_seg_map', 'gt_keypoints', 'gt_edge_map', 'gt_depth_map')

#: Paths that a later loader reads annotations from, in the image's original coordinates (mmdet's / mmseg's
#: ``LoadAnnotations``: ``seg_map_path``; mmseg's ``LoadDepthAnnotation``: ``depth_map_path``).
PIXEL_ANNOTATION_PATHS = ('seg_map_path', 'depth_map_path')

#: The annotations mmdet's geometric transforms move (of the per-pixel maps, ``gt_seg_map`` only); the others that
#: :func:`refuse_pixel_annotations` names are mmseg's maps, which mmdet's transforms leave behind.
_MMDET_MOVES = ('gt_bboxes', 'gt_masks', 'gt_seg_map', 'gt_keypoints', 'instances (with a bbox)', 'seg_map_path')


def refuse_pixel_annotations(results: dict, owner: str, instead: str, seg_instead: str) -> None:
    """Refuse a sample whose annotations a classification transform would leave behind: one that holds any of
    :data:`PIXEL_ANNOTATION_KEYS` or of the keys mmseg lists in ``results['seg_fields']``, or annotations that a
    later loader would load in the image's original coordinates (a data set's ``instances`` with a ``bbox``, one
    of :data:`PIXEL_ANNOTATION_PATHS`).

    Args:
        results (dict): The sample.
        owner (str): The transform, named in the message.
        instead (str): What moves the annotations too (mmdet's transform), named in the message.
        seg_instead (str): What moves mmseg's maps too (every map in ``seg_fields``), named in the message when
            the results hold any of them (mmdet's transforms move ``gt_seg_map`` only).

    Raises:
        ValueError: naming ``owner``, the keys and ``instead`` (and ``seg_instead`` for mmseg's maps).
    """
    fields = results.get('seg_fields')
    fields = fields if isinstance(fields, (list, tuple)) else ()
    listed = [key for key in fields if isinstance(key, str) and key != 'img']
    held = [key for key in dict.fromkeys((*PIXEL_ANNOTATION_KEYS, *listed)) if results.get(key) is not None]
    instances = results.get('instances')
    if isinstance(instances, (list, tuple)) and any(isinstance(i, dict) and 'bbox' in i for i in instances):
        held.append('instances (with a bbox)')
    held += [path for path in PIXEL_ANNOTATION_PATHS if results.get(path) is not None]
    if held:
        seg_held = [key for key in held if key not in _MMDET_MOVES]
        seg = ''
        if seg_held:
            seg = (f"; for mmseg's maps ({', '.join(seg_held)}) use {seg_instead} (what moves every map in "
                   "results['seg_fields']; mmdet's transforms move gt_seg_map only)")
            if 'gt_edge_map' in seg_held:
                seg += ", and mmseg's GenerateEdge after that (it makes gt_edge_map from gt_seg_map)"
        raise ValueError(f'{owner} moves or resizes the image only, but the results hold {", ".join(held)}: they '
                         f'would then describe other pixels. It is a classification transform; in a detection or '
                         f'segmentation pipeline use {instead}{seg}')


def second_images(results: dict, img: np.ndarray, owner: str) -> list[str]:
    """The keys of the sample's second images, which a classification transform that crops, pads or resizes
    ``img`` gives the same crop, padding or resize: mmseg's change-detection ``img2`` and the keys of mmcv 1.x's
    ``img_fields`` (:func:`automl_mm.augment.op_base.second_image_keys`: present, not None, and given back by an
    enclosing mmcv ``KeyMapper`` / ``TransformBroadcaster``). Left as they were, an unlabelled pair (pretraining on
    change-detection pairs) no longer lined up, or was of another size, silently.

    Args:
        results (dict): The sample.
        img (np.ndarray): Its ``'img'``, (H, W[, C]).
        owner (str): The transform, named in the errors.

    Returns:
        list[str]: Keys of (H, W) or (H, W, C) numpy arrays of the image's height and width.

    Raises:
        ValueError: ``img_fields`` that is not a list of keys; a second image that is not an (H, W) or (H, W, C)
            array, or not of the image's height and width (the two would not line up after one crop box), naming
            its key.
    """
    keys = second_image_keys(results, owner)
    for key in keys:
        value = results[key]
        if not isinstance(value, np.ndarray) or value.ndim not in (2, 3):
            desc = f'an array of shape {value.shape}' if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"{owner}: results['{key}'] (a second image of the sample, moved as results['img'] is) "
                             f'must be an (H, W) or (H, W, C) array, got {desc}')
        if value.shape[:2] != img.shape[:2]:
            raise ValueError(f"{owner}: results['{key}'] is {value.shape[0]} x {value.shape[1]} but the image is "
                             f"{img.shape[0]} x {img.shape[1]}: {owner} crops and resizes both alike in the image's "
                             'pixel frame, so the two images would no longer line up. Put it before the transform '
                             'that changed one of them')
    return keys


def _check_range(values: object, key: str, high: float = math.inf) -> tuple[float, float]:
    """A range ``(low, high)`` with 0 < low <= high <= ``high`` (ValueError naming ``key`` otherwise)."""
    try:
        low_v, high_v = (float(v) for v in values)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f'{key} must be two numbers (low, high), got {values!r}') from None
    if not (0 < low_v <= high_v <= high):
        bound = '' if high == math.inf else f' <= {high:g}'
        raise ValueError(f'{key} must satisfy 0 < low <= high{bound}, got {values!r}')
    return low_v, high_v


def _resize(img: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """``cv2.resize`` to ``size`` = (width, height) keeping the layout: cv2 returns an (H, W, 1) image as (H, W),
    which then left the transform in another layout than it came in (a grey (H, W) image stays (H, W))."""
    return cv2.resize(img, size, interpolation=interpolation).reshape(size[1], size[0], *img.shape[2:])


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Pad by ``padding`` pixels of value ``pad_val`` on every side, then crop ``crop_size`` at a random position.

    The standard CIFAR augmentation (pad 4, crop 32). Sets ``img`` to ``(crop_h, crop_w[, C])`` and ``img_shape``
    to ``(crop_h, crop_w)``; the position is drawn from numpy's global generator (seeded per worker by mmengine).
    A second image of the sample (:func:`second_images`: mmseg's ``img2``, the keys of ``img_fields``) gets the same
    padding and crop.

    Args:
        crop_size: ``crop`` (a square) or ``(crop_h, crop_w)``, in pixels, each >= 1.
        padding: Pixels added on every side before cropping, >= 0.
        pad_val: Grey level of the padding in every channel, an int in [0, 255] (the images are uint8).

    Raises:
        ValueError: at construction, a ``crop_size``, ``padding`` or ``pad_val`` outside the ranges above; in
            ``transform``, a ``crop_size`` larger than the padded image, or a sample with boxes, masks, a
            per-pixel map (segmentation, edge, depth, any of mmseg's seg_fields) or keypoints
            (:func:`refuse_pixel_annotations`: the crop would not move them), a second image that cannot follow
            (:func:`second_images`: not an array, another size), naming the key.
    """

    def __init__(self, crop_size: int | Sequence[int], padding: int = 0, pad_val: int = 0) -> None:
        sizes = (crop_size, crop_size) if not isinstance(crop_size, Sequence) else tuple(crop_size)
        if len(sizes) != 2:
            raise ValueError(f'crop_size must be an int or (height, width), got {crop_size!r}')
        self.crop_size = tuple(as_count(s, 'RandomCrop.crop_size', 1) for s in sizes)
        self.padding = as_count(padding, 'RandomCrop.padding')  # 2.5 pixels was read as 2
        if isinstance(pad_val, bool) or not isinstance(pad_val, numbers.Integral) or not 0 <= pad_val <= 255:
            # None or 'x' failed in cv2 at the first image; -1 or 300 were saturated to 0 / 255 silently
            raise ValueError(f'RandomCrop.pad_val must be an int in [0, 255], got {pad_val!r}')
        self.pad_val = int(pad_val)

    def transform(self, results: dict) -> dict:
        refuse_pixel_annotations(results, 'RandomCrop', "mmdet's RandomCrop", "mmseg's RandomCrop")
        keys = ['img', *second_images(results, results['img'], 'RandomCrop')]
        h, w = results['img'].shape[:2]
        p = self.padding
        ch, cw = self.crop_size
        if ch > h + 2 * p or cw > w + 2 * p:
            raise ValueError(f'crop_size {self.crop_size} is larger than the padded image {(h + 2 * p, w + 2 * p)}')
        y = np.random.randint(0, h + 2 * p - ch + 1)
        x = np.random.randint(0, w + 2 * p - cw + 1)
        for key in keys:  # the image and its second images: one padding, one crop box
            img = results[key]
            if p:
                # every channel; cv2 drops the axis of an (H, W, 1) image: restored, an (H, W) one stays (H, W)
                img = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT, value=(self.pad_val,) * 4) \
                    .reshape(h + 2 * p, w + 2 * p, *img.shape[2:])
            results[key] = img[y:y + ch, x:x + cw]
        results['img_shape'] = (ch, cw)
        return results


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area/aspect-ratio region and resize it to ``scale`` (the ImageNet training crop).

    As torchvision's ``RandomResizedCrop`` (``get_params``) and mmpretrain's: the area fraction is uniform in
    ``crop_ratio_range``, the aspect ratio (width / height) log-uniform in ``aspect_ratio_range``, up to
    ``max_attempts`` draws; when no draw fits, the whole image centrally cropped to the nearest aspect ratio in the
    range (an ``(H, W)`` image of ratio ``W / H`` below the range keeps its width and gets height
    ``round(W / low)``, above it keeps its height and gets width ``round(H * high)``; within it, the whole image).
    It was the central square of side ``min(H, W)``, of ratio 1 even where the range excludes 1: a 200 x 400 image
    with ratios (2.5, 3) gave 200 x 200 where torchvision gives 160 x 400. Bilinear resize; sets ``img`` to
    ``(scale, scale[, C])`` and ``img_shape`` to ``(scale, scale)``. Draws from numpy's global generator. A second
    image of the sample (:func:`second_images`) gets the same box and resize.

    Args:
        scale: Output side in pixels, an int >= 1.
        crop_ratio_range: ``(low, high)`` fraction of the image area, ``0 < low <= high <= 1``.
        aspect_ratio_range: ``(low, high)`` width / height, ``0 < low <= high``.
        max_attempts: Draws before the fallback, an int >= 1.

    Raises:
        ValueError: a value outside the ranges above; in ``transform``, a sample with boxes, masks, a per-pixel map
            (segmentation, edge, depth, any of mmseg's seg_fields) or keypoints (:func:`refuse_pixel_annotations`),
            a second image that cannot follow (:func:`second_images`), naming the key.
    """

    def __init__(self, scale: int, crop_ratio_range: tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: tuple[float, float] = (3. / 4., 4. / 3.), max_attempts: int = 10) -> None:
        self.scale = as_count(scale, 'RandomResizedCrop.scale', 1)
        self.crop_ratio_range = _check_range(crop_ratio_range, 'crop_ratio_range', high=1.0)
        self.aspect_ratio_range = _check_range(aspect_ratio_range, 'aspect_ratio_range')
        self.log_aspect = tuple(math.log(r) for r in self.aspect_ratio_range)
        self.max_attempts = as_count(max_attempts, 'RandomResizedCrop.max_attempts', 1)

    def _crop_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        area = h * w
        for _ in range(self.max_attempts):
            target = area * np.random.uniform(*self.crop_ratio_range)
            ratio = math.exp(np.random.uniform(*self.log_aspect))
            cw = int(round(math.sqrt(target * ratio)))
            ch = int(round(math.sqrt(target / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                return np.random.randint(0, h - ch + 1), np.random.randint(0, w - cw + 1), ch, cw
        # torchvision's fallback: the whole image, centrally cropped to the nearest aspect ratio in the range
        low, high = self.aspect_ratio_range
        ch, cw = h, w
        if w / h < low:
            ch = max(1, int(round(w / low)))  # at least one row (torchvision: an empty crop)
        elif w / h > high:
            cw = max(1, int(round(h * high)))
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, results: dict) -> dict:
        refuse_pixel_annotations(results, 'RandomResizedCrop', "mmdet's RandomResize and RandomCrop",
                                 "RandomResize (of mmseg's Resize) and mmseg's RandomCrop")
        img = results['img']
        keys = ['img', *second_images(results, img, 'RandomResizedCrop')]
        y, x, ch, cw = self._crop_box(*img.shape[:2])
        for key in keys:  # the image and its second images: one box
            results[key] = _resize(results[key][y:y + ch, x:x + cw], (self.scale, self.scale), cv2.INTER_LINEAR)
        results['img_shape'] = (self.scale, self.scale)
        return results


@TRANSFORMS.register_module()
class ResizeShortEdge(BaseTransform):
    """Resize so that the shorter side equals ``size``, keeping the aspect ratio (ImageNet evaluation).

    The longer side becomes ``floor(long * size / short)`` pixels, as torchvision's ``Resize(size)`` and
    mmpretrain's ``ResizeEdge`` give it (rounded to nearest, a 427 x 640 image at ``size=256`` came out 256 x 384
    where torchvision's ImageNet evaluation resize gives 256 x 383); ``img_shape`` is set to the new ``(h, w)``.
    A second image of the sample (:func:`second_images`) is resized to the same size.

    Args:
        size: The shorter side after resizing, in pixels, an int >= 1.
        interpolation: ``'bilinear'``, ``'bicubic'`` or ``'area'`` (cv2's).

    Raises:
        ValueError: ``size`` not an int >= 1, or an unknown ``interpolation``; in ``transform``, a sample with
            boxes, masks, a per-pixel map (segmentation, edge, depth, any of mmseg's seg_fields) or keypoints
            (:func:`refuse_pixel_annotations`), a second image that cannot follow (:func:`second_images`), naming
            the key.
    """

    def __init__(self, size: int, interpolation: str = 'bilinear') -> None:
        interps = {'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA}
        if interpolation not in interps:
            raise ValueError(f'interpolation must be one of {sorted(interps)}, got {interpolation!r}')
        self.size = as_count(size, 'ResizeShortEdge.size', 1)
        self.interpolation = interps[interpolation]

    def transform(self, results: dict) -> dict:
        refuse_pixel_annotations(results, 'ResizeShortEdge', "mmdet's Resize (keep_ratio=True)",
                                 "mmseg's Resize (keep_ratio=True)")
        img = results['img']
        h, w = img.shape[:2]
        short, long = min(h, w), max(h, w)
        new_long = self.size * long // short  # exact integer floor (>= size): torchvision's int(size * long / short)
        new_h, new_w = (self.size, new_long) if h <= w else (new_long, self.size)
        for key in ('img', *second_images(results, img, 'ResizeShortEdge')):  # its second images to the same size
            results[key] = _resize(results[key], (new_w, new_h), self.interpolation)
        results['img_shape'] = (new_h, new_w)
        return results
