"""A geometric element warps every annotation map with the image's matrix, in the image's pixel frame: a
``gt_seg_map`` or ``gt_masks`` of another size (mmdet's ``SegRescale(scale_factor=1/8)`` run before the policy, as
mmdet 2's HTC pipelines did) was warped in its own frame by that matrix, silently: a 40 x 60 image translated by
18 px moved its 5 x 8 map by 18 of its 8 columns (all ignore label), and a rotation turned it about a point outside
it. Such results are refused, naming the key and both sizes, whichever pair is drawn."""
from __future__ import annotations

import numpy as np
import pytest
from mmdet.datasets.transforms import SegRescale
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from automl_mm.augment.ops import HorizontalTranslate, Rotate
from automl_mm.augment.policy import FixedAutoAugment


def _rescaled_seg_results() -> dict:
    seg = np.tile(np.arange(60, dtype=np.uint8) // 10, (40, 1))  # 6 column bands of classes 0 ... 5
    results = dict(img=np.zeros((40, 60, 3), np.uint8), gt_seg_map=seg)
    return SegRescale(scale_factor=1 / 8)(results)


def test_a_rescaled_segmentation_map_is_refused_by_a_geometric_element():
    results = _rescaled_seg_results()
    assert results['gt_seg_map'].shape == (5, 8)
    for op in (HorizontalTranslate(0.3), Rotate(30)):
        with pytest.raises(ValueError, match=r"gt_seg_map'\] is 5 x 8 .* image is 40 x 60.*SegRescale"):
            op.apply(dict(results), np.random.default_rng(0))


def test_bitmap_masks_of_another_size_are_refused():
    masks = BitmapMasks(np.zeros((1, 20, 30), np.uint8), 20, 30)
    results = dict(img=np.zeros((40, 60), np.uint8), gt_masks=masks, gt_bboxes=np.array([[1.0, 1, 5, 5]]))
    with pytest.raises(ValueError, match=r"gt_masks'\] \(bitmaps\) are 20 x 30 .* image is 40 x 60.*masks would "
                                         r'not move with the image'):
        Rotate(10).apply(results, np.random.default_rng(0))


def test_polygon_masks_of_another_size_are_refused_as_coordinates_in_another_frame():
    """PolygonMasks hold coordinates, not pixels: the element does move them, by the image's matrix, and clips them
    to the image. The refusal spoke of a map that "would not move with the image", which is the bitmap case; for
    polygons declared for a 20 x 30 image it now says their coordinates are in that image's frame."""
    masks = PolygonMasks([[np.array([1.0, 1, 5, 1, 5, 5])]], 20, 30)
    results = dict(img=np.zeros((40, 60), np.uint8), gt_masks=masks, gt_bboxes=np.array([[1.0, 1, 5, 5]]))
    with pytest.raises(ValueError) as error:
        Rotate(10).apply(results, np.random.default_rng(0))
    message = str(error.value)
    assert "results['gt_masks'] are PolygonMasks of a 20 x 30 image but the image is 40 x 60" in message
    assert 'polygon coordinates are in the frame of that other image' in message
    assert 'would not move' not in message and 'map' not in message
    assert 'PolygonMasks.rescale' in message


def test_the_policy_refuses_them_whichever_pair_is_drawn():
    # every draw is the photometric pair Invert + Invert: the map would not move this time, but the next draw's
    # would be wrong, so the first image stops the run
    probs = [0.0] * 4
    probs[3] = 1.0
    policy = FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)], probs=probs)
    with pytest.raises(ValueError, match=r"FixedAutoAugment.*gt_seg_map'\] is 5 x 8"):
        policy(_rescaled_seg_results())


def test_maps_of_the_image_size_still_move():
    seg = np.tile(np.arange(60, dtype=np.uint8) // 10, (40, 1))
    out = HorizontalTranslate(0.3).apply(dict(img=np.zeros((40, 60), np.uint8), gt_seg_map=seg.copy()),
                                         np.random.default_rng(0))
    moved = out['gt_seg_map']
    assert moved.shape == (40, 60) and ((moved[:, :18] == 255).all() or (moved[:, -18:] == 255).all())
