"""Seeds of dataloader worker processes that differ from epoch to epoch.

mmengine 0.10.7's default ``worker_init_fn`` (``mmengine.dataset.utils.worker_init_fn``, which
``Runner.build_dataloader`` installs whenever the run has a seed) re-seeds each worker's Python, numpy and torch
RNGs with ``num_workers * rank + worker_id + seed``, a constant. With ``persistent_workers=False`` the workers
start anew every epoch, so every random transform in the pipeline (mmcv's ``RandomFlip``, mmdet's
``RandomCrop``, ``RandAugment``, ...) draws the same numbers every epoch: the same flips and crops, shifted to the
images the new order puts there. The same happens each time a loader's workers are restarted within an epoch
(the OHL engine does so after a data-path write, ``automl_mm.ohl.data_writes``). torch's own worker seeding
(``base_seed + worker_id``, ``base_seed`` drawn from the loading process's torch RNG for every iterator) does not
repeat, but it is the same on every rank where the ranks share a seed, which is what mmengine's ``rank`` term
avoided.

:class:`EpochSeededWorkerInit` keeps both properties: a worker's Python, numpy and torch RNGs are seeded from
``numpy.random.SeedSequence([seed, rank, worker_id, epoch, base_seed])``, where ``epoch`` is the sampler's epoch
when the workers start and ``base_seed`` torch's draw for this iterator. Every coordinate is in the entropy, so
no two (rank, worker, epoch, iterator) share a stream; a run with the same seed repeats its draws exactly.
``automl_mm.engine.patches`` installs it in place of mmengine's default; a ``worker_init_fn`` of the user's own
(a config's ``worker_init_fn``, even of mmengine's function, or a ready ``DataLoader``'s) is kept.
"""
from __future__ import annotations

import functools
import random
import warnings
from typing import Any

import numpy as np
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from torch.utils.data import DataLoader


def epoch_sampler(loader: DataLoader) -> Any:
    """The sampler whose ``set_epoch`` mmengine's ``DistSamplerSeedHook`` calls for ``loader`` (its ``sampler``, else
    its ``batch_sampler.sampler``), or ``None`` when it has none (an iteration loop's ``InfiniteSampler`` has no
    epochs: its workers start once)."""
    for sampler in (getattr(loader, 'sampler', None), getattr(getattr(loader, 'batch_sampler', None), 'sampler', None)):
        if hasattr(sampler, 'set_epoch'):
            return sampler
    return None


class EpochSeededWorkerInit:
    """A dataloader ``worker_init_fn``: seeds the worker's Python, numpy and torch RNGs from
    ``SeedSequence([seed, rank, worker_id, epoch, base_seed])`` (module docstring).

    Args:
        seed: The run's seed (mmengine's ``randomness.seed``, or the one it drew), a non-negative int.
        rank: The loading process's global rank.
        sampler: The object whose ``epoch`` attribute says the epoch when the workers start (read in the worker:
            it is a copy of the loading process's sampler as it was then); ``None``: epoch 0.
        disable_subprocess_warning: As mmengine's: silence warnings in every worker but the first.
    """

    def __init__(self, seed: int, rank: int, sampler: Any = None, disable_subprocess_warning: bool = False) -> None:
        self.seed, self.rank, self.sampler = int(seed), int(rank), sampler
        self.disable_subprocess_warning = disable_subprocess_warning

    def seeds(self, worker_id: int, base_seed: int) -> dict:
        """The worker's seeds: ``python`` and ``numpy`` (32-bit words) and ``torch`` (64 bits)."""
        epoch = int(getattr(self.sampler, 'epoch', 0) or 0)
        words = np.random.SeedSequence([self.seed % 2**64, self.rank, worker_id, epoch,
                                        base_seed % 2**64]).generate_state(4)
        return dict(python=int(words[0]), numpy=int(words[1]), torch=int(words[2]) << 32 | int(words[3]))

    def __call__(self, worker_id: int) -> None:
        info = torch.utils.data.get_worker_info()
        base_seed = info.seed - worker_id if info is not None else 0  # torch seeds worker i with base_seed + i
        seeds = self.seeds(worker_id, base_seed)
        random.seed(seeds['python'])
        np.random.seed(seeds['numpy'])
        torch.manual_seed(seeds['torch'])
        if self.disable_subprocess_warning and worker_id != 0:
            warnings.simplefilter('ignore')


def reseed_per_epoch(loader: Any) -> Any:
    """Replace ``loader``'s mmengine default ``worker_init_fn`` (a ``functools.partial`` of
    ``mmengine.dataset.worker_init_fn``) by an :class:`EpochSeededWorkerInit` with the same seed, rank and
    warning setting; anything else (no workers' init, a user's own function, not a ``DataLoader``) is left as it
    is. Returns ``loader``."""
    init = getattr(loader, 'worker_init_fn', None)
    if isinstance(loader, DataLoader) and isinstance(init, functools.partial) \
            and init.func is mmengine_worker_init_fn and not init.args:
        kwargs = init.keywords
        loader.worker_init_fn = EpochSeededWorkerInit(
            kwargs['seed'], kwargs.get('rank', 0), epoch_sampler(loader),
            kwargs.get('disable_subprocess_warning', False))
    return loader


def reseeding_build_dataloader(build: Any) -> Any:
    """Wrap ``Runner.build_dataloader`` (a static method's function) so every loader it builds from a config
    without a ``worker_init_fn`` goes through :func:`reseed_per_epoch`. A config's own ``worker_init_fn`` (mmengine's
    function included, chosen by ``type``) and a ready ``DataLoader`` (returned as given) are left as they are:
    only the default mmengine installs by itself is replaced."""
    @functools.wraps(build)
    def build_dataloader(dataloader: Any, *args: Any, **kwargs: Any) -> Any:
        loader = build(dataloader, *args, **kwargs)
        if isinstance(dataloader, dict) and 'worker_init_fn' not in dataloader:
            return reseed_per_epoch(loader)
        return loader

    build_dataloader.reseeds_workers = True
    return build_dataloader


__all__ = ['EpochSeededWorkerInit', 'epoch_sampler', 'reseed_per_epoch', 'reseeding_build_dataloader']
