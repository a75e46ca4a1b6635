"""A COCO AR item ``AR[_s|_m|_l]@<n>`` whose ``n`` is not among the metric's ``proposal_nums`` is not computed:
automl_mm reads it as -1 (pycocotools' value of what it did not compute: OHL rewards, NAS scores,
UnroundedCocoMetric; tests/test_evaluation/test_coco_unrounded.py), mmdet's CocoMetric validates it as the recall
at another count. A key that is read (OHL reward_key, NAS metric_key, save_best, an EarlyStoppingHook /
ReduceOnPlateau monitor) on one is refused at start, the search or selection being flat; a metric that merely
reports one is warned of once. mmdet's item names are fixed (AR@100, AR@300, AR@1000, AR_<area>@1000) whatever
proposal_nums is."""
from __future__ import annotations

import logging
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.config import Config
from test_evaluation.test_coco_unrounded import _twenty_objects

from automl_mm.engine import preflight_coco_counts, preflight_coco_settings, preflight_metrics
from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.engine.preflight_coco_counts import (
    check_coco_proposal_nums,
    check_uncomputed_selection_keys,
    uncomputed_coco_keys,
    warn_uncomputed_coco_items,
)
from automl_mm.engine.preflight_coco_settings import check_coco_iou_thrs
from automl_mm.engine.preflight_metrics import COCO_AR_ITEMS, check_metric_key
from tests.test_engine._preflight_configs import OHL

PYCOCO = (1, 10, 100)  # pycocotools' own maxDets


@pytest.fixture
def logged(monkeypatch):
    messages = []
    for module in (preflight_metrics, preflight_coco_counts):
        monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: messages.append((msg, level)))
    return messages


def _proposal(**options):
    return dict(dict(type='mmdet.CocoMetric', metric='proposal', proposal_nums=PYCOCO), **options)


def test_the_ar_keys_whose_count_is_not_evaluated():
    assert uncomputed_coco_keys(_proposal()) == ['coco/AR@300', 'coco/AR@1000', 'coco/AR_s@1000', 'coco/AR_m@1000',
                                               'coco/AR_l@1000']
    assert uncomputed_coco_keys(dict(type='automl_mm.UnroundedCocoMetric', metric=['bbox', 'segm'], prefix='det',
                                   proposal_nums=[300], use_mp_eval=True,
                                   metric_items=['mAP', 'AR@100', 'AR@300'])) == \
        ['det/bbox_AR@100', 'det/segm_AR@100']
    # mmdet's defaults, AP items, proposal_fast (its AR@<n> are its proposal_nums) and other metrics: none
    for metric in (dict(type='mmdet.CocoMetric', metric='proposal'),
                   dict(type='mmdet.CocoMetric', proposal_nums=(100, 1, 10)),  # rtmdet's
                   dict(type='mmdet.CocoMetric', metric='proposal_fast', proposal_nums=PYCOCO),
                   dict(type='Accuracy', proposal_nums=PYCOCO)):
        assert uncomputed_coco_keys(metric) == [], metric


@pytest.mark.parametrize('owner', ['custom_hooks[0].reward_key', 'train_cfg.metric_key',
                                   'default_hooks.checkpoint.save_best'])
def test_a_read_key_on_an_ar_item_not_evaluated_is_refused(owner):
    """OHL rewards / NAS scores of 'coco/AR@1000' with proposal_nums=(1, 10, 100) were all -1: every copy or
    candidate tied, silently."""
    evaluator = dict(type='Evaluator', metrics=[dict(type='Accuracy'), _proposal()])
    with pytest.raises(ConfigCheckError, match=(
            re.escape(owner) + r"='coco/AR@1000' is the average recall at 1000 "
            r"detections per image, which reward_evaluator\.metrics\[1\] \(CocoMetric\) does not evaluate: its "
            r"proposal_nums=\(1, 10, 100\) .*-1 .*Add 1000 to reward_evaluator\.metrics\[1\]\.proposal_nums or "
            r"read 'coco/AR@100'")):
        check_metric_key('coco/AR@1000', owner, evaluator, 'reward_evaluator')
    check_metric_key('coco/AR@100', owner, evaluator, 'reward_evaluator')  # 100 is evaluated


