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
``prob`` of an mmcv transform (``BaseTransform``) is a probability, [0, 1]; torch's ``nn.Dropout*`` ``p`` too; a
module's ``loss_weight`` (mmdet's and mmpretrain's losses keep a plain float) is >= 0: below it the training
ascends that loss, silently; an augmentation op's ``magnitude`` lies in its ``magnitude_range``; an mmengine
parameter scheduler's ``eta_min`` in the range of the key it schedules, its ``gamma`` >= 0 and its factors in
[0, 1] (:func:`_scheduler_range`).
A loss's ``class_weight`` (:class:`~automl_mm.models.loss_keys.ClassWeightAttribute`, and mmdet's plain list, which
mmdet does not check) has each weight >= 0, one element of it (``...class_weight.3``) too; a list choice is
compared element by element. Targets that check their own writes (a loss's ``class_weight``,
``ignore_index``, ``avg_non_ignore``) are also given each choice, and an element path the whole list with that
element replaced, without writing (:func:`check_accepted`).
Other targets have no known range and are not checked.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from automl_mm.utils.intervals import INF, NON_NEGATIVE, UNIT, UNIT_OPEN, Interval

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


def shape_mismatch(current: Any, value: Any) -> str | None:
    """A message where writing ``value`` over ``current`` changes what the target holds (:func:`value_shape`: a
    list of 2 numbers over an mmdet loss's float ``loss_weight`` or an optimiser group's ``lr``, one number over
    Adam's ``betas``), else ``None`` (same shape, or either not compared)."""
    now, new = value_shape(current), value_shape(value)
    if now is None or new is None or now == new:
        return None
    return (f'it holds {_holds(now)} (a {type(current).__name__}: {current!r}), and {value!r} is '
            f'{_holds(new)}')


def _held_integers(current: Any) -> str | None:
    """What ``current`` holds where it is an integer setting: ``'a bool'``, ``'an int'`` (a NumPy integer and a
    one-element integer tensor too), ``'ints'`` (a non-empty list or tuple of ints, or an integer 1-D tensor), else
    ``None``."""
    if isinstance(current, (bool, np.bool_)):
        return 'a bool'
    if isinstance(current, (int, np.integer)):
        return 'an int'
    if isinstance(current, torch.Tensor):
        if current.dtype == torch.bool or current.dtype.is_floating_point or current.dtype.is_complex:
            return None
        return 'an int' if current.numel() == 1 else 'ints' if current.ndim == 1 else None
    if isinstance(current, (list, tuple)) and current and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in current):
        return 'ints'
    return None


def _not_integers(value: Any) -> list[Any]:
    """The numbers of ``value`` (one number, or the elements of a list, a tuple or a 1-D tensor) whose type is not
    an integer's (a float, a float tensor)."""
    if isinstance(value, torch.Tensor):
        return [] if not (value.dtype.is_floating_point or value.dtype.is_complex) or value.ndim > 1 else \
            value.flatten().tolist()
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _not_integers(item)] if all(
            not isinstance(item, (list, tuple)) for item in value) else []
    return [value] if isinstance(value, (float, complex, np.floating, np.complexfloating)) else []


def integer_mismatch(current: Any, value: Any) -> str | None:
    """A message where ``value`` puts a number that is not an integer (2.7, 3.0: a float, a float tensor) where
    ``current`` holds an integer (:func:`_held_integers`: an int, a bool, a tuple of ints), else ``None``. A
    transform's ``num_ops`` or mmdet's ``CopyPaste.max_num_pasted`` stopped deep inside the transform
    (``range(2.7)``, ``np.random.randint(0, 2.7)``), a factor silently changed meaning, while the sample was
    recorded and credited."""
    held = _held_integers(current)
    if held is None or not _not_integers(value):
        return None
    shown = f'{held} ({current!r})' if held != 'ints' else f'ints (a {type(current).__name__}: {current!r})'
    what = 'not all integers' if isinstance(value, (list, tuple)) or (
        isinstance(value, torch.Tensor) and value.ndim == 1) else 'not an integer'
    return f'holds {shown}, and {value!r} is {what}'


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def as_held_float(current: Any, value: Any) -> Any:
    """``value`` with an int written as a float where ``current`` holds a float there (one number, or a list or
    tuple of numbers element by element, of the same length); else ``value`` as it is. A float setting searched
    with mixed choices (``choices=[0, 0.5]``, checked against the config's float at setup) held the int 0 after
    one write, and the next write of 0.5 (the next trunk, a ``TrunkScheduleHook`` value, the best copy's value
    broadcast after a trunk, on the ranks whose copy drew 0) was refused mid-run as a float over an integer
    setting (:func:`integer_mismatch`)."""
    if _is_int(value):
        return float(value) if isinstance(current, (float, np.floating)) else value
    if isinstance(value, (list, tuple)) and isinstance(current, (list, tuple)) and len(value) == len(current) and \
            any(_is_int(v) and isinstance(c, (float, np.floating)) for v, c in zip(value, current)):
        items = [float(v) if _is_int(v) and isinstance(c, (float, np.floating)) else v for v, c in zip(value, current)]
        return value._make(items) if hasattr(value, '_make') else type(value)(items)
    return value


