"""mmengine's ``train_dataloader.num_batch_per_epoch`` (a quick run of that many batches per epoch) slices the training
set to ``num_batch_per_epoch x batch_size x world size`` samples, the world's share for a sampler that splits the set
among all ranks. ``CopySampler`` gives every copy the whole slice, so with N copies each copy trained N times the
batches per epoch the config asked for (2 copies, 2 batches asked: 4), and the launching process's schedule checks
counted the 2 asked. Each copy now takes the share of its own ranks: the batches asked, as in a plain run."""
from __future__ import annotations

import copy
from unittest import mock

import pytest
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from automl_mm.ohl.copies import CopyLayout, temporary_copy_layout

from conftest import tiny_ohl_cfg


@pytest.mark.parametrize('num_copies, ranks_per_copy', [(1, 1), (2, 1), (4, 1), (2, 2)])
def test_each_copy_trains_the_batches_per_epoch_asked(tmp_path, num_copies, ranks_per_copy):
    loader_cfg = copy.deepcopy(tiny_ohl_cfg(str(tmp_path)).train_dataloader)  # 64 images, batches of 16
    loader_cfg.update(num_batch_per_epoch=2)
    world = num_copies * ranks_per_copy
    for rank in range(world):
        with DefaultScope.overwrite_default_scope('automl_mm'), \
                temporary_copy_layout(CopyLayout(num_copies, ranks_per_copy, rank, world)), \
                mock.patch('mmengine.runner.runner.get_world_size', lambda: world), \
                mock.patch('automl_mm.ohl.copy_sampler.get_world_size', lambda: world):
            loader = Runner.build_dataloader(copy.deepcopy(loader_cfg), seed=0)
            assert len(loader) == 2, (rank, len(loader))
            assert len(list(loader.batch_sampler.sampler)) == 32
