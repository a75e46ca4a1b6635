"""Ranges a class checks only in its constructor, held against every later write of that attribute.

An OHL space or a replay hook writes its value onto the built object; a value the constructor would have refused
(``ExpMomentumEMA(gamma=0)``, ``KnowledgeDistillationKLDivLoss(T=0.5)``, ``Brightness(max_mag=3.0)``) went in
without a word and trained wrong, or stopped the run deep inside the object at the trunk that drew it.
:data:`CONSTRUCTOR_RANGES` gives, per class (matched along the owner's MRO by package and name, so
mmdet's ``RandomCrop`` and automl_mm's stay apart) and attribute, the range of a number written there; an attribute
holding a list or tuple has that range for each of its elements (``...n_holes.0``, a whole ``crop_size``).
:func:`~automl_mm.ohl.setting_ranges.attribute_range` reads it, so the write-time checks, the start check of what a
space can draw and a replayed schedule's check all hold it.

Sources (mmengine 0.10, mmdet 3.3, mmcv 2.1; each an ``assert`` or ``raise`` in ``__init__`` unless said):

* EMA models: ``momentum`` in (0, 1) (mmengine's ``ExponentialMovingAverage``, inherited by
  ``MomentumAnnealingEMA`` and mmdet's ``ExpMomentumEMA``), their ``gamma`` > 0; mmdet's ``MeanTeacherHook``
  ``momentum`` in (0, 1); mmengine's ``EMAHook`` ``begin_iter`` / ``begin_epoch`` >= 0 (counts).
* mmengine's ``LoggerHook``: ``interval`` and ``interval_exp_name`` >= 1 (``raise ValueError`` at <= 0; a hook's
  ``every_n_*`` is False at 0, so a written 0 logged nothing, silently).
* mmdet losses: ``KnowledgeDistillationKLDivLoss.T`` >= 1, ``VarifocalLoss.alpha`` >= 0; ``SmoothL1Loss`` /
  ``BalancedL1Loss`` ``beta`` > 0 (asserted at every forward: the copy that drew 0 stopped the run mid-trunk).
* mmdet layers and task modules: ``DropBlock`` ``drop_prob`` in (0, 1], ``warmup_iters`` >= 0;
  ``TaskAlignedAssigner.topk`` >= 1; ``IoUBalancedNegSampler.num_bins`` >= 1; ``QuasiDenseTracker``
  ``memo_momentum`` in [0, 1], ``memo_tracklet_frames`` / ``memo_backdrop_frames`` >= 0.
* mmdet transforms: the AutoAugment ops' ``min_mag`` / ``max_mag`` in each op's range (``Color`` ... ``Sharpness``
  [0, 2], ``Solarize`` [0, 256], ``SolarizeAdd`` [0, 110], ``Posterize`` [0, 8], ``ShearX`` / ``ShearY`` [0, 90],
  ``Rotate`` [0, 180], ``TranslateX`` / ``TranslateY`` [0, 1]), their ``level`` in [0, 10], the geometric ones'
  ``reversal_prob`` in [0, 1] and ``img_border_value`` in [0, 255]; ``RandomAffine.max_translate_ratio`` in [0, 1]
  and ``scaling_ratio_range`` > 0; ``RandomShift.max_shift_px`` >= 0; ``CutOut.n_holes`` and
  ``RandomErasing.n_patches`` >= 0, ``RandomErasing.ratio`` in [0, 1]; ``CachedMosaic`` / ``CachedMixUp``
  ``max_cached_images`` >= 4 / >= 2; ``RandomCrop.crop_size`` in (0, 1] under a relative ``crop_type``, >= 1 pixel
  under an absolute one; ``RandomCenterCropPad.crop_size`` and mmcv's ``CenterCrop.crop_size`` >= 1 pixel.
* automl_mm: ``RandomCrop`` ``crop_size`` >= 1, ``padding`` >= 0, ``pad_val`` in [0, 255];
  ``RandomResizedCrop`` ``scale`` / ``max_attempts`` >= 1, ``crop_ratio_range`` in (0, 1];
  ``ResizeShortEdge.size`` >= 1; an augmentation op's ``fill`` in [0, 255].

Counts (:data:`COUNTS`: ``topk``, ``level``, ``n_holes``, pixel sizes, ...) keep their integer check
(:mod:`automl_mm.ohl.integer_settings`): a range does not make them real-valued, and one holding None (mmdet's
``level=None``, a magnitude drawn at each call) takes integers or None only. mmdet's ``RandomCrop.crop_size`` is a
count only under an absolute ``crop_type`` (:data:`COUNT_WHEN`): ``crop_size=(0.5, 1)`` under ``relative_range``
takes 0.9 at ``crop_size.1``. Relations between two attributes (``min_mag <= max_mag``, ``n_holes[0] <=
n_holes[1]``, ``scaling_ratio_range[0] <= [1]``) are not held at a write, where two spaces writing both would be
refused or passed by the order of their writes, but after all of a trunk's writes
(:mod:`automl_mm.ohl.constructor_relations`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automl_mm.utils.intervals import INF, NON_NEGATIVE, UNIT, Interval

from .unchecked_ranges import is_unchecked_count

OPEN_UNIT = Interval(0.0, 1.0, low_open=True, high_open=True)  # (0, 1)
POSITIVE = Interval(0.0, INF, low_open=True)  # (0, inf)
AT_LEAST_ONE = Interval(1.0, INF)
UNIT_ABOVE_ZERO = Interval(0.0, 1.0, low_open=True)  # (0, 1]
PIXEL_VALUE = Interval(0.0, 255.0)

#: What a range is: an interval, or a function of the owner giving one (``RandomCrop.crop_size`` by ``crop_type``).
Range = Interval | Callable[[Any], Interval]


def _mags(high: float) -> dict[str, Range]:
    return dict(min_mag=Interval(0.0, high), max_mag=Interval(0.0, high))


def _relative(owner: Any) -> bool:
    """Whether mmdet's ``RandomCrop`` takes its ``crop_size`` as fractions of the image side (``relative`` /
    ``relative_range``) rather than pixels."""
    return str(getattr(owner, 'crop_type', '')).startswith('relative')


def _crop_size(owner: Any) -> Interval:
    """mmdet's ``RandomCrop``: a fraction of the image side under ``relative`` / ``relative_range``, else pixels."""
    return UNIT_ABOVE_ZERO if _relative(owner) else AT_LEAST_ONE


