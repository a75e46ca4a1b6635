"""An ``AttributeSpace`` with a model target that does not exist, or without a required argument, is refused in the
launching process's config check, naming it, before any copy starts (from a new-user walkthrough: the 4 copies
were built and each stopped in ``setup``; a missing ``distribution`` named the class only)."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import build_check

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _with_space(**space) -> Config:
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='bnm', **space)]
    return cfg


def test_a_model_target_that_does_not_resolve_stops_the_check_naming_the_path():
    cfg = _with_space(target='model.backbone.layers.*.momentum', choices=[0.1, 0.01],
                      distribution=dict(type='Categorical'))
    with pytest.raises(ValueError, match=r"attribute path 'model.backbone.layers.\*.momentum': \w+ has no "
                                         r"attribute 'momentum'"):
        build_check(cfg)


def test_a_space_without_its_distribution_is_named():
    cfg = _with_space(target='model.head.loss_module.label_smoothing', choices=[0.0, 0.1])
    with pytest.raises(TypeError, match=r"^custom_hooks\[0\]\.spaces\[0\]: .*missing 1 required positional argument: "
                                        r"'distribution'"):
        build_check(cfg)


def test_a_target_that_resolves_passes_the_check():
    cfg = _with_space(target='model.head.loss_module.label_smoothing', choices=[0.0, 0.1],
                      distribution=dict(type='Categorical'))
    build_check(cfg)


def test_adam_momentum_target_stops_the_check_naming_betas_0():
    """``param_groups.*.momentum`` of an Adam optimiser stopped with "key 'momentum' not found": its momentum is
    beta1, the path to target is named."""
    cfg = _with_space(target='optim_wrapper.optimizer.param_groups.*.momentum', choices=[0.8, 0.9],
                      distribution=dict(type='Categorical'))
    cfg.optim_wrapper.optimizer = dict(type='Adam', lr=1e-3)
    with pytest.raises(ValueError, match=r"OHL space 'bnm': attribute path 'optim_wrapper.optimizer.param_groups"
                                         r"\.\*\.momentum': key 'momentum' not found; .*betas\.0.*: target "
                                         r"optim_wrapper\.optimizer\.param_groups\.\*\.betas\.0"):
        build_check(cfg)


@pytest.mark.parametrize('target, holds', [
    ('model.head.num_classes', r'an int \(10\)'),
    ('train_dataloader.dataset.pipeline.transforms.0.padding', r'an int \(3\)'),  # RandomCrop's
])
def test_a_gaussian_on_an_integer_attribute_stops_the_check(target, holds):
    """A Gaussian's samples are never integers: written over an int (a transform's padding, num_ops) each copy
    handed the transform a float (2.7) while the history credited it; refused before any copy starts."""
    cfg = _with_space(target=target, distribution=dict(type='DiagGaussian', mean=[3.0], std=1.0))
    cfg.train_dataloader.dataset.pipeline = [dict(type='RandomCrop', crop_size=32, padding=3),
                                             dict(type='PackClsInputs')]
    with pytest.raises(ValueError, match=rf"^custom_hooks\[0\].*OHL space 'bnm': attribute path "
                                         rf"'{target.replace('.', '[.]')}' holds {holds}, but a 1-dimensional "
                                         r'DiagGaussian writes samples that are not integers'):
        build_check(cfg)
