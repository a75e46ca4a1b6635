"""A value of the wrong type is named by its config key (a new user's trial, fifty-second session):
``--cfg-options randomness.seed=abc`` stopped ``tools/train.py`` in mmengine's ``set_random_seed`` with numpy's
``TypeError: Cannot cast scalar from dtype('<U3') to dtype('int64')`` and a traceback, ``model.backbone.channels=32``
(an int where the stage widths go) with ``TypeError: 'int' object is not iterable`` inside ``SimpleConvNet``, and
``model.head.num_classes=ten`` with ``LinearClsHead num_classes must be an int >= 2, got 'ten'``, which named the
class but not the config key (automl_mm's classes word such refusals ``<Class> <argument> ...``; only ``<Class>:
<argument> ...`` was located)."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, build_check
from automl_mm.engine.preflight_model_args import located_value_error
from automl_mm.engine.preflight_runner_args import check_runner_arguments
from tests.test_engine._preflight_configs import BASELINE


@pytest.mark.parametrize('seed', ['abc', -1, 2 ** 32, 1.5, True])
def test_a_seed_that_is_no_int_in_numpy_s_range_is_refused_naming_the_key(seed):
    cfg = Config.fromfile(BASELINE)
    cfg.randomness = dict(seed=seed)
    with pytest.raises(ConfigCheckError, match=r"^randomness\.seed must be (a non-negative int|an int in "
                                                 r"\[0, 2\*\*32\)), got "):
        check_runner_arguments(cfg, 'automl_mm')


@pytest.mark.parametrize('seed', [None, 0, 2 ** 32 - 1])
def test_the_seeds_mmengine_takes_pass(seed):
    cfg = Config.fromfile(BASELINE)
    cfg.randomness = dict(seed=seed)
    check_runner_arguments(cfg, 'automl_mm')


@pytest.mark.parametrize('option, match', [
    ({'model.backbone.channels': 32},
     r"^model\.backbone\.channels: SimpleConvNet: channels must be a sequence of stage widths, got 32$"),
    ({'model.head.num_classes': 'ten'},
     r"^model\.head\.num_classes: LinearClsHead num_classes must be an int >= 2, got 'ten'$"),
    ({'model.backbone.channels': [8, 0]},
     r"^model\.backbone\.channels: SimpleConvNet channels\[1\] must be an int >= 1, got 0$"),
])
def test_a_model_value_of_the_wrong_type_is_named_by_its_key(option, match):
    cfg = Config.fromfile(BASELINE)
    cfg.merge_from_dict(option)
    with pytest.raises(ValueError, match=match):
        build_check(cfg)


@pytest.mark.parametrize('backbone, match', [
    (dict(type='ResNet', depth=18, stage_blocks=2),
     r"^model\.backbone\.stage_blocks: ResNet: stage_blocks must be a sequence of block counts, got 2$"),
    (dict(type='ResNet', depth=18, out_indices=3),
     r"^model\.backbone\.out_indices: ResNet out_indices must be a sequence of output indices, got 3$"),
])
def test_a_resnet_value_of_the_wrong_type_is_named_by_its_key(backbone, match):
    cfg = Config.fromfile(BASELINE)
    cfg.model.backbone = backbone
    cfg.model.head.in_channels = 512
    with pytest.raises(ValueError, match=match):
        build_check(cfg)


def test_a_message_of_another_class_or_argument_is_not_pinned_on_the_model():
    model = dict(type='ImageClassifier', backbone=dict(type='SimpleConvNet', channels=(8, 16)),
                 head=dict(type='LinearClsHead', num_classes=10, in_channels=16))
    assert located_value_error(ValueError('LinearClsHead topk must be ...'), model, 'automl_mm') is None
    assert located_value_error(ValueError('SimpleConvNet needs at least one stage'), model, 'automl_mm') is None
    assert located_value_error(ValueError('Other num_classes must be ...'), model, 'automl_mm') is None
