"""What geometric elements do to annotations that a warp pushes partly or wholly out of the image.

The oracle is shapely (an mmdet dependency): the part of a moved box or polygon inside the image is the exact
intersection of the moved shape with the image rectangle [0, W] x [0, H].
"""
from __future__ import annotations

import numpy as np
import pytest
import shapely
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from automl_mm.augment.elements import build_elements
from automl_mm.augment.ops import HorizontalShear, HorizontalTranslate, Rotate
from tests.test_augment._signs import MINUS, PLUS

GEOMETRIC = [op for op in build_elements('ohl+randaugment') if op.geometric] + [Rotate(90), Rotate(150)]
IMAGE = shapely.box(0, 0, 40, 30)  # W = 40, H = 30


def _moved(op, points: np.ndarray, sign_rng) -> np.ndarray:
    matrix = op.affine_matrix(30, 40, 1.0 if sign_rng.random() < 0.5 else -1.0)
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_a_polygon_shifted_partly_out_keeps_only_its_part_inside():
    """Clamping each vertex to the image (x -> max(x, 0)) is not clipping: the triangle (2, 2), (18, 2), (2, 18)
    of a 20 x 20 image shifted 6 px left became (0, 2), (12, 2), (0, 18), area 96, where the part left inside is
    (0, 2), (12, 2), (0, 14), area 72 (the bitmap mask of the same object: 66 pixels)."""
    masks = PolygonMasks([[np.array([2, 2, 18, 2, 2, 18], np.float64)]], 20, 20)
    out = HorizontalTranslate(0.3).apply(dict(img=np.zeros((20, 20), np.uint8), gt_masks=masks), MINUS)
    np.testing.assert_allclose(out['gt_masks'].areas, [72.0])
    points = out['gt_masks'].masks[0][0].reshape(-1, 2)
    assert {tuple(p) for p in points} == {(0.0, 2.0), (12.0, 2.0), (0.0, 14.0)}


_POLYGONS = [
    np.array([[2, 2], [14, 3], [9, 12]], np.float64),  # a triangle at the top-left corner
    np.array([[25, 20], [39, 18], [38, 29], [30, 27]], np.float64),  # a quadrilateral at the bottom-right
    np.array([[1, 10], [12, 10], [12, 14], [5, 14], [5, 28], [1, 28]], np.float64),  # an L along the left edge
    np.array([[10, 5], [30, 5], [30, 25], [10, 25]], np.float64),  # well inside: a warp never moves it out
]


@pytest.mark.parametrize('rng', [PLUS, MINUS], ids=['plus', 'minus'])
@pytest.mark.parametrize('op', GEOMETRIC, ids=[op.name for op in GEOMETRIC])
def test_moved_polygons_are_their_exact_part_inside_the_image(op, rng):
    masks = PolygonMasks([[p.reshape(-1)] for p in _POLYGONS], 30, 40)
    out = op.apply(dict(img=np.zeros((30, 40), np.uint8), gt_masks=masks), rng)['gt_masks']
    assert len(out) == len(_POLYGONS) and (out.height, out.width) == (30, 40)
    for polygon, pieces in zip(_POLYGONS, out.masks):  # pieces: several where the border cut the object apart
        expected = shapely.Polygon(_moved(op, polygon, rng)).intersection(IMAGE)
        # its parts with an area: an edge lying on the border (an L shifted until its foot touches it) is no object
        expected = shapely.union_all([g for g in getattr(expected, 'geoms', [expected]) if g.area > 0])
        points = np.concatenate([piece.reshape(-1, 2) for piece in pieces])
        assert points.min() >= 0 and (points.max(0) <= [40, 30]).all()
        area = sum(shapely.Polygon(piece.reshape(-1, 2)).area for piece in pieces)
        assert abs(area - expected.area) < 1e-6
        if expected.area > 0:
            np.testing.assert_allclose([*points.min(0), *points.max(0)], expected.bounds, atol=1e-9)


def test_a_polygon_moved_wholly_out_is_an_empty_placeholder():
    """The object stays (its box, label and mask stay aligned); its polygon has no area, as mmdet's crop does."""
    masks = PolygonMasks([[np.array([30, 2, 38, 2, 38, 8], np.float64)]], 20, 40)
    out = HorizontalTranslate(0.3).apply(dict(img=np.zeros((20, 40), np.uint8), gt_masks=masks), PLUS)['gt_masks']
    assert len(out) == 1 and out.areas[0] == 0 and not out.to_ndarray().any()


