"""A search config naming its backbone by the class object (a pure-Python config: ``type=MBConvSupernet``, which
mmengine builds as it is) exported a fragment that did not parse: ``backbone = {'type': <class
'automl_mm.models.backbones.mbconv_supernet.MBConvSupernet'>, ...}`` (``SyntaxError`` when pasted). The class is now
written by the name it is registered under, with its registry's scope."""
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.models.backbones.cr_resnet import CRResNet
from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas.retrain_export import backbone_fragment_text, registered_type_name
from automl_mm.registry import MODELS


@pytest.mark.parametrize('cls, args', [(MBConvSupernet, dict(space='digits', arch=['k5e6', 'skip', 'k3e3', 'k3e3'])),
                                       (CRResNet, dict(depth=18, stage_blocks=[1, 2, 3, 2], out_indices=(3, ),
                                                       dilations_per_block=[1, 2, 1, 3, 1, 2, 2, 1]))])
def test_a_class_object_type_is_written_by_its_registered_name(tmp_path, cls, args):
    """The fragment parses, names 'automl_mm.<class>' and builds, in an mmdet-scoped config, the network the class
    object builds (same modules)."""
    path = tmp_path / 'fragment.py'
    path.write_text("default_scope = 'mmdet'\n" + backbone_fragment_text('searched', dict(type=cls, **args)))
    cfg = Config.fromfile(str(path))
    assert cfg.backbone.type == f'automl_mm.{cls.__name__}'
    with DefaultScope.overwrite_default_scope('mmdet'):
        assert repr(MODELS.build(cfg.backbone)) == repr(cls(**args))


def test_registered_names_of_other_scopes_and_an_unregistered_class():
    """mmdet's own ResNet class is 'mmdet.ResNet'; a class no registry holds is refused, naming the key."""
    import mmdet.models  # noqa: F401  (registers mmdet's backbones)
    from mmdet.models.backbones import ResNet

    assert registered_type_name(ResNet) == 'mmdet.ResNet'

    class Unregistered(MBConvSupernet):
        pass

    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*Unregistered, which no MODELS '
                                         r'registry holds'):
        registered_type_name(Unregistered)
