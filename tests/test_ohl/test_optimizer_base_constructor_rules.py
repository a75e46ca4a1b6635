"""The base form (``optim_wrapper.optimizer.weight_decay`` / ``.lr``) sets each group to what the config's own
constructor makes of the written base, bit for bit, whatever values the groups hold before.

Inputs that showed the faults (each group compared, by parameter identity, with ``build_optim_wrapper`` of the config
at the written base): ``custom_keys={'head': dict(weight_decay=5e-3)}`` (a value set outright: the base form made it
``5e-3 × v / base``, 0.0185 for v=3.7e-4); ``decay_mult=1/3`` and mmdet's ``LearningRateDecayOptimizerConstructor``
(``lr = 0.65**k × base``): ratios rounded to 12 digits, 1e-12 off; a resume from a checkpoint whose groups held
other values than the config's (an earlier run that wrote ``param_groups.*.weight_decay=5e-4``: the base 3e-4 then
trained at 1.5e-3; one whose ``paramwise_cfg`` differed: the stored ratios won over the config's)."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import (
    CosineAnnealingParamScheduler,
    DefaultOptimWrapperConstructor,
    OptimWrapperDict,
    build_optim_wrapper,
)
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from automl_mm.ohl.attributes import establish_base_targets, get_attribute, set_attribute
from automl_mm.ohl.ownership import check_owned_attribute
from automl_mm.ohl.replay_hooks import SetAttributesHook

WD, LR = 'optim_wrapper.optimizer.weight_decay', 'optim_wrapper.optimizer.lr'


def _model():
    net = nn.Module()
    net.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, groups=4))
    net.head = nn.Linear(4, 2)
    return net


def _optim(**paramwise):
    return dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
                paramwise_cfg=paramwise)


def _runner(optim, model=None):
    model = model or _model()
    return SimpleNamespace(model=model, optim_wrapper=build_optim_wrapper(model, copy.deepcopy(optim)),
                           param_schedulers=[], cfg=Config(dict(optim_wrapper=copy.deepcopy(optim))))


def _by_param(optimizer, key):
    return {id(p): group[key] for group in optimizer.param_groups for p in group['params']}


def _fresh(runner, optim, key, value, where=('optimizer',)):
    """``{id(param): value}`` of the optimiser ``optim`` builds with ``<where>.<key>=value`` (bit for bit)."""
    cfg = copy.deepcopy(optim)
    node = cfg
    for part in where:
        node = node[part]
    node[key] = value
    built = build_optim_wrapper(runner.model, cfg)
    for part in where[:-1]:
        built = built[part]
    return _by_param(built.optimizer, key)


@pytest.mark.parametrize('key,path,value', [('weight_decay', WD, 3.7e-4), ('lr', LR, 0.037)])
def test_a_value_custom_keys_sets_outright_is_kept(key, path, value):
    optim = _optim(norm_decay_mult=0., custom_keys={'head': dict(weight_decay=5e-3, lr=0.5)})
    runner = _runner(optim)
    set_attribute(runner, path, value)
    assert _by_param(runner.optim_wrapper.optimizer, key) == _fresh(runner, optim, key, value)
    assert {runner.optim_wrapper.optimizer.param_groups[-1][key]} == {0.5 if key == 'lr' else 5e-3}
    assert get_attribute(runner, path) == [value]


def test_a_config_base_of_zero_takes_the_constructors_multipliers():
    optim = _optim(norm_decay_mult=0., custom_keys={'head': dict(decay_mult=0.5)})
    optim['optimizer']['weight_decay'] = 0.0  # every group 0: no ratio to read from the values
    runner = _runner(optim)
    set_attribute(runner, WD, 4e-4)
    assert _by_param(runner.optim_wrapper.optimizer, 'weight_decay') == _fresh(runner, optim, 'weight_decay', 4e-4)
    assert sorted({g['weight_decay'] for g in runner.optim_wrapper.optimizer.param_groups}) == [0.0, 2e-4, 4e-4]


class ConvNeXtStandIn(nn.Module):
    """Named as mmdet's layer-wise decay constructor looks for (``'ConvNeXt' in`` the backbone's class name)."""

    def __init__(self):
        super().__init__()
        self.downsample_layers = nn.ModuleList(nn.Sequential(nn.Conv2d(3, 4, 1), nn.LayerNorm(4)) for _ in range(4))
        self.stages = nn.ModuleList(nn.Sequential(nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)) for _ in range(4))


@pytest.mark.parametrize('key,path,value', [('weight_decay', WD, 0.037), ('lr', LR, 3.3e-4)])
@pytest.mark.parametrize('kind', ['one_third', 'every_mult', 'layer_decay'])
def test_multipliers_of_any_digits_give_the_constructors_values_exactly(kind, key, path, value):
    if kind == 'one_third':
        optim, model = _optim(custom_keys={'head': dict(decay_mult=1 / 3, lr_mult=1 / 3)}), _model()
    elif kind == 'every_mult':  # the depth-wise conv, a flat parameter, norm, bias, a custom key's decay_mult
        optim = _optim(norm_decay_mult=0.1, bias_decay_mult=0.3, dwconv_decay_mult=0.7, flat_decay_mult=0.9,
                       bias_lr_mult=2., custom_keys={'head': dict(decay_mult=0.13)})
        model = _model()
        model.scale = nn.Parameter(torch.ones(3))
    else:  # mmdet's ConvNeXt layer-wise lr decay: lr = 0.65 ** (num_layers - layer_id - 1) × base
        optim = dict(constructor='mmdet.LearningRateDecayOptimizerConstructor', type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
                     paramwise_cfg=dict(decay_rate=0.65, decay_type='layer_wise', num_layers=6))
        model = nn.Module()
        model.backbone, model.head = ConvNeXtStandIn(), nn.Linear(4, 2)
    runner = _runner(optim, model)
    set_attribute(runner, path, value)
    assert _by_param(runner.optim_wrapper.optimizer, key) == _fresh(runner, optim, key, value)
    assert get_attribute(runner, path) == [value]


def test_a_resume_from_other_values_scales_by_the_configs_constructor():
    # an earlier run (no base form) wrote one value into every group: its checkpoint holds 5e-4, no ratios
    optim = _optim(custom_keys={'head': dict(lr_mult=0.5)})  # every group decays at the base: one value allowed
    earlier = _runner(optim)
    set_attribute(earlier, 'optim_wrapper.optimizer.param_groups.*.weight_decay', 5e-4)
    resumed = _runner(optim, earlier.model)
    resumed.optim_wrapper.load_state_dict(copy.deepcopy(earlier.optim_wrapper.state_dict()))
    set_attribute(resumed, WD, 3e-4)
    assert _by_param(resumed.optim_wrapper.optimizer, 'weight_decay') == _fresh(resumed, optim, 'weight_decay', 3e-4)

    # the reverse: a base-form run's checkpoint (its ratios stored) resumed under another paramwise_cfg
    first = _runner(_optim(norm_decay_mult=0.))
    set_attribute(first, WD, 5e-4)
    now = _optim(norm_decay_mult=0.5)
    resumed = _runner(now, first.model)
    resumed.optim_wrapper.load_state_dict(copy.deepcopy(first.optim_wrapper.state_dict()))
    set_attribute(resumed, WD, 3e-4)
    assert _by_param(resumed.optim_wrapper.optimizer, 'weight_decay') == _fresh(resumed, now, 'weight_decay', 3e-4)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module(force=True)
class TwoOptimisersForTest:
    """An ``OptimWrapperDict`` of ``gen`` and ``disc`` (as mmagic's multi-optimiser constructor builds it), each
    by mmengine's constructor from its own ``<name>`` entry (``nested.<name>`` with ``nested``); and ``affine=True``:
    gen's decay ``base + 1e-3``."""

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        self.cfg = optim_wrapper_cfg

    def __call__(self, model):
        wrappers = {}
        for name in ('gen', 'disc'):
            cfg = copy.deepcopy(self.cfg['nested'][name] if 'nested' in self.cfg else self.cfg[name])
            wrappers[name] = DefaultOptimWrapperConstructor(cfg, cfg.pop('paramwise_cfg', None))(getattr(model, name))
        if self.cfg.get('affine'):
            for group in wrappers['gen'].optimizer.param_groups:
                group['weight_decay'] += 1e-3
        return OptimWrapperDict(**wrappers)


def _two(affine=False):
    one = dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
               paramwise_cfg=dict(norm_decay_mult=0., custom_keys={'0.bias': dict(weight_decay=2e-3)}))
    return dict(constructor='TwoOptimisersForTest', gen=copy.deepcopy(one), disc=copy.deepcopy(one), affine=affine)


