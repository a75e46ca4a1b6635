from __future__ import annotations

import hashlib
import json
import os

import pytest

from automl_mm.datasets import generate_coco


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(os.path.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


def test_generation_is_deterministic(tmp_path):
    generate_coco(str(tmp_path / 'a'), num_train=3, num_val=2, img_size=48, seed=5)
    generate_coco(str(tmp_path / 'b'), num_train=3, num_val=2, img_size=48, seed=5)
    generate_coco(str(tmp_path / 'c'), num_train=3, num_val=2, img_size=48, seed=6)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b') != _digest(tmp_path / 'c')


def test_annotations_match_the_drawn_shapes(coco_root):
    import cv2
    from pycocotools import mask as mask_util

    with open(os.path.join(coco_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    assert len(coco['images']) == 8 and [c['name'] for c in coco['categories']] == ['rectangle', 'ellipse',
                                                                                     'triangle']
    ids = [a['id'] for a in coco['annotations']]
    assert len(ids) == len(set(ids)) >= 8
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64 and w >= 1 and h >= 1
        assert 0 < ann['area'] <= w * h
        # the mask is exactly the annotated pixels: its box and area are the annotation's (polygons traced
        # through pixel centres decoded one row and column short: 93-95 % of the area)
        rle = dict(ann['segmentation'], counts=ann['segmentation']['counts'].encode('ascii'))
        assert mask_util.toBbox(rle).tolist() == [x, y, w, h] and float(mask_util.area(rle)) == ann['area']
    img = cv2.imread(os.path.join(coco_root, 'train', coco['images'][0]['file_name']))
    assert img.shape == (64, 64, 3)


def test_mmdet_cocodataset_and_metric_read_it_unchanged(coco_root):
    """mmdet's own CocoDataset loads the files, and CocoMetric scores the ground truth itself as mAP 1."""
    import torch
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric

    ds = CocoDataset(data_root=coco_root, ann_file='annotations/instances_val.json',
                     data_prefix=dict(img='val/'), metainfo=dict(classes=('rectangle', 'ellipse', 'triangle')),
                     test_mode=True, pipeline=[])
    assert len(ds) == 4
    metric = CocoMetric(ann_file=os.path.join(coco_root, 'annotations', 'instances_val.json'), metric='bbox')
    metric.dataset_meta = ds.metainfo
    samples = []
    for info in (ds.get_data_info(i) for i in range(len(ds))):
        boxes = torch.tensor([i['bbox'] for i in info['instances']], dtype=torch.float32)
        labels = torch.tensor([i['bbox_label'] for i in info['instances']])
        samples.append({'img_id': info['img_id'], 'ori_shape': (info['height'], info['width']),
                        'pred_instances': {'bboxes': boxes, 'scores': torch.ones(len(boxes)), 'labels': labels}})
    metric.process({}, samples)
    result = metric.compute_metrics(metric.results)
    assert result['bbox_mAP'] == pytest.approx(1.0)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_train'):
        generate_coco(str(tmp_path), num_train=0)
    with pytest.raises(ValueError, match='img_size'):
        generate_coco(str(tmp_path), img_size=16)
