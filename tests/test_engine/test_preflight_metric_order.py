"""A val / test loader whose ``DefaultSampler`` shuffles is refused where its metric pairs results with images by
order: mmdet's ``CocoMetric(metric='proposal_fast', ann_file=...)`` pairs the i-th result with the i-th image of its
annotation file (``fast_eval_recall``), so proposals read in a shuffled order were scored against other images'
boxes, silently. The other COCO metrics pair by ``img_id`` and pass."""
from __future__ import annotations

import json

import pytest
import torch

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_metric_order import check_metric_order
from automl_mm.engine.preflight_walk import ConfigCheckError

from conftest import synthcoco_detector_cfg


def _proposal_fast_recall(ann_file: str, order: list[int]) -> float:
    """mmdet's ``proposal_fast`` AR@100 of perfect proposals (each image's own boxes) fed in ``order`` (positions
    in the annotation file)."""
    from mmdet.evaluation import CocoMetric

    with open(ann_file) as f:
        coco = json.load(f)
    metric = CocoMetric(ann_file=ann_file, metric='proposal_fast', proposal_nums=(100, ))
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in coco['categories']))
    for i in order:
        image = coco['images'][i]
        boxes = [a['bbox'] for a in coco['annotations'] if a['image_id'] == image['id']]
        xyxy = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=torch.float32).reshape(-1, 4)
        metric.process({}, [dict(img_id=image['id'], ori_shape=(image['height'], image['width']), gt_instances={},
                                 pred_instances=dict(bboxes=xyxy, scores=torch.ones(len(xyxy)),
                                                     labels=torch.zeros(len(xyxy), dtype=torch.long)))])
    return metric.evaluate(len(order))['coco/AR@100']


def _one_box_per_image(path: str) -> str:
    """A COCO file of 3 images of one box each, at other places (mmdet 3.3's ``eval_recalls`` stacks the IoU
    matrices of all images with ``np.array``, which numpy >= 1.24 refuses for images of unequal box counts)."""
    images = [dict(id=i + 1, file_name=f'{i + 1:06d}.png', height=64, width=64) for i in range(3)]
    boxes = [[2, 2, 10, 10], [30, 30, 12, 12], [40, 5, 20, 8]]
    annotations = [dict(id=i + 1, image_id=i + 1, category_id=1, bbox=b, area=b[2] * b[3], iscrowd=0)
                   for i, b in enumerate(boxes)]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=[dict(id=1, name='a')]), f)
    return path


def test_mmdet_proposal_fast_depends_on_the_order_read(tmp_path):
    """The fault the check prevents: the same perfect proposals, in file order and in another order."""
    ann_file = _one_box_per_image(str(tmp_path / 'ann.json'))
    assert _proposal_fast_recall(ann_file, [0, 1, 2]) == pytest.approx(1.0)
    assert _proposal_fast_recall(ann_file, [2, 0, 1]) == pytest.approx(0.0)


def _proposal_fast_cfg(coco_root, sampler):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_evaluator.metric = ['bbox', 'proposal_fast']
    cfg.val_dataloader.sampler = sampler
    return cfg


@pytest.mark.parametrize('sampler, given', [
    (dict(type='DefaultSampler', shuffle=True), r'shuffle=True'),
    (dict(type='DefaultSampler'), r'no shuffle \(DefaultSampler shuffles by default\)'),
])
def test_a_shuffled_val_loader_of_proposal_fast_is_refused_naming_the_key(coco_root, sampler, given):
    with pytest.raises(ConfigCheckError, match=r"^val_dataloader\.sampler\.shuffle: val_dataloader\.sampler is "
                                               rf"DefaultSampler with {given}, but val_evaluator \(CocoMetric, "
                                               r"metric='proposal_fast'\) pairs the i-th result .* Set val_dataloader"
                                               r"\.sampler=dict\(type='DefaultSampler', shuffle=False\)"):
        check_config(_proposal_fast_cfg(coco_root, sampler))


def test_test_loader_and_evaluator_lists_are_named_and_the_test_only_check_reads_its_split(coco_root):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.test_evaluator = [dict(type='mmdet.CocoMetric', ann_file=cfg.test_evaluator.ann_file, metric='bbox'),
                          dict(type='LVISMetric', ann_file='x.json', metric='proposal_fast')]
    cfg.test_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(ConfigCheckError, match=r"^test_dataloader\.sampler\.shuffle: .* but test_evaluator\[1\] "
                                               r"\(LVISMetric, metric='proposal_fast'\)"):
        check_metric_order(cfg, 'mmdet', test_only=True)
    check_metric_order(cfg, 'mmdet', test_only=True, split='val')  # the val split alone: not read


def test_in_order_or_order_free_metrics_pass(coco_root):
    check_config(_proposal_fast_cfg(coco_root, dict(type='DefaultSampler', shuffle=False)))
    cfg = synthcoco_detector_cfg(coco_root)  # bbox pairs by img_id: any order
    cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    check_config(cfg)
    cfg.val_evaluator = dict(type='CocoMetric', metric='proposal_fast')  # no ann_file: mmdet's gt in results order
    check_metric_order(cfg, 'mmdet')
