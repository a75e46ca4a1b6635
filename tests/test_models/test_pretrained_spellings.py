"""Every spelling of a ``Pretrained`` ``init_cfg`` that mmengine loads is checked as ``type='Pretrained'`` is: the
class itself (mmengine's pure-Python configs: ``BaseModule`` takes ``type is PretrainedInit``) and a scoped name
(``'mmengine.Pretrained'``). The backbones matched the string ``'Pretrained'`` only: under the other two a file that
filled nothing passed without a word, and a CR backbone's blocks beyond the standard count kept a BN weight of 1
instead of starting as the identity."""
from __future__ import annotations

import pytest
import torch
from mmdet.models.backbones import ResNet as MMDetResNet
from mmengine.model import PretrainedInit

from automl_mm.models import CRResNet
from automl_mm.registry import MODELS

SPELLINGS = ['Pretrained', PretrainedInit, 'mmengine.Pretrained']


@pytest.mark.parametrize('kind', SPELLINGS)
def test_a_cr_resnet_reallocated_under_any_spelling_starts_its_unfilled_block_as_the_identity(tmp_path, kind):
    path = str(tmp_path / 'r18.pth')
    ref = MMDetResNet(depth=18)
    torch.save(ref.state_dict(), path)
    net = CRResNet(depth=18, stage_blocks=(1, 3, 2, 2), frozen_stages=1,
                   init_cfg=dict(type=kind, checkpoint=path))
    net.init_weights()
    assert torch.equal(net.conv1.weight, ref.conv1.weight)
    assert net.unfilled_blocks() == [net.layer2[2]]
    assert float(net.layer2[2].norm2.weight.abs().sum()) == 0  # mmdet's zero_init_residual: the identity


@pytest.mark.parametrize('kind', SPELLINGS)
@pytest.mark.parametrize('cfg', [dict(type='CRResNet', depth=18), dict(type='CRMobileNetV2', widen_factor=0.25),
                                 dict(type='ResNet', depth=18), dict(type='SimpleConvNet', channels=(8, 16))])
def test_a_file_that_fills_nothing_is_refused_under_any_spelling(tmp_path, kind, cfg):
    path = str(tmp_path / 'other.pth')
    torch.save({'head.fc.weight': torch.zeros(2, 2)}, path)
    net = MODELS.build(dict(cfg, init_cfg=dict(type=kind, checkpoint=path)))
    with pytest.raises(ValueError, match=rf'init_cfg Pretrained {path} does not fill {cfg["type"]}: [1-9]\d* of '):
        net.init_weights()