def test_a_degenerate_polygon_moved_out_is_an_empty_placeholder():
    """A two-point polygon (a segment: no ring for shapely) partly moved out became shapely's 'A linearring
    requires at least 4 coordinates' error; it encloses nothing, so it is mmdet's zero-area placeholder."""
    masks = PolygonMasks([[np.array([2, 2, 18, 2], np.float64)]], 20, 40)
    out = HorizontalTranslate(0.3).apply(dict(img=np.zeros((20, 40), np.uint8), gt_masks=masks), MINUS)['gt_masks']
    assert len(out) == 1 and out.areas[0] == 0


def _random_boxes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = rng.uniform([-5, -5], [38, 28], (n, 2))
    wh = rng.uniform(2, 14, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


@pytest.mark.parametrize('rng', [PLUS, MINUS], ids=['plus', 'minus'])
@pytest.mark.parametrize('op', GEOMETRIC, ids=[op.name for op in GEOMETRIC])
def test_moved_boxes_enclose_the_part_of_the_moved_box_inside_the_image(op, rng):
    """A box is the enclosing box of its moved rectangle's part inside the image. The enclosing box of the moved
    corners, each clamped to the image, was looser by up to the part of the rectangle outside (Rotate(-30) of a
    40 x 30 image: the box [0, 0, 10, 10] became [5.18, 0, 18.84, 5.67]; the part inside ends at x = 17.11)."""
    boxes = np.concatenate([_random_boxes(60, 0), [[0, 0, 10, 10], [34, 26, 40, 30]]]).astype(np.float32)
    labels = np.arange(len(boxes))
    out = op.apply(dict(img=np.zeros((30, 40), np.uint8), gt_bboxes=HorizontalBoxes(boxes),
                        gt_bboxes_labels=labels), rng)
    expected = []
    for x1, y1, x2, y2 in boxes.astype(np.float64):
        corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
        inside = shapely.Polygon(_moved(op, corners, rng)).intersection(IMAGE)
        bx1, by1, bx2, by2 = inside.bounds if not inside.is_empty else (0, 0, 0, 0)
        expected.append((bx1, by1, bx2, by2) if bx2 - bx1 >= 1 and by2 - by1 >= 1 else None)
    keep = np.array([e is not None for e in expected])
    np.testing.assert_array_equal(out['gt_bboxes_labels'], labels[keep])
    np.testing.assert_allclose(out['gt_bboxes'].tensor.numpy(), [e for e in expected if e is not None], atol=1e-4)


def test_an_instance_dropped_with_its_box_drops_its_track_id():
    """mmdet's tracking pipelines carry ``gt_instances_ids`` (one per box; mmdet's RandomCrop drops them with the
    boxes). A box that left the image dropped its label and mask but kept its id: 3 ids for 2 boxes."""
    results = dict(img=np.zeros((20, 40), np.uint8),
                   gt_bboxes=HorizontalBoxes(np.array([[2, 3, 10, 8], [36, 10, 39, 14], [20, 2, 25, 6]], np.float32)),
                   gt_bboxes_labels=np.array([5, 6, 7]), gt_instances_ids=np.array([11, 12, 13], np.int32))
    out = HorizontalTranslate(0.15).apply(results, PLUS)  # 6 px right: the second box leaves
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [5, 7])
    np.testing.assert_array_equal(out['gt_instances_ids'], [11, 13])


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16, np.int32, np.int64, np.bool_])
def test_warped_segmentation_maps_and_bitmap_masks_keep_their_dtype(dtype):
    """cv2 returned an int64 seg map as int32, and refused a bool one with an assertion about 'nnfunc'."""
    seg = (np.arange(30 * 40).reshape(30, 40) % 2).astype(dtype)
    masks = BitmapMasks(np.stack([seg, 1 - seg]).astype(dtype), 30, 40)
    out = Rotate(30).apply(dict(img=np.zeros((30, 40), np.uint8), gt_seg_map=seg, gt_masks=masks), PLUS)
    assert out['gt_seg_map'].dtype == dtype and out['gt_masks'].masks.dtype == dtype
    assert out['gt_seg_map'].shape == (30, 40)


