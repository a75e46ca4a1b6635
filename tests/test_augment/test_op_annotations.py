"""The geometric OHL-Auto-Aug ops on a sample's annotations: boxes (mmdet's and numpy), bitmap and polygon masks,
segmentation maps of any layout and dtype moved with the image, dropped boxes and what goes with them, and the
homography they record (the ops on images: test_ops.py)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import shapely
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from automl_mm.augment.elements import DEFAULT_ELEMENTS, build_elements
from automl_mm.augment.ops import (
    HorizontalShear,
    HorizontalTranslate,
    Rotate,
    VerticalShear,
    VerticalTranslate,
)
from automl_mm.registry import AUGMENT_OPS
from tests.test_augment._signs import MINUS, PLUS, _FixedRng


def _det_results(box_type: str, mask_type: str) -> dict:
    """A 20x40 image with 3 instances: one inside, one near the right edge, one that a +0.15 shift pushes out."""
    boxes = np.array([[2, 3, 10, 8], [30, 2, 37, 6], [36, 10, 39, 14]], np.float32)
    masks = np.zeros((3, 20, 40), np.uint8)
    polys = []
    for k, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
        masks[k, y1:y2, x1:x2] = 1
        polys.append([np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float64)])
    results = dict(img=np.zeros((20, 40, 3), np.uint8), img_shape=(20, 40),
                   gt_bboxes=HorizontalBoxes(boxes) if box_type == 'hbox' else boxes,
                   gt_bboxes_labels=np.array([5, 6, 7]), gt_ignore_flags=np.array([False, True, False]),
                   gt_masks=BitmapMasks(masks, 20, 40) if mask_type == 'bitmap' else PolygonMasks(polys, 20, 40),
                   gt_seg_map=np.zeros((20, 40), np.uint8))
    return results


def _box_array(boxes) -> np.ndarray:
    return boxes.tensor.numpy() if isinstance(boxes, HorizontalBoxes) else boxes


@pytest.mark.parametrize('mask_type', ['bitmap', 'polygon'])
@pytest.mark.parametrize('box_type', ['hbox', 'numpy'])
def test_translate_moves_boxes_and_drops_the_ones_that_leave(box_type, mask_type):
    results = HorizontalTranslate(0.15).apply(_det_results(box_type, mask_type), PLUS)
    boxes = results['gt_bboxes']
    assert type(boxes) is (HorizontalBoxes if box_type == 'hbox' else np.ndarray)
    assert (boxes.dtype == np.float32) if box_type == 'numpy' else (boxes.tensor.dtype == torch.float32)
    # shift 6 px; the second box is clipped at the right edge, the third (36..39 -> 42..45) leaves and is dropped
    np.testing.assert_array_equal(_box_array(boxes), [[8, 3, 16, 8], [36, 2, 40, 6]])
    np.testing.assert_array_equal(results['gt_bboxes_labels'], [5, 6])
    np.testing.assert_array_equal(results['gt_ignore_flags'], [False, True])
    masks = results['gt_masks']
    assert type(masks) is (BitmapMasks if mask_type == 'bitmap' else PolygonMasks) and len(masks) == 2
    assert (masks.height, masks.width) == (20, 40) and results['img_shape'] == (20, 40)
    if mask_type == 'bitmap':
        expected = np.zeros((2, 20, 40), np.uint8)
        expected[0, 3:8, 8:16] = 1
        expected[1, 2:6, 36:40] = 1
        np.testing.assert_array_equal(masks.masks, expected)
    else:
        np.testing.assert_array_equal(masks.masks[0][0], [8, 3, 16, 3, 16, 8, 8, 8])
        # clipped to the image (the same ring; shapely's clipping may start it at another vertex)
        assert shapely.Polygon(masks.masks[1][0].reshape(-1, 2)).equals(shapely.box(36, 2, 40, 6))
    seg = results['gt_seg_map']
    assert (seg[:, :6] == 255).all() and (seg[:, 6:] == 0).all()


@pytest.mark.parametrize('mask_type', ['bitmap', 'polygon'])
@pytest.mark.parametrize('rng,expected', [
    (PLUS, [[2 + 0.6, 3, 10 + 1.6, 8], [30 + 0.4, 2, 37 + 1.2, 6], [36 + 2, 10, 40, 14]]),
    (MINUS, [[2 - 1.6, 3, 10 - 0.6, 8], [30 - 1.2, 2, 37 - 0.4, 6], [36 - 2.8, 10, 39 - 2, 14]]),
])
def test_shear_boxes_enclose_the_sheared_corners_and_masks_follow(rng, expected, mask_type):
    results = HorizontalShear(0.2).apply(_det_results('hbox', mask_type), rng)
    boxes = results['gt_bboxes'].tensor.numpy()
    np.testing.assert_allclose(boxes, expected, atol=1e-5)
    masks = results['gt_masks']
    assert len(masks) == len(boxes) == len(results['gt_bboxes_labels']) == 3
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        if mask_type == 'bitmap':
            ys, xs = np.nonzero(masks.masks[k])
            assert len(xs) > 0
            assert xs.min() >= np.floor(x1) and xs.max() < np.ceil(x2) and ys.min() >= y1 and ys.max() < y2
        else:
            points = masks.masks[k][0].reshape(-1, 2)
            np.testing.assert_allclose([*points.min(0), *points.max(0)], [x1, y1, x2, y2], atol=1e-5)


def test_a_box_under_a_pixel_that_stays_inside_keeps_its_instance():
    """A box under 1 px (a small object after a downscaling resize: mmdet's large-scale-jitter configs keep boxes
    down to 0.01 px, FilterAnnotations(min_gt_bbox_wh=(1e-2, 1e-2))) that an element moves inside the image was
    dropped with its label, ignore flag and mask as if it had left, and kept under a photometric element; only a box
    the border cuts to less than 1 px vanishes."""
    results = dict(img=np.zeros((20, 40), np.uint8), gt_bboxes_labels=np.array([3, 4]),
                   gt_bboxes=HorizontalBoxes(torch.tensor([[10.0, 10, 10.5, 10.6], [33.5, 2, 34.8, 4]])),
                   gt_ignore_flags=np.array([False, True]),
                   gt_masks=BitmapMasks(np.ones((2, 20, 40), np.uint8), 20, 40))
    out = HorizontalTranslate(0.15).apply(results, PLUS)  # 6 px right: the second box is cut to [39.5, 40]
    np.testing.assert_allclose(out['gt_bboxes'].tensor.numpy(), [[16, 10, 16.5, 10.6]], atol=1e-6)
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [3])
    assert out['gt_ignore_flags'].tolist() == [False] and len(out['gt_masks']) == 1
    for op in (Rotate(10), HorizontalShear(0.1), VerticalShear(0.1)):
        small = dict(img=np.zeros((20, 40), np.uint8), gt_bboxes=np.array([[20.0, 10, 20.5, 10.5]], np.float32),
                     gt_bboxes_labels=np.array([3]))
        moved = op.apply(small, PLUS)
        assert moved['gt_bboxes_labels'].tolist() == [3], op.name
        corners = np.array([[20, 10], [20.5, 10], [20.5, 10.5], [20, 10.5]]) @ op.affine_matrix(20, 40, 1.0)[:, :2].T
        corners += op.affine_matrix(20, 40, 1.0)[:, 2]
        np.testing.assert_allclose(moved['gt_bboxes'], [[*corners.min(0), *corners.max(0)]], atol=1e-5)


@pytest.mark.parametrize('op', [HorizontalTranslate(0.1), VerticalTranslate(0.1), Rotate(90), Rotate(180),
                                HorizontalShear(0.1), Rotate(10)], ids=lambda op: op.name)
def test_a_zero_size_box_that_stays_inside_keeps_its_instance(op):
    """A zero-width box [5, 5, 5, 10] (and a zero-height one) inside a 20 x 20 image that an element moves inside
    it is kept with its label and ignore flag, as under a photometric element and by mmdet's TranslateX / Rotate
    (which drop no box); translations, quarter and half turns dropped them, and a horizontal shear the zero-height
    one. Its
    moved box is the moved segment's; a zero-width box moved out of the image still vanishes."""
    boxes = np.array([[5, 5, 5, 10], [6, 12, 11, 12], [4, 4, 9, 9]], np.float32)
    results = dict(img=np.zeros((20, 20), np.uint8), gt_bboxes=HorizontalBoxes(torch.from_numpy(boxes.copy())),
                   gt_bboxes_labels=np.array([1, 2, 3]), gt_ignore_flags=np.array([False, True, False]))
    out = op.apply(results, PLUS)
    assert out['gt_bboxes_labels'].tolist() == [1, 2, 3] and out['gt_ignore_flags'].tolist() == [False, True, False]
    matrix = op.affine_matrix(20, 20, 1.0)
    corners = boxes[:, [[0, 1], [2, 1], [2, 3], [0, 3]]] @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(out['gt_bboxes'].tensor.numpy(),
                               np.concatenate([corners.min(1), corners.max(1)], 1), atol=1e-4)
    gone = HorizontalTranslate(0.5).apply(dict(img=np.zeros((20, 20), np.uint8), gt_bboxes=boxes[:1] + [12, 0, 12, 0],
                                               gt_bboxes_labels=np.array([1])), PLUS)  # x = 17 -> 27: outside
    assert gone['gt_bboxes'].shape == (0, 4) and gone['gt_bboxes_labels'].tolist() == []
    if op.name not in ('Rotate(90)', 'Rotate(180)'):
        return
    # on the border, turned onto the border: kept for both signs (cv2's cos(90) = 6e-17 put it 1e-15 px outside for one)
    for rng in (PLUS, MINUS):
        edge = op.apply(dict(img=np.zeros((20, 20), np.uint8), gt_bboxes=np.array([[0, 5, 0, 10]], np.float32),
                             gt_bboxes_labels=np.array([1])), rng)
        assert edge['gt_bboxes_labels'].tolist() == [1], rng


