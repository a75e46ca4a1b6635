"""The detection benchmarks' final figures (autoaug_det.py and cr_nas_fmnist_det.py on the test split,
det_regime.py on val) are COCOeval's values at full precision: mmdet's ``CocoMetric`` rounds each to 3 decimals, so
their mean ± std over seeds and paired differences were of rounded values (off by up to 0.0005 a run), and
cr_nas_fmnist_det.py printed them to 4 decimals with a last digit always 0. COCOeval's -1 (no ground truth) is an
undefined figure, left out of a mean ± std and said so."""
from __future__ import annotations

import argparse
import importlib

import pytest
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


def test_cocos_minus_one_is_undefined_not_a_score(arms, tmp_path):
    """COCOeval reports -1 for an area range the split has no ground truth for (e.g. mAP_l on a set without large
    objects); final_accuracy returned it and the mean ± std over seeds took it as a score: mAP_l 0.100 and -1 read
    -0.450 ± 0.778. It is NaN now, left out of the mean and said: '0.100 ± n/a (n=1 of 2)'."""
    import json
    import math

    for seed, value in ((0, 0.1), (1, -1.0)):
        vis = tmp_path / f'run{seed}' / '20261205_120000' / 'vis_data'
        vis.mkdir(parents=True)
        (vis / 'scalars.json').write_text(json.dumps({'coco/bbox_mAP_l': value, 'accuracy/top1': -1.0, 'step': 1}))
    values = [arms.final_accuracy(str(tmp_path / f'run{seed}'), 'coco/bbox_mAP_l') for seed in (0, 1)]
    assert values[0] == 0.1 and math.isnan(values[1])
    assert arms.final_accuracy(str(tmp_path / 'run1'), 'accuracy/top1') == -1.0  # only COCO's -1 means undefined
    assert arms.mean_std(values, '.3f') == '0.100 ± n/a (n=1 of 2)'
    assert arms.mean_std([0.1, 0.2, math.nan], '.2f') == '0.15 ± 0.07 (n=2 of 3)'
    assert arms.mean_std([math.nan], '.3f') == 'n/a' and arms.summary([math.nan]) == {'mean': None, 'std': None}
    cr_nas = importlib.import_module('cr_nas_fmnist_det')
    goal = cr_nas.accuracy_goal([0.10, math.nan, 0.11], [0.12, 0.13, math.nan])
    assert goal['difference'] == pytest.approx(0.125 - 0.105)  # over the defined values
    assert goal['larger_std'] == pytest.approx(0.01 / 2 ** 0.5)
    assert cr_nas.accuracy_goal([math.nan, math.nan], [0.1, 0.2]) == {
        'difference': None, 'larger_std': None, 'searched_above_by_more_than_1_std': None}
