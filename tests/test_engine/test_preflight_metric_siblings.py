"""Metric arguments mmdet takes when it builds the metric and stops on only at the first evaluation, after training up
to it, beside CocoMetric's (test_preflight_ar_counts, test_preflight_classwise_iou_thrs):

* ``VOCMetric(metric='mAP')`` asserts ``isinstance(self.iou_thrs, list)`` in ``compute_metrics`` (mmdet 3.3); its
  ``__init__`` wraps a float alone, so a tuple, a numpy array or an int stopped there with a bare AssertionError.
* mmdet's other metrics that run ``CocoMetric``'s ``compute_metrics`` (``OVCocoMetric``'s copy of it,
  ``CocoVideoMetric``, ``CocoOccludedSeparatedMetric``, a user's subclass that keeps it) stop on the same
  ``proposal_nums`` / ``iou_thrs`` / ``metric_items`` as ``CocoMetric``, which the checks judged by the type names
  ``CocoMetric`` / ``UnroundedCocoMetric`` alone.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from test_evaluation.test_coco_unrounded import _twenty_objects

from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.preflight_coco_counts import check_coco_proposal_nums
from automl_mm.engine.preflight_coco_settings import check_coco_iou_thrs, check_voc_iou_thrs
from automl_mm.engine.preflight_metrics import _check_coco_metric_items


def _voc_compute(iou_thrs, metric='mAP'):
    from mmdet.evaluation import VOCMetric

    voc = VOCMetric(iou_thrs=iou_thrs, metric=metric)
    voc.dataset_meta = dict(classes=('a', ))
    box = torch.tensor([[0., 0., 10., 10.]])
    voc.process({}, [dict(pred_instances=dict(bboxes=box, scores=torch.tensor([1.]), labels=torch.tensor([0])),
                          gt_instances=dict(bboxes=box, labels=torch.tensor([0])),
                          ignored_instances=dict(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long)))])
    return voc.compute_metrics(voc.results)


@pytest.mark.parametrize('thrs, fix', [((0.5, 0.75), '[0.5, 0.75]'), (np.array([0.5, 0.75]), '[0.5, 0.75]'),
                                       (1, '1.0')])
def test_voc_iou_thrs_that_are_not_a_list_are_refused(thrs, fix):
    with pytest.raises(AssertionError):  # the premise, on mmdet's own metric
        _voc_compute(thrs)
    shown = thrs.tolist() if isinstance(thrs, np.ndarray) else thrs
    for metric, where, test_only in ((dict(type='VOCMetric', iou_thrs=thrs), 'val_evaluator', False),
                                     ([dict(type='VOCMetric', metric=['mAP'], iou_thrs=thrs)], r'test_evaluator\[0\]',
                                      True)):
        key = where.split('\\')[0].split('[')[0]
        cfg = Config(dict(default_scope='mmdet', **{key: metric}))
        with pytest.raises(ConfigCheckError, match=where + re.escape(f'.iou_thrs={shown!r}') +
                           r": mmdet's VOCMetric .*AssertionError at the first evaluation.*" +
                           re.escape(f'(iou_thrs={fix})')):
            check_voc_iou_thrs(cfg, test_only=test_only)
    check_voc_iou_thrs(Config(dict(default_scope='mmdet', val_evaluator=dict(type='VOCMetric', iou_thrs=thrs))),
                       test_only=True, split='test')  # val_evaluator is not read


def test_what_voc_runs_passes():
    assert _voc_compute([0.5, 0.75])['AP75'] == 1.0 and _voc_compute(0.5)['AP50'] == 1.0
    _voc_compute((0.5, 0.75), metric='recall')  # eval_recalls takes any sequence
    for metric in (dict(type='VOCMetric'), dict(type='VOCMetric', iou_thrs=0.5),
                   dict(type='VOCMetric', iou_thrs=[0.5, 0.75]), dict(type='VOCMetric', iou_thrs=(0.5, 0.75),
                                                                    metric='recall'),
                   dict(type='CocoMetric', iou_thrs=np.array([0.5]))):
        check_voc_iou_thrs(Config(dict(default_scope='mmdet', val_evaluator=metric)), test_only=False)


def test_mmdets_ov_coco_metric_stops_as_coco_metric_does(tmp_path):
    """The premise: OVCocoMetric's own copy of compute_metrics with proposal_nums=(100, 300) stops at the first
    evaluation as CocoMetric's does (pycocotools' summarize reads maxDets[2])."""
    from mmdet.evaluation.metrics import OVCocoMetric

    ann, sample = _twenty_objects(tmp_path)
    metric = OVCocoMetric(ann_file=ann, proposal_nums=(100, 300))
    metric.dataset_meta = dict(classes=('item', ), base_classes=('item', ), novel_classes=())
    metric.process({}, [sample])
    with pytest.raises(IndexError):
        metric.compute_metrics(metric.results)


@pytest.mark.parametrize('kind', ['OVCocoMetric', 'CocoVideoMetric', 'CocoOccludedSeparatedMetric', 'kept'])
def test_mmdets_other_coco_metrics_are_checked_as_coco_metric(kind):
    from mmdet.evaluation import CocoMetric

    class KeptCocoMetric(CocoMetric):
        """A user's subclass that keeps mmdet's compute_metrics."""

    kind = KeptCocoMetric if kind == 'kept' else kind
    for check, options, match in (
            (check_coco_proposal_nums, dict(proposal_nums=(100, 300)), r'val_evaluator\.proposal_nums=\(100, 300\)'),
            (check_coco_iou_thrs, dict(iou_thrs=[0.5, 0.75]), r'val_evaluator\.iou_thrs=\[0\.5, 0\.75\]'),
            (_check_coco_metric_items, dict(metric_items=['mAP_51']), r"val_evaluator\.metric_items=\['mAP_51'\]")):
        cfg = Config(dict(default_scope='mmdet', val_evaluator=dict(type=kind, **options)))
        with pytest.raises(ConfigCheckError, match=match):
            check(cfg, test_only=False)
        check(Config(dict(default_scope='mmdet', val_evaluator=dict(type=kind))), test_only=False)


def test_a_users_own_compute_metrics_and_lvis_are_not_judged():
    from mmdet.evaluation import CocoMetric

    class OwnCocoMetric(CocoMetric):
        def compute_metrics(self, results):
            return {}

    for kind in (OwnCocoMetric, 'LVISMetric'):
        for check, options in ((check_coco_proposal_nums, dict(proposal_nums=(100, 300))),
                               (check_coco_iou_thrs, dict(iou_thrs=[0.5, 0.75])),
                               (_check_coco_metric_items, dict(metric_items=['APr']))):
            check(Config(dict(default_scope='mmdet', val_evaluator=dict(type=kind, **options))), test_only=False)


def test_check_config_refuses_voc_iou_thrs_that_are_not_a_list(coco_root):
    from automl_mm.engine.preflight import check_config

    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_evaluator = dict(type='VOCMetric', iou_thrs=(0.5, 0.75))
    with pytest.raises(ConfigCheckError, match=r"test_evaluator\.iou_thrs=\(0\.5, 0\.75\): mmdet's VOCMetric"):
        check_config(cfg, test_only=True)


@pytest.mark.parametrize('kind', ['OVCocoMetric', 'CocoVideoMetric', 'CocoOccludedSeparatedMetric', 'kept'])
def test_mmdets_other_coco_metrics_keys_not_computed_are_refused_as_coco_metrics(tmp_path, kind, monkeypatch):
    """The keys a COCO metric reports without computing them (an ``mAP_50`` whose iou_thrs array lacks 0.5, an AR
    item at a count not in proposal_nums: -1) were found for the type names CocoMetric / UnroundedCocoMetric alone:
    an OVCocoMetric reward_key 'coco/bbox_mAP_50' with iou_thrs=np.linspace(0.55, 0.95, 9) passed and every copy read
    -1 (the premise, on mmdet's own metric)."""
    from mmdet.evaluation import CocoMetric
    from mmdet.evaluation.metrics import OVCocoMetric

    from automl_mm.engine import preflight_coco_counts
    from automl_mm.engine.preflight_coco_counts import uncomputed_coco_keys, warn_uncomputed_coco_items
    from automl_mm.engine.preflight_metrics import check_metric_key

    late = np.linspace(0.55, 0.95, 9)
    if kind == 'OVCocoMetric':
        ann, sample = _twenty_objects(tmp_path)
        metric = OVCocoMetric(ann_file=ann, iou_thrs=late)
        metric.dataset_meta = dict(classes=('item', ), base_classes=('item', ), novel_classes=())
        metric.process({}, [sample])
        values = metric.compute_metrics(metric.results)
        assert values['bbox_mAP_50'] == -1 and values['bbox_mAP'] > 0  # the premise

    class KeptCocoMetric(CocoMetric):
        """A user's subclass that keeps mmdet's compute_metrics."""

    kind = KeptCocoMetric if kind == 'kept' else kind
    ov = dict(type=kind, iou_thrs=late)
    assert uncomputed_coco_keys(ov) == ['coco/bbox_mAP_50']
    assert uncomputed_coco_keys(dict(type=kind, metric='proposal', metric_items=['AR@10'])) == ['coco/AR@10']
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='coco/bbox_mAP_50' is the AP at an IoU "
                                               r'threshold of 0\.5 .* which custom_hooks\[0\]\.reward_evaluator'):
        check_metric_key('coco/bbox_mAP_50', 'custom_hooks[0].reward_key', ov, 'custom_hooks[0].reward_evaluator')
    logged = []
    monkeypatch.setattr(preflight_coco_counts, 'print_log', lambda msg, **kwargs: logged.append(msg))
    assert warn_uncomputed_coco_items(Config(dict(default_scope='mmdet', val_evaluator=ov))) == ['val_evaluator']
    assert "'coco/bbox_mAP_50'" in logged[0] or 'at an IoU threshold (0.5)' in logged[0], logged


