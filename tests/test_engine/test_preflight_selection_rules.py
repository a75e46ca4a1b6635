"""Choosers of the validation metric left without a ``rule`` read a direction the key does not have: mmengine's
``CheckpointHook`` / ``EarlyStoppingHook`` infer it by substrings (``save_best='error/top1'`` contains ``top``, so the
checkpoint of the highest error was kept), and ``ReduceOnPlateauLR`` defaults to ``rule='less'`` (on
``monitor='accuracy/top1'`` it cut the lr whenever the accuracy did not fall). ``check_config`` refuses them, naming
the key and the rule to set; a given rule, or a key both read alike, passes."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.hooks import CheckpointHook, EarlyStoppingHook

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.utils.metric_rule import mmengine_rule

from conftest import REPO_ROOT

BASELINE = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _error_cfg() -> Config:
    """The digits baseline validated on the reward split, its accuracy reported as ``error/top1``."""
    cfg = Config.fromfile(BASELINE)
    cfg.val_dataloader = cfg.reward_dataloader
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, ), prefix='error')
    return cfg


@pytest.mark.parametrize('key', ['error/top1', 'accuracy/top1', 'loss', 'coco/bbox_mAP', 'top1_err', 'mAP_loss'])
def test_mmengine_rule_is_what_the_mmengine_hooks_infer(key):
    expected = CheckpointHook(interval=1, save_best=key).rules[0]
    assert mmengine_rule(key) == expected == EarlyStoppingHook(monitor=key).rule
    assert mmengine_rule('log_likelihood/mean') is None  # mmengine refuses it when the hook is built


def test_save_best_and_early_stopping_on_an_error_without_rule_are_refused():
    cfg = _error_cfg()
    cfg.default_hooks.checkpoint.save_best = 'error/top1'
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='error/top1' has no rule.*as if "
                                               r"a higher error/top1 were better.*set default_hooks\.checkpoint\."
                                               r"rule='less'"):
        check_config(cfg)
    cfg.default_hooks.checkpoint.rule = 'less'
    check_config(cfg)
    cfg.custom_hooks = [dict(type='EarlyStoppingHook', monitor='error/top1', patience=3)]
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.monitor='error/top1'.*custom_hooks\[0\]\.rule="
                                               r"'less'"):
        check_config(cfg)
    cfg.custom_hooks[0].rule = 'less'
    check_config(cfg)


def test_a_plateau_scheduler_on_an_accuracy_without_rule_is_refused():
    cfg = Config.fromfile(BASELINE)
    cfg.val_dataloader = cfg.reward_dataloader
    cfg.param_scheduler = [dict(type='ReduceOnPlateauLR', monitor='accuracy/top1', patience=2, by_epoch=True)]
    with pytest.raises(ConfigCheckError, match=r"param_scheduler\.0\.monitor='accuracy/top1' has no rule.*as if a "
                                               r"lower accuracy/top1 were better.*param_scheduler\.0\.rule='greater'"):
        check_config(cfg)
    cfg.param_scheduler[0].rule = 'greater'
    check_config(cfg)
    cfg.param_scheduler = [dict(type='ReduceOnPlateauLR', monitor='loss', patience=2, by_epoch=True)]
    check_config(cfg)  # mmengine's default pair: a loss, lower is better


def test_keys_read_alike_pass():
    cfg = Config.fromfile(BASELINE)
    cfg.val_dataloader = cfg.reward_dataloader
    cfg.default_hooks.checkpoint.save_best = ['accuracy/top1']
    cfg.custom_hooks = [dict(type='EarlyStoppingHook', monitor='accuracy/top1')]
    check_config(cfg)
