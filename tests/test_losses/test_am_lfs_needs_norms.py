"""AMLFSLoss needs ||W_j|| and ||x||, which only a norm-passing head (CosineLinearClsHead) gives it: a head that does
not pass them is refused when it is built or when the search binds to the loss, not at the first iteration."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

from automl_mm.losses import AMLFSLoss, LossFunctionSpace
from automl_mm.models import CosineLinearClsHead, LinearClsHead
from automl_mm.ohl import CopyLayout
from automl_mm.registry import MODELS


def test_linear_head_with_am_lfs_is_refused_when_built_naming_the_head_key():
    # the loss used to be built and the first training iteration stopped with 'needs weight_norm and feat_norm'
    with pytest.raises(ValueError, match="LinearClsHead.*AMLFSLoss.*type='CosineLinearClsHead'"):
        LinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss'))
    with pytest.raises(ValueError, match='CosineLinearClsHead'):
        MODELS.build(dict(type='LinearClsHead', num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss')))
    head = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss'))  # the head that passes
    assert isinstance(head.loss_module, AMLFSLoss)


def _mmdet_bbox_head():
    from mmdet.registry import MODELS as MMDET_MODELS

    with DefaultScope.overwrite_default_scope('mmdet'):
        return MMDET_MODELS.build(dict(
            type='Shared2FCBBoxHead', in_channels=2, fc_out_channels=4, roi_feat_size=1, num_classes=3,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False, loss_cls=dict(type='automl_mm.AMLFSLoss'),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))


class _Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.roi_head = nn.Module()
        self.roi_head.bbox_head = _mmdet_bbox_head()


def test_search_refuses_a_loss_whose_head_does_not_pass_norms():
    """An mmdet bbox head passes (cls_score, labels, label_weights, avg_factor): the search started, every copy
    sampled θ, and the first iteration stopped."""
    runner = SimpleNamespace(model=_Detector())
    space = LossFunctionSpace(target='model.roi_head.bbox_head.loss_cls.theta')
    match = r'model.roi_head.bbox_head.loss_cls.theta.*Shared2FCBBoxHead \(model.roi_head.bbox_head\).*passes_norms'
    with pytest.raises(ValueError, match=match):
        space.resolve(runner)  # where OHLHook's config check in the launching process meets it
    with pytest.raises(ValueError, match=match):
        space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)


def test_search_accepts_the_cosine_head():
    model = nn.Module()
    model.head = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss'))
    runner = SimpleNamespace(model=model)
    LossFunctionSpace().setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    space = LossFunctionSpace()
    space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    space.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    assert not torch.equal(model.head.loss_module.theta, torch.zeros(14, dtype=torch.float64))


def test_search_refuses_a_loss_put_into_a_linear_head_after_it_was_built():
    model = nn.Module()
    model.head = LinearClsHead(num_classes=3, in_channels=4)
    model.head.loss_module = AMLFSLoss()
    with pytest.raises(ValueError, match=r'held by LinearClsHead \(model.head\)'):
        LossFunctionSpace().setup(SimpleNamespace(model=model), CopyLayout(1, 1, 0, 1), seed=0)