def _gan():
    model = nn.Module()
    model.gen = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model.disc = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    return model


def test_an_optimiser_of_a_multi_optimiser_constructor_takes_its_own_entrys_rules():
    runner = _runner(_two(), _gan())
    path = 'optim_wrapper.optim_wrappers.gen.optimizer.weight_decay'
    set_attribute(runner, path, 7e-4)
    fresh = _fresh(runner, _two(), 'weight_decay', 7e-4, where=('gen', 'optimizer'))
    assert _by_param(runner.optim_wrapper['gen'].optimizer, 'weight_decay') == fresh
    assert [g['weight_decay'] for g in runner.optim_wrapper['disc'].optimizer.param_groups] == [1e-4, 2e-3, 0, 0]


def test_the_optimiser_of_an_optimiser_dict_is_named_in_the_refusal():
    runner = _runner(_two(), _gan())
    with pytest.raises(ValueError, match=r"OptimWrapperDict has no attribute 'optimizer'; it holds one optimiser "
                                         r"wrapper per name \(gen, disc\): target optim_wrapper\.optim_wrappers\.gen"
                                         r"\.optimizer\.weight_decay or optim_wrapper\.optim_wrappers\.disc\."):
        set_attribute(runner, WD, 7e-4)


def test_a_constructor_whose_layout_hides_the_optimisers_config_is_refused():
    optim = dict(constructor='TwoOptimisersForTest', nested=dict(gen=_two()['gen'], disc=_two()['disc']))
    runner = _runner(optim, _gan())
    with pytest.raises(ValueError, match=r"optim_wrapper\.constructor='TwoOptimisersForTest' built this optimiser, "
                                         r"but the config has no optim_wrapper\.gen\.optimizer dict"):
        set_attribute(runner, 'optim_wrapper.optim_wrappers.gen.optimizer.weight_decay', 7e-4)