_LEVEL = dict(level=Interval(0.0, 10.0))  # mmdet's _MAX_LEVEL
_GEOMETRIC = dict(_LEVEL, reversal_prob=UNIT, img_border_value=PIXEL_VALUE)

#: ``{'<package>.<class>': {attribute: range}}`` (module docstring); the first class of the owner's MRO with an
#: entry for the attribute gives its range.
CONSTRUCTOR_RANGES: dict[str, dict[str, Range]] = {
    'mmengine.ExponentialMovingAverage': dict(momentum=OPEN_UNIT),
    'mmengine.MomentumAnnealingEMA': dict(gamma=POSITIVE),
    'mmdet.ExpMomentumEMA': dict(gamma=POSITIVE),
    'mmdet.MeanTeacherHook': dict(momentum=OPEN_UNIT),
    'mmengine.EMAHook': dict(begin_iter=NON_NEGATIVE, begin_epoch=NON_NEGATIVE),
    'mmengine.LoggerHook': dict(interval=AT_LEAST_ONE, interval_exp_name=AT_LEAST_ONE),
    'mmdet.KnowledgeDistillationKLDivLoss': dict(T=AT_LEAST_ONE),
    'mmdet.VarifocalLoss': dict(alpha=NON_NEGATIVE),
    'mmdet.SmoothL1Loss': dict(beta=POSITIVE),
    'mmdet.BalancedL1Loss': dict(beta=POSITIVE),
    'mmdet.DropBlock': dict(drop_prob=UNIT_ABOVE_ZERO, warmup_iters=NON_NEGATIVE),
    'mmdet.TaskAlignedAssigner': dict(topk=AT_LEAST_ONE),
    'mmdet.IoUBalancedNegSampler': dict(num_bins=AT_LEAST_ONE),
    'mmdet.QuasiDenseTracker': dict(memo_momentum=UNIT, memo_tracklet_frames=NON_NEGATIVE,
                                    memo_backdrop_frames=NON_NEGATIVE),
    'mmdet.ColorTransform': _LEVEL,
    'mmdet.GeomTransform': _GEOMETRIC,
    'mmdet.Color': _mags(2.0), 'mmdet.Brightness': _mags(2.0), 'mmdet.Contrast': _mags(2.0),
    'mmdet.Sharpness': _mags(2.0), 'mmdet.Solarize': _mags(256.0), 'mmdet.SolarizeAdd': _mags(110.0),
    'mmdet.Posterize': _mags(8.0), 'mmdet.ShearX': _mags(90.0), 'mmdet.ShearY': _mags(90.0),
    'mmdet.Rotate': _mags(180.0), 'mmdet.TranslateX': _mags(1.0), 'mmdet.TranslateY': _mags(1.0),
    'mmdet.RandomAffine': dict(max_translate_ratio=UNIT, scaling_ratio_range=POSITIVE),
    'mmdet.RandomShift': dict(max_shift_px=NON_NEGATIVE),
    'mmdet.CutOut': dict(n_holes=NON_NEGATIVE),
    'mmdet.RandomErasing': dict(n_patches=NON_NEGATIVE, ratio=UNIT),
    'mmdet.CachedMosaic': dict(max_cached_images=Interval(4.0, INF)),
    'mmdet.CachedMixUp': dict(max_cached_images=Interval(2.0, INF)),
    'mmdet.RandomCrop': dict(crop_size=_crop_size),
    'mmdet.RandomCenterCropPad': dict(crop_size=AT_LEAST_ONE),
    'mmcv.CenterCrop': dict(crop_size=AT_LEAST_ONE),
    'automl_mm.RandomCrop': dict(crop_size=AT_LEAST_ONE, padding=NON_NEGATIVE, pad_val=PIXEL_VALUE),
    'automl_mm.RandomResizedCrop': dict(scale=AT_LEAST_ONE, max_attempts=AT_LEAST_ONE,
                                        crop_ratio_range=UNIT_ABOVE_ZERO),
    'automl_mm.ResizeShortEdge': dict(size=AT_LEAST_ONE),
    'automl_mm.BaseAugmentOp': dict(fill=PIXEL_VALUE),
}

