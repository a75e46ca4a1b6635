"""``Accuracy`` top-k above the model's class count: a constant 100 %, refused before training and when computed."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.evaluation import Accuracy

from conftest import REPO_ROOT

BASELINE = f'{REPO_ROOT}/configs/baselines/baseline_convnet_1x1_30e_digits.py'
OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'


def test_a_topk_above_the_heads_classes_is_refused_naming_both_keys():
    cfg = Config.fromfile(BASELINE)
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, 11))
    with pytest.raises(ConfigCheckError, match=r'val_evaluator.topk=\(1, 11\) but model.head.num_classes=10: a '
                                               r'top-11 of 10 classes counts every image as correct'):
        check_config(cfg)
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, 10))  # k = C: allowed (mmpretrain's rule)
    check_config(cfg)


def test_an_ohl_reward_on_a_topk_above_the_classes_is_refused():
    """A reward on ``accuracy/top11`` of 10 classes read 100 for every copy: every advantage 0, theta never moved."""
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_evaluator = dict(type='Accuracy', topk=11)
    cfg.custom_hooks[0].reward_key = 'accuracy/top11'
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\].reward_evaluator.topk=11 but '
                                               r'model.head.num_classes=10'):
        check_config(cfg)


def test_accuracy_refuses_a_topk_above_the_scored_classes():
    metric = Accuracy(topk=(1, 5))
    results = [{'pred_score': torch.tensor([0.2, 0.5, 0.3]), 'gt_label': torch.tensor(0)}]
    with pytest.raises(ValueError, match=r'topk=\(1, 5\) but the predictions score 3 classes'):
        metric.compute_metrics(results)
    assert Accuracy(topk=(1, 3)).compute_metrics(results) == {'top1': 0.0, 'top3': 100.0}
