"""A search metric that is NaN on a few search mini-batches: mmdet's per-class APs (``CocoMetric`` / ``LVISMetric``
with ``classwise=True``: ``coco/<class>_precision``) are NaN where the images read hold no ground-truth object of
the class, and mmdet's ``CityScapesMetric`` reports a NaN ``cityscapes/mAP`` on images without instances. Every
candidate that reads those batches reads the NaN (the batches tell the candidates nothing), but it stopped the search
with a ValueError (the COCO metric's refusal in ``HeldOutEvaluator.score``, the pool's "a search score must be finite"
for the others). Such batches now score as COCO's ``-1`` does (0 for every candidate that reads them, warned once per
batches naming the key) and the search goes on. A NaN where another candidate read a value on the same batches (here,
on another rank, or before a resume) is a fault of the candidate, and is refused naming the key and the batches; so is
a NaN on the whole search split (every candidate reads the same images: nothing to rank by). A classwise NaN beside
the searched key changes nothing (``HeldOutEvaluator`` reads ``metric_key`` only): pinned in tests/test_engine's
test_evaluate. Under ``metric_rule='less'`` an evaluation without metrics scores +inf, the worst under the rule, and
the warnings say so (they said 0)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from torch import nn

from automl_mm.engine.evaluate import HeldOutEvaluator
from automl_mm.nas import scoring
from automl_mm.nas.scoring import PathEvaluator, new_readings
from tests.test_nas.test_scoring_coco_no_ground_truth import tracking_samples

NAN = math.nan


def _evaluator(values: dict, key: str = 'coco/b_precision', metric=None, rule: str = 'greater',
               batches_per_sample: int | None = 1, readings: dict | None = None) -> PathEvaluator:
    """A ``PathEvaluator`` whose evaluation of ``(path, sample)`` reads ``values[(path, sample)]`` (``None``: no
    metrics), of a split of 2 batches."""
    if metric is None:
        from mmdet.evaluation import CocoMetric

        metric = CocoMetric(metric='bbox', prefix='coco', classwise=True)
    held_out = HeldOutEvaluator('search', key, 'PCNASLoop', metric_key_name='train_cfg.metric_key')
    held_out.loader, held_out.evaluator = [0, 1], SimpleNamespace(metrics=[metric])
    space = SimpleNamespace(apply=lambda path, model: setattr(held_out, 'path', tuple(path)))

    def score(model, batches=None, group=None):
        value = values[(held_out.path, held_out.sample)]
        return (0.0, True) if value is None else (value, False)

    evaluate = PathEvaluator(nn.Identity(), space, held_out, batches_per_sample=batches_per_sample, rule=rule,
                             readings=readings)
    return tracking_samples(evaluate, held_out, score)


@pytest.fixture
def said(monkeypatch):
    said = []
    monkeypatch.setattr(scoring, 'print_log', lambda msg, **kw: said.append(msg))
    return said


#: batch 0 holds an object of class b; batch 1 none: NaN for a candidate that predicted boxes there
CLASSWISE = {((0,), 0): None, ((1,), 0): 0.4, ((2,), 0): 0.7, ((0,), 1): None, ((1,), 1): NAN, ((2,), 1): NAN}


def test_a_classwise_nan_on_batches_without_the_class_scores_alike_and_is_warned_once_naming_the_key(said):
    evaluate = _evaluator(CLASSWISE)
    assert [evaluate((p,), 1) for p in range(3)] == [0.0, 0.0, 0.0]  # the batches tell them nothing
    assert [evaluate((p,), 0) for p in range(3)] == [0.0, 0.4, 0.7]
    assert evaluate.empty_evaluations == 2  # the NaN is not an evaluation without metrics, nor a reading
    assert (evaluate.readings['lowest'], evaluate.readings['empty']) == (0.4, True)
    nan = [m for m in said if 'is NaN' in m]
    assert len(nan) == 1, said  # once per batches read
    assert nan[0].startswith('train_cfg.metric_key coco/b_precision is NaN on 1 search batch(es) from batch 1'), nan
    assert 'no ground-truth object' in nan[0] and 'coco/b_precision=0' in nan[0]


@pytest.mark.parametrize('nan_first', [True, False])
def test_a_nan_where_another_candidate_read_a_value_on_the_same_batches_is_refused(said, nan_first):
    """Not a key without ground truth there: the candidate's own outputs (a diverged path), in either order."""
    values = {((0,), 0): NAN, ((1,), 0): 0.4}
    evaluate = _evaluator(values, key='cityscapes/mAP', metric=SimpleNamespace(prefix='cityscapes'))
    first, second = ((0,), (1,)) if nan_first else ((1,), (0,))
    evaluate(first, 0)
    with pytest.raises(ValueError, match=r'train_cfg\.metric_key cityscapes/mAP (is NaN|reads 0\.4) on 1 search '
                                         r'batch\(es\) from batch 0, where another candidate read (a value|NaN): '
                                         r'.*not a key without ground truth there'):
        evaluate(second, 0)


def test_a_nan_for_every_candidate_of_another_metric_scores_alike_too(said):
    """mmdet's CityScapesMetric: a NaN mAP on images without instances, for every candidate."""
    values = {((0,), 0): 0.3, ((1,), 0): 0.5, ((0,), 1): NAN, ((1,), 1): NAN}
    evaluate = _evaluator(values, key='cityscapes/mAP', metric=SimpleNamespace(prefix='cityscapes'))
    assert [evaluate((p,), s) for s in (0, 1) for p in (0, 1)] == [0.3, 0.5, 0.0, 0.0]


