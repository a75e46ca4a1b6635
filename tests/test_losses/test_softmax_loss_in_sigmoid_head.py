"""automl_mm's softmax losses (the robust-loss baselines, ``AMLFSLoss``) as the ``loss_cls`` of mmdet's dense heads.

mmdet's heads that honour ``use_sigmoid=False`` (RetinaHead, RPNHead, FCOSHead, ATSSHead) give a softmax loss
``num_classes + 1`` scores, background last, and predict with the softmax of the foreground ones: there the
baselines' cross-entropy equals mmdet's own ``CrossEntropyLoss(use_sigmoid=False)`` as the head calls it
(positional ``label_weights``, ``avg_factor`` as a float). The sigmoid heads do not: ``YOLOXHead``, ``VFNetHead``
and ``CenterNetUpdateHead`` give ``num_classes`` scores, ``PAAHead``, ``FoveaHead``, ``AutoAssignHead`` and
``YOLOV3Head`` predict with the sigmoid of every score, and ``GFLHead`` / ``TOODHead`` / ``RTMDetHead`` pass
QualityFocalLoss's ``(labels, scores)`` pair. ``automl_mm.CrossEntropyLoss`` in ``YOLOXHead`` trained a softmax over
the 3 foreground scores, silently; in GFLHead every loss stopped the first iteration with ``AttributeError: 'tuple'
object has no attribute 'is_floating_point'``. Both are refused now, at build, naming the key.
"""
from __future__ import annotations

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import automl_mm.losses  # noqa: F401  (registers AMLFSLoss)
from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.preflight_losses import check_loss_holders
from automl_mm.losses import AMLFSLoss
from automl_mm.models import (
    CrossEntropyLoss,
    GeneralizedCrossEntropyLoss,
    LabelSmoothingLoss,
    Poly1CrossEntropyLoss,
    SymmetricCrossEntropyLoss,
)

ANCHORS = dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1, ratios=[1.0], strides=[8])
CODER = dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4)
ATSS_TRAIN = dict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1, pos_weight=-1, debug=False)
DENSE = dict(num_classes=3, in_channels=32, feat_channels=32, stacked_convs=1)
HONOURING = {
    'RetinaHead': dict(type='RetinaHead', **DENSE, anchor_generator=ANCHORS, bbox_coder=CODER,
                       loss_bbox=dict(type='L1Loss'),
                       train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                                    min_pos_iou=0, ignore_iof_thr=-1),
                                      sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                                      debug=False)),
    'RPNHead': dict(type='RPNHead', in_channels=32, feat_channels=32, anchor_generator=ANCHORS, bbox_coder=CODER,
                    loss_bbox=dict(type='L1Loss'),
                    train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                                                 min_pos_iou=0.3, ignore_iof_thr=-1),
                                   sampler=dict(type='RandomSampler', num=16, pos_fraction=0.5, neg_pos_ub=-1,
                                                add_gt_as_proposals=False),
                                   allowed_border=-1, pos_weight=-1, debug=False)),
    'FCOSHead': dict(type='FCOSHead', **DENSE, strides=[8], regress_ranges=((-1, 1e8),)),
    'ATSSHead': dict(type='ATSSHead', **DENSE, anchor_generator=ANCHORS, bbox_coder=CODER, train_cfg=ATSS_TRAIN,
                     reg_decoded_bbox=True, loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
}
SIGMOID = {
    'YOLOXHead': dict(type='YOLOXHead', **DENSE, strides=[8]),
    'VFNetHead': dict(type='VFNetHead', **DENSE, strides=[8]),
    'CenterNetUpdateHead': dict(type='CenterNetUpdateHead', **DENSE, strides=[8]),
    'GFLHead': dict(type='GFLHead', **DENSE, anchor_generator=ANCHORS),
    'TOODHead': dict(type='TOODHead', **DENSE, anchor_generator=ANCHORS, bbox_coder=CODER),
    'RTMDetHead': dict(type='RTMDetHead', **DENSE, bbox_coder=dict(type='DistancePointBBoxCoder'),
                       anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[8])),
    'PAAHead': dict(type='PAAHead', **DENSE, anchor_generator=ANCHORS, bbox_coder=CODER),
    'FoveaHead': dict(type='FoveaHead', num_classes=3, in_channels=32, feat_channels=32, stacked_convs=1,
                      strides=[8], base_edge_list=[16], scale_ranges=((1, 64),)),
    'AutoAssignHead': dict(type='AutoAssignHead', **DENSE, strides=[8]),
    'FreeAnchorRetinaHead': dict(type='FreeAnchorRetinaHead', **DENSE, anchor_generator=ANCHORS, bbox_coder=CODER),
    'YOLOFHead': dict(type='YOLOFHead', num_classes=3, in_channels=32, num_cls_convs=1, num_reg_convs=1,
                      anchor_generator=ANCHORS, bbox_coder=CODER),
    'YOLOV3Head': dict(type='YOLOV3Head', num_classes=3, in_channels=[8], out_channels=[8], featmap_strides=[8],
                       anchor_generator=dict(type='YOLOAnchorGenerator', base_sizes=[[(10, 13), (16, 30)]],
                                             strides=[8])),
}
SOFTMAX_LOSSES = ['CrossEntropyLoss', 'LabelSmoothingLoss', 'GeneralizedCrossEntropyLoss',
                  'SymmetricCrossEntropyLoss', 'Poly1CrossEntropyLoss']


