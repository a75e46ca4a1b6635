"""Model copies over torch.distributed: the rank layout, a copy-local sampler and a copy-local DDP wrapper.

World size = ``num_copies`` x ``ranks_per_copy``. Ranks ``c * ranks_per_copy ... (c + 1) * ranks_per_copy - 1``
hold copy ``c``; the first of them is the copy's *lead* rank. Gradients are synchronised only inside a copy
(DDP over the copy's process group); copies exchange rewards and states only at trunk ends (``OHLHook``).

The layout is created once per process by ``OHLHook`` (built in ``Runner.__init__``, before the model is first
trained and before the train dataloader is built), and read by ``CopySampler`` and ``CopyDataParallel``.
"""
from __future__ import annotations

from collections.abc import Iterator, Sized
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.dataset import DefaultSampler
from mmengine.dist import get_dist_info, is_distributed, sync_random_seed
from mmengine.model import MMDistributedDataParallel

from automl_mm.registry import DATA_SAMPLERS, MODEL_WRAPPERS


@dataclass
class CopyLayout:
    """Where this process sits among the copies."""

    num_copies: int
    ranks_per_copy: int
    rank: int
    world_size: int
    group: Any = field(default=None, repr=False)  # this copy's process group (None with one rank per copy)

    @property
    def copy_id(self) -> int:
        return self.rank // self.ranks_per_copy

    @property
    def rank_in_copy(self) -> int:
        return self.rank % self.ranks_per_copy

    def lead_rank(self, copy_id: int) -> int:
        return copy_id * self.ranks_per_copy

    @property
    def is_lead(self) -> bool:
        return self.rank_in_copy == 0


_LAYOUT: CopyLayout | None = None


def init_copy_layout(num_copies: int, ranks_per_copy: int = 1) -> CopyLayout:
    """Check the world size against the copy configuration and create the per-copy process groups.

    Must be called by every rank, in the same order (``dist.new_group`` is collective). Calling it again with
    the same arguments returns the existing layout.

    Raises:
        ValueError: ``num_copies`` or ``ranks_per_copy`` is not positive, or the world size is not their product.
    """
    global _LAYOUT
    for name, value in (('num_copies', num_copies), ('ranks_per_copy', ranks_per_copy)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive integer, got {value!r}')
    rank, world_size = get_dist_info()
    if _LAYOUT is not None and (_LAYOUT.num_copies, _LAYOUT.ranks_per_copy, _LAYOUT.world_size) == (
            num_copies, ranks_per_copy, world_size):
        return _LAYOUT
    if world_size != num_copies * ranks_per_copy:
        raise ValueError(
            f'world size {world_size} does not fit the OHL configuration: num_copies ({num_copies}) x '
            f'ranks_per_copy ({ranks_per_copy}) = {num_copies * ranks_per_copy} processes are needed. Run '
            '`python tools/train.py CONFIG` without a launcher to start them locally, or give torchrun/slurm '
            'that many processes.')
    group = None
    if ranks_per_copy > 1:
        for c in range(num_copies):  # every rank creates every group, in the same order
            ranks = list(range(c * ranks_per_copy, (c + 1) * ranks_per_copy))
            new = torch_dist.new_group(ranks)
            if rank in ranks:
                group = new
    _LAYOUT = CopyLayout(num_copies, ranks_per_copy, rank, world_size, group)
    return _LAYOUT


def get_copy_layout() -> CopyLayout:
    """The layout created by :func:`init_copy_layout` (an ``OHLHook`` in the config creates it)."""
    if _LAYOUT is None:
        raise RuntimeError('no OHL copy layout: CopySampler / CopyDataParallel need an OHLHook in custom_hooks')
    return _LAYOUT


def reset_copy_layout() -> None:
    """Forget the layout (tests, or a second run in the same process)."""
    global _LAYOUT
    _LAYOUT = None


@DATA_SAMPLERS.register_module()
class CopySampler(DefaultSampler):
    """``DefaultSampler`` that shards the data among the ranks of one copy only.

    Every copy sees the whole training set, each in its own order: the permutation of epoch ``e`` for copy ``c``
    is drawn from ``numpy.random.SeedSequence([seed, c, e])``, so no (copy, epoch) replays another's order (a
    seed of ``seed + c + e`` would give copy c at epoch e the order of copy 0 at epoch e + c). The ranks of a copy
    draw the same permutation and take interleaved shards of it.

    ``OHLHook`` refuses any other train sampler when there are several copies; a sampler of your own that shards
    by copy can declare ``copy_aware = True`` to be accepted.
    """

    copy_aware = True

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None, round_up: bool = True) -> None:
        if seed is None:
            seed = sync_random_seed()
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        layout = get_copy_layout()
        self.copy_id = layout.copy_id
        self.rank, self.world_size = layout.rank_in_copy, layout.ranks_per_copy
        if self.round_up:
            self.num_samples = -(-len(self.dataset) // self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = -(-(len(self.dataset) - self.rank) // self.world_size)
            self.total_size = len(self.dataset)

    def order(self, epoch: int) -> list[int]:
        """The whole permutation of this copy at ``epoch`` (before sharding among the copy's ranks)."""
        if not self.shuffle:
            return list(range(len(self.dataset)))
        seed = int(np.random.SeedSequence([self.seed, self.copy_id, epoch]).generate_state(1, np.uint64)[0])
        return torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(seed)).tolist()

    def __iter__(self) -> Iterator[int]:
        indices = self.order(self.epoch)
        if self.round_up:
            indices = (indices * (self.total_size // len(indices) + 1))[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])


@MODEL_WRAPPERS.register_module()
class CopyDataParallel(nn.Module):
    """Model wrapper for OHL: data parallel inside a copy, independent across copies.

    With one rank per copy it only delegates to the model (no gradient synchronisation at all); with several it
    runs mmengine's ``MMDistributedDataParallel`` over the copy's process group, created on the first training
    step (the layout exists by then). Use it as ``model_wrapper_cfg=dict(type='CopyDataParallel')``.
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = False, find_unused_parameters: bool = False,
                 **ddp_kwargs) -> None:
        super().__init__()
        self.module = module
        self._ddp_kwargs = dict(broadcast_buffers=broadcast_buffers, find_unused_parameters=find_unused_parameters,
                                **ddp_kwargs)
        self._ddp: MMDistributedDataParallel | None = None

    def _copy_ddp(self) -> MMDistributedDataParallel | None:
        if not is_distributed():
            return None
        layout = get_copy_layout()
        if layout.ranks_per_copy == 1:
            return None
        if self._ddp is None:
            device_ids = [torch.cuda.current_device()] if next(self.module.parameters()).is_cuda else None
            ddp = MMDistributedDataParallel(self.module, process_group=layout.group, device_ids=device_ids,
                                            **self._ddp_kwargs)
            object.__setattr__(self, '_ddp', ddp)  # not a submodule: state_dict keys stay 'module.*'
        return self._ddp

    def train(self, mode: bool = True) -> CopyDataParallel:
        super().train(mode)
        if self._ddp is not None:
            self._ddp.train(mode)
        return self

    def train_step(self, data: Any, optim_wrapper: Any) -> dict:
        ddp = self._copy_ddp()
        return self.module.train_step(data, optim_wrapper) if ddp is None else ddp.train_step(data, optim_wrapper)

    def val_step(self, data: Any) -> list:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> list:
        return self.module.test_step(data)

    def forward(self, *args, **kwargs) -> Any:
        return self.module(*args, **kwargs)
