"""A Gaussian AttributeSpace on an optimiser hyper-parameter it can draw outside the optimiser's range is refused at
start (``check_ohl_config``), naming the space and ``transform='exp'``.

Input that showed it: an OHLHook with ``AttributeSpace(distribution=dict(type='DiagGaussian', mean=[0.05],
std=0.02), target='optim_wrapper.optimizer.lr')``: the run started, and at the trunk where a copy drew a negative lr
``check_group_values`` refused it ('SGD refuses the value'), stopping the whole run there."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_ohl import check_ohl_config
from automl_mm.engine.preflight_walk import ConfigCheckError


def _check(target, transform=None, distribution='DiagGaussian'):
    space = dict(type='AttributeSpace', distribution=dict(type=distribution, mean=[-3.0], std=0.5), target=target,
                 transform=transform, name='lr')
    cfg = Config(dict(custom_hooks=[dict(type='automl_mm.OHLHook', num_copies=2, trunk_iters=2, spaces=[space])],
                      model_wrapper_cfg=dict(type='automl_mm.CopyDataParallel')))
    check_ohl_config(cfg, 'automl_mm')


@pytest.mark.parametrize('target', ['optim_wrapper.optimizer.lr', 'optim_wrapper.optimizer.param_groups.*.momentum',
                                    'optim_wrapper.optimizer.param_groups.0.weight_decay',
                                    'optim_wrapper.optimizer.param_groups.*.eps'])
def test_a_gaussian_without_transform_on_a_positive_optimiser_key_is_refused_at_start(target):
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.spaces\[0\] \(lr, target '" + target.replace(
            '*', r'\*') + r"'.*transform='exp' \(or 'pow10'\)"):
        _check(target)


def test_a_gaussian_on_betas_is_refused_under_any_transform():
    with pytest.raises(ConfigCheckError, match=r"betas must lie in \[0, 1\).*Categorical"):
        _check('optim_wrapper.optimizer.param_groups.0.betas.0', transform='exp')


@pytest.mark.parametrize('target,transform', [('optim_wrapper.optimizer.lr', 'exp'),
                                              ('optim_wrapper.optimizer.weight_decay', 'pow10'),
                                              ('model.roi_head.bbox_head.loss_bbox.loss_weight', None)])
def test_a_positive_transform_or_a_target_outside_the_optimiser_passes(target, transform):
    _check(target, transform)
