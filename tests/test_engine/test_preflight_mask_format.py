"""A stock mmdet config that loads masks as polygons (``LoadAnnotations(poly2mask=False)``: mmdet's ``poly-1x``,
``ms-poly`` and RTMDet-Ins configs) on automl_mm's generated sets, whose masks are RLE: mmdet flagged every object
as ignored and the detector trained on images without objects, silently. Refused at start, naming the key."""
from __future__ import annotations

import copy
import json
import os.path as osp

import pytest
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import synthcoco_detector_cfg


def _masks(cfg, poly2mask: bool):
    cfg.train_dataloader.dataset.pipeline[1] = dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
                                                    poly2mask=poly2mask)
    return cfg


def test_what_mmdet_packs_from_rle_masks_loaded_as_polygons(coco_root):
    from mmdet.registry import DATASETS

    counts = {}
    for poly2mask in (True, False):
        dataset_cfg = copy.deepcopy(_masks(synthcoco_detector_cfg(coco_root), poly2mask).train_dataloader.dataset)
        with DefaultScope.overwrite_default_scope('mmdet'):
            sample = DATASETS.build(dataset_cfg)[0]['data_samples']
        counts[poly2mask] = len(sample.gt_instances), len(sample.ignored_instances)
    assert counts[True][0] > 0 and counts[True][1] == 0
    assert counts[False] == (0, counts[True][0])  # every object ignored


def test_polygon_loading_of_rle_masks_is_refused(coco_root):
    check_config(_masks(synthcoco_detector_cfg(coco_root), poly2mask=True))
    with pytest.raises(ConfigCheckError, match=r'train_dataloader.dataset.pipeline\[1\] loads masks as polygons '
                                               r'\(poly2mask=False\), but \d+ non-crowd annotations of .*'
                                               r'instances_train.json give their segmentation as RLE.*'
                                               r'poly2mask=True'):
        check_config(_masks(synthcoco_detector_cfg(coco_root), poly2mask=False))


def test_a_file_with_polygon_masks_may_be_loaded_as_polygons(coco_root, tmp_path):
    with open(osp.join(coco_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    for ann in coco['annotations']:  # each box as a polygon; a crowd RLE mask stays RLE (COCO's own convention)
        x, y, w, h = ann['bbox']
        ann['segmentation'] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    coco['annotations'][0].update(iscrowd=1, segmentation={'size': [64, 64], 'counts': 'PPP0'})
    path = str(tmp_path / 'instances_poly.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    cfg = _masks(synthcoco_detector_cfg(coco_root), poly2mask=False)
    cfg.train_dataloader.dataset.ann_file = path
    check_config(cfg)
