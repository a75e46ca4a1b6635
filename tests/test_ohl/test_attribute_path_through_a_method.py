"""An attribute path through a method: ``AttributeSpace(target='model.head.loss.smoothing')`` (a user's searched
loss argument, where ``LinearClsHead`` builds the config's ``loss`` as ``loss_module`` and ``loss`` is its method)
was refused with "method has no attribute 'smoothing'", naming neither the method nor the module meant; a path
ending on a method (``model.head.loss``) would have written a value over it. Now both are refused naming the method
and the path through the child module that holds the rest."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch import nn

from automl_mm.ohl.attributes import resolve_attribute


class _Loss(nn.Module):
    def __init__(self):
        super().__init__()
        self.smoothing = 0.1


class _Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.loss_module = _Loss()
        self.fc = nn.Linear(2, 2)

    def loss(self, x):
        return self.loss_module(x)


def _runner():
    return SimpleNamespace(model=nn.ModuleDict(dict(head=_Head())))


def test_a_path_through_a_method_names_it_and_the_module_meant():
    with pytest.raises(ValueError) as info:
        resolve_attribute(_runner(), 'model.head.loss.smoothing')
    assert str(info.value) == ("attribute path 'model.head.loss.smoothing': 'loss' of _Head is a method, not a module "
                               'or a value; did you mean model.head.loss_module.smoothing?')


def test_a_path_ending_on_a_method_is_refused_with_the_child_modules():
    with pytest.raises(ValueError) as info:
        resolve_attribute(_runner(), 'model.head.loss')
    assert str(info.value) == ("attribute path 'model.head.loss': 'loss' of _Head is a method, not a module or a "
                               'value (its child modules: loss_module, fc)')


def test_the_path_meant_resolves():
    runner = _runner()
    assert resolve_attribute(runner, 'model.head.loss_module.smoothing') == [(runner.model.head.loss_module,
                                                                              'smoothing')]
