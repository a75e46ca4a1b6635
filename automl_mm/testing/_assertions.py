"""What every contract check of :mod:`automl_mm.testing` uses: the failure it raises (``AssertionError`` naming
the class), exact equality of samples, seeded generators and the all-zero test of statistics."""
from __future__ import annotations

from typing import Any

import torch


def _fail(obj: Any, message: str) -> AssertionError:
    return AssertionError(f'{type(obj).__name__}: {message}')


def _check(condition: bool, obj: Any, message: str) -> None:
    if not condition:
        raise _fail(obj, message)


def _equal(a: Any, b: Any) -> bool:
    """Exact equality of samples: tensors, dicts of them, sequences, plain values."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and \
            bool(torch.equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _all_zero(t: torch.Tensor) -> bool:
    """Every entry exactly 0 (a NaN is not zero: ``not (nan > 0)`` used to pass for it)."""
    return bool(torch.isfinite(t).all()) and int(torch.count_nonzero(t)) == 0
