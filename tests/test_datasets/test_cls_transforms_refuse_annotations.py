"""The classification transforms that move or resize the image (automl_mm's RandomCrop, RandomResizedCrop,
ResizeShortEdge and TorchvisionAugment) given a detection sample: they moved the image and left its boxes, masks and
segmentation map where they were, silently (a box [8, 8, 16, 16] stayed there while its object went to
[1, 7, 9, 15] under RandomCrop(24, padding=4))."""
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
                instances=[dict(bbox=[8, 8, 16, 16], bbox_label=0)], seg_map_path='seg.png')


@pytest.mark.parametrize('key', list(_annotations()))
@pytest.mark.parametrize('transform', _TRANSFORMS, ids=lambda t: type(t).__name__)
def test_a_sample_with_pixel_annotations_is_refused_naming_them(transform, key):
    results = dict(img=np.zeros((32, 32, 3), np.uint8), **{key: _annotations()[key]})
    with pytest.raises(ValueError, match=rf'{type(transform).__name__}.*{key}.*mmdet'):
        transform(results)


@pytest.mark.parametrize('transform', _TRANSFORMS, ids=lambda t: type(t).__name__)
def test_a_classification_sample_still_passes(transform):
    out = transform(dict(img=np.zeros((32, 32, 3), np.uint8), gt_label=3, gt_bboxes=None))
    assert out['gt_label'] == 3 and out['img'].dtype == np.uint8
