"""Values written into optimiser parameter groups are checked as the optimiser's constructor checks them.

Input that showed the fault: torch checks ``lr``, ``momentum``, ``betas``, ``weight_decay`` ... only when an
optimiser is built; ``set_attribute`` (``AttributeSpace``, ``SetAttributesHook``, ``TrunkScheduleHook``) wrote them
into ``param_groups`` afterwards, so a Gaussian-sampled lr of -0.1 trained by gradient *ascent*, Adam's beta1 of 1.5
and a negative weight decay trained on, all without a word (and NaN, which torch's ``lr < 0.0`` lets through)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.copies import CopyLayout

GROUPS = 'optim_wrapper.optimizer.param_groups.*.'


def _runner(optimizer='SGD', **kwargs):
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    cfg = dict(type='OptimWrapper', optimizer=dict(type=optimizer, lr=0.1, weight_decay=1e-4, **kwargs),
               paramwise_cfg=dict(norm_decay_mult=0.0))
    return SimpleNamespace(model=model, optim_wrapper=build_optim_wrapper(model, cfg), param_schedulers=[], cfg=None)


def _groups(runner, key):
    return [group[key] for group in runner.optim_wrapper.optimizer.param_groups]


@pytest.mark.parametrize('optimizer, path, value, key, message', [
    ('SGD', GROUPS + 'lr', -0.1, 'lr', 'Invalid learning rate'),
    ('SGD', 'optim_wrapper.optimizer.lr', -0.1, 'lr', 'Invalid learning rate'),  # the base form
    ('SGD', GROUPS + 'lr', math.nan, 'lr', 'not a finite number'),
    ('SGD', GROUPS + 'momentum', -0.5, 'momentum', 'Invalid momentum'),
    ('Adam', GROUPS + 'betas.0', 1.5, 'betas', 'Invalid beta parameter at index 0'),
    ('AdamW', 'optim_wrapper.optimizer.weight_decay', -0.01, 'weight_decay', 'Invalid weight_decay'),
])
def test_a_value_the_optimiser_refuses_is_refused_and_nothing_is_written(optimizer, path, value, key, message):
    runner = _runner(optimizer, **({'momentum': 0.9} if optimizer == 'SGD' else {}))
    before = _groups(runner, key)
    with pytest.raises(ValueError, match=rf'{path}.*{message}'):
        set_attribute(runner, path, value)
    assert _groups(runner, key) == before  # every group trains with what it had


def test_values_the_optimiser_accepts_are_written():
    runner = _runner('AdamW')
    set_attribute(runner, GROUPS + 'betas.0', 0.5)
    set_attribute(runner, 'optim_wrapper.optimizer.weight_decay', 0.05)
    set_attribute(runner, GROUPS + 'lr', 0.0)  # torch accepts lr=0
    assert _groups(runner, 'betas') == [(0.5, 0.999)] * 4
    assert _groups(runner, 'weight_decay') == [0.05, 0.05, 0.0, 0.0]  # BN weight / bias: norm_decay_mult=0
    assert _groups(runner, 'lr') == [0.0] * 4


def test_a_choice_the_optimiser_refuses_stops_the_space_at_setup():
    runner = _runner(momentum=0.9)
    space = AttributeSpace(dict(type='Categorical'), target='optim_wrapper.optimizer.lr', choices=[0.1, -0.1],
                           name='lr')
    with pytest.raises(ValueError, match=r"OHL space 'lr': choice -0.1: .*Invalid learning rate"):
        space.setup(runner, CopyLayout(num_copies=1, ranks_per_copy=1, rank=0, world_size=1), 0)


def test_a_group_the_constructor_refuses_already_is_not_this_writes_doing():
    runner = _runner(momentum=0.9)
    runner.optim_wrapper.optimizer.param_groups[0]['lr'] = torch.tensor([0.1, 0.2])  # no constructor takes it
    set_attribute(runner, GROUPS + 'momentum', 0.5)
    assert _groups(runner, 'momentum') == [0.5] * 4
