"""Evaluator configs that failed or scored wrongly only at their first evaluation.

* Two metrics reporting one key (``reward_evaluator=[Accuracy(topk=1), Accuracy(topk=(1, 5))]``): the OHL run
  stopped after its first trunk had trained ("two metrics of the evaluator report 'accuracy/top1'"); refused by
  ``check_config`` naming both entries.
* mmdet's ``MultiDatasetsEvaluator`` as the OHL reward / NAS search evaluator: the rank-local scoring computed its
  metrics over the whole split with plain keys, so ``reward_key='accuracy/top1'`` was rewarded silently (the
  evaluator reports ``a/accuracy/top1`` on dataset ``a``); refused by ``check_config`` and by
  ``HeldOutEvaluator.build`` before the first iteration. As ``val_evaluator`` (scored by mmengine) its prefixed key
  is no longer refused as ``save_best``.
"""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import REPO_ROOT, tiny_ohl_cfg

MULTI = dict(type='MultiDatasetsEvaluator', metrics=[dict(type='Accuracy', topk=(1, ))], dataset_prefixes=['a'])
TWICE = [dict(type='Accuracy', topk=(1, )), dict(type='Accuracy', topk=(1, 5))]


def test_two_reward_metrics_of_one_key_are_refused_at_start(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.reward_evaluator = TWICE
    with pytest.raises(ConfigCheckError, match=r"^reward_evaluator\[0\] and reward_evaluator\[1\] both report "
                                               r"'accuracy/top1'"):
        check_config(cfg)
    cfg.reward_evaluator = [TWICE[0], dict(TWICE[1], prefix='top5')]
    check_config(cfg)


def test_two_val_metrics_of_one_key_are_refused_at_start():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'))
    cfg.val_evaluator = dict(type='Evaluator', metrics=TWICE)
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator\[0\] and val_evaluator\[1\] both report "
                                               r"'accuracy/top1'"):
        check_config(cfg)


def test_an_evaluator_with_its_own_evaluate_is_refused_as_the_reward_at_start(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.reward_evaluator = MULTI
    with pytest.raises(ConfigCheckError, match=r'^reward_evaluator is a MultiDatasetsEvaluator, which computes its '
                                               r'results in its own evaluate\(\)'):
        check_config(cfg)


def test_an_evaluator_with_its_own_evaluate_is_refused_as_the_search_evaluator_at_start(tmp_path):
    from test_nas.test_pc_nas_loop import _cfg

    cfg = _cfg(str(tmp_path / 'work'))
    cfg.train_cfg.search_evaluator = MULTI
    with pytest.raises(ConfigCheckError, match=r'^train_cfg\.search_evaluator is a MultiDatasetsEvaluator'):
        check_config(cfg)


def test_the_ohl_reward_refuses_it_before_the_first_iteration(tmp_path, monkeypatch):
    """The hook's own check (a runner built without ``check_config``)."""
    from mmengine.runner import EpochBasedTrainLoop

    from automl_mm.registry import RUNNERS

    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.reward_evaluator = MULTI
    def run_epoch(self):
        raise AssertionError('trained')

    monkeypatch.setattr(EpochBasedTrainLoop, 'run_epoch', run_epoch)
    with pytest.raises(ValueError, match=r'^reward_evaluator is a MultiDatasetsEvaluator'):
        RUNNERS.build(cfg).train()


def test_its_prefixed_key_is_accepted_as_save_best():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'))
    cfg.val_evaluator = MULTI
    cfg.default_hooks.checkpoint.save_best = 'a/accuracy/top1'
    check_config(cfg)