def test_an_ohl_reward_key_on_an_ar_item_not_evaluated_fails_check_config():
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_evaluator = _proposal(ann_file='reward.json')
    cfg.custom_hooks[0].reward_key = 'coco/AR_s@1000'
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='coco/AR_s@1000' is the average "
                                               r"recall at 1000 .*custom_hooks\[0\]\.reward_evaluator "):
        check_config(cfg)


def _selection(save_best=None, hooks=(), schedulers=(), **metric):
    return Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best=save_best)),
                       custom_hooks=list(hooks), param_scheduler=list(schedulers),
                       val_dataloader=dict(), val_evaluator=_proposal(**metric)))


@pytest.mark.parametrize('cfg, where, key', [
    (_selection('coco/AR_m@1000'), 'default_hooks.checkpoint.save_best', 'coco/AR_m@1000'),
    # 'auto': the first key of val_evaluator, mmdet's first item
    (_selection('auto', proposal_nums=(1000, )), "default_hooks.checkpoint.save_best='auto'", 'coco/AR@100'),
    (_selection(hooks=[dict(type='EarlyStoppingHook', monitor='coco/AR@300')]), 'custom_hooks[0].monitor',
     'coco/AR@300'),
    (_selection(schedulers=[dict(type='ReduceOnPlateauLR', monitor='coco/AR@1000', rule='greater')]),
     'param_scheduler.0.monitor', 'coco/AR@1000')])
def test_a_selection_on_an_ar_item_not_evaluated_is_refused(cfg, where, key):
    """mmengine's validation of mmdet's CocoMetric reads such a key as the recall at another of proposal_nums
    (COCOeval.stats), UnroundedCocoMetric as -1: the checkpoint kept / the epoch to stop at followed another count,
    or nothing at all."""
    with pytest.raises(ConfigCheckError, match=re.escape(where) + rf".*{key!r}\)? is the "
                                               r'average recall at \d+ detections per image, which val_evaluator '):
        check_uncomputed_selection_keys(cfg)


def test_selections_on_evaluated_counts_pass():
    unrounded = 'automl_mm.UnroundedCocoMetric'  # each AR item at the count it names (mmdet's: next test)
    check_uncomputed_selection_keys(_selection('auto', type=unrounded))  # 'coco/AR@100', evaluated
    check_uncomputed_selection_keys(_selection(['coco/AR@100'], hooks=[dict(type='EarlyStoppingHook',
                                                                            monitor='coco/AR@100')], type=unrounded))
    check_uncomputed_selection_keys(_selection('coco/AR@1000', proposal_nums=(100, 300, 1000)))
    cfg = _selection('coco/AR@1000')
    cfg.val_dataloader = None  # no validation: nothing selected
    check_uncomputed_selection_keys(cfg)


@pytest.mark.parametrize('selection, where', [
    (dict(save_best='auto'), "default_hooks.checkpoint.save_best='auto' (val_evaluator's first key, 'coco/AR@100')"),
    (dict(hooks=[dict(type='EarlyStoppingHook', monitor='coco/AR@100')]), "custom_hooks[0].monitor='coco/AR@100'")])
def test_a_selection_by_mmdets_validation_of_an_ar_item_at_another_count_is_refused(selection, where):
    """mmdet's CocoMetric validates AR@100 / AR@300 / AR@1000 as COCOeval.stats[6] / [7] / [8], the recall at the
    first / second / third of the sorted proposal_nums: with (1, 10, 100) 'coco/AR@100' (evaluated) read the recall
    of 1 detection per image (0.05 where every object was found at 100:
    tests/test_evaluation/test_coco_unrounded.py), and the checkpoint kept or the epoch to stop at followed it."""
    with pytest.raises(ConfigCheckError, match=re.escape(where) + r" is validated by val_evaluator \(mmdet's "
                       r'CocoMetric\) as COCOeval\.stats\[6\], the recall at 1 detection per image: .*'
                       r"type='automl_mm\.UnroundedCocoMetric'"):
        check_uncomputed_selection_keys(_selection(**selection))
    # at mmdet's default counts, in any order, stats hold what the keys name
    check_uncomputed_selection_keys(_selection(**selection, proposal_nums=(1000, 100, 300)))



