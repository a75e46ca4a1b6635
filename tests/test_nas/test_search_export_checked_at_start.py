"""What a search's export needs is checked where the search starts, not after it: a backbone type the backbone
fragment cannot name (PC-NAS and CR-NAS) was refused only by the export, after the whole search."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas.test_pc_nas_loop import _cfg as _pc_cfg

from automl_mm.models.backbones.cr_resnet import CRResNet
from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas.retrain_export import backbone_fragment_text, check_backbone_exportable, fragment_type


class UnregisteredCRResNet(CRResNet):
    """A CR-ResNet of one's own without ``@MODELS.register_module()``: mmengine builds the class object."""


class UnregisteredMBConvSupernet(MBConvSupernet):
    """A PC-NAS supernet of one's own without ``@MODELS.register_module()``."""


def _loop(cfg, backbone_type=None):
    """Build ``cfg``'s search loop (nothing trains); ``backbone_type`` replaces ``model.backbone.type`` in the
    runner's config after its model is built, as a pure-Python config's class object would read there (a config
    file holding a class object cannot be dumped by the runner)."""
    runner = Runner.from_cfg(cfg)
    if backbone_type is not None:
        runner.cfg.model.backbone.type = backbone_type
    return runner.build_train_loop(runner._train_loop)


def test_the_fragment_type_of_registered_and_unregistered_backbones():
    import mmdet.models  # noqa: F401  (registers mmdet's backbones)

    assert fragment_type('CRResNet') == ('automl_mm.CRResNet', CRResNet)
    assert fragment_type(CRResNet) == ('automl_mm.CRResNet', CRResNet)
    assert fragment_type('mmdet.ResNet')[0] == 'mmdet.ResNet'
    check_backbone_exportable(dict(type='automl_mm.CRResNet'), 'CRNASLoop')
    check_backbone_exportable(None, 'CRNASLoop')
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredCRResNet, which no '
                                         r'MODELS registry holds.*train_cfg\.type=CRNASLoop .*refused before the '
                                         r'search'):
        check_backbone_exportable(dict(type=UnregisteredCRResNet, depth=18), 'CRNASLoop')
    # a name only another scope's registry holds: the fragment would write 'automl_mm.RPN', which builds nothing
    with pytest.raises(ValueError, match=r"^model\.backbone\.type='RPN': the backbone fragment would name it "
                                         r"'automl_mm\.RPN', which no MODELS registry builds.*PCNASLoop"):
        check_backbone_exportable(dict(type='RPN'), 'PCNASLoop')
    # the export's own check stays
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredCRResNet'):
        backbone_fragment_text('t', dict(type=UnregisteredCRResNet, depth=18))


def test_a_cr_nas_search_of_an_unregistered_backbone_class_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredCRResNet.*'
                                         r'train_cfg\.type=CRNASLoop'):
        _loop(digits_cr_cfg(str(tmp_path)), UnregisteredCRResNet)


def test_a_pc_nas_search_of_an_unregistered_backbone_class_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredMBConvSupernet.*'
                                         r'train_cfg\.type=PCNASLoop'):
        _loop(_pc_cfg(str(tmp_path)), UnregisteredMBConvSupernet)
