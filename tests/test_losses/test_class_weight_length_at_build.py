"""A classification loss's ``class_weight`` of another length than its head's scores (``num_classes`` values in an
mmdet softmax head, which scores ``num_classes + 1``: background last) built, read the data and stopped the first
training iteration in ``F.cross_entropy`` ("weight tensor should be defined either for all 4 classes or no classes"),
naming no key. Refused when the model is built, naming ``model.<...>.loss_cls.class_weight``: by ``build_check``
and by a runner's start-of-run checks (:func:`~automl_mm.engine.preflight_losses.check_loss_holders`)."""
from __future__ import annotations

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import DefaultScope
from torch import nn

from automl_mm.engine.preflight import ConfigCheckError, build_check
from automl_mm.engine.preflight_losses import check_loss_holders
from automl_mm.registry import MODELS

from conftest import synthcoco_detector_cfg


def _detector(loss_cls):
    model = nn.Module()
    model.roi_head = nn.Module()
    with DefaultScope.overwrite_default_scope('mmdet'):
        model.roi_head.bbox_head = MMDET_MODELS.build(dict(
            type='Shared2FCBBoxHead', in_channels=2, fc_out_channels=4, roi_feat_size=1, num_classes=3,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False, loss_cls=loss_cls, loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
        model.dense = MMDET_MODELS.build(dict(
            type='RetinaHead', num_classes=3, in_channels=8, feat_channels=8, stacked_convs=1,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1, ratios=[1.0],
                                  strides=[8]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[1.0, 2.0, 3.0]),
            loss_bbox=dict(type='L1Loss')))
    return model


@pytest.mark.parametrize('loss_type', ['automl_mm.CrossEntropyLoss', 'automl_mm.GeneralizedCrossEntropyLoss',
                                       'CrossEntropyLoss'])  # mmdet's own too
def test_a_bbox_heads_class_weight_needs_the_background(loss_type):
    match = (r'model.roi_head.bbox_head.loss_cls.class_weight has 3 values, but its head Shared2FCBBoxHead gives '
             r'\w+ 4 scores per row \(num_classes=3 and the background')
    with pytest.raises(ConfigCheckError, match=match):
        check_loss_holders(_detector(dict(type=loss_type, class_weight=[1.0, 2.0, 3.0])))
    # one weight per score passes (the sigmoid RetinaHead's 3 = cls_out_channels too), and trains
    model = _detector(dict(type=loss_type, class_weight=[1.0, 2.0, 3.0, 0.5]))
    check_loss_holders(model)
    head = model.roi_head.bbox_head
    assert torch.isfinite(head.loss_cls(torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 3])))


@pytest.mark.parametrize('head, loss', [('LinearClsHead', 'CrossEntropyLoss'),
                                        ('CosineLinearClsHead', 'CrossEntropyLoss'),
                                        ('CosineLinearClsHead', 'AMLFSLoss')])
def test_a_classifier_heads_class_weight_is_one_per_class(head, loss):
    model = nn.Module()
    model.head = MODELS.build(dict(type=head, num_classes=3, in_channels=4,
                                   loss=dict(type=loss, class_weight=[1.0, 2.0, 3.0, 4.0])))
    with pytest.raises(ConfigCheckError, match=rf'model.head.loss.class_weight has 4 values, but its head {head} gives '
                                               rf'{loss} 3 scores per row: give one weight per score'):
        check_loss_holders(model)
    model.head.loss_module.class_weight = [1.0, 2.0, 3.0]
    check_loss_holders(model)


def test_build_check_names_the_key(coco_root):
    cfg = synthcoco_detector_cfg(coco_root)
    num_classes = cfg.model.roi_head.bbox_head.num_classes
    cfg.model.roi_head.bbox_head.loss_cls = dict(type='automl_mm.CrossEntropyLoss', class_weight=[1.0] * num_classes)
    with pytest.raises(ConfigCheckError, match='model.roi_head.bbox_head.loss_cls.class_weight has'):
        build_check(cfg)
    cfg.model.roi_head.bbox_head.loss_cls.class_weight = [1.0] * (num_classes + 1)
    build_check(cfg)
