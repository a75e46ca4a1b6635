"""A user's metric class of its own code is judged by running it on a small probe (check_metric_order,
check_category_order, check_recall_metrics); where the probe cannot run it, or its values say neither, the check
warns (naming the metric's key and type, and why) instead of skipping it silently."""
from __future__ import annotations

from automl_mm.engine import preflight_metric_order
from automl_mm.engine.preflight_metric_order import check_category_order, check_metric_order
from automl_mm.engine.preflight_recall import check_recall_metrics
from tests.test_engine._metric_order_helpers import (
    BY_NAME,
    _classwise_cfg,
    _mmdet_coco_metric,
    _OwnOrderCocoMetric,
    _RaggedRecallCocoMetric,
)


class _PaletteCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric of its own compute_metrics and fast_eval_recall that read dataset_meta['palette'], which
    the probes' metric is not given: none of them can judge it."""

    def compute_metrics(self, results):
        self.dataset_meta['palette']
        return super().compute_metrics(results)

    def fast_eval_recall(self, results, *args, **kwargs):
        self.dataset_meta['palette']
        return super().fast_eval_recall(results, *args, **kwargs)


def test_a_users_metric_the_probes_cannot_judge_is_warned_of(coco_root, monkeypatch):
    """The probes of check_metric_order, check_category_order and check_recall_metrics skipped a user's class of its
    own code they could not run without a word (the check the user relied on silently did not run); each now warns,
    naming the metric's key and type and the error, and still does not refuse it."""
    import re

    from mmengine.config import Config

    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    cfg = Config(dict(val_dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)),
                      val_evaluator=dict(type=_PaletteCocoMetric, ann_file='ann.json', metric='proposal_fast')))
    check_metric_order(cfg, 'mmdet')
    head = r"val_evaluator \(_PaletteCocoMetric, metric='proposal_fast'\) was not checked "
    assert len(logged) == 1 and re.match(head + r'against val_dataloader\.sampler, which shuffles: .*\(KeyError: '
                                                r"'palette'\)", logged[0]), logged
    logged.clear()
    check_recall_metrics(cfg, 'mmdet', box_counts={'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))})
    assert len(logged) == 1 and re.match(head + r"for images of unequal box counts.*\(KeyError: 'palette'\)",
                                         logged[0]), logged
    logged.clear()
    cfg = _classwise_cfg(coco_root, BY_NAME)
    cfg.val_evaluator.type = _PaletteCocoMetric
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert len(logged) == 1 and re.match(r'val_evaluator \(_PaletteCocoMetric, classwise=True\) was not checked for '
                                         r".*\(KeyError: 'palette'\)", logged[0]), logged
    # the ones the probes judge are not warned of
    logged.clear()
    check_recall_metrics(Config(dict(val_evaluator=dict(type=_RaggedRecallCocoMetric, ann_file='ann.json',
                                                        metric='proposal_fast'))),
                         'mmdet', box_counts={'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))})
    cfg.val_evaluator.type = _OwnOrderCocoMetric
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert logged == []


class _HalfRecallCocoMetric(_mmdet_coco_metric()):
    """A user's CocoMetric of its own fast_eval_recall that runs on the probe's file and reports AR@1 0.5: neither
    by position (0) nor by img_id (1)."""

    def fast_eval_recall(self, results, proposal_nums, *args, **kwargs):
        import numpy as np

        return np.full(len(proposal_nums), 0.5)


def _users_ov_metric_of_its_own_compute():
    from mmdet.evaluation.metrics import OVCocoMetric

    class _OwnComputeOVCocoMetric(OVCocoMetric):
        def compute_metrics(self, results):
            return dict(base_ap=0.0, novel_ap=0.0)

    return _OwnComputeOVCocoMetric


def test_the_unjudged_warnings_do_not_say_a_probe_that_ran_could_not(coco_root, monkeypatch):
    """The warnings of 8ea2520 said the class 'could not be evaluated' also where the probe ran and its values said
    neither (an AR@1 of 0.5), and, for an open-vocabulary metric's base_ap / novel_ap, where no probe runs at all
    ('could not be evaluated on a file ... (its base_ap / novel_ap are not probed here)')."""
    import re

    from mmengine.config import Config

    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    cfg = Config(dict(val_dataloader=dict(sampler=dict(type='DefaultSampler', shuffle=True)),
                      val_evaluator=dict(type=_HalfRecallCocoMetric, ann_file='ann.json', metric='proposal_fast')))
    check_metric_order(cfg, 'mmdet')
    assert len(logged) == 1 and re.search(r'_HalfRecallCocoMetric, probed on three images read in another order, gave '
                                          r'no answer \(its AR@1 was 0\.5, neither 0', logged[0]), logged
    assert 'could not be evaluated' not in logged[0], logged
    logged.clear()
    cfg = _classwise_cfg(coco_root, BY_NAME, type=_users_ov_metric_of_its_own_compute(), classwise=False)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    check_category_order(cfg, 'mmdet', listing, test_only=True, split='val')
    assert len(logged) == 1 and re.search(r"\(_OwnComputeOVCocoMetric, base_ap / novel_ap\) was not checked .*: "
                                          r"_OwnComputeOVCocoMetric's base_ap / novel_ap are not probed here",
                                          logged[0]), logged
    assert 'could not be evaluated' not in logged[0], logged


def test_an_unjudged_metric_of_both_splits_is_warned_of_once_naming_both(coco_root, monkeypatch):
    """check_config checks val_evaluator and test_evaluator; with the usual test_evaluator = val_evaluator (and
    test_dataloader = val_dataloader) each probe warning was logged twice, once per split, for the same metric
    config (one cause): each is now logged once, naming both keys."""
    import re

    from mmengine.config import Config

    logged = []
    monkeypatch.setattr(preflight_metric_order, 'print_log', lambda msg, logger=None, level=None: logged.append(msg))
    cfg = _classwise_cfg(coco_root, BY_NAME, type=_PaletteCocoMetric)  # (test_evaluator = val_evaluator)
    listing = {cfg.val_evaluator.ann_file: [(3, 'rectangle'), (2, 'ellipse'), (1, 'triangle')]}
    check_category_order(cfg, 'mmdet', listing)
    assert len(logged) == 1 and re.match(r'val_evaluator and test_evaluator \(_PaletteCocoMetric, classwise=True\) '
                                         r"were not checked for .*\(KeyError: 'palette'\)", logged[0]), logged
    logged.clear()
    cfg.val_evaluator.type = cfg.test_evaluator.type = 'CocoMetric'
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset = dict(type='NotARegisteredDataset', ann_file='x.json')
    check_category_order(cfg, 'mmdet', listing)
    assert len(logged) == 1 and logged[0].startswith(
        'val_evaluator and test_evaluator (CocoMetric, classwise=True) read per-class APs by the position of ') and \
        "val_dataloader's and test_dataloader's classes (the categories they score) are not known here" in logged[0]
    logged.clear()
    shuffled = dict(sampler=dict(type='DefaultSampler', shuffle=True))
    metric = dict(type=_PaletteCocoMetric, ann_file='ann.json', metric='proposal_fast')
    cfg = Config(dict(val_dataloader=shuffled, test_dataloader=shuffled, val_evaluator=metric, test_evaluator=metric))
    check_metric_order(cfg, 'mmdet')
    assert len(logged) == 1 and logged[0].startswith(
        "val_evaluator and test_evaluator (_PaletteCocoMetric, metric='proposal_fast') were not checked against "
        'val_dataloader.sampler and test_dataloader.sampler, which shuffle: '), logged
    logged.clear()
    counts = {'ann.json': (((1, 1), (2, 2)), ((1, 1), (2, 2)))}
    check_recall_metrics(cfg, 'mmdet', box_counts=counts)
    assert len(logged) == 1 and logged[0].startswith("val_evaluator and test_evaluator (_PaletteCocoMetric, "
                                                     "metric='proposal_fast') were not checked for images "), logged
    logged.clear()
    cfg.val_evaluator.type = cfg.test_evaluator.type = 'CocoMetric'
    check_recall_metrics(cfg, 'mmdet', box_counts={'ann.json': (((1, 1), ), ((1, 1), ))})  # equal counts: warned
    assert len(logged) == 1 and logged[0].startswith("val_evaluator and test_evaluator (CocoMetric, "
                                                     "metric='proposal_fast') compute their recall with"), logged