def test_an_ar_key_a_later_proposal_fast_reports_is_not_refused(logged):
    """With metric=['proposal', 'proposal_fast'] mmdet's later proposal_fast writes AR@<n> for each of the
    proposal_nums over proposal's stats value (its recall at n, unrounded: automl_mm.evaluation.coco keeps it too),
    so 'coco/AR@100' with (1, 10, 100) is the recall at 100; with proposal_fast first, proposal's stats[6] (the
    recall at 1) is the one reported."""
    check_uncomputed_selection_keys(_selection('coco/AR@100', metric=['proposal', 'proposal_fast']))
    warn_uncomputed_coco_items(Config(dict(val_evaluator=_proposal(metric=['proposal', 'proposal_fast']))))
    assert 'stats[6]' not in logged[0][0]
    with pytest.raises(ConfigCheckError, match=r'as COCOeval\.stats\[6\], the recall at 1 detection'):
        check_uncomputed_selection_keys(_selection('coco/AR@100', metric=['proposal_fast', 'proposal']))

def test_a_metric_reporting_ar_items_not_evaluated_is_warned_once(logged):
    cfg = Config(dict(val_evaluator=_proposal(), test_evaluator=_proposal(),
                      custom_hooks=[dict(type='OHLHook', reward_evaluator=dict(
                          type='mmdet.CocoMetric', metric='bbox', metric_items=['mAP', 'AR@100', 'AR@1000'],
                          proposal_nums=(10, 100)))]))
    warn_uncomputed_coco_items(cfg)
    assert [level for _, level in logged] == [logging.WARNING] * 2
    assert logged[0][0].startswith(
        "val_evaluator and test_evaluator (CocoMetric) report 'coco/AR@300', 'coco/AR@1000', 'coco/AR_s@1000', "
        "'coco/AR_m@1000', 'coco/AR_l@1000', read at detection counts their proposal_nums=(1, 10, 100) "
        'does not evaluate')
    assert logged[1][0].startswith("custom_hooks[0].reward_evaluator (CocoMetric) reports 'coco/bbox_AR@1000', ")
    logged.clear()
    warn_uncomputed_coco_items(cfg, test_only=True, split='test')
    assert len(logged) == 1 and logged[0][0].startswith('test_evaluator (CocoMetric) reports ')



def test_a_metric_reporting_ar_items_at_other_counts_is_warned(logged):
    """mmdet's CocoMetric with proposal_nums=(10, 100, 300, 1000) evaluates every count its AR items name, yet
    reports each at COCOeval.stats[6..11], the recalls at 10, 100, 300 and at 300 by area: every logged and saved AR
    value was another count's, with no warning (selecting by one is refused). UnroundedCocoMetric reports the count
    named, mmdet's default counts in any order are right."""
    cfg = Config(dict(val_evaluator=_proposal(proposal_nums=(10, 100, 300, 1000))))
    assert warn_uncomputed_coco_items(cfg) == ['val_evaluator']
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    assert re.search(r"val_evaluator \(CocoMetric\) reports 'coco/AR@100' as COCOeval\.stats\[6\], the recall at 10 "
                     r"detections per image, .*'coco/AR_l@1000' as COCOeval\.stats\[11\], the recall at 300 detections "
                     r"per image of large objects.*type='automl_mm\.UnroundedCocoMetric'", logged[0][0]), logged[0][0]
    logged.clear()
    for fine in (_proposal(proposal_nums=(10, 100, 300, 1000), type='automl_mm.UnroundedCocoMetric'),
                 _proposal(proposal_nums=(1000, 100, 300)), _proposal(proposal_nums=(10, 100, 300, 1000),
                                                                      metric='bbox')):
        assert warn_uncomputed_coco_items(Config(dict(val_evaluator=fine))) == []
    assert logged == []

def test_mmdet_stock_configs_are_not_warned(logged):
    """mmdet's configs that change proposal_nums (rtmdet: (100, 1, 10); v3det: [300], with use_mp_eval) report AP
    items only, and at counts evaluated."""
    from mmdet import __file__ as mmdet_init

    configs = osp.join(osp.dirname(mmdet_init), '.mim', 'configs')
    for name in ('rtmdet/rtmdet_l_8xb32-300e_coco.py', '_base_/datasets/v3det.py', 'rpn/rpn_r50_fpn_1x_coco.py',
                 '_base_/datasets/coco_detection.py'):
        cfg = Config.fromfile(osp.join(configs, name))
        warn_uncomputed_coco_items(cfg)
        check_uncomputed_selection_keys(cfg)
        check_coco_proposal_nums(cfg, test_only=False)
    assert logged == []


