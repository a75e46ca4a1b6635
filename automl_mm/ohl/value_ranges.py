"""The checks of a value against the range of what an OHL space writes, at a write and before the first trunk.

A write is refused where its value lies outside the range of its setting (:func:`check_attribute_value`,
:func:`check_elements`, :func:`check_value`; an optimiser group's key: :func:`out_of_range`), has another shape than
what it replaces (:func:`shape_mismatch`) or would be refused by the target itself (:func:`check_accepted`); a space
whose draws can leave the range is refused before the first trunk (:func:`check_draws`). The ranges themselves and
their lookup by path are :mod:`automl_mm.ohl.setting_ranges`' (its docstring lists them, with their sources); the
refusal's wording (:class:`~automl_mm.ohl.range_refusals.OutOfRange`,
:func:`~automl_mm.ohl.range_refusals.draw_use`) is :mod:`automl_mm.ohl.range_refusals`'. Both are re-exported here,
where they lived.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from automl_mm.utils.wording import a_type

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
from .range_refusals import (  # noqa: F401  (re-exported: they lived here)
    TESTS_WITH_IT,
    TRAINS_WITH_IT,
    OutOfRange,
    draw_use,
)
from .setting_ranges import (  # noqa: F401  (re-exported: they lived here)
    GENERIC_RANGES,
    OPTIMIZER_RANGES,
    TRANSFORM_IMAGES,
    _chains,
    _checker,
    _element_range,
    _elements,
    _scalar,
    attribute_range,
    group_key,
    optimizer_key_range,
    target_ranges,
)


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
