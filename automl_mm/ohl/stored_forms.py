"""Settings an object keeps in another form than its config gave: a path writes and reads them in the config's form.

mmdet 3.3's ``Expand`` and ``RandomCenterCropPad`` keep ``mean`` (and ``RandomCenterCropPad`` its ``std``) reversed
when built with ``to_rgb=True`` (``Expand``'s default): ``Expand(mean=(10, 20, 30))`` holds ``mean=(30, 20, 10)`` and
fills the canvas with it, channel by channel. A value written at ``...transforms.<i>.mean`` as it was, in the config's
order (what an ``AttributeSpace`` exports to the config and a ``SetAttributesHook`` replays), filled each channel with
another channel's value, and the history recorded a colour the images never had; ``mean.0`` wrote the last channel.
mmengine's ``EarlyStoppingHook`` keeps ``min_delta`` negated under ``rule='less'``: a written 0.05 held as +0.05
counted a loss up to 0.05 worse than the best as a gain (the meaning flipped), and the exported config's value
would not have been the one searched.
:data:`STORED_FORMS` names such settings; :func:`~automl_mm.ohl.attributes.set_attribute` stores a written value (a
whole setting or one element of it, ``mean.0`` being the config's channel 0) as the constructor would have from that
config value, and :func:`~automl_mm.ohl.attributes.get_attribute` reads it back in the config's form.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def _reversed_under_to_rgb(owner: Any, value: Any) -> Any:
    """``value`` reversed where ``owner`` was built with ``to_rgb`` (its own inverse: config to stored and back); a
    numpy array too (``Expand(mean=np.array(...))``: mmdet's ``mean[::-1]`` reverses it as it does a list)."""
    return value[::-1] if getattr(owner, 'to_rgb', False) and isinstance(value, (list, tuple, np.ndarray)) else value


def _negated_under_less(owner: Any, value: Any) -> Any:
    """``value`` negated where ``owner`` (mmengine's ``EarlyStoppingHook``) compares by ``rule='less'`` (its own
    inverse): mmengine keeps ``min_delta if rule == 'greater' else -1 * min_delta``."""
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    return -value if number and getattr(owner, 'rule', None) == 'less' else value


#: ``{class name (matched along the owner's MRO): {attribute: conversion}}``: the conversion takes ``(owner,
#: value)`` and turns a config value into the stored one and the stored one back (mmdet 3.3
#: ``datasets/transforms/transforms.py``: ``self.mean = mean[::-1]`` under ``to_rgb``; mmengine 0.10
#: ``hooks/early_stopping_hook.py``: ``self.min_delta = min_delta if rule == 'greater' else -1 * min_delta``).
STORED_FORMS: dict[str, dict[str, Callable[[Any, Any], Any]]] = {
    'Expand': {'mean': _reversed_under_to_rgb},
    'RandomCenterCropPad': {'mean': _reversed_under_to_rgb, 'std': _reversed_under_to_rgb},
    'EarlyStoppingHook': {'min_delta': _negated_under_less},
}

_NAMES = frozenset(name for forms in STORED_FORMS.values() for name in forms)


def conversion(owner: Any, name: Any) -> Callable[[Any, Any], Any] | None:
    """The conversion of ``owner``'s attribute ``name`` between its config and stored forms (:data:`STORED_FORMS`),
    else ``None`` (stored as given)."""
    if name not in _NAMES or isinstance(owner, (dict, list, tuple)):  # first: the state comparison asks of every
        return None  # attribute of every module (state_writes.snapshot)
    for cls in type(owner).__mro__:
        found = STORED_FORMS.get(cls.__name__, {}).get(name)
        if found is not None:
            return found
    return None


def config_form(owner: Any, name: Any, stored: Any) -> Any:
    """What ``owner``'s attribute ``name`` holding ``stored`` was given as in the config."""
    convert = conversion(owner, name)
    return stored if convert is None else convert(owner, stored)


def stored_form(owner: Any, name: Any, value: Any) -> Any:
    """What ``owner`` keeps in its attribute ``name`` for the config value ``value``."""
    convert = conversion(owner, name)
    return value if convert is None else convert(owner, value)


def config_element(owner: Any, name: Any, held: Any, keys: tuple[str, ...]) -> Any:
    """The element at ``keys`` (list indices, dict keys) of ``owner``'s attribute ``name`` holding ``held``, as the
    config gave it: ``RandomCenterCropPad(mean=[0, 10.5, 20.0], to_rgb=True)`` holds ``[20.0, 10.5, 0]``, and
    ``mean.2`` is the config's 20.0, not the stored 0. What a write of one element is checked against (its integer
    check: :mod:`automl_mm.ohl.integer_settings`; its shape), as the write itself goes into the config's form.

    Raises:
        KeyError, IndexError: ``keys`` do not lead into ``held`` (a path that resolved does not).
    """
    value = config_form(owner, name, held)
    for key in keys:
        value = value[key] if isinstance(value, Mapping) else value[int(key)]
    return value
