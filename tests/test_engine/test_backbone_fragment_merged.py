"""A searched backbone fragment (``cr_nas_backbone.py`` / ``pc_nas_backbone.py``) put into the model without the
``_delete_=True`` its comment gives: mmengine merges it over the config's own backbone, whose other keys stay. When
that backbone had the fragment's type (or any type: the fragment's ``type`` wins the merge), the check that the
fragment is used passed, and the run retrained another network than the searched one, silently: e.g. mmdet's
``style='caffe'`` (stride in the first 1x1 conv), a DC5 ``strides`` / ``dilations`` or a supernet's
``max_stage_blocks`` (every idle block built). The config check refuses a ``model.backbone`` holding keys the
fragment does not set, naming them and the line to use; keys that train the same network otherwise (``init_cfg``,
``frozen_stages``, ``norm_eval``, ...) are left alone."""
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_model import check_backbone_fragment_used
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.nas.retrain_export import backbone_fragment_text

CR_BACKBONE = dict(type='CRResNet', depth=18, stage_blocks=[1, 1, 3, 3], out_indices=(0, 1, 2, 3),
                   dilations_per_block=[1] * 8)
#: mmdet's faster-rcnn_r50-caffe_fpn_1x_coco.py backbone (its keys), with a CR-ResNet supernet's max_stage_blocks
CAFFE_MODEL = ("model = dict(type='FasterRCNN',\n"
               "             backbone=dict(type='automl_mm.CRResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),"
               " frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True, style='caffe',"
               " max_stage_blocks=(4, 4, 4, 4)),\n"
               "             neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256,\n"
               "                       num_outs=5))\n")
MERGED = 'model = dict(backbone=backbone, neck=dict(in_channels=backbone_out_channels))\n'
LINE = 'model = dict(backbone=dict(_delete_=True, **backbone), neck=dict(in_channels=backbone_out_channels))'


def _config(tmp_path, text):
    """``text`` under a config inheriting :data:`CAFFE_MODEL` (as one inherits mmdet's own config)."""
    (tmp_path / 'base.py').write_text("default_scope = 'mmdet'\n" + CAFFE_MODEL)
    path = tmp_path / 'cfg.py'
    path.write_text("_base_ = './base.py'\n" + text)
    return Config.fromfile(str(path))


def test_fragment_merged_over_a_backbone_with_other_keys_is_refused(tmp_path):
    """Merged without _delete_: model.backbone keeps norm_cfg, style='caffe' and max_stage_blocks beside the
    fragment's keys (the fragment's type, depth, allocation win): refused, naming the kept architecture keys with
    their values and the line; frozen_stages / norm_eval (training only) and num_stages=4 (ResNet's default) are not
    named."""
    text = backbone_fragment_text('CR-NAS searched backbone', CR_BACKBONE) + MERGED
    cfg = _config(tmp_path, text)
    assert cfg.model.backbone.style == 'caffe' and cfg.model.backbone.depth == 18  # what mmengine merged
    with pytest.raises(ConfigCheckError) as info:
        check_backbone_fragment_used(cfg)
    message = str(info.value)
    assert message.startswith("model.backbone: it holds the pasted backbone fragment's keys (type="
                              "'automl_mm.CRResNet') and keys the fragment does not set, kept from the config's own "
                              "backbone: max_stage_blocks=(4, 4, 4, 4), norm_cfg={'type': 'BN', "
                              "'requires_grad': False}, style='caffe'")
    assert 'frozen_stages' not in message and 'norm_eval' not in message
    assert message.endswith(f'{LINE}; a key meant for the searched network goes into the fragment\'s backbone dict')
    with pytest.raises(ConfigCheckError, match=r"^model\.backbone: it holds the pasted backbone fragment's keys"):
        check_config(cfg)  # the whole config check runs it


def test_fragment_with_its_line_and_training_keys_passes(tmp_path):
    """With _delete_=True, the same config builds the fragment's backbone and passes; so does one adding the keys that
    train the same network otherwise (init_cfg, frozen_stages, norm_eval) next to the fragment's."""
    text = backbone_fragment_text('CR-NAS', CR_BACKBONE) + LINE + '\n'
    cfg = _config(tmp_path, text)
    assert 'style' not in cfg.model.backbone and 'max_stage_blocks' not in cfg.model.backbone
    check_backbone_fragment_used(cfg)
    text = (backbone_fragment_text('CR-NAS', CR_BACKBONE)
            + "model = dict(backbone=dict(_delete_=True, **backbone, frozen_stages=1, norm_eval=True, "
              "init_cfg=dict(type='Pretrained', checkpoint='r18.pth')), "
              "neck=dict(in_channels=backbone_out_channels))\n")
    check_backbone_fragment_used(_config(tmp_path, text))


