"""An OHL choice transform (OHLAutoAugment, FixedAutoAugment, OHLRandomChoice) in a scored loader's pipeline: every
val / test / reward image was augmented before it was predicted and scored against the unmoved annotations (a
perfect detector: bbox mAP 0.0 instead of 1.0 under a translation pair), silently. Refused at start, naming the key."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config

from automl_mm.augment import DEFAULT_ELEMENTS
from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import synthcoco_detector_cfg

E = len(DEFAULT_ELEMENTS)


def _translation() -> list[float]:
    probs = np.zeros(E * E)
    probs[DEFAULT_ELEMENTS.index(('HorizontalTranslate', 0.3)) * E
          + DEFAULT_ELEMENTS.index(('VerticalTranslate', 0.15))] = 1.0
    return probs.tolist()


def _perfect_detector_map(root: str, augment: bool) -> float:
    """bbox mAP of a detector that finds every object where the pipeline's image shows it (its moved ground truth),
    scored by mmdet's CocoMetric against the annotation file, as a test loop scores it."""
    from mmdet.registry import DATASETS, METRICS
    from mmengine.registry import DefaultScope

    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]
    pipeline += [dict(type='automl_mm.FixedAutoAugment', probs=_translation())] if augment else []
    pipeline += [dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                                       'scale_factor'))]
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(dict(type='CocoDataset', data_root=root, ann_file='annotations/instances_val.json',
                                      data_prefix=dict(img='val/'), test_mode=True,
                                      metainfo=dict(classes=('rectangle', 'ellipse', 'triangle')), pipeline=pipeline))
        metric = METRICS.build(dict(type='CocoMetric', metric='bbox',
                                    ann_file=f'{root}/annotations/instances_val.json'))
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        gt = sample.gt_instances
        metric.process({}, [dict(img_id=sample.img_id, ori_shape=sample.ori_shape, pred_instances=dict(
            bboxes=gt.bboxes.tensor, scores=torch.ones(len(gt.labels)), labels=gt.labels))])
    return metric.evaluate(len(dataset))['coco/bbox_mAP']


def test_what_an_augmented_test_pipeline_scores(coco_root):
    assert _perfect_detector_map(coco_root, augment=False) == 1.0
    assert _perfect_detector_map(coco_root, augment=True) < 0.5


def _with(cfg: Config, loader: str, transform: dict, at: int = -1) -> Config:
    pipeline = list(cfg[loader].dataset.pipeline)
    pipeline.insert(len(pipeline) + at if at < 0 else at, transform)
    cfg[loader].dataset.pipeline = pipeline
    return cfg


AUGMENT = dict(type='automl_mm.FixedAutoAugment')


@pytest.mark.parametrize('loader', ['val_dataloader', 'test_dataloader'])
def test_a_scored_detection_pipeline_with_autoaugment_is_refused(coco_root, loader):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)  # a loader of its own (the base shares val's)
    check_config(cfg)
    _with(cfg, loader, AUGMENT)
    match = rf'{loader}.dataset.pipeline\[3\] is FixedAutoAugment, a training augmentation, in a pipeline that is ' \
        'scored.*Remove it from'
    with pytest.raises(ConfigCheckError, match=match):
        check_config(cfg)
    if loader == 'test_dataloader':  # tools/test.py's check of what it reads
        with pytest.raises(ConfigCheckError, match=match):
            check_config(cfg, test_only=True)
    else:
        check_config(cfg, test_only=True)


def test_the_training_pipeline_keeps_it_and_wrappers_and_nested_lists_are_searched(coco_root):
    cfg = _with(synthcoco_detector_cfg(coco_root), 'train_dataloader', AUGMENT)
    check_config(cfg)  # where it belongs
    val = cfg.val_dataloader.dataset
    cfg.val_dataloader.dataset = dict(type='ConcatDataset', datasets=[val, dict(val, pipeline=[
        *val.pipeline[:-1], dict(type='RandomApply', transforms=[dict(type='automl_mm.OHLAutoAugment')]),
        val.pipeline[-1]])])
    with pytest.raises(ConfigCheckError, match=r'val_dataloader.dataset.datasets.1.pipeline\[3\].transforms\[0\] '
                                               'is OHLAutoAugment'):
        check_config(cfg)


def test_a_reward_loader_of_a_classification_config_unprefixed_in_automl_mm_scope(tmp_path):
    from conftest import tiny_ohl_cfg

    cfg = tiny_ohl_cfg(str(tmp_path))
    check_config(cfg)
    pipeline = cfg.reward_dataloader.dataset.pipeline
    cfg.reward_dataloader.dataset.pipeline = [dict(type='OHLRandomChoice', key='other', transforms=[[], []]),
                                              *pipeline]
    with pytest.raises(ConfigCheckError, match=r'reward_dataloader.dataset.pipeline\[0\] is OHLRandomChoice'):
        check_config(cfg)


def test_the_held_out_evaluator_refuses_it_when_built(tmp_path):
    """OHL rewards / NAS scores built outside tools/train.py's check (a runner built in-process) are checked too."""
    from types import SimpleNamespace

    from mmengine.evaluator import Evaluator

    from automl_mm.engine.evaluate import HeldOutEvaluator

    from conftest import tiny_ohl_cfg

    cfg = tiny_ohl_cfg(str(tmp_path))
    loader = copy.deepcopy(cfg.reward_dataloader)
    loader.dataset.pipeline = [dict(type='FixedAutoAugment'), *loader.dataset.pipeline]
    held = HeldOutEvaluator('reward', 'accuracy/top1', 'OHLHook', loader, dict(type='Accuracy', topk=(1,)),
                            'custom_hooks[0].reward_dataloader', 'custom_hooks[0].reward_evaluator')
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\].reward_dataloader.dataset.pipeline\[0\] is '
                                               'FixedAutoAugment'):
        held.build(SimpleNamespace(cfg=dict(default_scope='automl_mm'), build_evaluator=Evaluator))
