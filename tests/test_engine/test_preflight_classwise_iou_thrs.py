"""mmdet's ``CocoMetric(classwise=True)`` (3.3 ``compute_metrics``, after detectron2; ``OVCocoMetric`` alike) logs a
per-class table whose mAP_50 and mAP_75 columns read ``precisions[0]`` and ``precisions[5]``, the first and sixth
IoU thresholds of ``iou_thrs`` (0.5 and 0.75 of mmdet's default 0.50:0.95). With an ``iou_thrs`` array of fewer
than six thresholds the first evaluation stopped with IndexError, after training up to it; with thresholds that do
not put 0.5 / 0.75 there, the columns are APs at other thresholds than their headers say, silently."""
from __future__ import annotations

import glob
import logging
import os.path as osp
import re

import mmdet
import numpy as np
import pytest
from mmengine.config import Config
from test_evaluation.test_coco_unrounded import _twenty_objects

from automl_mm.engine import preflight_coco_settings
from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.engine.preflight_coco_settings import (
    check_coco_classwise_iou_thrs,
    warn_classwise_iou_columns,
    warn_ov_ap50_threshold,
)

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
FIVE = np.array([0.5, 0.6, 0.7, 0.8, 0.9])
SIX = np.array([0.5, 0.55, 0.6, 0.65, 0.7, 0.75])


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(preflight_coco_settings, 'print_log',
                        lambda msg, logger=None, level=None: messages.append((msg, level)))
    return messages


def _computed(tmp_path, cls, **options):
    ann, sample = _twenty_objects(tmp_path)
    metric = cls(ann_file=ann, **options)
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    return metric.compute_metrics(metric.results)


@pytest.mark.parametrize('cls_name', ['CocoMetric', 'UnroundedCocoMetric'])
def test_the_index_error_is_mmdets(tmp_path, cls_name):
    """The premise, on mmdet's own compute_metrics (UnroundedCocoMetric runs it first): five thresholds stop at
    precisions[5], six pass; without classwise five pass."""
    from mmdet.evaluation import CocoMetric

    from automl_mm.evaluation import UnroundedCocoMetric

    cls = dict(CocoMetric=CocoMetric, UnroundedCocoMetric=UnroundedCocoMetric)[cls_name]
    with pytest.raises(IndexError, match='index 5 is out of bounds for axis 0 with size 5'):
        _computed(tmp_path, cls, metric='bbox', classwise=True, iou_thrs=FIVE)
    assert _computed(tmp_path, cls, metric='bbox', classwise=True, iou_thrs=SIX)['bbox_mAP'] > 0
    assert _computed(tmp_path, cls, metric='bbox', iou_thrs=FIVE)['bbox_mAP'] > 0


@pytest.mark.parametrize('metric, where', [
    (dict(type='CocoMetric'), 'val_evaluator'),
    (dict(type='automl_mm.UnroundedCocoMetric', metric=['proposal', 'segm']), 'val_evaluator'),
    (dict(type='mmdet.CocoMetric', use_mp_eval=True), 'val_evaluator'),  # COCOevalMP accumulates as COCOeval
    (dict(type='OVCocoMetric'), 'val_evaluator'),
    (dict(type='CocoVideoMetric', metric=['bbox']), 'val_evaluator'),
    (dict(type='CocoOccludedSeparatedMetric'), 'val_evaluator'),
])
def test_fewer_than_six_thresholds_with_classwise_are_refused(metric, where):
    metric = dict(metric, classwise=True, iou_thrs=FIVE)
    cfg = Config(dict(default_scope='mmdet', val_evaluator=metric))
    with pytest.raises(ConfigCheckError, match=re.escape(f'{where}.iou_thrs=[0.5, 0.6, 0.7, 0.8, 0.9]') +
                       r' with classwise=True: .*precisions\[5\].*IndexError at the first evaluation'):
        check_coco_classwise_iou_thrs(cfg, test_only=False)
    check_coco_classwise_iou_thrs(cfg, test_only=True, split='test')  # val_evaluator is not read


