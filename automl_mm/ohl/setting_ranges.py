"""The valid range of what an OHL space writes: the ranges' rows and their lookup by path (:func:`target_ranges`).

An ``AttributeSpace`` writes one value per copy per trunk: a Gaussian sample through its ``transform``
(``None``: any real number; ``'exp'`` / ``'pow10'``: any positive number), or one of its ``choices``. A target
with a bounded range (SGD's ``momentum`` in [0, 1), a probability in [0, 1]) receives, sooner or later, a value
outside it unless the image of what the space draws lies inside it; torch checks an optimiser's settings only when it
is built (and some of them not at all: ``SGD(momentum=1.5)`` builds and diverges), so such a value either trained
silently or stopped the whole run at the trunk that drew it. :func:`~automl_mm.ohl.value_ranges.check_draws`
compares the two and names the space, the path, the transform and the range.

Ranges (:data:`OPTIMIZER_RANGES`), by optimiser class (torch's, matched along the class's MRO so subclasses
inherit them) and ``param_groups`` key; the source of each is torch's constructor check where it has one, else the
update rule in ``torch/optim/<name>.py``:

* ``lr``, ``weight_decay``, ``eps``, Adagrad's ``lr_decay`` and ``initial_accumulator_value``, NAdam's
  ``momentum_decay``: >= 0 (torch: 'Invalid learning rate', ...).
* ``momentum`` (SGD, RMSprop): [0, 1). torch refuses only < 0; at 1 or above the buffer ``m·buf + g`` never
  forgets (1) or grows geometrically (1.5: ×1.5 per step): the run diverges.
* SGD's ``dampening``: [0, 1]; the buffer adds ``(1 - dampening)·g``, so above 1 the update ascends the loss.
  torch does not check it.
* ``betas`` (Adam, AdamW, Adamax, NAdam, RAdam), each: [0, 1) (torch: 'Invalid beta parameter').
* RMSprop's ``alpha``: [0, 1]; the square average adds ``(1 - alpha)·g²``, so above 1 it goes negative and its
  square root is NaN. torch refuses only < 0.
* Adadelta's ``rho``: [0, 1] (torch: 'Invalid rho value').

An optimiser class outside the table gets :data:`GENERIC_RANGES` (the keys every torch optimiser that has them
reads the same way). A module attribute declared as a :class:`~automl_mm.models.losses.CheckedFloat` with an
``interval`` (the loss hyper-parameters of :mod:`automl_mm.models.losses` and AM-LFS) has that range; a
``prob`` of an mmcv transform (``BaseTransform``) is a probability, [0, 1]; torch's ``nn.Dropout*`` ``p`` in [0, 1)
(at 1 training sees only zeros: a classification head's ``dropout`` is refused 1 when built), mmcv's ``DropPath``
``drop_prob`` too (at 1 it divides by 0); a
module's ``loss_weight`` (mmdet's and mmpretrain's losses keep a plain float) is >= 0: below it the training
ascends that loss, silently; an augmentation op's ``magnitude`` lies in its ``magnitude_range``; an mmengine
parameter scheduler's ``eta_min`` in the range of the key it schedules, its ``gamma`` >= 0 and its factors in
[0, 1] (:func:`_scheduler_range`).
A loss's ``class_weight`` (:class:`~automl_mm.models.loss_keys.ClassWeightAttribute`, and mmdet's plain list, which
mmdet does not check) has each weight >= 0, one element of it (``...class_weight.3``) too; a list choice is
compared element by element. What a class's constructor checks and a later write would skip (an EMA's ``momentum`` in
(0, 1) and ``gamma`` > 0, mmdet's distillation ``T`` >= 1, an mmdet AutoAugment op's ``min_mag`` / ``max_mag``, ...)
has that range (:mod:`automl_mm.ohl.constructor_ranges`); what no constructor checks but the reader cannot use
(``FocalLoss``'s ``gamma`` < 0, a sampler's ``pos_fraction`` > 1, a ``test_cfg``'s ``score_thr`` > 1, a hook's
``interval`` of 0) has the range :mod:`automl_mm.ohl.unchecked_ranges` gives, with the reason. Targets that check
their own writes (a loss's
``class_weight``, ``ignore_index``, ``avg_non_ignore``) are also given each choice, and an element path the whole
list with that element replaced, without writing (:func:`~automl_mm.ohl.value_ranges.check_accepted`).
Other targets have no known range and are not checked.
"""
from __future__ import annotations

