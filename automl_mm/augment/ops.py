"""The 14 augmentation ops of OHL-Auto-Aug (METHODS.md §2) and RandAugment's ``Identity``, on uint8 HWC images,
detection-aware; every op is importable from here.

Every op runs as ``op.apply(results, rng)`` on an mmcv/mmdet results dict whose ``'img'`` is uint8 ``(H, W)`` or
``(H, W, C)``, **BGR** as mmcv loads it (the two ops that need a luminance, Contrast and ColorAdjust, take
``bgr=False`` for RGB). The ops live by concept:

* :mod:`automl_mm.augment.op_base`: :class:`BaseAugmentOp` (magnitude checks, name, ``apply``) and the image checks;
* :mod:`automl_mm.augment.geometric`: the affine ops (shears, translations, rotation). They draw a random sign from
  ``rng`` and warp image, boxes and masks with one affine matrix in continuous image coordinates (nearest
  interpolation, border ``fill`` = 128, AutoAugment's grey); see :class:`GeometricAugmentOp`;
* :mod:`automl_mm.augment.photometric`: the colour ops, which reproduce PIL (``ImageOps`` / ``ImageEnhance``)
  bit-exactly through cv2/numpy look-up tables, and ``Identity``.

Importing this module registers every op in ``AUGMENT_OPS``. Which ops at which magnitudes form the search's
elements, and ``build_elements``, are in :mod:`automl_mm.augment.elements`.
"""
from __future__ import annotations

from .geometric import (
    GeometricAugmentOp,
    HorizontalShear,
    HorizontalTranslate,
    Rotate,
    VerticalShear,
    VerticalTranslate,
    translate_pixels,
)
from .op_base import BaseAugmentOp
from .photometric import (
    AutoContrast,
    Brightness,
    ColorAdjust,
    Contrast,
    Equalize,
    Identity,
    Invert,
    Posterize,
    Sharpness,
    Solarize,
)

__all__ = [
    'AutoContrast', 'BaseAugmentOp', 'Brightness', 'ColorAdjust', 'Contrast', 'Equalize', 'GeometricAugmentOp',
    'HorizontalShear', 'HorizontalTranslate', 'Identity', 'Invert', 'Posterize', 'Rotate', 'Sharpness', 'Solarize',
    'VerticalShear', 'VerticalTranslate', 'translate_pixels',
]
