"""The concrete claims of public docstrings of backbones, heads and their switches (``Raises``, shapes, defaults,
formulas), checked by running the code. Each case is one sentence of a docstring: a change that breaks it goes red
here.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_mm.registry import (
    DATASETS,
    MODELS,
)

# --- "Raises: ValueError ... not an int >= 1" of the widths of backbones and heads ------------------------------
# Each of these was accepted (0: failed at the first forward; True: a 1-wide layer) or failed inside torch naming
# no key (2.5, 'x').
WIDTH_CASES = [
    ('SimpleConvNet', {}, 'in_channels'),
    ('WideResNet', dict(depth=10, widen_factor=1), 'in_channels'),
    ('CRResNet', dict(depth=18), 'in_channels'),
    ('CRResNet', dict(depth=18), 'base_channels'),
    ('CRResNet', dict(depth=18), 'stem_channels'),
    ('LinearClsHead', dict(num_classes=3, in_channels=4), 'in_channels'),
    ('CosineLinearClsHead', dict(num_classes=3, in_channels=4), 'in_channels'),
    ('LinearClsHead', dict(num_classes=3, in_channels=4), 'num_classes'),
]


@pytest.mark.parametrize('value', [0, True, 2.5, 'x'])
@pytest.mark.parametrize('type_, base, key', WIDTH_CASES)
def test_widths_are_refused_naming_the_key(type_, base, key, value):
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type=type_, **{**base, key: value}))


@pytest.mark.parametrize('type_, key, value', [
    ('WideResNet', 'depth', 28.0), ('WideResNet', 'depth', '28'),
    ('CRResNet', 'num_stages', 2.5), ('CRResNet', 'num_stages', True),
    ('CRMobileNetV2', 'widen_factor', -1), ('CRMobileNetV2', 'widen_factor', 0),
    ('CRMobileNetV2', 'widen_factor', float('nan')), ('CRMobileNetV2', 'widen_factor', np.float32('nan')),
    ('LinearClsHead', 'dropout', 'x'),
])
def test_structure_arguments_are_refused_naming_the_key(type_, key, value):
    base = dict(WideResNet=dict(depth=10, widen_factor=1), CRResNet=dict(depth=18), CRMobileNetV2={},
                LinearClsHead=dict(num_classes=3, in_channels=4))[type_]
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type=type_, **{**base, key: value}))


def test_documented_backbone_output_shapes():
    # SimpleConvNet: (N, channels[-1], H // 2**S, W // 2**S); WideResNet: (N, 64k, ceil(H / 4), ceil(W / 4))
    x = torch.zeros(1, 3, 15, 17)
    assert MODELS.build(dict(type='SimpleConvNet', channels=(8, 16, 4)))(x)[0].shape == (1, 4, 1, 2)
    assert MODELS.build(dict(type='WideResNet', depth=10, widen_factor=2))(x)[0].shape == (1, 128, 4, 5)


# --- switches: 'False' in a config is truthy ---------------------------------------------------------------------
@pytest.mark.parametrize('registry, cfg, key', [
    (MODELS, dict(type='ResNet', depth=18, norm_eval='False'), 'norm_eval'),  # kept every BN in eval mode
    (MODELS, dict(type='CRResNet', depth=18, norm_eval='False'), 'norm_eval'),
    (MODELS, dict(type='CRResNet', depth=18, zero_init_residual='False'), 'zero_init_residual'),
    (MODELS, dict(type='CRMobileNetV2', zero_init_residual='False'), 'zero_init_residual'),
    (MODELS, dict(type='CRMobileNetV2', norm_eval='False'), 'norm_eval'),
    (DATASETS, dict(type='NoisyLabelDataset', dataset=dict(type='DigitsDataset', split='train', max_samples=20),
                    noise_ratio=0.1, lazy_init='False'), 'lazy_init'),  # deferred the flips
])
def test_switches_refuse_strings(registry, cfg, key):
    with pytest.raises(ValueError, match=key):
        registry.build(cfg)


def test_resnet_norm_eval_keeps_batch_norm_in_eval_mode():
    net = MODELS.build(dict(type='ResNet', depth=18, stem='cifar', norm_eval=np.bool_(True))).train()
    assert not any(m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_cosine_head_forward_is_scale_cos_with_a_scaled_loss():
    head = MODELS.build(dict(type='CosineLinearClsHead', num_classes=3, in_channels=4,
                             loss=dict(type='AMLFSLoss', scale=16.0)))
    feats = torch.randn(2, 4, 1, 1)
    x, w = feats.flatten(1), head.fc.weight
    cos = (x @ w.T) / (x.norm(dim=1)[:, None] * w.norm(dim=1)[None, :])
    assert torch.allclose(head([feats]), 16.0 * cos, atol=1e-5)
    assert head.fc.bias is None


def test_linear_head_predict_writes_the_documented_fields():
    head = MODELS.build(dict(type='LinearClsHead', num_classes=3, in_channels=4))
    with torch.no_grad():
        sample = head.predict([torch.randn(2, 4, 3, 3)])[0]
    assert sample.pred_score.shape == (3, ) and float(sample.pred_score.sum()) == pytest.approx(1.0)
    assert sample.pred_label.shape == (1, ) and sample.pred_label.dtype == torch.int64
    assert int(sample.pred_label) == int(sample.pred_logit.argmax())
