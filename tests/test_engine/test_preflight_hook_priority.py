"""A hook entry's ``priority``: mmengine's ``Runner.register_hook`` pops it before it builds the hook, so every hook
takes it (mmdet's rtmdet / yolox / ssd / yolact configs set it on ``EMAHook``, ``YOLOXModeSwitchHook``,
``CheckInvalidLossHook``). The argument checks refused those configs: 'ExpMomentumEMA takes no argument
'priority''."""
from __future__ import annotations

import os.path as osp

import mmdet
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, build_check
from automl_mm.engine.preflight_runner_args import check_runner_arguments

from conftest import synthcoco_detector_cfg

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


@pytest.mark.parametrize('name', ['rtmdet/rtmdet_tiny_8xb32-300e_coco.py', 'yolox/yolox_s_8xb8-300e_coco.py',
                                  'ssd/ssd300_coco.py', 'yolact/yolact_r50_1xb8-55e_coco.py'])
def test_mmdets_hooks_with_a_priority_pass(name):
    cfg = Config.fromfile(osp.join(MMDET_CONFIGS, name))
    assert any('priority' in hook for hook in cfg.custom_hooks)
    check_runner_arguments(cfg, cfg.default_scope)


def test_an_unknown_argument_beside_priority_is_still_refused():
    cfg = Config.fromfile(osp.join(MMDET_CONFIGS, 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py'))
    cfg.custom_hooks[0]['momentun'] = 0.1
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\]\.momentun: '):
        check_runner_arguments(cfg, cfg.default_scope)


def test_build_check_builds_a_hook_with_a_priority(coco_root):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.custom_hooks = [dict(type='EMAHook', priority=49), dict(type='EmptyCacheHook', priority='LOW')]
    cfg.default_hooks.timer = dict(type='IterTimerHook', priority='NORMAL')
    build_check(cfg)
