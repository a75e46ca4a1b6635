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


def test_another_constructors_error_is_left_as_raised(registered):
    with pytest.raises(TypeError) as info:
        _hook(dict(type='AttributeSpace', target='optim_wrapper.optimizer.lr', choices=[0.1, 0.2],
                   distribution=dict(type='Categorical', num_choice=2)))
    assert str(info.value) == ("OHLHook.spaces[0]: Categorical.__init__() got an unexpected keyword argument "
                               "'num_choice'")
