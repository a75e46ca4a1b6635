"""Checks of numbers a user configures, shared by every package: each returns the value in the type the code uses
and raises a ``ValueError`` that names the config key, before anything runs."""
from __future__ import annotations

import operator
from typing import Any


def as_count(value: Any, key: str, minimum: int = 0) -> int:
    """``value`` as an int >= ``minimum`` (iterations, batches, pixels, layers, tries).

    A float (``2.7`` iterations, a ``1.5``-layer stage, a ``2.5``-pixel padding) used to be truncated by ``int()``
    and the run used another setting; a bool is refused too (``True`` is not a count).

    Args:
        value: The configured value (an ``int`` or a numpy integer).
        key: Its config key, named in the error (e.g. ``'train_cfg.stage_iters'``).
        minimum: The smallest value allowed.

    Raises:
        ValueError: ``value`` is not an integer, or is below ``minimum``.
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f'{key} must be an int >= {minimum}, got {value!r}') from None
    if number < minimum:
        raise ValueError(f'{key} must be an int >= {minimum}, got {value!r}')
    return number


def same_setting(saved: Any, configured: Any) -> bool:
    """Whether a setting a checkpoint saved equals the configured one, sequences compared element-wise whether
    list or tuple (a checkpoint keeps a config's tuples as lists: ``betas=(0.5, 0.999)`` comes back as a list)."""
    def plain(value: Any) -> Any:
        return tuple(plain(v) for v in value) if isinstance(value, (list, tuple)) else value

    return plain(saved) == plain(configured)