#: ``{'<package>.<class>': attributes}`` of :data:`CONSTRUCTOR_RANGES` that are counts, sizes in pixels or levels:
#: integers, whose integer check (:mod:`automl_mm.ohl.integer_settings`) their range does not lift.
COUNTS: dict[str, frozenset[str]] = {
    'mmengine.EMAHook': frozenset({'begin_iter', 'begin_epoch'}),
    'mmengine.LoggerHook': frozenset({'interval', 'interval_exp_name'}),
    'mmdet.DropBlock': frozenset({'warmup_iters'}),
    'mmdet.TaskAlignedAssigner': frozenset({'topk'}),
    'mmdet.IoUBalancedNegSampler': frozenset({'num_bins'}),
    'mmdet.QuasiDenseTracker': frozenset({'memo_tracklet_frames', 'memo_backdrop_frames'}),
    'mmdet.ColorTransform': frozenset({'level'}),
    'mmdet.GeomTransform': frozenset({'level'}),
    'mmdet.RandomShift': frozenset({'max_shift_px'}),
    'mmdet.CutOut': frozenset({'n_holes'}),
    'mmdet.RandomErasing': frozenset({'n_patches'}),
    'mmdet.CachedMosaic': frozenset({'max_cached_images'}),
    'mmdet.CachedMixUp': frozenset({'max_cached_images'}),
    'mmdet.RandomCrop': frozenset({'crop_size'}),  # in pixels only: COUNT_WHEN
    'mmdet.RandomCenterCropPad': frozenset({'crop_size'}),
    'mmcv.CenterCrop': frozenset({'crop_size'}),
    'automl_mm.RandomCrop': frozenset({'crop_size', 'padding', 'pad_val'}),
    'automl_mm.RandomResizedCrop': frozenset({'scale', 'max_attempts'}),
    'automl_mm.ResizeShortEdge': frozenset({'size'}),
    'automl_mm.BaseAugmentOp': frozenset({'fill'}),
}


#: ``{'<package>.<class>': {attribute: test of the owner}}``: an attribute of :data:`COUNTS` that is a count only
#: where the test holds. mmdet's ``RandomCrop`` takes a relative ``crop_size`` as fractions, and one given as ints
#: (``crop_size=(0.5, 1)`` under ``relative_range``: the whole width) takes 0.9 there.
COUNT_WHEN: dict[str, dict[str, Callable[[Any], bool]]] = {
    'mmdet.RandomCrop': dict(crop_size=lambda owner: not _relative(owner)),
}


def _qualified(cls: type) -> str:
    return f'{cls.__module__.split(".")[0]}.{cls.__name__}'


def constructor_range(owner: Any, name: str) -> tuple[Interval, str] | None:
    """``(range, source)`` of the attribute ``name`` of ``owner`` from :data:`CONSTRUCTOR_RANGES` (the first class of
    its MRO with an entry), else ``None``; the source names the class that checks it."""
    for cls in type(owner).__mro__:
        key = _qualified(cls)
        found = CONSTRUCTOR_RANGES.get(key, {}).get(name)
        if found is not None:
            interval = found(owner) if callable(found) else found
            return interval, f'{type(owner).__name__}.{name}, as {key} checks it'
    return None


def is_count(owner: Any, name: str) -> bool:
    """Whether the attribute ``name`` of ``owner`` is a count with a constructor range (:data:`COUNTS`, under
    :data:`COUNT_WHEN`), whose integer check stays (one holding None too: mmdet's ``level=None``, which a write of
    5.5 would make a float level its constructor refuses)."""
    for cls in type(owner).__mro__:
        key = _qualified(cls)
        if name in COUNTS.get(key, ()):
            return COUNT_WHEN.get(key, {}).get(name, lambda _: True)(owner)
    return is_unchecked_count(owner, name)  # a sampler's num, a hook's interval