@pytest.mark.parametrize('magnitude', [90, 180])
def test_a_quarter_or_half_turn_moves_points_on_the_border_exactly(magnitude):
    """Keypoints on the border of a 20 x 20 image turned by 90 or 180 degrees land where the exact turn puts them,
    visible by mmcv's rule (0 <= x < W, 0 <= y < H) for both signs. cv2's matrix (cos(90) = 6e-17) put (5, 0) at
    x = -1e-15 under Rotate(90): made invisible for one sign, and (20, 20) under Rotate(180) alike; and zero-size
    boxes there (see the test above) are kept for both signs."""
    points = np.array([[[20, 5, 2], [5, 20, 2], [0, 5, 2], [5, 0, 2], [20, 20, 2], [0, 0, 2], [13, 7, 2]]], np.float64)
    exact = {(90, 1.0): [[0, 1, 0], [-1, 0, 20]], (90, -1.0): [[0, -1, 20], [1, 0, 0]],
             (180, 1.0): [[-1, 0, 20], [0, -1, 20]], (180, -1.0): [[-1, 0, 20], [0, -1, 20]]}
    for rng, sign in ((PLUS, 1.0), (MINUS, -1.0)):
        matrix = np.array(exact[magnitude, sign], np.float64)
        xy = points[0, :, :2] @ matrix[:, :2].T + matrix[:, 2]
        visible = (xy >= 0).all(1) & (xy[:, 0] < 20) & (xy[:, 1] < 20)
        out = Rotate(magnitude).apply(dict(img=np.zeros((20, 20), np.uint8), gt_keypoints=points.copy()), rng)
        np.testing.assert_array_equal(out['gt_keypoints'][0, :, :2], xy.clip(0, 20))
        np.testing.assert_array_equal(out['gt_keypoints'][0, :, 2], np.where(visible, 2, 0), err_msg=str(sign))


