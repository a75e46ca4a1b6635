"""A hook's ``priority`` value that mmengine's ``get_priority`` cannot read: ``Runner.register_hook`` stopped the
runner's build in every worker (``KeyError: 'ABOVE_NORMALL'``, "priority must be between 0 and 100", a
``TypeError`` for a float), naming no config key; the checks passed it."""
from __future__ import annotations

import glob
import os.path as osp

import mmdet
import pytest
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Priority

from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.preflight_runner_args import check_runner_arguments
from automl_mm.registry import HOOKS

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
# mmdet's configs that set a priority themselves (but one bytetrack config, which does not load in mmdet either,
# and those that import mmpretrain, which is not installed)
SETS_PRIORITY = sorted(osp.relpath(p, MMDET_CONFIGS) for p in glob.glob(osp.join(MMDET_CONFIGS, '*', '*.py'))
                       if 'priority' in open(p).read() and 'mmpretrain' not in open(p).read() and
                       'mot17halftrain_test-mot17test' not in p)


def _cfg(**priority) -> Config:
    return Config(dict(custom_hooks=[dict(type='EmptyCacheHook'), dict(type='EMAHook', **priority)],
                       default_hooks=dict(timer=dict(type='IterTimerHook'))))


@pytest.mark.parametrize('value, why', [
    ('ABOVE_NORMALL', r"custom_hooks\[1\]\.priority='ABOVE_NORMALL' is no Priority name"),
    (200, r'custom_hooks\[1\]\.priority=200 is out of range'),
    (-1, r'custom_hooks\[1\]\.priority=-1 is out of range'),
    (49.5, r'custom_hooks\[1\]\.priority=49\.5 is a float'),
    (True, r'custom_hooks\[1\]\.priority=True is a bool'),
    ([40], r'custom_hooks\[1\]\.priority=\[40\] is a list'),
])
def test_an_unreadable_priority_is_refused_naming_the_key(value, why):
    with pytest.raises(ConfigCheckError, match=why + r'.*HIGHEST \(0\), VERY_HIGH \(10\)') as err:
        check_runner_arguments(_cfg(priority=value), 'automl_mm')
    assert ("did you mean 'ABOVE_NORMAL'?" in str(err.value)) == (value == 'ABOVE_NORMALL')


def test_a_default_hooks_priority_is_checked_too():
    cfg = _cfg()
    cfg.default_hooks.timer.priority = 'NORMAL '
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.timer\.priority='NORMAL ' is no Priority name"):
        check_runner_arguments(cfg, 'automl_mm')


@pytest.mark.parametrize('value', [0, 49, 100, 'ABOVE_NORMAL', 'very_low', 'Lowest', Priority.HIGH, None])
def test_a_readable_priority_passes(value):
    check_runner_arguments(_cfg(priority=value), 'automl_mm')


def test_a_hook_classes_own_priority_is_checked():
    @HOOKS.register_module(force=True)
    class _PriorityTypoHook(Hook):
        priority = 'NORMALL'

    cfg = Config(dict(custom_hooks=[dict(type='_PriorityTypoHook')]))
    try:
        with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\] \(_PriorityTypoHook\.priority, the class "
                                                   r"default\)='NORMALL' is no Priority name"):
            check_runner_arguments(cfg, 'automl_mm')
        cfg.custom_hooks[0].priority = 'LOW'  # the config's own replaces it
        check_runner_arguments(cfg, 'automl_mm')
    finally:
        HOOKS.module_dict.pop('_PriorityTypoHook')


def test_the_mmdet_configs_are_found():
    assert len(SETS_PRIORITY) >= 12


@pytest.mark.parametrize('name', SETS_PRIORITY)
def test_mmdets_configs_that_set_a_priority_pass(name):
    cfg = Config.fromfile(osp.join(MMDET_CONFIGS, name))
    check_runner_arguments(cfg, cfg.default_scope)
