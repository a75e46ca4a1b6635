"""mmdet 3.3's ``eval_recalls`` (``CocoMetric`` ``proposal_fast``) stacks one IoU matrix per image with
``np.array``; numpy >= 1.24 refuses images of unequal box counts, so ``proposal_fast`` stopped at its first
evaluation. automl_mm's metric and every reward / score reading compute it for any counts, as mmdet does per image."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmdet.evaluation.functional import eval_recalls as mmdet_eval_recalls
from mmengine.evaluator import Evaluator

from automl_mm.engine.evaluate import evaluate_locally
from automl_mm.evaluation import UnroundedCocoMetric
from automl_mm.evaluation.recall import eval_recalls, mmdet_recalls_fail_on_unequal_counts

# image id: ground-truth boxes [x, y, w, h]; image 1 has one object, image 2 two
GT = {1: [[2, 2, 10, 10]], 2: [[30, 30, 12, 12], [40, 5, 20, 8]]}
# proposals [x1, y1, x2, y2, score]: image 1 its box exactly; image 2 the first box shifted (IoU 0.618) above a miss,
# then the second box exactly
PROPOSALS = {1: [[2, 2, 12, 12, 0.9]],
             2: [[32, 31, 44, 43, 0.9], [0, 50, 8, 60, 0.8], [40, 5, 60, 13, 0.7]]}
PROPOSAL_NUMS = (1, 2, 10)
IOU_THRS = np.linspace(.5, .95, 10)  # CocoMetric's default


def _xyxy(boxes):
    return np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=np.float32)


def _per_image_mmdet(image_id: int) -> np.ndarray:
    """mmdet's own eval_recalls on one image (one image: no stacking of unequal counts)."""
    return mmdet_eval_recalls([_xyxy(GT[image_id])], [np.array(PROPOSALS[image_id], dtype=np.float32)],
                              PROPOSAL_NUMS, IOU_THRS, logger='silent')


def _expected_recalls() -> np.ndarray:
    """The recall over both images: each image's mmdet recall weighted by its ground-truth count (recall is matched
    ground truths over all ground truths)."""
    return (1 * _per_image_mmdet(1) + 2 * _per_image_mmdet(2)) / 3


def _ann_file(tmp_path) -> str:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [dict(id=i, width=64, height=64, file_name=f'{i}.png') for i in GT],
        'annotations': [dict(id=10 * i + k, image_id=i, category_id=1, bbox=b, area=b[2] * b[3], iscrowd=0)
                        for i, boxes in GT.items() for k, b in enumerate(boxes)],
        'categories': [dict(id=1, name='a')]}))
    return str(path)


def _samples() -> list[dict]:
    return [dict(img_id=i, ori_shape=(64, 64), pred_instances=dict(
        bboxes=torch.tensor([p[:4] for p in props]), scores=torch.tensor([p[4] for p in props]),
        labels=torch.zeros(len(props), dtype=torch.long))) for i, props in PROPOSALS.items()]


def test_mmdet_stops_on_unequal_box_counts():
    """The fault (mmdet 3.3 under numpy >= 1.24)."""
    assert mmdet_recalls_fail_on_unequal_counts()
    with pytest.raises(ValueError, match='inhomogeneous'):
        mmdet_eval_recalls([_xyxy(GT[1]), _xyxy(GT[2])], [np.array(PROPOSALS[i], dtype=np.float32) for i in GT],
                           PROPOSAL_NUMS, IOU_THRS, logger='silent')


def test_recalls_over_unequal_counts_are_mmdets_per_image_recalls_pooled():
    got = eval_recalls([_xyxy(GT[1]), _xyxy(GT[2])], [np.array(PROPOSALS[i], dtype=np.float32) for i in GT],
                       PROPOSAL_NUMS, IOU_THRS, logger='silent')
    expected = _expected_recalls()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # by hand at IoU 0.5: top 1 finds image 1's box and image 2's shifted first box (IoU 0.618): 2 of 3; top 2 the
    # same (the miss); top 10 all 3. At 0.65 the shifted box no longer counts: 1, 1 and 2 of 3
    np.testing.assert_allclose(got[:, 0], [2 / 3, 2 / 3, 1.0], atol=1e-12)
    np.testing.assert_allclose(got[:, 3], [1 / 3, 1 / 3, 2 / 3], atol=1e-12)
    # equal counts: mmdet's own runs and agrees
    same = ([_xyxy(GT[1]), _xyxy(GT[1])], [np.array(PROPOSALS[1], dtype=np.float32)] * 2)
    np.testing.assert_array_equal(eval_recalls(*same, PROPOSAL_NUMS, IOU_THRS, logger='silent'),
                                  mmdet_eval_recalls(*same, PROPOSAL_NUMS, IOU_THRS, logger='silent'))


def test_proposal_fast_of_the_unrounded_metric_and_of_rewards_over_unequal_counts(tmp_path):
    """UnroundedCocoMetric(metric='proposal_fast') and an OHL reward / NAS score of mmdet's CocoMetric
    (evaluate_locally) report AR@N, the mean recall over CocoMetric's IoU thresholds 0.5:0.95; mmdet's own stops."""
    ann = _ann_file(tmp_path)
    expected = _expected_recalls().mean(axis=1)
    assert expected[0] == pytest.approx((2 / 3 * 3 + 1 / 3 * 7) / 10)  # IoU 0.5-0.6: 2 of 3 (0.618); above: 1
    metric = UnroundedCocoMetric(ann_file=ann, metric='proposal_fast', proposal_nums=PROPOSAL_NUMS)
    metric.dataset_meta = dict(classes=('a', ))
    metric.process({}, _samples())
    values = metric.compute_metrics(metric.results)
    for num, ar in zip(PROPOSAL_NUMS, expected):
        assert values[f'AR@{num}'] == pytest.approx(ar, abs=1e-12), num

    class Replay(torch.nn.Module):
        def val_step(self, data):
            return data

    mmdet_metric = CocoMetric(ann_file=ann, metric='proposal_fast', proposal_nums=PROPOSAL_NUMS)
    mmdet_metric.dataset_meta = dict(classes=('a', ))
    got = evaluate_locally(Replay(), [_samples()], Evaluator(mmdet_metric))
    assert got['coco/AR@10'] == pytest.approx(expected[2], abs=1e-12)
    with pytest.raises(ValueError, match='inhomogeneous'):  # mmdet's own evaluation (a validation)
        mmdet_metric.process({}, _samples())
        mmdet_metric.compute_metrics(mmdet_metric.results)
