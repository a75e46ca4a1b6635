"""mmdet's ``proposal_fast`` recall (``eval_recalls``) stops on images of unequal box counts under numpy >= 1.24:
refused where the counts are known, warned of where every image has as many boxes (check_recall_metrics, a user's
metric class judged by a probe)."""
from __future__ import annotations

import json

import pytest

from automl_mm.engine import preflight_metric_order
from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_recall import check_recall_metrics, recall_box_counts
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._metric_order_helpers import (
    _one_box_per_image,
    _PlainCocoSubclass,
    _proposal_fast_cfg,
    _proposal_fast_recall,
    _RaggedRecallCocoMetric,
)


def test_mmdet_proposal_fast_is_refused_where_its_recall_stops_naming_the_evaluator(coco_root):
    """mmdet 3.3's eval_recalls stops on images of unequal box counts under numpy >= 1.24 (the generated val set
    has 1 to 3 objects per image): proposal_fast failed at the first validation, after training."""
    cfg = _proposal_fast_cfg(coco_root, dict(type='DefaultSampler', shuffle=False))
    with open(cfg.val_evaluator.ann_file) as f:
        (first, n), (other, m) = recall_box_counts(json.load(f))
    assert n != m
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric, metric='proposal_fast'\) computes its "
                                               r"recall with mmdet's eval_recalls, which stops .*: in "
                                               rf".*instances_val\.json, image {first} has {n} ground-truth boxes "
                                               rf"and image {other} {m}\. To fix it, set "
                                               r"val_evaluator\.type='automl_mm\.UnroundedCocoMetric'"):
        check_config(cfg)
    cfg.val_evaluator.type = 'automl_mm.UnroundedCocoMetric'  # computes it for any counts
    check_config(cfg)


def test_mmdet_proposal_fast_on_equal_box_counts_is_warned_not_refused(tmp_path, monkeypatch):
    """Every image of one box (and proposal): mmdet's own eval_recalls runs (AR@100 1.0 above), so it is not
    refused; a crowd box is not counted (mmdet skips it), LVIS counts it; unread files and VOC are refused, saying
    why the counts are not known at the start."""
    from mmengine.config import Config

    ann_file = _one_box_per_image(str(tmp_path / 'ann.json'))
    with open(ann_file) as f:
        coco = json.load(f)
    assert _proposal_fast_recall(ann_file, [0, 1, 2]) == pytest.approx(1.0)  # mmdet's own, this numpy
    cfg = Config(dict(val_evaluator=dict(type='CocoMetric', ann_file=ann_file, metric='proposal_fast')))
    counts = {ann_file: (recall_box_counts(coco), recall_box_counts(coco, every_box=True))}
    assert counts[ann_file][0] == ((1, 1), )
    logged = []  # (say_warnings, which check_recall_metrics shares with preflight_metric_order, logs there)
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    assert len(logged) == 1 and logged[0].startswith("val_evaluator (CocoMetric, metric='proposal_fast') computes")
    assert f'Every image of {ann_file} has 1 ground-truth boxes, so it stops only where the model gives two images ' \
           'different numbers of proposals below 1000' in logged[0]
    coco['annotations'].append(dict(id=9, image_id=2, category_id=1, bbox=[0, 0, 4, 4], area=16, iscrowd=1))
    assert recall_box_counts(coco) == ((1, 1), )
    assert recall_box_counts(coco, every_box=True) == ((1, 1), (2, 2))
    assert recall_box_counts(dict(coco, annotations=coco['annotations'] + [dict(image_id=[2])])) == ((1, 1), )
    assert recall_box_counts(dict(coco, images=[dict(id=[1])])) is None  # (was TypeError: unhashable type 'list')
    counts = {ann_file: (recall_box_counts(coco), recall_box_counts(coco, every_box=True))}
    cfg.val_evaluator.type = 'LVISMetric'
    with pytest.raises(ConfigCheckError, match=r"image 1 has 1 ground-truth boxes and image 2 2\. To fix it, drop "
                                               r"'proposal_fast' from val_evaluator\.metric"):
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    with pytest.raises(ConfigCheckError, match=rf"\({ann_file} was not read at the start: images of equal box "
                                               r"counts cannot be told from unequal ones before the first evaluation"):
        check_recall_metrics(cfg, 'mmdet')
    cfg.val_evaluator = dict(type='VOCMetric', metric='recall')
    with pytest.raises(ConfigCheckError, match=r"\(its ground-truth boxes are the dataset's as loaded, not read at "
                                               r"the start: .* drop 'recall'"):
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)


def test_voc_recall_is_refused_in_any_evaluator_and_coco_rewards_pass():
    from mmengine.config import Config

    cfg = Config(dict(val_evaluator=dict(type='Accuracy'),
                      custom_hooks=[dict(type='OHLHook', reward_evaluator=[
                          dict(type='mmdet.CocoMetric', metric='proposal_fast'),  # read by automl_mm: any counts
                          dict(type='mmdet.VOCMetric', metric=['mAP', 'recall'])])]))
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.reward_evaluator\[1\] \(VOCMetric, "
                                               r"metric='recall'\) .* drop 'recall' from custom_hooks\[0\]\."
                                               r"reward_evaluator\[1\]\.metric"):
        check_recall_metrics(cfg, 'automl_mm')
    check_recall_metrics(cfg, 'automl_mm', test_only=True)  # tools/test.py reads the test evaluator alone
    cfg.custom_hooks[0].reward_evaluator.pop()
    check_recall_metrics(cfg, 'automl_mm')


@pytest.mark.parametrize('metric_cls, refused', [(_RaggedRecallCocoMetric, False), (_PlainCocoSubclass, True)])
def test_a_users_proposal_fast_is_refused_only_where_it_stops_on_unequal_counts(tmp_path, metric_cls, refused):
    """Evaluated on two images of 1 and 2 boxes: mmdet's own eval_recalls stops, the user's replacement does not
    (it was refused by its class alone)."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_recall import _probe_recall_stops

    assert _probe_recall_stops(metric_cls, {}) is refused
    cfg = Config(dict(val_evaluator=dict(type=metric_cls, ann_file='ann.json', metric='proposal_fast')))
    counts = {'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))}
    if refused:
        with pytest.raises(ConfigCheckError, match=r"image 1 has 1 ground-truth boxes and image 2 2\. To fix it"):
            check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    else:
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)
