"""A backbone's ``init_cfg`` reaches every layer it names, the ConvModules that are direct children included.

mmengine's ``BaseModule.init_weights`` applies ``init_cfg`` and then calls ``init_weights()`` of every direct child
that has one: mmcv's ``ConvModule`` (a plain ``nn.Module``, initialised already when built) re-drew its conv
(Kaiming) and reset its norm (weight 1), over what ``init_cfg`` had just set. ``MBConvSupernet``'s ``stem`` and
``final_conv`` and ``CRMobileNetV2``'s ``conv1`` / ``conv2`` ignored the config while every other layer took it.
"""
import pytest
import torch

from automl_mm.models import CRMobileNetV2, ImageClassifier, MBConvSupernet
from automl_mm.models.backbones.pretrained import init_cfg_over_own_inits

CONSTANT = [dict(type='Constant', layer='Conv2d', val=0.5), dict(type='Constant', layer='_BatchNorm', val=0.25)]


@pytest.mark.parametrize('build', [lambda cfg: MBConvSupernet(space='digits', init_cfg=cfg),
                                   lambda cfg: CRMobileNetV2(widen_factor=0.25, init_cfg=cfg),
                                   lambda cfg: ImageClassifier(
                                       backbone=dict(type='MBConvSupernet', space='digits'),
                                       head=dict(type='LinearClsHead', num_classes=10, in_channels=64),
                                       init_cfg=cfg)],
                         ids=['MBConvSupernet', 'CRMobileNetV2', 'ImageClassifier'])
def test_every_conv_and_norm_takes_the_init_cfg(build):
    net = build(CONSTANT)
    net.init_weights()
    convs = {n: m.weight for n, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)}
    norms = {n: m.weight for n, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert [n for n, w in convs.items() if not bool((w == 0.5).all())] == []
    assert [n for n, w in norms.items() if not bool((w == 0.25).all())] == []


def test_without_init_cfg_the_conv_modules_keep_their_own_init():
    torch.manual_seed(0)
    net = MBConvSupernet(space='digits')
    net.init_weights()
    assert float(net.stem.bn.weight.min()) == 1.0 and 0 < float(net.stem.conv.weight.std()) < 1
    assert getattr(net.stem, 'is_init', None) is None  # nothing left behind on the children


def test_a_deformable_conv_still_zeroes_its_offsets_under_the_init_cfg():
    """Only ConvModules are left out: mmcv's deformable convs zero their offset conv in their own init_weights."""
    from mmcv.ops import ModulatedDeformConv2dPack
    from mmengine.model import BaseModule

    class Net(BaseModule):
        def __init__(self):
            super().__init__(init_cfg=dict(type='Constant', layer='Conv2d', val=0.5))
            self.dcn = ModulatedDeformConv2dPack(4, 4, 3, padding=1)

    net = Net()
    with init_cfg_over_own_inits(net):
        net.init_weights()
    assert float(net.dcn.conv_offset.weight.abs().max()) == 0.0
