"""The heads' ``num_classes`` against a loader scored by mmdet's MOT metric: ``MOTChallengeMetric`` scores tracks
against the file's category ids by MOT's protocol (pedestrians, the other categories ignored), so mmdet's MOT
configs validate a 1-class detector on ``MOTChallengeDataset``'s 13 categories and run. The count check refused
every one of them ('num_classes=1 (YOLOXHead), but val_dataloader.dataset (MOTChallengeDataset's classes) names
13 classes')."""
from __future__ import annotations

import glob
import os.path as osp

import mmdet
import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_classes import _check_num_classes
from automl_mm.engine.preflight_walk import ConfigCheckError

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
# mmdet's tracker configs validated by MOTChallengeMetric (the one bytetrack config with a wrong relative _base_
# does not load in mmdet either)
BROKEN = 'bytetrack/bytetrack_yolox_x_8xb4-amp-80e_crowdhuman-mot17halftrain_test-mot17test.py'
MOT_CONFIGS = sorted(
    name for tracker in ('bytetrack', 'ocsort', 'deepsort', 'strongsort', 'sort')
    for name in (osp.relpath(path, MMDET_CONFIGS) for path in glob.glob(osp.join(MMDET_CONFIGS, tracker,
                                                                                 f'{tracker}_*.py')))
    if name != BROKEN)


def _cfg(name: str) -> Config:
    return Config.fromfile(osp.join(MMDET_CONFIGS, name))


@pytest.mark.parametrize('name', MOT_CONFIGS)
def test_mmdets_mot_configs_pass_the_class_count(name):
    cfg = _cfg(name)
    assert cfg.val_dataloader.dataset.type == 'MOTChallengeDataset' and 'metainfo' not in cfg.val_dataloader.dataset
    _check_num_classes(cfg, test_only=False)
    _check_num_classes(cfg, test_only=True)


def test_the_mot_configs_are_found():
    assert len(MOT_CONFIGS) >= 10 and any('ocsort' in n for n in MOT_CONFIGS) and \
        any('deepsort' in n for n in MOT_CONFIGS)


def test_a_mot_val_set_scored_by_a_coco_metric_is_still_refused():
    cfg = _cfg('bytetrack/bytetrack_yolox_x_8xb4-80e_crowdhuman-mot17halftrain_test-mot17halfval.py')
    cfg.val_evaluator = dict(type='CocoVideoMetric', metric=['bbox'])
    with pytest.raises(ConfigCheckError, match=r"num_classes=1 \(YOLOXHead\), but val_dataloader\.dataset "
                                               r"\(MOTChallengeDataset's classes\) names 13 classes"):
        _check_num_classes(cfg, test_only=False)


def test_a_mot_training_set_of_13_classes_is_still_refused():
    cfg = _cfg('ocsort/ocsort_yolox_x_8xb4-amp-80e_crowdhuman-mot17halftrain_test-mot17halfval.py')
    cfg.train_dataloader = dict(batch_size=1, dataset=dict(type='MOTChallengeDataset', ann_file='a.json',
                                                           pipeline=[]))
    with pytest.raises(ConfigCheckError, match=r"but train_dataloader\.dataset \(MOTChallengeDataset's classes\)"):
        _check_num_classes(cfg, test_only=False)


def test_a_label_metric_beside_the_mot_metric_is_warned(caplog):
    cfg = _cfg('qdtrack/qdtrack_faster-rcnn_r50_fpn_8xb2-4e_mot17halftrain_test-mot17halfval.py')
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        _check_num_classes(cfg, test_only=True)
    finally:
        logger.removeHandler(caplog.handler)
    assert 'test_evaluator[0] (CocoVideoMetric) scores test_dataloader.dataset' in caplog.text