def test_vertical_shear_drops_a_box_pushed_below_the_image():
    results = _det_results('numpy', 'bitmap')
    results['gt_bboxes'] = np.array([[30, 12, 39, 19], [1, 1, 3, 3]], np.float32)
    results['gt_bboxes_labels'] = np.array([1, 2])
    results['gt_ignore_flags'] = np.array([False, False])
    results['gt_masks'] = results['gt_masks'][[0, 1]]
    out = VerticalShear(0.3).apply(results, PLUS)  # y + 0.3 * 30 >= 21 > 20: leaves the image
    np.testing.assert_allclose(out['gt_bboxes'], [[1, 1.3, 3, 3.9]], atol=1e-5)
    np.testing.assert_array_equal(out['gt_bboxes_labels'], [2])
    assert len(out['gt_masks']) == 1 and len(out['gt_ignore_flags']) == 1


def test_rotate_keeps_boxes_around_their_rotated_masks_and_composes_the_homography():
    results = _det_results('hbox', 'bitmap')
    results['homography_matrix'] = np.eye(3, dtype=np.float32)
    out = Rotate(30).apply(results, MINUS)
    matrix = cv2.getRotationMatrix2D((20.0, 10.0), -30, 1.0)  # about the centre in continuous coordinates
    np.testing.assert_allclose(out['homography_matrix'][:2], matrix, atol=1e-6)
    assert len(out['gt_bboxes']) == len(out['gt_masks']) == len(out['gt_bboxes_labels'])
    for box, mask in zip(out['gt_bboxes'].tensor.numpy(), out['gt_masks'].masks):
        ys, xs = np.nonzero(mask)
        assert len(xs) > 0
        assert xs.min() >= box[0] - 1 and xs.max() <= box[2] and ys.min() >= box[1] - 1 and ys.max() <= box[3]


