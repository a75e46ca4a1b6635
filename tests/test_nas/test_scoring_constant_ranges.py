"""A search sample's batches can read a constant of every candidate: mmdet's ``CocoMetric`` reads ``-1`` where they
hold no ground-truth object of the key's area range, a classwise AP reads NaN where they hold none of its class
(:class:`~automl_mm.nas.scoring.PathEvaluator` scores both 0). Such a range tells the candidates nothing, yet it was
averaged into each potential, so a candidate whose draw missed it (no completion within ``max_tries``) averaged other
ranges than the others: a bias. A step now keeps each candidate's per-sample scores, and at its end drops from every
candidate's mean each range any candidate read as a constant (the evaluator cannot tell a constant when it scores one
range: an evaluation without metrics there reads nothing). Leaving the constants out as they came (5243ea0, reverted)
ranked a candidate that predicted nothing on such batches below one with false positives there."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from torch import nn

from automl_mm.engine.evaluate import HeldOutEvaluator
from automl_mm.nas import beam, scoring, search_step
from automl_mm.nas.beam import PartialArchitecturePool, score_step
from automl_mm.nas.samplers import UniformPathSampler
from automl_mm.nas.scoring import PathEvaluator, potential
from automl_mm.nas.spaces import LayerwiseSpace
from tests.test_nas.test_scoring_coco_no_ground_truth import tracking_samples


def _evaluator(values, rule: str = 'greater', classwise: bool = False) -> PathEvaluator:
    """A ``PathEvaluator`` of ``coco/bbox_mAP_s`` on a split of 2 batches, 1 per sample, whose evaluation of ``path``
    on sample ``s`` reads ``values(path, s)`` (``None``: no metrics)."""
    from mmdet.evaluation import CocoMetric

    held_out = HeldOutEvaluator('search', 'coco/bbox_mAP_s', 'PCNASLoop', metric_key_name='train_cfg.metric_key')
    held_out.loader = [0, 1]
    held_out.evaluator = SimpleNamespace(metrics=[CocoMetric(metric='bbox', prefix='coco', classwise=classwise)])
    space = SimpleNamespace(apply=lambda path, model: setattr(held_out, 'path', tuple(path)))

    def score(model, batches=None, group=None):
        value = values(held_out.path[:1], held_out.sample % 2)
        return (0.0, True) if value is None else (value, False)

    evaluate = PathEvaluator(nn.Identity(), space, held_out, batches_per_sample=1, rule=rule)
    return tracking_samples(evaluate, held_out, score)


class _Misses(UniformPathSampler):
    """Rejection sampling that runs out of draws for the samples ``missed`` of ``prefix`` (enumerate_limit=0: no
    list to fall back on), as a tight cost limit does at random; every other draw completes with option 0."""

    def __init__(self, space, prefix, missed):
        super().__init__(space, max_tries=1, enumerate_limit=0)
        self.prefix, self.missed, self.calls = tuple(prefix), set(missed), 0

    def complete(self, prefix, generator, accept=None):
        if tuple(prefix) == self.prefix:
            self.calls += 1
            if self.calls - 1 in self.missed:
                return None
        return tuple(prefix) + (0, ) * (self.space.num_decisions - len(prefix))


def _step(evaluate, rule='greater', missed=(), pool=None, saved=None, num_samples=2):
    """One PC-NAS step over the first decision of a 2 x 2 space, ``num_samples`` per candidate (samples 0, 1...); the
    draws of ``missed`` samples of candidate (0,) find no completion. ``saved``: a list to which the pool's state is
    appended at each partial checkpoint (one per candidate scored). Returns the step's history entry."""
    import copy

    from automl_mm.nas import loop as loop_module

    space = LayerwiseSpace([[0, 1]] * 2)
    if pool is None:
        pool = PartialArchitecturePool(space, pool_size=2, rule=rule)
    sampler = _Misses(space, (0, ), missed)

    def score(prefix):
        return potential(prefix, sampler, evaluate, num_samples, np.random.default_rng(0), accept=lambda path: True)

    def checkpoint(tag):
        if saved is not None and tag.endswith('_partial'):
            saved.append(copy.deepcopy(pool.state_dict()))

    stand_in = SimpleNamespace(metric_key='coco/bbox_mAP_s', checkpoint_interval_s=0.0, _last_save=-math.inf,
                               save_search_checkpoint=checkpoint, _iter=0,
                               runner=SimpleNamespace(cfg=Config(dict(model=dict(type='RetinaNet')))))
    loop_module.SearchLoopBase.run_step(stand_in, 'step', pool, score, str, evaluate=evaluate)
    return pool.history[-1]


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(scoring, 'print_log', lambda msg, **kw: None)


@pytest.mark.parametrize('rule', ['greater', 'less'])
@pytest.mark.parametrize('constant', [-1.0, math.nan])
def test_a_candidate_whose_draw_missed_a_constant_range_averages_the_ranges_the_others_do(rule, constant,
                                                                                         monkeypatch):
    # both candidates compute the same function: 0.3 on sample 0's batch, the key's constant on sample 1's; the
    # draw of (0,)'s sample 1 found no completion. (0,) averaged 0.3 alone, (1,) (0.3 + 0) / 2 = 0.15: under
    # 'greater' the missed draw won, under 'less' it lost
    evaluate = _evaluator(lambda path, s: 0.3 if s == 0 else constant, rule=rule, classwise=math.isnan(constant))
    warned = []
    monkeypatch.setattr(search_step, 'warn', warned.append)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2, rule=rule)
    step = _step(evaluate, rule, missed=[1], pool=pool)
    assert step['candidates'] == [[[0], pytest.approx(0.3)], [[1], pytest.approx(0.3)]]
    assert any('1 of the 2 search samples read coco/bbox_mAP_s as a value every candidate reads there (samples [1])'
               in w for w in warned), warned
    assert not any('not scored for every candidate' in w for w in warned), warned  # a constant missed: no fit
    assert pool.samples == {}  # the step's samples go with its scores: not kept through the search