from typing import Any

import torch

from automl_mm.utils.intervals import INF, NON_NEGATIVE, UNIT, UNIT_OPEN, Interval

from .constructor_ranges import constructor_range
from .element_paths import Element, element_attributes
from .unchecked_ranges import unchecked_range

#: What a Gaussian sample can become under each ``AttributeSpace`` transform (exp and 10**x of any real number: the
#: positive numbers).
TRANSFORM_IMAGES: dict[str | None, Interval] = {
    None: Interval(-INF, INF), 'exp': Interval(0.0, INF, low_open=True), 'pow10': Interval(0.0, INF, low_open=True)}

_COMMON = dict(lr=NON_NEGATIVE, weight_decay=NON_NEGATIVE, eps=NON_NEGATIVE)
_ADAM = dict(_COMMON, betas=UNIT_OPEN)

#: ``{optimiser class name: {param_groups key: range}}`` (module docstring); ``betas`` applies to each element.
OPTIMIZER_RANGES: dict[str, dict[str, Interval]] = {
    'SGD': dict(lr=NON_NEGATIVE, weight_decay=NON_NEGATIVE, momentum=UNIT_OPEN, dampening=UNIT),
    'RMSprop': dict(_COMMON, momentum=UNIT_OPEN, alpha=UNIT),
    'Adam': _ADAM, 'AdamW': _ADAM, 'Adamax': _ADAM, 'RAdam': _ADAM,
    'NAdam': dict(_ADAM, momentum_decay=NON_NEGATIVE),
    'Adadelta': dict(_COMMON, rho=UNIT),
    'Adagrad': dict(_COMMON, lr_decay=NON_NEGATIVE, initial_accumulator_value=NON_NEGATIVE),
}

#: Ranges for an optimiser class outside :data:`OPTIMIZER_RANGES` (and for a config whose optimiser type is not
#: known): keys every torch optimiser that has them reads as above.
GENERIC_RANGES: dict[str, Interval] = dict(_COMMON, momentum=UNIT_OPEN, betas=UNIT_OPEN)


def optimizer_key_range(optimizer: Any, key: str) -> tuple[Interval, str] | None:
    """``(range, source)`` of ``key`` (a ``param_groups`` key; ``betas`` for either element) in ``optimizer`` (an
    instance, a class or a class name), else ``None``; the source names the class whose rule it is."""
    if isinstance(optimizer, str):
        names = [optimizer.rsplit('.', 1)[-1]]
    else:
        cls = optimizer if isinstance(optimizer, type) else type(optimizer)
        names = [c.__name__ for c in cls.__mro__ if c.__module__.startswith('torch.optim')]
    for name in names:
        if name in OPTIMIZER_RANGES:
            found = OPTIMIZER_RANGES[name].get(key)
            return (found, f"torch.optim.{name}'s {key}") if found is not None else None
    found = GENERIC_RANGES.get(key)
    return (found, f'an optimiser\'s {key}') if found is not None else None


def group_key(path: str) -> str | None:
    """The optimiser key a ``param_groups`` path (``...param_groups.<i|*>.<key>[.<index>]``) writes, else
    ``None``."""
    parts = path.split('.')
    if 'param_groups' not in parts:
        return None
    at = parts.index('param_groups')
    return parts[at + 2] if len(parts) > at + 2 else None