def test_a_nan_on_the_whole_search_split_is_refused_naming_the_key(said):
    values = {((0,), 0): NAN}
    evaluate = _evaluator(values, key='cityscapes/mAP', metric=SimpleNamespace(prefix='cityscapes'),
                          batches_per_sample=None)
    with pytest.raises(ValueError, match=r'train_cfg\.metric_key cityscapes/mAP is NaN scoring path \(0,\) on the '
                                         r'whole search split'):
        evaluate((0,), 0)


def test_the_batches_read_nan_are_remembered_across_ranks_and_resumes(said, monkeypatch):
    """Rank 0 read a value on batch 0, rank 1 a NaN there: refused on every rank when they share their readings;
    a resumed search refuses a NaN where the checkpoint's run read a value."""
    readings = new_readings()
    evaluate = _evaluator({((1,), 0): 0.4}, key='cityscapes/mAP', metric=SimpleNamespace(prefix='cityscapes'),
                          readings=readings)
    evaluate((1,), 0)
    other = dict(new_readings(), nan=[[0, 1]])
    monkeypatch.setattr(scoring, 'get_world_size', lambda: 2)
    monkeypatch.setattr(scoring, 'all_gather_object',
                        lambda mine: [mine, (other['lowest'], other['empty'], other['nan'], other['read'])])
    with pytest.raises(ValueError, match=r'across 2 ranks: train_cfg\.metric_key cityscapes/mAP is NaN on 1 search '
                                         r'batch\(es\) from batch 0, where a candidate of some rank read a value'):
        evaluate.share_readings()
    resumed = _evaluator({((0,), 0): NAN}, key='cityscapes/mAP', metric=SimpleNamespace(prefix='cityscapes'),
                         readings=dict(new_readings(), read=[[0, 1]]))
    with pytest.raises(ValueError, match=r'where another candidate read a value'):
        resumed((0,), 0)


def test_under_less_the_warnings_give_what_an_evaluation_without_metrics_scores(said):
    """metric_rule='less' on an AP key (a misconfiguration): an evaluation without metrics scores +inf, the worst
    under the rule; the -1 warning said such a candidate scored 0 on those batches."""
    values = {((0,), 0): None, ((1,), 0): -1.0}
    evaluate = _evaluator(values, key='coco/bbox_mAP_s', rule='less')
    assert evaluate((0,), 0) == math.inf
    assert evaluate((1,), 0) == 0.0
    minus_1 = [m for m in said if 'is -1' in m]
    assert len(minus_1) == 1 and "one that predicts none reads no metrics and scores coco/bbox_mAP_s=+inf (the " \
        "worst under metric_rule='less')" in minus_1[0], said
    greater = _evaluator(values, key='coco/bbox_mAP_s')
    greater((1,), 0)
    assert "one that predicts none reads no metrics and scores coco/bbox_mAP_s=0 (the worst under " \
        "metric_rule='greater')" in said[-1], said[-1]


def test_a_less_step_whose_every_candidate_gave_no_metrics_names_their_score_inf():
    from mmengine.config import Config

    from automl_mm.nas import loop as loop_module
    from automl_mm.nas.beam import PartialArchitecturePool
    from automl_mm.nas.spaces import LayerwiseSpace

    evaluate = SimpleNamespace(evaluations=0, empty_evaluations=0)

    def empty(candidate):
        evaluate.evaluations += 1
        evaluate.empty_evaluations += 1
        return math.inf

    stand_in = SimpleNamespace(metric_key='coco/bbox_mAP', checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0,
                               runner=SimpleNamespace(cfg=Config(dict(model=dict(type='RetinaNet')))))
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]]), pool_size=1, rule='less')
    with pytest.raises(RuntimeError, match=r"every one of the 2 candidates gave no metrics on the search split \(all "
                                           r"score coco/bbox_mAP=\+inf, the worst under metric_rule='less'\)"):
        loop_module.SearchLoopBase.run_step(stand_in, 'step', pool, empty, str, evaluate=evaluate)


def test_a_real_search_goes_on_past_batches_every_candidate_reads_nan(tmp_path, monkeypatch, said):
    """A tiny PC-NAS search whose search metric is NaN on every odd search batch, for every candidate (a classwise AP
    of a class only the even batches hold): it stopped at its first step ('candidate (0,) scored nan: a search score
    must be finite'); it finishes now, each completion on an odd batch scored 0, and each step leaves the odd
    batches out of every candidate's mean."""
    import json
    import os.path as osp

    from mmengine.runner import Runner
    from test_nas.test_pc_nas_loop import _cfg

    from automl_mm.engine import evaluate as evaluate_module

    starts = []
    real_cycle = scoring.cycle_batches

    def cycle(loader, start, count):
        starts.append(start % len(loader))
        return real_cycle(loader, start, count)

    monkeypatch.setattr(scoring, 'cycle_batches', cycle)
    monkeypatch.setattr(evaluate_module.HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (
        NAN if starts[-1] % 2 else 0.5, False))
    work = str(tmp_path / 'run')
    cfg = _cfg(work, bn_recalibration_batches=0, checkpoint_interval_s=float('inf'))
    Runner.from_cfg(cfg).train()
    with open(osp.join(work, 'search', 'pc_nas_result.json')) as f:
        result = json.load(f)
    scores = [s for step in result['history'] for _, s in step['candidates']]
    # the even batch's 0.5 alone: the odd one's NaN reads the same for every candidate and is left out (averaged as
    # 0 it gave (0.5 + 0) / 2, and a candidate whose draw missed the odd sample 0.5); None: no completion within the
    # cost limit
    assert {s for s in scores if s is not None} == {0.5}, scores
    nan = [m for m in said if 'is NaN' in m]
    assert len(nan) == len({s for s in starts if s % 2}) and all('accuracy/top1=0 on them' in m for m in nan), nan