def test_the_uncovered_band_of_a_segmentation_map_is_ignored_or_background_never_a_class():
    """The band a warp uncovers got 255 (the ignore label) cast to the map's dtype: True, the foreground, in a bool
    map, and 127, a class, in an int8 map. A bool map has no ignore label: the band is background (False), as in
    bitmap masks; an int8 map, which cannot hold 255, is refused, naming it."""
    shift = HorizontalTranslate(0.3)  # 3 px of a 10 px row
    out = shift.apply(dict(img=np.zeros((4, 10), np.uint8), gt_seg_map=np.ones((4, 10), bool)), PLUS)['gt_seg_map']
    assert out.dtype == np.bool_ and not out[:, :3].any() and out[:, 3:].all()
    out = shift.apply(dict(img=np.zeros((4, 10), np.uint8), gt_seg_map=np.ones((4, 10), np.int16)), PLUS)
    assert (out['gt_seg_map'][:, :3] == 255).all()
    with pytest.raises(ValueError, match=r"gt_seg_map.*int8.*255"):
        shift.apply(dict(img=np.zeros((4, 10), np.uint8), gt_seg_map=np.ones((4, 10), np.int8)), PLUS)


@pytest.mark.parametrize('rng', [PLUS, MINUS], ids=['plus', 'minus'])
@pytest.mark.parametrize('op', GEOMETRIC, ids=[op.name for op in GEOMETRIC])
def test_keypoints_move_with_the_image_and_leave_it_invisible(op, rng):
    """mmcv's LoadAnnotations(with_keypoints=True) gives ``gt_keypoints`` (N, K, 3) as (x, y, visibility), which
    mmcv's Resize, RandomFlip and CenterCrop move; the geometric elements left them where they were (a rotated
    image with unrotated keypoints). As mmcv's CenterCrop does, a keypoint moved out of the image is made
    invisible and clamped to it."""
    points = np.array([[[5, 5, 2], [20, 15, 2], [38, 28, 1]], [[1, 27, 2], [12, 3, 0], [30, 8, 2]]], np.float32)
    out = op.apply(dict(img=np.zeros((30, 40), np.uint8), gt_keypoints=points.copy()), rng)['gt_keypoints']
    assert out.shape == points.shape and out.dtype == np.float32
    moved = _moved(op, points[..., :2].reshape(-1, 2).astype(np.float64), rng).reshape(2, 3, 2)
    # Rotate(90)-minus turns (5, 5) onto the border, (30, 0) (cv2's matrix: y = -1e-15): on it, so visible
    moved = np.where(np.abs(moved - moved.round()) < 1e-9, moved.round(), moved)
    inside = (moved[..., 0] >= 0) & (moved[..., 0] < 40) & (moved[..., 1] >= 0) & (moved[..., 1] < 30)
    np.testing.assert_allclose(out[..., :2], np.clip(moved, 0, [40, 30]), atol=1e-4)
    np.testing.assert_array_equal(out[..., 2], np.where(inside, points[..., 2], 0))


def test_keypoints_are_dropped_with_their_box():
    results = dict(img=np.zeros((20, 40), np.uint8),
                   gt_bboxes=HorizontalBoxes(np.array([[2, 3, 10, 8], [36, 10, 39, 14]], np.float32)),
                   gt_keypoints=np.array([[[4, 4, 2]], [[37, 12, 2]]], np.float32))
    out = HorizontalTranslate(0.15).apply(results, PLUS)  # 6 px right: the second box leaves
    np.testing.assert_array_equal(out['gt_keypoints'], [[[10, 4, 2]]])


def test_a_self_intersecting_polygon_moved_partly_out_keeps_both_lobes():
    """A bow-tie polygon (COCO has some) is both its lobes when rasterised (pycocotools: mmdet's poly2mask, and so
    the BitmapMasks path of the same object). Repaired by ``buffer(0)`` before clipping, it kept one lobe: moved 3 px
    left, (1, 2), (12, 14), (12, 2), (1, 14) on a 20 x 20 image had area 33 (the right lobe) where its part inside is
    33 + 33 (3.5 / 5.5)^2 = 46.36 (the left lobe cut at x = 0), while the same polygon left inside kept both."""
    masks = PolygonMasks([[np.array([1, 2, 12, 14, 12, 2, 1, 14], np.float64)]], 20, 20)
    out = HorizontalTranslate(0.15).apply(dict(img=np.zeros((20, 20), np.uint8), gt_masks=masks), MINUS)['gt_masks']
    pieces = out.masks[0]
    np.testing.assert_allclose(sum(shapely.Polygon(p.reshape(-1, 2)).area for p in pieces), 33 + 33 * (3.5 / 5.5) ** 2)
    points = np.concatenate([p.reshape(-1, 2) for p in pieces])
    np.testing.assert_allclose([*points.min(0), *points.max(0)], [0, 2, 9, 14])


