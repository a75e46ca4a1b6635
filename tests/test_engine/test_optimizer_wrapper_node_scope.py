"""An optimizer's and a model wrapper's ``type`` is resolved as mmengine builds them: the node's own ``_scope_``
first (``build_from_cfg`` pops it and switches to that scope's registry), else the config's ``default_scope`` (the
optimizer constructor builds ``optim_wrapper.optimizer`` alone, ``Runner.wrap_model`` ``model_wrapper_cfg``: neither
inherits another node's ``_scope_``). Resolved in ``default_scope`` alone, a user's class of the user's own scope
passed: a misspelt ``paramwise_cfg.custom_keys`` option of the user's optimizer, a user's
``ZeroRedundancyOptimizer`` under several OHL copies, a user's DDP that synchronises the copies' gradients, and a
user's ``CopyDataParallel`` without an ``OHLHook``."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_ohl_copies import (
    _check_copy_parts_without_hook,
    _check_wrapper,
    _optimizer_classes,
)
from automl_mm.engine.preflight_read_keys import check_read_keys
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.ohl.checks import check_copy_optimizers
from automl_mm.ohl.copies import CopyLayout
from tests.test_engine._user_scope_kinds import USER_SCOPE, UserSGD


def test_a_misspelt_custom_keys_option_of_a_users_optimizer_is_refused():
    cfg = Config(dict(default_scope='automl_mm', optim_wrapper=dict(
        optimizer=dict(type='UserSGD', _scope_=USER_SCOPE, lr=0.1),
        paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mul=0.1)}))))
    with pytest.raises(ConfigCheckError, match=r'optim_wrapper\.paramwise_cfg\.custom_keys\.backbone\.lr_mul'):
        check_read_keys(cfg)


def test_a_users_sharded_optimizer_under_several_copies_is_refused():
    cfg = Config(dict(default_scope='automl_mm', optim_wrapper=dict(
        optimizer=dict(type='UserZeRO', _scope_=USER_SCOPE, optimizer_class='SGD', lr=0.1),
        other=dict(optimizer=dict(type='UserSGD', _scope_=USER_SCOPE, lr=0.1)))))
    found = _optimizer_classes(cfg, 'automl_mm')
    assert dict(found)['optim_wrapper.other.optimizer'] is UserSGD
    with pytest.raises(ValueError, match=r'optim_wrapper\.optimizer is a UserZeRO: with 2 OHL copies'):
        check_copy_optimizers(found, 2)


def test_a_users_ddp_in_a_run_of_several_copies_is_refused():
    cfg = Config(dict(default_scope='automl_mm', model_wrapper_cfg=dict(type='UserDDP', _scope_=USER_SCOPE)))
    with pytest.raises(ValueError, match=r"a run of 2 processes needs model_wrapper_cfg=dict\(type=\"automl_mm\."
                                         r"CopyDataParallel\"\), got model_wrapper_cfg\.type='UserDDP'"):
        _check_wrapper(cfg, CopyLayout(2, 1, rank=0, world_size=2), 'automl_mm')


def test_a_users_copy_wrapper_without_an_ohl_hook_is_refused():
    cfg = Config(dict(default_scope='automl_mm', launcher='pytorch',
                      model_wrapper_cfg=dict(type='UserCopyDDP', _scope_=USER_SCOPE)))
    with pytest.raises(ConfigCheckError, match=r'model_wrapper_cfg is a UserCopyDDP, which runs DDP inside the copies '
                                               'of an OHLHook, but custom_hooks has no OHLHook'):
        _check_copy_parts_without_hook(cfg, 'automl_mm')


@pytest.mark.parametrize('constructor', [None, 'LearningRateDecayOptimizerConstructor'])
def test_an_optimizer_only_its_scope_holds_is_refused_under_mmengines_default_constructor(constructor):
    """mmengine's ``DefaultOptimWrapperConstructor.__call__`` (mmdet's layer-decay constructor inherits it) looks
    ``optimizer.type`` up in the default scope, ignoring ``_scope_``, before it builds the optimizer: a user's
    optimizer written ``type='UserSGD', _scope_=<user scope>`` stopped the run with "TypeError: None is not a callable
    object", naming no key. It is refused at start, naming the key and the spelling mmengine resolves
    (``'<scope>.UserSGD'``, which builds)."""
    wrapper = dict(optimizer=dict(type='UserSGD', _scope_=USER_SCOPE, lr=0.1))
    if constructor:
        wrapper.update(constructor=constructor,
                       paramwise_cfg=dict(num_layers=12, decay_rate=0.9, decay_type='layer_wise'))
    cfg = Config(dict(default_scope='mmdet', optim_wrapper=wrapper))
    with pytest.raises(ConfigCheckError, match=rf"optim_wrapper\.optimizer\.type='UserSGD': .*"
                                               rf"type='{USER_SCOPE}\.UserSGD'"):
        check_read_keys(cfg)
    cfg.optim_wrapper.optimizer.type = f'{USER_SCOPE}.UserSGD'
    check_read_keys(cfg)  # (mmengine builds it)
    cfg.optim_wrapper.optimizer.type = 'SGD'  # (the default scope holds it too)
    check_read_keys(cfg)
