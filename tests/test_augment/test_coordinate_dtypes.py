"""The container and dtype of coordinates after each geometric element, for every annotation type.

Input that showed it: ``gt_bboxes=torch.tensor([[10, 10, 30, 30]])`` (int64) through ``HorizontalShear(0.3)`` came
back as a numpy float64 array, and the int64 tensor of mmdet's ``HorizontalBoxes`` as float64 boxes: torch
coordinates went through numpy's promotion rule (int64 with float32 -> float64), and a plain tensor left as an
array. Now a tensor stays a tensor on its device, an integer one promoted by torch's rule (float32, mmdet's box
dtype); numpy coordinates keep numpy's rule (float64 for int64, as mmdet's ``PolygonMasks.shear`` and mmcv's
``Resize`` give); float inputs and bitmap masks keep their dtype."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from automl_mm.augment import build_elements

ELEMENTS = build_elements([('HorizontalShear', 0.3), ('VerticalShear', 0.3), ('HorizontalTranslate', 0.1),
                           ('VerticalTranslate', 0.1), ('Rotate', 30)])
BOX = [[10, 12, 30, 28]]


def _apply(op, **annotations):
    results = dict(img=np.zeros((50, 60, 3), np.uint8), **annotations)
    return op.apply(results, np.random.default_rng(0))


def _reference(op, key, value):
    """The element's coordinates for ``value`` given as a numpy float64 array (the same sign: the same rng)."""
    return _apply(op, **{key: np.asarray(value, np.float64)})[key]


@pytest.mark.parametrize('op', ELEMENTS, ids=lambda op: op.name)
@pytest.mark.parametrize(('given', 'dtype'), [
    (torch.int64, torch.float32), (torch.int32, torch.float32), (torch.float32, torch.float32),
    (torch.float64, torch.float64), (torch.float16, torch.float16)])
def test_torch_boxes_stay_tensors_of_their_float_dtype_or_float32(op, given, dtype):
    want = _reference(op, 'gt_bboxes', BOX)
    out = _apply(op, gt_bboxes=torch.tensor(BOX, dtype=given), gt_bboxes_labels=torch.tensor([3]))
    assert isinstance(out['gt_bboxes'], torch.Tensor) and out['gt_bboxes'].dtype == dtype
    torch.testing.assert_close(out['gt_bboxes'], torch.from_numpy(want).to(dtype))
    boxes = _apply(op, gt_bboxes=HorizontalBoxes(torch.tensor(BOX, dtype=given)))['gt_bboxes']
    assert isinstance(boxes, HorizontalBoxes) and boxes.tensor.dtype == dtype
    torch.testing.assert_close(boxes.tensor, torch.from_numpy(want).to(dtype))


@pytest.mark.parametrize('op', ELEMENTS, ids=lambda op: op.name)
@pytest.mark.parametrize(('given', 'dtype'), [(np.int64, np.float64), (np.int32, np.float64),
                                              (np.float32, np.float32), (np.float64, np.float64)])
def test_numpy_boxes_polygons_and_keypoints_keep_numpys_rule(op, given, dtype):
    boxes = _apply(op, gt_bboxes=np.array(BOX, given))['gt_bboxes']
    assert isinstance(boxes, np.ndarray) and boxes.dtype == dtype
    np.testing.assert_allclose(boxes, _reference(op, 'gt_bboxes', BOX), rtol=1e-6)
    polygon = np.array([10, 12, 30, 12, 30, 28], given)
    masks = _apply(op, gt_masks=PolygonMasks([[polygon]], 50, 60))['gt_masks']
    assert {p.dtype for obj in masks.masks for p in obj} == {np.dtype(dtype)}
    keypoints = _apply(op, gt_keypoints=np.array([[[10, 12, 2]]], given))['gt_keypoints']
    assert isinstance(keypoints, np.ndarray) and keypoints.dtype == dtype


@pytest.mark.parametrize('op', ELEMENTS, ids=lambda op: op.name)
@pytest.mark.parametrize(('given', 'dtype'), [(torch.int64, torch.float32), (torch.float64, torch.float64)])
def test_torch_keypoints_stay_tensors(op, given, dtype):
    points = [[[10, 12, 2], [55, 40, 1]]]
    out = _apply(op, gt_keypoints=torch.tensor(points, dtype=given))['gt_keypoints']
    assert isinstance(out, torch.Tensor) and out.dtype == dtype
    torch.testing.assert_close(out, torch.from_numpy(_reference(op, 'gt_keypoints', points)).to(dtype))


@pytest.mark.parametrize('op', ELEMENTS, ids=lambda op: op.name)
@pytest.mark.parametrize('dtype', [np.uint8, np.bool_])
def test_bitmap_masks_keep_their_dtype(op, dtype):
    mask = np.zeros((1, 50, 60), dtype)
    mask[0, 12:28, 10:30] = 1
    out = _apply(op, gt_masks=BitmapMasks(mask, 50, 60))['gt_masks']
    assert out.masks.dtype == dtype and out.masks.shape == (1, 50, 60)
