"""mmseg's per-pixel maps besides ``gt_seg_map`` move with the image under a geometric element.

mmseg 1.x lists a sample's per-pixel maps in ``results['seg_fields']`` (``LoadAnnotations`` appends 'gt_seg_map',
``LoadDepthAnnotation`` 'gt_depth_map'), and its own geometric transforms (``RandomRotate``, ``RandomFlip``,
``RandomCrop``, ``Resize``) warp every key listed there; ``PackSegInputs`` packs ``gt_seg_map``, ``gt_edge_map``
(``GenerateEdge``, which does not list it) and ``gt_depth_map``. The geometric elements warped only ``gt_seg_map``:
a depth or edge map kept its old geometry while the image turned, silently wrong targets. The oracle here is the
image itself: each pixel of the image carries its own id, each map a function of that id, so after the warp every
map must show, at every pixel, the function of the id the image shows there (and its border value where the image
shows the fill).
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from automl_mm.augment.elements import build_elements
from automl_mm.augment.ops import HorizontalTranslate, Rotate
from automl_mm.augment.policy import FixedAutoAugment
from tests.test_augment._signs import MINUS, PLUS

GEOMETRIC = [op for op in build_elements('ohl') if op.geometric] + [Rotate(90)]
HEIGHT, WIDTH = 24, 32


def _planted() -> tuple[dict, np.ndarray]:
    """Results whose image encodes each pixel's id (0 ... H*W - 1) in channels 0 and 1 (channel 2 is 0 inside the
    image, and the fill 128 where a warp uncovers it), with maps computed from the ids: a float32 depth map, a
    uint8 edge map and a uint16 label map of a key of the data set's own ('gt_part_map')."""
    ids = np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH)
    img = np.stack([ids // 256, ids % 256, np.zeros_like(ids)], -1).astype(np.uint8)
    results = dict(img=img, gt_seg_map=(ids % 19).astype(np.uint8), gt_depth_map=(ids + 0.5).astype(np.float32),
                   gt_edge_map=(ids % 2).astype(np.uint8), gt_part_map=(ids + 1000).astype(np.uint16),
                   seg_fields=['gt_seg_map', 'gt_depth_map', 'gt_edge_map', 'gt_part_map'])
    return results, ids


def _check_maps_follow_the_image(out: dict, keys=('gt_seg_map', 'gt_depth_map', 'gt_edge_map', 'gt_part_map')):
    img = out['img']
    inside = img[..., 2] == 0
    assert (img[..., 2][~inside] == 128).all()
    ids = img[..., 0].astype(np.int64) * 256 + img[..., 1]
    expected = dict(gt_seg_map=(ids % 19, 255), gt_depth_map=(ids + 0.5, 0.0), gt_edge_map=(ids % 2, 255),
                    gt_part_map=(ids + 1000, 255))
    for key in keys:
        values, border = expected[key]
        moved = out[key]
        assert moved.shape == (HEIGHT, WIDTH), key
        np.testing.assert_array_equal(moved[inside], values[inside], err_msg=key)
        np.testing.assert_array_equal(moved[~inside], border, err_msg=key)


@pytest.mark.parametrize('rng', [PLUS, MINUS], ids=['plus', 'minus'])
@pytest.mark.parametrize('op', GEOMETRIC, ids=[op.name for op in GEOMETRIC])
def test_every_map_in_seg_fields_ends_where_the_image_does(op, rng):
    results, _ = _planted()
    out = op.apply(results, rng)
    assert (out['img'][..., 2] == 128).any()  # the op moved the image: something was uncovered
    _check_maps_follow_the_image(out)
    dtypes = dict(gt_seg_map=np.uint8, gt_depth_map=np.float32, gt_edge_map=np.uint8, gt_part_map=np.uint16)
    assert {key: out[key].dtype for key in dtypes} == dtypes


def test_mmseg_maps_move_even_when_seg_fields_does_not_list_them():
    """mmseg's GenerateEdge adds gt_edge_map without listing it, and an mmdet-style pipeline has no seg_fields:
    PackSegInputs packs gt_edge_map and gt_depth_map all the same, so they move whatever seg_fields says."""
    results, _ = _planted()
    del results['seg_fields'], results['gt_part_map']
    _check_maps_follow_the_image(Rotate(30).apply(results, PLUS), ('gt_seg_map', 'gt_depth_map', 'gt_edge_map'))


def test_the_policy_moves_them_too():
    results, _ = _planted()
    probs = [0.0] * 4
    probs[0] = 1.0  # Rotate(30) + Rotate(30)
    out = FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)], probs=probs)(results)
    _check_maps_follow_the_image(out)


