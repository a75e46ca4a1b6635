"""Held-out loaders (OHL rewards, NAS scoring) read a ``worker_init_fn`` dict as mmengine's loaders do."""
from __future__ import annotations

import functools

import pytest
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn

import automl_mm.datasets  # noqa: F401  (registers DigitsDataset)
from automl_mm.engine.evaluate import build_local_loader

DATASET = dict(type='DigitsDataset', split='reward', img_size=8, pipeline=[])


def test_a_worker_init_fn_dict_is_built_as_mmengine_builds_it():
    cfg = dict(dataset=DATASET, batch_size=4, num_workers=1,
               worker_init_fn=dict(type=mmengine_worker_init_fn, num_workers=1, rank=0, seed=7))
    loader = build_local_loader(cfg, 'reward_dataloader')
    init = loader.worker_init_fn
    # it was handed to torch as the dict: the workers failed when they started ("'dict' object is not callable")
    assert isinstance(init, functools.partial) and init.func is mmengine_worker_init_fn
    assert init.keywords == dict(num_workers=1, rank=0, seed=7)
    batch = next(iter(loader))  # the workers start and load
    assert len(batch['img']) == len(batch['gt_label']) == 4


def test_an_unknown_worker_init_fn_is_named():
    cfg = dict(dataset=DATASET, batch_size=4, worker_init_fn=dict(type='no_such_function'))
    with pytest.raises(ValueError, match=r'reward_dataloader\.worker_init_fn: .*no_such_function.* names no'):
        build_local_loader(cfg, 'reward_dataloader')
    with pytest.raises(ValueError, match=r'reward_dataloader\.worker_init_fn must be a function'):
        build_local_loader(dict(dataset=DATASET, batch_size=4, worker_init_fn=3), 'reward_dataloader')


class _WorkerDraws:
    """Each item is one draw of numpy's global RNG in the process that loads it (a random transform's stand-in)."""

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        import numpy as np
        return int(np.random.randint(1 << 30))


def _seed_numpy(worker_id, seed):
    import numpy as np
    np.random.seed(seed + worker_id)


def test_batches_loaded_from_an_offset_keep_the_loaders_worker_settings():
    """cycle_batches loads only the batches asked for through a loader of its own; that loader dropped the split's
    worker_init_fn (and pin_memory, timeout, multiprocessing_context): a NAS path scored from batch 2 drew its random
    transforms unseeded, unlike the same batches read in order."""
    import numpy as np
    from torch.utils.data import DataLoader

    from automl_mm.engine.evaluate import cycle_batches

    loader = DataLoader(_WorkerDraws(), batch_size=2, num_workers=1, collate_fn=list, pin_memory=False, timeout=30,
                        worker_init_fn=functools.partial(_seed_numpy, seed=11))
    in_order = list(loader)
    for parent_seed in (5, 6):  # the parent's state, which an unseeded forked worker would draw from
        np.random.seed(parent_seed)
        assert list(cycle_batches(loader, 0, 4)) == in_order
        np.random.seed(parent_seed)
        assert list(cycle_batches(loader, 2, 2)) == in_order[:2]  # a fresh worker, seeded alike: the same draws