def test_pc_nas_fragment_merged_over_another_space_is_refused():
    """A PC-NAS fragment whose search left ``space`` at its default, merged over a backbone of the same type with
    another space: the kept space builds other widths than the searched network."""
    cfg = Config(dict(backbone=dict(type='automl_mm.MBConvSupernet', arch=['k3e3'] * 4),
                      backbone_out_channels=[64],
                      model=dict(type='ImageClassifier',
                                 backbone=dict(type='automl_mm.MBConvSupernet', arch=['k3e3'] * 4, space='fmnist'))))
    with pytest.raises(ConfigCheckError, match=r"kept from the config's own backbone: space='fmnist'\. "):
        check_backbone_fragment_used(cfg)


def test_a_nested_key_kept_from_the_config_s_own_norm_cfg_is_named():
    """The fragment's norm_cfg merged over one with an eps of its own: the dict keeps eps (norm_cfg.eps named)."""
    fragment = dict(type='automl_mm.CRResNet', depth=18, norm_cfg=dict(type='BN', requires_grad=True))
    merged = dict(fragment, norm_cfg=dict(type='BN', requires_grad=True, eps=1e-3), init_cfg=dict(type='Pretrained'))
    cfg = Config(dict(backbone=fragment, backbone_out_channels=[64, 128, 256, 512],
                      model=dict(type='FasterRCNN', backbone=merged)))
    with pytest.raises(ConfigCheckError, match=r"kept from the config's own backbone: norm_cfg\.eps=0\.001\. "):
        check_backbone_fragment_used(cfg)


#: mmdet's faster-rcnn_r50_fpn_1x_coco.py backbone (its keys; mmdet's ResNet defaults but depth and frozen_stages)
PYTORCH_MODEL = ("model = dict(type='FasterRCNN',\n"
                 "             backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=[0, 1, 2, 3],"
                 " frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, style='pytorch',"
                 " init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),\n"
                 "             neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256,\n"
                 "                       num_outs=5))\n")


@pytest.mark.parametrize('style', ['pytorch', 'caffe'])
def test_kept_keys_at_the_built_class_s_defaults_pass(tmp_path, style):
    """Merged without _delete_ over mmdet's own ResNet backbone: the kept num_stages=4, out_indices, style='pytorch'
    and norm_cfg=dict(type='BN', requires_grad=True) are CRResNet's (mmdet ResNet's) defaults, so the run builds the
    searched network: it passes. With style='caffe' the same merge is refused, naming style alone."""
    (tmp_path / 'base.py').write_text("default_scope = 'mmdet'\n" + PYTORCH_MODEL.replace('pytorch', style))
    (tmp_path / 'cfg.py').write_text("_base_ = './base.py'\n" + backbone_fragment_text('CR-NAS', CR_BACKBONE)
                                     + MERGED)
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    assert cfg.model.backbone.num_stages == 4 and cfg.model.backbone.style == style  # kept by the merge
    if style == 'pytorch':
        check_backbone_fragment_used(cfg)
        return
    with pytest.raises(ConfigCheckError, match=r"kept from the config's own backbone: style='caffe'\. "):
        check_backbone_fragment_used(cfg)


def test_a_cr_mobilenet_v2_fragment_over_its_defaults_passes():
    """A CR-MobileNetV2 fragment merged over a backbone keeping mmdet MobileNetV2's default act_cfg and
    widen_factor passes; a kept act_cfg of another activation (another network) is named."""
    fragment = dict(type='automl_mm.CRMobileNetV2', stage_blocks=(1, 2, 3, 4, 3, 3, 1), out_indices=(1, 2, 4, 7))
    for act, ok in ((dict(type='ReLU6'), True), (dict(type='ReLU'), False)):
        merged = dict(fragment, act_cfg=act, widen_factor=1.0, frozen_stages=-1)
        cfg = Config(dict(backbone=fragment, backbone_out_channels=[24, 32, 96, 1280],
                          model=dict(type='FasterRCNN', backbone=merged)))
        if ok:
            check_backbone_fragment_used(cfg)
        else:
            with pytest.raises(ConfigCheckError, match=r"own backbone: act_cfg=\{'type': 'ReLU'\}\. "):
                check_backbone_fragment_used(cfg)
