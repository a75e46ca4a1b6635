"""A val / test loader whose ``DefaultSampler`` shuffles is refused where its metric pairs results with images by
order: mmdet's ``CocoMetric(metric='proposal_fast', ann_file=...)`` pairs the i-th result with the i-th image of its
annotation file (``fast_eval_recall``), so proposals read in a shuffled order were scored against other images'
boxes, silently. The other COCO metrics pair by ``img_id`` and pass. mmdet's ``proposal_fast`` recall
(``eval_recalls``) stops on images of unequal box counts: refused where the counts are known (check_recall_metrics)."""
from __future__ import annotations

import json

import pytest
import torch

from automl_mm.engine import preflight_metric_order
from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_metric_order import (
    check_category_order,
    check_metric_order,
    check_recall_metrics,
    recall_box_counts,
)
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._metric_order_helpers import (
    BY_NAME,
    _classwise_cfg,
    _mmdet_coco_metric,
    _PlainCocoSubclass,
    _RaggedRecallCocoMetric,
)

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
    cfg = _proposal_fast_cfg(coco_root, dict(type='DefaultSampler', shuffle=False))
    cfg.val_evaluator.type = 'automl_mm.UnroundedCocoMetric'  # (mmdet's own proposal_fast: check_recall_metrics)
    check_config(cfg)
    cfg = synthcoco_detector_cfg(coco_root)  # bbox pairs by img_id: any order
    cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    check_config(cfg)
    cfg.val_evaluator = dict(type='CocoMetric', metric='proposal_fast')  # no ann_file: mmdet's gt in results order
    check_metric_order(cfg, 'mmdet')


def test_format_only_metrics_are_not_refused(coco_root):
    """mmdet's CocoMetric(format_only=True) (coco_detection.py's test-dev test_evaluator) writes the results file and
    returns before computing any metric: neither proposal_fast's recall (by position, or stopping on unequal box
    counts) nor classwise APs are read."""
    cfg = _classwise_cfg(coco_root, BY_NAME)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    counts = {cfg.val_evaluator.ann_file: (((1, 1), (2, 2)), ((1, 1), (2, 2)))}
    cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.test_evaluator = None
    for metric, check in ((dict(classwise=True), lambda: check_category_order(cfg, 'mmdet', listing)),
                          (dict(metric='proposal_fast'), lambda: check_metric_order(cfg, 'mmdet')),
                          (dict(metric='proposal_fast'), lambda: check_recall_metrics(cfg, 'mmdet',
                                                                                      box_counts=counts))):
        cfg.val_evaluator.update(metric, format_only=False)
        with pytest.raises(ConfigCheckError, match=r'val_(evaluator|dataloader)'):
            check()
        cfg.val_evaluator.format_only = True
        check()


def test_mmdet_proposal_fast_is_refused_where_its_recall_stops_naming_the_evaluator(coco_root):
    """mmdet 3.3's eval_recalls stops on images of unequal box counts under numpy >= 1.24 (the generated val set
    has 1 to 3 objects per image): proposal_fast failed at the first validation, after training."""
    cfg = _proposal_fast_cfg(coco_root, dict(type='DefaultSampler', shuffle=False))
    with open(cfg.val_evaluator.ann_file) as f:
        (first, n), (other, m) = recall_box_counts(json.load(f))
    assert n != m
    with pytest.raises(ConfigCheckError, match=r"^val_evaluator \(CocoMetric, metric='proposal_fast'\) computes its "
                                               r"recall with mmdet's eval_recalls, which stops .*: in "
                                               rf".*instances_val\.json, image {first} has {n} ground-truth boxes "
                                               rf"and image {other} {m}\. To fix it, set "
                                               r"val_evaluator\.type='automl_mm\.UnroundedCocoMetric'"):
        check_config(cfg)
    cfg.val_evaluator.type = 'automl_mm.UnroundedCocoMetric'  # computes it for any counts
    check_config(cfg)