#: ``{class name (matched along the owner's MRO): attribute names}`` that take real numbers although their defaults
#: and stock configs write ints (mmdet 3.3 / mmengine 0.10, each read where the object runs, not only at
#: ``__init__``): mmdet draws ``uniform(-delta, delta)`` / ``uniform(min_ratio, max_ratio)`` /
#: ``uniform(-max_rotate_degree, ...)`` from the augmentation ranges and fills ``pad_val`` / ``border_val`` /
#: ``fill_in`` / ``img_border_value`` / ``Expand``'s ``mean`` as a colour (``mmdet/datasets/transforms/transforms.py``);
#: the EMA models' ``gamma`` is a time constant in steps (``exp(-(1 + steps) / gamma)``, ``gamma / (gamma + steps)``),
#: a distillation ``T`` and the normed predictors' ``tempearture`` (mmdet's spelling) scale logits, a sine positional
#: encoding's ``temperature`` is the base of its frequencies, the samplers' ``floor_thr`` / ``floor_fraction`` /
#: ``bias``, the margin losses' margins, the match costs' ``weight`` and ``FocalLossCost``'s ``gamma`` are real
#: thresholds, fractions and weights (their docstrings say float), ``FilterAnnotations``' ``min_gt_bbox_wh`` a box
#: size in pixels compared with float widths, ``SegRescale``'s ``scale_factor`` a rescale factor, a data
#: preprocessor's ``pad_value`` (a batch augment's ``pad_value`` / ``img_pad_value``) a pixel value, the IoU
#: assigners' ``ignore_iof_thr=-1`` an IoF threshold (-1: none) and ``CosineRestartLR``'s ``restart_weights``
#: factors. Left out:
#: attributes only read at ``__init__`` (``EQLV2Loss``'s ``gamma``, a partial built there), or whose int form means
#: something (``GHMC`` / ``GHMR``'s ``momentum=0`` builds no moving-average buffer, which a written 0.5 then misses;
#: mmcv's ``Pad`` spreads an int ``pad_val['img']`` over a colour image's channels, while cv2 fills only the first
#: channel with a float: ``pad_val.img`` stays an integer setting).
REAL_VALUED_ATTRIBUTES: dict[str, frozenset[str]] = {
    'PhotoMetricDistortion': frozenset({'brightness_delta', 'hue_delta'}),
    'YOLOXHSVRandomAug': frozenset({'hue_delta', 'saturation_delta', 'value_delta'}),
    'Expand': frozenset({'min_ratio', 'max_ratio', 'mean'}),  # not ratio_range: read only at __init__
    'RandomAffine': frozenset({'max_rotate_degree', 'max_translate_ratio', 'scaling_ratio_range', 'max_shear_degree',
                               'border_val'}),
    'Mosaic': frozenset({'center_ratio_range', 'pad_val'}),
    'CachedMosaic': frozenset({'center_ratio_range', 'pad_val'}),
    'MixUp': frozenset({'ratio_range', 'pad_val'}),
    'CachedMixUp': frozenset({'ratio_range', 'pad_val'}),
    'CutOut': frozenset({'fill_in'}),
    'RandomErasing': frozenset({'img_border_value'}),
    'SegRescale': frozenset({'scale_factor'}),
    'FilterAnnotations': frozenset({'min_gt_bbox_wh'}),
    'ExpMomentumEMA': frozenset({'gamma'}),  # mmdet (YOLOX, RTMDet)
    'MomentumAnnealingEMA': frozenset({'gamma'}),  # mmengine
    'KnowledgeDistillationKLDivLoss': frozenset({'T'}),
    'NormedLinear': frozenset({'tempearture'}),
    'NormedConv2d': frozenset({'tempearture'}),
    'SinePositionalEncoding': frozenset({'temperature'}),
    'IoUBalancedNegSampler': frozenset({'floor_thr', 'floor_fraction'}),
    'ScoreHLRSampler': frozenset({'bias'}),
    'MarginL2Loss': frozenset({'pos_margin', 'neg_margin'}),
    'L2Loss': frozenset({'pos_margin', 'neg_margin'}),
    'BaseMatchCost': frozenset({'weight'}),
    'FocalLossCost': frozenset({'gamma'}),
    'ImgDataPreprocessor': frozenset({'pad_value'}),  # mmengine's; mmdet's DetDataPreprocessor is one
    'ReIDDataPreprocessor': frozenset({'pad_value'}),
    'BatchResize': frozenset({'pad_value'}),  # mmdet's batch augments pad the normalised float batch
    'BatchFixedSizePad': frozenset({'img_pad_value'}),
    'MaxIoUAssigner': frozenset({'ignore_iof_thr'}),  # -1: off; ApproxMaxIoUAssigner is one
    'ATSSAssigner': frozenset({'ignore_iof_thr'}),
    'CosineRestartParamScheduler': frozenset({'restart_weights'}),
}

