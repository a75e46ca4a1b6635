"""The base of every augmentation op of :mod:`automl_mm.augment.ops` (:class:`BaseAugmentOp`: magnitude checks,
name, ``apply`` on an mmcv results dict) and the image checks the ops share.

The ops themselves are in :mod:`automl_mm.augment.geometric` (affine ops) and :mod:`automl_mm.augment.photometric`
(PIL-exact colour ops); :mod:`automl_mm.augment.ops` re-exports all of them.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


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
        >>> from automl_mm.registry import AUGMENT_OPS
        >>> op = AUGMENT_OPS.get('Posterize')(4.4)
        >>> op.name, op.apply(dict(img=np.array([[255, 17]], np.uint8)), np.random.default_rng(0))['img'].tolist()
        ('Posterize(4.4)', [[240, 16]])
    """

    geometric: bool = False
    magnitude_range: tuple[float, float] | None = (-math.inf, math.inf)

    def __init__(self, magnitude: float | None = None, fill: int = 128, *, bgr: bool = True) -> None:
        if isinstance(fill, bool) or not isinstance(fill, numbers.Integral) or not 0 <= fill <= 255:
            raise ValueError(f'{type(self).__name__}: fill must be an integer in [0, 255], got fill={fill!r}')
        if not isinstance(bgr, (bool, np.bool_)):  # bool('False') is True: the wrong channel weights, silently
            raise ValueError(f'{type(self).__name__}: bgr must be True or False, got bgr={bgr!r}')
        self.fill = int(fill)
        self.bgr = bool(bgr)
        self.magnitude = magnitude  # checked, then _setup()

    @property
    def magnitude(self) -> float | None:
        """The op's magnitude (units per class: degrees, pixels as a share of the side, enhancement factor ...).

        Writing it (an ``AttributeSpace`` or ``SetAttributesHook`` on an OHL-Auto-Aug element,
        ``train_dataloader.dataset.pipeline.transforms.<i>.elements.<j>.magnitude``) checks it as ``__init__`` does
        and rebuilds what was precomputed from it (the look-up tables of Posterize, Solarize, ...), so every later
        image uses it.

        Raises:
            ValueError: as ``__init__`` does for a bad magnitude.
        """
        return self._magnitude

    @magnitude.setter
    def magnitude(self, value: float | None) -> None:
        cls = type(self).__name__
        if self.magnitude_range is None:
            if value is not None:
                raise ValueError(f'{cls} takes no magnitude, got magnitude={value!r}')
        else:
            low, high = self.magnitude_range
            if value is None:
                raise ValueError(f'{cls} needs a magnitude in [{low}, {high}], got magnitude=None')
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not math.isfinite(value) or not low <= value <= high):
                raise ValueError(f'{cls}: magnitude must be a finite number in [{low}, {high}], '
                                 f'got magnitude={value!r}')
        previous = getattr(self, '_magnitude', None)
        self._magnitude = value
        try:
            self._setup()
        except ValueError:  # keep the op as it was: its magnitude and its tables agree
            if previous is not None:  # a write, not __init__
                self._magnitude = previous
                self._setup()
            raise

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

