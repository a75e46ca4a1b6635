"""A misspelled argument of a model node (``--cfg-options model.backbone.depht=18``) stopped the runner with Python's
``TypeError: ResNet.__init__() got an unexpected keyword argument 'depht'``, naming neither the config key nor the
argument meant. The model build now names both: ``model.backbone.depht: ResNet takes no argument 'depht' (it takes
...) (did you mean model.backbone.depth?)``, in a lone runner (``tools/train.py``, ``tools/test.py``, a stock
launcher: ``Runner.from_cfg``; any runner: its ``__init__``) and in the launching process of a multi-copy run
(``build_check``)."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_model_args import located_argument_error
from automl_mm.registry import MODELS
from tests.test_engine._preflight_configs import DETECTOR, OHL

from conftest import tiny_digits_cfg


def test_a_detector_backbone_argument_is_located_with_the_one_meant():
    cfg = Config.fromfile(DETECTOR)
    cfg.merge_from_dict({'model.backbone.depht': 18})
    with DefaultScope.overwrite_default_scope(cfg.default_scope), pytest.raises(TypeError) as info:
        MODELS.build(cfg.model)
    located = located_argument_error(info.value, cfg.model, cfg.default_scope)
    assert isinstance(located, TypeError)
    assert str(located).startswith("model.backbone.depht: ResNet takes no argument 'depht' (it takes ")
    assert str(located).endswith('(did you mean model.backbone.depth?)')


def test_a_nested_list_node_is_keyed_by_its_index_and_other_errors_are_left_alone():
    model = dict(type='ImageClassifier', backbone=dict(type='SimpleConvNet', channels=(8, 16)),
                 head=dict(type='LinearClsHead', num_classes=10, in_channels=16,
                           loss=[dict(type='CrossEntropyLoss'), dict(type='CrossEntropyLoss', label_smothing=0.1)]))
    err = TypeError("CrossEntropyLoss.__init__() got an unexpected keyword argument 'label_smothing'")
    located = located_argument_error(err, model, 'automl_mm')
    assert str(located).startswith("model.head.loss.1.label_smothing: CrossEntropyLoss takes no argument")
    assert located_argument_error(TypeError('unsupported operand'), model, 'automl_mm') is None
    assert located_argument_error(ValueError("got an unexpected keyword argument 'x'"), model, 'automl_mm') is None
    # an argument no node holds (an error from elsewhere) is not pinned on the model
    assert located_argument_error(TypeError("got an unexpected keyword argument 'nowhere'"), model,
                                  'automl_mm') is None


def test_a_runner_names_the_key(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.model.backbone.chanels = (8, 16)
    with pytest.raises(TypeError, match=r"^model\.backbone\.chanels: SimpleConvNet takes no argument 'chanels' .*"
                                        r"\(did you mean model\.backbone\.channels\?\)$"):
        Runner.from_cfg(cfg)


class _OwnFromCfgRunner(Runner):
    """A Runner subclass whose ``from_cfg`` builds with ``cls(...)``, not ``super().from_cfg``."""

    @classmethod
    def from_cfg(cls, cfg):
        return cls(model=cfg['model'], work_dir=cfg['work_dir'], default_scope=cfg.get('default_scope'), cfg=cfg)


@pytest.mark.parametrize('build', ['own_from_cfg', 'init'])
def test_a_runner_built_without_from_cfg_names_the_key(build, tmp_path):
    """The key was named in the wrapped ``Runner.from_cfg`` only: a subclass's own ``from_cfg`` (or ``Runner(...)``
    called directly) stopped with Python's ``SimpleConvNet.__init__() got an unexpected keyword argument``."""
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.model.backbone.chanels = (8, 16)
    make = {'own_from_cfg': lambda: _OwnFromCfgRunner.from_cfg(cfg),
            'init': lambda: Runner(model=cfg.model, work_dir=cfg.work_dir, default_scope=cfg.default_scope)}[build]
    with pytest.raises(TypeError, match=r"^model\.backbone\.chanels: SimpleConvNet takes no argument 'chanels' .*"
                                        r"\(did you mean model\.backbone\.channels\?\)$"):
        make()


def test_the_build_check_of_a_multi_copy_run_names_the_key():
    cfg = Config.fromfile(OHL)
    cfg.model.backbone.chanels = (8, 16)
    with pytest.raises(TypeError, match=r"^model\.backbone\.chanels: SimpleConvNet takes no argument 'chanels'"):
        build_check(cfg)



