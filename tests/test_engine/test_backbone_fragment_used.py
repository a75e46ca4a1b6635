"""A searched backbone fragment (``cr_nas_backbone.py`` / ``pc_nas_backbone.py``) pasted into a config without the
line its comment gives: mmengine reads no top-level ``backbone``, so a stock mmdet Faster R-CNN trained its own
ResNet-50, silently. The config check refuses it, naming the line to add."""
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_model import check_backbone_fragment_used
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.nas.retrain_export import backbone_fragment_text

CR_BACKBONE = dict(type='CRResNet', depth=18, stage_blocks=[1, 1, 3, 3], out_indices=(0, 1, 2, 3),
                   dilations_per_block=[1] * 8)
MMDET_MODEL = ("model = dict(type='FasterRCNN',\n"
               "             backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)),\n"
               "             neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256,\n"
               "                       num_outs=5))\n")
LINE = 'model = dict(backbone=dict(_delete_=True, **backbone), neck=dict(in_channels=backbone_out_channels))'


def _config(tmp_path, text):
    path = tmp_path / 'cfg.py'
    path.write_text(text)
    return Config.fromfile(str(path))


def test_fragment_pasted_alone_is_refused_naming_the_line(tmp_path):
    """The CR-NAS fragment pasted under an mmdet Faster R-CNN model: refused, naming both types and the line."""
    text = "default_scope = 'mmdet'\n" + MMDET_MODEL + backbone_fragment_text('CR-NAS searched backbone', CR_BACKBONE)
    cfg = _config(tmp_path, text)
    with pytest.raises(ConfigCheckError) as info:
        check_backbone_fragment_used(cfg)
    message = str(info.value)
    assert message.startswith("backbone: the config sets a top-level backbone (type='automl_mm.CRResNet')")
    assert "(model.backbone.type='ResNet')" in message
    assert message.endswith(f"Add the line the fragment's comment gives after it: {LINE}")
    with pytest.raises(ConfigCheckError, match=r"^backbone: the config sets a top-level backbone"):
        check_config(cfg)  # the whole config check runs it


def test_fragment_with_its_line_passes(tmp_path):
    """With the comment's line added, model.backbone is the fragment's (and its widths meet the neck)."""
    text = ("default_scope = 'mmdet'\n" + MMDET_MODEL + backbone_fragment_text('CR-NAS', CR_BACKBONE) + LINE + '\n')
    cfg = _config(tmp_path, text)
    assert cfg.model.backbone.type == 'automl_mm.CRResNet' and cfg.model.neck.in_channels == [64, 128, 256, 512]
    check_backbone_fragment_used(cfg)


def test_single_map_fragment_names_the_head_line():
    """A classifier's backbone (one map, PC-NAS's) is pointed at the head's in_channels, not at a neck."""
    cfg = Config(dict(backbone=dict(type='automl_mm.MBConvSupernet', space='digits', arch=['k3e3'] * 4),
                      backbone_out_channels=[64], model=dict(type='ImageClassifier')))
    with pytest.raises(ConfigCheckError, match=r"\(model\.backbone is not set\).*model = dict\(backbone=dict\("
                                               r"_delete_=True, \*\*backbone\)\) \(and the head's in_channels"):
        check_backbone_fragment_used(cfg)


def test_a_backbone_template_of_ones_own_is_left_alone():
    """A top-level ``backbone`` without ``backbone_out_channels`` is no fragment (a template the config uses)."""
    check_backbone_fragment_used(Config(dict(backbone=dict(type='ResNet', depth=18),
                                             model=dict(type='FasterRCNN', backbone=dict(type='ResNet', depth=50)))))
