"""A ``model.neck`` given as a list (mmdet builds an ``nn.Sequential``: Libra R-CNN's FPN + BFP, DyHead's FPN +
DyHead) is checked at its first neck, the one that takes the backbone's maps, named ``model.neck.0``."""
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_model import check_neck_widths
from automl_mm.engine.preflight_walk import ConfigCheckError


def _cfg(in_channels):
    return Config(dict(default_scope='mmdet', model=dict(type='FasterRCNN', backbone=dict(type='ResNet', depth=18),
                                                         neck=[dict(type='FPN', in_channels=in_channels,
                                                                    out_channels=8, num_outs=4),
                                                               dict(type='BFP', in_channels=8, num_levels=4)])))


def test_the_first_neck_of_a_list_is_checked_and_named():
    """An R-50 FPN over an R-18 in a Libra R-CNN passed the check and failed at the first step."""
    check_neck_widths(_cfg([64, 128, 256, 512]))
    with pytest.raises(ConfigCheckError, match=r'model\.neck\.0\.in_channels=\[256, 512, 1024, 2048\] but .* '
                                               r'set model\.neck\.0\.in_channels=\[64, 128, 256, 512\]'):
        check_neck_widths(_cfg([256, 512, 1024, 2048]))
