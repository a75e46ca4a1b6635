"""A metric key written without its metric's prefix got the list of reported keys but no hint.

Input that showed the fault (a new user's trial of the README):
``configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py`` with ``--cfg-options custom_hooks.0.reward_key=top1``
stopped with ``custom_hooks[0].reward_key='top1' is not reported by val_evaluator, which reports ['accuracy/top1',
'accuracy/top5']``; mmdet 2.x's ``bbox_mAP`` (mmdet 3 reports ``coco/bbox_mAP``) likewise. The refusal now ends
with the reported key meant: the one whose name after its prefix is the key, else one equal but for case, else the
closest spelling (``difflib``), and none where no key is close.
"""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight_metrics import check_metric_key
from automl_mm.engine.preflight_walk import ConfigCheckError

ACCURACY = dict(type='Accuracy', topk=(1, 5))
COCO = dict(type='CocoMetric', metric='bbox', ann_file='x.json')


@pytest.mark.parametrize('key, evaluator, scope, meant', [
    ('top1', ACCURACY, 'automl_mm', 'accuracy/top1'),
    ('accuracy/top_1', ACCURACY, 'automl_mm', 'accuracy/top1'),
    ('bbox_mAP', COCO, 'mmdet', 'coco/bbox_mAP'),
    ('coco/bbox_map', COCO, 'mmdet', 'coco/bbox_mAP'),
])
def test_the_refusal_names_the_reported_key_meant(key, evaluator, scope, meant):
    with pytest.raises(ConfigCheckError) as info:
        check_metric_key(key, 'custom_hooks[0].reward_key', evaluator, 'val_evaluator', scope=scope)
    message = str(info.value)
    assert message.startswith(f"custom_hooks[0].reward_key={key!r} is not reported by val_evaluator, which "
                              "reports ["), message
    assert message.endswith(f"; did you mean custom_hooks[0].reward_key={meant!r}?"), message


def test_no_hint_where_no_reported_key_is_close():
    with pytest.raises(ConfigCheckError) as info:
        check_metric_key('loss', 'train_cfg.metric_key', ACCURACY, 'train_cfg.search_evaluator', scope='automl_mm')
    assert str(info.value) == ("train_cfg.metric_key='loss' is not reported by train_cfg.search_evaluator, which "
                               "reports ['accuracy/top1', 'accuracy/top5']"), info.value


def test_a_reported_key_passes():
    check_metric_key('accuracy/top1', 'custom_hooks[0].reward_key', ACCURACY, 'val_evaluator', scope='automl_mm')
