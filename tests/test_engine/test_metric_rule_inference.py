"""Which metrics are lower-is-better (:func:`automl_mm.utils.metric_rule.infer_rule`): mmengine's
``CheckpointHook`` rule inference, plus well-known error / distance names; a key matching nothing stays 'greater'
(the search's behaviour before the rule existed)."""
from __future__ import annotations

import pytest

from automl_mm.utils.metric_rule import infer_rule, resolve_rule


@pytest.mark.parametrize('key', ['loss', 'loss/mean', 'val/loss_cls', 'MAE', 'mse', 'rmse', 'EPE', 'NME', 'nll',
                                 'FID-Full-50k/fid', 'wer', 'cer', 'error', 'top1_error', 'LPIPS'])
def test_lower_is_better_names(key):
    assert infer_rule(key) == 'less'


@pytest.mark.parametrize('key', ['accuracy/top1', 'accuracy/top5', 'coco/bbox_mAP', 'log_likelihood/mean', 'acc',
                                 'mIoU', 'AUC', 'PCK', 'PSNR', 'precision', 'recog/word_acc', 'score'])
def test_higher_is_better_and_unknown_names(key):
    assert infer_rule(key) == 'greater'


def test_an_explicit_rule_wins_and_a_bad_one_names_both_keys():
    assert resolve_rule('greater', 'loss', 'r', 'k') == 'greater'
    with pytest.raises(ValueError, match=r"train_cfg\.metric_rule must be .* got 'max' for "
                                         r"train_cfg\.metric_key='loss'"):
        resolve_rule('max', 'loss', 'train_cfg.metric_rule', 'train_cfg.metric_key')


def test_the_config_check_refuses_a_bad_rule_before_the_run():
    from mmengine.config import Config

    from automl_mm.engine.preflight import ConfigCheckError, check_config
    from tests.test_engine._preflight_configs import OHL, PC_NAS

    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_rule = 'lower'
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_rule must be .* got 'lower' for "
                                               r"custom_hooks\[0\]\.reward_key='accuracy/top1'"):
        check_config(cfg)
    nas = Config.fromfile(PC_NAS)
    nas.train_cfg.metric_rule = 'min'
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.metric_rule must be .* got 'min'"):
        check_config(nas)


@pytest.mark.parametrize('key', ['coco/loss_precision', 'coco/error_precision', 'lvis/mse_precision',
                                 'coco/traffic light_precision', 'coco/loss_AP'])
def test_a_per_class_precision_of_a_class_named_like_a_loss_is_greater(key):
    """mmdet's ``CocoMetric(classwise=True)`` reports class ``name``'s AP as ``f'coco/{name}_precision'``; the
    class name ('loss', 'error', 'mse') is not the metric's name: OHL picking the copy of the lowest AP would pick
    the worst copy."""
    from automl_mm.ohl.reward import RewardScorer

    assert infer_rule(key) == 'greater'
    scorer = RewardScorer(key)
    assert (scorer.rule, scorer.sign) == ('greater', 1.0)
    # the NAS loops' train_cfg.metric_rule=None resolves the same way (SearchLoopBase: resolve_rule)
    assert resolve_rule(None, key, 'train_cfg.metric_rule', 'train_cfg.metric_key') == 'greater'


@pytest.mark.parametrize('key', ['loss', 'val/loss_cls', 'mAP_loss', 'coco/precision_loss', 'top1_error'])
def test_a_real_loss_key_stays_less(key):
    from automl_mm.ohl.reward import RewardScorer

    assert infer_rule(key) == 'less'
    assert RewardScorer(key).rule == 'less'
