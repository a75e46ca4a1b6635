"""Checks and tensor helpers shared by the distributions (float64 CPU leaves, stats vectors, entropies)."""
from __future__ import annotations

from typing import Any

import torch

_DTYPE = torch.float64


def _check_generator(generator: Any) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f'generator must be a torch.Generator or None, got {type(generator).__name__}')


def _check_n(n: Any) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f'n must be None or an int >= 0, got {n!r}')


def _check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f'top_k must be an int >= 1, got {top_k!r}')


def _leaf(values: Any, name: str) -> torch.Tensor:
    """A learnable float64 CPU leaf tensor, rejecting non-finite initial values."""
    if isinstance(values, torch.Tensor):
        tensor = values.detach().to(dtype=_DTYPE, device='cpu').clone().reshape(-1)
    else:
        tensor = torch.tensor(values, dtype=_DTYPE).reshape(-1)
    if not torch.isfinite(tensor).all():
        raise ValueError(f'{name} must be finite, got {values!r}')
    return tensor.requires_grad_(True)


def _jsonable(label: Any) -> Any:
    """A label as JSON can hold it (containers become lists, unknown objects their ``str``)."""
    if label is None or isinstance(label, (str, int, float, bool)):
        return label
    if isinstance(label, (list, tuple)):
        return [_jsonable(item) for item in label]
    return str(label)


def _check_stats(stats: Any, size: int) -> torch.Tensor:
    stats = torch.as_tensor(stats).to(dtype=_DTYPE, device='cpu')  # all-gathered rows may live on a GPU
    if stats.shape != (size,):
        raise ValueError(f'stats must be a flat vector of length {size}, got shape {tuple(stats.shape)}')
    return stats


def _load_into(param: torch.Tensor, value: Any, key: str) -> None:
    """Copy ``value`` into ``param`` in place (an optimiser keeps pointing at the same tensor)."""
    value = torch.as_tensor(value, dtype=_DTYPE)
    if value.shape != param.shape:
        raise ValueError(f'state[{key!r}] must have shape {tuple(param.shape)}, got {tuple(value.shape)}')
    with torch.no_grad():
        param.copy_(value)


def _entropy(probs: torch.Tensor) -> torch.Tensor:
    """H = -Σ p log p in nats (0 log 0 = 0)."""
    return -torch.special.xlogy(probs, probs).sum()


def _softmax_grad_entropy(probs: torch.Tensor) -> torch.Tensor:
    """dH/dz of H = -Σ p log p with p = softmax(z): -p ⊙ (log p + H) (zero where p underflows to 0)."""
    log_p = torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny))
    return -probs * (log_p + _entropy(probs))
