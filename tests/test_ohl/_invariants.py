"""Shared pieces of the OHL engine invariant tests (``test_invariants_*.py``): each test there has the smallest
input that broke an invariant (issue #11). In-process runs use one copy (no process group); the multi-copy
checks are in ``test_ohl_runs.py``."""
from __future__ import annotations

import copy
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform
from mmengine.evaluator import BaseMetric
from mmengine.hooks import CheckpointHook
from mmengine.runner import IterBasedTrainLoop
from mmengine.structures import BaseDataElement
from torch.utils.data import DataLoader, Dataset

from automl_mm.ohl import (
    CopyLayout,
    PipelineChoiceSpace,
    reset_copy_layout,
)
from automl_mm.ohl import copies as copies_module
from automl_mm.ohl.reward import settle_rewards
from automl_mm.ohl.spaces import AttributeSpace
from automl_mm.registry import METRICS, RUNNERS, TRANSFORMS

from conftest import tiny_ohl_cfg

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'


@METRICS.register_module(force=True)
class EmptyMetric(BaseMetric):
    """Computes nothing, like ``CocoMetric(format_only=True)``."""

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return {}


@TRANSFORMS.register_module(force=True)
class PackWithoutMeta(BaseTransform):
    """A packing transform with no meta_keys at all: the choice cannot reach the hook."""

    def transform(self, results):
        img = torch.from_numpy(np.ascontiguousarray(results['img'].transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={})
        sample.gt_label = torch.tensor([results['gt_label']])
        return {'inputs': img, 'data_samples': sample}


@pytest.fixture(autouse=True)
def _fresh_layout():
    reset_copy_layout()
    yield
    reset_copy_layout()


def _layout(num_copies, ranks_per_copy, rank=0, group=None):
    layout = CopyLayout(num_copies, ranks_per_copy, rank, num_copies * ranks_per_copy, group)
    copies_module._LAYOUT = layout
    return layout


def _cfg(tmp_path, **hook):
    return tiny_ohl_cfg(str(tmp_path / 'work'), **hook)


def _train(cfg):
    runner = RUNNERS.build(copy.deepcopy(cfg))  # runner_type CopyRunner (configs/_base_/ohl_copies.py)
    runner.train()
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        return runner, json.load(f)


def _stats_space(per_item, name):
    if per_item:
        return PipelineChoiceSpace(dict(type='Categorical', num_choices=3), key=name)
    return AttributeSpace(dict(type='Categorical', num_choices=3), target='x', choices=[1, 2, 3], name=name)


class _Tiny(Dataset):

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return i


def _setup_runner(sampler, model=None):
    loader = DataLoader(_Tiny(), sampler=sampler, batch_size=2)
    return SimpleNamespace(train_loop=object(), train_dataloader=loader, model=model or torch.nn.Linear(2, 2))


def _schedule_runner(checkpoint, iteration_loop=False, max_iters=24):
    """12 images in batches of 2: 6 iterations per epoch; 4 epochs (24 iterations) unless given."""
    loader = DataLoader(_Tiny(), batch_size=2)
    loop = object.__new__(IterBasedTrainLoop) if iteration_loop else SimpleNamespace()
    return SimpleNamespace(train_loop=loop, train_dataloader=loader, hooks=[CheckpointHook(**checkpoint)],
                           max_iters=max_iters)


def _settle(rewards, valid, empty=None, counts=(5.0, 5.0, 5.0, 5.0), worst=None, iters=3):
    from automl_mm.ohl import Categorical
    space = SimpleNamespace(name='aug', key='aug', per_item=True, distribution=Categorical(num_choices=2))
    trunk = dict(rewards=rewards, valid=valid, empty=empty or [False] * len(rewards),
                 stats={'aug': [torch.tensor([c, 0.0], dtype=torch.float64) for c in counts]})
    scorer = SimpleNamespace(metric_names=lambda: ['accuracy/top1'], reward_key='accuracy/top1')
    return settle_rewards(trunk, [space], scorer, worst, 7, iters)


class _Choices(Dataset):

    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return self.transform({})['ohl_choice']['aug']