def test_a_type_that_is_no_name_is_located(tmp_path):
    """``--cfg-options model.backbone.type=None`` stopped with mmengine's ``type must be a str or valid type, but got
    <class 'NoneType'>``, naming no key; the runner and the multi-copy build check now name it."""
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.model.backbone.type = None
    with pytest.raises(TypeError, match=r"^model\.backbone\.type=None is not a registered name \(a str\) or a class"):
        Runner.from_cfg(cfg)
    cfg = Config.fromfile(OHL)
    cfg.model.head.loss = dict(type=3)
    with pytest.raises(TypeError, match=r"^model\.head\.loss\.type=3 is not a registered name"):
        build_check(cfg)
    assert located_argument_error(TypeError('type must be a str or valid type, but got x'), dict(type='A'),
                                  'automl_mm') is None  # no such node: left alone


def test_a_refused_loss_value_is_located_in_a_detector():
    """A value a loss refuses (``class_weight=1.0``, ``ignore_index='255'``, a missing ``class_weight`` file) named the
    class only (``CrossEntropyLoss: ignore_index must be an int``), not which config node: now its key, with the
    error's type kept."""
    from automl_mm.engine.preflight_model_args import located_value_error
    cfg = Config.fromfile(DETECTOR)
    for value, kind, match in (('255', ValueError, 'ignore_index must be an int'),
                               (1.0, ValueError, 'class_weight must be one weight per class'),
                               ('/nowhere/w.npy', FileNotFoundError, r'class_weight: no file')):
        arg = 'ignore_index' if value == '255' else 'class_weight'
        cfg.model.roi_head.bbox_head.loss_cls = dict(type='automl_mm.CrossEntropyLoss', **{arg: value})
        with pytest.raises(kind, match=rf'^model\.roi_head\.bbox_head\.loss_cls\.{arg}: CrossEntropyLoss: {match}'):
            build_check(cfg)
    model = dict(type='ImageClassifier', head=dict(type='LinearClsHead', loss=dict(type='CrossEntropyLoss')))
    # an error of another class, of an argument no node holds, or already located, is left alone
    assert located_value_error(ValueError('Accuracy: topk values must be ints'), model, 'automl_mm') is None
    assert located_value_error(ValueError('CrossEntropyLoss: q must be'), model, 'automl_mm') is None
    assert located_value_error(TypeError('CrossEntropyLoss: type must be'), model, 'automl_mm') is None


def test_a_runner_names_the_key_of_a_refused_loss_value(tmp_path):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.model.head.loss = dict(type='CrossEntropyLoss', loss_weight=1.0, class_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match=r'^model\.head\.loss\.class_weight: CrossEntropyLoss: class_weight must hold '
                                         r'finite numbers >= 0, got \[1\.0, -1\.0\]'):
        Runner.from_cfg(cfg)
    cfg.model.head.loss = dict(type='LabelSmoothingLoss', loss_weight=-1.0)  # the same kind: every checked number
    with pytest.raises(ValueError, match=r'^model\.head\.loss\.loss_weight: LabelSmoothingLoss: loss_weight must be'):
        Runner.from_cfg(cfg)


def test_a_refused_loss_value_is_located_at_its_own_node_among_losses_of_one_name():
    """A Faster R-CNN's rpn_head.loss_cls is mmdet's CrossEntropyLoss (loss_weight=1.0): automl_mm's CrossEntropyLoss
    refusing loss_weight=-1.0 in the bbox head was pinned on model.rpn_head.loss_cls.loss_weight (the first node of
    that class name holding loss_weight); so was it where both are automl_mm's (then the value quoted decides)."""
    cfg = Config.fromfile(DETECTOR)
    assert cfg.model.rpn_head.loss_cls.type == 'CrossEntropyLoss' and cfg.model.rpn_head.loss_cls.loss_weight == 1.0
    cfg.model.roi_head.bbox_head.loss_cls = dict(type='automl_mm.CrossEntropyLoss', loss_weight=-1.0)
    with pytest.raises(ValueError, match=r'^model\.roi_head\.bbox_head\.loss_cls\.loss_weight: CrossEntropyLoss: '
                                         r'loss_weight must be a finite number >= 0, got -1\.0'):
        build_check(cfg)
    from automl_mm.engine.preflight_model_args import located_value_error
    model = dict(type='ImageClassifier', backbone=dict(type='CrossEntropyLoss', loss_weight=1.0),
                 head=dict(type='LinearClsHead', loss=dict(type='CrossEntropyLoss', loss_weight=-1.0)))
    err = ValueError('CrossEntropyLoss: loss_weight must be a finite number >= 0, got -1.0')
    assert str(located_value_error(err, model, 'automl_mm')).startswith('model.head.loss.loss_weight: ')