def test_every_evaluator_key_is_checked():
    bad = dict(type='CocoMetric', classwise=True, iou_thrs=np.array([0.5]))
    for cfg, key, test_only in (
            (dict(test_evaluator=[dict(type='Accuracy'), bad]), r'test_evaluator\[1\]', True),
            (dict(val_evaluator=dict(type='Evaluator', metrics=[bad])), r'val_evaluator\[0\]', False),
            (dict(custom_hooks=[dict(type='OHLHook', reward_evaluator=bad)]), r'custom_hooks\[0\]\.reward_evaluator',
             False),
            (dict(train_cfg=dict(type='CRNASLoop', search_evaluator=bad)), r'train_cfg\.search_evaluator', False)):
        with pytest.raises(ConfigCheckError, match=key + r'\.iou_thrs=\[0\.5\] with classwise=True'):
            check_coco_classwise_iou_thrs(Config(dict(cfg, default_scope='mmdet')), test_only=test_only)


def test_what_mmdet_runs_passes(logged):
    fine = dict(type='CocoMetric', classwise=True, iou_thrs=FIVE)
    for metric in (dict(fine, classwise=False), dict(fine, metric=['proposal', 'proposal_fast']),
                   dict(fine, format_only=True, outfile_prefix='/tmp/x'), dict(fine, iou_thrs=None),
                   dict(fine, iou_thrs=SIX), dict(fine, iou_thrs=[0.5]),  # a list: check_coco_iou_thrs refuses it
                   dict(fine, type='LVISMetric'),  # lvis' own evaluation, table and thresholds
                   dict(fine, type='VOCMetric')):
        cfg = Config(dict(default_scope='mmdet', val_evaluator=metric))
        check_coco_classwise_iou_thrs(cfg, test_only=False)
        assert warn_classwise_iou_columns(cfg) == [], metric
    assert logged == []


def test_a_users_own_compute_metrics_is_not_judged():
    from mmdet.evaluation import CocoMetric

    class OwnTable(CocoMetric):
        def compute_metrics(self, results):
            return {}

    class KeptTable(CocoMetric):
        pass

    check_coco_classwise_iou_thrs(Config(dict(val_evaluator=dict(type=OwnTable, classwise=True, iou_thrs=FIVE))),
                                  test_only=False)
    with pytest.raises(ConfigCheckError, match=r'val_evaluator\.iou_thrs=.* \(KeptTable'):
        check_coco_classwise_iou_thrs(Config(dict(val_evaluator=dict(type=KeptTable, classwise=True,
                                                                     iou_thrs=FIVE))), test_only=False)


def test_the_table_columns_at_other_thresholds_are_warned_of(tmp_path, logged):
    """np.linspace(0.55, 0.95, 9): the mAP_50 column is the AP at 0.55, mAP_75 at 0.8 (mmdet logs them under those
    headers). mmdet's default, np.arange(0.5, 0.96, 0.05) (0.7500000000000002) and SIX are read where named."""
    from mmdet.evaluation import CocoMetric

    ann, sample = _twenty_objects(tmp_path)
    metric = CocoMetric(ann_file=ann, metric='bbox', classwise=True, iou_thrs=np.linspace(0.55, 0.95, 9))
    metric.dataset_meta = dict(classes=('item', ))
    metric.process({}, [sample])
    metric.compute_metrics(metric.results)  # runs: the mislabel is silent
    cfg = Config(dict(default_scope='mmdet', val_evaluator=dict(type='CocoMetric', classwise=True,
                                                                iou_thrs=np.linspace(0.55, 0.95, 9)),
                      test_evaluator=dict(type='CocoMetric', classwise=True, iou_thrs=np.linspace(0.55, 0.95, 9))))
    check_coco_classwise_iou_thrs(cfg, test_only=False)
    assert warn_classwise_iou_columns(cfg) == ['val_evaluator', 'test_evaluator']
    assert len(logged) == 1 and logged[0][1] == logging.WARNING, logged
    assert re.search(r"^val_evaluator and test_evaluator \(CocoMetric, classwise=True\) log .*mAP_50 .* 0\.55 .*"
                     r"mAP_75 .* 0\.8\b", logged[0][0]), logged[0][0]
    assert warn_classwise_iou_columns(cfg, test_only=True, split='val') == ['val_evaluator']
    for thrs in (np.arange(0.5, 0.96, 0.05), np.linspace(.5, 0.95, 10), SIX, np.append(SIX, 0.3)):
        assert warn_classwise_iou_columns(Config(dict(default_scope='mmdet', val_evaluator=dict(
            type='CocoMetric', classwise=True, iou_thrs=thrs)))) == []
    # only the column that is off is named
    logged.clear()
    warn_classwise_iou_columns(Config(dict(default_scope='mmdet', val_evaluator=dict(
        type='CocoMetric', classwise=True, iou_thrs=np.array([0.5, .6, .7, .8, .9, .95])))))
    assert 'mAP_75 column at 0.95' in logged[0][0] and 'mAP_50 column' not in logged[0][0], logged


