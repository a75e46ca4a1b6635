"""The photometric ops of OHL-Auto-Aug (METHODS.md §2) and RandAugment's ``Identity``: per-pixel colour ops that
reproduce PIL (``ImageOps`` / ``ImageEnhance``) bit-exactly through cv2/numpy look-up tables, and the LUT helpers
they share.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from automl_mm.registry import AUGMENT_OPS

from .op_base import BaseAugmentOp, _require_luma_channels

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



class _LutOp(BaseAugmentOp):
    """A photometric op that is one fixed LUT, ``self._table``, built by ``_setup()`` from the magnitude."""

    empty_images = True
    transform_draws = False  # transform_img draws nothing from rng

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
    empty_images = True
    transform_draws = False  # transform_img draws nothing from rng

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
    max_channels = None
    empty_images = True
    transform_draws = False  # transform_img draws nothing from rng

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
    transform_draws = False  # transform_img draws nothing from rng

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
    transform_draws = False  # transform_img draws nothing from rng

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
    empty_images = True
    transform_draws = False  # transform_img draws nothing from rng

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

    image_channels = (1, 3)

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

    image_channels = (1, 3)

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

    empty_images = False  # cv2.filter2D

    def transform_img(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        smooth = cv2.filter2D(img, -1, _SMOOTH, borderType=cv2.BORDER_REPLICATE).reshape(img.shape)
        # No ties: sum / 13 is never k + 0.5, so cv2's float filter rounds exactly like PIL's.
        smooth[[0, -1]] = img[[0, -1]]
        smooth[:, [0, -1]] = img[:, [0, -1]]
        return _blend2d(self._flat, smooth, img)
