"""Configs, files and metric classes that several preflight test modules of metric and label order
(``test_preflight_metric_order.py``, ``test_preflight_category_order.py``, ``test_preflight_label_order*.py``,
``test_preflight_metric_probes.py``, ``test_preflight_recall.py``) share."""
from __future__ import annotations

import json

import torch

from conftest import synthcoco_detector_cfg


def _categories_renumbered(coco_root: str, ids: dict[str, int]) -> str:
    """The generated val file with its categories (rectangle, ellipse, triangle, in that order) given ``ids``;
    written beside it, returned relative to the data root."""
    import os.path as osp

    with open(osp.join(coco_root, 'annotations/instances_val.json')) as f:
        coco = json.load(f)
    old = {c['id']: c['name'] for c in coco['categories']}
    for c in coco['categories']:
        c['id'] = ids[c['name']]
    for a in coco['annotations']:
        a['category_id'] = ids[old[a['category_id']]]
    name = 'annotations/instances_val_' + '_'.join(str(i) for i in ids.values()) + '.json'
    with open(osp.join(coco_root, name), 'w') as f:
        json.dump(coco, f)
    return name


def _classwise_cfg(coco_root: str, ids: dict[str, int], **metric):
    import os.path as osp

    cfg = synthcoco_detector_cfg(coco_root)
    name = _categories_renumbered(coco_root, ids)
    cfg.val_dataloader.dataset.ann_file = cfg.test_dataloader.dataset.ann_file = name
    cfg.val_evaluator = dict(type='CocoMetric', ann_file=osp.join(coco_root, name), metric='bbox', classwise=True)
    cfg.val_evaluator.update(metric)
    cfg.test_evaluator = cfg.val_evaluator
    return cfg


BY_NAME = {'rectangle': 3, 'ellipse': 2, 'triangle': 1}  # listed 3, 2, 1: not by ascending id


def _mmdet_coco_metric():
    from mmdet.evaluation import CocoMetric

    return CocoMetric


class _OwnOrderCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric that reads each class's own AP (through automl_mm's unrounded reading)."""

    def compute_metrics(self, results):
        from automl_mm.evaluation.coco import unrounded_coco_metrics

        return unrounded_coco_metrics(self, results, compute=_mmdet_coco_metric().compute_metrics)


class _PlainCocoSubclass(_mmdet_coco_metric()):
    """A user's CocoMetric subclass that keeps mmdet's per-class reading."""


class _SortedCategoriesCocoMetric(_mmdet_coco_metric()):
    """A user's 'fix' that re-lists the file's categories by id before mmdet reads them: the per-class APs are read
    by the right position, but mmdet's cat_ids are then in id order while the dataset's labels follow the file's
    order, so each detection is credited to another class."""

    def compute_metrics(self, results):
        self._coco_api.dataset['categories'].sort(key=lambda c: c['id'])
        self._coco_api.createIndex()
        return super().compute_metrics(results)


class _RaggedRecallCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric whose proposal_fast recall takes any box counts (automl_mm's eval_recalls in mmdet's
    place)."""

    def fast_eval_recall(self, results, proposal_nums, iou_thrs, logger=None):
        import mmdet.evaluation.metrics.coco_metric as coco_metric

        from automl_mm.evaluation.recall import eval_recalls

        kept, coco_metric.eval_recalls = coco_metric.eval_recalls, eval_recalls
        try:
            return super().fast_eval_recall(results, proposal_nums, iou_thrs, logger)
        finally:
            coco_metric.eval_recalls = kept


def _mmdet_coco_dataset():
    from mmdet.datasets import CocoDataset

    return CocoDataset


def _proposal_fast_recall(ann_file: str, order: list[int]) -> float:
    """mmdet's ``proposal_fast`` AR@100 of perfect proposals (each image's own boxes) fed in ``order`` (positions
    in the annotation file)."""
    from mmdet.evaluation import CocoMetric

    with open(ann_file) as f:
        coco = json.load(f)
    metric = CocoMetric(ann_file=ann_file, metric='proposal_fast', proposal_nums=(100, ))
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in coco['categories']))
    for i in order:
        image = coco['images'][i]
        boxes = [a['bbox'] for a in coco['annotations'] if a['image_id'] == image['id']]
        xyxy = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=torch.float32).reshape(-1, 4)
        metric.process({}, [dict(img_id=image['id'], ori_shape=(image['height'], image['width']), gt_instances={},
                                 pred_instances=dict(bboxes=xyxy, scores=torch.ones(len(xyxy)),
                                                     labels=torch.zeros(len(xyxy), dtype=torch.long)))])
    return metric.evaluate(len(order))['coco/AR@100']


def _one_box_per_image(path: str) -> str:
    """A COCO file of 3 images of one box each, at other places (mmdet 3.3's ``eval_recalls`` stacks the IoU
    matrices of all images with ``np.array``, which numpy >= 1.24 refuses for images of unequal box counts)."""
    images = [dict(id=i + 1, file_name=f'{i + 1:06d}.png', height=64, width=64) for i in range(3)]
    boxes = [[2, 2, 10, 10], [30, 30, 12, 12], [40, 5, 20, 8]]
    annotations = [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=b, area=b[2] * b[3], iscrowd=0)
                   for i, b in enumerate(boxes)]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=[dict(id=1, name='a')]), f)
    return path


def _proposal_fast_cfg(coco_root, sampler):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator.metric = ['bbox', 'proposal_fast']
    cfg.val_dataloader.sampler = sampler
    return cfg
