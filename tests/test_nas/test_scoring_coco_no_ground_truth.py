"""On a few search mini-batches mmdet's ``CocoMetric`` reports ``-1`` for a key whose area range holds no ground-truth
object in the images read (pycocotools' ``COCOeval.summarize``: ``coco/bbox_mAP_s`` on images without small objects):
not an AP, and the same for every candidate that predicted a box (they read the same batches). It was taken as a
negative reading: beside one evaluation without metrics (a candidate that predicted nothing, scored 0) a CR-NAS
spatial step stopped with "coco/bbox_mAP_s reads negative values", which it does not; and a candidate that predicted
nothing there scored 0 against the others' -1 on those batches. Such an evaluation now scores 0 for every candidate,
what an evaluation without metrics scores: the batches tell the candidates nothing. A key of another metric reading
negative values beside an empty evaluation is still refused."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch import nn

from automl_mm.engine.evaluate import HeldOutEvaluator
from automl_mm.nas.scoring import PathEvaluator

#: sample 0's batch holds small objects; sample 1's none (-1 for a candidate that predicted boxes)
MAP_S = {((0,), 0): None, ((1,), 0): 0.2, ((0,), 1): None, ((1,), 1): -1.0}


def _evaluator(metric, key: str) -> PathEvaluator:
    held_out = HeldOutEvaluator('search', key, 'CRNASLoop')
    held_out.loader, held_out.evaluator = [0, 1], SimpleNamespace(metrics=[metric])
    space = SimpleNamespace(apply=lambda path, model: setattr(held_out, 'path', tuple(path)))

    def score(model, batches=None, group=None):
        value = MAP_S[(held_out.path, held_out.sample)]
        return (0.0, True) if value is None else (value, False)

    evaluate = PathEvaluator(nn.Identity(), space, held_out, batches_per_sample=1)
    return tracking_samples(evaluate, held_out, score)


def tracking_samples(evaluate: PathEvaluator, held_out, score) -> PathEvaluator:
    """``evaluate`` with ``held_out.score`` set to ``score`` and each scored sample's index kept in
    ``held_out.sample`` (what a stand-in ``score`` reads its planted value by)."""
    held_out.score = score
    original = evaluate._score

    def tracked(path, sample_index):
        held_out.sample = sample_index
        return original(path, sample_index)

    evaluate._score = tracked
    return evaluate


def test_a_coco_minus_1_on_batches_without_ground_truth_in_range_scores_as_no_metrics(monkeypatch):
    from mmdet.evaluation import CocoMetric

    from automl_mm.nas import scoring

    said = []
    monkeypatch.setattr(scoring, 'print_log', lambda msg, **kw: said.append(msg))
    evaluate = _evaluator(CocoMetric(metric='bbox', prefix='coco'), 'coco/bbox_mAP_s')
    assert evaluate((0,), 0) == 0.0  # predicted nothing where there are small objects: the worst AP
    assert evaluate((1,), 1) == 0.0  # no small object on those batches: no AP, as for (0,) there
    assert evaluate((0,), 1) == 0.0
    assert evaluate((1,), 0) == 0.2
    assert evaluate((1,), 1) == 0.0
    assert evaluate.empty_evaluations == 2  # the -1 is not an empty evaluation (nor "the supernet predicts nothing")
    assert evaluate.readings == {'lowest': 0.2, 'empty': True, 'nan': [], 'read': [[0, 1]]}  # nor a reading
    minus_1 = [m for m in said if 'is -1' in m]  # once per batches read
    assert len(minus_1) == 1 and "no ground-truth object of the key's area range" in minus_1[0], said


def test_another_metric_reading_minus_1_beside_an_empty_evaluation_is_still_refused():
    evaluate = _evaluator(SimpleNamespace(prefix='log_likelihood'), 'log_likelihood/mean')
    evaluate((0,), 0)
    with pytest.raises(RuntimeError, match=r'log_likelihood/mean reads negative values \(lowest -1\)'):
        evaluate((1,), 1)
