"""A 'segm' COCO metric on a detector that predicts no masks (Faster R-CNN, RetinaNet; e.g. tools/test.py
--cfg-options "test_evaluator.metric=[bbox,segm]"): mmdet's CocoMetric stopped with "segm is not in results" after
every image was predicted, naming no key. Refused once the model is built, before anything is predicted."""
from __future__ import annotations

import copy
import importlib.util
import os.path as osp

import mmdet
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import ConfigCheckError, build_check
from automl_mm.engine.preflight_masks import check_mask_metrics, predicts_no_masks

from conftest import REPO_ROOT, synthcoco_detector_cfg


def _build(model_cfg):
    from mmdet.registry import MODELS

    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(copy.deepcopy(model_cfg))


def test_what_mmdets_metric_does_with_segm_and_no_masks():
    from mmdet.registry import METRICS

    with DefaultScope.overwrite_default_scope('mmdet'):
        metric = METRICS.build(dict(type='CocoMetric', metric=['bbox', 'segm']))
    metric.dataset_meta = dict(classes=('a',))
    metric.process({}, [dict(img_id=1, ori_shape=(8, 8), instances=[dict(bbox=[0, 0, 4, 4], bbox_label=0,
                                                                            ignore_flag=0)],
                             pred_instances=dict(bboxes=torch.tensor([[0.0, 0, 4, 4]]), labels=torch.tensor([0]),
                                                 scores=torch.tensor([1.0])))])
    with pytest.raises(KeyError, match='segm is not in results'):
        metric.evaluate(1)


def test_a_faster_rcnn_scored_with_segm_is_refused_and_mask_rcnn_is_not(coco_root):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator = dict(cfg.val_evaluator, metric=['bbox', 'segm'])
    faster = _build(cfg.model)
    assert 'no model.roi_head.mask_head' in predicts_no_masks(faster)
    with pytest.raises(ConfigCheckError, match=r"val_evaluator.metric=\['bbox', 'segm'\] scores instance masks, but "
                                               r'FasterRCNN has no model.roi_head.mask_head'):
        check_mask_metrics(cfg, faster)
    check_mask_metrics(cfg, faster, test_only=True)  # tools/test.py reads test_evaluator only
    with pytest.raises(ConfigCheckError, match='val_evaluator.metric'):
        build_check(cfg)
    mask_cfg = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'mask_rcnn',
                                        'mask-rcnn_r50_fpn_1x_coco.py'))
    mask_cfg.model.backbone = dict(type='automl_mm.ResNet', depth=18, out_indices=(0, 1, 2, 3))
    mask_cfg.model.neck.in_channels = [64, 128, 256, 512]
    mask = _build(mask_cfg.model)
    assert predicts_no_masks(mask) is None
    check_mask_metrics(cfg, mask)


def test_a_retinanet_and_tools_train_before_reading_data(coco_root, tmp_path):
    retina_cfg = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'retinanet',
                                          'retinanet_r50_fpn_1x_coco.py'))
    retina_cfg.model.backbone = dict(type='automl_mm.ResNet', depth=18, out_indices=(0, 1, 2, 3))
    retina_cfg.model.neck.in_channels = [64, 128, 256, 512]
    assert "RetinaNet's model.bbox_head (RetinaHead) has no mask branch" == predicts_no_masks(_build(retina_cfg.model))

    spec = importlib.util.spec_from_file_location('_tool_train_segm', osp.join(REPO_ROOT, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator = dict(cfg.val_evaluator, metric=['bbox', 'segm'])
    cfg.work_dir = str(tmp_path)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(tmp_path / 'absent') + '/'  # the old run got as far as reading data
    with pytest.raises(ConfigCheckError, match='val_evaluator.metric'):
        train.run(copy.deepcopy(cfg))
