"""A COCO dataset read through a storage backend (mmdet's ``backend_args=dict(backend='petrel')`` with
``data_root='s3://...'``, the commented-out lines of mmdet's ``coco_detection.py``): mmdet reads its annotation file
through ``get_local_path``; ``check_config`` looked for it on the local disk and refused the config with 'COCO
annotation file not found: 's3://...'', under mmdet's own launcher too (automl_mm's start-of-run checks). Such
files are not checked here (mmdet names a missing one when it builds the dataset)."""
from __future__ import annotations

import os.path as osp

import mmdet
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config, coco_annotation_files

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
REMOTE = 's3://openmmlab/datasets/detection/coco/'


def _remote(cfg):
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        dataset.data_root = REMOTE
        dataset.backend_args = dict(backend='petrel')
    for split in ('val', 'test'):
        cfg[f'{split}_evaluator'].ann_file = REMOTE + 'annotations/instances_val2017.json'
        cfg[f'{split}_evaluator'].backend_args = dict(backend='petrel')
    return cfg


def test_remote_annotation_files_are_not_looked_for_on_disk():
    cfg = _remote(Config.fromfile(osp.join(MMDET_CONFIGS, 'retinanet/retinanet_r50_fpn_1x_coco.py')))
    assert coco_annotation_files(cfg) == []
    check_config(cfg)


def test_a_local_file_that_is_missing_is_still_refused():
    cfg = Config.fromfile(osp.join(MMDET_CONFIGS, 'retinanet/retinanet_r50_fpn_1x_coco.py'))
    with pytest.raises(ConfigCheckError, match='COCO annotation file not found'):
        check_config(cfg)
