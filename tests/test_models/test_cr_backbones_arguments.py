"""CR-NAS backbones' argument checks: a bad depth, allocation, dilation, per-stage option, plugin or structural
switch is refused naming the key, and what the checks admit builds mmdet's network."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmdet.models.backbones import ResNet

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet
from tests.test_models._cr_backbones import _assert_same_outputs, _randomize


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth=19), 'depth=19'),
    (dict(depth=18, stage_blocks=(2, 2, 2)), 'stage_blocks must have 4 entries'),
    (dict(depth=18, stage_blocks=(2, 0, 2, 2)), r'stage_blocks\[1\]=0: stage 2'),
    (dict(depth=18, max_stage_blocks=(3, 3, 3, 3), stage_blocks=(2, 2, 4, 2)), r'stage_blocks\[2\]=4: stage 3'),
    (dict(depth=18, max_stage_blocks=(3, 0, 3, 3)), r'max_stage_blocks\[1\]=0'),
    (dict(depth=18, dilations_per_block=[1] * 7), 'dilations_per_block must have 8 entries'),
    (dict(depth=18, dilations_per_block=[1] * 7 + [0]), r'dilations_per_block\[7\]=0'),
    (dict(depth=50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), dilations_per_block=[1] * 16),
     r'dilations_per_block\[13\]=1 conflicts with dilations\[3\]=2'),
    (dict(depth=18, num_stages=5), 'num_stages=5'),
])
def test_resnet_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CRResNet(**kwargs)


def test_mobilenet_v2_bad_arguments():
    with pytest.raises(ValueError, match='stage_blocks must have 7 entries'):
        CRMobileNetV2(stage_blocks=(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r'stage_blocks\[6\]=0: stage 7'):
        CRMobileNetV2(stage_blocks=(1, 2, 3, 4, 3, 3, 0))


@pytest.mark.parametrize('method,value,match', [
    ('set_allocation', (2, 2, 2), 'stage_blocks must have 4 entries'),
    ('set_allocation', (2, 0, 2, 2), r'stage_blocks\[1\]=0: stage 2'),
    ('set_allocation', (2, 2, 2, 4), r'stage_blocks\[3\]=4: stage 4 was built with only 3'),
    ('set_allocation', 'abcd', 'must be a sequence'),
    ('set_dilations', [1] * 11, 'dilations must have 12 entries'),
    ('set_dilations', [1] * 11 + [0], r'dilations\[11\]=0'),
    ('set_dilations', [1.5] * 12, 'must contain ints'),
])
def test_supernet_setters_reject_bad_values(method, value, match):
    net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3))
    with pytest.raises(ValueError, match=match):
        getattr(net, method)(value)
    # A rejected call changes nothing.
    assert net.active_stage_blocks == (3, 3, 3, 3)
    assert net.active_dilations == (1,) * 12


_DCN = dict(type='DCN', deform_groups=1, fallback_on_stride=False)


_GC = dict(cfg=dict(type='ContextBlock', ratio=1 / 16), position='after_conv3')


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth=50, dcn=_DCN, stage_with_dcn=(False, True, True)),
     r'stage_with_dcn must have one bool per stage \(4\)'),
    (dict(depth=50, num_stages=3, out_indices=(0, 1, 2), strides=(1, 2, 2), dilations=(1, 1, 1), dcn=_DCN),
     r'stage_with_dcn must have one bool per stage \(3\)'),
    (dict(depth=50, plugins=[dict(cfg=dict(type='ContextBlock', ratio=1 / 16), stages=(False, True, True),
                                  position='after_conv3')]), r'plugins\[0\]\.stages must have one bool per stage'),
    (dict(depth=50, style='tf'), "CRResNet style must be 'pytorch'"),
    (dict(depth=18, dcn=_DCN, stage_with_dcn=(False, True, True, True)), 'CRResNet dcn needs Bottleneck blocks'),
    # mmdet: 'Not implemented yet.', a bare assert, KeyError: 'position', AttributeError on a dict's key
    (dict(depth=18, plugins=[_GC]), r'CRResNet plugins need Bottleneck blocks \(depth 50, 101 or 152\).*depth 18'),
    (dict(depth=34, plugins=[]), r'CRResNet plugins need Bottleneck blocks .*\(plugins=None\), got \[\]'),
    (dict(depth=50, plugins=[_GC, dict(_GC, position='after_conv4')]),
     r"CRResNet plugins\[1\]\.position must be one of \('after_conv1', 'after_conv2', 'after_conv3'\).*'after_conv4'"),
    (dict(depth=50, plugins=[dict(cfg=_GC['cfg'])]), r'CRResNet plugins\[0\]\.position must be one of .*got None'),
    (dict(depth=50, plugins=_GC), 'CRResNet plugins must be a list of dicts'),
    (dict(depth=50, plugins=[dict(_GC, cfg='ContextBlock')]), r'CRResNet plugins\[0\] must be a dict with a cfg dict'),
    # mmdet: by truth value, 'False' put a deformable conv / a plugin in stage 1
    (dict(depth=50, dcn=_DCN, stage_with_dcn=('False', True, True, True)),
     r"stage_with_dcn\[0\] must be True or False \(one bool per stage\), got 'False'"),
    (dict(depth=50, plugins=[dict(_GC, stages=(0, 1, 1, 1))]), r'plugins\[0\]\.stages\[0\] must be True or False'),
    # mmdet: 'AssertionError: duplicate plugin context_block'
    (dict(depth=50, plugins=[dict(_GC, stages=(True, True, False, False)), dict(_GC, position='after_conv2')]),
     r"CRResNet plugins\[0\] and plugins\[1\] both add 'context_block' to the blocks of stage 1: give one of them "
     r"another cfg.postfix"),
])
def test_cr_resnet_per_stage_options_name_the_key(kwargs, match):
    """mmdet's ResNet checks these with bare asserts: an AssertionError with no message (or 'Not implemented yet.')
    naming neither the key nor the number of stages."""
    with pytest.raises(ValueError, match=match):
        CRResNet(**kwargs)


def test_cr_resnet_stage_with_dcn_is_not_checked_without_a_dcn():
    """As in mmdet, ``stage_with_dcn`` means nothing without a ``dcn`` (its 4-entry default with num_stages=3)."""
    net = CRResNet(depth=50, num_stages=3, out_indices=(0, 1, 2), strides=(1, 2, 2), dilations=(1, 1, 1),
                   stage_with_dcn=(False, True, True, True))
    assert net.out_channels == (256, 512, 1024)
    ok = CRResNet(depth=50, dcn=_DCN, stage_with_dcn=(np.bool_(False), True, True, True))
    assert [hasattr(getattr(ok, f'layer{i}')[0].conv2, 'conv_offset') for i in (1, 2, 3, 4)] == [
        False, True, True, True]


@pytest.mark.parametrize('cls, kwargs, key', [
    (CRResNet, dict(depth=18, avg_down='False'), 'CRResNet avg_down'),
    (CRResNet, dict(depth=18, deep_stem='False'), 'CRResNet deep_stem'),
    (CRResNet, dict(depth=18, with_cp='False'), 'CRResNet with_cp'),
    (CRMobileNetV2, dict(with_cp='False'), 'CRMobileNetV2 with_cp'),
])
def test_structural_switches_refuse_strings(cls, kwargs, key):
    """mmdet reads these switches by truth value: ``avg_down='False'`` (a config written with quotes) built the
    average-pool shortcuts, whose keys are the plain ones, so an ImageNet file loaded into another network without
    a word; ``deep_stem='False'`` built the deep stem, ``with_cp='False'`` checkpointed every block."""
    with pytest.raises(ValueError, match=f"{key} must be True or False, got 'False'"):
        cls(**kwargs)


@pytest.mark.parametrize('kwargs', [dict(avg_down=True, deep_stem=True, with_cp=np.bool_(True)),
                                    dict(avg_down=False, deep_stem=False, with_cp=False)])
def test_structural_switches_as_bools_build_mmdet_resnet(kwargs):
    ref = _randomize(ResNet(depth=50, **kwargs))
    net = CRResNet(depth=50, **kwargs)
    assert net.avg_down is net.deep_stem is net.with_cp is kwargs['avg_down']
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(2, 3, 32, 32))


def test_cr_resnet_plugins_at_every_position_build_mmdet_resnet():
    """The plugins the check admits build mmdet's network (a ContextBlock after each of the three convs, on stages 2-4
    for one of them)."""
    plugins = [dict(_GC, cfg=dict(_GC['cfg'], postfix=str(i)), position=p) for i, p in
               enumerate(('after_conv1', 'after_conv2'))] + [dict(_GC, stages=(False, True, True, True))]
    ref = _randomize(ResNet(depth=50, plugins=plugins))
    net = CRResNet(depth=50, plugins=plugins)
    net.load_state_dict(ref.state_dict())
    _assert_same_outputs(net, ref, torch.randn(1, 3, 32, 32))