def test_the_homography_is_recorded_when_no_transform_recorded_one_before():
    """mmdet's geometric transforms create ``homography_matrix`` when it is absent; ours only composed an existing
    one, so an op first in the pipeline was missing from the homography that a later RandomFlip created (the
    original box mapped to a flipped, un-rotated box)."""
    from mmdet.datasets.transforms import RandomFlip

    results = _det_results('hbox', 'bitmap')
    for key in ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_masks'):
        results[key] = results[key][[0]]  # the instance a 4-pixel shift keeps whole inside the image
    assert 'homography_matrix' not in results
    original = results['gt_bboxes'].clone()
    out = RandomFlip(prob=1.0)(HorizontalTranslate(0.1).apply(results, PLUS))
    mapped = original.clone()
    mapped.project_(out['homography_matrix'])
    np.testing.assert_allclose(out['gt_bboxes'].tensor.numpy(), [[26, 3, 34, 8]], atol=1e-5)  # +4, then mirrored
    np.testing.assert_allclose(mapped.tensor.numpy(), out['gt_bboxes'].tensor.numpy(), atol=1e-4)


def test_geometric_ops_handle_empty_annotations():
    results = dict(img=np.zeros((8, 8, 3), np.uint8), gt_bboxes=HorizontalBoxes(np.zeros((0, 4), np.float32)),
                   gt_bboxes_labels=np.zeros(0, np.int64), gt_masks=BitmapMasks(np.zeros((0, 8, 8), np.uint8), 8, 8))
    out = Rotate(20).apply(results, PLUS)
    assert len(out['gt_bboxes']) == len(out['gt_masks']) == 0


# --- sub-pixel exactness: every geometric element against the tight box of its warped mask --------------------------
GEOMETRIC = [(name, m) for name, m in DEFAULT_ELEMENTS if AUGMENT_OPS.get(name).geometric] + [('Rotate', 90),
                                                                                                  ('Rotate', 180)]


def test_translate_shifts_whole_pixels_and_boxes_move_with_the_content():
    # The example: translate 0.15 of a 10-pixel ramp is 1.5 px. Shifting by the float dropped every odd
    # column ([255, 0, 0, 2, 2, 4, ...]); the shift is now 2 whole pixels, and the box moves by the same 2.
    ramp = np.arange(10, dtype=np.uint8)[None].repeat(3, 0)
    for rng, expected_img, expected_box in (
            (PLUS, [255, 255, 0, 1, 2, 3, 4, 5, 6, 7], [5, 0, 8, 3]),
            (MINUS, [2, 3, 4, 5, 6, 7, 8, 9, 255, 255], [1, 0, 4, 3])):
        out = HorizontalTranslate(0.15, fill=255).apply(
            dict(img=ramp.copy(), gt_bboxes=np.array([[3, 0, 6, 3]], np.float32)), rng)
        np.testing.assert_array_equal(out['img'][1], expected_img)
        np.testing.assert_array_equal(out['gt_bboxes'], [expected_box])
    column = np.arange(10, dtype=np.uint8)[:, None]
    np.testing.assert_array_equal(VerticalTranslate(0.15, fill=255).apply(dict(img=column), PLUS)['img'][:, 0],
                                  [255, 255, 0, 1, 2, 3, 4, 5, 6, 7])


