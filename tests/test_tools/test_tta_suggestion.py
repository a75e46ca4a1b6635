"""tools/test.py --tta on a config without tta_model / tta_pipeline (no shipped config has them) is refused with
lines the user can paste into a child config: for a detector, mmdet's flip TTA over the config's own test pipeline
(the message said ``transforms=[...]``, leaving the pipeline to be written)."""
from __future__ import annotations

import os.path as osp
import re

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.tta_views import apply_tta

from conftest import REPO_ROOT

DETECTOR = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py')
DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def test_the_refusal_gives_a_child_config_that_tests_with_mmdets_flip_tta(tmp_path):
    cfg = Config.fromfile(DETECTOR)
    with pytest.raises(ConfigCheckError) as refused:
        apply_tta(cfg)
    message = str(refused.value)
    base = re.search(r"_base_ = ('[^']+')", message).group(1)
    lines = re.search(r"e\.g\. (tta_model = .*?); (tta_pipeline = .*\]) \(mmdet's flip TTA", message)
    assert base == repr(DETECTOR) and lines, message
    child = tmp_path / 'child.py'
    child.write_text(f'_base_ = {base}\n{lines.group(1)}\n{lines.group(2)}\n')
    cfg = Config.fromfile(str(child))
    test_pipeline = list(cfg.test_dataloader.dataset.pipeline)
    apply_tta(cfg)
    assert cfg.model.type == 'DetTTAModel' and cfg.model.module.type == 'FasterRCNN'
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert pipeline[:-1] == test_pipeline[:-1]  # Load, Resize (160 px), LoadAnnotations as the test's
    tta = pipeline[-1]
    assert tta.type == 'TestTimeAug' and [t.prob for t in tta.transforms[0]] == [0.0, 1.0]  # see below
    assert tta.transforms[1][0].type == 'PackDetInputs' and 'flip_direction' in tta.transforms[1][0].meta_keys


def test_only_the_missing_key_is_given():
    cfg = Config.fromfile(DETECTOR)
    cfg.tta_model = dict(type='DetTTAModel')
    with pytest.raises(ConfigCheckError, match=r'needs tta_pipeline in the config') as refused:
        apply_tta(cfg)
    assert 'tta_model =' not in str(refused.value) and 'tta_pipeline = [' in str(refused.value)


def test_a_classifier_is_told_nothing_shipped_fits_it():
    """The refusal suggested mmdet's DetTTAModel "for an mmdet detector" to a user testing an ImageClassifier, for
    which neither automl_mm nor mmdet ships a test-time augmentation wrapper: it says so, and suggests none."""
    from automl_mm.engine.tta_views import flip_tta_pipeline

    cfg = Config.fromfile(DIGITS)
    with pytest.raises(ConfigCheckError) as refused:
        apply_tta(cfg)
    message = str(refused.value)
    assert message.startswith('--tta needs tta_model and tta_pipeline in the config')
    assert 'nothing shipped fits an ImageClassifier' in message and 'Test without --tta' in message
    assert 'DetTTAModel' not in message.replace("mmdet's DetTTAModel merges a detector's boxes", ''), message
    assert 'for an mmdet detector' not in message and 'BaseTTAModel' in message
    assert flip_tta_pipeline(cfg.test_dataloader.dataset.get('pipeline')) is None


def test_the_merged_sample_carries_the_unflipped_ground_truth(coco_root):
    """DetTTAModel returns the first view's data sample with the merged predictions, and --show-dir draws its
    ground truth on the image read from disk: with mmdet's order (flipped view first) every drawn ground-truth box
    was mirrored (seen in a saved image). The first view of the suggested pipeline is the unflipped one."""
    import torch
    from mmdet.models.test_time_augs import DetTTAModel
    from mmdet.registry import DATASETS
    from mmdet.structures import DetDataSample
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData

    from conftest import synthcoco_detector_cfg

    cfg = synthcoco_detector_cfg(coco_root)
    test_set = cfg.test_dataloader.dataset
    with DefaultScope.overwrite_default_scope('mmdet'):
        plain = DATASETS.build(dict(test_set))[0]['data_samples']
        tta = DATASETS.build(dict(test_set, pipeline=flip_pipeline(test_set.pipeline)))[0]['data_samples']
    for view in tta:  # each view's prediction: one box (its values do not matter here)
        view.pred_instances = InstanceData(bboxes=torch.tensor([[1., 2., 9., 12.]]), scores=torch.ones(1),
                                           labels=torch.zeros(1, dtype=torch.long))

    class Detector(torch.nn.Module):
        def test_step(self, data):
            return data

    model = DetTTAModel(module=Detector(), tta_cfg=ConfigDict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=9))
    merged = model._merge_single_sample(tta)
    assert isinstance(merged, DetDataSample) and len(plain.gt_instances) > 0
    # the ground truth --show-dir draws on the image read from disk
    assert torch.equal(merged.gt_instances.bboxes.tensor, plain.gt_instances.bboxes.tensor)
    assert [s.flip for s in tta] == [False, True]


def flip_pipeline(test_pipeline):
    from automl_mm.engine.tta_views import flip_tta_pipeline

    return flip_tta_pipeline(list(test_pipeline))
