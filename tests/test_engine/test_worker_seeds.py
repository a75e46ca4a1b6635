"""Dataloader workers draw new random numbers every epoch (mmengine's default worker seeds repeat them)."""
from __future__ import annotations

import functools
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.model import BaseModel
from mmengine.runner import FlexibleRunner, Runner
from torch.utils.data import DataLoader, Dataset

from automl_mm.engine import patches
from automl_mm.engine.worker_seeds import EpochSeededWorkerInit, reseed_per_epoch


class RandomDraws(Dataset):
    """Item i: what a random transform would draw for image i (numpy, Python and torch RNGs)."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        return dict(index=index, draw=(int(np.random.randint(2**31)), random.random(), float(torch.rand(()))))


def _loader(seed=0, num_workers=2, persistent_workers=False, runner=Runner):
    patches.install()
    cfg = dict(batch_size=2, num_workers=num_workers, persistent_workers=persistent_workers,
               sampler=dict(type='DefaultSampler', shuffle=True), dataset=RandomDraws())
    return runner.build_dataloader(cfg, seed=seed)


def _epoch(loader, epoch: int) -> dict:
    """index -> draws of that image in ``epoch``, loaded as mmengine's loops do (set_epoch, then a new pass)."""
    loader.sampler.set_epoch(epoch)
    return {i: d for batch in loader for i, d in zip(batch['index'], zip(*batch['draw']))}


@pytest.mark.parametrize('runner', [Runner, FlexibleRunner])
def test_non_persistent_workers_draw_anew_every_epoch(runner):
    loader = _loader(runner=runner)
    assert isinstance(loader.worker_init_fn, EpochSeededWorkerInit)
    first, second = _epoch(loader, 0), _epoch(loader, 1)
    # mmengine's default seeded every epoch's workers alike: the i-th image a worker loaded drew the same numbers
    # in both epochs (so 8 of 8 numpy draws were repeated, each on another image)
    repeated = {d[0] for d in first.values()} & {d[0] for d in second.values()}
    assert not repeated
    assert all(first[i] != second[i] for i in first)


def test_worker_seeds_are_reproducible_and_differ_by_rank():
    def run(seed):
        torch.manual_seed(seed)  # as mmengine's set_random_seed does at the start of a run
        return _epoch(_loader(seed=seed), 1)

    assert run(3) == run(3)  # same seed: same draws
    assert run(3) != run(4)
    init = EpochSeededWorkerInit(seed=3, rank=0)
    other_rank = EpochSeededWorkerInit(seed=3, rank=1)
    assert init.seeds(0, 123) != other_rank.seeds(0, 123)  # ranks sharing a seed (and torch's base seed) differ
    assert init.seeds(0, 123) != init.seeds(1, 123)


def test_persistent_workers_still_draw_anew():
    loader = _loader(persistent_workers=True)
    first, second = _epoch(loader, 0), _epoch(loader, 1)
    assert not {d[0] for d in first.values()} & {d[0] for d in second.values()}


def test_own_worker_init_fn_is_kept():
    own = functools.partial(print)
    loader = DataLoader(RandomDraws(), num_workers=1, worker_init_fn=own)
    assert reseed_per_epoch(loader).worker_init_fn is own
    default = DataLoader(RandomDraws(), num_workers=1,
                         worker_init_fn=functools.partial(mmengine_worker_init_fn, num_workers=1, rank=2, seed=5))
    init = reseed_per_epoch(default).worker_init_fn
    assert isinstance(init, EpochSeededWorkerInit) and (init.seed, init.rank) == (5, 2)


class Recorder(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, index, draw, data_samples=None, mode='loss'):
        self.seen.append([(int(i), int(d)) for i, d in zip(index, draw[0])])
        return dict(loss=self.weight * 0 + self.weight ** 2)


@pytest.mark.parametrize('persistent_workers', [False, True])
def test_runner_epochs_draw_anew(tmp_path, persistent_workers):
    """A real mmengine Runner (EpochBasedTrainLoop, DistSamplerSeedHook), 2 epochs, 2 workers."""
    patches.install()
    model = Recorder()
    runner = Runner(model=model, work_dir=str(tmp_path), randomness=dict(seed=0),
                    train_dataloader=dict(batch_size=2, num_workers=2, persistent_workers=persistent_workers,
                                          sampler=dict(type='DefaultSampler', shuffle=True), dataset=RandomDraws()),
                    train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=10),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    default_hooks=dict(logger=None, checkpoint=None), default_scope='mmengine')
    runner.train()
    per_epoch = [[d for batch in model.seen[e * 4:(e + 1) * 4] for _, d in batch] for e in (0, 1)]
    assert not set(per_epoch[0]) & set(per_epoch[1])
