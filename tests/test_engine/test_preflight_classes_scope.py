"""The class-count checks resolve a node's ``type`` as mmengine builds it: a node's ``_scope_`` first (mmengine's
``build_from_cfg`` pops it and switches to that scope), else the config's ``default_scope``. Resolved in the
config's scope alone, an evaluator's ``dict(_scope_='mmdet', type='CocoMetric')`` under ``default_scope='automl_mm'``
was an unregistered metric, so its loader's class count was not compared with the heads' (a 2-class set under a
3-output head passed), and a ``dict(_scope_='mmdet', type='CocoDataset')`` without ``metainfo`` had no known
classes (mmdet's 80 names under a 3-output head passed)."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_classes import _check_num_classes, _dataset_class
from automl_mm.engine.preflight_walk import ConfigCheckError


def _cfg(dataset: dict, evaluator: dict) -> Config:
    return Config(dict(default_scope='automl_mm',
                       model=dict(type='FasterRCNN', _scope_='mmdet', roi_head=dict(bbox_head=dict(num_classes=3))),
                       val_dataloader=dict(batch_size=1, dataset=dataset), val_evaluator=evaluator))


TWO = dict(type='CocoDataset', _scope_='mmdet', ann_file='a.json', metainfo=dict(classes=('a', 'b')))


def test_a_metric_of_its_own_scope_has_its_loader_compared():
    cfg = _cfg(TWO, dict(type='CocoMetric', _scope_='mmdet', ann_file='a.json'))
    with pytest.raises(ConfigCheckError, match=r'^model\.roi_head\.bbox_head\.num_classes=3, but '
                                               r'val_dataloader\.dataset\.metainfo\.classes names 2 classes'):
        _check_num_classes(cfg, test_only=False)


def test_a_mot_metric_of_its_own_scope_is_still_recognised():
    """MOTChallengeMetric scores by MOT's protocol: its loader is not compared (test_preflight_classes_mot)."""
    _check_num_classes(_cfg(TWO, dict(type='MOTChallengeMetric', _scope_='mmdet')), test_only=False)


def test_a_dataset_of_its_own_scope_has_its_default_classes():
    cfg = _cfg(dict(type='CocoDataset', _scope_='mmdet', ann_file='a.json'), dict(type='Accuracy'))
    cfg.train_dataloader = dict(batch_size=1, dataset=cfg.val_dataloader.dataset)
    with pytest.raises(ConfigCheckError, match=r"^model\.roi_head\.bbox_head\.num_classes=3, but "
                                               r"train_dataloader\.dataset \(CocoDataset's classes\) names 80"):
        _check_num_classes(cfg, test_only=False)


def test_the_node_scope_comes_before_the_config_scope():
    from mmdet.datasets import CocoDataset

    assert _dataset_class(dict(type='CocoDataset', _scope_='mmdet'), 'automl_mm') is CocoDataset
    assert _dataset_class(dict(type='CocoDataset'), 'automl_mm') is None  # the build fails, naming it


def test_a_wrappers_scope_is_the_scope_of_the_datasets_it_builds():
    """mmengine builds a node inside its _scope_ (build_from_cfg's switch_scope_and_registry): the wrapper's
    constructor builds its inner datasets there, so an unprefixed inner CocoDataset is mmdet's."""
    inner = dict(type='CocoDataset', ann_file='a.json')
    cfg = _cfg(dict(type='ConcatDataset', _scope_='mmdet', datasets=[inner]), dict(type='Accuracy'))
    cfg.train_dataloader = dict(batch_size=1, dataset=cfg.val_dataloader.dataset)
    with pytest.raises(ConfigCheckError, match=r"^model\.roi_head\.bbox_head\.num_classes=3, but "
                                               r"train_dataloader\.dataset\.datasets\.0 \(CocoDataset's classes\) "
                                               r'names 80'):
        _check_num_classes(cfg, test_only=False)
