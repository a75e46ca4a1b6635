"""A group index into an optimiser that mmengine's constructor split one group per parameter is refused.

Input that showed the fault: ``AttributeSpace(target='optim_wrapper.optimizer.param_groups.0.lr')`` (the path of a
single-group optimiser) in a config with ``paramwise_cfg=dict(norm_decay_mult=0.)``: mmengine then makes one group
per parameter, so the searched lr reached the first convolution's weight alone and every other parameter trained
at the config's lr, while the history recorded the searched value as the run's lr."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from mmengine.optim import build_optim_wrapper
from torch import nn

from automl_mm.ohl.ownership import check_owned_attribute

OPTIM = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
             paramwise_cfg=dict(norm_decay_mult=0.0))


def _runner(optim):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    return SimpleNamespace(model=model, optim_wrapper=build_optim_wrapper(model, copy.deepcopy(optim)),
                           param_schedulers=[], cfg=dict(optim_wrapper=optim))


@pytest.mark.parametrize('path, instead', [
    ('optim_wrapper.optimizer.param_groups.0.lr',
     r'Target the base optim_wrapper.optimizer.lr .* or optim_wrapper.optimizer.param_groups.\*.lr'),
    ('optim_wrapper.optimizer.param_groups.2.momentum', r'Target optim_wrapper.optimizer.param_groups.\*.momentum'),
])
def test_one_group_of_one_parameter_is_refused_naming_it(path, instead):
    with pytest.raises(ValueError, match=rf'group \d of 4, which holds one parameter \((0.weight|1.weight)\).*'
                                         rf'{instead}'):
        check_owned_attribute(_runner(OPTIM), path, 'me')


def test_every_group_or_a_single_group_optimiser_is_left_alone():
    check_owned_attribute(_runner(OPTIM), 'optim_wrapper.optimizer.param_groups.*.momentum', 'me')
    single = {k: v for k, v in OPTIM.items() if k != 'paramwise_cfg'}  # one group holding every parameter
    check_owned_attribute(_runner(single), 'optim_wrapper.optimizer.param_groups.0.lr', 'me')
