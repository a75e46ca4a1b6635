"""A ConcatDataset of two generated COCO splits (both number their images from 1) scored by a CocoMetric without
ann_file: mmdet built the ground truth from the scored images by id, and pycocotools matched each image's predictions
with the objects of the other split's image of the same id, silently. Refused at start, naming both files."""
from __future__ import annotations

import copy
import json
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import synthcoco_detector_cfg

CLASSES = ('rectangle', 'ellipse', 'triangle')


def _concat(cfg, root: str) -> dict:
    val = cfg.val_dataloader.dataset
    train = dict(copy.deepcopy(val), ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'))
    return dict(type='ConcatDataset', datasets=[copy.deepcopy(val), train])


def test_what_the_metric_scores_on_two_splits_of_shared_ids(coco_root):
    """Every predicted box lies on the other split's image of the same id: correct scoring gives 0."""
    from mmdet.registry import DATASETS, METRICS

    cfg = synthcoco_detector_cfg(coco_root)
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(_concat(cfg, coco_root))
        metric = METRICS.build(dict(type='CocoMetric', metric='bbox'))
    metric.dataset_meta = dataset.metainfo
    samples = [dataset[i]['data_samples'] for i in range(len(dataset))]
    by_id = {}
    for i, sample in enumerate(samples):
        by_id.setdefault(sample.img_id, []).append(i)
    scored = 0
    for i, sample in enumerate(samples):
        others = [j for j in by_id[sample.img_id] if j != i]
        if not others:
            continue  # an id of one split only
        other = samples[others[0]].gt_instances
        scored += 1
        metric.process({}, [dict(img_id=sample.img_id, ori_shape=sample.ori_shape,
                                 instances=[dict(bbox=b.tolist(), bbox_label=int(c), ignore_flag=0)
                                            for b, c in zip(sample.gt_instances.bboxes.tensor,
                                                            sample.gt_instances.labels)],
                                 pred_instances=dict(bboxes=other.bboxes.tensor, labels=other.labels,
                                                     scores=torch.ones(len(other.labels))))])
    assert scored == 8  # the 4 val ids, each in both files
    assert metric.evaluate(scored)['coco/bbox_mAP'] == 1.0  # should be 0.0: no box lies on its own image


def test_a_concat_of_splits_with_shared_ids_is_refused_without_ann_file(coco_root):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.test_dataloader.dataset = _concat(cfg, coco_root)
    cfg.test_evaluator = dict(type='CocoMetric', metric='bbox')
    with pytest.raises(ConfigCheckError, match=r'test_evaluator has a COCO metric without ann_file.*test_dataloader'
                                               r'.*instances_val.json and .*instances_train.json share 4 image ids'):
        check_config(cfg, test_only=True)


def test_files_of_distinct_ids_may_be_scored_together(coco_root, tmp_path):
    with open(osp.join(coco_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    for image in coco['images']:
        image['id'] += 1000
    for ann in coco['annotations']:
        ann['image_id'] += 1000
    path = str(tmp_path / 'instances_train_renumbered.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.test_dataloader.dataset = _concat(cfg, coco_root)
    cfg.test_dataloader.dataset['datasets'][1]['ann_file'] = path
    cfg.test_evaluator = dict(type='CocoMetric', metric='bbox')
    check_config(cfg, test_only=True)


def test_the_held_out_evaluator_refuses_it_when_built(coco_root):
    """OHL rewards / NAS scores built outside tools/train.py's check (a runner built in-process) are checked too."""
    from types import SimpleNamespace

    from automl_mm.engine.evaluate import HeldOutEvaluator

    cfg = synthcoco_detector_cfg(coco_root)
    loader = dict(batch_size=2, num_workers=0, dataset=_concat(cfg, coco_root))
    held = HeldOutEvaluator('reward', 'coco/bbox_mAP', 'OHLHook', loader, dict(type='CocoMetric', metric='bbox'),
                            'custom_hooks[0].reward_dataloader', 'custom_hooks[0].reward_evaluator')
    from mmengine.evaluator import Evaluator

    runner = SimpleNamespace(cfg=dict(default_scope='mmdet'), build_evaluator=Evaluator)  # built in mmdet's scope
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\].reward_evaluator has a COCO metric without '
                                               r'ann_file.*share 4 image ids'), \
            DefaultScope.overwrite_default_scope('mmdet'):
        held.build(runner)
