"""A val / test loader whose ``DefaultSampler`` shuffles is refused where its metric pairs results with images by
order: mmdet's ``CocoMetric(metric='proposal_fast', ann_file=...)`` pairs the i-th result with the i-th image of its
annotation file (``fast_eval_recall``), so proposals read in a shuffled order were scored against other images'
boxes, silently. The other COCO metrics pair by ``img_id`` and pass. mmdet's ``proposal_fast`` recall stopping on
images of unequal box counts: ``test_preflight_recall.py``."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_metric_order import check_category_order, check_metric_order
from automl_mm.engine.preflight_recall import check_recall_metrics
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_engine._metric_order_helpers import (
    BY_NAME,
    _classwise_cfg,
    _mmdet_coco_metric,
    _one_box_per_image,
    _PlainCocoSubclass,
    _proposal_fast_cfg,
    _proposal_fast_recall,
)

from conftest import synthcoco_detector_cfg


def test_mmdet_proposal_fast_depends_on_the_order_read(tmp_path):
    """The fault the check prevents: the same perfect proposals, in file order and in another order."""
    ann_file = _one_box_per_image(str(tmp_path / 'ann.json'))
    assert _proposal_fast_recall(ann_file, [0, 1, 2]) == pytest.approx(1.0)
    assert _proposal_fast_recall(ann_file, [2, 0, 1]) == pytest.approx(0.0)


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
