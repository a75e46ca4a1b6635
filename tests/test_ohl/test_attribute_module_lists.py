"""``*`` in attribute paths fans out over ``nn.ModuleList`` / ``nn.Sequential``: a Cascade R-CNN's stages.

mmdet's ``CascadeRoIHead`` keeps its 3 bbox heads in an ``nn.ModuleList``; ``...bbox_head.*.loss_cls.loss_weight``
was refused ("* ... needs a list or tuple, got ModuleList"), so a search or replay of one value for every stage
had to list the stages one by one.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch import nn

from automl_mm.ohl import get_attribute, set_attribute


def _cascade_runner():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope

    register_all_modules(init_default_scope=False)
    stage = dict(type='Shared2FCBBoxHead', in_channels=8, fc_out_channels=16, roi_feat_size=7, num_classes=3,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[0.1] * 4),
                 loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
                 loss_bbox=dict(type='SmoothL1Loss', loss_weight=1.0))
    with DefaultScope.overwrite_default_scope('mmdet'):
        roi_head = MODELS.build(dict(
            type='CascadeRoIHead', num_stages=3, stage_loss_weights=[1, 0.5, 0.25],
            bbox_roi_extractor=dict(type='SingleRoIExtractor', out_channels=8, featmap_strides=[4],
                                    roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0)),
            bbox_head=[stage, stage, stage]))
    return SimpleNamespace(model=SimpleNamespace(roi_head=roi_head))


def test_a_star_over_cascade_stages_writes_every_stage():
    runner = _cascade_runner()
    assert isinstance(runner.model.roi_head.bbox_head, nn.ModuleList)
    path = 'model.roi_head.bbox_head.*.loss_cls.loss_weight'
    assert get_attribute(runner, path) == [1.0, 1.0, 1.0]
    set_attribute(runner, path, 0.5)
    assert [head.loss_cls.loss_weight for head in runner.model.roi_head.bbox_head] == [0.5, 0.5, 0.5]
    set_attribute(runner, 'model.roi_head.bbox_head.1.loss_cls.loss_weight', 2.0)  # one stage, by its index
    assert get_attribute(runner, path) == [0.5, 2.0, 0.5]


def test_a_star_over_a_sequential_and_over_other_modules():
    layers = nn.Sequential(nn.Dropout(0.1), nn.Dropout(0.2))
    runner = SimpleNamespace(model=SimpleNamespace(layers=layers, single=nn.Dropout(0.3)))
    set_attribute(runner, 'model.layers.*.p', 0.4)
    assert [m.p for m in layers] == [0.4, 0.4]
    with pytest.raises(ValueError, match=r'\* at position 2 needs a list, tuple, nn.ModuleList or nn.Sequential, '
                                         r'got Dropout'):
        set_attribute(runner, 'model.single.*.p', 0.4)
