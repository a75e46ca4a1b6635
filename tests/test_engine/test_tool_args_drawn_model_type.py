"""``--show`` / ``--show-dir`` (:func:`automl_mm.engine.tool_args.enable_drawing`) on a config whose ``model`` cannot
be resolved says what is wrong with the model before it says the model is no mmdet detector.

Input that showed the fault: ``tools/test.py CONFIG CKPT --show-dir vis`` with ``model.type='FasterRCNNN'`` (a typo,
``default_scope='mmdet'``) was refused with "its model (FasterRCNNN) is no mmdet detector, for which tools/test.py
would add mmdet's DetVisualizationHook (automl_mm's classifiers have no drawing hook)": the advice was to leave the
option out; ``model='FasterRCNN'`` (a string) stopped in ``AttributeError: 'str' object has no attribute 'get'``."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.engine.tool_args import enable_drawing


@pytest.mark.parametrize('model, refusal', [
    (dict(type='FasterRCNNN'), r"^model\.type='FasterRCNNN' is not a registered model in scope 'mmdet' "
                               r"\(did you mean 'FasterRCNN'\?\)$"),
    (dict(type=123), r"^model\.type=123 is not a registered model in scope 'mmdet'"),
    (dict(backbone=dict(type='ResNet')), r"^model has no 'type' \(it sets: backbone\)"),
    ('FasterRCNN', r"^model='FasterRCNN' is no config dict"),
], ids=['misspelled', 'not_a_name', 'untyped', 'not_a_dict'])
def test_a_model_that_cannot_be_resolved_is_named_first(model, refusal):
    cfg = Config(dict(default_scope='mmdet', model=model, default_hooks={}))
    with pytest.raises(ConfigCheckError, match=refusal):
        enable_drawing(cfg, 'vis')


def test_a_resolved_model_that_is_no_detector_is_still_refused_as_such():
    cfg = Config(dict(default_scope='automl_mm', model=dict(type='ImageClassifier'), default_hooks={}))
    with pytest.raises(ConfigCheckError, match=r"its model \(ImageClassifier\) is no mmdet detector"):
        enable_drawing(cfg, 'vis')


def test_a_model_is_not_resolved_where_the_config_draws_without_it(tmp_path):
    """A visualization hook and a drawing visualizer: the model's type is the runner's to judge."""
    cfg = Config(dict(default_scope='mmdet', model='anything', visualizer=dict(type='DetLocalVisualizer'),
                      default_hooks=dict(visualization=dict(type='DetVisualizationHook'))))
    enable_drawing(cfg, str(tmp_path))
    assert cfg.default_hooks.visualization.draw is True
