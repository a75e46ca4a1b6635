"""AMLFSLoss as an mmdet head's ``loss_cls`` without a search (``roi_head.bbox_head.loss_cls=dict(type=
'automl_mm.AMLFSLoss')``): the run built, read its data and stopped the first training iteration inside the loss,
naming no config key. Refused when the model is built: by ``build_check`` and by ``tools/train.py`` before
``runner.train()`` reads any data."""
from __future__ import annotations

import copy
import importlib.util
import os.path as osp

import pytest
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import ConfigCheckError, build_check
from automl_mm.engine.preflight_losses import check_loss_holders
from automl_mm.registry import MODELS

from conftest import REPO_ROOT, synthcoco_detector_cfg

MATCH = (r'model.roi_head.bbox_head.loss_cls is AMLFSLoss, which needs the class-weight and feature norms.*'
         r'its holder Shared2FCBBoxHead does not pass them')


def _faster_rcnn_with_am_lfs(root: str):
    cfg = synthcoco_detector_cfg(root)
    cfg.model.roi_head.bbox_head.loss_cls = dict(type='automl_mm.AMLFSLoss')
    return cfg


def test_build_check_names_the_loss_key(coco_root):
    with pytest.raises(ConfigCheckError, match=MATCH):
        build_check(_faster_rcnn_with_am_lfs(coco_root))
    build_check(synthcoco_detector_cfg(coco_root))  # mmdet's own loss there


def test_a_dense_head_and_the_cosine_head():
    from mmdet.registry import MODELS as MMDET_MODELS

    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MMDET_MODELS.build(dict(
            type='RetinaHead', num_classes=3, in_channels=8, feat_channels=8, stacked_convs=1,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1, ratios=[1.0],
                                  strides=[8]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
            loss_cls=dict(type='automl_mm.AMLFSLoss'), loss_bbox=dict(type='L1Loss')))
    with pytest.raises(ConfigCheckError, match=r'model.loss_cls is AMLFSLoss.*RetinaHead'):
        check_loss_holders(head)
    check_loss_holders(MODELS.build(dict(type='CosineLinearClsHead', num_classes=3, in_channels=4,
                                         loss=dict(type='AMLFSLoss'))))


def test_tools_train_refuses_it_before_reading_data(coco_root, tmp_path):
    """The data root does not exist: the old run got as far as building the data set (FileNotFoundError)."""
    spec = importlib.util.spec_from_file_location('_tool_train_am_lfs', osp.join(REPO_ROOT, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    cfg = _faster_rcnn_with_am_lfs(coco_root)
    cfg.work_dir = str(tmp_path)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(tmp_path / 'absent') + '/'
    with pytest.raises(ConfigCheckError, match=MATCH):
        train.run(copy.deepcopy(cfg))