def test_a_constructor_rule_that_is_no_multiplier_is_refused_naming_the_group():
    runner = _runner(_two(affine=True), _gan())
    with pytest.raises(ValueError, match=r"gives parameter group 0 weight_decay=1\.001 at "
                                         r"optim_wrapper\.gen\.optimizer\.weight_decay=1 and 2\.001 at 2"):
        set_attribute(runner, 'optim_wrapper.optim_wrappers.gen.optimizer.weight_decay', 7e-4)


def test_an_amp_optimiser_wrapper_through_a_resume(monkeypatch):
    from mmengine.optim.optimizer import amp_optimizer_wrapper

    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)  # its only CPU objection
    optim = dict(_optim(norm_decay_mult=0., custom_keys={'head': dict(weight_decay=5e-3)}), type='AmpOptimWrapper')
    first = _runner(optim)
    assert type(first.optim_wrapper).__name__ == 'AmpOptimWrapper'
    set_attribute(first, WD, 7e-4)
    resumed = _runner(optim, first.model)
    resumed.optim_wrapper.load_state_dict(copy.deepcopy(first.optim_wrapper.state_dict()))  # with its loss scaler
    assert get_attribute(resumed, WD) == [7e-4]
    set_attribute(resumed, WD, 3e-4)
    assert _by_param(resumed.optim_wrapper.optimizer, 'weight_decay') == _fresh(resumed, optim, 'weight_decay', 3e-4)