#: Keys of mmengine's ``OptimWrapper.clip_grad_kwargs`` (``clip_grad=dict(max_norm=35, norm_type=2)``), which torch's
#: ``clip_grad_norm_`` / ``clip_grad_value_`` take as real numbers.
_CLIP_GRAD_KEYS = frozenset({'max_norm', 'norm_type', 'clip_value'})


def _real_valued(node: Any, name: Any, path: str) -> bool:
    """Whether ``name`` of ``node`` is known to take real numbers whatever it holds (:data:`REAL_VALUED_ATTRIBUTES`,
    a gradient clipping key: :data:`_CLIP_GRAD_KEYS`)."""
    if isinstance(node, dict):
        parts = path.split('.')
        return len(parts) >= 2 and parts[-2] == 'clip_grad_kwargs' and name in _CLIP_GRAD_KEYS
    return isinstance(name, str) and any(name in REAL_VALUED_ATTRIBUTES.get(c.__name__, ()) for c in type(node).__mro__)


def element_attribute(chain: list[tuple[str, Any]]) -> tuple[Any, str, str] | None:
    """``(owner, attribute name, the attribute's path)`` where ``chain``
    (:func:`~automl_mm.ohl.attributes.path_chains`) ends at an element of a list or tuple (one integer index or
    several, into nested ones) that an object's attribute or a dict's key holds: ``...transforms.4.border_val.0``
    gives ``(RandomAffine, 'border_val', '...transforms.4.border_val')``; else ``None``. What is known of an attribute
    (:func:`_real_valued`, :func:`attribute_range`) holds for each of its elements."""
    k = len(chain) - 1
    while k >= 1 and isinstance(chain[k - 1][1], (list, tuple)) and chain[k][0].lstrip('-').isdigit():
        k -= 1
    if k == len(chain) - 1 or k < 1:
        return None
    return chain[k - 1][1], chain[k][0], '.'.join(part for part, _ in chain[:k + 1])


def _element_owners(runner: Any, path: str) -> dict[tuple[int, str], tuple[Any, str, str]]:
    """``{(id(sequence), index): (owner, attribute, its path)}`` of each chain of ``path`` that ends at an element
    (:func:`element_attribute`), keyed as :func:`~automl_mm.ohl.attributes.resolve_attribute` gives the pair."""
    found = {}
    for chain in _chains(runner, path) if runner is not None else ():
        held = element_attribute(chain)
        if held is not None:
            found[(id(chain[-2][1]), str(int(chain[-1][0])))] = held
    return found


