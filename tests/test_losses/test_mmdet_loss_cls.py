"""automl_mm's classification losses as an mmdet ``loss_cls``: mmdet's call convention (``label_weights``,
``avg_factor``, ``reduction_override``, ``use_sigmoid``) against values computed by hand.

mmdet's ``BBoxHead.loss`` calls ``loss_cls(cls_score, labels, label_weights, avg_factor=..., reduction_override=...)``
with ``C + 1`` scores (the last one background). Every automl_mm loss used to stop the first iteration with
``TypeError: forward() got an unexpected keyword argument 'avg_factor'``.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import DefaultScope

import automl_mm.losses  # noqa: F401  (registers AMLFSLoss)
from automl_mm.models import (
    CrossEntropyLoss,
    GeneralizedCrossEntropyLoss,
    LabelSmoothingLoss,
    Poly1CrossEntropyLoss,
    SymmetricCrossEntropyLoss,
)

LOSSES = {
    'CrossEntropyLoss': (CrossEntropyLoss, lambda log_p, logits: -log_p),
    'LabelSmoothingLoss': (LabelSmoothingLoss,
                           lambda log_p, logits: -0.9 * log_p - 0.1 * F.log_softmax(logits, 1).mean(1)),
    'GeneralizedCrossEntropyLoss': (GeneralizedCrossEntropyLoss, lambda log_p, logits: (1 - log_p.exp()**0.7) / 0.7),
    'SymmetricCrossEntropyLoss': (SymmetricCrossEntropyLoss,
                                  lambda log_p, logits: 0.1 * -log_p + 4.0 * (1 - log_p.exp())),
    'Poly1CrossEntropyLoss': (Poly1CrossEntropyLoss, lambda log_p, logits: -log_p + (1 - log_p.exp())),
}

# three foreground classes + background (index 3); the last roi is ignored (label weight 0)
LOGITS = torch.tensor([[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 0.3, 0.4], [-3.0, 4.0, 0.0, 1.0], [1.0, 1.0, 1.0, -2.0],
                       [5.0, -5.0, 0.0, 0.0]], dtype=torch.float64)
LABELS = torch.tensor([0, 3, 2, 3, 1])
LABEL_WEIGHTS = torch.tensor([1.0, 1.0, 0.5, 1.0, 0.0], dtype=torch.float64)


def _per_sample(name):
    log_p = F.log_softmax(LOGITS, 1).gather(1, LABELS[:, None]).squeeze(1)
    return LOSSES[name][1](log_p, LOGITS)


def _bbox_head(loss_cls):
    """An mmdet bbox head built as an mmdet config builds it (``default_scope='mmdet'``)."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MMDET_MODELS.build(dict(
            type='Shared2FCBBoxHead', in_channels=2, fc_out_channels=4, roi_feat_size=1, num_classes=3,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False, loss_cls=loss_cls, loss_bbox=dict(type='L1Loss', loss_weight=1.0)))


@pytest.mark.parametrize('name', sorted(LOSSES))
def test_mmdet_arguments_weight_and_average_as_mmdets_own_losses(name):
    loss = LOSSES[name][0](loss_weight=2.0)
    expected = _per_sample(name)
    weighted = expected * LABEL_WEIGHTS
    value = loss(LOGITS, LABELS, LABEL_WEIGHTS, avg_factor=4.0)
    assert value.item() == pytest.approx(2.0 * weighted.sum().item() / 4.0, rel=1e-6)  # mmdet's eps in avg_factor
    assert loss(LOGITS, LABELS, LABEL_WEIGHTS).item() == pytest.approx(2.0 * weighted.mean().item(), rel=1e-12)
    none = loss(LOGITS, LABELS, LABEL_WEIGHTS, reduction_override='none')
    torch.testing.assert_close(none, 2.0 * weighted)
    assert loss(LOGITS, LABELS, reduction_override='sum').item() == pytest.approx(2.0 * expected.sum().item())
    # the classification call is unchanged: the unweighted mean
    assert loss(LOGITS, LABELS).item() == pytest.approx(2.0 * expected.mean().item(), rel=1e-12)
    # every roi ignored: 0 with a gradient, not NaN
    logits = LOGITS.clone().requires_grad_(True)
    zero = loss(logits, LABELS, torch.zeros(5, dtype=torch.float64), avg_factor=0.0)
    zero.backward()
    assert zero.item() == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize('name', sorted(LOSSES))