def test_check_config_warns_of_a_reported_item_and_refuses_a_monitored_one(logged, coco_root):
    """Through check_config: the synthcoco detector's val_evaluator as a proposal metric at pycocotools' counts."""
    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator.update(type='automl_mm.UnroundedCocoMetric', metric='proposal', proposal_nums=PYCOCO)
    cfg.default_hooks.checkpoint.save_best = 'coco/AR@100'  # at the count it names (mmdet's CocoMetric: refused)
    check_config(cfg)
    assert [msg for msg, _ in logged if 'proposal_nums' in msg] == [logged[0][0]] and \
        logged[0][0].startswith("val_evaluator (UnroundedCocoMetric) reports 'coco/AR@300', ")
    cfg.custom_hooks = [dict(type='EarlyStoppingHook', monitor='coco/AR@300', rule='greater')]
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.monitor='coco/AR@300' is the average recall at "
                                               r'300 detections per image, which val_evaluator '
                                               r'\(UnroundedCocoMetric\)'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py selects nothing


def test_the_map_is_not_computed_without_100_detections():
    """pycocotools' COCOeval.summarize reads the mAP (stats[0]) at 100 detections per image, whatever maxDets is:
    with proposal_nums=(1, 10, 300) mmdet's and automl_mm's bbox_mAP were -1 (bbox_mAP_50 the AP at 300), where
    every object was found. mmdet's COCOevalMP (use_mp_eval=True) reads it at the largest count."""
    metric = dict(type='mmdet.CocoMetric', metric=['bbox', 'proposal'], proposal_nums=(1, 10, 300))
    assert uncomputed_coco_keys(metric) == ['coco/bbox_mAP', 'coco/AR@100', 'coco/AR@1000', 'coco/AR_s@1000',
                                            'coco/AR_m@1000', 'coco/AR_l@1000']
    assert uncomputed_coco_keys(dict(metric, use_mp_eval=True)) == uncomputed_coco_keys(metric)[1:]
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.metric_key='coco/bbox_mAP' is the AP at 100 detections "
                                               r'per image .*proposal_nums=\(1, 10, 300\).* -1.*Add 100 to '
                                               r'train_cfg\.search_evaluator\.proposal_nums'):
        check_metric_key('coco/bbox_mAP', 'train_cfg.metric_key', metric, 'train_cfg.search_evaluator')
    check_metric_key('coco/bbox_mAP_50', 'train_cfg.metric_key', metric, 'train_cfg.search_evaluator')


@pytest.mark.parametrize('nums', [(100, 300), [300], ()])
def test_fewer_than_three_counts_are_refused_where_pycocotools_summarizes(nums):
    """pycocotools' COCOeval.summarize reads maxDets[2] (the AP items but the mAP, AR@1000, AR_<area>@1000): mmdet's
    CocoMetric with proposal_nums=(100, 300) stopped with IndexError at the first evaluation, after training up to
    it (bbox and proposal alike). COCOevalMP (use_mp_eval=True, mmdet's v3det configs: [300]) and proposal_fast
    summarize otherwise (COCOevalMP's AP items; its AR items by area need three counts: the next test)."""
    for kind in ('bbox', 'proposal'):
        cfg = Config(dict(val_evaluator=[dict(type='Accuracy'), dict(type='mmdet.CocoMetric', metric=kind,
                                                                     proposal_nums=nums)]))
        with pytest.raises(ConfigCheckError, match=re.escape(f'val_evaluator[1].proposal_nums={tuple(nums)!r}') +
                           r'.* IndexError .*three counts'):
            check_coco_proposal_nums(cfg, test_only=False)
        check_coco_proposal_nums(cfg, test_only=True, split='test')  # val_evaluator is not read
        cfg.val_evaluator[1].use_mp_eval = True
        if nums and kind == 'bbox':
            check_coco_proposal_nums(cfg, test_only=False)
        elif nums:  # mmdet's AR items past COCOevalMP's stats: the next test
            with pytest.raises(ConfigCheckError, match=r'use_mp_eval=True: .* IndexError'):
                check_coco_proposal_nums(cfg, test_only=False)
        else:  # no count at all is refused there too
            with pytest.raises(ConfigCheckError, match=r'proposal_nums=\(\): no detection count per image'):
                check_coco_proposal_nums(cfg, test_only=False)
    check_coco_proposal_nums(Config(dict(val_evaluator=dict(type='mmdet.CocoMetric', metric='proposal_fast',
                                                            proposal_nums=nums))), test_only=False)


