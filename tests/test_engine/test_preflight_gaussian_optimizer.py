"""A Gaussian AttributeSpace on an optimiser hyper-parameter it can draw outside the optimiser's range is refused at
start (``check_ohl_config``), naming the space and ``transform='exp'``.

Input that showed it: an OHLHook with ``AttributeSpace(distribution=dict(type='DiagGaussian', mean=[0.05],
std=0.02), target='optim_wrapper.optimizer.lr')``: the run started, and at the trunk where a copy drew a negative lr
``check_group_values`` refused it ('SGD refuses the value'), stopping the whole run there. And with
``target='optim_wrapper.optimizer.param_groups.*.momentum', transform='exp'`` the check passed although exp draws
above 1, which SGD's constructor does not refuse: the copy trained with momentum 1.2 and diverged. The ranges are
:data:`automl_mm.ohl.setting_ranges.OPTIMIZER_RANGES`, by the config's optimiser type."""
from __future__ import annotations

import re

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_ohl import check_ohl_config
from automl_mm.engine.preflight_walk import ConfigCheckError


def _check(target, transform=None, distribution='DiagGaussian', optimizer=None, choices=None):
    space = dict(type='AttributeSpace', distribution=dict(type=distribution, mean=[-3.0], std=0.5), target=target,
                 transform=transform, name='lr')
    if choices is not None:
        space.update(distribution=dict(type='Categorical'), choices=choices)
    cfg = Config(dict(custom_hooks=[dict(type='automl_mm.OHLHook', num_copies=2, trunk_iters=2, spaces=[space])],
                      model_wrapper_cfg=dict(type='automl_mm.CopyDataParallel'),
                      **({} if optimizer is None else dict(optim_wrapper=dict(optimizer=dict(type=optimizer))))))
    check_ohl_config(cfg, 'automl_mm')


@pytest.mark.parametrize('target', ['optim_wrapper.optimizer.lr', 'optim_wrapper.optimizer.param_groups.0.weight_decay',
                                    'optim_wrapper.optimizer.param_groups.*.eps'])
def test_a_gaussian_without_transform_on_a_positive_optimiser_key_is_refused_at_start(target):
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.spaces\[0\] \(lr, target '" + target.replace(
            '*', r'\*') + r"'.*transform='exp' \(or 'pow10'\)"):
        _check(target)


@pytest.mark.parametrize('optimizer, target, transform, interval', [
    # the known member: exp (any positive number) passed on momentum, which SGD takes up to 1.5 and diverges
    ('SGD', 'optim_wrapper.optimizer.param_groups.*.momentum', 'exp', r'\[0, 1\) \(torch\.optim\.SGD\'s momentum\)'),
    ('SGD', 'optim_wrapper.optimizer.param_groups.*.momentum', None, r'\[0, 1\)'),
    ('SGD', 'optim_wrapper.optimizer.param_groups.0.dampening', 'pow10', r'\[0, 1\] \(torch\.optim\.SGD'),
    ('RMSprop', 'optim_wrapper.optimizer.param_groups.*.alpha', 'exp', r'\[0, 1\] \(torch\.optim\.RMSprop'),
    ('Adadelta', 'optim_wrapper.optimizer.param_groups.*.rho', 'exp', r'\[0, 1\]'),
    ('Adam', 'optim_wrapper.optimizer.param_groups.0.betas.0', 'exp', r'\[0, 1\) \(torch\.optim\.Adam'),
    (None, 'optim_wrapper.optimizer.param_groups.*.momentum', 'exp', r"\[0, 1\) \(an optimiser's momentum\)"),
])
def test_a_gaussian_whose_transform_leaves_a_bounded_optimiser_key_is_refused_at_start(optimizer, target, transform,
                                                                                     interval):
    escaped = re.escape(target)
    with pytest.raises(ConfigCheckError, match=rf"custom_hooks\[0\]\.spaces\[0\] \(lr, target '{escaped}', "
                                               rf"DiagGaussian, transform={transform!r}\).*leaves {interval}.*"
                                               rf"Categorical"):
        _check(target, transform, optimizer=optimizer)


def test_a_choice_outside_the_optimiser_key_range_is_refused_at_start_and_choices_inside_pass():
    target = 'optim_wrapper.optimizer.param_groups.*.momentum'
    with pytest.raises(ConfigCheckError, match=r"spaces\[0\] \(lr, target .*momentum'\): choice 1\.2 lies outside "
                                               r"\[0, 1\)"):
        _check(target, optimizer='SGD', choices=[0.9, 1.2])
    _check(target, optimizer='SGD', choices=[0.0, 0.9, 0.99])


@pytest.mark.parametrize('target,transform', [('optim_wrapper.optimizer.lr', 'exp'),
                                              ('optim_wrapper.optimizer.weight_decay', 'pow10'),
                                              ('model.roi_head.bbox_head.loss_bbox.loss_weight', None)])
def test_a_positive_transform_or_a_target_outside_the_optimiser_passes(target, transform):
    _check(target, transform)
