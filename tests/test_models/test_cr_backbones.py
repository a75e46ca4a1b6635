"""CR-NAS backbones at the standard allocation are mmdet's: the state dict layout, the outputs with the same weights,
mmdet's per-stage dilations read per block, and the registry (argument checks: test_cr_backbones_arguments.py;
Pretrained / init_cfg fill: test_cr_backbones_pretrained_fill.py; the supernet interface and freezing:
test_cr_backbones_supernet.py; drop-in use in mmdet detectors: test_cr_backbones_in_detectors.py)."""
from __future__ import annotations

import pytest
import torch
from mmdet.models.backbones import MobileNetV2, ResNet

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet
from automl_mm.registry import MODELS
from tests.test_models._cr_backbones import _assert_same_outputs, _randomize, _shapes


@pytest.mark.parametrize('depth', [18, 34, 50, 101])
def test_standard_resnet_has_mmdet_state_dict_layout(depth):
    assert _shapes(CRResNet(depth=depth)) == _shapes(ResNet(depth=depth))


def test_standard_mobilenet_v2_has_mmdet_state_dict_layout():
    assert _shapes(CRMobileNetV2()) == _shapes(MobileNetV2())
    assert _shapes(CRMobileNetV2(widen_factor=0.5)) == _shapes(MobileNetV2(widen_factor=0.5))

@pytest.mark.parametrize('depth,kwargs', [(18, {}), (50, dict(out_indices=(1, 3))),
                                          (18, dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))),
                                          (50, dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)))])
def test_standard_resnet_matches_mmdet_outputs(depth, kwargs):
    ref = _randomize(ResNet(depth=depth, **kwargs))
    net = CRResNet(depth=depth, **kwargs)
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(2, 3, 64, 64))


def test_standard_mobilenet_v2_matches_mmdet_outputs():
    ref = _randomize(MobileNetV2(out_indices=(0, 2, 4, 7)))
    net = CRMobileNetV2(out_indices=(0, 2, 4, 7))
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(2, 3, 64, 64))


def test_mmdet_stage_dilations_are_reported_as_per_block_dilations():
    net = CRResNet(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    assert net.active_dilations == (1,) * 7 + (2,) * 6 + (4,) * 3
    # arch() of such a model rebuilds it together with the same per-stage dilations.
    rebuilt = CRResNet(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), **net.arch())
    assert rebuilt.active_dilations == net.active_dilations


def test_a_basic_block_stage_dilation_leaves_the_searched_conv_free():
    """mmdet dilates a BasicBlock's conv1 for a per-stage dilation (DC5) and builds the searched conv2 with 1: an
    R18 DC5 search could choose dilation 3 there, and rebuilding its export was refused as a conflict."""
    kwargs = dict(depth=18, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))
    net = _randomize(CRResNet(**kwargs))
    net.set_dilations([1, 1, 1, 1, 1, 1, 3, 2])
    rebuilt = CRResNet(**kwargs, **net.arch())
    assert rebuilt.active_dilations == net.active_dilations == (1,) * 6 + (3, 2)
    assert rebuilt.layer4[0].conv1.dilation == (2, 2) and rebuilt.layer4[0].conv2.dilation == (3, 3)
    rebuilt.load_state_dict(net.state_dict())
    _assert_same_outputs(rebuilt, net, torch.randn(2, 3, 64, 64))


def test_registered_in_automl_mm_and_reachable_from_mmdet_scope():
    from mmdet.registry import MODELS as MMDET_MODELS

    net = MODELS.build(dict(type='CRResNet', depth=18, stage_blocks=(1, 1, 1, 1)))
    assert isinstance(net, CRResNet) and net.built_stage_blocks == (1, 1, 1, 1)
    net = MMDET_MODELS.build(dict(type='automl_mm.CRMobileNetV2', stage_blocks=(1, 1, 1, 1, 1, 1, 1)))
    assert isinstance(net, CRMobileNetV2) and net.num_active_blocks == 7

