"""Collectives of the OHL trunk end: gather rows, broadcast module and optimiser states, fingerprints."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from mmengine.dist import all_gather, broadcast, broadcast_object_list, get_comm_device, get_rank, is_distributed
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


def gather_rows(row: torch.Tensor) -> torch.Tensor:
    """All-gather one float64 row per rank into a (world_size, len) tensor on the CPU (identical on all ranks)."""
    row = row.detach().to(torch.float64).flatten()
    if not is_distributed():
        return row[None].clone()
    return torch.stack([r.cpu() for r in all_gather(row)])


def _broadcast_tensors_(tensors: list[torch.Tensor], src: int) -> None:
    """Broadcast tensors in place from ``src``, one flat buffer per (device, dtype) to keep collectives few."""
    buckets: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        buckets.setdefault((t.device, t.dtype), []).append(t)
    comm_device = get_comm_device()
    for (device, _), group in buckets.items():
        flat = _flatten_dense_tensors([t.data for t in group]).to(comm_device)
        broadcast(flat, src)
        for t, synced in zip(group, _unflatten_dense_tensors(flat.to(device), group)):
            t.data.copy_(synced)


def broadcast_module_(module: nn.Module, src: int) -> None:
    """Copy every parameter and buffer of ``module`` from rank ``src`` to all ranks, in place."""
    if is_distributed():
        _broadcast_tensors_(list(module.parameters()) + list(module.buffers()), src)


def broadcast_state(state: Any, src: int) -> Any:
    """Return rank ``src``'s nested state (dicts/lists/tuples of tensors and plain values) on every rank.

    The structure (with tensor shapes and dtypes) travels as one pickled object; the tensors travel as flat
    buffers, so large optimiser states cost one broadcast per dtype rather than a pickle round trip.
    """
    if not is_distributed():
        return state
    tensors: list[torch.Tensor] = []

    def strip(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            tensors.append(obj)
            return ('__tensor__', len(tensors) - 1, tuple(obj.shape), obj.dtype, str(obj.device))
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(strip(v) for v in obj)
        return obj

    skeleton = [strip(state)]
    broadcast_object_list(skeleton, src)
    received: list[torch.Tensor] = []

    def rebuild(obj: Any) -> Any:
        if isinstance(obj, tuple) and len(obj) == 5 and obj[0] == '__tensor__':
            _, _, shape, dtype, device = obj
            device = 'cuda' if device.startswith('cuda') else device  # this rank's own GPU
            received.append(torch.empty(shape, dtype=dtype, device=device))
            return received[-1]
        if isinstance(obj, dict):
            return {k: rebuild(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(rebuild(v) for v in obj)
        return obj

    if get_rank() == src:
        rebuilt = state
        received = tensors
    else:
        rebuilt = rebuild(skeleton[0])
    _broadcast_tensors_(received, src)
    return rebuilt


def fingerprint(module: nn.Module) -> torch.Tensor:
    """Four float64 numbers that differ when the weights differ: two for the parameters, two for the buffers.

    Each pair is the sum and a position-weighted sum of squares. Used to check that copies (and the ranks of
    one copy) hold the same weights (cheap: one pass, no transfer of the weights themselves).
    """
    total = torch.zeros(4, dtype=torch.float64)
    for offset, tensors in ((0, module.parameters()), (2, module.buffers())):
        for i, t in enumerate(tensors):
            v = t.detach().to(torch.float64)
            total[offset] += v.sum().cpu()
            total[offset + 1] += (i + 1) * (v * v).sum().cpu()
    return total
