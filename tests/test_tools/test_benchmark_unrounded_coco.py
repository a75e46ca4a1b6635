"""The detection benchmarks' final figures (autoaug_det.py and cr_nas_fmnist_det.py on the test split,
det_regime.py on val) are COCOeval's values at full precision: mmdet's ``CocoMetric`` rounds each to 3 decimals, so
their mean ± std over seeds and paired differences were of rounded values (off by up to 0.0005 a run), and
cr_nas_fmnist_det.py printed them to 4 decimals with a last digit always 0."""
from __future__ import annotations

import argparse
import importlib

from mmengine.config import Config, ConfigDict

UNROUNDED = 'automl_mm.UnroundedCocoMetric'


def test_unrounded_coco_replaces_mmdets_coco_metric_only(arms):
    evaluator = ConfigDict(type='CocoMetric', ann_file='a.json', metric='bbox', format_only=False)
    out = arms.unrounded_coco(evaluator)
    assert out == dict(evaluator, type=UNROUNDED) and evaluator.type == 'CocoMetric'  # the config left as it was
    assert arms.unrounded_coco(dict(type='mmdet.CocoMetric', ann_file='a.json'))['type'] == UNROUNDED
    for other in (dict(type='Accuracy', topk=(1, )), [dict(type='CocoMetric')], dict(type=UNROUNDED)):
        assert arms.unrounded_coco(other) == other


def test_every_detection_benchmark_reads_its_final_figures_unrounded(arms):
    det = importlib.import_module('autoaug_det')
    options = argparse.Namespace(train_images=8, data_root='data/fmnist_det', trunk_iters=None, elements='ohl',
                                 lr=None)
    cfg = arms.run_config(det.CONFIG, 0, 1)
    det.make_configure(options)(cfg, 'flip')  # every arm alike (test_benchmark_arm_configs)
    assert cfg.val_evaluator.type == UNROUNDED
    assert cfg.val_evaluator.ann_file == cfg.test_evaluator.ann_file  # still the test split's
    assert cfg.reward_evaluator.type == 'CocoMetric'  # rewards are unrounded by evaluate_locally already
    regime = importlib.import_module('det_regime')
    cfg = arms.run_config(regime.CONFIG, 0, 2)
    regime.make_configure(argparse.Namespace(train_images=8, val_interval=1, data_root='data/fmnist_det',
                                             elements='ohl'))(cfg, 'flip')
    assert cfg.val_evaluator.type == UNROUNDED and cfg.val_evaluator.ann_file.endswith('instances_val.json')
    cr_nas = importlib.import_module('cr_nas_fmnist_det')
    for arm in ('standard', 'searched'):
        cfg = cr_nas.arm_config(cr_nas.parse_args([]), arm, 0, cr_nas.RETRAIN_CONFIG)
        assert cfg.val_evaluator.type == UNROUNDED, arm
        assert cfg.val_evaluator.ann_file == Config.fromfile(cr_nas.RETRAIN_CONFIG).test_evaluator.ann_file
