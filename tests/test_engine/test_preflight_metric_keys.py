"""A key that no metric reports fails at start, naming it and what the metric does report: an OHL hook's
``reward_key``, a NAS loop's ``train_cfg.metric_key`` (also under mmengine's ``Evaluator`` dict) and a
checkpoint's ``save_best``."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config, metric_keys
from tests.test_engine._preflight_configs import BASELINE, OHL, PC_NAS


def test_metric_keys_of_accuracy_and_coco_metric():
    assert metric_keys(dict(type='Accuracy', topk=(1, 5))) == {'accuracy/top1', 'accuracy/top5'}
    assert 'coco/bbox_mAP' in metric_keys(dict(type='mmdet.CocoMetric', metric='bbox'))
    assert metric_keys(dict(type='automl_mm.UnroundedCocoMetric', metric='segm', metric_items=['mAP_s'])) == \
        {'coco/segm_mAP_s'}
    assert metric_keys(dict(type='MyOwnMetric')) is None  # unknown: not checked


def test_a_log_likelihood_reward_key_the_metric_does_not_report_fails_at_start():
    """LogLikelihood's keys were unknown to the check: reward_key='log_likelihood/top1' stopped the run with a
    KeyError at the first trunk end, after training up to it. It reports '{prefix}/mean' only
    (tests/test_evaluation/test_accuracy.py)."""
    from automl_mm.evaluation import LogLikelihood

    assert metric_keys(dict(type='LogLikelihood')) == {f'{LogLikelihood().prefix}/mean'} == {'log_likelihood/mean'}
    assert metric_keys(dict(type='automl_mm.LogLikelihood', prefix='ll')) == {'ll/mean'}
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_evaluator = dict(type='LogLikelihood')
    cfg.custom_hooks[0].reward_key = 'log_likelihood/mean'
    check_config(cfg)
    cfg.custom_hooks[0].reward_key = 'log_likelihood/top1'
    with pytest.raises(ConfigCheckError, match=r"reward_key='log_likelihood/top1' is not reported by "
                                               r"custom_hooks\[0\]\.reward_evaluator, which reports "
                                               r"\['log_likelihood/mean'\]"):
        check_config(cfg)


def test_a_classwise_coco_metrics_per_class_key_is_not_refused():
    """mmdet's CocoMetric(classwise=True) also reports '{prefix}/<class name>_precision' (the class's AP,
    tests/test_evaluation: test_classwise_values_are_each_classes_own_ap_unrounded): a reward_key on one class was
    refused at start as not reported."""
    from automl_mm.engine.preflight_metrics import check_metric_key

    metric = dict(type='mmdet.CocoMetric', metric='bbox', classwise=True)
    check_metric_key('coco/person_precision', 'custom_hooks[0].reward_key', metric, 'reward_evaluator')
    check_metric_key('det/person_precision', 'save_best', [dict(metric, prefix='det')], 'val_evaluator')
    with pytest.raises(ConfigCheckError, match=r"reward_key='coco/person_precision' is not reported"):
        check_metric_key('coco/person_precision', 'reward_key', dict(metric, classwise=False), 'reward_evaluator')


def test_a_classwise_coco_metrics_other_keys_are_still_checked():
    """With classwise=True every key of the metric was taken as unknown: a misspelt reward_key='coco/bbox_mAp' (or a
    per-class key of another prefix) passed the start-of-run check and stopped the run with a KeyError at the first
    reading, after training up to it. Only '{prefix}/<class name>_precision' is open; the bbox keys are mmdet's."""
    from automl_mm.engine.preflight_metrics import check_metric_key

    metric = dict(type='mmdet.CocoMetric', metric='bbox', classwise=True)
    check_metric_key('coco/bbox_mAP_50', 'reward_key', metric, 'reward_evaluator')
    for key in ('coco/bbox_mAp', 'det/person_precision', 'coco/_precision', 'coco/person_recall'):
        with pytest.raises(ConfigCheckError, match=rf"reward_key='{key}' is not reported by reward_evaluator, which "
                                                   r"reports \['coco/bbox_mAP', .*\] and a 'coco/<class "
                                                   r"name>_precision' per class \(classwise=True\)"):
            check_metric_key(key, 'reward_key', metric, 'reward_evaluator')
    check_metric_key('coco/bbox_mAp', 'reward_key', [metric, dict(type='MyOwnMetric')], 'reward_evaluator')


def test_two_classwise_coco_metrics_of_one_prefix_are_still_refused_as_a_clash():
    """Their per-class keys are unknown before the dataset is built, but their bbox keys are known: two of one
    prefix report 'coco/bbox_mAP' twice, which the held-out evaluation refuses only once computed."""
    from automl_mm.engine.preflight_evaluators import check_metric_clash

    metric = dict(type='mmdet.CocoMetric', metric='bbox', classwise=True)
    with pytest.raises(ConfigCheckError, match=r"reward_evaluator\[0\] and reward_evaluator\[1\] both report "
                                               r"'coco/bbox_mAP'"):
        check_metric_clash([metric, dict(metric, metric_items=['mAP'])], 'reward_evaluator')
    check_metric_clash([metric, dict(metric, prefix='other')], 'reward_evaluator')


def test_ohl_reward_key_the_metric_does_not_produce_fails_at_start():
    cfg = Config.fromfile(OHL)
    check_config(cfg)  # the shipped config passes
    cfg.custom_hooks[0].reward_key = 'accuracy/top3'
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='accuracy/top3' is not reported by "
                                               r".*\['accuracy/top1'"):
        check_config(cfg)


def test_a_key_checked_through_mmengines_evaluator_dict_too():
    """``dict(type='Evaluator', metrics=[...])`` skipped the reward_key / metric_key check (a wrong key failed
    only at the first trunk end or search step)."""
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_key = 'accuracy/top3'
    cfg.custom_hooks[0].reward_evaluator = dict(type='Evaluator', metrics=[dict(type='Accuracy', topk=(1, ))])
    with pytest.raises(ConfigCheckError, match=r"reward_key='accuracy/top3' is not reported by "
                                               r"custom_hooks\[0\]\.reward_evaluator"):
        check_config(cfg)
    nas = Config.fromfile(PC_NAS)
    nas.train_cfg.metric_key = 'top1'
    nas.train_cfg.search_evaluator = dict(metrics=dict(type='Accuracy', topk=(1, )))
    with pytest.raises(ConfigCheckError, match=r"train_cfg.metric_key='top1' is not reported"):
        check_config(nas)


def test_nas_metric_key_the_metric_does_not_produce_fails_at_start():
    cfg = Config.fromfile(PC_NAS)
    check_config(cfg)
    cfg.train_cfg.metric_key = 'top1'
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.metric_key='top1'.*train_cfg\.search_evaluator"):
        check_config(cfg)


def test_a_checkpoint_save_best_key_the_val_metric_does_not_report_fails_at_start():
    # mmengine looked the key up after the first validation: KeyError, after training up to it
    cfg = Config.fromfile(BASELINE)
    for good in ('accuracy/top1', 'auto', ['accuracy/top5']):
        cfg.default_hooks.checkpoint.save_best = good
        check_config(cfg)
    cfg.default_hooks.checkpoint.save_best = ['accuracy/top1', 'acc/top1']
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='acc/top1' is not reported by "
                                               r"val_evaluator, which reports \['accuracy/top1', 'accuracy/top5'\]"):
        check_config(cfg)
