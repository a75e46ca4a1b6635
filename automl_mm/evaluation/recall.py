"""Proposal recall over images of unequal box counts (mmdet's ``eval_recalls``, which numpy >= 1.24 stops there).

mmdet 3.3's :func:`mmdet.evaluation.functional.eval_recalls` (``CocoMetric`` / ``LVISMetric`` ``proposal_fast``,
``VOCMetric`` ``recall``) computes one IoU matrix per image (ground truths x proposals) and stacks them with
``np.array(all_ious)``. Images of unequal ground-truth or proposal counts (nearly every real evaluation) make that a
ragged array, which numpy >= 1.24 refuses: ``ValueError: setting an array element with a sequence. The requested
array has an inhomogeneous shape after 1 dimensions``, at the first evaluation after training. :func:`eval_recalls`
is the same function with the matrices kept in an object array, which mmdet's ``_recalls`` reads one image at a
time as it meant to; its values are mmdet's wherever mmdet's runs (every image of equal counts).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def eval_recalls(gts: list, proposals: list, proposal_nums: Any = None, iou_thrs: Any = 0.5, logger: Any = None,
                 use_legacy_coordinate: bool = False) -> np.ndarray:
    """mmdet 3.3's ``eval_recalls`` (same arguments and matching: each ground truth takes, largest IoU first, its
    best remaining proposal among the top ``proposal_num`` by score) for any box counts per image.

    Args:
        gts: Per image, the ground-truth boxes, an array (n_i, 4) (x1, y1, x2, y2 pixels), or ``None``.
        proposals: Per image, the proposals, an array (k_i, 4), or (k_i, 5) with the score last (sorted by it).
        proposal_nums: The top-N counts evaluated (int or sequence); iou_thrs: the IoU thresholds (float or
            sequence; default 0.5).
        logger: Where mmdet's recall table is printed (``'silent'``: nowhere).

    Returns:
        The recall of each proposal count at each IoU threshold, an array (len(proposal_nums), len(iou_thrs)) of
        matched ground truths over all ground truths.
    """
    from mmdet.evaluation.functional.bbox_overlaps import bbox_overlaps
    from mmdet.evaluation.functional.recall import _recalls, print_recall_summary, set_recall_param

    img_num = len(gts)
    if img_num != len(proposals):
        raise ValueError(f'eval_recalls: {img_num} images of ground truth but {len(proposals)} of proposals')
    proposal_nums, iou_thrs = set_recall_param(proposal_nums, iou_thrs)
    all_ious = np.empty(img_num, dtype=object)  # one (n_i, k_i) matrix per image (mmdet: np.array, ragged)
    for i in range(img_num):
        if proposals[i].ndim == 2 and proposals[i].shape[1] == 5:
            img_proposal = proposals[i][np.argsort(proposals[i][:, 4])[::-1], :]
        else:
            img_proposal = proposals[i]
        prop_num = min(img_proposal.shape[0], proposal_nums[-1])
        if gts[i] is None or gts[i].shape[0] == 0:
            all_ious[i] = np.zeros((0, img_proposal.shape[0]), dtype=np.float32)
        else:
            all_ious[i] = bbox_overlaps(gts[i], img_proposal[:prop_num, :4],
                                        use_legacy_coordinate=use_legacy_coordinate)
    recalls = _recalls(all_ious, proposal_nums, iou_thrs)
    print_recall_summary(recalls, proposal_nums, iou_thrs, logger=logger)
    return recalls


def mmdet_recalls_fail_on_unequal_counts() -> bool:
    """Whether mmdet's own ``eval_recalls`` raises on two images of 1 and 2 ground-truth boxes (numpy >= 1.24
    under mmdet 3.3)."""
    from mmdet.evaluation.functional import eval_recalls as mmdet_eval_recalls

    box = np.array([[0., 0., 10., 10.]], dtype=np.float32)
    try:
        mmdet_eval_recalls([box, np.concatenate([box, box + 20])], [box, box], [1], 0.5, logger='silent')
    except ValueError:
        return True
    return False
