"""``Accuracy`` top-k above the model's class count: a constant 100 %, refused before training where a search
reads it."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

BASELINE = f'{REPO_ROOT}/configs/baselines/baseline_convnet_1x1_30e_digits.py'
OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'
PC_NAS = f'{REPO_ROOT}/configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py'


def test_a_val_topk_above_the_heads_classes_only_warns(monkeypatch):
    """A val metric that reports top-11 of 10 classes is harmless (100 %, as a 4-class image folder under the
    shipped topk=(1, 5)): it runs, with a warning naming both keys."""
    import automl_mm.engine.preflight_classes as module

    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    cfg = Config.fromfile(BASELINE)
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, 11))
    check_config(cfg)
    assert any('val_evaluator.topk=(1, 11) but model.head.num_classes=10: a top-11 of 10 classes' in m
               for m in logged)


def test_an_ohl_reward_on_a_topk_above_the_classes_is_refused():
    """A reward on ``accuracy/top11`` of 10 classes read 100 for every copy: every advantage 0, theta never moved."""
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_evaluator = dict(type='Accuracy', topk=11)
    cfg.custom_hooks[0].reward_key = 'accuracy/top11'
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\].reward_evaluator.topk=11 but '
                                               r'model.head.num_classes=10'):
        check_config(cfg)


def test_a_search_on_a_topk_above_the_classes_is_refused():
    cfg = Config.fromfile(PC_NAS)
    cfg.train_cfg.search_evaluator = dict(type='Accuracy', topk=(1, 11))
    with pytest.raises(ConfigCheckError, match=r'train_cfg.search_evaluator.topk=\(1, 11\) but '
                                               r'model.*num_classes=10.*which no search can follow'):
        check_config(cfg)


def test_a_search_key_above_the_classes_is_refused_when_the_search_reads_val_evaluator():
    """Without a reward / search evaluator a search scores with val_evaluator (the shipped OHL config does), whose
    top-k above the class count only got the val warning: reward_key='accuracy/top11' of 10 classes read a constant
    100 for every copy (Accuracy's top-11 of 10 classes). The search's key is refused naming both keys; the val
    metric's own top-11 beside a top-1 key still only warns."""
    cfg = Config.fromfile(OHL)
    assert not cfg.custom_hooks[0].get('reward_evaluator') and not cfg.get('reward_evaluator')
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, 11))
    check_config(cfg)  # reward_key='accuracy/top1'
    cfg.custom_hooks[0].reward_key = 'accuracy/top11'
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='accuracy/top11' is the top-11 "
                                               r"accuracy of val_evaluator \(topk=\(1, 11\)\) but "
                                               r"model\.head\.num_classes=10"):
        check_config(cfg)
    nas = Config.fromfile(PC_NAS)
    for key in ('search_evaluator', 'reward_evaluator'):
        nas.pop(key, None)
    nas.train_cfg.pop('search_evaluator', None)
    nas.val_evaluator = dict(type='Accuracy', topk=(1, 11), prefix='val')
    nas.train_cfg.metric_key = 'val/top11'
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.metric_key='val/top11' is the top-11 accuracy of "
                                               r"val_evaluator"):
        check_config(nas)


def test_a_val_topk_shared_with_test_evaluator_is_warned_of_once_naming_both(monkeypatch):
    """The shipped ``test_evaluator = val_evaluator`` (topk=(1, 5)) over a 4-class head is one metric config: it
    was warned of twice, once per split with the same words. It is said once naming both keys; a reward evaluator
    refused after them still gets the warning said first."""
    import automl_mm.engine.preflight_classes as module
    from automl_mm.engine.preflight_classes import check_accuracy_topk

    logged = []
    monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    cfg = Config.fromfile(BASELINE)
    assert cfg.test_evaluator == cfg.val_evaluator == dict(type='Accuracy', topk=(1, 5))
    cfg.model.head.num_classes = 4
    check_accuracy_topk(cfg, test_only=False)
    assert logged == ['val_evaluator.topk and test_evaluator.topk=(1, 5) but model.head.num_classes=4: a top-5 of 4 '
                      'classes counts every image as correct (a constant 100 %); it is reported as such'], logged
    logged.clear()
    check_accuracy_topk(cfg, test_only=True)  # the test split alone: its key alone, as before
    assert logged == ['test_evaluator.topk=(1, 5) but model.head.num_classes=4: a top-5 of 4 classes counts every '
                      'image as correct (a constant 100 %); it is reported as such'], logged
    logged.clear()
    cfg.test_evaluator = dict(type='Accuracy', topk=(1, 6))  # another metric config: its own warning
    cfg.custom_hooks = [dict(type='OHLHook', reward_evaluator=dict(type='Accuracy', topk=5))]
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\]\.reward_evaluator\.topk=5 but '):
        check_accuracy_topk(cfg, test_only=False)
    assert [m.split(' but ')[0] for m in logged] == ['val_evaluator.topk=(1, 5)', 'test_evaluator.topk=(1, 6)'], logged
