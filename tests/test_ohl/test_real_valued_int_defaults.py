"""Settings of mmdet 3.3 / mmengine that take real numbers although their defaults are ints take a Gaussian and a float
write (``value_ranges.REAL_VALUED_ATTRIBUTES``); their integer settings are still refused one, with the message's
advice.

Input that showed the fault: ``AttributeSpace(dict(type='DiagGaussian', mean=[2000.0], std=100.0),
target='hooks.0.ema_model.gamma')`` on mmdet's ``ExpMomentumEMA`` (YOLOX's and RTMDet's EMA, ``gamma=2000``: a time
constant in steps, ``exp(-(1 + steps) / gamma)``) was refused as a Gaussian on an integer setting, and a
``SetAttributesHook`` of 1500.5 as a float over an int."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmdet.datasets.transforms import CutOut, Expand, FilterAnnotations, RandomErasing, SegRescale
from mmdet.models.data_preprocessors import BatchFixedSizePad, BatchResize, DetDataPreprocessor, ReIDDataPreprocessor
from mmdet.models.layers import ExpMomentumEMA, NormedConv2d, NormedLinear, SinePositionalEncoding
from mmdet.models.losses import KnowledgeDistillationKLDivLoss, L2Loss, MarginL2Loss
from mmdet.models.task_modules.assigners import ApproxMaxIoUAssigner, ATSSAssigner, MaxIoUAssigner
from mmdet.models.task_modules.assigners.match_cost import ClassificationCost, FocalLossCost
from mmdet.models.task_modules.samplers import IoUBalancedNegSampler, ScoreHLRSampler
from mmengine.model import MomentumAnnealingEMA
from mmengine.optim.scheduler import CosineRestartLR
from torch import nn

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import get_attribute, set_attribute
from automl_mm.ohl.value_ranges import gaussian_on_integer

IOU = dict(type='mmdet.BboxOverlaps2D')


def _reid_preprocessor():
    """mmdet's ReIDDataPreprocessor, whose constructor needs mmpretrain (not installed): its own attributes."""
    preprocessor = ReIDDataPreprocessor.__new__(ReIDDataPreprocessor)
    nn.Module.__init__(preprocessor)
    preprocessor.pad_value = 0  # its default
    return preprocessor


def _runner():
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    objects = SimpleNamespace(
        ema=ExpMomentumEMA(nn.Linear(1, 1)), annealing=MomentumAnnealingEMA(nn.Linear(1, 1)),
        kd=KnowledgeDistillationKLDivLoss(), normed=NormedLinear(2, 2), sine=SinePositionalEncoding(num_feats=4),
        margin=MarginL2Loss(), cls_cost=ClassificationCost(), focal_cost=FocalLossCost(gamma=2),
        sampler=IoUBalancedNegSampler(num=4, pos_fraction=0.5, floor_thr=0), preprocessor=DetDataPreprocessor(),
        restart=CosineRestartLR(optimizer, periods=[2], restart_weights=[1], eta_min=0.0),
        cutout=CutOut(n_holes=1, cutout_shape=(2, 2)), erasing=RandomErasing(n_patches=1, ratio=0.1),
        rescale=SegRescale(), filter=FilterAnnotations(), expand=Expand(), normed_conv=NormedConv2d(2, 2, 1),
        l2=L2Loss(), reid=_reid_preprocessor(), batch_resize=BatchResize((4, 4)), fixed_pad=BatchFixedSizePad((4, 4)),
        hlr=ScoreHLRSampler(4, 0.5, SimpleNamespace(bbox_roi_extractor=None, bbox_head=None, with_shared_head=False)),
        max_iou=MaxIoUAssigner(0.5, 0.4, iou_calculator=IOU), approx=ApproxMaxIoUAssigner(0.5, 0.4, iou_calculator=IOU),
        atss=ATSSAssigner(9, iou_calculator=IOU))
    objects.normed_conv.tempearture = 20  # as NormedLinear's
    objects.normed.tempearture = 20  # mmdet's default is 20 (an int) under a float annotation
    # IoUBalancedNegSampler's floor_fraction=0 default; floor_thr=0 (its default -1 is refused a write below 0:
    # mmdet sets a negative one to 0 at its first sampling, test_element_keys_and_stored_forms.py)
    objects.sampler.floor_fraction = 0
    return SimpleNamespace(objects=objects, hooks=[SimpleNamespace(ema_model=objects.ema)], cfg=None)


@pytest.mark.parametrize('path', [
    'hooks.0.ema_model.gamma', 'objects.annealing.gamma', 'objects.kd.T', 'objects.normed.tempearture',
    'objects.sine.temperature', 'objects.margin.pos_margin', 'objects.margin.neg_margin', 'objects.cls_cost.weight',
    'objects.focal_cost.gamma', 'objects.sampler.floor_thr', 'objects.sampler.floor_fraction',
    'objects.preprocessor.pad_value', 'objects.restart.restart_weights.0', 'objects.cutout.fill_in',
    'objects.erasing.img_border_value', 'objects.rescale.scale_factor', 'objects.filter.min_gt_bbox_wh',
    'objects.expand.mean', 'objects.normed_conv.tempearture', 'objects.l2.pos_margin', 'objects.reid.pad_value',
    'objects.batch_resize.pad_value', 'objects.fixed_pad.img_pad_value', 'objects.hlr.bias',
    'objects.max_iou.ignore_iof_thr', 'objects.approx.ignore_iof_thr', 'objects.atss.ignore_iof_thr',
])
def test_a_real_valued_setting_with_an_int_default_takes_a_gaussian_and_a_float(path):
    runner = _runner()
    held = get_attribute(runner, path)[0]
    assert isinstance(held, int) or all(isinstance(v, int) for v in held)  # what the defaults hold
    assert gaussian_on_integer(runner, path) is None
    mean = [float(v) for v in held] if isinstance(held, (list, tuple)) else [float(held)]
    AttributeSpace(dict(type='DiagGaussian', mean=mean, std=1.0), target=path, name='g').check_dimension(runner, path)
    value = type(held)(v + 0.5 for v in mean) if isinstance(held, (list, tuple)) else mean[0] + 0.5
    set_attribute(runner, path, value)
    assert get_attribute(runner, path)[0] == value


def test_an_integer_setting_of_the_same_objects_keeps_the_refusal_and_its_advice():
    runner = _runner()
    with pytest.raises(ValueError, match=r"attribute path 'hooks\.0\.ema_model\.interval' holds an int \(1\), and 1\.5 "
                                         r'is not an integer: .*if it takes real numbers, write its config value as '
                                         r'a float'):
        set_attribute(runner, 'hooks.0.ema_model.interval', 1.5)
    assert gaussian_on_integer(runner, 'objects.sampler.num_bins') == 'holds an int (3)'
