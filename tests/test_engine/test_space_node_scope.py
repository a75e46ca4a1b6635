"""An OHL space's ``type`` is resolved as ``OHLHook`` builds its spaces: the space's own ``_scope_`` first (mmengine's
``build_from_cfg`` pops it and switches to that scope's registry), else automl_mm's scope. Resolved in automl_mm's
scope alone, a user's space of the user's own scope was no space here: an ``AttributeSpace`` subclass drawing a
negative ``lr`` passed the start check, and a ``LossFunctionSpace`` subclass without ``target`` wrote no default
target that the option checks see."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight_ohl_spaces import check_gaussian_optimizer_spaces
from automl_mm.engine.preflight_option_targets import _space_targets
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._user_scope_kinds import USER_SCOPE


def test_a_users_attribute_space_drawing_a_negative_lr_is_refused():
    space = dict(type='UserAttributeSpace', _scope_=USER_SCOPE, target='optim_wrapper.optimizer.lr',
                 choices=[0.1, -0.1], distribution=dict(type='Categorical'))
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.spaces\[0\] \(UserAttributeSpace, target "
                                               r"'optim_wrapper\.optimizer\.lr'\): choice -0\.1 lies outside"):
        check_gaussian_optimizer_spaces(dict(spaces=[space]), 'custom_hooks[0]',
                                        dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1))))


def test_a_users_loss_space_without_a_target_has_its_classes_default_target():
    assert _space_targets(dict(type='UserLossSpace', _scope_=USER_SCOPE)) == 'model.head.loss_module.theta'
