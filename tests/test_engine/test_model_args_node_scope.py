"""A model build's refusal of an argument is located at the config key of the node whose class refused it, that class
resolved as mmengine builds the node: its own ``_scope_`` first, else that of the node above it (a detector builds
its heads in ``__init__`` while its ``_scope_`` is the default scope), else the config's ``default_scope``. Resolved
in ``default_scope`` alone, a user's model part of the user's own scope was no class here: its "unexpected keyword
argument" and its ``<Class>: <argument> ...`` refusal reached the user without the config key."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight_model_args import located_argument_error, located_value_error
from tests.test_engine._user_scope_kinds import USER_SCOPE, UserHead


def _model(how: str, **head_args) -> dict:
    head = dict(type='UserHead', **head_args)
    if how == 'own':
        return dict(type='ImageClassifier', head=dict(head, _scope_=USER_SCOPE))
    return dict(type='UserClassifier', _scope_=USER_SCOPE, head=head)  # the head built inside the model's scope


@pytest.mark.parametrize('how', ['own', 'model'])
def test_a_users_model_parts_unknown_argument_is_located(how):
    with pytest.raises(TypeError) as raised:
        UserHead(in_chanels=3)
    located = located_argument_error(raised.value, _model(how, in_chanels=3), 'automl_mm')
    assert isinstance(located, TypeError) and str(located).startswith('model.head.in_chanels: UserHead'), located
    assert 'in_channels' in str(located)


@pytest.mark.parametrize('how', ['own', 'model'])
def test_a_users_model_parts_refused_value_is_located(how):
    with pytest.raises(ValueError) as raised:
        UserHead(in_channels=-1)
    located = located_value_error(raised.value, _model(how, in_channels=-1), 'automl_mm')
    assert str(located) == 'model.head.in_channels: UserHead: in_channels must be above 0, got -1'