def _rectangle_results(size=(96, 128), box=(44, 30, 84, 56)):
    """A grey image holding one filled rectangle, its box, its bitmap mask and its polygon (all the same region)."""
    height, width = size
    x1, y1, x2, y2 = box
    mask = np.zeros((1, height, width), np.uint8)
    mask[0, y1:y2, x1:x2] = 1
    return dict(img=mask[0] * np.uint8(200), gt_bboxes=np.array([box], np.float64),
                gt_masks=BitmapMasks(mask, height, width),
                gt_seg_map=mask[0].copy()), PolygonMasks([[np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float64)]],
                                                          height, width)


@pytest.mark.parametrize('rng', [PLUS, MINUS], ids=['plus', 'minus'])
@pytest.mark.parametrize('name,magnitude', GEOMETRIC, ids=[f'{n}({m})' for n, m in GEOMETRIC])
def test_boxes_and_polygons_fit_the_tight_box_of_the_warped_mask(name, magnitude, rng):
    results, polygons = _rectangle_results()
    op = AUGMENT_OPS.get(name)(magnitude)
    out = op.apply(results, rng)
    box = out['gt_bboxes'][0]
    ys, xs = np.nonzero(out['gt_masks'].masks[0])
    tight = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)
    # The image, the seg map and the bitmap mask are warped alike.
    np.testing.assert_array_equal(out['img'] == 200, out['gt_masks'].masks[0] == 1)
    np.testing.assert_array_equal(out['gt_seg_map'] == 1, out['gt_masks'].masks[0] == 1)
    # Nearest sampling keeps a pixel iff its centre lands in the moved region, whose enclosing box is `box`: the
    # tight box lies within half a pixel of it, and the region's sharp corners may leave at most 1.5 px unfilled.
    outward = np.array([box[0] - tight[0], box[1] - tight[1], tight[2] - box[2], tight[3] - box[3]])
    assert (outward <= 0.5 + 1e-6).all() and (outward >= -1.5).all(), (box, tight)
    # Exactness: the centroid of the kept pixel centres is the moved region's centre, the centre of its box (the
    # pixel-centre convention mixed up is 0.06-0.33 px off at 10-30 degrees, 1 px at 90 and 180). A shear rounds a
    # tie (row shift k + 0.5) the same way in every fifth row: up to 0.1 px of its own.
    centroid = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
    np.testing.assert_allclose(centroid, [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2],
                               atol=0.11 if name.endswith('Shear') else 0.05)
    if name.endswith('Translate') or magnitude in (90, 180):  # whole-pixel moves: exact
        np.testing.assert_allclose(box, tight, atol=1e-6)
    # Polygons move by the same matrix as boxes: the moved rectangle's bounding box is the box.
    points = op.apply(dict(img=results['img'], gt_masks=polygons), _FixedRng(rng.u))['gt_masks'].masks[0][0]
    points = points.reshape(-1, 2)
    np.testing.assert_allclose([*points.min(0), *points.max(0)], box, atol=1e-9)


# Image layouts an element may get (mmcv loads (H, W, 3) or, for grey files, (H, W); multispectral or
# grey + alpha images have other channel counts) and segmentation-map dtypes (mmdet's panoptic maps are int32,
# 16-bit PNGs load as uint16).
LAYOUTS = {'hw': (), 'hw1': (1, ), 'hw2': (2, ), 'hw3': (3, ), 'hw4': (4, ), 'hw5': (5, )}
SEG_DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float32, np.float64, np.bool_]


# every layout with a uint8 map, every map dtype with a colour image
CASES = [(layout, np.uint8) for layout in LAYOUTS] + [('hw3', dtype) for dtype in SEG_DTYPES[1:]]


