"""``default_hooks.checkpoint.save_best='auto'`` (mmengine's CheckpointHook: the first key of the validation's
metrics) over ``UnroundedCocoMetric(classwise=True)`` selected the best checkpoint by one class's AP, silently:
like mmdet's CocoMetric (whose case the rounding warning already names), it reports each class's AP before
bbox_mAP. Now warned, naming the key and the one to give."""
from __future__ import annotations

import logging

import pytest
from mmengine.config import Config

from automl_mm.engine import preflight_metrics
from automl_mm.engine.preflight_metric_order import _PROBE_COCO, _process_exact_boxes, _run_probe


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(preflight_metrics, 'print_log', lambda msg, logger=None, level=None: messages.append(
        (msg, level)))
    return messages


@pytest.mark.parametrize('kind', ['mmdet', 'unrounded'])
def test_classwise_coco_metrics_report_a_class_s_ap_first(kind):
    """The fault's premise, for both: the first key 'auto' takes is a class's AP, not bbox_mAP."""
    from mmdet.evaluation.metrics import CocoMetric

    from automl_mm.evaluation.coco import UnroundedCocoMetric

    cls = CocoMetric if kind == 'mmdet' else UnroundedCocoMetric

    def run(path):
        metric = cls(ann_file=path, metric='bbox', classwise=True)
        metric.dataset_meta = dict(classes=('b', 'a'))
        _process_exact_boxes(metric, {'annotations': [_PROBE_COCO['annotations'][0]]}, 1, label=1)
        return list(metric.compute_metrics(metric.results))

    keys, err = _run_probe(_PROBE_COCO, run)
    assert err is None and keys[:3] == ['b_precision', 'a_precision', 'bbox_mAP'], (keys, err)


def _cfg(save_best, **metric):
    return Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best=save_best)),
                       val_dataloader=dict(), val_evaluator=dict(type='automl_mm.UnroundedCocoMetric', **metric)))


@pytest.mark.parametrize('kind', ['bbox', 'segm'])
def test_auto_over_a_classwise_unrounded_coco_metric_is_warned(logged, kind):
    assert preflight_metrics.warn_rounded_save_best(_cfg('auto', classwise=True, metric=[kind]), 'mmdet') == []
    assert logged == [(
        "default_hooks.checkpoint.save_best='auto' selects by val_evaluator's first key, "
        "'coco/<first class>_precision' (UnroundedCocoMetric: with classwise=True mmdet reports each class's AP "
        f"before its mAP: one class's AP selects the checkpoint; save_best='coco/{kind}_mAP' selects by the mAP)",
        logging.WARNING)]


@pytest.mark.parametrize('save_best, metric', [
    ('auto', dict()), ('coco/bbox_mAP', dict(classwise=True)), ('auto', dict(metric=['proposal', 'bbox'],
                                                                              classwise=True))])
def test_auto_over_the_map_or_a_chosen_key_is_not_warned(logged, save_best, metric):
    assert preflight_metrics.warn_rounded_save_best(_cfg(save_best, **metric), 'mmdet') == []
    assert logged == []
