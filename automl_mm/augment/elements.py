"""OHL-Auto-Aug's elements: which ops, at which magnitudes, make up the pairs the search chooses from.

An *element* is an op of :mod:`automl_mm.augment.ops` (defined in ``geometric.py`` and ``photometric.py``) with
one magnitude (``Rotate(20)``). This module holds the element lists (:data:`DEFAULT_ELEMENTS`, the 36 of the
paper's Table 1; :func:`randaugment_elements`; the named :data:`ELEMENT_SETS`) and :func:`build_elements`, which
turns a list or a set's name into op instances. A user op is a registered subclass, buildable by name:

    >>> from automl_mm.augment.ops import BaseAugmentOp
    >>> @AUGMENT_OPS.register_module(force=True)
    ... class Darken(BaseAugmentOp):
    ...     magnitude_range = None  # takes no magnitude; a (low, high) range makes one required
    ...     def transform_img(self, img, rng):
    ...         return img // 2
    >>> [op.name for op in build_elements([('Darken', None), ('Rotate', 20)])]
    ['Darken', 'Rotate(20)']
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch

from automl_mm.registry import AUGMENT_OPS

from .op_base import BaseAugmentOp

# The 36 elements of Table 1, index = position: the 11 magnitude ops in table order (3 magnitudes each, ascending),
# then the 3 ops without magnitude. An ordered pair of elements (i, j) is one of the 36 ** 2 = 1296 choices.
DEFAULT_ELEMENTS: list[tuple[str, float | None]] = [
    (name, magnitude) for name, magnitudes in (
        ('HorizontalShear', (0.1, 0.2, 0.3)), ('VerticalShear', (0.1, 0.2, 0.3)),
        ('HorizontalTranslate', (0.15, 0.3, 0.45)), ('VerticalTranslate', (0.15, 0.3, 0.45)),
        ('Rotate', (10, 20, 30)), ('ColorAdjust', (0.3, 0.6, 0.9)), ('Posterize', (4.4, 5.6, 6.8)),
        ('Solarize', (26, 102, 179)), ('Contrast', (1.3, 1.6, 1.9)), ('Sharpness', (1.3, 1.6, 1.9)),
        ('Brightness', (1.3, 1.6, 1.9))) for magnitude in magnitudes
] + [('AutoContrast', None), ('Equalize', None), ('Invert', None)]



def randaugment_elements(magnitude: float | Sequence[float] = 9,
                         num_bins: int = 31) -> list[tuple[str, float | None]]:
    """RandAugment's 14 operations at one magnitude (18 elements), or at several (a magnitude axis).

    The strengths follow torchvision's ``RandAugment._augmentation_space`` (Cubuk et al. 2020, "RandAugment";
    torchvision's defaults: magnitude 9 of ``num_bins`` = 31 bins): at bin ``m``, shear ``0.3 m / 30``, translate
    ``150/331 m / 30`` of the image side (to 3 decimals), rotate ``30 m / 30`` degrees, enhancement factor
    ``1 ± 0.9 m / 30`` (torchvision's float32, with which PIL blends: 0.58000004 at bin 14, see
    :func:`_enhancement_factors`), posterize ``8 - round(4 m / 30)`` bits (halves to even, as ``torch.round``), solarize
    threshold ``255 (1 - m / 30)`` (``30`` = ``num_bins - 1``). One difference in pixels: torchvision truncates a
    translation to whole pixels (``int``), the translation elements round their share of the side half up
    (:func:`~automl_mm.augment.geometric.translate_pixels`), so at bin 9 a 28-pixel image shifts by 4 pixels, not 3;
    and the share is rounded to 3 decimals for readable names, so at some sides the shift is one pixel off the
    exact share's (bin 9: 114 px shifts 16 where 150/331 x 9/30 x 114 = 15.5 rounds to 15; bin 4: 58 px shifts
    3, not 4). Every photometric element gives torchvision's pixels; shear and rotate do too except where a pixel
    centre maps onto a half-pixel tie, or within cv2's 1/1024-pixel sampling grid of one, which cv2's fixed-point
    nearest sampling resolves otherwise than PIL (a 28 x 28 image: one row at shear bins 4, 12 and 28, every fifth
    row, 6 rows, at bin 20 (0.2); 1 or 2 pixels at rotation bins 4, 7, 14, 19 and 23; bin 9 is identical).
    Geometric ops draw their sign per image (as torchvision's signed ops); the four enhancement ops, which have
    no random sign here, become two elements each (factor ``1 - x`` and ``1 + x``), so 18 elements, 324 ordered
    pairs, and uniform pairs put 2 / 18 rather than 1 / 14 of the mass on each of them. ``Identity`` is one
    element, so a pair can be a single operation or none, as in RandAugment.

    Several bins give every operation with a magnitude one element per bin (the space then chooses strengths as
    well as operations, which RandAugment fixes by hand and TrivialAugment draws uniformly): operation-major,
    bins in the given order, an element that two bins (or, at bin 0, both signs) map to kept once (``Posterize``
    rounds to whole bits: bins 4 and 9 both give 7);
    ``Identity``, ``AutoContrast`` and ``Equalize`` once. Bins (4, 9, 14) give 3 + 15 x 3 - 1 = 47 elements.

    Args:
        magnitude (float | Sequence[float]): The bin, or bins, in [0, num_bins - 1]. Defaults to 9.
        num_bins (int): Number of magnitude bins (>= 2). Defaults to 31.

    Returns:
        list[tuple[str, float | None]]: ``(op name, magnitude)`` pairs for :func:`build_elements`.

    Raises:
        ValueError: ``num_bins`` < 2, no bin given, or a bin outside [0, num_bins - 1].

    Examples:
        >>> [e for e in randaugment_elements() if e[0] in ('Rotate', 'Brightness', 'Posterize')]
        [('Rotate', 9.0), ('Brightness', 0.73), ('Brightness', 1.27), ('Posterize', 7)]
        >>> [e for e in randaugment_elements((4, 9, 14)) if e[0] in ('Rotate', 'Posterize')]
        [('Rotate', 4.0), ('Rotate', 9.0), ('Rotate', 14.0), ('Posterize', 7), ('Posterize', 6)]
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins < 2:
        raise ValueError(f'randaugment_elements: num_bins must be an integer >= 2, got num_bins={num_bins!r}')
    bins = list(magnitude) if isinstance(magnitude, Sequence) and not isinstance(magnitude, str) else [magnitude]
    if not bins:
        raise ValueError('randaugment_elements: magnitude must be a bin or a non-empty sequence of bins, got '
                         f'magnitude={magnitude!r}')
    for m in bins:
        if isinstance(m, bool) or not isinstance(m, numbers.Real) or not 0 <= m <= num_bins - 1:
            raise ValueError(f'randaugment_elements: magnitude must be a bin in [0, {num_bins - 1}], '
                             f'got magnitude={magnitude!r}')
    per_op: dict[str, list[float]] = {}
    for m in bins:
        level = m / (num_bins - 1)  # 0 ... 1
        factors = _enhancement_factors(m, num_bins)
        strengths = [(name, round(0.3 * level, 6)) for name in ('HorizontalShear', 'VerticalShear')]
        # the translation to 3 decimals (0.136 at bin 9, 3.8 px of 28) for readable element names; at some sides
        # the shift is one pixel off the exact share's (see the docstring)
        strengths += [(name, round(150 / 331 * level, 3)) for name in ('HorizontalTranslate', 'VerticalTranslate')]
        strengths += [('Rotate', round(30.0 * level, 6))]
        strengths += [(f'{name}{sign}', factor) for sign, factor in zip('-+', factors)
                      for name in ('Brightness', 'ColorAdjust', 'Contrast', 'Sharpness')]
        # torchvision's bits: 8 - round(m / ((num_bins - 1) / 4)) in float32, halves to even (torch.round)
        bits = 8 - int(np.round(np.float32(m) / np.float32((num_bins - 1) / 4)))
        strengths += [('Posterize', bits), ('Solarize', round(255.0 * (1 - level), 6))]
        for key, value in strengths:
            if value not in per_op.setdefault(key, []):
                per_op[key].append(value)
    order = ['HorizontalShear', 'VerticalShear', 'HorizontalTranslate', 'VerticalTranslate', 'Rotate']
    order += [f'{name}{sign}' for name in ('Brightness', 'ColorAdjust', 'Contrast', 'Sharpness') for sign in '-+']
    order += ['Posterize', 'Solarize']
    elements: list[tuple[str, float | None]] = [('Identity', None)]
    elements += [(key.rstrip('+-'), value) for key in order for value in per_op[key]]
    # at bin 0 both signs of an enhancement are the factor 1.0: one element
    return list(dict.fromkeys(elements + [('AutoContrast', None), ('Equalize', None)]))


def _enhancement_factors(m: float, num_bins: int) -> tuple[float, float]:
    """RandAugment's two enhancement factors ``1 - x`` and ``1 + x`` at bin ``m``, as PIL receives them.

    torchvision takes ``x`` from its float32 table ``torch.linspace(0.0, 0.9, num_bins)[m]`` (read here from torch
    itself), calls ``ImageEnhance.<op>(img).enhance(1.0 + (±x))``, and PIL blends with that factor as a float32;
    each factor is the shortest decimal of that float32, so an element gives torchvision's pixels. The decimal
    ``1 - 0.9 m / 30`` is not always it: at bin 14 torchvision's 1 - x is 0.58000004 (float32), 0.58 is another
    float32, and ``Brightness(0.58)`` turned the grey value 50 into 28 where torchvision gives 29 (bins 10, 14, 18,
    20 and 28 differed so). A fractional bin (no torchvision counterpart) takes ``x = 0.9 m / (num_bins - 1)``.

    Examples:
        >>> _enhancement_factors(9, 31), _enhancement_factors(14, 31)
        ((0.73, 1.27), (0.58000004, 1.42))
    """
    if float(m).is_integer():
        x = float(torch.linspace(0.0, 0.9, num_bins)[int(m)])
    else:
        x = round(0.9 * m / (num_bins - 1), 6)
    return float(str(np.float32(1.0 - x))), float(str(np.float32(1.0 + x)))


# Named element sets for ``OHLAutoAugment(elements=...)``: 'ohl' (the 36 of Table 1), 'randaugment' (RandAugment's
# 14 operations at torchvision's default magnitude 9 of 31, 18 elements, see :func:`randaugment_elements`) and
# 'ohl+randaugment' (both, without repeating AutoContrast and Equalize: 52 elements, 2,704 pairs), a space in
# which the search has to find the milder operations itself (two of RandAugment's elements act on uint8 images as
# one of the 36 does, Posterize(7) as Posterize(6.8) and Solarize(178.5) as Solarize(179); both are kept, so that
# each set's share of the learned mass is defined element by element, and uniform pairs weigh those two twice);
# 'randaugment-3bins' (RandAugment's operations at bins 4, 9 and 14 of 31, 47 elements, 2,209 pairs), a magnitude
# axis around torchvision's 9 along which the search can move each operation's strength.
#: The bins of each named set with a magnitude axis.
ELEMENT_SET_BINS = {'randaugment-3bins': (4, 9, 14)}
ELEMENT_SETS = {'ohl': DEFAULT_ELEMENTS, 'randaugment': randaugment_elements(),
                **{name: randaugment_elements(bins) for name, bins in ELEMENT_SET_BINS.items()}}
ELEMENT_SETS['ohl+randaugment'] = DEFAULT_ELEMENTS + [
    element for element in ELEMENT_SETS['randaugment'] if element not in DEFAULT_ELEMENTS]


def _checked_op(op: BaseAugmentOp, index: int) -> BaseAugmentOp:
    """``op`` once it has transformed a small seeded uint8 image into one of the same shape and dtype (the
    contract of :meth:`BaseAugmentOp.apply`), else a ``ValueError`` naming ``elements[index]`` and the op: an op of
    one's own with another ``transform_img`` signature, or returning a float image, failed in a dataloader worker
    of the first training iteration, after every copy had started."""
    img = np.random.default_rng(index).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    try:
        out = op.apply(dict(img=img.copy()), np.random.default_rng(0))
    except Exception as err:  # noqa: BLE001  (any failure of a user's op is reported with its element)
        raise ValueError(f'elements[{index}] {op.name}: apply(results, rng) failed on a 16x16x3 uint8 image: '
                         f'{type(err).__name__}: {err}') from err
    got = out.get('img') if isinstance(out, dict) else out
    if not (isinstance(got, np.ndarray) and got.dtype == np.uint8 and got.shape == img.shape):
        desc = f'{got.dtype} array of shape {got.shape}' if isinstance(got, np.ndarray) else type(got).__name__
        raise ValueError(f'elements[{index}] {op.name}: apply(results, rng) must return the results dict with '
                         f"'img' a uint8 array of the input's shape (16, 16, 3) (transform_img(img, rng): the new "
                         f'image), got {"a dict with " if isinstance(out, dict) else ""}{desc}')
    return op


def build_elements(elements: Sequence[tuple | dict] | str | None = None, fill: int = 128, *,
                   bgr: bool = True) -> list[BaseAugmentOp]:
    """Build augmentation elements (op instances) from ``(name, magnitude)`` tuples or config dicts.

    Args:
        elements (Sequence[tuple | dict] | str, optional): ``(name, magnitude)`` pairs (magnitude ``None`` for
            ops without one) or dicts such as ``dict(type='Rotate', magnitude=20)``; names are looked up in
            ``AUGMENT_OPS``. A string names a set of :data:`ELEMENT_SETS` (``'ohl'``, ``'randaugment'``,
            ``'ohl+randaugment'``, ``'randaugment-3bins'``).
            Defaults to :data:`DEFAULT_ELEMENTS` (the 36 elements of OHL-Auto-Aug).
        fill (int): Border grey of geometric ops, unless a dict sets its own. Defaults to 128.
        bgr (bool): Channel order of the images, unless a dict sets its own. Defaults to True.

    Returns:
        list[BaseAugmentOp]: One op per element, in order.

    Examples:
        >>> ops = build_elements()
        >>> len(ops), ops[12].name, ops[-1].name
        (36, 'Rotate(10)', 'Invert')
    """
    if isinstance(elements, str):
        if elements not in ELEMENT_SETS:
            raise ValueError(f'elements={elements!r} is not a named element set; choose from '
                             f'{sorted(ELEMENT_SETS)} or give a list of (name, magnitude) tuples')
        elements = ELEMENT_SETS[elements]
    ops = []
    for index, entry in enumerate(DEFAULT_ELEMENTS if elements is None else elements):
        if isinstance(entry, dict):
            cfg = dict(entry)
            name = cfg.pop('type', None)
        elif isinstance(entry, tuple) and len(entry) in (1, 2):
            name, cfg = entry[0], dict(magnitude=entry[1] if len(entry) == 2 else None)
        else:
            raise ValueError(f'elements[{index}] must be a (name, magnitude) tuple or a dict with a type, '
                             f'got {entry!r}')
        cls = AUGMENT_OPS.get(name) if isinstance(name, str) else name
        if not (isinstance(cls, type) and issubclass(cls, BaseAugmentOp)):
            raise ValueError(f'elements[{index}]: unknown augmentation op {name!r} (not a BaseAugmentOp '
                             f'registered in AUGMENT_OPS)')
        cfg.setdefault('fill', fill)
        cfg.setdefault('bgr', bgr)
        ops.append(_checked_op(cls(**cfg), index))
    names = [op.name for op in ops]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:  # one element twice: uniform pairs gave it twice the mass, and its pairs two probabilities
        raise ValueError(f'elements lists {repeated} more than once: give each element once')
    return ops
