"""OHL-Auto-Aug in an mmdet pipeline before ``LoadAnnotations``: the geometric elements moved the image and the
boxes loaded after it kept their places (every box of every image, silently). It is refused on the first image."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from mmengine.registry import DefaultScope

from automl_mm.augment import DEFAULT_ELEMENTS
from automl_mm.augment.policy import FixedAutoAugment

E = len(DEFAULT_ELEMENTS)
CLASSES = ('rectangle', 'ellipse', 'triangle')


def _translation_probs() -> list[float]:
    probs = np.zeros(E * E)
    probs[DEFAULT_ELEMENTS.index(('HorizontalTranslate', 0.3)) * E
          + DEFAULT_ELEMENTS.index(('VerticalTranslate', 0.15))] = 1.0
    return probs.tolist()


def _dataset(root: str, pipeline: list):
    """A stock mmdet CocoDataset (mmdet's scope, automl_mm's transform by its prefix) on the generated set."""
    from mmdet.registry import DATASETS

    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dict(type='CocoDataset', data_root=root, ann_file='annotations/instances_train.json',
                                   data_prefix=dict(img='train/'), metainfo=dict(classes=CLASSES),
                                   pipeline=copy.deepcopy(pipeline)))


@pytest.mark.parametrize('transform', ['automl_mm.FixedAutoAugment', 'automl_mm.OHLAutoAugment'])
def test_before_load_annotations_is_refused_naming_the_order(coco_root, transform):
    aug = dict(type=transform, probs=_translation_probs())
    load, pack = dict(type='LoadAnnotations', with_bbox=True), dict(type='PackDetInputs')
    before = _dataset(coco_root, [dict(type='LoadImageFromFile'), aug, load, pack])
    with pytest.raises(ValueError, match=r"runs before the annotations are loaded.*'instances' but no 'gt_bboxes'"
                                         r'.*Put it after LoadAnnotations'):
        before[0]
    after = _dataset(coco_root, [dict(type='LoadImageFromFile'), load, aug, pack])
    plain = _dataset(coco_root, [dict(type='LoadImageFromFile'), load, pack])
    moved = after[0]['data_samples'].gt_instances.bboxes.tensor
    original = plain[0]['data_samples'].gt_instances.bboxes.tensor
    assert len(original) and (len(moved) != len(original) or not np.allclose(moved.numpy(), original.numpy()))
    # photometric elements move nothing: before LoadAnnotations they are harmless and stay allowed
    photometric = dict(type=transform, elements=[('Posterize', 4.4), ('Solarize', 102)])
    sample = _dataset(coco_root, [dict(type='LoadImageFromFile'), photometric, load, pack])[0]['data_samples']
    np.testing.assert_array_equal(sample.gt_instances.bboxes.tensor.numpy(), original.numpy())


def test_a_segmentation_map_not_loaded_yet_is_refused():
    results = dict(img=np.zeros((8, 8, 3), np.uint8), seg_map_path='seg/0.png')
    with pytest.raises(ValueError, match="'seg_map_path' but no 'gt_seg_map'"):
        FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)])(results)
    loaded = FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)])(
        dict(results, gt_seg_map=np.zeros((8, 8), np.uint8)))
    assert 'ohl_choice' in loaded
    # classification results (no instances, no segmentation map) are not concerned
    assert 'ohl_choice' in FixedAutoAugment()(dict(img=np.zeros((8, 8, 3), np.uint8)))


def test_masks_loaded_without_boxes_count_as_loaded():
    """mmdet's LoadAnnotations(with_bbox=False, with_mask=True) loads no gt_bboxes: the masks move with the image."""
    from mmdet.structures.mask import BitmapMasks

    masks = BitmapMasks(np.ones((1, 8, 8), np.uint8), 8, 8)
    results = dict(img=np.zeros((8, 8, 3), np.uint8), instances=[dict(bbox=[0, 0, 8, 8], bbox_label=0)],
                   gt_masks=masks)
    assert 'ohl_choice' in FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)])(results)


def test_keypoints_loaded_without_boxes_count_as_loaded():
    """mmcv's LoadAnnotations(with_bbox=False, with_keypoints=True) loads only gt_keypoints, which the geometric
    elements move: it was refused as if it ran before LoadAnnotations ("'instances' but no 'gt_bboxes'")."""
    results = dict(img=np.zeros((8, 8, 3), np.uint8), instances=[dict(bbox=[0, 0, 8, 8], keypoints=[[1, 1, 2]])],
                   gt_keypoints=np.array([[[1, 1, 2]]], np.float32))
    out = FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)], probs=[1, 0, 0, 0])(results)
    assert out['gt_keypoints'].shape == (1, 1, 3) and not np.allclose(out['gt_keypoints'][0, 0, :2], [1, 1])
