"""A misspelled argument of an OHL space or controller of one's own (``dict(type='MyLrSpace', choice=[...])``) was
refused with Python's ``MyLrSpace.__init__() got an unexpected keyword argument 'choice'`` alone (for a subclass
passing ``**kwargs`` on, naming the base: ``REINFORCE.__init__() ... 'low'``), where a model node's names the
argument meant. Now ``build_named`` adds what the class takes and the closest key."""
from __future__ import annotations

import pytest

from automl_mm.ohl.base import PerCopySpace
from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.hook import OHLHook
from automl_mm.registry import CONTROLLERS, SEARCH_SPACES


class HxArgSpace(PerCopySpace):
    def __init__(self, choices, name='lr'):
        super().__init__(dict(type='Categorical', num_choices=len(choices)), name=name)
        self.choices = choices

    def apply(self, sample, runner):
        pass

    def export_fragment(self):
        return ''


class HxClippedREINFORCE(REINFORCE):
    def __init__(self, distribution, lo=0.0, hi=100.0, **kwargs):
        super().__init__(distribution, **kwargs)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(SEARCH_SPACES._module_dict, 'HxArgSpace', HxArgSpace)
    monkeypatch.setitem(CONTROLLERS._module_dict, 'HxClippedREINFORCE', HxClippedREINFORCE)


def _hook(space, controller=None):
    return OHLHook(num_copies=2, trunk_epochs=1, spaces=[space], controller=controller or dict(type='REINFORCE'),
                   reward_key='accuracy/top1')


def test_a_misspelled_space_argument_names_the_arguments_and_the_key_meant(registered):
    with pytest.raises(TypeError) as info:
        _hook(dict(type='HxArgSpace', choice=[0.1, 0.2]))
    assert str(info.value) == ("OHLHook.spaces[0]: HxArgSpace.__init__() got an unexpected keyword argument 'choice' "
                               '(HxArgSpace takes choices, name; did you mean OHLHook.spaces[0].choices?)')


def test_a_subclass_passing_kwargs_on_is_named_with_its_bases_arguments(registered):
    with pytest.raises(TypeError) as info:
        _hook(dict(type='HxArgSpace', choices=[0.1, 0.2]), dict(type='HxClippedREINFORCE', low=0.0))
    assert str(info.value) == (
        "OHLHook.controller: REINFORCE.__init__() got an unexpected keyword argument 'low' (HxClippedREINFORCE takes "
        'distribution, lo, hi, optimizer, baseline, momentum, normalize, eps, entropy_weight; did you mean '
        'OHLHook.controller.lo?)')


def _lr_space(distribution):
    return dict(type='AttributeSpace', target='optim_wrapper.optimizer.lr', choices=[0.1, 0.2],
                distribution=distribution)


def test_a_misspelled_distribution_argument_is_named_at_the_distributions_key(registered):
    """It was named at the space's key with no hint (``OHLHook.spaces[0]: Categorical.__init__() got an unexpected
    keyword argument 'num_choice'``): the distribution's config is ``OHLHook.spaces[0].distribution``."""
    with pytest.raises(TypeError) as info:
        _hook(_lr_space(dict(type='Categorical', num_choice=2)))
    assert str(info.value) == (
        "OHLHook.spaces[0].distribution: Categorical.__init__() got an unexpected keyword argument 'num_choice' "
        '(Categorical takes num_choices, logits, labels; did you mean OHLHook.spaces[0].distribution.num_choices?)')


def test_a_distributions_refused_value_and_unregistered_type_are_named_at_its_key(registered):
    with pytest.raises(ValueError) as info:
        _hook(_lr_space(dict(type='Categorical', num_choices=2, logits=[0.0, 0.0, 1.0])))
    assert str(info.value) == ('OHLHook.spaces[0].distribution: logits must be 2 values (num_choices) in one '
                               'dimension, got shape (3,)')
    with pytest.raises(KeyError) as info:
        _hook(_lr_space(dict(type='Categorica', num_choices=2)))
    assert info.value.args[0] == ("OHLHook.spaces[0].distribution: Categorica is not in the automl_mm::sampler "
                                  "registry (did you mean 'Categorical'?)")  # 'OHLHook.spaces[0]: AttributeSpace...'


def test_a_product_components_argument_is_named_at_the_components_key(registered):
    with pytest.raises(TypeError, match=r"^OHLHook\.spaces\[0\]\.distribution\.components\.a: "
                                        r"Categorical\.__init__\(\) got an unexpected keyword argument 'num_choise' "
                                        r".*did you mean "
                                        r"OHLHook\.spaces\[0\]\.distribution\.components\.a\.num_choices\?"):
        _hook(dict(type='AttributeSpace', target='x.y', choices=[0.1, 0.2],
                   distribution=dict(type='Product', components=dict(a=dict(type='Categorical', num_choise=2)))))


def test_a_misspelled_controller_optimizer_argument_is_named_at_the_optimizers_key(registered):
    """The same kind: the controller's ``optimizer`` config, named at ``OHLHook.controller`` before."""
    with pytest.raises(TypeError, match=r"^OHLHook\.controller\.optimizer: Adam\.__init__\(\) got an unexpected "
                                        r"keyword argument 'lrr' \(Adam takes params, lr, .*did you mean "
                                        r"OHLHook\.controller\.optimizer\.lr\?\)"):
        _hook(dict(type='HxArgSpace', choices=[0.1, 0.2]), dict(type='REINFORCE', optimizer=dict(type='Adam',
                                                                                                  lrr=0.1)))


def test_a_distribution_built_outside_a_config_build_is_left_to_its_caller():
    """Outside a config build (a space built in Python, or its resolve stage) there is no key: the constructor's
    message is left as raised for the caller to name (PipelineChoiceSpace names its transform's factors); an
    unregistered type is named by the space's name."""
    from automl_mm.ohl.attribute_space import AttributeSpace

    with pytest.raises(TypeError, match=r"^Categorical\.__init__\(\) got an unexpected keyword argument 'num_choice'$"):
        AttributeSpace(dict(type='Categorical', num_choice=2), target='x.y', choices=[0.1, 0.2], name='lr')
    with pytest.raises(KeyError) as info:
        AttributeSpace(dict(type='Categorica', num_choices=2), target='x.y', choices=[0.1, 0.2], name='lr')
    assert info.value.args[0].startswith('lr.distribution: Categorica is not in the automl_mm::sampler registry')