@pytest.mark.parametrize('nums, kind, items, item', [
    ([300], 'proposal', None, 'AR_m@1000'),  # mmdet's default items of metric='proposal'
    ((100, 300), 'proposal', None, 'AR_l@1000'),
    ([300], 'bbox', ['mAP', 'AR_m@1000'], 'AR_m@1000'),
    ((100, 1000), 'segm', ['AR_l@1000'], 'AR_l@1000')])
def test_ar_items_past_the_recalls_cocoevalmp_summarizes_are_refused(nums, kind, items, item):
    """mmdet's COCOevalMP (use_mp_eval=True) summarizes the recall at each count, then at the largest by area:
    6 + len(proposal_nums) + 3 stats; mmdet's CocoMetric reads AR@100 .. AR_l@1000 at stats[6..11], so with one or
    two counts it stopped with IndexError at the first evaluation (metric='proposal' with mmdet's v3det counts [300]:
    'index 10 is out of bounds for axis 0 with size 10'), after training up to it, UnroundedCocoMetric alike (it
    runs mmdet's compute first). The AP items (mmdet's v3det configs) and items within the stats pass."""
    metric = dict(type='mmdet.CocoMetric', metric=kind, proposal_nums=nums, use_mp_eval=True, metric_items=items)
    cfg = Config(dict(test_evaluator=[dict(type='Accuracy'), metric]))
    index = 6 + COCO_AR_ITEMS.index(item)
    with pytest.raises(ConfigCheckError, match=re.escape(f'test_evaluator[1].proposal_nums={tuple(nums)!r}') +
                       rf'.*use_mp_eval=True.*{re.escape(repr(item))} .*stats\[{index}\].*IndexError'):
        check_coco_proposal_nums(cfg, test_only=True, split='test')
    check_coco_proposal_nums(cfg, test_only=True, split='val')  # test_evaluator is not read
    for fine in (dict(metric, metric_items=None, metric='bbox'),  # the AP items
                 dict(metric, metric_items=[i for i in COCO_AR_ITEMS if COCO_AR_ITEMS.index(i) < 3 + len(nums)]),
                 dict(metric, proposal_nums=(100, 300, 1000))):
        check_coco_proposal_nums(Config(dict(test_evaluator=fine)), test_only=False)


def test_the_cocoevalmp_index_error_is_mmdets(tmp_path):
    """The premise of the test above, on mmdet's own CocoMetric: COCOevalMP with proposal_nums=[300] and
    metric='proposal' stops with IndexError."""

    from mmdet.evaluation import CocoMetric

    ann, sample = _twenty_objects(tmp_path)
    metric = CocoMetric(ann_file=ann, metric='proposal', proposal_nums=[300], use_mp_eval=True)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    with pytest.raises(IndexError, match='index 10 is out of bounds'):
        metric.compute_metrics(metric.results)

def test_the_coco_proposal_nums_are_checked_by_check_config(coco_root):
    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_evaluator.proposal_nums = (100, 300)
    with pytest.raises(ConfigCheckError, match=r'test_evaluator\.proposal_nums=\(100, 300\)'):
        check_config(cfg)
    cfg.test_evaluator.proposal_nums = (100, 300, 1000)
    cfg.test_evaluator.iou_thrs = [0.5]
    with pytest.raises(ConfigCheckError, match=r'test_evaluator\.iou_thrs=\[0\.5\]'):
        check_config(cfg)


@pytest.mark.parametrize('nums, mp', [((1, 10, 100), False), ((1000, 10, 1), False), ((1, 10, 100, 1000), True)])
def test_the_stats_mmdet_validates_an_ar_item_at_are_the_ones_named(tmp_path, nums, mp):
    """The check's premise, on mmdet's own compute_metrics: 20 small objects each predicted exactly (the recall at
    n detections is min(n / 20, 1); of medium or large objects, none: -1); each AR item mmdet reports is the recall
    at the area and count _validated_ar_count says, or, where it says None, at those the item names."""

    from mmdet.evaluation import CocoMetric

    from automl_mm.engine.preflight_coco_counts import _validated_ar_count

    ann, sample = _twenty_objects(tmp_path)
    metric = CocoMetric(ann_file=ann, metric='proposal', proposal_nums=nums, use_mp_eval=mp)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    values = metric.compute_metrics(metric.results)
    cfg = dict(type='mmdet.CocoMetric', metric='proposal', proposal_nums=nums, use_mp_eval=mp)
    for item in COCO_AR_ITEMS:
        area, count = item.split('@')
        named = ({'AR': 'all', 'AR_s': 'small', 'AR_m': 'medium', 'AR_l': 'large'}[area], int(count))
        if named[1] not in nums:
            continue  # not evaluated: check_computed_key
        read = _validated_ar_count(f'coco/{item}', cfg)
        area, count = named if read is None else read[1:]
        assert values[item] == pytest.approx(min(count / 20, 1) if area in ('all', 'small') else -1), (item, read)