def test_check_config_refuses_the_index_error(coco_root, logged):
    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_evaluator.update(classwise=True, iou_thrs=FIVE)
    with pytest.raises(ConfigCheckError, match=r'test_evaluator\.iou_thrs=.* with classwise=True'):
        check_config(cfg)
    cfg.test_evaluator.iou_thrs = np.linspace(0.55, 0.95, 9)
    check_config(cfg, test_only=True)
    assert any(msg.startswith('test_evaluator (CocoMetric, classwise=True) log') for msg, _ in logged), logged


def test_mmdets_configs_are_not_refused(logged):
    """No false refusal or warning: mmdet 3.3's configs with a classwise or OV COCO metric (qdtrack's
    CocoVideoMetric, mm_grounding_dino's OVCocoMetric) or a COCO iou_thrs."""
    files = [f for f in glob.glob(osp.join(MMDET_CONFIGS, '**', '*.py'), recursive=True)
             if re.search(r'classwise|OVCocoMetric|CocoVideoMetric|iou_thrs=', open(f).read())]
    assert len(files) >= 10
    for path in files:
        cfg = Config.fromfile(path)
        check_coco_classwise_iou_thrs(cfg, test_only=False)
        warn_classwise_iou_columns(cfg)
        warn_ov_ap50_threshold(cfg)
    assert logged == []


def test_ov_coco_metric_ap50_at_another_threshold_is_warned_of_and_not_read(tmp_path, logged):
    """mmdet's OVCocoMetric reads base_ap50 / novel_ap50 at precisions[0], the first of iou_thrs, whatever classwise:
    with np.linspace(0.55, 0.95, 9) and every box predicted at IoU 0.54, base_ap50 was 0.0 (the AP at 0.55; 1.0 at
    mmdet's default). Reported: warned; read (an OHL reward, NAS score, save_best): refused."""
    import torch
    from mmdet.evaluation.metrics import OVCocoMetric

    from automl_mm.engine.preflight_coco_counts import check_uncomputed_selection_keys
    from automl_mm.engine.preflight_metrics import check_metric_key

    ann, sample = _twenty_objects(tmp_path)
    sample['pred_instances']['bboxes'] += torch.tensor([6., 0., 6., 0.])  # IoU 280 / 520 = 0.54 with each object
    late = np.linspace(0.55, 0.95, 9)
    for thrs, expected in ((None, 1.0), (late, 0.0)):
        metric = OVCocoMetric(ann_file=ann, iou_thrs=thrs)
        metric.dataset_meta = dict(classes=('item', ), base_classes=('item', ), novel_classes=())
        metric.process({}, [sample])
        assert metric.compute_metrics(metric.results)['base_ap50'] == expected  # the premise, on mmdet's metric
    ov = dict(type='OVCocoMetric', iou_thrs=late, prefix='ov')
    cfg = Config(dict(val_dataloader=dict(), val_evaluator=ov,
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best='ov/novel_ap50'))))
    assert warn_ov_ap50_threshold(cfg) == ['val_evaluator']
    assert len(logged) == 1 and logged[0][0].startswith("val_evaluator (OVCocoMetric) reports 'ov/base_ap50', "
                                                        "'ov/novel_ap50' at the first of its iou_thrs"), logged
    assert '0.55, not 0.5' in logged[0][0]
    with pytest.raises(ConfigCheckError, match=r"default_hooks\.checkpoint\.save_best='ov/novel_ap50' is read by "
                                               r'val_evaluator \(OVCocoMetric\) at the first of its iou_thrs=.*0\.55'):
        check_uncomputed_selection_keys(cfg)
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='ov/base_ap50' is read by "
                                               r'custom_hooks\[0\]\.reward_evaluator \(OVCocoMetric\)'):
        check_metric_key('ov/base_ap50', 'custom_hooks[0].reward_key', ov, 'custom_hooks[0].reward_evaluator')
    check_metric_key('ov/base_ap', 'custom_hooks[0].reward_key', ov, 'custom_hooks[0].reward_evaluator')
    logged.clear()
    for fine in (dict(ov, iou_thrs=None), dict(ov, iou_thrs=SIX), dict(ov, metric='proposal'),
                 dict(ov, type='CocoMetric')):  # (CocoMetric reports no base_ap50: check_metric_key's own refusal)
        assert warn_ov_ap50_threshold(Config(dict(val_evaluator=fine))) == [], fine
        if fine['type'] == 'OVCocoMetric':
            check_metric_key('ov/base_ap50', 'custom_hooks[0].reward_key', fine, 'custom_hooks[0].reward_evaluator')
    assert logged == []


