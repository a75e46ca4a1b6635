"""At the standard allocation a CR backbone is mmdet's backbone for every argument mmdet takes: with the same
weights, the same outputs in train and eval mode, the same trainable parameters and the same modules in training
mode after each ``train()`` / ``eval()`` (frozen_stages, norm_eval, norm_cfg's requires_grad), and the same
from-scratch init for ResNet."""
from __future__ import annotations

import pytest
import torch
from mmdet.models.backbones import MobileNetV2, ResNet

from automl_mm.models import CRMobileNetV2, CRResNet
from tests.test_models._cr_backbones import _randomize

_DCN = dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)
_GC = [dict(cfg=dict(type='ContextBlock', ratio=1 / 4), stages=(False, True, True, True), position='after_conv3')]
_FROZEN_BN = dict(type='BN', requires_grad=False)

CASES = [
    (ResNet, CRResNet, dict(depth=50, style='caffe', frozen_stages=2, norm_cfg=_FROZEN_BN)),
    (ResNet, CRResNet, dict(depth=50, deep_stem=True, avg_down=True, frozen_stages=1, norm_eval=False)),
    (ResNet, CRResNet, dict(depth=50, dcn=_DCN, stage_with_dcn=(False, True, True, True), plugins=_GC, with_cp=True,
                            zero_init_residual=False)),
    (ResNet, CRResNet, dict(depth=18, norm_cfg=dict(type='GN', num_groups=8), frozen_stages=4, out_indices=(1, 3))),
    (ResNet, CRResNet, dict(depth=34, num_stages=3, strides=(1, 2, 1), dilations=(1, 1, 2), out_indices=(0, 2),
                            stem_channels=32, base_channels=16)),
    (MobileNetV2, CRMobileNetV2, dict(widen_factor=0.5, out_indices=(2, 4, 6), frozen_stages=3, norm_eval=True)),
    (MobileNetV2, CRMobileNetV2, dict(widen_factor=1.5, out_indices=(0, 7), frozen_stages=7, with_cp=True,
                                      act_cfg=dict(type='ReLU'), norm_cfg=_FROZEN_BN)),
]


def _modes(net: torch.nn.Module) -> tuple[dict, dict]:
    return ({n: m.training for n, m in net.named_modules()},
            {n: p.requires_grad for n, p in net.named_parameters()})


@pytest.mark.parametrize('mmdet_cls, cr_cls, kwargs', CASES)
def test_a_standard_cr_backbone_is_mmdet_s_for_every_argument(mmdet_cls, cr_cls, kwargs):
    ref = _randomize(mmdet_cls(**kwargs))
    net = cr_cls(**kwargs)
    net.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 32, 32)
    for mode in (True, False, True):
        ref.train(mode)
        net.train(mode)
        assert _modes(net) == _modes(ref)
        with torch.no_grad():
            outs, ref_outs = net(x), ref(x)
        assert [o.shape for o in outs] == [o.shape for o in ref_outs]
        for out, ref_out in zip(outs, ref_outs):
            torch.testing.assert_close(out, ref_out, rtol=0, atol=0)


@pytest.mark.parametrize('kwargs', [case[2] for case in CASES if case[0] is ResNet])
def test_a_standard_cr_resnet_initialises_from_scratch_as_mmdet_s(kwargs):
    torch.manual_seed(0)
    ref = ResNet(**kwargs)
    ref.init_weights()
    torch.manual_seed(0)
    net = CRResNet(**kwargs)
    net.init_weights()
    for key, value in ref.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