def _mmdet_bbox_metric_raises(tmp_path, thrs, error) -> None:
    """mmdet's own CocoMetric(metric='bbox', iou_thrs=thrs) on twenty exactly predicted objects raises ``error`` at
    its evaluation."""
    from mmdet.evaluation import CocoMetric

    ann, sample = _twenty_objects(tmp_path)
    metric = CocoMetric(ann_file=ann, metric='bbox', iou_thrs=thrs)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    with pytest.raises(error):
        metric.compute_metrics(metric.results)


@pytest.mark.parametrize('thrs, error', [(0.5, TypeError), ([0.5, 0.75], ValueError)])
def test_iou_thrs_that_pycocotools_cannot_compare_are_refused(tmp_path, thrs, error):
    """mmdet's CocoMetric hands iou_thrs to COCOeval.params.iouThrs as given, where pycocotools takes its len() and
    compares it to 0.5 / 0.75 with == (np.where): a float (CocoMetric's docstring allows one) stopped the first
    evaluation with TypeError, a list with ValueError ('Calling nonzero on 0d arrays'), after training up to it, for
    bbox / segm / proposal (UnroundedCocoMetric alike); proposal_fast takes either, mmdet's default (None) is an
    array."""
    _mmdet_bbox_metric_raises(tmp_path, thrs, error)  # the premise, on mmdet's own metric
    cfg = Config(dict(val_evaluator=[dict(type='Accuracy'), dict(type='automl_mm.UnroundedCocoMetric',
                                                                 metric=['proposal_fast', 'segm'], iou_thrs=thrs)]))
    with pytest.raises(ConfigCheckError, match=re.escape(f'val_evaluator[1].iou_thrs={thrs!r}') + r".*'segm'.*"
                       + error.__name__ + r'.*first evaluation'):
        check_coco_iou_thrs(cfg, test_only=False)
    check_coco_iou_thrs(cfg, test_only=True, split='test')  # val_evaluator is not read
    for fine in (dict(type='mmdet.CocoMetric', metric='proposal_fast', iou_thrs=thrs), dict(type='mmdet.CocoMetric')):
        check_coco_iou_thrs(Config(dict(val_evaluator=fine)), test_only=False)


@pytest.mark.parametrize('thrs, error', [(np.array(0.5), TypeError), (np.array([[0.5, 0.75]]), ValueError),
                                         (np.array([]), IndexError)])
def test_iou_thrs_arrays_pycocotools_cannot_loop_over_are_refused(tmp_path, thrs, error, monkeypatch):
    """An iou_thrs array passed check_coco_iou_thrs whatever its shape, but pycocotools loops over it as one
    threshold per entry: a 0-d array stopped the first evaluation with TypeError (no len()), a 2-D one with
    ValueError (an array's truth value), an empty one with IndexError, after training up to it (the premise, on
    mmdet's own CocoMetric); and with classwise=True the start checks stopped on the 0-d one with a bare 'TypeError:
    len() of unsized object' naming no key (check_coco_classwise_iou_thrs, warn_classwise_iou_columns)."""
    from automl_mm.engine.preflight_coco_settings import check_coco_classwise_iou_thrs, warn_classwise_iou_columns

    _mmdet_bbox_metric_raises(tmp_path, thrs, error)  # the premise, on mmdet's own metric
    cfg = Config(dict(val_evaluator=dict(type='mmdet.CocoMetric', iou_thrs=thrs, classwise=True)))
    with pytest.raises(ConfigCheckError, match=re.escape(f'val_evaluator.iou_thrs={thrs.tolist()!r}') +
                       r': .*one-dimensional.*' + error.__name__ + r'.*first evaluation'):
        check_coco_iou_thrs(cfg, test_only=False)
    monkeypatch.setattr(preflight_coco_settings, 'print_log', lambda *args, **kwargs: None)
    if thrs.ndim != 1:  # left to check_coco_iou_thrs, which check_config runs first: no bare error
        check_coco_classwise_iou_thrs(cfg, test_only=False)
        assert warn_classwise_iou_columns(cfg) == []
    # (proposal_fast: mmdet's recall, not pycocotools)
    check_coco_iou_thrs(Config(dict(val_evaluator=dict(type='mmdet.CocoMetric', metric='proposal_fast',
                                                        iou_thrs=thrs))), test_only=False)