def _scalar(value: Any) -> float | None:
    """A real number (a one-element tensor's value) as a float, else ``None``."""
    if isinstance(value, torch.Tensor):
        return float(value) if value.numel() == 1 and not value.is_complex() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def attribute_range(owner: Any, name: str) -> tuple[Interval, str] | None:
    """``(range, source)`` of the attribute ``name`` of the object ``owner`` (not an optimiser group), else ``None``:
    a ``CheckedFloat`` with an ``interval``, an mmcv transform's ``prob``, torch's dropout ``p`` and mmcv's
    ``DropPath`` ``drop_prob`` ([0, 1)), an
    augmentation op's ``magnitude`` (its ``magnitude_range``), a parameter scheduler's (:func:`_scheduler_range`), a
    loss module's ``loss_weight`` (>= 0), ``IoUBalancedNegSampler``'s ``floor_thr`` (>= 0) and ``floor_fraction``
    ([0, 1]: :data:`_IOU_BALANCED`), and what a constructor checks that a later write would skip
    (:data:`~automl_mm.ohl.constructor_ranges.CONSTRUCTOR_RANGES`: an EMA's ``momentum`` and ``gamma``, a
    distillation loss's ``T``, an mmdet AutoAugment op's ``min_mag`` / ``max_mag``, ...)."""
    declared = getattr(type(owner), name, None)
    interval = getattr(declared, 'interval', None)
    if isinstance(interval, Interval):
        return interval, f'{type(owner).__name__}.{name}'
    if name == 'prob':
        try:
            from mmcv.transforms import BaseTransform
        except ImportError:  # pragma: no cover  (mmcv is a dependency)
            BaseTransform = ()  # noqa: N806
        if isinstance(owner, BaseTransform):
            return UNIT, f'{type(owner).__name__}.prob, a probability'
    if name == 'p' and isinstance(owner, torch.nn.modules.dropout._DropoutNd):
        # torch builds p=1, which zeroes every feature in training; automl_mm's LinearClsHead refuses dropout=1
        return UNIT_OPEN, f'{type(owner).__name__}.p, a drop probability below 1 (at 1 training sees only zeros)'
    if name == 'drop_prob' and any(f'{c.__module__.split(".")[0]}.{c.__name__}' == 'mmcv.DropPath'
                                   for c in type(owner).__mro__):
        # mmcv's DropPath (Swin's, PVT's stochastic depth) checks nothing and divides the kept paths by 1 - drop_prob
        return UNIT_OPEN, (f'{type(owner).__name__}.drop_prob, a drop probability below 1 (at 1 the kept paths are '
                           'divided by 0: NaN; 1.5 drops as 0.5 does, 3 drops nothing)')
    magnitudes = getattr(type(owner), 'magnitude_range', None)
    if name == 'magnitude' and isinstance(magnitudes, tuple) and len(magnitudes) == 2:
        # an augmentation op (automl_mm.augment): its constructor refuses a magnitude outside it, a write did not
        return Interval(*map(float, magnitudes)), f'{type(owner).__name__}.magnitude_range'
    found = _scheduler_range(owner, name)
    if found is not None:
        return found
    if name == 'loss_weight' and isinstance(owner, torch.nn.Module):
        # mmdet's and mmpretrain's losses keep a plain float: below 0 the training ascends that loss
        return NON_NEGATIVE, f'{type(owner).__name__}.loss_weight, a loss weight (below 0 the loss is ascended)'
    if name in ('floor_thr', 'floor_fraction') and any(c.__name__ == 'IoUBalancedNegSampler'
                                                       for c in type(owner).__mro__):
        return _IOU_BALANCED[name]
    if name in _CLIP_GRAD and any(c.__name__ == 'OptimWrapper' for c in type(owner).__mro__):
        return _CLIP_GRAD[name]
    if name == 'train_cfg.pos_weight' and any(c.__name__ in ('BaseDenseHead', 'BaseRoIHead')
                                              for c in type(owner).__mro__):
        # mmdet 3.3 (AnchorHead / BBoxHead._get_targets_single): a pos_weight <= 0 weighs the positives 1.0
        return Interval(0.0, INF, low_open=True), (f'{type(owner).__name__}.train_cfg.pos_weight, the positives\' '
                                                   'label weight: mmdet weighs them 1.0 for any value <= 0, so the '
                                                   'value used would not be the one written')
    if name == 'class_weight' and isinstance(owner, torch.nn.Module):
        # mmdet's CrossEntropyLoss keeps the list as given and checks nothing: a weight below 0 ascends that class's
        # loss, silently (automl_mm's losses declare it: ClassWeightAttribute.interval, above)
        return NON_NEGATIVE, (f'{type(owner).__name__}.class_weight, each a class weight (below 0 that class\'s '
                              'loss is ascended)')
    # ExpMomentumEMA's gamma > 0, the distillation T >= 1, ...; then what no constructor checks: FocalLoss's gamma,
    # a sampler's pos_fraction, a test_cfg's score_thr, a hook's interval (unchecked_ranges)
    return constructor_range(owner, name) or unchecked_range(owner, name)


