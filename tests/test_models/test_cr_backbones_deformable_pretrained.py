"""A CR-ResNet with mmdet's deformable convs (``dcn`` / ``stage_with_dcn``, mmdet's ``*-dconv-c3-c5`` configs) or
block plugins (``plugins``, GCNet's ``ContextBlock``) under an ImageNet ``Pretrained`` ``init_cfg``.

mmdet's ResNet loads such a file with ``strict=False``: the offset convs (``conv2.conv_offset``) and the plugins,
which no ImageNet checkpoint holds, keep their own init (mmcv's offsets: zero). The CR
backbones' check that the file filled the standard network named them as missing and stopped at ``init_weights``
("does not fill CRResNet ... convert other layouts first"), so a CR-NAS search or retraining of a DCN backbone
could not start from ImageNet weights. And a block beyond the standard count (a supernet's, or a reallocated
network's) drew its offset conv with the Kaiming init meant for its convs, where mmdet's from-scratch init of a DCNv2
block (mmcv's ``init_weights``, which mmengine calls after the backbone's Kaiming) zeroes it: random sampling
offsets and masks in every deeper allocation.
"""
from __future__ import annotations

import pytest
import torch
from mmdet.models.backbones import ResNet

from automl_mm.models.backbones.cr_resnet import CRResNet

DCN = dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)
STAGES = (False, True, True, True)


def _imagenet_file(tmp_path) -> str:
    """A ResNet-50 in mmdet's (torchvision's) layout, random: no deformable convs, as an ImageNet checkpoint."""
    torch.manual_seed(0)
    ref = ResNet(depth=50)
    with torch.no_grad():
        for key, value in ref.state_dict().items():
            if value.is_floating_point():
                value.uniform_(0.5, 1.5) if 'running_var' in key else value.normal_(0, 0.1)
    path = str(tmp_path / 'resnet50_imagenet.pth')
    torch.save({'state_dict': ref.state_dict()}, path)
    return path


@pytest.mark.parametrize('added', [
    dict(dcn=DCN, stage_with_dcn=STAGES),  # mmdet's faster-rcnn_r50-dconv-c3-c5_fpn
    dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 16), stages=STAGES, position='after_conv3')]),  # GCNet
])
def test_an_imagenet_file_initialises_a_cr_resnet_with_added_parts_as_mmdet_resnet(tmp_path, added):
    path = _imagenet_file(tmp_path)
    init_cfg = dict(type='Pretrained', checkpoint=path)
    torch.manual_seed(1)
    mmdet_net = ResNet(depth=50, init_cfg=init_cfg, **added)
    mmdet_net.init_weights()
    torch.manual_seed(1)
    net = CRResNet(depth=50, init_cfg=init_cfg, **added)
    # raised: "does not fill CRResNet: 26 of 291 tensors missing (e.g. ['layer2.0.conv2.conv_offset.weight', ...])"
    net.init_weights()
    expected = mmdet_net.state_dict()
    assert set(net.state_dict()) == set(expected)
    for key, value in net.state_dict().items():
        if 'conv_offset' in key:
            assert not value.any(), key  # no file holds them: zero, as mmcv builds them and mmdet keeps them
        assert torch.equal(value, expected[key]), key


def test_the_file_must_still_fill_the_rest_of_a_deformable_cr_resnet(tmp_path):
    """Only the offset convs are excused: a file without a standard block's conv2 is still refused."""
    path = _imagenet_file(tmp_path)
    state = torch.load(path)['state_dict']
    del state['layer3.1.conv2.weight']
    torch.save({'state_dict': state}, path)
    net = CRResNet(depth=50, dcn=DCN, stage_with_dcn=STAGES, init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r"does not fill CRResNet: 1 of \d+ tensors missing \(e.g. \['layer3.1.conv2."):
        net.init_weights()


def test_an_unfilled_deformable_block_starts_with_zero_offsets_as_identity(tmp_path):
    path = _imagenet_file(tmp_path)
    ref = ResNet(depth=50, dcn=DCN, stage_with_dcn=STAGES, init_cfg=dict(type='Pretrained', checkpoint=path))
    ref.init_weights()
    net = CRResNet(depth=50, dcn=DCN, stage_with_dcn=STAGES, max_stage_blocks=(3, 5, 7, 4),
                   init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    unfilled = net.unfilled_blocks()
    assert len(unfilled) == 3
    for block in unfilled:
        # mmdet's from-scratch init of a DCNv2 block: the offset and mask conv at zero (mmcv's init_weights)
        assert not block.conv2.conv_offset.weight.any() and not block.conv2.conv_offset.bias.any()
        assert not block.norm3.weight.any()  # zero_init_residual: the block starts as the identity
    # every extra block active: mmdet's deformable ResNet-50 on the same file
    ref.eval()
    net.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ref(x), net(x)):
            torch.testing.assert_close(a, b)


def test_an_offset_conv_the_file_holds_in_another_shape_is_refused(tmp_path):
    """Excused where missing only: a deformable checkpoint of another ``deform_groups`` (its offset convs predict
    twice the offsets) would be skipped by mmengine's loader with a warning and leave the offsets at 0."""
    other = CRResNet(depth=50, dcn=dict(DCN, deform_groups=2), stage_with_dcn=STAGES)
    path = str(tmp_path / 'dcn_groups2.pth')
    torch.save({'state_dict': other.state_dict()}, path)
    net = CRResNet(depth=50, dcn=DCN, stage_with_dcn=STAGES, init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r"0 of \d+ tensors missing \(e.g. \[\]\), 26 of another shape \(e.g. "
                                         r"\['layer2.0.conv2.conv_offset.weight"):
        net.init_weights()
