"""The 14 augmentation ops of OHL-Auto-Aug (METHODS.md §2) and RandAugment's ``Identity``, on uint8 HWC images,
detection-aware.

Every op runs as ``op.apply(results, rng)`` on an mmcv/mmdet results dict whose ``'img'`` is uint8 ``(H, W)`` or
``(H, W, C)``, **BGR** as mmcv loads it (the two ops that need a luminance, Contrast and ColorAdjust, take
``bgr=False`` for RGB). Photometric ops reproduce PIL (``ImageOps`` / ``ImageEnhance``) bit-exactly through
cv2/numpy look-up tables. Geometric ops draw a random sign from ``rng`` and warp image, boxes and masks with one
affine matrix in continuous image coordinates (nearest interpolation, border ``fill`` = 128, AutoAugment's grey);
see :class:`GeometricAugmentOp`. Which ops at which magnitudes form the search's elements, and
``build_elements``, are in :mod:`automl_mm.augment.elements`.
"""
from __future__ import annotations

import math
import numbers

import cv2
import numpy as np

from automl_mm.registry import AUGMENT_OPS

from .annotations import _move_keypoints, _warp, _warp_boxes, _warp_masks, pixel_index_matrix

# The instance-aligned annotations that are dropped together with a box that leaves the image (the keys mmdet's
# RandomCrop drops with its boxes; gt_instances_ids: mmdet's tracking pipelines; gt_keypoints: mmcv's
# LoadAnnotations(with_keypoints=True)).
_INSTANCE_KEYS = ('gt_bboxes_labels', 'gt_ignore_flags', 'gt_masks', 'gt_instances_ids', 'gt_keypoints')
_IDENTITY = np.arange(256, dtype=np.uint8)
_IDENTITY_COLUMN = _IDENTITY[:, None]
# PIL's smoothing kernel (ImageFilter.SMOOTH), the degenerate image of ImageEnhance.Sharpness.
_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13


# PIL's 'L' = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. In float32 every product and partial sum is an exact
# multiple of 2**-16 below 256, so cv2.transform then truncation reproduces PIL exactly. Keyed by ``bgr``.
_LUMA = {bgr: np.array([[*weights, 32768]], np.float32) / 65536
         for bgr, weights in ((True, (7471, 38470, 19595)), (False, (19595, 38470, 7471)))}


def _luma(img: np.ndarray, bgr: bool) -> np.ndarray:
    """PIL's ``convert('L')`` of a 3-channel uint8 image, as an (H, W) uint8 array."""
    return cv2.transform(img.astype(np.float32), _LUMA[bgr]).astype(np.uint8).reshape(img.shape[:2])


def _blend_table(alpha: float) -> np.ndarray:
    """(256, 256) table of PIL's ``Image.blend(degenerate, img, alpha)``: row = degenerate value, column = img."""
    # PIL computes in float32 and truncates after clipping; doing the same here makes the table exact.
    deg = np.arange(256, dtype=np.float32)[:, None]
    out = deg + np.float32(alpha) * (np.arange(256, dtype=np.float32)[None, :] - deg)
    return np.clip(out, 0, 255).astype(np.uint8)


def _blend2d(table: np.ndarray, degenerate: np.ndarray, img: np.ndarray) -> np.ndarray:
    """Per-pixel blend through a flattened (65536,) :func:`_blend_table`; ``degenerate`` broadcasts to ``img``."""
    return table.take(np.left_shift(degenerate, 8, dtype=np.uint16) | img)


def _histograms(img: np.ndarray) -> np.ndarray:
    """(256, C) int64 per-channel histograms (C = 1 for a 2-D image)."""
    channels = 1 if img.ndim == 2 else img.shape[2]
    if img.size // channels < 1 << 24:  # cv2 counts in float32: exact below 2 ** 24 pixels
        hists = [cv2.calcHist([img], [c], None, [256], [0, 256]) for c in range(channels)]
        return np.column_stack(hists).astype(np.int64)
    flat = img.reshape(-1, channels)
    return np.column_stack([np.bincount(flat[:, c], minlength=256) for c in range(channels)])