@pytest.mark.parametrize('layout,seg_dtype', CASES, ids=[f'{la}-{np.dtype(d).name}' for la, d in CASES])
def test_every_element_keeps_the_pixels_masks_seg_map_and_boxes_of_any_layout_together(layout, seg_dtype):
    """Each of the 36 elements, both signs: every channel of the image, the bitmap mask and the segmentation map
    hold the object at the same pixels afterwards (cv2's nearest warp took other pixels near ties for 2 or 5
    channels and for non-uint8 maps: VerticalShear(0.2) moved 9 pixels of an int32 map off the image's object),
    and photometric elements leave every annotation as it was and treat each channel alike."""
    label = True if seg_dtype is np.bool_ else 7
    base, _ = _rectangle_results()
    mask = base['gt_masks'].masks[0]
    channels = LAYOUTS[layout]
    for op in build_elements():
        if op.name.startswith(('Contrast', 'ColorAdjust')) and channels and channels[0] not in (1, 3):
            continue  # luminance ops need 1 or 3 channels (refused, tested above)
        for rng in (PLUS, MINUS):
            img = np.broadcast_to((mask * np.uint8(200)).reshape(*mask.shape, *([1] * len(channels))),
                                  (*mask.shape, *channels)).copy()
            seg = (mask * label).astype(seg_dtype)
            results = dict(img=img, gt_bboxes=base['gt_bboxes'].copy(),
                           gt_masks=BitmapMasks(mask[None].copy(), *mask.shape), gt_seg_map=seg.copy())
            out = op.apply(results, _FixedRng(rng.u))
            assert out['img'].shape == img.shape and out['img'].dtype == np.uint8, op.name
            assert out['gt_seg_map'].dtype == seg.dtype, op.name
            moved = out['gt_masks'].masks[0] == 1
            np.testing.assert_array_equal(out['gt_seg_map'] == label, moved, err_msg=op.name)
            if op.geometric:
                for c in range(int(np.prod(channels))):
                    np.testing.assert_array_equal(out['img'].reshape(*mask.shape, -1)[..., c] == 200, moved,
                                                  err_msg=f'{op.name} channel {c}')
                border = 0 if seg_dtype is np.bool_ else 255
                assert set(np.unique(out['gt_seg_map']).tolist()) <= {0, label, border}, op.name
            else:
                np.testing.assert_array_equal(moved, mask == 1, err_msg=op.name)
                np.testing.assert_array_equal(out['gt_seg_map'], seg, err_msg=op.name)
                np.testing.assert_array_equal(out['gt_bboxes'], base['gt_bboxes'], err_msg=op.name)
                one = op.apply(dict(img=mask * np.uint8(200)), None)['img']
                if not op.name.startswith(('Contrast', 'ColorAdjust')):  # the others act on each channel alone
                    per_channel = out['img'].reshape(*mask.shape, -1)
                    np.testing.assert_array_equal(per_channel, np.broadcast_to(one[..., None], per_channel.shape),
                                                  err_msg=op.name)


