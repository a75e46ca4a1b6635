"""A detector's ``model.neck.in_channels`` must be the widths of the maps its backbone returns: checked by
``check_config`` (every run, before the datasets load), naming the key."""
import re

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_model import backbone_widths, check_neck_widths
from automl_mm.engine.preflight_walk import ConfigCheckError

CR_R18 = 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py'


def _cfg(backbone, in_channels, scope='mmdet'):
    return Config(dict(default_scope=scope, model=dict(
        type='FasterRCNN', backbone=backbone, neck=dict(type='FPN', in_channels=in_channels, out_channels=8))))


@pytest.mark.parametrize('override, widths', [
    (dict(depth=50), [256, 512, 1024, 2048]),  # an R-50 under the R-18 FPN
    (dict(out_indices=(1, 2, 3)), [128, 256, 512]),  # out_indices changed without the neck
    (dict(type='automl_mm.CRMobileNetV2', _delete_=True, out_indices=(1, 2, 4, 7),
          max_stage_blocks=(1, 3, 3, 5, 3, 3, 1)), [24, 32, 96, 1280]),
])
def test_a_shipped_config_with_a_backbone_of_other_widths_stops_at_check_config(override, widths):
    """It trained until the first step: torch's "expected input ... to have 256 channels" or FPN's bare assert."""
    cfg = Config.fromfile(CR_R18)
    cfg.merge_from_dict({'model.backbone': override})
    if override.get('_delete_'):
        cfg.model.backbone = {k: v for k, v in override.items() if k != '_delete_'}
    match = (r'model\.neck\.in_channels=\[64, 128, 256, 512\] but the backbone '
             rf'.* of {re.escape(str(widths))} channels: set model\.neck\.in_channels=')
    with pytest.raises(ConfigCheckError, match=match):
        check_config(cfg)


@pytest.mark.parametrize('backbone, widths', [
    (dict(type='ResNet', depth=18), [64, 128, 256, 512]),  # mmdet's own: no out_channels, widths from shapes
    (dict(type='automl_mm.CRResNet', depth=101, max_stage_blocks=(10, 10, 23, 17), out_indices=(0, 2, 3)),
     [256, 1024, 2048]),
    (dict(type='automl_mm.CRMobileNetV2', widen_factor=0.5, out_indices=(2, 4, 6)), [16, 48, 160]),
    (dict(type='automl_mm.ResNet', depth=18, stem='cifar', out_indices=(2, 3)), [256, 512]),
])
def test_matching_widths_pass_and_others_are_named(backbone, widths):
    check_neck_widths(_cfg(backbone, widths))
    match = rf'in_channels={re.escape(str(widths[:-1]))} but .* returns {len(widths)} feature'
    with pytest.raises(ConfigCheckError, match=match):
        check_neck_widths(_cfg(backbone, widths[:-1]))


def test_what_cannot_be_learnt_without_running_is_not_checked():
    """A backbone that does not build (the runner names that error itself) or a neck without a list of widths."""
    assert backbone_widths(dict(type='NoSuchBackbone'), 'mmdet') is None
    check_neck_widths(_cfg(dict(type='NoSuchBackbone'), [1, 2]))
    check_neck_widths(Config(dict(default_scope='mmdet', model=dict(
        backbone=dict(type='ResNet', depth=18), neck=dict(type='DilatedEncoder', in_channels=7)))))