def test_a_users_own_compute_metrics_and_lvis_report_no_uncomputed_keys():
    from mmdet.evaluation import CocoMetric

    from automl_mm.engine.preflight_coco_counts import uncomputed_coco_keys

    class OwnCocoMetric(CocoMetric):
        def compute_metrics(self, results):
            return {}

    for kind in (OwnCocoMetric, 'LVISMetric', 'VOCMetric'):
        assert uncomputed_coco_keys(dict(type=kind, iou_thrs=np.linspace(0.55, 0.95, 9))) == [], kind


@pytest.mark.parametrize('kind', ['OVCocoMetric', 'CocoVideoMetric', 'CocoOccludedSeparatedMetric'])
def test_mmdets_other_coco_metrics_ar_items_validated_at_another_count_are_refused(tmp_path, kind, monkeypatch):
    """mmdet's CocoMetric evaluation validates AR@100 at COCOeval.stats[6], the recall at the first of the sorted
    proposal_nums: with (1, 10, 100) the recall of 1 detection per image (0.05 where every object is found at 100;
    the premise, on mmdet's own OVCocoMetric). The selection / warning about it judged the type name CocoMetric
    alone, so save_best='coco/AR@100' on mmdet's OVCocoMetric, CocoVideoMetric or CocoOccludedSeparatedMetric kept
    the checkpoint of another count, silently; their fix is proposal_nums (UnroundedCocoMetric is none of them)."""
    from mmdet.evaluation.metrics import OVCocoMetric

    from automl_mm.engine import preflight_coco_counts
    from automl_mm.engine.preflight_coco_counts import check_uncomputed_selection_keys, warn_uncomputed_coco_items

    metric = dict(type=kind, metric='proposal', proposal_nums=(1, 10, 100))
    if kind == 'OVCocoMetric':
        ann, sample = _twenty_objects(tmp_path)
        ov = OVCocoMetric(ann_file=ann, metric='proposal', proposal_nums=(1, 10, 100))
        ov.dataset_meta = dict(classes=('item', ), base_classes=('item', ), novel_classes=())
        ov.process({}, [sample])
        assert ov.compute_metrics(ov.results)['AR@100'] == pytest.approx(0.05)  # the premise
    cfg = Config(dict(default_scope='mmdet', val_dataloader=dict(), val_evaluator=metric,
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best='coco/AR@100'))))
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='coco/AR@100' is validated by "
                                               rf"val_evaluator \(mmdet's {kind}\) as COCOeval\.stats\[6\], the recall "
                                               r'at 1 detection per image: .*Set val_evaluator\.proposal_nums='
                                               r'\(100, 300, 1000\)$'):
        check_uncomputed_selection_keys(cfg)
    logged = []
    monkeypatch.setattr(preflight_coco_counts, 'print_log', lambda msg, **kwargs: logged.append(msg))
    assert warn_uncomputed_coco_items(cfg) == ['val_evaluator']
    assert "'coco/AR@100' as COCOeval.stats[6], the recall at 1 detection per image" in logged[0], logged
    assert 'UnroundedCocoMetric' not in logged[0], logged
    cfg.val_evaluator.proposal_nums = (100, 300, 1000)  # mmdet's default counts: stats hold what the keys name
    check_uncomputed_selection_keys(cfg)
    cfg.val_evaluator = dict(type='automl_mm.UnroundedCocoMetric', metric='proposal', proposal_nums=(1, 10, 100))
    check_uncomputed_selection_keys(cfg)  # each AR item at the count it names


