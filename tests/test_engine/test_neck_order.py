"""The neck check follows each neck's own order of ``in_channels``: mmdet's ``YOLOV3Neck`` lists the backbone's
maps deepest first (its docstring: "YOLOV3Neck will process them in reversed order")."""
import os

import mmdet
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_model import check_neck_widths
from automl_mm.engine.preflight_walk import ConfigCheckError

_DARKNET = dict(type='Darknet', depth=53, out_indices=(3, 4, 5))  # returns [256, 512, 1024]


def _cfg(in_channels):
    return Config(dict(default_scope='mmdet', model=dict(type='YOLOV3', backbone=_DARKNET, neck=dict(
        type='YOLOV3Neck', num_scales=3, in_channels=in_channels, out_channels=[512, 256, 128]))))


def test_mmdets_own_yolov3_config_passes():
    """mmdet's shipped yolov3 config was refused ("set model.neck.in_channels=[256, 512, 1024]"), which would
    have made YOLOV3Neck fail at its first conv."""
    path = os.path.join(os.path.dirname(mmdet.__file__), '.mim/configs/yolo/yolov3_d53_8xb8-320-273e_coco.py')
    if not os.path.exists(path):
        pytest.skip('mmdet installed without its configs')
    check_neck_widths(Config.fromfile(path))
    check_neck_widths(_cfg([1024, 512, 256]))


def test_yolov3_neck_in_backbone_order_is_refused_with_its_own_order():
    with pytest.raises(ConfigCheckError, match=r'set model\.neck\.in_channels=\[1024, 512, 256\]'):
        check_neck_widths(_cfg([256, 512, 1024]))


def test_mmdets_own_detectors_rfp_config_passes():
    """DetectoRS_ResNet(output_img=True) returns the image first, which mmdet's RFP neck pops before its FPN: the
    shipped config was refused ("returns 5 feature maps of [3, 256, 512, 1024, 2048] channels")."""
    path = os.path.join(os.path.dirname(mmdet.__file__), '.mim/configs/detectors/cascade-rcnn_r50-rfp_1x_coco.py')
    if not os.path.exists(path):
        pytest.skip('mmdet installed without its configs')
    cfg = Config.fromfile(path)
    check_neck_widths(cfg)
    cfg.model.neck.in_channels = [256, 512, 1024]
    with pytest.raises(ConfigCheckError, match=r'set model\.neck\.in_channels=\[256, 512, 1024, 2048\]'):
        check_neck_widths(cfg)
