"""A ``worker_init_fn`` the config (or a ready ``DataLoader``) chooses is kept by the worker-seed patch, also when
the choice is mmengine's own function: only the default mmengine installs by itself is replaced."""
from __future__ import annotations

import functools

import pytest
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.runner import FlexibleRunner, Runner
from torch.utils.data import DataLoader, Dataset

from automl_mm.engine import patches
from automl_mm.engine.worker_seeds import EpochSeededWorkerInit


class Items(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        return index


def test_a_configured_mmengine_worker_init_fn_is_kept():
    patches.install()
    runner = Runner  # (FlexibleRunner takes a worker_init_fn by registered name only; mmengine's is not registered)
    cfg = dict(batch_size=2, num_workers=2, sampler=dict(type='DefaultSampler', shuffle=True), dataset=Items(),
               worker_init_fn=dict(type=mmengine_worker_init_fn, num_workers=2, rank=0, seed=7))
    init = runner.build_dataloader(cfg, seed=0).worker_init_fn
    assert isinstance(init, functools.partial) and init.func is mmengine_worker_init_fn, init
    assert init.keywords['seed'] == 7
    # without a choice of its own the config gets the epoch-seeded one
    cfg.pop('worker_init_fn')
    assert isinstance(runner.build_dataloader(cfg, seed=0).worker_init_fn, EpochSeededWorkerInit)


@pytest.mark.parametrize('runner', [Runner, FlexibleRunner])
def test_a_ready_dataloader_keeps_its_worker_init_fn(runner):
    patches.install()
    own = functools.partial(mmengine_worker_init_fn, num_workers=1, rank=0, seed=3)
    loader = DataLoader(Items(), num_workers=1, worker_init_fn=own)
    assert runner.build_dataloader(loader, seed=0).worker_init_fn is own
