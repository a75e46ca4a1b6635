"""Search batches that read a constant of every candidate (COCO's -1 where they hold no ground-truth object of the
key's area range, a classwise NaN where they hold none of the class: 0 for every candidate that reads them) are left
out of a potential's mean, so a candidate whose draws missed such a sample (no completion within max_tries) is
averaged as the others are; and a step whose every candidate read only such constants is refused, as a step whose
every candidate gave no metrics is, instead of tying them all at 0 and choosing by candidate order."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from torch import nn

from automl_mm.engine.evaluate import HeldOutEvaluator
from automl_mm.nas import scoring
from automl_mm.nas.beam import PartialArchitecturePool
from automl_mm.nas.samplers import UniformPathSampler
from automl_mm.nas.scoring import PathEvaluator, potential
from automl_mm.nas.spaces import LayerwiseSpace


def _evaluator(values, key: str = 'coco/bbox_mAP_s', rule: str = 'greater', classwise: bool = False):
    """A ``PathEvaluator`` of a split of 2 batches whose evaluation of ``path`` on sample ``s`` reads
    ``values(path, s)`` (``None``: no metrics), by a COCO metric."""
    from mmdet.evaluation import CocoMetric

    held_out = HeldOutEvaluator('search', key, 'PCNASLoop', metric_key_name='train_cfg.metric_key')
    held_out.loader = [0, 1]
    held_out.evaluator = SimpleNamespace(metrics=[CocoMetric(metric='bbox', prefix='coco', classwise=classwise)])
    space = SimpleNamespace(apply=lambda path, model: setattr(held_out, 'path', tuple(path)))

    def score(model, batches=None, group=None):
        value = values(held_out.path, held_out.sample)
        return (0.0, True) if value is None else (value, False)

    evaluate = PathEvaluator(nn.Identity(), space, held_out, batches_per_sample=1, rule=rule)
    held_out.score = score
    original = evaluate._score

    def tracked(path, sample_index):
        held_out.sample = sample_index
        return original(path, sample_index)

    evaluate._score = tracked
    return evaluate


class _MissesOneDraw(UniformPathSampler):
    """Rejection sampling that runs out of draws for ``prefix``'s second sample (enumerate_limit=0: no list to
    fall back on), as a tight cost limit does at random."""

    def __init__(self, space, prefix):
        super().__init__(space, max_tries=1, enumerate_limit=0)
        self.prefix, self.calls = tuple(prefix), 0

    def complete(self, prefix, generator, accept=None):
        if tuple(prefix) == self.prefix:
            self.calls += 1
            if self.calls == 2:
                return None
        return tuple(prefix) + (0, )


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(scoring, 'print_log', lambda msg, **kw: None)


@pytest.mark.parametrize('rule', ['greater', 'less'])
@pytest.mark.parametrize('constant', [-1.0, math.nan])
def test_a_candidate_that_missed_a_no_ground_truth_sample_averages_as_the_others(rule, constant):
    # both candidates compute the same function: 0.3 on sample 0's batch, the key's constant on sample 1's
    evaluate = _evaluator(lambda path, s: 0.3 if s == 0 else constant, rule=rule, classwise=constant != -1.0)
    space = LayerwiseSpace([[0, 1]] * 2)
    sampler = _MissesOneDraw(space, (0, ))

    def score(prefix):
        return potential(prefix, sampler, evaluate, 2, np.random.default_rng(0), accept=lambda path: True)

    missed, complete = score((0, )), score((1, ))
    # (1,) was averaged with the constant's 0 (0.15), (0,) without it (0.3): under 'greater' (0,) won on a missed
    # draw, under 'less' it lost
    assert missed == complete == pytest.approx(0.3)
    assert evaluate.constant_evaluations == 1


def test_a_candidate_whose_every_sample_read_the_constant_scores_the_worst():
    for rule, worst in (('greater', 0.0), ('less', math.inf)):
        evaluate = _evaluator(lambda path, s: -1.0, rule=rule)
        sampler = UniformPathSampler(LayerwiseSpace([[0, 1]] * 2))
        assert potential((0, ), sampler, evaluate, 2, np.random.default_rng(0)) == worst  # 0 was the best under less


def _run_step(evaluate, rule='greater'):
    from automl_mm.nas import loop as loop_module

    stand_in = SimpleNamespace(metric_key=evaluate.metric_key, checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0,
                               runner=SimpleNamespace(cfg=Config(dict(model=dict(type='RetinaNet')))))
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1, rule=rule)
    return pool, loop_module.SearchLoopBase.run_step(stand_in, 'step', pool, lambda c: evaluate(c, 1), str,
                                                     evaluate=evaluate)


@pytest.mark.parametrize('rule', ['greater', 'less'])
@pytest.mark.parametrize('constant, classwise', [(-1.0, False), (math.nan, True)])
def test_a_step_whose_every_candidate_read_only_the_constant_is_refused(rule, constant, classwise):
    evaluate = _evaluator(lambda path, s: constant, rule=rule, classwise=classwise)
    with pytest.raises(RuntimeError, match=r'\[step\] none of the 3 candidates with an admitted completion read '
                                           r'coco/bbox_mAP_s on the search batches other than a value every candidate '
                                           r'reads there .* Choose a train_cfg.metric_key'):
        _run_step(evaluate, rule)
    # and with a candidate that gave no metrics there among them (it reads nothing either)
    evaluate = _evaluator(lambda path, s: None if path == (1, ) else constant, rule=rule, classwise=classwise)
    with pytest.raises(RuntimeError, match=r'none of the 3 candidates'):
        _run_step(evaluate, rule)


def test_a_step_where_one_candidate_reads_a_value_goes_on_and_its_marks_are_kept():
    evaluate = _evaluator(lambda path, s: 0.2 if path == (2, ) else -1.0)
    pool, kept = _run_step(evaluate)
    assert kept == [(2, )]
    # a resume in the middle of a step keeps which candidates read only the constant
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1)
    pool.candidates()
    pool.record((0, ), 0.0, uninformed=True)
    pool.record((1, ), 0.0, empty=True)
    again = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1)
    again.load_state_dict(pool.state_dict())
    assert again.uninformed == {(0, ), (1, )} and again.empty == {(1, )}