def test_base_lr_under_auto_scale_lr_through_a_resume():
    optim = _optim(custom_keys={'head': dict(lr_mult=1 / 3)})

    def scaled(before_run):  # built, then mmengine's scale_lr for twice the base batch, then the hooks' before_run
        runner = _runner(optim)
        for group in runner.optim_wrapper.optimizer.param_groups:
            group['lr'] = group['lr'] * 2
        before_run(runner)
        return runner

    first = scaled(lambda runner: establish_base_targets(runner, [LR, 'model.head.weight']))
    set_attribute(first, LR, 0.1)
    resumed = scaled(SetAttributesHook({LR: 0.05}).before_run)  # then the checkpoint's groups are loaded
    resumed.model.load_state_dict(first.model.state_dict())
    resumed.optim_wrapper.load_state_dict(copy.deepcopy(first.optim_wrapper.state_dict()))
    set_attribute(resumed, LR, 0.05)  # as lr=0.05 in the config: (0.05 × lr_mult) × 2
    fresh = _fresh(resumed, optim, 'lr', 0.05)
    assert _by_param(resumed.optim_wrapper.optimizer, 'lr') == {k: v * 2 for k, v in fresh.items()}


@pytest.mark.parametrize('factor', [1, 2])  # auto_scale_lr off, and on for twice the base batch
def test_rules_first_read_after_a_resume_keep_the_built_factor(factor):
    """A writer the hooks' before_run does not know (a space of your own) reads the rules at its first write, after
    the checkpoint's groups were loaded: the factor was read from their values (0.1 written before), so a base of
    0.05 trained at 0.05 × 0.1 / 0.02 = 5 times the lr (without auto_scale_lr too)."""
    optim = _optim(custom_keys={'head': dict(lr_mult=1 / 3)})

    def built():
        runner = _runner(optim)
        for group in runner.optim_wrapper.optimizer.param_groups:  # mmengine's scale_lr
            group['lr'] = group['lr'] * factor
        return runner

    first = built()
    establish_base_targets(first, [LR])
    set_attribute(first, LR, 0.1)
    resumed = built()
    resumed.model.load_state_dict(first.model.state_dict())
    resumed.optim_wrapper.load_state_dict(copy.deepcopy(first.optim_wrapper.state_dict()))
    set_attribute(resumed, LR, 0.05)  # no establish: the rules are read now
    fresh = _fresh(resumed, optim, 'lr', 0.05)
    assert _by_param(resumed.optim_wrapper.optimizer, 'lr') == {k: v * factor for k, v in fresh.items()}


def test_a_group_a_hook_added_after_the_build_takes_its_ratio_to_the_built_base():
    runner = _runner(_optim(norm_decay_mult=0.))
    optimizer = runner.optim_wrapper.optimizer
    optimizer.add_param_group({'params': [nn.Parameter(torch.zeros(2))]})  # torch's defaults: the config's base
    optimizer.add_param_group({'params': [nn.Parameter(torch.zeros(2))], 'weight_decay': 0.0})
    set_attribute(runner, WD, 3e-4)
    assert [g['weight_decay'] for g in optimizer.param_groups[-2:]] == [3e-4, 0.0]


def test_a_weight_decay_scheduler_owns_the_base_weight_decay():
    runner = _runner(_optim(norm_decay_mult=0.))
    runner.param_schedulers = [CosineAnnealingParamScheduler(runner.optim_wrapper, param_name='weight_decay',
                                                             T_max=4)]
    with pytest.raises(ValueError, match=r"param_scheduler\[0\] \(CosineAnnealingParamScheduler\) schedules "
                                         r"'weight_decay'"):
        check_owned_attribute(runner, WD, 'me')
    check_owned_attribute(runner, LR, 'me')  # the lr is not scheduled
