"""A ``*`` write over every parameter group also sets the base group of mmengine's ``OptimWrapper``.

Input that showed the fault: ``optim_wrapper.optimizer.param_groups.*.lr = 0.3`` (``AttributeSpace``,
``SetAttributesHook``, ``TrunkScheduleHook``) on an optimiser of several groups of one lr (``paramwise_cfg``
without lr multipliers: mmengine makes one group per parameter) set every group to 0.3, while the wrapper's base
group (``base_param_settings``, built from the config's lr) stayed 0.1: ``get_lr()['base_lr']``, logged as
``train/base_lr``, read 0.1 for a run that trained at 0.3 throughout."""
from __future__ import annotations

from types import SimpleNamespace

from mmengine.optim import build_optim_wrapper
from torch import nn

from automl_mm.ohl.attributes import set_attribute


def _runner(**paramwise):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Linear(2, 2))
    cfg = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=0.1, betas=(0.9, 0.999), weight_decay=1e-4),
               paramwise_cfg=paramwise or dict(bias_decay_mult=1.0))
    return SimpleNamespace(model=model, optim_wrapper=build_optim_wrapper(model, cfg), param_schedulers=[], cfg=None)


def test_a_write_over_every_group_sets_the_wrappers_base_group():
    runner = _runner()
    wrapper = runner.optim_wrapper
    assert len(wrapper.optimizer.param_groups) == 6 and wrapper.base_param_settings is not None
    set_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.lr', 0.3)
    set_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.betas.0', 0.5)
    assert [group['lr'] for group in wrapper.optimizer.param_groups] == [0.3] * 6  # what the steps use
    assert [group['betas'] for group in wrapper.optimizer.param_groups] == [(0.5, 0.999)] * 6
    assert wrapper.get_lr() == {'base_lr': [0.3], 'lr': [0.3] * 6}  # logged as train/base_lr
    assert wrapper.param_groups[-1]['betas'] == (0.5, 0.999)  # the group its schedulers step last


def test_a_group_index_or_groups_apart_from_the_base_leave_it():
    runner = _runner()
    set_attribute(runner, 'optim_wrapper.optimizer.param_groups.1.lr', 0.3)  # one group: the base stays the config's
    assert runner.optim_wrapper.get_lr()['base_lr'] == [0.1]
    runner = _runner(custom_keys={'': dict(lr_mult=0.5)})  # every group 0.05, the base 0.1: not the groups' value
    set_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.lr', 0.3)
    assert runner.optim_wrapper.get_lr() == {'base_lr': [0.1], 'lr': [0.3] * 6}
