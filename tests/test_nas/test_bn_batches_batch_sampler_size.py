"""BN re-estimation batches of ``train_dataloader`` hold as many images as training's batches, with the batch size
read as mmengine reads it: a ``batch_sampler``'s own ``batch_size`` (mmengine hands it the loader's as a default
argument, which its own overrides); the ``num_batch_per_epoch`` slice as mmengine's ``_get_batch_size`` reads it."""
from __future__ import annotations

import mmdet.datasets  # noqa: F401  (registers AspectRatioBatchSampler)
from mmengine.registry import DATASETS
from mmengine.runner import Runner
from torch.utils.data import Dataset

from automl_mm.engine.local_loader import build_local_loader, loader_batch_size, per_epoch_items


@DATASETS.register_module(force=True)
class _TwentyBoxes(Dataset):
    """20 items, each its index, of one aspect ratio (AspectRatioBatchSampler groups by it)."""

    def __len__(self):
        return 20

    def __getitem__(self, index):
        return index

    def get_data_info(self, index):
        return dict(width=4, height=2)


def _cfg(**loader):
    return dict(dataset=dict(type='_TwentyBoxes'), sampler=dict(type='DefaultSampler', shuffle=False),
                batch_sampler=dict(type='mmdet.AspectRatioBatchSampler', batch_size=4), **loader)


def test_bn_batches_take_the_batch_samplers_batch_size():
    # batch_size set only in the batch_sampler: the BN batches were single images
    batch = next(iter(build_local_loader(_cfg(), 'train_dataloader', 'train')))
    assert batch == [0, 1, 2, 3]
    assert loader_batch_size(_cfg()) == 4
    # both set: mmengine trains on the batch sampler's batches of 4, and so do the BN batches (they were of 2)
    trained = next(iter(Runner.build_dataloader(_cfg(batch_size=2), seed=0)))
    assert len(next(iter(build_local_loader(_cfg(batch_size=2), 'train_dataloader', 'train')))) == len(trained) == 4
    # a loader without a batch sampler as before
    plain = dict(dataset=dict(type='_TwentyBoxes'), batch_size=3)
    assert next(iter(build_local_loader(plain, 'train_dataloader', 'train'))) == [0, 1, 2]
    assert loader_batch_size(dict(dataset=None)) == 1


def test_the_per_epoch_slice_reads_the_batch_size_as_mmengine_does():
    # num_batch_per_epoch=2 x the batch sampler's 4 x 2 ranks (the slice kept 2 x 1 x 2 items)
    cfg = _cfg(num_batch_per_epoch=2)
    assert per_epoch_items(cfg, 2) == 16
    loader = build_local_loader(cfg, 'train_dataloader', 'train', reading_ranks=2)
    assert len(loader.dataset) == 16 and len(loader) == 4
    # the loader's own batch_size first, as mmengine's _get_batch_size reads it for the slice
    assert per_epoch_items(_cfg(num_batch_per_epoch=2, batch_size=3), 1) == 6
    assert per_epoch_items(_cfg(), 1) is None
