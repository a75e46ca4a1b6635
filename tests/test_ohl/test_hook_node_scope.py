"""The OHL hook is found as mmengine builds it: a hook config's ``_scope_`` first (``build_from_cfg`` pops it and
switches to that scope's registry), then the config's ``default_scope``. ``find_ohl_hook`` resolved the ``type`` in
``default_scope`` alone, so a user's ``OHLHook`` subclass registered in the user's own scope and named with
``_scope_`` was no OHL hook: the OHL start checks were skipped (a plain ``Runner`` passed) and ``tools/train.py``
started one process instead of ``num_copies * ranks_per_copy``."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.launch import required_world_size
from automl_mm.engine.preflight_ohl_hooks import _hook_classes
from automl_mm.engine.preflight_search import _check_ohl_hook
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.ohl.copies import _hook_class, find_ohl_hook
from tests.test_engine._user_scope_kinds import USER_SCOPE, UserOHLHook

SPACES = [dict(type='PipelineChoiceSpace', key='aug', distribution=dict(type='Categorical', num_choices=2))]


def _hooks() -> list[dict]:
    return [dict(type='CheckpointHook', interval=1),
            dict(type='UserOHLHook', _scope_=USER_SCOPE, spaces=SPACES, num_copies=2, ranks_per_copy=3,
                 reward_key='accuracy/top1', trunk_epochs=1)]


@pytest.mark.parametrize('scope', ['automl_mm', 'mmdet', None])
def test_a_users_ohl_hook_under_its_own_scope_is_the_ohl_hook(scope):
    hooks = _hooks()
    assert _hook_class(hooks[1], scope) is UserOHLHook
    assert find_ohl_hook(hooks, scope) == (1, hooks[1])
    assert required_world_size(Config(dict(default_scope=scope, custom_hooks=hooks))) == 6
    assert dict(_hook_classes(Config(dict(default_scope=scope, custom_hooks=hooks))))['custom_hooks[1]'] \
        is UserOHLHook


def test_the_ohl_start_checks_refuse_a_users_scoped_ohl_hook_under_a_plain_runner():
    cfg = Config(dict(default_scope='automl_mm', runner_type='Runner', custom_hooks=_hooks()))
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[1\] is an OHLHook, which needs "
                                               r"runner_type='automl_mm.CopyRunner'"):
        _check_ohl_hook(cfg)