@pytest.mark.parametrize('nums', [(100., 300., 1000.), [100, 300, '1000']])
def test_proposal_nums_that_are_not_ints_are_refused(nums):
    """pycocotools slices each image's detections by maxDets[-1] (mmdet's proposal_nums): with
    proposal_nums=(100., 300., 1000.) mmdet's CocoMetric stopped the first evaluation with 'TypeError: slice indices
    must be integers' (on its own compute_metrics), after training up to it. proposal_fast takes its own."""
    cfg = Config(dict(val_evaluator=dict(type='mmdet.CocoMetric', metric='bbox', proposal_nums=nums)))
    with pytest.raises(ConfigCheckError, match=re.escape(f'val_evaluator.proposal_nums={nums!r}') + r'.*int'):
        check_coco_proposal_nums(cfg, test_only=False)
    check_coco_proposal_nums(Config(dict(val_evaluator=dict(type='mmdet.CocoMetric', metric='proposal_fast',
                                                            proposal_nums=(100., 300., 1000.)))), test_only=False)


def test_the_ap_at_an_iou_threshold_not_evaluated_is_not_computed(tmp_path, logged):
    """pycocotools' COCOeval.summarize reads mAP_50 / mAP_75 (stats[1], stats[2]) at the IoU threshold found by
    ``np.where(iouThr == params.iouThrs)``: with mmdet's CocoMetric iou_thrs=np.linspace(0.55, 0.95, 9) (an array a
    .py config keeps) there is no 0.5 and bbox_mAP_50 was -1, where every object was found, and with
    np.arange(0.5, 0.96, 0.05) (0.7500000000000002, not 0.75) bbox_mAP_75 was: a reward, score or selection on one
    is a constant. The mAP averages over the thresholds given: computed."""

    import numpy as np
    from mmdet.evaluation import CocoMetric

    (tmp_path / 'base.py').write_text('x = 1\n')
    (tmp_path / 'cfg.py').write_text("_base_ = ['./base.py']\nimport numpy as np\nval_evaluator = dict(type="
                                     "'mmdet.CocoMetric', metric='bbox', iou_thrs=np.linspace(0.55, 0.95, 9))\n")
    without_50 = Config.fromfile(str(tmp_path / 'cfg.py')).val_evaluator
    assert isinstance(without_50.iou_thrs, np.ndarray)  # the array reaches the checks from a config
    without_75 = np.arange(0.5, 0.96, 0.05)
    ann, sample = _twenty_objects(tmp_path)
    for thrs, missing in ((without_50.iou_thrs, 'bbox_mAP_50'), (without_75, 'bbox_mAP_75')):
        metric = CocoMetric(ann_file=ann, metric='bbox', iou_thrs=thrs)
        metric.dataset_meta = dict(classes=('item', ))
        metric.process({}, [sample])
        values = metric.compute_metrics(metric.results)  # the premise, on mmdet's own metric
        assert values[missing] == -1 and values['bbox_mAP'] > 0, values
        assert [k for k in ('bbox_mAP_50', 'bbox_mAP_75') if values[k] == -1] == [missing], values
    assert uncomputed_coco_keys(without_50) == ['coco/bbox_mAP_50']
    both = dict(type='automl_mm.UnroundedCocoMetric', metric=['bbox', 'proposal'], iou_thrs=np.array([0.6, 0.7]),
                metric_items=['mAP', 'mAP_50', 'mAP_75', 'AR@100'], prefix='det')
    assert uncomputed_coco_keys(both) == ['det/bbox_mAP_50', 'det/bbox_mAP_75', 'det/mAP_50', 'det/mAP_75']
    assert uncomputed_coco_keys(dict(type='mmdet.CocoMetric', iou_thrs=without_75)) == ['coco/bbox_mAP_75']
    for fine in (dict(type='mmdet.CocoMetric', iou_thrs=np.linspace(.5, 0.95, 10)), dict(type='mmdet.CocoMetric'),
                 dict(type='mmdet.CocoMetric', iou_thrs=np.array([0.5, 0.75])),
                 dict(type='mmdet.CocoMetric', iou_thrs=[0.6]),  # not an array: check_coco_iou_thrs refuses it
                 dict(type='mmdet.CocoMetric', metric='proposal', iou_thrs=np.array([0.6]))):  # AR items only
        assert uncomputed_coco_keys(fine) == [], fine
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.metric_key='coco/bbox_mAP_50' is the AP at an IoU "
                                               r'threshold of 0\.5 .*, which train_cfg\.search_evaluator '
                                               r'\(CocoMetric\) does not evaluate: its iou_thrs=\[0\.55, .* -1.*'
                                               r'Add 0\.5 to '
                                               r'train_cfg\.search_evaluator\.iou_thrs'):
        check_metric_key('coco/bbox_mAP_50', 'train_cfg.metric_key', without_50, 'train_cfg.search_evaluator')
    check_metric_key('coco/bbox_mAP_75', 'train_cfg.metric_key', without_50, 'train_cfg.search_evaluator')
    check_metric_key('coco/bbox_mAP', 'train_cfg.metric_key', without_50, 'train_cfg.search_evaluator')
    cfg = Config(dict(val_dataloader=dict(), val_evaluator=without_50,
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best='coco/bbox_mAP_50'))))
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='coco/bbox_mAP_50' is the AP "
                                               r'at an IoU threshold of 0\.5'):
        check_uncomputed_selection_keys(cfg)
    assert warn_uncomputed_coco_items(cfg) == ['val_evaluator']
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    assert re.search(r"val_evaluator \(CocoMetric\) reports 'coco/bbox_mAP_50', .*IoU threshold.*0\.5.*iou_thrs",
                     logged[0][0]), logged[0][0]
    assert 'detection count' not in logged[0][0] and 'proposal_nums' not in logged[0][0], logged[0][0]