def test_a_map_listed_in_seg_fields_of_another_size_is_refused():
    results, _ = _planted()
    results['gt_depth_map'] = results['gt_depth_map'][::2, ::2].copy()  # mmseg's SegRescale(0.5) before the policy
    with pytest.raises(ValueError, match=r"gt_depth_map'\] is 12 x 16 .* image is 24 x 32"):
        HorizontalTranslate(0.3).apply(results, PLUS)
    policy = FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)], probs=[0, 0, 0, 1])  # Invert + Invert
    with pytest.raises(ValueError, match=r"FixedAutoAugment.*gt_depth_map'\] is 12 x 16"):
        policy(results)


@pytest.mark.parametrize('fields, value, message', [
    ('gt_seg_map', None, r"seg_fields'\] must be a list of results keys.*'gt_seg_map'"),
    (['gt_part_map'], [[1, 2], [3, 4]], r"gt_part_map'\] \(listed in results\['seg_fields'\]\) must be a numpy "
                                        r'array of the image.s height and width.*list'),
    (['gt_part_map'], np.zeros((4, 8), np.int8), r"gt_part_map'\] is int8, which cannot hold the ignore label 255"),
], ids=['a string', 'a list', 'int8'])
def test_bad_seg_fields_are_refused_naming_the_key(fields, value, message):
    results = dict(img=np.zeros((4, 8), np.uint8), seg_fields=fields, gt_seg_map=np.zeros((4, 8), np.uint8))
    if value is not None:
        results['gt_part_map'] = value
    with pytest.raises(ValueError, match=message):
        Rotate(30).apply(results, PLUS)


def test_a_depth_like_key_of_ones_own_gets_the_label_border_as_under_mmsegs_random_rotate():
    """mmseg declares no fill per map: ``RandomRotate`` fills every ``seg_fields`` map with its one ``seg_pad_val``
    (255), mmdet's geometric transforms ``gt_seg_map`` with ``seg_ignore_label`` (255), and no ``LoadAnnotations``
    records a map's fill. A float map of one's own listed in ``seg_fields`` ('gt_height_map', an nDSM) is
    therefore uncovered to 255, as mmseg would; only mmseg's own ``gt_depth_map`` is uncovered to 0 (its loss
    and metric skip 0). The policy takes no map fill of its own (``fill`` is the image's), so there is none to
    honour."""
    height = np.full((HEIGHT, WIDTH), 3.5, np.float32)
    results = dict(img=np.zeros((HEIGHT, WIDTH, 3), np.uint8), gt_height_map=height,
                   gt_depth_map=height.copy(), seg_fields=['gt_height_map'])
    out = HorizontalTranslate(0.5).apply(results, PLUS)
    uncovered = out['img'][..., 0] == 128
    assert uncovered.any() and (out['img'][~uncovered] == 0).all()
    assert (out['gt_height_map'][uncovered] == 255).all() and (out['gt_height_map'][~uncovered] == 3.5).all()
    assert (out['gt_depth_map'][uncovered] == 0).all() and (out['gt_depth_map'][~uncovered] == 3.5).all()
    assert 'seg_pad_val' not in inspect.signature(FixedAutoAugment).parameters


