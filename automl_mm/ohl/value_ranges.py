"""The valid range of what an OHL space writes, and the range a space can draw, compared before the first trunk.

An ``AttributeSpace`` writes one value per copy per trunk: a Gaussian sample through its ``transform``
(``None``: any real number; ``'exp'`` / ``'pow10'``: any positive number), or one of its ``choices``. A target
with a bounded range (SGD's ``momentum`` in [0, 1), a probability in [0, 1]) receives, sooner or later, a value
outside it unless the image of what the space draws lies inside it; torch checks an optimiser's settings only when it
is built (and some of them not at all: ``SGD(momentum=1.5)`` builds and diverges), so such a value either trained
silently or stopped the whole run at the trunk that drew it. :func:`check_draws` compares the two and names the
space, the path, the transform and the range.

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
list with that element replaced, without writing (:func:`check_accepted`).
Other targets have no known range and are not checked.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from automl_mm.utils.intervals import INF, NON_NEGATIVE, UNIT, UNIT_OPEN, Interval
from automl_mm.utils.wording import a_type

from .constructor_ranges import constructor_range
from .element_paths import Element, element_attribute, element_attributes, replaced  # noqa: F401  (re-exported)
from .integer_settings import (  # noqa: F401  (re-exported: they lived here)
    FLOAT_ADVICE,
    FLOAT_ADVICE_BY_SETTING,
    REAL_VALUED_ATTRIBUTES,
    as_held_float,
    check_attribute_integer,
    gaussian_on_integer,
    integer_advice,
    integer_mismatch,
)
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


def out_of_range(optimizer: Any, old: dict, new: dict) -> str | None:
    """A message for the first key of the parameter group ``new`` that this write changed from ``old`` and that lies
    outside its range (:data:`OPTIMIZER_RANGES`), else ``None``; a key already out of range before is left alone."""
    for key, value in new.items():
        found = optimizer_key_range(optimizer, key) if key != 'params' else None
        if found is None:
            continue
        interval, source = found
        values = [_scalar(v) for v in value] if key == 'betas' and isinstance(value, (list, tuple)) else \
            [_scalar(value)]
        before = old.get(key)
        before = [_scalar(v) for v in before] if isinstance(before, (list, tuple)) else [_scalar(before)] * len(values)
        for i, v in enumerate(values):
            was = before[i] if i < len(before) else None
            if v is None or v == was or interval.contains(v) or (was is not None and not interval.contains(was)):
                continue  # not a number, unchanged, inside, or out of range before this write
            name = f'{key}[{i}]' if key == 'betas' else key
            return f'{name}={v!r} lies outside {interval} ({source})'
    return None


def _scalar(value: Any) -> float | None:
    """A real number (a one-element tensor's value) as a float, else ``None``."""
    if isinstance(value, torch.Tensor):
        return float(value) if value.numel() == 1 and not value.is_complex() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def value_shape(value: Any) -> int | None:
    """What ``value`` holds, for comparing a written value with the one it replaces: ``0`` for one real number (a
    one-element tensor's included, as :func:`_scalar`), ``k`` for a list, a tuple or a 1-D tensor of ``k`` real
    numbers, else ``None`` (anything else: not compared)."""
    if _scalar(value) is not None:
        return 0
    if isinstance(value, torch.Tensor):
        return value.numel() if value.ndim == 1 and not value.is_complex() else None
    if isinstance(value, (list, tuple)) and value and all(_scalar(v) is not None and not isinstance(v, torch.Tensor)
                                                          for v in value):
        return len(value)
    return None


def _holds(shape: int) -> str:
    return 'one number' if shape == 0 else f'{shape} numbers'


def shape_mismatch(current: Any, value: Any, path: str = '<path>') -> str | None:
    """A message where writing ``value`` over ``current`` changes what the target holds (:func:`value_shape`: a
    list of 2 numbers over an mmdet loss's float ``loss_weight`` or an optimiser group's ``lr``, one number over
    Adam's ``betas``; numbers over a dict, naming its keys under ``path``: mmcv's ``Pad`` makes ``pad_val=114`` a
    dict at ``__init__`` and reads the dict at every call), else ``None`` (same shape, or either not compared)."""
    now, new = value_shape(current), value_shape(value)
    if isinstance(current, Mapping) and new is not None:
        return f'it holds a dict ({current!r}), and {value!r} is {_holds(new)}: ' + _dict_advice(current, value, path)
    if now is None or new is None or now == new:
        return None
    return (f'it holds {_holds(now)} ({a_type(current)}: {current!r}), and {value!r} is '
            f'{_holds(new)}')


def _dict_advice(current: Mapping, value: Any, path: str) -> str:
    """What to write instead of ``value`` (numbers, :func:`value_shape`) over the dict ``current`` at ``path``: the
    keys that hold as many numbers; where none does (3 numbers, one fill per channel, over mmcv's ``Pad``'s
    ``pad_val=dict(img=114, seg=255)``, whose keys hold one number each), the whole dict with the numbers as a tuple
    under a key that holds one number (mmcv's ``impad`` fills each channel from a tuple and refuses a list)."""
    new = value_shape(value)
    fitting = [f'{path}.{key}' for key, held in current.items() if value_shape(held) == new]
    if fitting:
        return f'write one of its keys ({", ".join(fitting)})'
    held = ', '.join(f'{path}.{key} holds {_holds(shape)}' if (shape := value_shape(item)) is not None else
                     f'{path}.{key} holds {item!r}' for key, item in current.items())
    if new == 0:  # one number (a one-element tensor's too) over keys that all hold several: it under a key
        numbers: Any = _scalar(value)
        how = 'the number under the key that takes it'
    else:  # plain numbers (a tensor's, numpy's as Python's), so the example evaluates as written
        numbers = tuple(v.item() if hasattr(v, 'item') else v for v in
                        (value.tolist() if isinstance(value, torch.Tensor) else value))
        how = 'the numbers as a tuple under the key that takes them'
    key = next((key for key, item in current.items() if value_shape(item) == 0), next(iter(current), None))
    example = {**current, key: numbers} if key is not None else {'<key>': numbers}
    return (f'none of its keys holds {_holds(new)} ({held}): write the whole dict, {how}, e.g. {example!r}, or give '
            f'that key {_holds(new)} in the config (floats where it takes real numbers; a search space writes '
            'numbers, not a dict) and write that key')


def check_shape(runner: Any, path: str, value: Any) -> None:
    """Refuse ``value`` where it has another shape than what ``path`` holds now (:func:`shape_mismatch`), without
    writing it: a list written over mmdet's float ``loss_weight`` stopped the copy at its first forward (``list *
    Tensor``), over a group's ``lr`` at its first step, and one number over Adam's ``betas`` at its first step too.

    Raises:
        ValueError: naming the path, what it holds (type and value) and what ``value`` is.
    """
    from .attributes import get_attribute

    for current in get_attribute(runner, path):
        found = shape_mismatch(current, value, path)
        if found is not None:
            raise ValueError(f'attribute path {path!r}: {found}')


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


class OutOfRange(ValueError):
    """A written value outside its setting's range (:func:`check_attribute_value`, :func:`check_elements`,
    :func:`check_value`): ``attribute path '<path>': <value> lies outside <interval> (<source>)``. A space refusing
    a choice so adds what a copy that drew it would do with it (:func:`draw_use`)."""


def check_attribute_shape(pairs: list[tuple[Any, Any]], path: str, value: Any, runner: Any = None) -> None:
    """Refuse writing ``value`` to the attributes ``pairs`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`)
    where it has another shape than what one of them holds (:func:`shape_mismatch`), or puts a number that is not
    an integer over an integer setting (:func:`check_attribute_integer`, given ``runner``).

    Raises:
        ValueError: naming the path, what it holds (type and value) and what ``value`` is.
    """
    for node, name in pairs:  # a list over a float (mmdet's loss_weight), a number over a tuple (Adam's betas)
        current = node[name] if isinstance(node, (dict, list, tuple)) else getattr(node, name, None)
        found = shape_mismatch(current, value, path)
        if found is not None:
            raise ValueError(f'attribute path {path!r}: {found}')
    check_attribute_integer(pairs, path, value, runner)  # 2.7 over a transform's num_ops


def check_attribute_value(pairs: list[tuple[Any, Any]], path: str, value: Any, runner: Any = None) -> None:
    """Refuse writing ``value`` to the attributes ``pairs`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`)
    where it lies outside a known range (:func:`attribute_range`: a transform's ``prob`` of 1.5 applied the
    transform to every image, an mmdet loss's ``loss_weight`` of -1 ascended the loss, silently). A
    ``CheckedFloat`` checks its own writes and is left to it. Refuse too a value of another shape than the one it
    replaces (:func:`shape_mismatch`: a list over a float, a number over a tuple of numbers).

    Raises:
        ValueError: naming the path, the value, the range and its source; or the path, what it holds and what the
            value is.
    """
    check_attribute_shape(pairs, path, value, runner)
    number = _scalar(value)
    if number is None:
        return
    for node, name in pairs:
        if not isinstance(name, str) or isinstance(getattr(type(node), name, None), _checks_itself()):
            continue
        found = attribute_range(node, name)
        if found is not None and not found[0].contains(number):
            raise OutOfRange(f'attribute path {path!r}: {value!r} lies outside {found[0]} ({found[1]})')


def _checks_itself() -> type:
    from automl_mm.models.losses import CheckedFloat

    return CheckedFloat


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


def check_elements(runner: Any, path: str, value: Any) -> None:
    """Refuse a list, tuple or 1-D tensor of numbers with an element outside the range of what ``path`` writes
    (:func:`target_ranges`: the range of each element, a loss's ``class_weight`` >= 0), or one number written to an
    element of a list attribute (``...loss_cls.class_weight.1``) outside that attribute's range, without writing:
    mmdet's ``CrossEntropyLoss`` keeps ``class_weight`` as given and trained with a negative weight, ascending that
    class's loss, silently. One number at an attribute path is :func:`check_attribute_value`'s.

    Raises:
        ValueError: naming the path, the value, the range and its source.
    """
    if value_shape(value):
        numbers = [_scalar(v) for v in value]
        ranges = target_ranges(runner, path)
    elif _scalar(value) is not None:
        numbers = [_scalar(value)]
        ranges = [found for element in _elements(runner, path) if (found := _element_range(element)) is not None]
    else:
        return
    for interval, source in ranges:
        if any(v is not None and not interval.contains(v) for v in numbers):
            raise OutOfRange(f'attribute path {path!r}: {value!r} lies outside {interval} ({source})')


def check_accepted(runner: Any, path: str, value: Any) -> None:
    """Refuse ``value`` where the attribute that ``path`` writes would refuse it (a loss's ``class_weight``,
    ``ignore_index`` and ``avg_non_ignore`` check their writes:
    :class:`~automl_mm.models.loss_keys.ClassWeightAttribute`),
    without writing: a negative or non-finite weight, a whole ``class_weight`` of another length than the scores
    its head gives (:func:`~automl_mm.engine.preflight_losses.scores_given`; the loss itself sees it at the first
    forward), an ``ignore_index`` that is not an int, an ``avg_non_ignore`` that is not a bool. An element path
    (``...class_weight.3``) is checked as the whole list with that element replaced: the write itself goes into
    the list, which the loss does not see, so a weight of -1 there trained silently.

    Raises:
        ValueError: ``attribute path '<path>': <the loss's message>`` (a length: naming the head and its scores).
    """
    from automl_mm.engine.preflight_losses import scores_given

    for chain in _chains(runner, path):
        if len(chain) < 2:
            continue
        (name, _), owner = chain[-1], chain[-2][1]
        checker = _checker(owner, name)
        if checker is None:
            continue
        try:
            checked = checker.check(owner, value)
        except (ValueError, FileNotFoundError) as err:
            raise ValueError(f'attribute path {path!r}: {err}') from None
        expected = scores_given(chain[-3][1], chain[-2][0]) if len(chain) >= 3 and name == 'class_weight' else None
        if isinstance(checked, list) and expected is not None and len(checked) != expected:
            raise ValueError(f'attribute path {path!r}: {value!r} has {len(checked)} values, but the head '
                             f'{type(chain[-3][1]).__name__} gives {type(owner).__name__} {expected} scores per row '
                             '(one weight per score; the first forward would stop inside the loss)')
    for element in _elements(runner, path, checked=True):
        whole = replaced(element.held, element.keys, value)
        try:
            _checker(element.owner, element.attribute).check(element.owner, whole)
        except (ValueError, FileNotFoundError) as err:
            raise ValueError(f'attribute path {path!r}: {value!r} makes {element.attribute} {whole!r}: {err}') from None


def check_value(runner: Any, path: str, value: Any) -> None:
    """Refuse ``value`` where it lies outside a range of what ``path`` writes (:func:`target_ranges`, a loss's
    ``CheckedFloat`` included), without writing it: a replayed schedule checks every trunk's value at its start.

    Raises:
        ValueError: naming the path, the value, the range and its source; a value of another shape than what
            ``path`` holds (:func:`check_shape`), naming what it holds.
    """
    check_shape(runner, path, value)
    check_accepted(runner, path, value)  # a loss's class_weight element of -1, an ignore_index of 2.0
    check_elements(runner, path, value)  # mmdet's class_weight [1, -1, 1]
    number = _scalar(value)
    if number is None:
        return
    for interval, source in target_ranges(runner, path):
        if not interval.contains(number):
            raise OutOfRange(f'attribute path {path!r}: {value!r} lies outside {interval} ({source})')


#: The loops and loaders a run reads only to validate or test: a setting under them is used there, not in training.
_TEST_HOLDERS = frozenset({'val_dataloader', 'test_dataloader', 'val_loop', 'test_loop', 'val_evaluator',
                           'test_evaluator'})
#: What a copy does with a value of a setting read at test time (a head's or detector's ``test_cfg``).
TESTS_WITH_IT = ('predict with it (its reward at each trunk end and its validations would score the predictions of '
                 'that value)')
TRAINS_WITH_IT = 'train with it'


def draw_use(runner: Any, path: str) -> str:
    """What a copy that drew a value at ``path`` does with it, by the setting's use, completing "a copy that drew it
    would ...": a setting read at test time (a ``test_cfg`` key, one under a val / test loader or loop) is predicted
    with (:data:`TESTS_WITH_IT`), a hook's setting runs that hook (``run its LoggerHook with it``: its schedule or
    threshold), any other is trained with (:data:`TRAINS_WITH_IT`). Several targets of other uses (a ``*`` path):
    each, joined by "or"."""
    from mmengine.hooks import Hook

    from .attribute_paths import resolve_attribute

    if path.split('.', 1)[0] in _TEST_HOLDERS:
        return TESTS_WITH_IT
    try:
        settings = [(found.owner, found.setting) for found in _elements(runner, path)] or \
            [(node, name) for node, name in resolve_attribute(runner, path) if isinstance(name, str)]
    except ValueError:  # named by the path's own check
        settings = []
    uses = [TESTS_WITH_IT if name.split('.', 1)[0] == 'test_cfg' else
            f'run its {type(owner).__name__} with it' if isinstance(owner, Hook) else TRAINS_WITH_IT
            for owner, name in settings]
    return ' or '.join(dict.fromkeys(uses)) or TRAINS_WITH_IT


def check_draws(space: Any, runner: Any, path: str) -> None:
    """Refuse a space whose draws can leave the range of what ``path`` writes (:func:`target_ranges`): a Gaussian
    (no ``choices``) whose transform's image (:data:`TRANSFORM_IMAGES`) is not inside it, or a choice outside it;
    and a choice the target would refuse when written (:func:`check_accepted`: a loss's ``class_weight`` with a
    negative weight, or one element of it).

    Raises:
        ValueError: ``OHL space '<name>': attribute path '<path>': ...``, naming the transform (or the choice), the
            range and its source, what a copy that drew it would do with it (:func:`draw_use`: train, predict, run a
            hook) and what to search instead.
    """
    where = f'OHL space {space.name!r}: attribute path {path!r}'
    choices = getattr(space, 'choices', None)
    for value in choices or ():  # what the target refuses itself: a negative class_weight, ignore_index=2.0
        try:
            check_accepted(runner, path, value)
        except ValueError as err:
            raise ValueError(f'OHL space {space.name!r}: choice {value!r}: {err}; a copy that drew it would stop '
                             'the run at its trunk') from None
    ranges = target_ranges(runner, path)
    if not ranges:
        return
    use = draw_use(runner, path)
    for interval, source in ranges:
        if choices is not None:
            for value in choices:
                # a list of numbers (a whole class_weight, Adam's betas): the range is each element's
                numbers = [_scalar(v) for v in value] if value_shape(value) and not torch.is_tensor(value) else \
                    [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []
                if any(v is not None and not interval.contains(v) for v in numbers):
                    raise ValueError(f'{where}: choice {value!r} lies outside {interval} ({source}); a copy that '
                                     f'drew it would {use}')
            continue
        if not hasattr(getattr(space, 'distribution', None), 'mean') or hasattr(space.distribution, 'probs'):
            continue  # not a Gaussian
        transform = getattr(space, 'transform', None)
        image = TRANSFORM_IMAGES.get(transform)
        if image is None or interval.covers(image):
            continue
        fix = ("transform='exp' (or 'pow10'), the mean then being the log of the value"
               if interval.covers(TRANSFORM_IMAGES['exp']) else
               'a Categorical distribution with choices inside it (e.g. choices=[0.8, 0.9, 0.95])')
        raise ValueError(f'{where}: a Gaussian sample under transform={transform!r} takes any value in {image}, '
                         f'which leaves {interval} ({source}) with positive probability; the copy that drew such a '
                         f'value would {use} or stop the run at its trunk. Search it with {fix}')