def test_check_config_refuses_a_selection_on_an_ap_at_an_iou_threshold_not_evaluated(logged, coco_root):
    """Through check_config: the synthcoco detector selecting checkpoints by bbox_mAP_75 with iou_thrs=[0.5, 0.6]
    (an array): -1 at every validation, the first checkpoint kept as the best. Reported only: warned."""
    import numpy as np

    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator.iou_thrs = np.array([0.5, 0.6])
    check_config(cfg)
    assert [msg for msg, _ in logged if 'iou_thrs' in msg] == [logged[0][0]] and \
        logged[0][0].startswith("val_evaluator (CocoMetric) reports 'coco/bbox_mAP_75', read at an IoU threshold "
                                '(0.75)'), logged
    cfg.default_hooks.checkpoint.save_best = 'coco/bbox_mAP_75'
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='coco/bbox_mAP_75' is the AP at "
                                               r'an IoU threshold of 0\.75 .*iou_thrs=\[0\.5, 0\.6\]'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py selects nothing


def _own_class(name: str) -> type:
    """A user's subclass of mmdet's CocoMetric (mmdet's compute_metrics kept) named ``name``."""
    from mmdet.evaluation import CocoMetric

    return type(name, (CocoMetric, ), {'__module__': 'my_project.metrics'})


@pytest.mark.parametrize('name', ['CocoMetric', 'KeptCocoMetric'])
def test_the_ar_count_advice_follows_the_metric_class_not_its_type_name(name):
    """_ar_count_fix worded its advice by the type name: a user's subclass named 'CocoMetric' was told to become
    automl_mm's UnroundedCocoMetric (its own class dropped), one under another name was not told of it at all."""
    with pytest.raises(ConfigCheckError) as raised:
        check_uncomputed_selection_keys(_selection('coco/AR@100', type=_own_class(name)))
    message = str(raised.value)
    assert f"({name} (my_project.metrics, a subclass of mmdet's CocoMetric))" in message, message
    assert message.endswith(f'Set val_evaluator.proposal_nums=(100, 300, 1000), or derive {name} from '
                            "automl_mm.UnroundedCocoMetric (each AR item at the count it names) rather than from "
                            "mmdet's CocoMetric"), message
    with pytest.raises(ConfigCheckError, match=r"Set val_evaluator\.type='automl_mm\.UnroundedCocoMetric' \(each AR "
                                               r'item at the count it names\), or proposal_nums=\(100, 300, 1000\)$'):
        check_uncomputed_selection_keys(_selection('coco/AR@100', type='mmdet.CocoMetric'))