def test_mmdet_proposal_fast_on_equal_box_counts_is_warned_not_refused(tmp_path, monkeypatch):
    """Every image of one box (and proposal): mmdet's own eval_recalls runs (AR@100 1.0 above), so it is not
    refused; a crowd box is not counted (mmdet skips it), LVIS counts it; unread files and VOC are refused, saying
    why the counts are not known at the start."""
    from mmengine.config import Config

    ann_file = _one_box_per_image(str(tmp_path / 'ann.json'))
    with open(ann_file) as f:
        coco = json.load(f)
    assert _proposal_fast_recall(ann_file, [0, 1, 2]) == pytest.approx(1.0)  # mmdet's own, this numpy
    cfg = Config(dict(val_evaluator=dict(type='CocoMetric', ann_file=ann_file, metric='proposal_fast')))
    counts = {ann_file: (recall_box_counts(coco), recall_box_counts(coco, every_box=True))}
    assert counts[ann_file][0] == ((1, 1), )
    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    assert len(logged) == 1 and logged[0].startswith("val_evaluator (CocoMetric, metric='proposal_fast') computes")
    assert f'Every image of {ann_file} has 1 ground-truth boxes, so it stops only where the model gives two images ' \
           'different numbers of proposals below 1000' in logged[0]
    coco['annotations'].append(dict(id=9, image_id=2, category_id=1, bbox=[0, 0, 4, 4], area=16, iscrowd=1))
    assert recall_box_counts(coco) == ((1, 1), )
    assert recall_box_counts(coco, every_box=True) == ((1, 1), (2, 2))
    assert recall_box_counts(dict(coco, annotations=coco['annotations'] + [dict(image_id=[2])])) == ((1, 1), )
    assert recall_box_counts(dict(coco, images=[dict(id=[1])])) is None  # (was TypeError: unhashable type 'list')
    counts = {ann_file: (recall_box_counts(coco), recall_box_counts(coco, every_box=True))}
    cfg.val_evaluator.type = 'LVISMetric'
    with pytest.raises(ConfigCheckError, match=r"image 1 has 1 ground-truth boxes and image 2 2\. To fix it, drop "
                                               r"'proposal_fast' from val_evaluator\.metric"):
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    with pytest.raises(ConfigCheckError, match=rf"\({ann_file} was not read at the start: images of equal box "
                                               r"counts cannot be told from unequal ones before the first evaluation"):
        check_recall_metrics(cfg, 'mmdet')
    cfg.val_evaluator = dict(type='VOCMetric', metric='recall')
    with pytest.raises(ConfigCheckError, match=r"\(its ground-truth boxes are the dataset's as loaded, not read at "
                                               r"the start: .* drop 'recall'"):
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)


def test_voc_recall_is_refused_in_any_evaluator_and_coco_rewards_pass():
    from mmengine.config import Config

    cfg = Config(dict(val_evaluator=dict(type='Accuracy'),
                      custom_hooks=[dict(type='OHLHook', reward_evaluator=[
                          dict(type='mmdet.CocoMetric', metric='proposal_fast'),  # read by automl_mm: any counts
                          dict(type='mmdet.VOCMetric', metric=['mAP', 'recall'])])]))
    with pytest.raises(ConfigCheckError, match=r"^custom_hooks\[0\]\.reward_evaluator\[1\] \(VOCMetric, "
                                               r"metric='recall'\) .* drop 'recall' from custom_hooks\[0\]\."
                                               r"reward_evaluator\[1\]\.metric"):
        check_recall_metrics(cfg, 'automl_mm')
    check_recall_metrics(cfg, 'automl_mm', test_only=True)  # tools/test.py reads the test evaluator alone
    cfg.custom_hooks[0].reward_evaluator.pop()
    check_recall_metrics(cfg, 'automl_mm')


@pytest.mark.parametrize('metric_cls, refused', [(_RaggedRecallCocoMetric, False), (_PlainCocoSubclass, True)])
def test_a_users_proposal_fast_is_refused_only_where_it_stops_on_unequal_counts(tmp_path, metric_cls, refused):
    """Evaluated on two images of 1 and 2 boxes: mmdet's own eval_recalls stops, the user's replacement does not
    (it was refused by its class alone)."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_metric_order import _probe_recall_stops

    assert _probe_recall_stops(metric_cls, {}) is refused
    cfg = Config(dict(val_evaluator=dict(type=metric_cls, ann_file='ann.json', metric='proposal_fast')))
    counts = {'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))}
    if refused:
        with pytest.raises(ConfigCheckError, match=r"image 1 has 1 ground-truth boxes and image 2 2\. To fix it"):
            check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    else:
        check_recall_metrics(cfg, 'mmdet', box_counts=counts)


class _ImageIdOrderCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric whose proposal_fast pairs each result with its own image (by img_id)."""

    def fast_eval_recall(self, results, *args, **kwargs):
        order = {image: i for i, image in enumerate(self.img_ids)}
        return super().fast_eval_recall(sorted(results, key=lambda r: order[r['img_id']]), *args, **kwargs)


@pytest.mark.parametrize('metric_cls, pairs', [(_ImageIdOrderCocoMetric, False), (_PlainCocoSubclass, True)])
def test_a_users_proposal_fast_under_a_shuffled_loader_is_refused_only_where_it_pairs_by_position(metric_cls, pairs):
    """Each image's exact box read in the order [3, 1, 2]: AR@1 0.0 where the metric pairs by position (refused by
    its class alone until the forty-ninth session), 1.0 where by img_id."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_metric_order import _probe_pairs_by_position

    assert _probe_pairs_by_position(metric_cls, {}) is pairs
    cfg = Config(dict(val_dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)),
                      val_evaluator=dict(type=metric_cls, ann_file='ann.json', metric='proposal_fast')))
    if pairs:
        with pytest.raises(ConfigCheckError, match=r"^val_dataloader\.sampler\.shuffle: .* but val_evaluator "
                                                   rf"\({metric_cls.__name__}, metric='proposal_fast'\) pairs"):
            check_metric_order(cfg, 'mmdet')
    else:
        check_metric_order(cfg, 'mmdet')
