"""A ``param_scheduler`` owns a parameter only in the optimiser it steps: under an ``OptimWrapperDict`` mmengine
builds the schedulers per optimiser (``param_scheduler=dict(gen=[...], disc=[...])``, or a list built once for each),
and a scheduler of the generator's lr refused an OHL space on the discriminator's lr, which nothing schedules,
naming ``param_scheduler[0]`` for the config's ``param_scheduler.gen[0]``."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.optim import ConstantMomentum, LinearLR, OptimWrapperDict, build_optim_wrapper
from torch import nn

from automl_mm.ohl.attributes import get_attribute, set_attribute
from automl_mm.ohl.ownership import check_owned_attribute

GEN, DISC = 'optim_wrapper.optim_wrappers.gen.optimizer', 'optim_wrapper.optim_wrappers.disc.optimizer'


def _runner(param_scheduler, optimizer='SGD'):
    model = nn.Module()
    model.gen, model.disc = nn.Linear(2, 2), nn.Linear(2, 2)
    settings = dict(type=optimizer, lr=0.1, weight_decay=1e-4, **({'momentum': 0.9} if optimizer == 'SGD' else {}))
    wrappers = {name: build_optim_wrapper(getattr(model, name), dict(optimizer=dict(settings)))
                for name in ('gen', 'disc')}
    schedulers = {name: [build(wrappers[name]) for build in param_scheduler.get(name, [])] for name in wrappers}
    return SimpleNamespace(model=model, optim_wrapper=OptimWrapperDict(**wrappers), param_schedulers=schedulers,
                           cfg=Config(dict(param_scheduler={k: [dict(type='x')] * len(v)
                                                            for k, v in param_scheduler.items()})))


def _warm_up(wrapper):
    return LinearLR(wrapper, start_factor=0.1, by_epoch=False, begin=0, end=4)


@pytest.mark.parametrize('path', [f'{DISC}.lr', f'{DISC}.param_groups.*.lr', f'{DISC}.param_groups.0.lr'])
def test_a_scheduler_of_one_optimiser_leaves_the_others_lr_free(path):
    runner = _runner(dict(gen=[_warm_up]))
    check_owned_attribute(runner, path, 'OHL space')
    set_attribute(runner, path, 0.03)
    assert [g['lr'] for g in runner.optim_wrapper['disc'].optimizer.param_groups] == [0.03]
    assert [g['lr'] for g in runner.optim_wrapper['gen'].optimizer.param_groups] == [0.1 * 0.1]  # the warm-up's


@pytest.mark.parametrize('path', [f'{GEN}.lr', f'{GEN}.param_groups.*.lr'])
def test_the_scheduled_optimisers_lr_is_refused_naming_its_config_key(path):
    with pytest.raises(ValueError, match=r"writes optim_wrapper\.optim_wrappers\.gen\.optimizer\.(param_groups\.\*\.)?"
                                         r"lr but param_scheduler\.gen\[0\] \(LinearLR\) schedules 'lr'"):
        check_owned_attribute(_runner(dict(gen=[_warm_up])), path, 'OHL space')


def test_a_momentum_scheduler_owns_beta1_of_its_own_optimiser_only():
    runner = _runner(dict(disc=[lambda w: ConstantMomentum(w, factor=0.5, by_epoch=False, end=4)]), 'Adam')
    check_owned_attribute(runner, f'{GEN}.param_groups.*.betas.0', 'OHL space')
    with pytest.raises(ValueError, match=r"param_scheduler\.disc\[0\] \(ConstantMomentum\) schedules 'betas'"):
        check_owned_attribute(runner, f'{DISC}.param_groups.*.betas.0', 'OHL space')


def test_a_list_built_for_every_optimiser_owns_each_and_keeps_its_key():
    runner = _runner(dict(gen=[_warm_up], disc=[_warm_up]))
    runner.cfg = Config(dict(param_scheduler=[dict(type='LinearLR')]))  # the config's list, built per optimiser
    for path in (f'{GEN}.lr', f'{DISC}.lr'):
        with pytest.raises(ValueError, match=r"but param_scheduler\[0\] \(LinearLR\) schedules 'lr'"):
            check_owned_attribute(runner, path, 'OHL space')
    assert get_attribute(runner, f'{DISC}.param_groups.*.weight_decay') == [1e-4]
    check_owned_attribute(runner, f'{DISC}.weight_decay', 'OHL space')  # the lr only is scheduled


def test_a_fixed_values_advice_names_the_config_key_of_the_optimiser_dict():
    """A pasted ``SetAttributesHook`` under a scheduler is told the base to set in the config instead: for an
    ``OptimWrapperDict`` that is ``optim_wrapper.gen.optimizer.lr`` (the runner's attribute path
    ``optim_wrapper.optim_wrappers.gen.optimizer.lr`` is no config key), and so says the fragment's comment."""
    from automl_mm.ohl.attribute_space import _scheduled_base_note

    runner = _runner(dict(gen=[_warm_up]))
    with pytest.raises(ValueError, match=r"set the base value instead, optim_wrapper\.gen\.optimizer\.lr=0\.03 \(the "
                                         r"scheduler then scales it\)"):
        check_owned_attribute(runner, f'{GEN}.param_groups.*.lr', 'SetAttributesHook', fixed_value=0.03)
    assert 'set the base value optim_wrapper.gen.optimizer.lr=0.03 instead' in \
        _scheduled_base_note({f'{GEN}.param_groups.*.lr': 0.03})
