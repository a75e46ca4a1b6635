"""A backbone whose maps are not at the strides the detector's anchors and RoI extractor read (a PC-NAS
``MBConvSupernet`` of space ``pcnas_s`` pasted into mmdet's Faster R-CNN with ``out_indices=(1, 2, 3, 5)``: maps at
strides 8, 16, 16, 32) trained with anchors placed for 4, 8, 16, 32, 64, silently (FPN resizes each map to the next
before adding it). The config check now refuses it, naming the key and the strides."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_model import backbone_strides, check_feature_strides
from automl_mm.engine.preflight_walk import ConfigCheckError

BASELINE = 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py'


def _with_backbone(out_indices, widths):
    cfg = Config.fromfile(BASELINE)
    cfg.model.backbone = dict(type='automl_mm.MBConvSupernet', space='pcnas_s', arch=['k3e3'] * 21,
                              out_indices=out_indices)
    cfg.model.neck.in_channels = widths
    return cfg


def test_maps_at_other_strides_than_the_anchors_are_refused():
    cfg = _with_backbone((1, 2, 3, 5), [48, 88, 136, 1792])
    assert backbone_strides(cfg.model.backbone, 'mmdet') == [8, 16, 16, 32]
    with pytest.raises(ConfigCheckError) as info:
        check_feature_strides(cfg)
    assert str(info.value).startswith(
        'model.rpn_head.anchor_generator.strides=[4, 8, 16, 32, 64] but the maps model.neck (FPN, start_level=0, '
        'num_outs=5) gives them have strides [8, 16, 16, 32, 64]: the backbone (automl_mm.MBConvSupernet, '
        'out_indices=(1, 2, 3, 5)) returns maps at strides [8, 16, 16, 32]')


def test_maps_at_the_anchor_strides_pass():
    check_feature_strides(_with_backbone((0, 1, 2, 4), [32, 48, 88, 224]))
    check_feature_strides(Config.fromfile(BASELINE))  # automl_mm's ResNet-18 at 4, 8, 16, 32


def test_an_end_level_counts_its_own_map():
    """mmdet's FPN reads the backbone's maps start_level..end_level, end_level included (``backbone_end_level =
    end_level + 1``), and adds no extra level then: maps at strides 8, 16, 16 for end_level=2 here, not 8, 16, 32."""
    cfg = _with_backbone((1, 2, 3, 5), [48, 88, 136, 1792])
    cfg.model.neck.update(end_level=2, num_outs=3)
    cfg.model.rpn_head.anchor_generator.strides = [8, 16, 32]
    cfg.model.roi_head.bbox_roi_extractor.featmap_strides = [8, 16, 32]
    with pytest.raises(ConfigCheckError) as info:
        check_feature_strides(cfg)
    assert str(info.value).startswith(
        'model.rpn_head.anchor_generator.strides=[8, 16, 32] but the maps model.neck (FPN, start_level=0, '
        'num_outs=3) gives them have strides [8, 16, 16]: ')
    cfg.model.rpn_head.anchor_generator.strides = [8, 16, 16]  # what the maps are at: not refused
    cfg.model.roi_head.bbox_roi_extractor.featmap_strides = [8, 16, 16]
    check_feature_strides(cfg)


@pytest.mark.parametrize('key, reader', [
    ('model.bbox_head.strides', dict(bbox_head=dict(type='FCOSHead', num_classes=2, in_channels=64,
                                                    strides=[8, 16, 32, 64, 128]))),
    ('model.bbox_head.point_strides', dict(bbox_head=dict(type='RepPointsHead', num_classes=2, in_channels=64,
                                                          point_strides=[8, 16, 32, 64, 128]))),
    ('model.rpn_head.approx_anchor_generator.strides', dict(rpn_head=dict(
        type='GARPNHead', in_channels=64, approx_anchor_generator=dict(type='AnchorGenerator', octave_base_scale=8,
                                                                       scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                                                       strides=[8, 16, 32, 64, 128])))),
    ('model.roi_head.grid_roi_extractor.featmap_strides', dict(roi_head=dict(
        type='GridRoIHead', grid_roi_extractor=dict(type='SingleRoIExtractor', out_channels=64,
                                                    roi_layer=dict(type='RoIAlign', output_size=14),
                                                    featmap_strides=[8, 16, 32, 64])))),
])
def test_the_other_readers_of_the_maps_are_compared(key, reader):
    """FCOS-like heads (mmdet's AnchorFreeHead: FCOS, FoveaBox, VFNet, CondInst, ...) place their points at the
    head's own ``strides``, RepPoints at ``point_strides``, Guided Anchoring its anchors by ``approx_anchor_generator``
    / ``square_anchor_generator`` and Grid R-CNN reads RoIs through ``grid_roi_extractor``: maps at strides 8, 16,
    16, 32 under them trained as silently as under Faster R-CNN's anchors."""
    cfg = Config(dict(default_scope='mmdet', model=dict(
        type='FCOS', backbone=dict(type='automl_mm.MBConvSupernet', space='pcnas_s', arch=['k3e3'] * 21,
                                   out_indices=(1, 2, 3, 5)),
        neck=dict(type='FPN', in_channels=[48, 88, 136, 1792], out_channels=64, num_outs=5), **reader)))
    with pytest.raises(ConfigCheckError) as info:
        check_feature_strides(cfg)
    assert str(info.value).startswith(f'{key}=[8, 16, 32, 64') and 'have strides [8, 16, 16, 32, 64]' in str(info.value)
    *path, name = key.split('.')
    node = cfg
    for part in path:
        node = node[part]
    node[name] = [8, 16, 16, 32, 64][:len(node[name])]  # the strides the maps are at: not refused
    check_feature_strides(cfg)