def test_a_polygon_with_a_hole_moved_partly_out_keeps_its_hole():
    """A hole drawn into one polygon through a zero-width slit (a 'keyhole', as polygon annotations of a ring-shaped
    object are made) is a hole when rasterised (pycocotools: area 400 - 60 = 340 inside the image). Moved partly out,
    its repair gives a polygon with an interior ring, of which only the exterior was kept: the hole filled, area 300
    where the part inside is 300 - 60 = 240. The kept ring goes round the hole again through a slit."""
    import pycocotools.mask as mask_utils

    from automl_mm.augment.annotations import clip_polygon

    outer, hole = [(-5, 0), (15, 0), (15, 20), (-5, 20), (-5, 10)], [(2, 10), (2, 15), (8, 15), (8, 5), (2, 5), (2, 10)]
    pieces = clip_polygon(np.array(outer + hole + [(-5, 10)], np.float64), 40, 40)
    rle = mask_utils.merge(mask_utils.frPyObjects([p.reshape(-1).tolist() for p in pieces], 40, 40))
    assert mask_utils.area(rle) == 240
    assert mask_utils.decode(rle)[5:15, 2:8].sum() == 0  # the hole stays empty


def test_integer_coordinates_are_moved_exactly_not_truncated():
    """mmdet's LoadAnnotations makes a polygon of integer COCO coordinates an int64 array (``np.array(polygon)``).
    Sheared by 0.1 the rectangle (10, 10), (20, 10), (20, 15), (10, 15) is (11, 10), (21, 10), (21.5, 15),
    (11.5, 15): cast back to int64 the last two were truncated to 21 and 11, half a pixel off the sheared box
    [11, 10, 21.5, 15]. Integer boxes and keypoints were truncated alike, and a bitmap mask of another dtype went
    through uint8 (a soft mask's 0.75 became 0)."""
    polygon = np.array([10, 10, 20, 10, 20, 15, 10, 15])
    assert polygon.dtype == np.int64
    soft = np.zeros((1, 30, 40), np.float32)
    soft[0, 10:15, 10:20] = 0.75
    results = dict(img=np.zeros((30, 40), np.uint8), gt_bboxes=np.array([[10, 10, 20, 15]], np.int64),
                   gt_masks=PolygonMasks([[polygon]], 30, 40), gt_keypoints=np.array([[[20, 15, 2]]], np.int32))
    out = HorizontalShear(0.1).apply(results, PLUS)
    moved = out['gt_masks'].masks[0][0]
    assert moved.dtype == np.float64
    np.testing.assert_array_equal(moved, [11, 10, 21, 10, 21.5, 15, 11.5, 15])
    np.testing.assert_array_equal(out['gt_bboxes'], [[11, 10, 21.5, 15]])
    np.testing.assert_array_equal(out['gt_keypoints'], [[[21.5, 15, 2]]])
    # the same boxes as mmdet HorizontalBoxes of an integer tensor
    boxes = HorizontalBoxes(torch.tensor([[10, 10, 20, 15]]))
    out = HorizontalShear(0.1).apply(dict(img=np.zeros((30, 40), np.uint8), gt_bboxes=boxes), PLUS)
    assert out['gt_bboxes'].tensor.is_floating_point()
    np.testing.assert_array_equal(out['gt_bboxes'].tensor.numpy(), [[11, 10, 21.5, 15]])
    # a float bitmap mask keeps its dtype and values (a whole-pixel move: exactly the shifted mask)
    out = HorizontalTranslate(0.15).apply(dict(img=np.zeros((30, 40), np.uint8),
                                               gt_masks=BitmapMasks(soft.copy(), 30, 40)), PLUS)
    assert out['gt_masks'].masks.dtype == np.float32
    np.testing.assert_array_equal(out['gt_masks'].masks, np.roll(soft, 6, axis=2))
