"""``build_check`` (tools/train.py's check before it starts local copies) of a config whose hooks draw: mmdet's
``DetVisualizationHook`` takes the current visualizer when built, which only a runner creates, and the check stopped
an OHL detection config with it (``--cfg-options default_hooks.visualization.type=DetVisualizationHook``, or a
config on mmdet's ``default_runtime``) with mmengine's "Before calling Visualizer.get_current_instance(), you
should call get_instance(name=xxx) at least once", naming nothing."""
from __future__ import annotations

from collections import OrderedDict

from mmengine.visualization import Visualizer

from automl_mm.engine.preflight import build_check

from conftest import synthcoco_detector_cfg


def test_a_detection_config_with_mmdets_visualization_hook_is_checked(coco_root, monkeypatch):
    monkeypatch.setattr(Visualizer, '_instance_dict', OrderedDict())  # a fresh process: no runner made one yet
    cfg = synthcoco_detector_cfg(coco_root)
    assert cfg.default_hooks.visualization.type == 'DetVisualizationHook'  # mmdet's default_runtime
    build_check(cfg)
    assert not Visualizer._instance_dict  # the check's own is gone: the runner's is the current one


def test_an_existing_visualizer_is_left_as_it_is(coco_root, monkeypatch):
    monkeypatch.setattr(Visualizer, '_instance_dict', OrderedDict())
    mine = Visualizer.get_instance('mine')
    build_check(synthcoco_detector_cfg(coco_root))
    assert list(Visualizer._instance_dict) == ['mine'] and Visualizer.get_current_instance() is mine
