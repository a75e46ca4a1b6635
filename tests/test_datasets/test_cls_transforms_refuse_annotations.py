"""The classification transforms that move or resize the image (automl_mm's RandomCrop, RandomResizedCrop,
ResizeShortEdge and TorchvisionAugment) given a detection or segmentation sample: they moved the image and left its
boxes, masks, segmentation map (and mmseg's edge, depth and other seg_fields maps) where they were, silently (a box
[8, 8, 16, 16] stayed there while its object went to [1, 7, 9, 15] under RandomCrop(24, padding=4)); and
TorchvisionAugment's per-channel fill on BGR images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from automl_mm.datasets import RandomCrop, RandomResizedCrop, ResizeShortEdge, TorchvisionAugment

_TRANSFORMS = [RandomCrop(24, padding=4), RandomResizedCrop(16), ResizeShortEdge(16),
               TorchvisionAugment('RandAugment', num_ops=2, magnitude=9)]


def _annotations() -> dict:
    return dict(gt_bboxes=HorizontalBoxes(torch.tensor([[8.0, 8, 16, 16]])),
                gt_masks=BitmapMasks(np.zeros((1, 32, 32), np.uint8), 32, 32),
                gt_seg_map=np.zeros((32, 32), np.uint8), gt_keypoints=np.zeros((1, 2, 3), np.float32),
                instances=[dict(bbox=[8, 8, 16, 16], bbox_label=0)], seg_map_path='seg.png',
                # mmseg's other per-pixel maps (PackSegInputs packs them) and LoadDepthAnnotation's path
                gt_edge_map=np.zeros((32, 32), np.uint8), gt_depth_map=np.ones((32, 32), np.float32),
                depth_map_path='depth.png')


@pytest.mark.parametrize('key', list(_annotations()))
@pytest.mark.parametrize('transform', _TRANSFORMS, ids=lambda t: type(t).__name__)
def test_a_sample_with_pixel_annotations_is_refused_naming_them(transform, key):
    results = dict(img=np.zeros((32, 32, 3), np.uint8), **{key: _annotations()[key]})
    with pytest.raises(ValueError, match=rf'{type(transform).__name__}.*{key}.*mmdet'):
        transform(results)


@pytest.mark.parametrize('transform', _TRANSFORMS, ids=lambda t: type(t).__name__)
def test_a_map_listed_in_mmsegs_seg_fields_is_refused_naming_it(transform):
    """mmseg lists a sample's per-pixel maps in seg_fields (its own geometric transforms warp each): a map of the
    data set's own key there was left behind as silently as gt_seg_map was."""
    results = dict(img=np.zeros((32, 32, 3), np.uint8), seg_fields=['gt_part_map'],
                   gt_part_map=np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match=rf'{type(transform).__name__}.*gt_part_map.*mmdet'):
        transform(results)


# what moves mmseg's maps in place of each transform (mmdet's move gt_seg_map only of the per-pixel maps)
_SEG_INSTEAD = {RandomCrop: "mmseg's RandomCrop",
                RandomResizedCrop: "RandomResize (of mmseg's Resize) and mmseg's RandomCrop",
                ResizeShortEdge: "mmseg's Resize (keep_ratio=True)",
                TorchvisionAugment: "automl_mm.OHLAutoAugment(elements='randaugment')"}


@pytest.mark.parametrize('key', ['gt_edge_map', 'gt_depth_map', 'gt_part_map', 'depth_map_path'])
@pytest.mark.parametrize('transform', _TRANSFORMS, ids=lambda t: type(t).__name__)
def test_mmsegs_maps_are_pointed_at_a_transform_that_moves_them(transform, key):
    """The refusal of mmseg's maps pointed only at mmdet's transforms ("use mmdet's RandomCrop"), which move
    gt_seg_map and none of mmseg's other maps: following it, RandomCrop's depth map was left behind all the same,
    silently. It names mmseg's transform (which moves every map in seg_fields), and for gt_edge_map GenerateEdge,
    which makes it from gt_seg_map and lists it in no seg_fields."""
    results = dict(img=np.zeros((32, 32, 3), np.uint8), seg_fields=['gt_part_map'],
                   **{key: {**_annotations(), 'gt_part_map': np.zeros((32, 32), np.uint8)}[key]})
    with pytest.raises(ValueError) as error:
        transform(results)
    message = str(error.value)
    assert f"for mmseg's maps ({key}) use {_SEG_INSTEAD[type(transform)]} (what moves every map" in message
    assert "mmdet's transforms move gt_seg_map only" in message
    assert ("mmseg's GenerateEdge after that" in message) == (key == 'gt_edge_map')


@pytest.mark.parametrize('key', ['gt_seg_map', 'seg_map_path', 'gt_bboxes'])
def test_mmdets_annotations_keep_the_mmdet_advice_alone(key):
    results = dict(img=np.zeros((32, 32, 3), np.uint8), seg_fields=['gt_seg_map'], **{key: _annotations()[key]})
    with pytest.raises(ValueError, match=r"use mmdet's RandomCrop$"):
        RandomCrop(24, padding=4)(results)


@pytest.mark.parametrize('transform', _TRANSFORMS, ids=lambda t: type(t).__name__)
def test_a_classification_sample_still_passes(transform):
    out = transform(dict(img=np.zeros((32, 32, 3), np.uint8), gt_label=3, gt_bboxes=None))
    assert out['gt_label'] == 3 and out['img'].dtype == np.uint8


def test_a_per_channel_fill_is_in_the_images_channel_order():
    """torchvision takes ``fill`` in the order of the image it is given, RGB: for a BGR image (the default) a fill
    written in the image's order, [10, 20, 30] (blue 10), came out reversed (blue 30)."""
    for bgr, expected in ((True, (10, 20, 30)), (False, (10, 20, 30))):
        t = TorchvisionAugment('RandAugment', bgr=bgr, num_ops=1, magnitude=9, fill=[10, 20, 30])
        torch.manual_seed(0)  # this seed's operation uncovers a band
        out = t(dict(img=np.zeros((16, 16, 3), np.uint8)))['img']
        assert {tuple(v) for v in out.reshape(-1, 3).tolist()} - {(0, 0, 0)} == {expected}
    assert TorchvisionAugment('RandAugment', fill=[10, 20, 30]).kwargs['fill'] == [10, 20, 30]  # as given
