"""Values written into an exported config (``final_policy.py``, ``schedule_policy.py``, the NAS retrain configs
and backbone fragments) as text that mmengine's ``Config.fromfile`` reads back as the same values, in a fresh
process that imports nothing.

``repr`` / ``pprint`` of a value that the Python API accepts is not always such text: a NumPy scalar
(``list(np.linspace(0, 1e-3, 3))`` as an ``AttributeSpace``'s choices, ``fill=np.int64(100)``) is written
``np.float64(0.0005)`` (NumPy >= 2), a non-finite float ``inf`` / ``nan``, a named tuple ``Point(x=1, y=2)``: each
a ``NameError`` when the exported file is loaded. :func:`config_literal` writes them as ``0.0005``, ``100``,
``float('inf')`` and ``(1, 2)``; a float's ``repr`` reads back bit for bit, tuples stay tuples and lists lists.
"""
from __future__ import annotations

import math
import pprint
from typing import Any

import numpy as np


class _Expression:
    """An object whose ``repr`` (what ``pprint`` writes) is the given Python expression."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def config_value(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays as Python numbers and lists, dict subclasses (``ConfigDict``,
    ``OrderedDict``) as dicts and named tuples as tuples, recursively; non-finite floats as objects whose ``repr``
    is ``float('inf')`` / ``float('-inf')`` / ``float('nan')`` (only for writing with :func:`config_literal`)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {config_value(k): config_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [config_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(config_value(v) for v in value)
    if isinstance(value, float) and not math.isfinite(value):
        return _Expression(f"float('{value}')")
    if isinstance(value, float) and type(value) is not float:
        return float(value)
    if isinstance(value, int) and type(value) not in (int, bool):
        return int(value)
    return value


def config_literal(value: Any, **pformat_kwargs: Any) -> str:
    """``pprint.pformat(value, **pformat_kwargs)`` of :func:`config_value` ``(value)``: config text that
    ``Config.fromfile`` reads back as ``value`` (NumPy scalars as Python numbers).

    Examples:
        >>> config_literal({'lr': np.float64(0.1), 'fill': np.uint8(3), 'max_norm': float('inf')})
        "{'fill': 3, 'lr': 0.1, 'max_norm': float('inf')}"
    """
    return pprint.pformat(config_value(value), **pformat_kwargs)


__all__ = ['config_literal', 'config_value']