def test_a_candidate_without_any_completion_is_not_rescored_beside_constant_ranges():
    """(0,)'s draws all missed (-inf: no admitted completion, never kept); leaving sample 1's constant out of the
    others' means must not give it the rule's worst score, which kept it in the pool."""
    evaluate = _evaluator(lambda path, s: 0.3 if s == 0 else -1.0)
    step = _step(evaluate, missed=[0, 1])
    assert step['candidates'] == [[[1], pytest.approx(0.3)], [[0], None]]
    assert step['pool'] == [[1]]


@pytest.mark.parametrize('rule, better', [('greater', 0.4), ('less', 0.2)])
def test_a_candidate_that_predicts_nothing_on_a_range_without_ground_truth_ranks_as_a84f777_intended(rule, better):
    """(0,) predicts nothing on sample 1's batch, which holds no small object (no metrics: 0), and 0.4 on sample
    0's; (1,) predicts false positives there (COCO's -1) and 0.3 on sample 0's. The batch without ground truth tells
    them nothing (a84f777): (0,) must rank first, by 0.4 against 0.3. Leaving the -1 out as it came (5243ea0) ranked
    (1,) first, 0.3 against (0.4 + 0) / 2 = 0.2; averaging it as 0 gives 0.2 against 0.15. Under 'less' (0,)'s 0.2
    must rank first too: its evaluation without metrics scores +inf, which ranked it last."""
    values = {((0, ), 0): better, ((0, ), 1): None, ((1, ), 0): 0.3, ((1, ), 1): -1.0}
    evaluate = _evaluator(lambda path, s: values[(path, s)], rule=rule)
    step = _step(evaluate, rule)
    assert step['candidates'] == [[[0], pytest.approx(better)], [[1], pytest.approx(0.3)]]
    assert step['pool'] == [[0], [1]]


@pytest.mark.parametrize('rule', ['greater', 'less'])
@pytest.mark.parametrize('constant', [-1.0, math.nan])
def test_a_step_whose_every_range_is_constant_is_refused(rule, constant):
    refused = (r"\[step\] no search sample was scored with a value \(of samples \[0, 1\]\): "
               r"samples \[0, 1\] read coco/bbox_mAP_s as a value every candidate reads there .* Choose a "
               r"train_cfg.metric_key .*\(train_cfg.batches_per_sample")
    evaluate = _evaluator(lambda path, s: constant, rule=rule, classwise=math.isnan(constant))
    with pytest.raises(RuntimeError, match=refused):
        _step(evaluate, rule)
    # a candidate without metrics on those batches reads nothing either
    evaluate = _evaluator(lambda path, s: None if path == (1, ) else constant, rule=rule,
                          classwise=math.isnan(constant))
    with pytest.raises(RuntimeError, match=refused):
        _step(evaluate, rule)


def test_a_resume_in_the_middle_of_a_step_keeps_each_candidates_samples():
    """The per-sample scores are saved with the pool: a step resumed from its partial checkpoint after (0,) was
    scored drops sample 1 (-1) from (0,)'s mean as the uninterrupted step does (forgotten, (0,) kept its
    (0.3 + 0) / 2)."""
    def evaluator():
        return _evaluator(lambda path, s: (0.3 if path == (0, ) else 0.5) if s == 0 else -1.0)

    saved = []
    whole = _step(evaluator(), saved=saved)
    assert whole['candidates'] == [[[1], pytest.approx(0.5)], [[0], pytest.approx(0.3)]]
    resumed = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    resumed.load_state_dict(saved[0])
    assert resumed.pending() == [(1, )]
    assert _step(evaluator(), pool=resumed) == whole


def test_a_step_resumed_from_a_checkpoint_without_samples_leaves_nothing_out():
    """A partial checkpoint written before the samples were kept holds (0,)'s (0.3 + 0) / 2 with sample 1's -1
    averaged in: leaving sample 1 out of (1,)'s mean only scored the same function 0.3 against 0.15."""
    def evaluator():
        return _evaluator(lambda path, s: 0.3 if s == 0 else -1.0)

    saved = []
    _step(evaluator(), saved=saved)
    old = {key: value for key, value in saved[0].items() if key != 'samples'}
    resumed = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    resumed.load_state_dict(old)
    assert _step(evaluator(), pool=resumed)['candidates'] == [[[0], pytest.approx(0.15)], [[1], pytest.approx(0.15)]]


def test_the_samples_of_another_ranks_candidate_are_gathered(monkeypatch):
    """Rank 1 scored (1,), which read the constant on sample 1; rank 0's (0,) gave no metrics there (0: it reads
    nothing either): sample 1 is left out of (0,)'s mean too, by what rank 1 read there."""
    monkeypatch.setattr(beam, 'get_dist_info', lambda: (0, 2))
    other = ((1, ), 0.15, False, [(0, 0.3, False), (1, 0.0, True)], None)
    monkeypatch.setattr(beam, 'all_gather_object', lambda mine: [mine, other])
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    pool.candidates()
    score_step(pool, lambda c: 0.15, samples_of=lambda c: [(0, 0.3, False), (1, 0.0, False)])
    assert pool.samples[(1, )] == [(0, 0.3, False), (1, 0.0, True)]
    found = pool.rank_on_common_samples()
    assert (found.constant, found.read, found.common) == ({1}, {0, 1}, {0})
    assert pool.scores == {(0, ): pytest.approx(0.3), (1, ): pytest.approx(0.3)}