def _channel_lut(img: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Apply one uint8 LUT per channel (``luts`` is (256, C), C-contiguous)."""
    return cv2.LUT(img, luts if luts.shape[1] == 1 else luts.reshape(1, 256, -1)).reshape(img.shape)


class BaseAugmentOp:
    """One augmentation element: an op with a fixed magnitude, applied to a results dict.

    Subclasses either implement ``transform_img`` (photometric ops) or subclass :class:`GeometricAugmentOp`.
    ``magnitude_range`` is the closed range of valid magnitudes, ``None`` for an op that takes none.

    Args:
        magnitude (float, optional): The op's strength, in the unit of the op. Required exactly when the op has
            a ``magnitude_range``.
        fill (int): Grey level of the pixels that geometric ops uncover. Defaults to 128, AutoAugment's grey.
        bgr (bool): Channel order of 3-channel images; only ops using a luminance (Contrast, ColorAdjust) read it.
            Defaults to True (mmcv loads BGR).

    Raises:
        ValueError: a ``magnitude`` given to an op that takes none, missing where it needs one, or not a finite
            number in its ``magnitude_range`` (Posterize: one that rounds to more than 8 bits); ``fill`` not an int
            in [0, 255]; ``bgr`` not a bool. ``apply`` raises it for an image that is not uint8 ``(H, W)`` or
            ``(H, W, C)``, and Contrast / ColorAdjust for one with neither 1 nor 3 channels.

    Examples:
        >>> op = AUGMENT_OPS.get('Posterize')(4.4)
        >>> op.name, op.apply(dict(img=np.array([[255, 17]], np.uint8)), np.random.default_rng(0))['img'].tolist()
        ('Posterize(4.4)', [[240, 16]])
    """

    geometric: bool = False
    magnitude_range: tuple[float, float] | None = (-math.inf, math.inf)

    def __init__(self, magnitude: float | None = None, fill: int = 128, *, bgr: bool = True) -> None:
        cls = type(self).__name__
        if self.magnitude_range is None:
            if magnitude is not None:
                raise ValueError(f'{cls} takes no magnitude, got magnitude={magnitude!r}')
        else:
            low, high = self.magnitude_range
            if magnitude is None:
                raise ValueError(f'{cls} needs a magnitude in [{low}, {high}], got magnitude=None')
            if (isinstance(magnitude, bool) or not isinstance(magnitude, numbers.Real)
                    or not math.isfinite(magnitude) or not low <= magnitude <= high):
                raise ValueError(f'{cls}: magnitude must be a finite number in [{low}, {high}], '
                                 f'got magnitude={magnitude!r}')
        if isinstance(fill, bool) or not isinstance(fill, numbers.Integral) or not 0 <= fill <= 255:
            raise ValueError(f'{cls}: fill must be an integer in [0, 255], got fill={fill!r}')
        if not isinstance(bgr, (bool, np.bool_)):  # bool('False') is True: the wrong channel weights, silently
            raise ValueError(f'{cls}: bgr must be True or False, got bgr={bgr!r}')
        self.magnitude = magnitude
        self.fill = int(fill)
        self.bgr = bool(bgr)
        self._setup()

    def _setup(self) -> None:
        """Precompute what does not depend on the image (LUTs); may raise ValueError on a bad magnitude."""

    @property
    def name(self) -> str:
        """The element's name: class name and magnitude, e.g. ``'Rotate(20)'``, or the bare class name."""
        cls = type(self).__name__
        return cls if self.magnitude is None else f'{cls}({self.magnitude:g})'

    def _repr_fields(self) -> list[str]:
        return [] if self.magnitude_range is None else ['magnitude']

    def __repr__(self) -> str:
        args = ', '.join(f'{key}={getattr(self, key)!r}' for key in self._repr_fields())
        return f'{type(self).__name__}({args})'

    def apply(self, results: dict, rng: np.random.Generator) -> dict:
        """Transform ``results`` (an mmcv results dict with a uint8 ``'img'``) in place and return it; ``rng``
        draws the op's randomness (the sign of geometric ops)."""
        results['img'] = self.transform_img(_check_img(results, self), rng)
        return results

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return the transformed image (a new array of the same shape and dtype)."""
        raise NotImplementedError(f'{type(self).__name__} must implement transform_img or override apply')


def _check_img(results: dict, op: BaseAugmentOp) -> np.ndarray:
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        desc = f'{img.dtype} array of shape {img.shape}' if isinstance(img, np.ndarray) else type(img).__name__
        hint = ''
        if isinstance(img, np.ndarray) and img.dtype.kind == 'f':  # mmcv/mmdet transforms that make it float
            hint = ('; put the augmentation transform (OHLAutoAugment, FixedAutoAugment) before the transforms '
                    'that make the image float (mmdet PhotoMetricDistortion, Normalize, '
                    'LoadImageFromFile(to_float32=True))')
        raise ValueError(f"{op.name}: results['img'] must be a uint8 (H, W) or (H, W, C) array, got {desc}{hint}")
    return img


def _require_luma_channels(op: BaseAugmentOp, img: np.ndarray) -> int:
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels not in (1, 3):
        raise ValueError(f'{type(op).__name__} needs a 1- or 3-channel image, got shape {img.shape}')
    return channels


# --- geometric ops ----------------------------------------------------------------------------------------------
class GeometricAugmentOp(BaseAugmentOp):
    """Base of the affine ops: subclasses give the forward 2x3 matrix for a random sign.

    **Coordinates.** ``affine_matrix`` is in *continuous* image coordinates, those of mmdet boxes, polygons and
    ``homography_matrix``: pixel (column i, row j) covers [i, i + 1) x [j, j + 1), its centre is (i + 0.5, j + 0.5),
    and the image spans [0, W] x [0, H]. Boxes, polygons and the homography use that matrix as it is; the image,
    bitmap masks and segmentation maps are warped by its pixel-index form ``T(-0.5) @ M @ T(+0.5)`` (cv2 samples at
    integer pixel indices), so content and annotations move together: a translation by an integer number of
    pixels moves both by it, and a 180-degree rotation, or a 90-degree one of an image whose W - H is even, maps a
    box onto the tight box of its rotated mask exactly. When W - H is odd, a quarter turn about the image centre
    puts the pixel centres on half-pixel positions: nearest sampling then moves the content by half a pixel from
    the box on each side (an 11 x 14 image: box [5.5, 5.5, 10.5, 9.5], mask's tight box [5, 6, 10, 10]).

    The image is warped by one ``cv2.warpAffine`` with **nearest** interpolation (as AutoAugment and torchvision's
    AutoAugment: no new pixel values) and border ``fill``, keeping its size. ``gt_bboxes`` (mmdet
    ``HorizontalBoxes`` or an (N, 4) xyxy array) become the enclosing boxes of the parts of their moved rectangles
    inside the image (:func:`~automl_mm.augment.annotations.clip_polygon`; mmdet's transforms clamp the moved
    corners instead, a looser box when a rotated or sheared box crosses the border); boxes narrower or lower than
    1 px are dropped with their ``gt_bboxes_labels``, ``gt_ignore_flags``, ``gt_masks``, ``gt_instances_ids``
    and ``gt_keypoints``.
    ``gt_masks`` (BitmapMasks: nearest, border 0; PolygonMasks: moved points, each polygon clipped to the image,
    a zero-area placeholder when none of it is left, as mmdet's crop does) and ``gt_seg_map`` (nearest, border
    255) follow, keeping their dtype; ``gt_keypoints`` ((N, K, 3) x, y, visibility, as mmcv loads them) move by
    the matrix, and one that leaves the image is made invisible (visibility 0) and clamped to it, as mmcv's
    ``CenterCrop`` does; ``homography_matrix`` records the op's matrix (composed with an existing one, created
    when absent, as mmdet's geometric transforms do).
    """

    geometric = True
    magnitude_range = (0.0, math.inf)

    def _repr_fields(self) -> list[str]:
        return super()._repr_fields() + ['fill']

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        """The forward (2, 3) float64 matrix mapping an input point (x, y) to its output point, in continuous
        image coordinates (see the class docstring), for sign +1 or -1."""
        raise NotImplementedError

    def apply(self, results: dict, rng: np.random.Generator) -> dict:
        img = _check_img(results, self)
        height, width = img.shape[:2]
        matrix = self.affine_matrix(height, width, 1.0 if rng.random() < 0.5 else -1.0)
        pixel_matrix = pixel_index_matrix(matrix)
        results['img'] = _warp(img, pixel_matrix, (self.fill, ) * 4)
        if results.get('gt_bboxes') is not None:
            boxes, keep = _warp_boxes(results['gt_bboxes'], matrix, height, width)
            results['gt_bboxes'] = boxes
            if not keep.all():
                for key in _INSTANCE_KEYS:
                    if results.get(key) is not None:
                        results[key] = results[key][keep]
        if results.get('gt_masks') is not None:
            results['gt_masks'] = _warp_masks(results['gt_masks'], matrix, pixel_matrix, height, width)
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = _warp(results['gt_seg_map'], pixel_matrix, (255, ) * 4)
        if results.get('gt_keypoints') is not None:
            results['gt_keypoints'] = _move_keypoints(results['gt_keypoints'], matrix, height, width)
        homography = np.vstack([matrix, [0, 0, 1]]).astype(np.float32)
        # as mmdet's geometric transforms: created when absent, else composed (a later flip composes with ours)
        results['homography_matrix'] = homography if results.get('homography_matrix') is None else \
            homography @ results['homography_matrix']
        return results


@AUGMENT_OPS.register_module()
class HorizontalShear(GeometricAugmentOp):
    """Shear along x about the image's top-left corner (as AutoAugment with PIL): x' = x ± magnitude * y.

    Examples:
        >>> HorizontalShear(0.3).affine_matrix(height=8, width=8, sign=-1.0).tolist()
        [[1.0, -0.3, 0.0], [0.0, 1.0, 0.0]]
    """

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, sign * self.magnitude, 0], [0, 1, 0]], np.float64)


@AUGMENT_OPS.register_module()
class VerticalShear(GeometricAugmentOp):
    """Shear along y about the image's top-left corner (as AutoAugment with PIL): y' = y ± magnitude * x.

    Examples:
        >>> VerticalShear(0.3).affine_matrix(height=8, width=8, sign=1.0).tolist()
        [[1.0, 0.0, 0.0], [0.3, 1.0, 0.0]]
    """

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, 0, 0], [sign * self.magnitude, 1, 0]], np.float64)


def translate_pixels(magnitude: float, size: int) -> int:
    """The whole-pixel shift of a translation by ``magnitude`` (a fraction of ``size`` pixels): magnitude * size
    rounded half up. A fractional shift would make nearest sampling drop or repeat columns (at x.5 every other
    one) and move boxes by a different amount than the content.

    Examples:
        >>> [translate_pixels(m, 28) for m in (0.15, 0.3, 0.45)]
        [4, 8, 13]
    """
    return int(math.floor(magnitude * size + 0.5))


@AUGMENT_OPS.register_module()
class HorizontalTranslate(GeometricAugmentOp):
    """Shift along x by ± round(magnitude * width) whole pixels (magnitude: fraction of the width, in [0, 1];
    rounded half up, see :func:`translate_pixels`), so the content keeps every column and boxes move with it.

    Examples:
        >>> HorizontalTranslate(0.15).affine_matrix(height=8, width=10, sign=-1.0).tolist()  # 1.5 px -> 2 px
        [[1.0, 0.0, -2.0], [0.0, 1.0, 0.0]]
    """

    magnitude_range = (0.0, 1.0)

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, 0, sign * translate_pixels(self.magnitude, width)], [0, 1, 0]], np.float64)


@AUGMENT_OPS.register_module()
class VerticalTranslate(GeometricAugmentOp):
    """Shift along y by ± round(magnitude * height) whole pixels (magnitude: fraction of the height, in [0, 1];
    rounded half up, see :func:`translate_pixels`).

    Examples:
        >>> out = VerticalTranslate(0.5).apply(dict(img=np.zeros((8, 8), np.uint8)), np.random.default_rng(0))
        >>> sorted(np.unique(out['img']).tolist())  # half the rows are uncovered and filled with grey
        [0, 128]
    """

    magnitude_range = (0.0, 1.0)

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return np.array([[1, 0, 0], [0, 1, sign * translate_pixels(self.magnitude, height)]], np.float64)


@AUGMENT_OPS.register_module()
class Rotate(GeometricAugmentOp):
    """Rotate by ± magnitude degrees (+: counter-clockwise on screen, as cv2) about the image centre
    (W / 2, H / 2) in continuous coordinates, i.e. about pixel index ((W - 1) / 2, (H - 1) / 2).

    Examples:
        >>> (Rotate(90).affine_matrix(height=5, width=5, sign=1.0).round(6) + 0.0).tolist()
        [[0.0, 1.0, 0.0], [-1.0, 0.0, 5.0]]
    """

    magnitude_range = (0.0, 180.0)

    def affine_matrix(self, height: int, width: int, sign: float) -> np.ndarray:
        return cv2.getRotationMatrix2D((width * 0.5, height * 0.5), sign * self.magnitude, 1.0)


# --- photometric ops: PIL semantics ----------------------------------------------------------------------------
class _LutOp(BaseAugmentOp):
    """A photometric op that is one fixed LUT, ``self._table``, built by ``_setup()`` from the magnitude."""

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return cv2.LUT(img, self._table).reshape(img.shape)


@AUGMENT_OPS.register_module()
class Posterize(_LutOp):
    """Keep the top ``bits`` bits of every channel, as ``PIL.ImageOps.posterize``.

    Fractional magnitudes are rounded half up: ``bits = floor(magnitude + 0.5)``, so 4.4 → 4, 5.6 → 6, 6.8 → 7
    (Python's ``round`` would round 4.5 to 4). Valid magnitudes are in [0.5, 8.5).

    Examples:
        >>> op = Posterize(5.6)
        >>> op.bits, int(op.apply(dict(img=np.full((2, 2), 255, np.uint8)), None)['img'][0, 0])
        (6, 252)
    """

    magnitude_range = (0.5, 8.5)

    def _setup(self) -> None:
        self.bits = int(math.floor(self.magnitude + 0.5))
        if self.bits > 8:
            raise ValueError(f'Posterize: magnitude must round to 1 ... 8 bits, got magnitude={self.magnitude!r}')
        self._table = _IDENTITY & np.uint8((0xFF << (8 - self.bits)) & 0xFF)


@AUGMENT_OPS.register_module()
class Solarize(_LutOp):
    """Invert every channel value >= magnitude (threshold), as ``PIL.ImageOps.solarize``.

    Examples:
        >>> Solarize(26).apply(dict(img=np.array([[25, 26]], np.uint8)), None)['img'].tolist()
        [[25, 229]]
    """

    magnitude_range = (0.0, 256.0)

    def _setup(self) -> None:
        self._table = np.where(_IDENTITY < self.magnitude, _IDENTITY, 255 - _IDENTITY).astype(np.uint8)


class _BlendOp(BaseAugmentOp):
    """A ``PIL.ImageEnhance`` op: ``Image.blend(degenerate, img, magnitude)`` through an exact blend table."""

    magnitude_range = (0.0, math.inf)

    def _setup(self) -> None:
        self._table = _blend_table(self.magnitude)
        self._flat = self._table.reshape(-1)


@AUGMENT_OPS.register_module()
class Brightness(_BlendOp):
    """Scale brightness by the factor ``magnitude``, as ``PIL.ImageEnhance.Brightness`` (blend with black).

    Examples:
        >>> Brightness(1.3).apply(dict(img=np.array([[100, 200]], np.uint8)), None)['img'].tolist()
        [[130, 255]]
    """

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return cv2.LUT(img, self._table[0]).reshape(img.shape)


@AUGMENT_OPS.register_module()
class Identity(BaseAugmentOp):
    """Leave the image unchanged (RandAugment's ``Identity``): lets a pair apply one operation or none.
    Takes no magnitude.

    Examples:
        >>> Identity().apply(dict(img=np.array([[0, 200]], np.uint8)), None)['img'].tolist()
        [[0, 200]]
    """

    magnitude_range = None

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return img.copy()


@AUGMENT_OPS.register_module()
class Invert(BaseAugmentOp):
    """Invert every channel (255 - value), as ``PIL.ImageOps.invert``. Takes no magnitude.

    Examples:
        >>> Invert().apply(dict(img=np.array([[0, 200]], np.uint8)), None)['img'].tolist()
        [[255, 55]]
    """

    magnitude_range = None

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return cv2.bitwise_not(img).reshape(img.shape)


@AUGMENT_OPS.register_module()
class AutoContrast(BaseAugmentOp):
    """Stretch each channel so its darkest value maps to 0 and its brightest to 255, as
    ``PIL.ImageOps.autocontrast`` (no cutoff); a constant channel is left unchanged. Takes no magnitude.

    Examples:
        >>> AutoContrast().apply(dict(img=np.array([[100, 110, 120]], np.uint8)), None)['img'].tolist()
        [[0, 127, 255]]
    """

    magnitude_range = None

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        channels = [img] if img.ndim == 2 or img.shape[2] == 1 else cv2.split(img)
        low, high = np.array([cv2.minMaxLoc(channel)[:2] for channel in channels]).T
        scale = 255.0 / np.maximum(high - low, 1)  # float64, in PIL's order: int(ix * scale + offset)
        luts = np.clip(_IDENTITY_COLUMN * scale + (-low * scale), 0, 255).astype(np.uint8)
        if (high <= low).any():
            luts[:, high <= low] = _IDENTITY_COLUMN
        return _channel_lut(img, luts)


@AUGMENT_OPS.register_module()
class Equalize(BaseAugmentOp):
    """Equalize each channel's histogram, as ``PIL.ImageOps.equalize``. Takes no magnitude.

    Examples:
        >>> img = np.repeat(np.array([0, 64, 128, 192], np.uint8), 256).reshape(32, 32)
        >>> np.unique(Equalize().apply(dict(img=img), None)['img']).tolist()
        [0, 85, 171, 255]
    """

    magnitude_range = None

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        hists = _histograms(img)
        columns = range(hists.shape[1])
        last = 255 - (hists[::-1] > 0).argmax(0)  # PIL: step = (count - count of the last used value) // 255
        step = (img.size // hists.shape[1] - hists[last, columns]) // 255
        # PIL's lut[i] = (step // 2 + pixels below i) // step; a float64 quotient of integers below 2 ** 45 never
        # rounds up across an integer, so truncating it is exact (and much faster than integer division).
        luts = np.minimum((step // 2 + (hists.cumsum(0) - hists)) / np.maximum(step, 1), 255).astype(np.uint8)
        if not step.all():  # also covers a single used value
            luts[:, step == 0] = _IDENTITY_COLUMN
        return _channel_lut(img, luts)


@AUGMENT_OPS.register_module()
class Contrast(_BlendOp):
    """Scale contrast by the factor ``magnitude`` around the mean grey level, as ``PIL.ImageEnhance.Contrast``
    (the mean of PIL's 'L' image, ITU-R 601-2 luma, which needs the channel order ``bgr``; rounded half up).

    Examples:
        >>> Contrast(1.3).apply(dict(img=np.array([[100, 200]], np.uint8)), None)['img'].tolist()
        [[85, 215]]
    """

    def _repr_fields(self) -> list[str]:
        return super()._repr_fields() + ['bgr']

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        grey = img if _require_luma_channels(self, img) == 1 else _luma(img, self.bgr)
        mean = int(int(cv2.sumElems(grey)[0]) / max(grey.size, 1) + 0.5)
        return cv2.LUT(img, self._table[mean]).reshape(img.shape)


@AUGMENT_OPS.register_module()
class ColorAdjust(_BlendOp):
    """Scale saturation by the factor ``magnitude``, as ``PIL.ImageEnhance.Color``: blend with PIL's 'L' image
    (needs the channel order ``bgr``). A one-channel image is returned unchanged, as PIL does for an 'L' image.

    Examples:
        >>> ColorAdjust(0.3).apply(dict(img=np.array([[[0, 0, 255]]], np.uint8)), None)['img'].tolist()
        [[[53, 53, 129]]]
    """

    def _repr_fields(self) -> list[str]:
        return super()._repr_fields() + ['bgr']

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if _require_luma_channels(self, img) == 1:
            return img.copy()
        return _blend2d(self._flat, _luma(img, self.bgr)[..., None], img)


@AUGMENT_OPS.register_module()
class Sharpness(_BlendOp):
    """Sharpen by the factor ``magnitude``, as ``PIL.ImageEnhance.Sharpness``: blend with PIL's 3x3 smoothing
    (kernel [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, rounded; border pixels are left unchanged, as PIL does).

    Examples:
        >>> img = np.zeros((3, 3), np.uint8)
        >>> img[1, 1] = 100
        >>> int(Sharpness(1.9).apply(dict(img=img), None)['img'][1, 1])
        155
    """

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        smooth = cv2.filter2D(img, -1, _SMOOTH, borderType=cv2.BORDER_REPLICATE).reshape(img.shape)
        # No ties: sum / 13 is never k + 0.5, so cv2's float filter rounds exactly like PIL's.
        smooth[[0, -1]] = img[[0, -1]]
        smooth[:, [0, -1]] = img[:, [0, -1]]
        return _blend2d(self._flat, smooth, img)