def _integer_pairs(pairs: list[tuple[Any, Any]], path: str, runner: Any = None) -> list[Any]:
    """What each of ``pairs`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`) holds, where an integer held
    there is an integer setting: not an optimiser group's (:func:`group_key`; torch's settings are real numbers,
    ``weight_decay=0`` too), an attribute with a known real range (:func:`attribute_range`: a loss's
    ``loss_weight=1``, a scheduler's ``eta_min=0``) nor one known to take real numbers (:func:`_real_valued`:
    ``PhotoMetricDistortion``'s ``brightness_delta=32``, ``clip_grad_kwargs``' ``max_norm=35``). An element of a
    list or tuple (``RandomAffine``'s ``border_val.0``, a loss's ``class_weight.1``) is judged by the attribute that
    holds it (:func:`element_attribute`; with ``runner``, which the chains are read from)."""
    if group_key(path) is not None:
        return []
    owners = _element_owners(runner, path)
    found = []
    for node, name in pairs:
        current = node[name] if isinstance(node, (dict, list, tuple)) else getattr(node, name, None)
        held = owners.get((id(node), str(name))) if isinstance(node, (list, tuple)) else None
        owner, attribute, at = held if held is not None else (node, name, path)
        if isinstance(attribute, str) and not isinstance(owner, (dict, list, tuple)) and \
                attribute_range(owner, attribute) is not None:
            continue
        if _real_valued(owner, attribute, at):
            continue
        found.append(current)
    return found


def check_attribute_integer(pairs: list[tuple[Any, Any]], path: str, value: Any, runner: Any = None) -> None:
    """Refuse writing ``value`` to the attributes ``pairs`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`)
    where it puts a number that is not an integer over an integer setting (:func:`integer_mismatch`,
    :func:`_integer_pairs`; ``runner``: where an element path's attribute is read).

    Raises:
        ValueError: ``attribute path '<path>' holds <what> (<value>), and <value> is not an integer``, with the fix.
    """
    for current in _integer_pairs(pairs, path, runner):
        found = integer_mismatch(current, value)
        if found is not None:
            raise ValueError(f'attribute path {path!r} {found}: the attribute would get a float where it holds an '
                             'integer (a count, a size, an index or a flag); write an integer (if it takes real '
                             'numbers, write its config value as a float, e.g. 2.0)')


def gaussian_on_integer(runner: Any, path: str) -> str | None:
    """``"holds <what> (<value>)"`` where ``path`` reaches an integer setting (:func:`_integer_pairs`), which a
    Gaussian's samples (never integers) must not be written to; else ``None``.

    Raises:
        ValueError: as :func:`~automl_mm.ohl.attributes.resolve_attribute` for a path that does not resolve.
    """
    from .attributes import resolve_attribute

    for current in _integer_pairs(resolve_attribute(runner, path), path, runner):
        held = _held_integers(current)
        if held is not None:
            return f'holds {held} ({current!r})' if held != 'ints' else \
                f'holds ints (a {type(current).__name__}: {current!r})'
    return None


def check_shape(runner: Any, path: str, value: Any) -> None:
    """Refuse ``value`` where it has another shape than what ``path`` holds now (:func:`shape_mismatch`), without
    writing it: a list written over mmdet's float ``loss_weight`` stopped the copy at its first forward (``list *
    Tensor``), over a group's ``lr`` at its first step, and one number over Adam's ``betas`` at its first step too.

    Raises:
        ValueError: naming the path, what it holds (type and value) and what ``value`` is.
    """
    from .attributes import get_attribute

    for current in get_attribute(runner, path):
        found = shape_mismatch(current, value)
        if found is not None:
            raise ValueError(f'attribute path {path!r}: {found}')


def attribute_range(owner: Any, name: str) -> tuple[Interval, str] | None:
    """``(range, source)`` of the attribute ``name`` of the object ``owner`` (not an optimiser group), else ``None``:
    a ``CheckedFloat`` with an ``interval``, an mmcv transform's ``prob``, torch's dropout ``p``, an augmentation
    op's ``magnitude`` (its ``magnitude_range``), a parameter scheduler's (:func:`_scheduler_range`), a loss
    module's ``loss_weight`` (>= 0)."""
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
        return UNIT, f'{type(owner).__name__}.p, a probability'
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
    if name == 'class_weight' and isinstance(owner, torch.nn.Module):
        # mmdet's CrossEntropyLoss keeps the list as given and checks nothing: a weight below 0 ascends that class's
        # loss, silently (automl_mm's losses declare it: ClassWeightAttribute.interval, above)
        return NON_NEGATIVE, (f'{type(owner).__name__}.class_weight, each a class weight (below 0 that class\'s '
                              'loss is ascended)')
    return None


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