#: mmdet 3.3's ``IoUBalancedNegSampler``: its constructor takes ``floor_thr`` >= 0 or -1 (its default) and
#: ``floor_fraction`` in [0, 1]; ``_sample_neg`` sets a negative ``floor_thr`` to 0 at its first sampling ("for
#: sampling interval calculation"), so a negative value written mid-run was used once and then replaced by 0, while
#: the history recorded it.
_IOU_BALANCED: dict[str, tuple[Interval, str]] = {
    'floor_thr': (NON_NEGATIVE, 'IoUBalancedNegSampler.floor_thr, an IoU floor: mmdet sets a negative one to 0 at '
                                'its first sampling, so the value used would not be the one written'),
    'floor_fraction': (UNIT, "IoUBalancedNegSampler.floor_fraction, a fraction of the negatives (mmdet's "
                             'constructor check)'),
}


#: mmengine's ``OptimWrapper`` passes ``clip_grad_kwargs`` to torch's ``clip_grad_norm_`` / ``clip_grad_value_`` at
#: every step and checks neither: a negative ``max_norm`` multiplies every gradient by a negative factor (gradient
#: ascent), a negative ``clip_value`` sets every gradient to it, and 0 zeroes them all, silently.
_CLIP_GRAD: dict[str, tuple[Interval, str]] = {
    f'clip_grad_kwargs.{key}': (Interval(0.0, INF, low_open=True),
                                f'OptimWrapper.clip_grad_kwargs.{key}: torch clips with it at every step and checks '
                                'nothing (a negative one ascends or fixes the gradients, 0 zeroes them)')
    for key in ('max_norm', 'clip_value')
}


def _scheduler_range(owner: Any, name: str) -> tuple[Interval, str] | None:
    """The range of an mmengine parameter scheduler's ``eta_min`` (the scheduled key's own range: a negative lr
    floor trained by gradient ascent at the end of the cosine), ``eta_min_ratio`` (>= 0, the floor over the base),
    ``PolyLR``'s ``power`` (>= 0: below it the value grows), ``gamma`` (>= 0: below it the value changes sign
    at every decay) and ``factor`` / ``start_factor`` / ``end_factor`` ([0, 1], mmengine's constructor check;
    ``ReduceOnPlateau``'s [0, 1)); else ``None``."""
    from mmengine.optim.scheduler.param_scheduler import _ParamScheduler

    if not isinstance(owner, _ParamScheduler):
        return None
    cls = type(owner).__name__
    bases = {c.__name__ for c in type(owner).__mro__}
    if name == 'eta_min':
        optimizer = getattr(owner, 'optimizer', None)
        optimizer = getattr(optimizer, 'optimizer', optimizer)  # an OptimWrapper's
        found = optimizer_key_range(optimizer, owner.param_name) if optimizer is not None else None
        return None if found is None else (found[0], f'{cls}.eta_min, the floor of {found[1]}')
    if name == 'gamma':
        return NON_NEGATIVE, f'{cls}.gamma, a multiplicative factor (below 0 the value changes sign)'
    if name == 'power' and 'PolyParamScheduler' in bases:  # (1 - 1 / (T - t + 1)) ** power: below 0 it grows
        return NON_NEGATIVE, f'{cls}.power, the decay exponent (below 0 the value grows at every step)'
    if name == 'eta_min_ratio':  # the floor is base × ratio: below 0 a negative floor, as a negative eta_min
        return NON_NEGATIVE, f'{cls}.eta_min_ratio, the floor over the base value (below 0 a negative floor)'
    if name == 'factor' and 'ReduceOnPlateauParamScheduler' in bases:
        return UNIT_OPEN, f"{cls}.factor (mmengine's check)"
    if name in ('factor', 'start_factor', 'end_factor') and \
            bases & {'ConstantParamScheduler', 'LinearParamScheduler'}:
        return UNIT, f"{cls}.{name} (mmengine's check)"
    return None


