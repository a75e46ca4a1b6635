"""An AutoML type that no registry holds (a typo, or one's own module missing from ``custom_imports``) is refused
naming the config key: mmengine's ``KeyError: 'PlantedSpaceX is not in the automl_mm::search space registry'``
named the registry only, and in an OHL hook with several spaces, or a distribution inside a space, not which."""
from __future__ import annotations

import pytest

from automl_mm.nas.base import build_path_sampler, build_path_space
from automl_mm.ohl.base import build_ohl_space
from automl_mm.ohl.hook import OHLHook

SPACE = dict(type='AttributeSpace', distribution=dict(type='Categorical', num_choices=2),
             target='optim_wrapper.optimizer.param_groups.*.lr', choices=[0.1, 0.01])


def _hook(spaces, controller=None):
    return OHLHook(spaces=spaces, num_copies=2, trunk_epochs=1, controller=controller, reward_key='accuracy/top1')


@pytest.mark.parametrize('build, match', [
    (lambda: _hook([SPACE, dict(type='HxNoSpace')]), r"OHLHook.spaces\[1\]: HxNoSpace is not in the automl_mm::search"),
    (lambda: _hook([SPACE], controller=dict(type='HxNoController')),
     r'OHLHook.controller: HxNoController is not in the automl_mm::controller registry'),
    (lambda: _hook([dict(SPACE, distribution=dict(type='HxNoDist'))]),
     r'OHLHook.spaces\[0\].distribution: HxNoDist is not in the automl_mm::sampler registry'),
    (lambda: build_ohl_space(dict(type='HxNoSpace'), 'OHLHook.spaces[0]'), r'OHLHook.spaces\[0\]: HxNoSpace'),
    (lambda: build_path_space(dict(type='HxNoSpace'), 'train_cfg.space'), r'train_cfg.space: HxNoSpace is not'),
    (lambda: build_path_sampler(dict(type='HxNoSampler'), 'PathSamplingHook.sampler'),
     r'PathSamplingHook.sampler: HxNoSampler is not'),
])
def test_an_unregistered_type_is_refused_naming_its_config_key(build, match):
    with pytest.raises(KeyError, match=match):
        build()


def test_a_misspelled_type_gets_the_closest_registered_name():
    """``type='AttributeSpac'`` got mmengine's generic advice only; the model's and loaders' types got the closest
    name already (``preflight_types``), the OHL and NAS parts did not (their roots are automl_mm's, not mmengine's)."""
    with pytest.raises(KeyError) as info:
        _hook([dict(SPACE, type='AttributeSpac')])
    assert info.value.args[0] == ("OHLHook.spaces[0]: AttributeSpac is not in the automl_mm::search space registry "
                                  "(did you mean 'AttributeSpace'?)")
    with pytest.raises(KeyError) as info:
        _hook([dict(SPACE, distribution=dict(type='Categorcal', num_choices=2))])
    assert info.value.args[0] == ("OHLHook.spaces[0].distribution: Categorcal is not in the "
                                  "automl_mm::sampler registry (did you mean 'Categorical'?)")
    with pytest.raises(KeyError) as info:
        _hook([SPACE], controller=dict(type='REINFORCEE'))
    assert info.value.args[0] == ("OHLHook.controller: REINFORCEE is not in the automl_mm::controller registry "
                                  "(did you mean 'REINFORCE'?)")
