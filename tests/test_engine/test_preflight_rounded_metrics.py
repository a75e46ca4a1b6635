"""A search ranking by a metric mmdet reports rounded: copies / candidates within the rounding step tie (the first in
order wins; every OHL copy tied: advantages 0). COCO AP is read at full precision; the others are warned about."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_metrics import warn_rounded_search_metric

from conftest import REPO_ROOT

OHL = f'{REPO_ROOT}/configs/ohl/ohl_convnet_1x4_12e_digits.py'
PC_NAS = f'{REPO_ROOT}/configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py'


def test_mmdet_voc_metric_rounds_its_per_iou_ap_not_its_map():
    """The fault: mmdet's VOCMetric reports AP50 as round(eval_map's AP, 3); its mAP is the unrounded mean."""
    from mmdet.evaluation import VOCMetric
    from mmdet.evaluation.functional import eval_map

    gt = np.array([[0, 0, 20, 20], [30, 30, 50, 50], [60, 0, 80, 20]], dtype=np.float32)
    pred = np.array([[0, 0, 20, 20, .9], [100, 100, 120, 120, .8], [30, 30, 50, 50, .7]], dtype=np.float32)
    metric = VOCMetric(iou_thrs=[0.5])
    metric.dataset_meta = dict(classes=('a', ))
    labels, none = torch.zeros(3, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    metric.process({}, [dict(gt_instances=dict(bboxes=torch.from_numpy(gt), labels=labels),
                             ignored_instances=dict(bboxes=torch.zeros(0, 4), labels=none),
                             pred_instances=dict(bboxes=torch.from_numpy(pred[:, :4]),
                                                 scores=torch.from_numpy(pred[:, 4]), labels=labels))])
    values = metric.compute_metrics(metric.results)
    ap, _ = eval_map([[pred]], [dict(bboxes=gt, labels=np.zeros(3, dtype=np.int64))], iou_thr=0.5, logger='silent',
                     eval_mode='11points', use_legacy_coordinate=True)  # VOCMetric's defaults
    assert ap != round(ap, 3)  # the example is not a 3-decimal number
    assert values['AP50'] == round(ap, 3) and values['mAP'] == pytest.approx(ap, abs=1e-12)


@pytest.fixture
def logged(monkeypatch):
    import automl_mm.engine.preflight_metrics as module

    messages = []
    monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: messages.append(msg))
    return messages


def test_an_ohl_reward_of_a_rounded_mmdet_key_is_warned_about_naming_keys_metric_and_step(logged):
    cfg = Config.fromfile(OHL)
    cfg.custom_hooks[0].reward_evaluator = dict(type='mmdet.VOCMetric', iou_thrs=[0.5, 0.75])
    cfg.custom_hooks[0].reward_key = 'pascal_voc/AP75'
    check_config(cfg)
    assert logged == [
        "custom_hooks[0].reward_key='pascal_voc/AP75' is read from custom_hooks[0].reward_evaluator (mmdet's "
        "VOCMetric), reported rounded to 3 decimals by mmdet's VOCMetric.compute_metrics: copies (OHL) or candidates "
        '(NAS) whose values differ by less '
        'than 0.001 tie, the first in order wins, and with every OHL copy tied the rewards teach the controller '
        "nothing. COCO AP (mmdet's CocoMetric, automl_mm.UnroundedCocoMetric) is read at full precision; rank by "
        'such a key where the search can']
    logged.clear()
    cfg.custom_hooks[0].reward_key = 'pascal_voc/mAP'  # the mean of the unrounded APs
    check_config(cfg)
    assert not logged


def test_a_nas_score_of_a_rounded_mmdet_metric_read_through_val_evaluator_is_warned_about(logged):
    nas = Config.fromfile(PC_NAS)
    for key in ('search_evaluator', 'reward_evaluator'):
        nas.pop(key, None)
    nas.train_cfg.pop('search_evaluator', None)
    nas.val_evaluator = dict(type='mmdet.ReIDMetrics', metric=['mAP'])
    nas.train_cfg.metric_key = 'reid-metric/mAP'
    check_config(nas)
    assert len(logged) == 1 and logged[0].startswith(
        "train_cfg.metric_key='reid-metric/mAP' is read from val_evaluator (mmdet's ReIDMetrics), reported rounded "
        "to 3 decimals by mmdet's ReIDMetrics.compute_metrics:")


@pytest.mark.parametrize('metric, key, step', [
    (dict(type='LVISMetric'), 'lvis/bbox_AP', '0.001'),
    (dict(type='DODCocoMetric'), 'dod/mAP', '0.001'),
    (dict(type='CrowdHumanMetric', ann_file='x.odgt'), 'crowd_human/mAP', '0.0001'),
    (dict(type='SemSegMetric', prefix='seg'), 'seg/mIoU', '0.01 percentage points'),
    (dict(type='OpenImagesMetric'), 'openimages/AP50', '0.001'),
])
def test_every_rounded_mmdet_metric_kind(logged, metric, key, step):
    assert warn_rounded_search_metric(key, 'train_cfg.metric_key', [dict(type='Accuracy'), metric],
                                      'train_cfg.search_evaluator', 'mmdet')
    assert f'differ by less than {step} tie' in logged[0]


@pytest.mark.parametrize('metric, key', [
    (dict(type='CocoMetric'), 'coco/bbox_mAP'),  # read at full precision
    (dict(type='OVCocoMetric'), 'coco/base_ap'),
    (dict(type='automl_mm.UnroundedCocoMetric'), 'coco/bbox_mAP'),
    (dict(type='OpenImagesMetric'), 'openimages/mAP'),
    (dict(type='VOCMetric', metric='recall'), 'pascal_voc/AR@100'),
])
def test_full_precision_keys_are_not_warned_about(logged, metric, key):
    assert not warn_rounded_search_metric(key, 'train_cfg.metric_key', metric, 'train_cfg.search_evaluator', 'mmdet')
    assert not logged


@pytest.mark.parametrize('save_best, evaluator, warned', [
    ('coco/bbox_mAP', dict(type='CocoMetric'), ['coco/bbox_mAP']),  # round(val, 3)
    ('auto', dict(type='CocoMetric', metric=['segm', 'bbox']), ['coco/segm_mAP']),  # mmengine: the first key
    # classwise: mmdet reports ['coco/b_precision', 'coco/a_precision', 'coco/bbox_mAP', ...] (file [2: b, 1: a])
    ('auto', dict(type='CocoMetric', classwise=True), ['coco/<first class>_precision']),
    ('auto', dict(type='CocoMetric', metric=['segm'], classwise=True), ['coco/<first class>_precision']),
    (['coco/car_precision', 'coco/bbox_mAP'], dict(type='CocoMetric', classwise=True),
     ['coco/car_precision', 'coco/bbox_mAP']),
    (['coco/AR@100', 'det/bbox_mAP_50'], [dict(type='CocoMetric', metric='proposal_fast'),
                                          dict(type='mmdet.CocoMetric', prefix='det')], ['det/bbox_mAP_50']),
    ('coco/AR@100', dict(type='CocoMetric', metric='proposal'), ['coco/AR@100']),  # COCOeval's, '{:.3f}'
    ('coco/AR@100', dict(type='CocoMetric', metric=['proposal', 'proposal_fast']), []),  # written again unrounded
    ('coco/base_ap', dict(type='OVCocoMetric'), []),  # np.mean, unrounded
    ('coco/bbox_mAP', dict(type='OVCocoMetric'), ['coco/bbox_mAP']),
    ('pascal_voc/AP50', dict(type='VOCMetric'), ['pascal_voc/AP50']),
    ('pascal_voc/mAP', dict(type='VOCMetric'), []),
    ('coco/bbox_mAP', dict(type='automl_mm.UnroundedCocoMetric'), []),
    ('auto', dict(type='automl_mm.UnroundedCocoMetric'), []),
])
def test_save_best_on_a_rounded_validation_key_is_warned_naming_it(logged, save_best, evaluator, warned):
    """mmdet's CocoMetric rounds its AP to 3 decimals (tests/test_evaluation/test_coco_unrounded.py): validations
    within 0.001 tie and mmengine's CheckpointHook (rule 'greater': '>') keeps the first checkpoint of the tie."""
    from automl_mm.engine.preflight_metrics import warn_rounded_save_best

    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best=save_best)),
                      val_dataloader=dict(), val_evaluator=evaluator))
    assert warn_rounded_save_best(cfg, 'mmdet') == warned
    assert len(logged) == len(warned)
    for key, message in zip(warned, logged):
        shown = f"'auto' ({key!r}, val_evaluator's first key)" if save_best == 'auto' else repr(key)
        assert message.startswith(f'default_hooks.checkpoint.save_best={shown}')
        assert ' is read from val_evaluator (' in message
        kind = 'segm' if 'segm' in str(evaluator) else 'bbox'
        assert ('<first class>' in key) == (
            "(with classwise=True mmdet reports each class's AP before its mAP: one class's AP selects the "
            f"checkpoint; save_best='coco/{kind}_mAP' selects by the mAP) is read" in message)
        assert re.search(r"\), reported rounded to 3 decimals by mmdet's \w+\.compute_metrics: validations whose "
                         r'values differ by less than 0\.001 tie, and mmengine keeps the first checkpoint of a tie',
                         message), message


