"""CR-NAS backbones as drop-in backbones of mmdet's own detector configs (Faster R-CNN, RetinaNet, Mask R-CNN):
one training step each, with gradients in every trainable searched conv and none in frozen or inactive blocks."""
from __future__ import annotations

import os.path as osp

import mmdet
import numpy as np
import pytest
import torch

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet
from tests.test_models._cr_backbones import _searched_convs

CR_R18 = dict(type='automl_mm.CRResNet', depth=18, stage_blocks=(1, 2, 3, 2),
              dilations_per_block=[1, 1, 2, 1, 2, 3, 1, 2], out_indices=(0, 1, 2, 3), frozen_stages=1,
              norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, style='pytorch')
CR_R18_SUPERNET = dict(CR_R18, max_stage_blocks=(2, 3, 3, 3))
CR_MBV2 = dict(type='automl_mm.CRMobileNetV2', widen_factor=0.5, out_indices=(1, 2, 4, 6),
               stage_blocks=(1, 2, 2, 3, 2, 2, 1), dilations_per_block=[1, 1, 1, 1, 2, 1, 1, 2, 1, 2, 1, 2, 1])
R18_CHANNELS = [64, 128, 256, 512]
MBV2_CHANNELS = [16, 16, 48, 160]  # widen_factor 0.5: layers 2, 3, 5, 7

DETECTORS = [
    ('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', CR_R18, R18_CHANNELS, False),
    ('retinanet/retinanet_r50_fpn_1x_coco.py', CR_R18, R18_CHANNELS, False),
    ('mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', CR_R18_SUPERNET, R18_CHANNELS, True),
    ('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', CR_MBV2, MBV2_CHANNELS, False),
]


def _det_batch(with_masks: bool, size: int = 64) -> dict:
    """Two seeded images with two boxes each (and box-shaped masks), as a detector's data loader yields them."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    g = torch.Generator().manual_seed(0)
    boxes = [[[4, 6, 40, 44], [20, 10, 60, 58]], [[8, 8, 30, 50], [30, 24, 62, 62]]]
    inputs, samples = [], []
    for i, img_boxes in enumerate(boxes):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g))
        sample = DetDataSample(metainfo=dict(img_id=i, img_shape=(size, size), ori_shape=(size, size),
                                             scale_factor=(1.0, 1.0)))
        gt = InstanceData()
        gt.bboxes = torch.tensor(img_boxes, dtype=torch.float32)
        gt.labels = torch.tensor([i + 1, 7])
        if with_masks:
            masks = np.zeros((len(img_boxes), size, size), dtype=np.uint8)
            for k, (x1, y1, x2, y2) in enumerate(img_boxes):
                masks[k, y1:y2, x1:x2] = 1
            gt.masks = BitmapMasks(masks, size, size)
        sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('config,backbone,channels,with_masks', DETECTORS,
                         ids=['faster_rcnn-cr_r18', 'retinanet-cr_r18', 'mask_rcnn-cr_r18_supernet',
                              'faster_rcnn-cr_mbv2'])
def test_one_training_step_in_mmdet_detector(config, backbone, channels, with_masks):
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmdet.utils import register_all_modules as register_mmdet
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    register_mmdet(init_default_scope=False)
    # The configs mmdet ships inside its package (what 'mmdet::' in a _base_ resolves to).
    cfg = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', config))
    cfg.model.backbone = backbone
    cfg.model.neck.in_channels = channels
    if 'rcnn' in cfg.model.train_cfg:
        # 64 instead of 512 sampled RoIs per image: the RoI heads' FCs and mask convs dominate a CPU step.
        cfg.model.train_cfg.rcnn.sampler.num = 64
        cfg.model.train_cfg.rpn_proposal.max_per_img = 200
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MMDET_MODELS.build(cfg.model)
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        data = model.data_preprocessor(_det_batch(with_masks), True)
        losses = model(**data, mode='loss')
        loss, log_vars = model.parse_losses(losses)
    assert torch.isfinite(loss) and loss.item() > 0
    assert all(torch.isfinite(torch.as_tensor(v).detach()).all() for v in log_vars.values())
    if with_masks:
        assert 'loss_mask' in log_vars
    loss.backward()

    net = model.backbone
    assert isinstance(net, CRResNet | CRMobileNetV2)
    assert net.arch() == {'stage_blocks': list(backbone['stage_blocks']),
                          'dilations_per_block': list(backbone['dilations_per_block'])}
    frozen = backbone.get('frozen_stages', -1)
    convs = _searched_convs(net)
    blocks_before_unfrozen = sum(net.active_stage_blocks[:max(frozen, 0)])
    for conv in convs[:blocks_before_unfrozen]:
        assert conv.weight.grad is None
    # Every searched conv of a trainable stage, dilated or not, gets a gradient ...
    for conv in convs[blocks_before_unfrozen:]:
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    # ... and inactive supernet blocks get none.
    stages = [getattr(net, f'layer{i + 1}') for i in range(len(net.built_stage_blocks))]
    for stage, n in zip(stages, net.active_stage_blocks):
        for block in list(stage)[n:]:
            assert all(p.grad is None for p in block.parameters())

    probe = convs[-1].weight
    before = probe.detach().clone()
    optimizer.step()
    assert not torch.equal(probe.detach(), before)
