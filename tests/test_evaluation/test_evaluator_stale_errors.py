"""A metric of mmengine's ``Evaluator`` that raised in ``evaluate`` stops the evaluator before its later metrics
evaluate: their kept refusal (:class:`~automl_mm.evaluation.accuracy.RankAgreedMetric` on several ranks) and their
results stayed on them, and the next evaluation (a reward reading in OHL evaluates again, a later validation) raised
the earlier evaluation's stale error, or scored the earlier samples with its own."""
from __future__ import annotations

import pytest
import torch
from mmengine.evaluator import Evaluator

import automl_mm.evaluation.accuracy as accuracy
from automl_mm.evaluation.accuracy import Accuracy, LogLikelihood


def _sample(label: int, right: bool = True, idx: int = 0) -> dict:
    scores = torch.tensor([0.9, 0.1]) if right == (label == 0) else torch.tensor([0.1, 0.9])
    return {'pred_score': scores, 'gt_label': torch.tensor([label]), 'sample_idx': idx}


def test_a_later_metrics_kept_refusal_does_not_outlive_the_evaluation_the_first_metric_stopped(monkeypatch):
    """Two metrics on (played) several ranks, each keeping its own refusal; the first raises its own in evaluate:
    the second's was raised by the next evaluation, whose samples are all right."""
    monkeypatch.setattr(accuracy, 'is_distributed', lambda: True)
    monkeypatch.setattr(accuracy, 'get_world_size', lambda group=None: 2)
    evaluator = Evaluator([Accuracy(), Accuracy(prefix='second')])
    first, second = evaluator.metrics
    first.process({}, [_sample(-1, idx=1)])  # kept, as on several ranks
    second.process({}, [_sample(-100, idx=2)])
    with pytest.raises(ValueError, match='gt_label -1 of the data sample sample_idx=1'):
        evaluator.evaluate(1)
    evaluator.process([_sample(0), _sample(1)])
    assert evaluator.evaluate(2) == {'accuracy/top1': 100.0, 'second/top1': 100.0}


def test_a_later_metrics_results_do_not_outlive_the_evaluation_the_first_metric_stopped():
    """One process: the first metric refuses in compute_metrics (scores of two widths); the second's results of that
    evaluation were scored with the next evaluation's."""
    evaluator = Evaluator([Accuracy(), LogLikelihood()])
    evaluator.process([_sample(0, right=False), dict(_sample(0), pred_score=torch.tensor([0.2, 0.3, 0.5]))])
    with pytest.raises(ValueError, match='scores of shapes'):
        evaluator.evaluate(2)
    evaluator.process([_sample(0)])
    assert evaluator.evaluate(1) == pytest.approx({'accuracy/top1': 100.0, 'log_likelihood/mean': -0.1053605})


def test_another_evaluators_evaluation_under_way_loses_nothing_when_one_raises():
    """Per evaluator: B's evaluation under way (a miss processed) kept its batch while A's evaluation raised (a
    process-wide count of raised evaluations had B forget it, and read 100 % of its right sample alone)."""
    b = Evaluator([Accuracy()])
    b.process([_sample(0, right=False)])
    a = Evaluator([Accuracy()])
    a.process([_sample(0), dict(_sample(0), pred_score=torch.tensor([0.2, 0.3, 0.5]))])
    with pytest.raises(ValueError, match='scores of shapes'):
        a.evaluate(2)
    b.process([_sample(0)])
    assert b.evaluate(2) == {'accuracy/top1': 50.0}


def test_a_metric_that_raised_in_process_leaves_no_batch_on_the_evaluators_metrics():
    """One process: the first metric refuses a sample of the second batch; both metrics held the first batch (a
    miss) into the next evaluation, whose one right sample was cut off (collect_results keeps `size`)."""
    evaluator = Evaluator([Accuracy(), LogLikelihood()])
    evaluator.process([_sample(0, right=False)])
    with pytest.raises(ValueError, match='gt_label -1'):
        evaluator.process([_sample(-1, idx=3)])
    evaluator.process([_sample(0)])
    assert evaluator.evaluate(1) == pytest.approx({'accuracy/top1': 100.0, 'log_likelihood/mean': -0.1053605})


def test_a_metric_evaluated_alone_that_raised_keeps_no_results():
    """Without an evaluator (the metric's own evaluate): mmengine clears results only after compute_metrics returned."""
    metric = Accuracy()
    metric.process({}, [_sample(0, right=False), dict(_sample(0), pred_score=torch.tensor([0.2, 0.3, 0.5]))])
    with pytest.raises(ValueError, match='scores of shapes'):
        metric.evaluate(2)
    metric.process({}, [_sample(0)])
    assert metric.evaluate(1) == {'accuracy/top1': 100.0}