def target_ranges(runner: Any, path: str) -> list[tuple[Interval, str]]:
    """The ranges (with their sources) of what ``path`` writes on ``runner``: an optimiser key's (a group path or the
    base form) or an attribute's (:func:`attribute_range`); empty where none is known.

    Raises:
        ValueError: as :func:`~automl_mm.ohl.attributes.resolve_attribute` for a path that does not resolve.
    """
    from .attribute_paths import path_chains, resolve_attribute
    from .optimizer_base import is_optimizer

    parts = path.split('.')
    key = group_key(path)
    found: list[tuple[Interval, str]] = []
    if key is not None:
        at = parts.index('param_groups')
        for chain in path_chains(runner, path, end=at + 1):
            owner = chain[-2][1] if len(chain) >= 2 else None
            optimizer = owner if is_optimizer(owner) else getattr(owner, 'optimizer', None)
            if is_optimizer(optimizer):
                found.append(optimizer_key_range(optimizer, key))
        return [f for f in found if f is not None]
    for node, name in resolve_attribute(runner, path):
        if is_optimizer(node):  # the base form: optim_wrapper.optimizer.lr
            found.append(optimizer_key_range(node, name))
        elif isinstance(name, str):
            found.append(attribute_range(node, name))
    for element in _elements(runner, path):  # class_weight.3: the range of each weight
        found.append(_element_range(element))
    return [f for f in found if f is not None]


def _chains(runner: Any, path: str) -> list[list[tuple[str, Any]]]:
    """The chains of ``path`` to its value (:func:`~automl_mm.ohl.attributes.path_chains`); none for an optimiser
    group or base-form path (checked by the optimiser's rules) or one that does not resolve (named elsewhere)."""
    from .attribute_paths import path_chains

    if group_key(path) is not None:
        return []
    try:
        return path_chains(runner, path)
    except ValueError:
        return []


def _checker(owner: Any, name: str) -> Any:
    """The attribute ``name`` of ``owner``'s class where it checks its writes (a loss's ``class_weight``,
    ``ignore_index``, ``avg_non_ignore``: a descriptor with ``check(owner, value)``), else ``None``."""
    declared = getattr(type(owner), name, None) if isinstance(name, str) else None
    return declared if callable(getattr(declared, 'check', None)) else None


def _elements(runner: Any, path: str, checked: bool = False) -> list[Element]:
    """The :class:`~automl_mm.ohl.element_paths.Element` of each chain of ``path`` that ends at an element of a list,
    tuple or dict held by an object's attribute (``...loss_cls.class_weight.3``; one walk:
    :func:`~automl_mm.ohl.element_paths.element_attribute`); ``checked``: by a checked attribute only
    (:func:`_checker`). A range of the attribute (:func:`attribute_range`) is that of each of its list elements."""
    return [found for found in element_attributes(_chains(runner, path))
            if not checked or _checker(found.owner, found.attribute) is not None]


def _element_range(found: Element) -> tuple[Interval, str] | None:
    """The range of an element: its attribute's (:func:`attribute_range`), where only list indices lead to it; a dict
    key names a setting of its own, with the range :func:`attribute_range` gives that setting (``clip_grad_kwargs.
    max_norm``; ``pad_val.img`` has none)."""
    return attribute_range(found.owner, found.setting)