def _users_coco_metrics():
    """A user's subclasses of mmdet's CocoMetric and OVCocoMetric and of automl_mm's UnroundedCocoMetric, each
    keeping its base's compute_metrics."""
    from mmdet.evaluation import CocoMetric
    from mmdet.evaluation.metrics import OVCocoMetric

    from automl_mm.evaluation.coco import UnroundedCocoMetric

    class KeptCocoMetric(CocoMetric):
        pass

    class KeptOVCocoMetric(OVCocoMetric):
        pass

    class KeptUnroundedCocoMetric(UnroundedCocoMetric):
        pass

    return KeptCocoMetric, KeptOVCocoMetric, KeptUnroundedCocoMetric


def test_messages_name_the_metrics_own_class_and_where_it_comes_from(monkeypatch):
    """uncomputed_coco_keys' warning said "mmdet's CocoMetric [reports such an AR item] as the recall at another of
    the proposal_nums" whatever the metric's class (mmdet's OVCocoMetric, a user's subclass, automl_mm's
    UnroundedCocoMetric, which reports -1), and the refusals called a user's class or UnroundedCocoMetric "mmdet's
    <class>". Each now names the metric's own class and where it comes from, and what that class reports."""
    from automl_mm.engine import preflight_coco_counts
    from automl_mm.engine.preflight_coco_counts import check_uncomputed_selection_keys, warn_uncomputed_coco_items
    from automl_mm.engine.preflight_metrics import check_metric_key

    kept, kept_ov, kept_unrounded = _users_coco_metrics()
    users = f'({__name__}, a subclass of '
    logged = []
    monkeypatch.setattr(preflight_coco_counts, 'print_log', lambda msg, **kwargs: logged.append(msg))
    for kind, origin, recall in (
            ('OVCocoMetric', "mmdet's OVCocoMetric", True),
            ('CocoVideoMetric', "mmdet's CocoVideoMetric", True),
            (kept, f"KeptCocoMetric {users}mmdet's CocoMetric)", True),
            (kept_ov, f"KeptOVCocoMetric {users}mmdet's OVCocoMetric)", True),
            ('automl_mm.UnroundedCocoMetric', "automl_mm's UnroundedCocoMetric", False),
            (kept_unrounded, f"KeptUnroundedCocoMetric {users}automl_mm's UnroundedCocoMetric)", False)):
        metric = dict(type=kind, metric='proposal', proposal_nums=(1, 10, 100))  # AR@300, AR@1000: not evaluated
        logged.clear()
        assert warn_uncomputed_coco_items(Config(dict(default_scope='mmdet', val_evaluator=metric))) == \
            ['val_evaluator']
        reported = (f'{origin} reports under its name the recall at another of the proposal_nums' if recall else
                    f'{origin} reports it as -1 too')
        assert len(logged) == 1 and reported in logged[0] and "mmdet's CocoMetric as" not in logged[0], (kind, logged)
        with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='coco/AR@300' is the average "
                                                   r'recall at 300 .*; ' + re.escape(reported)):
            check_metric_key('coco/AR@300', 'custom_hooks[0].reward_key', metric, 'custom_hooks[0].reward_evaluator')
        with pytest.raises(ConfigCheckError, match=r'^val_evaluator\.proposal_nums=\(1, 10\): pycocotools\' '
                                                   r'COCOeval\.summarize, which ' + re.escape(origin) + ' runs'):
            check_coco_proposal_nums(Config(dict(default_scope='mmdet', val_evaluator=dict(
                metric, proposal_nums=(1, 10)))), test_only=False)
        with pytest.raises(ConfigCheckError, match=r'^val_evaluator\.iou_thrs=0\.5: ' + re.escape(origin) + ' hands'):
            check_coco_iou_thrs(Config(dict(default_scope='mmdet', val_evaluator=dict(metric, iou_thrs=0.5))),
                                test_only=False)
        if recall:  # selected by an AR item mmdet validates at another count
            cfg = Config(dict(default_scope='mmdet', val_dataloader=dict(), val_evaluator=metric,
                              default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best='coco/AR@100'))))
            with pytest.raises(ConfigCheckError, match=r"save_best='coco/AR@100' is validated by val_evaluator \(" +
                                                       re.escape(origin) + r'\) as COCOeval\.stats\[6\]'):
                check_uncomputed_selection_keys(cfg)