def check_attribute_shape(pairs: list[tuple[Any, Any]], path: str, value: Any, runner: Any = None) -> None:
    """Refuse writing ``value`` to the attributes ``pairs`` (:func:`~automl_mm.ohl.attributes.resolve_attribute`)
    where it has another shape than what one of them holds (:func:`shape_mismatch`), or puts a number that is not
    an integer over an integer setting (:func:`check_attribute_integer`, given ``runner``).

    Raises:
        ValueError: naming the path, what it holds (type and value) and what ``value`` is.
    """
    for node, name in pairs:  # a list over a float (mmdet's loss_weight), a number over a tuple (Adam's betas)
        current = node[name] if isinstance(node, (dict, list, tuple)) else getattr(node, name, None)
        found = shape_mismatch(current, value)
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
            raise ValueError(f'attribute path {path!r}: {value!r} lies outside {found[0]} ({found[1]})')


def _checks_itself() -> type:
    from automl_mm.models.losses import CheckedFloat

    return CheckedFloat


def target_ranges(runner: Any, path: str) -> list[tuple[Interval, str]]:
    """The ranges (with their sources) of what ``path`` writes on ``runner``: an optimiser key's (a group path or the
    base form) or an attribute's (:func:`attribute_range`); empty where none is known.

    Raises:
        ValueError: as :func:`~automl_mm.ohl.attributes.resolve_attribute` for a path that does not resolve.
    """
    from .attributes import path_chains, resolve_attribute
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
    for owner, name, _ in _elements(runner, path):  # class_weight.3: the range of each weight
        found.append(attribute_range(owner, name))
    return [f for f in found if f is not None]


def _chains(runner: Any, path: str) -> list[list[tuple[str, Any]]]:
    """The chains of ``path`` to its value (:func:`~automl_mm.ohl.attributes.path_chains`); none for an optimiser
    group or base-form path (checked by the optimiser's rules) or one that does not resolve (named elsewhere)."""
    from .attributes import path_chains

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


def _elements(runner: Any, path: str, checked: bool = False) -> list[tuple[Any, str, tuple[Any, int]]]:
    """``(owner, attribute, (sequence, index))`` for each chain of ``path`` that ends at an element of a list or
    tuple held by an object's attribute (``...loss_cls.class_weight.3``); ``checked``: by a checked attribute only
    (:func:`_checker`). A range of the attribute (:func:`attribute_range`) is that of each element."""
    found = []
    for chain in _chains(runner, path):
        if len(chain) < 3 or not chain[-1][0].lstrip('-').isdigit():
            continue
        (name, sequence), owner = chain[-2], chain[-3][1]
        if isinstance(sequence, (list, tuple)) and not isinstance(owner, (dict, list, tuple)) and \
                (not checked or _checker(owner, name) is not None):
            found.append((owner, name, (sequence, int(chain[-1][0]))))
    return found


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
        ranges = [found for owner, name, _ in _elements(runner, path)
                  if (found := attribute_range(owner, name)) is not None]
    else:
        return
    for interval, source in ranges:
        if any(v is not None and not interval.contains(v) for v in numbers):
            raise ValueError(f'attribute path {path!r}: {value!r} lies outside {interval} ({source})')


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
    for owner, name, (sequence, index) in _elements(runner, path, checked=True):
        whole = list(sequence)
        whole[index] = value
        try:
            _checker(owner, name).check(owner, whole)
        except (ValueError, FileNotFoundError) as err:
            raise ValueError(f'attribute path {path!r}: {value!r} makes {name} {whole!r}: {err}') from None


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
            raise ValueError(f'attribute path {path!r}: {value!r} lies outside {interval} ({source})')


def check_draws(space: Any, runner: Any, path: str) -> None:
    """Refuse a space whose draws can leave the range of what ``path`` writes (:func:`target_ranges`): a Gaussian
    (no ``choices``) whose transform's image (:data:`TRANSFORM_IMAGES`) is not inside it, or a choice outside it;
    and a choice the target would refuse when written (:func:`check_accepted`: a loss's ``class_weight`` with a
    negative weight, or one element of it).

    Raises:
        ValueError: ``OHL space '<name>': attribute path '<path>': ...``, naming the transform (or the choice), the
            range and its source, and what to search instead.
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
    for interval, source in ranges:
        if choices is not None:
            for value in choices:
                # a list of numbers (a whole class_weight, Adam's betas): the range is each element's
                numbers = [_scalar(v) for v in value] if value_shape(value) and not torch.is_tensor(value) else \
                    [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []
                if any(v is not None and not interval.contains(v) for v in numbers):
                    raise ValueError(f'{where}: choice {value!r} lies outside {interval} ({source}); a copy that '
                                     f'drew it would train with it')
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
                         f'value would train with it or stop the run at its trunk. Search it with {fix}')