@pytest.mark.parametrize('layout', ['hw', 'hw3', 'hw4'])
def test_a_wide_image_and_its_annotations_take_the_same_pixels_at_ties(layout):
    """cv2's nearest warp resolves a tie (a pixel centre landing half-way between two) differently for a 3-channel
    and a 1-channel uint8 array once the image is wider than about 128 px: under HorizontalShear(0.2) (every fifth
    row a tie) a 100 x 223 colour image of one-pixel stripes took 212 pixels from other columns than its bitmap mask
    and segmentation map, which then marked the object where the image showed background."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(4)  # the paths differ only on several threads (with one, 1 and 3 channels agreed)
    try:
        _check_wide_image_ties(layout)
    finally:
        cv2.setNumThreads(threads)


def _check_wide_image_ties(layout):
    height, width = 100, 223
    stripes = np.tile((np.arange(width) % 2).astype(np.uint8), (height, 1))
    channels = {'hw': (), 'hw3': (3, ), 'hw4': (4, )}[layout]
    img = np.broadcast_to((stripes * np.uint8(200)).reshape(height, width, *([1] * len(channels))),
                          (height, width, *channels)).copy()
    for rng in (PLUS, MINUS):
        out = HorizontalShear(0.2).apply(
            dict(img=img.copy(), gt_masks=BitmapMasks(stripes[None].copy(), height, width),
                 gt_seg_map=stripes.astype(np.int32)), rng)
        mask = out['gt_masks'].masks[0] == 1
        for c in range(int(np.prod(channels))):
            np.testing.assert_array_equal(out['img'].reshape(height, width, -1)[..., c] == 200, mask)
        np.testing.assert_array_equal(out['gt_seg_map'] == 1, mask)


@pytest.mark.parametrize('img_shape, img_dtype, layout', [
    ((60, 150), np.uint8, (60, 150)), ((60, 150, 1), np.uint8, (60, 150)), ((60, 150, 3), np.uint8, (60, 150, 3)),
    ((60, 150, 4), np.uint8, (60, 150, 4)), ((60, 150, 2), np.uint8, (60, 150, 4)),
    ((60, 150, 5), np.uint8, (60, 150, 4))])
def test_every_warp_of_a_sample_runs_in_the_image_layout(monkeypatch, img_shape, img_dtype, layout):
    """A uint8 image of 1, 3 or 4 channels is warped as it is, in one cv2 call (a copy into 4 planes, for every
    image, made the warp of an 800 x 1333 colour image 2.6x and of a grey one 11x slower), and its masks and
    int32 segmentation map in that same cv2 layout, which is what makes them take the image's pixels; an image of 2
    or 5+ channels, and its annotations, in groups of 4 planes."""
    import automl_mm.augment.annotations as annotations
    seen = []
    warp = cv2.warpAffine

    def recording(src, *args, **kwargs):
        seen.append((src.shape, src.dtype))
        return warp(src, *args, **kwargs)

    monkeypatch.setattr(annotations.cv2, 'warpAffine', recording)
    masks = BitmapMasks(np.zeros((5, 60, 150), np.uint8), 60, 150)
    out = Rotate(0.3).apply(dict(img=np.zeros(img_shape, img_dtype), gt_masks=masks,
                                 gt_seg_map=np.zeros((60, 150), np.int32)), PLUS)
    assert out['img'].shape == img_shape and out['img'].dtype == img_dtype
    assert set(seen) == {(layout, np.dtype(np.uint8))}
    if len(img_shape) == 2 or img_shape[2] == 1:
        assert len(seen) == 1 + 5 + 4  # the image, each mask, each byte of the map
    elif img_dtype == np.uint8 and img_shape[2] == 3:
        assert len(seen) == 1 + 2 + 2


@pytest.mark.parametrize('sign', [PLUS, MINUS])
@pytest.mark.parametrize('ours, theirs', [
    (HorizontalShear(math.tan(math.radians(15))), 'ShearX'), (VerticalShear(math.tan(math.radians(15))), 'ShearY'),
    (HorizontalTranslate(0.2), 'TranslateX'), (VerticalTranslate(0.2), 'TranslateY'), (Rotate(30), 'Rotate')])
def test_the_homography_is_composed_as_mmdets_geometric_transforms_compose_theirs(ours, theirs, sign):
    """After mmdet's RandomFlip (which records the flip), an element records its matrix composed onto the flip as
    mmdet's own ShearX / ShearY / TranslateX / TranslateY / Rotate do for the same move (``op @ before``): the same
    matrix for shears (mmdet's magnitude in degrees, its tangent ours) and whole-pixel translations; for Rotate the
    pixel-index form of ours is mmdet's (both turn the image about pixel index ((W - 1) / 2, (H - 1) / 2)), which ours
    records in the continuous coordinates of the boxes (the turn about (W / 2, H / 2) that mmdet's image takes)."""
    from mmdet.datasets import transforms as mmdet_transforms

    from automl_mm.augment.annotations import pixel_index_matrix

    def flipped():
        results = _det_results('hbox', 'bitmap')
        results['img_shape'] = results['img'].shape[:2]
        return mmdet_transforms.RandomFlip(prob=1.0)(results)

    flip = flipped()['homography_matrix']
    assert not np.allclose(flip, np.eye(3))
    sgn = 1.0 if sign.u < 0.5 else -1.0
    # mmdet draws its magnitude rounded to 0.1 (degrees: 15 for a shear of tan(15 deg); a share of the side: whole
    # pixels here, 8 of 40 and 4 of 20); its Rotate turns by -mag in cv2's sense, ours by +magnitude
    magnitude = {'ShearX': 15.0, 'ShearY': 15.0, 'Rotate': -30.0}.get(theirs, 0.2)
    mmdet_op = getattr(mmdet_transforms, theirs)(prob=1.0, min_mag=abs(magnitude), max_mag=abs(magnitude),
                                                 reversal_prob=1.0 if sgn * magnitude > 0 else 0.0)
    expected = mmdet_op(flipped())['homography_matrix']
    recorded = ours.apply(flipped(), sign)['homography_matrix']
    assert recorded.shape == (3, 3) and recorded.dtype == np.float32
    if theirs == 'Rotate':  # compare the element's own matrix in pixel-index form
        np.testing.assert_allclose(pixel_index_matrix((recorded @ np.linalg.inv(flip))[:2]),
                                   (expected @ np.linalg.inv(flip))[:2], atol=1e-4)
    else:
        np.testing.assert_allclose(recorded, expected, atol=1e-5)