def test_a_listed_key_that_is_absent_is_skipped():
    """As mmseg's own Resize and RandomFlip skip a listed key that is missing or None."""
    results = dict(img=np.zeros((4, 8), np.uint8), seg_fields=['gt_seg_map', 'gt_depth_map'], gt_depth_map=None)
    out = HorizontalTranslate(0.25).apply(results, PLUS)
    assert out['gt_depth_map'] is None and 'gt_seg_map' not in out


def test_a_depth_map_not_loaded_yet_is_refused():
    """mmseg's LoadDepthAnnotation reads depth_map_path: a policy before it moves the image, not the depth map."""
    results = dict(img=np.zeros((8, 8, 3), np.uint8), depth_map_path='depth/0.png', seg_fields=[])
    policy = FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)])
    with pytest.raises(ValueError, match="'depth_map_path' but no 'gt_depth_map'"):
        policy(results)
    assert 'ohl_choice' in policy(dict(results, gt_depth_map=np.ones((8, 8), np.float32)))


def test_a_depth_map_not_loaded_yet_is_refused_naming_its_loader():
    """The refusal told a depth pipeline (mmseg's NYU: LoadImageFromFile, LoadDepthAnnotation, ..., PackSegInputs,
    no LoadAnnotations) to "put it after LoadAnnotations", a transform it does not have and that does not load the
    depth map: it names LoadDepthAnnotation, and LoadAnnotations only for what LoadAnnotations loads."""
    policy = FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)])
    depth = dict(img=np.zeros((8, 8, 3), np.uint8), depth_map_path='depth/0.png', seg_fields=[])
    with pytest.raises(ValueError) as error:
        policy(depth)
    message = str(error.value)
    assert "the annotations mmseg's LoadDepthAnnotation loads after it" in message
    assert "Put it after mmseg's LoadDepthAnnotation in the pipeline" in message
    assert 'LoadAnnotations' not in message and 'PackDetInputs' not in message
    with pytest.raises(ValueError, match=r"'seg_map_path' but no 'gt_seg_map' and a 'depth_map_path' but no "
                                         r"'gt_depth_map'.*the annotations LoadAnnotations and mmseg's "
                                         r"LoadDepthAnnotation load after it\. Put it after LoadAnnotations and "
                                         r"mmseg's LoadDepthAnnotation"):
        policy(dict(depth, seg_map_path='seg/0.png'))


@pytest.mark.parametrize('rng', [PLUS, MINUS], ids=['plus', 'minus'])
@pytest.mark.parametrize('op', GEOMETRIC, ids=[op.name for op in GEOMETRIC])
def test_keypoints_end_on_the_image_pixels_they_marked(op, rng):
    """mmcv's gt_keypoints (N, K, 3), which the policy counts as loaded annotations, move with the image: a keypoint
    at the centre of pixel (row, col) lands, while visible, on a pixel that shows (row, col) or, where nearest
    sampling took a neighbour there, one of its 8 neighbours (the image's ids say which)."""
    results, _ = _planted()
    rows, cols = np.meshgrid(np.arange(0, HEIGHT, 3), np.arange(0, WIDTH, 3), indexing='ij')
    points = np.stack([cols + 0.5, rows + 0.5, np.full(rows.shape, 2)], -1).reshape(1, -1, 3).astype(np.float32)
    out = op.apply(dict(img=results['img'], gt_keypoints=points), rng)
    x, y, visible = out['gt_keypoints'][0].T
    shown = out['img'][y.astype(int).clip(0, HEIGHT - 1), x.astype(int).clip(0, WIDTH - 1)].astype(np.int64)
    ids = shown[:, 0] * 256 + shown[:, 1]
    marked = visible > 0
    assert marked.sum() >= 10 and (shown[marked, 2] == 0).all()  # visible ones lie on the image's content
    off = np.maximum(np.abs(ids // WIDTH - rows.reshape(-1)), np.abs(ids % WIDTH - cols.reshape(-1)))
    assert (off[marked] <= 1).all(), off[marked]