def test_as_loss_cls_of_an_mmdet_bbox_head(name):
    head = _bbox_head(dict(type=f'automl_mm.{name}', loss_weight=1.0))
    rois = torch.tensor([[0, 0, 0, 10, 10]] * 5, dtype=torch.float64)
    losses = head.loss(LOGITS, torch.zeros(5, 12, dtype=torch.float64), rois, LABELS, LABEL_WEIGHTS,
                       torch.zeros(5, 4, dtype=torch.float64), torch.zeros(5, 4, dtype=torch.float64))
    # mmdet's avg_factor: the number of rois with a positive label weight (4)
    expected = (_per_sample(name) * LABEL_WEIGHTS).sum().item() / 4.0
    assert losses['loss_cls'].item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('name', sorted(LOSSES))
def test_mmdet_keys_are_checked_by_name(name):
    cls = LOSSES[name][0]
    with pytest.raises(ValueError, match='use_sigmoid'):
        cls(use_sigmoid=True)
    with pytest.raises(ValueError, match="reduction must be one of"):
        cls(reduction='avg')
    cls(use_sigmoid=False, reduction='sum')  # mmdet's defaults spelled out are accepted
    with pytest.raises(ValueError, match="reduction_override must be one of"):
        cls()(LOGITS, LABELS, reduction_override='avg')
    # one weight per roi: a (N, C) weight (a sigmoid head's) was broadcast against the wrong axis
    with pytest.raises(ValueError, match=r'weight must have one value per row \(5,\)'):
        cls()(LOGITS, LABELS, torch.ones(5, 4, dtype=torch.float64))


def test_reduction_sum_without_avg_factor():
    loss = GeneralizedCrossEntropyLoss(reduction='sum')
    assert loss(LOGITS, LABELS).item() == pytest.approx(_per_sample('GeneralizedCrossEntropyLoss').sum().item())


def test_am_lfs_as_mmdet_loss_cls_says_what_it_needs():
    """mmdet heads do not pass ||W_j|| and ||x||: the loss must say so, not die on ``avg_factor``."""
    head = _bbox_head(dict(type='automl_mm.AMLFSLoss'))
    rois = torch.tensor([[0, 0, 0, 10, 10]] * 5, dtype=torch.float64)
    with pytest.raises(ValueError, match='weight_norm and feat_norm.*mmdet'):
        head.loss(LOGITS, torch.zeros(5, 12, dtype=torch.float64), rois, LABELS, LABEL_WEIGHTS,
                  torch.zeros(5, 4, dtype=torch.float64), torch.zeros(5, 4, dtype=torch.float64))


def test_am_lfs_takes_mmdets_weighting_where_norms_are_given():
    from automl_mm.losses import AMLFSLoss

    w_norm, x_norm = torch.ones(4, dtype=torch.float64), torch.full((5,), 6.0, dtype=torch.float64)
    loss = AMLFSLoss(loss_weight=2.0)
    per_sample = F.cross_entropy(LOGITS, LABELS, reduction='none')
    value = loss(LOGITS, LABELS, w_norm, x_norm, weight=LABEL_WEIGHTS, avg_factor=4.0)
    assert value.item() == pytest.approx(2.0 * (per_sample * LABEL_WEIGHTS).sum().item() / 4.0, rel=1e-6)
    none = loss(LOGITS, LABELS, w_norm, x_norm, reduction_override='none')
    torch.testing.assert_close(none, 2.0 * per_sample)
    assert math.isclose(loss(LOGITS, LABELS, w_norm, x_norm).item(), 2.0 * per_sample.mean().item(), rel_tol=1e-12)