def test_ov_ap50_of_one_metric_config_in_both_splits_is_warned_of_once(logged):
    """warn_ov_ap50_threshold warned once per evaluator key: test_evaluator = val_evaluator (one metric config, one
    cause) was warned of twice; now once, naming both keys."""
    ov = dict(type='OVCocoMetric', iou_thrs=np.linspace(0.55, 0.95, 9))
    assert warn_ov_ap50_threshold(Config(dict(val_evaluator=ov, test_evaluator=ov))) == ['val_evaluator',
                                                                                         'test_evaluator']
    assert len(logged) == 1 and logged[0][0].startswith("val_evaluator and test_evaluator (OVCocoMetric) report "
                                                        "'coco/base_ap50', 'coco/novel_ap50' at the first of their "
                                                        'iou_thrs (mmdet reads them at precisions[0]), 0.55, '), logged


def test_check_config_warns_of_ov_ap50_at_another_threshold(coco_root, logged):
    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_evaluator = dict(cfg.test_evaluator, type='OVCocoMetric', iou_thrs=np.linspace(0.55, 0.95, 9))
    check_config(cfg, test_only=True)
    assert [msg for msg, _ in logged if 'base_ap50' in msg][0].startswith('test_evaluator (OVCocoMetric) reports'), \
        logged


def test_a_users_ov_coco_metric_that_keeps_mmdets_compute_is_judged_as_ov_coco_metric(logged):
    """The base_ap50 / novel_ap50 check judged the type name OVCocoMetric alone: a user's subclass that keeps mmdet's
    compute_metrics (so reads them at precisions[0] as mmdet's does) passed with iou_thrs=np.linspace(0.55, 0.95, 9),
    a reward_key 'coco/base_ap50' read the AP at 0.55 silently. One of its own compute_metrics is not judged."""
    from mmdet.evaluation.metrics import OVCocoMetric

    from automl_mm.engine.preflight_metrics import check_metric_key

    class KeptOVCocoMetric(OVCocoMetric):
        """A user's subclass that keeps mmdet's compute_metrics."""

    class OwnOVCocoMetric(OVCocoMetric):
        def compute_metrics(self, results):
            return dict(base_ap50=0.0, novel_ap50=0.0)

    late = np.linspace(0.55, 0.95, 9)
    kept = dict(type=KeptOVCocoMetric, iou_thrs=late)
    assert warn_ov_ap50_threshold(Config(dict(val_evaluator=kept))) == ['val_evaluator']
    assert logged and logged[0][0].startswith("val_evaluator (KeptOVCocoMetric) reports 'coco/base_ap50'"), logged
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\]\.reward_key='coco/base_ap50' is read by "
                                               r'custom_hooks\[0\]\.reward_evaluator \(KeptOVCocoMetric\)'):
        check_metric_key('coco/base_ap50', 'custom_hooks[0].reward_key', kept, 'custom_hooks[0].reward_evaluator')
    logged.clear()
    own = dict(type=OwnOVCocoMetric, iou_thrs=late)
    assert warn_ov_ap50_threshold(Config(dict(val_evaluator=own))) == [] and logged == []
    from automl_mm.engine.preflight_coco_counts import check_computed_key
    check_computed_key('coco/base_ap50', 'custom_hooks[0].reward_key', own, 'custom_hooks[0].reward_evaluator')