def _build(cfg: dict, loss_cls: dict):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MMDET_MODELS.build(dict(cfg, loss_cls=loss_cls))


@pytest.mark.parametrize('head', sorted(SIGMOID))
@pytest.mark.parametrize('loss', ['CrossEntropyLoss', 'GeneralizedCrossEntropyLoss'])
def test_a_softmax_loss_in_a_sigmoid_head_is_refused_naming_the_key(head, loss):
    built = _build(SIGMOID[head], dict(type=f'automl_mm.{loss}'))
    with pytest.raises(ConfigCheckError, match=rf'model.loss_cls is {loss}, a softmax loss over num_classes \+ 1 '
                                               rf'scores .*its holder {head} is a sigmoid head'):
        check_loss_holders(built)
    with pytest.raises(ConfigCheckError) as err:
        check_loss_holders(built)
    scores = {'YOLOXHead': 3, 'VFNetHead': 3, 'CenterNetUpdateHead': 3, 'YOLOV3Head': None}.get(head, 4)
    assert (f'sigmoid head (it gives {scores} scores for num_classes=3 and predicts' if scores else
            'sigmoid head (predicts with the sigmoid of its scores)') in str(err.value)
    # mmdet's own sigmoid loss there passes
    check_loss_holders(_build(SIGMOID[head], dict(type='CrossEntropyLoss', use_sigmoid=True)))


def _sample(labels: list[int]) -> DetDataSample:
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64), batch_input_shape=(64, 64),
                                         scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[8.0, 8.0, 40.0, 40.0], [30.0, 20.0, 60.0, 50.0]]),
                                       labels=torch.tensor(labels))
    sample.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
    return sample


@pytest.mark.parametrize('head', sorted(HONOURING))
def test_in_a_head_that_honours_use_sigmoid_false_cross_entropy_is_mmdets(head):
    """As the head calls it (RetinaHead / ATSSHead / RPNHead: positional label_weights and a float avg_factor;
    FCOSHead: avg_factor only), on the same weights: automl_mm's CrossEntropyLoss gives mmdet's value."""
    ours = _build(HONOURING[head], dict(type='automl_mm.CrossEntropyLoss', loss_weight=2.0))
    check_loss_holders(ours)
    mmdet = _build(HONOURING[head], dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0))
    ours.load_state_dict(mmdet.state_dict())
    feats = (torch.randn(1, 32, 8, 8, generator=torch.Generator().manual_seed(0)),)
    labels = [0, 0] if head == 'RPNHead' else [1, 2]  # a two-stage detector gives its RPN class 0 (foreground)
    torch.manual_seed(0)  # RPNHead's RandomSampler
    expected = mmdet.loss(feats, [_sample(labels)])
    torch.manual_seed(0)
    value = ours.loss(feats, [_sample(labels)])
    key = 'loss_rpn_cls' if head == 'RPNHead' else 'loss_cls'
    total = {name: torch.stack(list(v)).sum() if isinstance(v, list) else v
             for name, v in (('ours', value[key]), ('mmdet', expected[key]))}
    assert float(total['mmdet']) > 0
    torch.testing.assert_close(total['ours'], total['mmdet'], rtol=1e-6, atol=0.0)


@pytest.mark.parametrize('cls', [CrossEntropyLoss, LabelSmoothingLoss, GeneralizedCrossEntropyLoss,
                                 SymmetricCrossEntropyLoss, Poly1CrossEntropyLoss, AMLFSLoss])
def test_the_quality_focal_loss_pair_is_refused_naming_it(cls):
    """GFLHead, LDHead, TOODHead and RTMDetHead pass (labels, scores): 'tuple' object has no attribute
    'is_floating_point' before, a ValueError naming the pair and QualityFocalLoss now (a head of one's own that
    skips the build check still reaches it)."""
    logits, pair = torch.randn(4, 4), (torch.tensor([0, 1, 3, 3]), torch.rand(4))
    norms = (torch.ones(4), torch.ones(4)) if cls is AMLFSLoss else ()
    with pytest.raises(ValueError, match=rf'{cls.__name__} needs a tensor of class indices \(N,\) as its target, got '
                                         r"a tuple \(the \(labels, scores\) pair .*QualityFocalLoss"):
        cls()(logits, pair, *norms)
