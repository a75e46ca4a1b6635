"""The base form of an optimiser target: ``optim_wrapper.optimizer.weight_decay`` (``.lr``) sets each parameter
group to base × the multiplier mmengine's ``paramwise_cfg`` gave it.

Input that showed the fault: an ``AttributeSpace`` over ``optim_wrapper.optimizer.param_groups.*.weight_decay`` of a
detector under ``paramwise_cfg=dict(norm_decay_mult=0.)`` (every mmdet RTMDet) was refused (the groups differ) with
advice to give each of its 90 groups its own path; ``optim_wrapper.optimizer.weight_decay`` was 'SGD has no
attribute'. Checked on optimisers built by mmengine's own ``DefaultOptimWrapperConstructor``."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.optim import LinearLR, build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import get_attribute, set_attribute
from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.ownership import check_owned_attribute

BASE = 'optim_wrapper.optimizer.weight_decay'
GROUPS = 'optim_wrapper.optimizer.param_groups.*.weight_decay'
OPTIM = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.05),
             paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                                custom_keys={'head': dict(decay_mult=0.1, lr_mult=0.5)}))
# 0.05: RTMDet's base, of which 0.05 * 0.1 / 0.05 is 0.10000000000000002 (the ratio is rounded to the multiplier)
# parameter order: conv weight (1), conv bias (bias_decay_mult 0), BN weight / bias (norm 0), head weight / bias (0.1)
MULTS = [1.0, 0.0, 0.0, 0.0, 0.1, 0.1]


def _model():
    net = nn.Module()
    net.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    net.head = nn.Linear(4, 2)
    return net


def _runner(optim=None, **optimizer):
    cfg = copy.deepcopy(optim or OPTIM)
    cfg['optimizer'].update(optimizer)
    model = _model()
    return SimpleNamespace(model=model, optim_wrapper=build_optim_wrapper(model, cfg), param_schedulers=[])


def _decays(runner):
    return [group['weight_decay'] for group in runner.optim_wrapper.optimizer.param_groups]


def _space(target=BASE):
    space = AttributeSpace(dict(type='Categorical'), target=target, choices=[3e-4, 5e-4], name='wd')
    return space


def _searched(runner, choice=1):
    space = _space()
    space.setup(runner, CopyLayout(num_copies=1, ranks_per_copy=1, rank=0, world_size=1), 0)
    space.apply(choice, runner)
    return space


def test_groups_get_base_times_their_multiplier():
    runner = _runner()
    assert _decays(runner) == pytest.approx([0.05 * m for m in MULTS])  # what the constructor made
    space = _searched(runner)
    # exactly what mmengine's constructor makes of weight_decay=5e-4: norm and bias groups stay undecayed
    assert _decays(runner) == _decays(_runner(weight_decay=5e-4))
    assert _decays(runner) == pytest.approx([5e-4 * m for m in MULTS])
    assert _decays(runner)[1:4] == [0.0, 0.0, 0.0]
    assert space.applied_values() == {BASE: 5e-4}  # the history records the base searched
    assert get_attribute(runner, BASE) == pytest.approx([5e-4])
    space.apply(0, runner)  # every trunk's write scales by the constructor's ratios, not the last write's
    assert _decays(runner) == _decays(_runner(weight_decay=3e-4))


def test_exported_fragment_reproduces_the_groups_in_a_stock_mmdet_config():
    searched = _runner()
    fragment = _searched(searched, choice=0).export_fragment()  # θ untouched: the mode is the first (tied) choice
    assert f"'{BASE}': 0.0003" in fragment
    # a stock mmdet config holding the same paramwise_cfg at the config's base 0.05, with the fragment pasted in
    cfg = Config.fromstring(f"default_scope = 'mmdet'\noptim_wrapper = {OPTIM!r}\n{fragment}", '.py')
    model = _model()
    replay = SimpleNamespace(model=model, optim_wrapper=build_optim_wrapper(model, cfg.optim_wrapper),
                             param_schedulers=[])
    from mmdet.registry import HOOKS
    with DefaultScope.overwrite_default_scope('mmdet'):
        hooks = [HOOKS.build(hook) for hook in cfg.custom_hooks]
    for hook in hooks:
        hook.before_train(replay)
    assert _decays(replay) == _decays(searched)
    assert _decays(replay)[1:4] == [0.0, 0.0, 0.0]


def test_a_resumed_run_scales_by_the_constructors_ratios():
    first = _runner()
    set_attribute(first, BASE, 5e-4)
    resumed = _runner()  # built from the config (base 0.05), then the checkpoint's optimiser state loaded
    resumed.optim_wrapper.load_state_dict(copy.deepcopy(first.optim_wrapper.state_dict()))
    set_attribute(resumed, BASE, 3e-4)
    assert _decays(resumed) == _decays(_runner(weight_decay=3e-4))


def test_a_base_of_zero_is_refused_naming_the_config_key():
    with pytest.raises(ValueError, match=r"weight_decay=0 \(optim_wrapper\.optimizer\.weight_decay in the config\)"):
        _searched(_runner(weight_decay=0.0))


def test_base_lr_keeps_lr_mult_and_a_scheduler_still_owns_the_lr():
    runner = _runner()
    set_attribute(runner, 'optim_wrapper.optimizer.lr', 0.1)
    assert [g['lr'] for g in runner.optim_wrapper.optimizer.param_groups] == pytest.approx([0.1] * 4 + [0.05] * 2)
    runner = _runner()
    runner.param_schedulers = [LinearLR(runner.optim_wrapper, start_factor=0.1, end=5)]
    with pytest.raises(ValueError, match=r"schedules 'lr'"):
        check_owned_attribute(runner, 'optim_wrapper.optimizer.lr', 'me')
    check_owned_attribute(runner, BASE, 'me')  # weight decay is not scheduled


def test_refusals_point_to_the_base_form():
    runner = _runner()
    with pytest.raises(ValueError, match=r'hold different values .* Search the base instead: target '
                                         r'optim_wrapper\.optimizer\.weight_decay'):
        check_owned_attribute(runner, GROUPS, 'me')
    with pytest.raises(ValueError, match=r'param_groups\.\*\.weight_decay \(or optim_wrapper\.optimizer\.weight_'
                                         r'decay, the base'):
        check_owned_attribute(runner, 'optim_wrapper.optimizer.defaults.weight_decay', 'me')
    with pytest.raises(ValueError, match=r"no attribute 'momentum'.* Target optim_wrapper\.optimizer\.param_groups"
                                         r'\.\*\.momentum instead'):
        get_attribute(runner, 'optim_wrapper.optimizer.momentum')


def test_base_lr_is_in_the_configs_units_under_auto_scale_lr():
    runner = _runner()
    for group in runner.optim_wrapper.optimizer.param_groups:  # mmengine's scale_lr for twice the base batch
        group['lr'] *= 2
    set_attribute(runner, 'optim_wrapper.optimizer.lr', 0.1)  # as lr=0.1 in the config: 0.1 × lr_mult × 2
    assert [g['lr'] for g in runner.optim_wrapper.optimizer.param_groups] == pytest.approx([0.2] * 4 + [0.1] * 2)
