"""A val / test loader that reads a subset of its annotation file (``dataset.indices``) under a COCO metric that
scores the whole file fails at start: mmdet's ``CocoMetric`` scores every image of its ``ann_file``, so the objects of
the images never read counted as missed (a perfect detector on 2 of the 4 images scored about half the AP), silently.
Held-out loaders are not refused: their scores are computed on the images read (``evaluate_locally``)."""
from __future__ import annotations

import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config
from tests.test_engine._preflight_configs import DETECTOR


def _detector(coco_root: str) -> Config:
    cfg = Config.fromfile(DETECTOR)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = coco_root + '/'
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = osp.join(coco_root, 'annotations/instances_val.json')
    return cfg


def test_mmdet_scores_every_image_of_the_file_so_a_subset_lowers_ap(coco_root):
    """The fault the check refuses: perfect boxes on the first 2 of the 4 val images score below AP 1."""
    from mmdet.evaluation import CocoMetric

    ann_file = osp.join(coco_root, 'annotations/instances_val.json')
    with open(ann_file) as f:
        coco = json.load(f)
    metric = CocoMetric(ann_file=ann_file, metric='bbox')
    metric.dataset_meta = dict(classes=('rectangle', 'ellipse', 'triangle'))
    for image in coco['images'][:2]:
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)])
        pred = dict(bboxes=boxes, scores=torch.ones(len(anns)),
                    labels=torch.tensor([a['category_id'] - 1 for a in anns]))
        metric.process({}, [dict(pred_instances=pred, img_id=image['id'], ori_shape=(64, 64))])
    assert metric.evaluate(2)['coco/bbox_mAP'] < 0.9


@pytest.mark.parametrize('split', ['val', 'test'])
def test_a_subset_of_the_scored_file_fails_at_start_naming_the_keys(coco_root, split):
    cfg = _detector(coco_root)
    check_config(cfg)
    cfg[f'{split}_dataloader'].dataset.indices = 2
    with pytest.raises(ConfigCheckError, match=rf'{split}_dataloader\.dataset\.indices=2 reads 2 of the 4 images of '
                                               rf'.*instances_val\.json, but {split}_evaluator \(CocoMetric\) scores '
                                               r'every image of its ann_file'):
        check_config(cfg)
    with pytest.raises(ConfigCheckError, match=rf'{split}_dataloader\.dataset\.indices'):
        check_config(cfg, test_only=True, split=split)
    cfg[f'{split}_dataloader'].dataset.indices = [0, 3]
    with pytest.raises(ConfigCheckError, match=r'indices=\[0, 3\] reads 2 of the 4 images'):
        check_config(cfg)


def test_indices_reading_every_image_or_a_metric_without_ann_file_pass(coco_root):
    cfg = _detector(coco_root)
    for indices in (4, 10, [3, 2, 1, 0]):
        cfg.val_dataloader.dataset.indices = indices
        check_config(cfg)
    cfg.val_dataloader.dataset.indices = 2
    cfg.val_evaluator.ann_file = None  # mmdet then builds the ground truth of the images read
    check_config(cfg, test_only=True, split='val')


@pytest.mark.parametrize('wrap, words', [
    (lambda d: dict(type='RepeatDataset', times=2, dataset=d), r'val_dataloader\.dataset \(RepeatDataset, times=2\)'),
    (lambda d: dict(type='ClassBalancedDataset', oversample_thr=0.5, dataset=d),
     r'val_dataloader\.dataset \(ClassBalancedDataset, oversample_thr=0\.5\)'),
    (lambda d: dict(type='ConcatDataset', datasets=[d, d]), r'val_dataloader\.dataset reads .*instances_val\.json 2 '
                                                            r'times')])
def test_a_val_loader_reading_images_of_the_scored_file_twice_fails_at_start(coco_root, wrap, words):
    """Each image read twice is predicted twice: perfect boxes on every image of a 10-image file, read twice (a
    RepeatDataset of times=2), scored bbox_mAP 0.665 (every second box a false positive), silently."""
    cfg = _detector(coco_root)
    cfg.val_dataloader.dataset = wrap(cfg.val_dataloader.dataset.to_dict())
    with pytest.raises(ConfigCheckError, match=words + r'.* predicts its images more than once, but val_evaluator '
                                                       r'\(CocoMetric\) scores each image of its ann_file once'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py reads the test loader only


def test_a_wrapper_that_repeats_nothing_passes(coco_root):
    cfg = _detector(coco_root)
    inner = cfg.val_dataloader.dataset.to_dict()
    for wrapper in (dict(type='RepeatDataset', times=1, dataset=inner),
                    dict(type='ClassBalancedDataset', oversample_thr=0, dataset=inner)):
        cfg.val_dataloader.dataset = wrapper
        check_config(cfg)


@pytest.mark.parametrize('split', ['val', 'test'])
def test_indices_naming_an_image_twice_fail_at_start(coco_root, split):
    """``indices=[0, 0, 1, 2, 3]`` names every image of the 4-image file (it passed as reading all 4), but mmengine
    keeps one item per entry, so image 0 was predicted twice and each of its boxes scored once more as a false
    positive, silently; so does ``[0, 1, 2, 3, -4]`` (-4: the first of 4)."""
    cfg = _detector(coco_root)
    for indices, twice in (([0, 0, 1, 2, 3], 0), ([0, 1, 2, 3, -4], 0), ([3, 2, 1, 0, 2], 2)):
        cfg[f'{split}_dataloader'].dataset.indices = indices
        with pytest.raises(ConfigCheckError, match=rf'{split}_dataloader\.dataset\.indices=\[.*\] reads image '
                                                   rf'{twice} of .*instances_val\.json more than once, but '
                                                   rf'{split}_evaluator \(CocoMetric\) scores each image'):
            check_config(cfg)
