"""A palette with fewer colours than class names (a 3-colour metainfo.palette on the 10-class Fashion-MNIST detection
set, or more class names than CocoDataset's 80 default colours): mmdet's visualizer stopped at the first drawn label
past it (tools/test.py drawing, a validation with visualization.draw=True), naming no key. Refused at start."""
from __future__ import annotations

import json
import os.path as osp

import numpy as np
import pytest
import torch

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import synthcoco_detector_cfg


def test_what_mmdets_visualizer_does_with_a_short_palette():
    from mmdet.structures import DetDataSample
    from mmdet.visualization import DetLocalVisualizer
    from mmengine.structures import InstanceData

    visualizer = DetLocalVisualizer(name='short_palette')
    visualizer.dataset_meta = dict(classes=('a', 'b', 'c'), palette=[(255, 0, 0)] * 2)
    sample = DetDataSample()
    sample.pred_instances = InstanceData(bboxes=torch.tensor([[1.0, 1, 10, 10]]), labels=torch.tensor([2]),
                                         scores=torch.tensor([0.9]))
    with pytest.raises(AssertionError, match='palette'):
        visualizer.add_datasample('x', np.zeros((20, 20, 3), np.uint8), sample, draw_gt=False)


@pytest.mark.parametrize('loader', ['train_dataloader', 'test_dataloader'])
def test_a_short_metainfo_palette_is_refused(coco_root, loader):
    cfg = synthcoco_detector_cfg(coco_root)
    check_config(cfg)  # no palette given: CocoDataset's 80 colours cover 3 classes
    dataset = cfg[loader].dataset
    dataset.metainfo = dict(dataset.metainfo, palette=[(255, 0, 0), (0, 255, 0)])
    with pytest.raises(ConfigCheckError, match=rf'{loader}.dataset.metainfo.classes names 3 classes but '
                                               rf'{loader}.dataset.metainfo.palette has 2 colours'):
        check_config(cfg)
    dataset.metainfo = dict(dataset.metainfo, palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    check_config(cfg)


def test_more_names_than_the_default_palette_is_refused_inside_a_wrapper(coco_root, tmp_path):
    with open(osp.join(coco_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    coco['categories'] += [dict(id=4 + i, name=f'extra{i}', supercategory='shape') for i in range(80)]
    path = str(tmp_path / 'instances_train_83.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.model.roi_head.bbox_head.num_classes = 83
    inner = cfg.train_dataloader.dataset
    names = tuple(c['name'] for c in coco['categories'])
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2,
                                        dataset=dict(inner, ann_file=path, metainfo=dict(classes=names)))
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    with pytest.raises(ConfigCheckError, match=r"train_dataloader.dataset.dataset.metainfo.classes names 83 classes "
                                               r"but CocoDataset's default palette .* has 80 colours"):
        check_config(cfg)