def test_save_best_of_a_coco_key_is_warned_by_the_start_checks(logged, coco_root):
    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    cfg.default_hooks.checkpoint.save_best = 'coco/bbox_mAP'
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', rule='greater', min_delta=0.0005)]
    check_config(cfg)
    assert sum(m.startswith(f"custom_hooks[{len(cfg.custom_hooks) - 1}].monitor='coco/bbox_mAP'") for m in logged) == 1
    assert [m for m in logged if 'save_best' in m] == [
        "default_hooks.checkpoint.save_best='coco/bbox_mAP' is read from val_evaluator (mmdet's CocoMetric), "
        "reported rounded to 3 decimals by mmdet's CocoMetric.compute_metrics: validations whose values differ by "
        'less than 0.001 tie, and mmengine keeps '
        "the first checkpoint of a tie, not the better one. Set val_evaluator's type='automl_mm.UnroundedCocoMetric' "
        "(mmdet's CocoMetric at full precision)"]


@pytest.mark.parametrize('hooks, schedulers, warned', [
    ([dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', min_delta=0.0005)], [], ['custom_hooks[0]']),
    # min_delta 0: a tie counts as a gain (mmengine: best + 0 > value is none), and round() keeps the order of values
    ([dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', min_delta=0)], [], []),
    ([dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP')], [], []),  # mmengine's min_delta 0.1: above 0.001
    ([dict(type='EarlyStoppingHook', monitor='coco/AR@100', min_delta=0)], [], []),  # proposal_fast: unrounded
    ([dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', min_delta='0')], [], []),  # mmengine's to refuse
    ([dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', rule='less', min_delta=-0.0001)], [], []),
    ([dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', rule='less', min_delta=0.0001)], [],
     ['custom_hooks[0]']),
    ([], [dict(type='ReduceOnPlateauLR', monitor='coco/bbox_mAP', rule='greater')],  # rel 1e-4 of at most 1
     ['param_scheduler.0']),
    ([], [dict(type='ReduceOnPlateauLR', monitor='coco/bbox_mAP', rule='greater', threshold=0.01,
               threshold_rule='abs')], []),
    ([], [dict(type='ReduceOnPlateauLR', monitor='loss')], []),
])
def test_a_monitor_on_a_rounded_key_counting_gains_below_the_step_is_warned(logged, hooks, schedulers, warned):
    """mmengine's EarlyStoppingHook counts an epoch without a gain above min_delta as none, ReduceOnPlateau one
    without a gain above best * threshold: on coco/bbox_mAP (mmdet: round(val, 3)) with min_delta=0.0005 a gain of
    0.0007 (0.4 -> 0.4007, 0.4014) rounds to none and a patience=1 hook stops at the third validation (at full
    precision it goes on); with min_delta=0 a tie is a gain and nothing is lost."""
    from automl_mm.engine.preflight_metrics import warn_rounded_monitors

    cfg = Config(dict(custom_hooks=hooks, param_scheduler=schedulers, val_dataloader=dict(),
                      val_evaluator=dict(type='CocoMetric', metric=['bbox', 'proposal_fast']), default_scope='mmdet'))
    assert warn_rounded_monitors(cfg, 'mmdet') == warned
    assert len(logged) == len(warned)
    hook = dict(hooks[0]) if hooks else {}
    if hook.get('monitor') == 'coco/bbox_mAP' and isinstance(hook.get('min_delta', 0.1), float | int):
        from mmengine.hooks import EarlyStoppingHook  # the warning's premise: mmengine's own hook, rounded and not

        hook.pop('type')
        values = [0.4, 0.4007, 0.4014] if hook.get('rule', 'greater') == 'greater' else [0.4, 0.3993, 0.3986]
        stops = [any([h._check_stop_condition(round(v, 3) if rounded else v)[0] for v in values])
                 for rounded in (True, False) for h in [EarlyStoppingHook(patience=1, **hook)]]
        assert (stops == [True, False]) == bool(warned)
    if warned:
        kind = 'EarlyStoppingHook' if hooks else 'ReduceOnPlateauLR'
        least = f"min_delta={hooks[0]['min_delta']!r} counts" if hooks else "threshold=0.0001 (relative) counts"
        assert logged[0].startswith(f"{warned[0]}.monitor='coco/bbox_mAP' ({kind}) is read from val_evaluator "
                                    "(mmdet's CocoMetric), reported rounded to 3 decimals by mmdet's "
                                    f'CocoMetric.compute_metrics, and its {least} gains '
                                    'smaller than 0.001: such a gain rounds to none')


def _user_classes():
    from mmdet.evaluation.metrics import CocoMetric, SemSegMetric, VOCMetric

    class KeptVOCMetric(VOCMetric):  # keeps mmdet's compute_metrics: rounds as mmdet's does
        pass

    class OwnVOCMetric(VOCMetric):  # its own compute_metrics: not known to round
        def compute_metrics(self, results):
            return {}

    class KeptCocoMetric(CocoMetric):
        pass

    class KeptSemSegMetric(SemSegMetric):
        pass

    return KeptVOCMetric, OwnVOCMetric, KeptCocoMetric, KeptSemSegMetric


def test_rounded_warnings_name_the_metrics_own_class_and_where_it_comes_from(logged):
    """The warnings named cls.__name__ "which mmdet reports rounded": a user's subclass was called mmdet's, one of
    its own compute_metrics was warned of, and a SemSegMetric subclass's step lost its percentage points. Each now
    names the class and where it comes from, and the compute_metrics that rounds."""
    from automl_mm.engine.preflight_metrics import warn_rounded_monitors, warn_rounded_save_best

    kept_voc, own_voc, kept_coco, kept_semseg = _user_classes()
    where = kept_voc.__module__

    def search(metric, key):
        logged.clear()
        return warn_rounded_search_metric(key, 'train_cfg.metric_key', dict(type=metric), 'val_evaluator', 'mmdet')

    assert search(kept_voc, 'pascal_voc/AP50')
    assert logged[0].startswith(
        f"train_cfg.metric_key='pascal_voc/AP50' is read from val_evaluator (KeptVOCMetric ({where}, a subclass of "
        "mmdet's VOCMetric)), reported rounded to 3 decimals by mmdet's VOCMetric.compute_metrics: "), logged
    assert not search(own_voc, 'pascal_voc/AP50') and not logged
    assert search('mmdet.VOCMetric', 'pascal_voc/AP50') and "(mmdet's VOCMetric), reported" in logged[0], logged
    assert search(kept_semseg, 'mIoU') and f"(KeptSemSegMetric ({where}, a subclass of mmdet's SemSegMetric)), " \
        "reported rounded to 2 decimals by mmdet's SemSegMetric.compute_metrics: " in logged[0] and \
        'less than 0.01 percentage points tie' in logged[0], logged

    logged.clear()
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', save_best='coco/bbox_mAP')),
                      val_dataloader=dict(), val_evaluator=dict(type=kept_coco)))
    assert warn_rounded_save_best(cfg, 'mmdet') == ['coco/bbox_mAP']
    assert logged == [
        f"default_hooks.checkpoint.save_best='coco/bbox_mAP' is read from val_evaluator (KeptCocoMetric ({where}, a "
        "subclass of mmdet's CocoMetric)), reported rounded to 3 decimals by mmdet's CocoMetric.compute_metrics: "
        'validations whose values differ by less than 0.001 tie, and mmengine keeps the first checkpoint of a tie, '
        f"not the better one. Derive KeptCocoMetric ({where}, a subclass of mmdet's CocoMetric) from "
        "automl_mm.UnroundedCocoMetric (mmdet's CocoMetric at full precision) rather than from mmdet's CocoMetric, "
        'or select by a key reported at full precision'], logged

    logged.clear()
    cfg = Config(dict(custom_hooks=[dict(type='EarlyStoppingHook', monitor='mIoU', min_delta=0.001)],
                      val_dataloader=dict(), val_evaluator=dict(type=kept_semseg)))
    assert warn_rounded_monitors(cfg, 'mmdet') == ['custom_hooks[0]']  # 0.001 < 0.01 percentage points
    assert f"val_evaluator (KeptSemSegMetric ({where}, a subclass of mmdet's SemSegMetric)), reported rounded to 2 " \
        "decimals by mmdet's SemSegMetric.compute_metrics, and its min_delta=0.001 counts gains smaller than 0.01 " \
        'percentage points' in logged[0], logged
    logged.clear()
    cfg.param_scheduler = [dict(type='ReduceOnPlateauLR', monitor='mIoU', rule='greater', threshold=1e-3)]
    cfg.custom_hooks = []
    assert warn_rounded_monitors(cfg, 'mmdet') == [] and not logged  # relative 1e-3 of 100 (percent): 0.1 > 0.01
