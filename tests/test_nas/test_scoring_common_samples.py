"""A search step scores its candidates over the same samples.

A candidate's potential averages the samples its completion draws found (a draw that finds no completion within
``max_tries`` is skipped, :func:`~automl_mm.nas.scoring.potential`). A candidate that missed a sample on which it
would have scored low averaged its better samples only, against the others' means over all of them: the missed-draw
bias. Samples read as a constant (a COCO ``-1``, a NaN without ground truth) are left out; where some candidate
missed a sample, every candidate scores the additive model's (reading = candidate effect + sample effect, least
squares) estimate of its mean over the samples kept; candidates that share no sample across groups are refused.
Samples are keyed by their index (the completion draw and the search batches it reads), also where the indices wrap
around the search split.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from automl_mm.nas import beam, loop, scoring, search_step
from automl_mm.nas.beam import PartialArchitecturePool
from automl_mm.nas.spaces import LayerwiseSpace
from tests.test_nas.test_scoring_constant_ranges import _evaluator, _step


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(scoring, 'print_log', lambda msg, **kw: None)


@pytest.mark.parametrize('rule, values, first, means', [
    # (0,)'s draw missed sample 1, where it would have read 0.1 ('greater'; 0.9 under 'less'): it averaged sample 0
    # alone (0.4), (1,) both (0.35), and (0,) ranked first; on sample 0, the one both read, (1,) is better by 0.1,
    # and the additive fit scores (0,) 0.1 below (1,)'s mean over both samples
    ('greater', {((0, ), 0): 0.4, ((0, ), 1): 0.1, ((1, ), 0): 0.5, ((1, ), 1): 0.2}, [1], [0.35, 0.25]),
    ('less', {((0, ), 0): 0.5, ((0, ), 1): 0.9, ((1, ), 0): 0.4, ((1, ), 1): 0.7}, [1], [0.55, 0.65]),
])
def test_a_candidate_whose_draw_missed_a_sample_is_ranked_on_the_samples_every_candidate_read(
        rule, values, first, means, monkeypatch):
    warned = []
    monkeypatch.setattr(search_step, 'warn', warned.append)
    evaluate = _evaluator(lambda path, s: values[(path, s)], rule=rule)
    step = _step(evaluate, rule, missed=[1])
    assert step['candidates'][0][0] == first
    assert [score for _, score in step['candidates']] == [pytest.approx(m) for m in means]
    said = ('1 of the 2 search samples were not scored for every candidate (samples [1]: e.g. sample 1 for (0,), '
            'whose draw found no completion')
    assert any(said in w and 'the additive model\'s estimate of its mean over the 2 samples kept' in w
               for w in warned), warned


@pytest.mark.parametrize('rule', ['greater', 'less'])
def test_a_step_whose_candidates_share_no_sample_is_refused(rule):
    # (0,)'s draw missed sample 0, the one sample with a value (sample 1 reads COCO's -1 for every candidate): no
    # sample to compare it with (1,) on; it used to score the rule's worst and (1,) was chosen
    evaluate = _evaluator(lambda path, s: 0.3 if s == 0 else -1.0, rule=rule)
    refused = (r"\[step\] the candidates fall apart into 2 groups that read no search sample in common "
               r"\(\{\(0,\)\}; \{\(1,\)\}\): .*\(e\.g\. sample 0 for \(0,\), whose draw found no completion .*; "
               r"samples \[1\] left out\).*train_cfg\.completion_sampler\.max_tries.*train_cfg\.batches_per_sample"
               r".*train_cfg\.metric_key")
    with pytest.raises(RuntimeError, match=refused):
        _step(evaluate, rule, missed=[0])


def test_an_evaluation_without_metrics_where_another_candidate_read_a_value_is_a_reading():
    """(0,) predicted nothing on sample 1, where (1,) read a value on the same batches: the batches hold ground truth,
    and predicting nothing there is (0,)'s worst reading (AP 0), not a sample to leave out (its 0.5 on sample 0
    alone would rank it first)."""
    values = {((0, ), 0): 0.5, ((0, ), 1): None, ((1, ), 0): 0.3, ((1, ), 1): 0.3}
    step = _step(_evaluator(lambda path, s: values[(path, s)]))
    assert step['candidates'] == [[[1], pytest.approx(0.3)], [[0], pytest.approx(0.25)]]


def test_samples_that_wrap_around_the_search_split_are_kept_by_index():
    """3 samples per candidate on a split of 2 batches: sample 2 reads batch 0 again, with its own completion draw.
    Keyed by index, (0,) missed sample 2, which (1,) alone read: on samples 0 and 1, which both read, (1,) is better
    by 0.025, and both are scored over the 3 samples ((1,)'s plain mean 0.95 / 3); keyed by the batches, (1,)'s two
    readings of batch 0 would have weighed it twice against (0,)'s one."""
    values = {((0, ), 0): 0.4, ((0, ), 1): 0.2, ((1, ), 0): 0.3, ((1, ), 1): 0.35}
    evaluate = _evaluator(lambda path, s: values[(path, s % 2)])
    step = _step(evaluate, missed=[2], num_samples=3)
    assert step['candidates'] == [[[1], pytest.approx(0.95 / 3)], [[0], pytest.approx(0.95 / 3 - 0.025)]]
    # a batch range without ground truth read under two indices is left out under both
    evaluate = _evaluator(lambda path, s: -1.0 if s % 2 else values[(path, 0)])
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    step = _step(evaluate, pool=pool, num_samples=4)
    assert step['candidates'] == [[[0], pytest.approx(0.4)], [[1], pytest.approx(0.3)]]


def test_the_evaluator_keeps_one_candidates_evaluations_while_recording_and_the_last_one_otherwise():
    """A user scoring paths with the public evaluator in a loop of their own: its per-sample scores grew by one
    entry per evaluation, without bound; a search step records one candidate's evaluations at a time."""
    evaluate = _evaluator(lambda path, s: 0.3 if s == 0 else 0.1)
    for i in range(5):
        evaluate((0, 0), i % 2)
    assert evaluate.sample_scores == [(0, pytest.approx(0.3), False)]  # the last evaluation only
    with evaluate.recording() as kept:
        evaluate((0, 0), 0)
        evaluate((0, 0), 1)
    assert kept == [(0, pytest.approx(0.3), False), (1, pytest.approx(0.1), False)]
    assert evaluate.sample_scores == kept
    evaluate((0, 0), 0)
    assert evaluate.sample_scores == [(0, pytest.approx(0.3), False)]
    assert kept == [(0, pytest.approx(0.3), False), (1, pytest.approx(0.1), False)]  # the record is left alone
    with evaluate.recording(), pytest.raises(RuntimeError, match='do not nest'), evaluate.recording():
        pass


def test_a_checkpoint_without_samples_still_loads_and_leaves_nothing_out(monkeypatch):
    """A step resumed from a partial checkpoint written before the per-sample scores were kept: its candidates
    scored before the resume averaged what their draws found, so the missed sample is not left out of the later
    candidates' means either (with a warning)."""
    warned = []
    monkeypatch.setattr(beam, 'print_log', lambda msg, **kw: warned.append(msg))
    values = {((0, ), 0): 0.4, ((0, ), 1): 0.1, ((1, ), 0): 0.5, ((1, ), 1): 0.2}

    def evaluator():
        return _evaluator(lambda path, s: values[(path, s)])

    saved = []
    _step(evaluator(), missed=[1], saved=saved)
    old = {key: value for key, value in saved[0].items() if key != 'samples'}
    resumed = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    resumed.load_state_dict(old)
    assert _step(evaluator(), pool=resumed, missed=[1])['candidates'] == [[[0], pytest.approx(0.4)],
                                                                          [[1], pytest.approx(0.35)]]
    assert any('scored before a resume from a checkpoint that does not keep per-sample scores' in w for w in warned)


def _pool(rule='greater', width=2):
    pool = PartialArchitecturePool(LayerwiseSpace([list(range(width))] * 2), pool_size=2, rule=rule)
    pool.candidates()
    return pool


def test_a_complete_step_scores_the_plain_mean_over_the_samples_kept_in_their_order():
    # np.mean over the kept samples in their order, as potential averages them: the same float as before the
    # additive model (which gives it up to rounding: 0.1 + 0.2 + 0.7 is not 1.0 in floats)
    pool = _pool()
    pool.record((0, ), 0.2, samples=[(0, 0.1, False), (1, 0.0, True), (2, 0.2, False), (3, 0.7, False)])
    pool.record((1, ), 0.3, samples=[(0, 0.7, False), (1, 0.0, True), (2, 0.1, False), (3, 0.3, False)])
    found = pool.rank_on_common_samples()
    assert (found.read, found.constant, found.common, found.missed) == ({0, 1, 2, 3}, {1}, {0, 2, 3}, {})
    assert pool.scores == {(0, ): float(np.mean([0.1, 0.2, 0.7])), (1, ): float(np.mean([0.7, 0.1, 0.3]))}
    fitted = beam._additive_fit({c: [(i, v) for i, v, k in s if not k] for c, s in pool.samples.items()})
    assert fitted == {c: pytest.approx(s, abs=1e-12) for c, s in pool.scores.items()}


def test_candidates_that_each_miss_a_few_samples_are_scored_though_no_sample_is_common_to_all():
    """4 candidates, 4 samples, each candidate's draw missing another sample: no sample is read by all (the step was
    refused). The readings are additive (candidate effect + sample effect), so the fit gives each candidate's mean
    over all 4 samples exactly: (2,) missed the hardest sample and (3,) the easiest, and neither moves."""
    effect, hardness = [0.1, 0.3, 0.2, 0.25], [0.4, 0.1, -0.3, 0.2]
    pool = _pool(width=4)
    for c in range(4):
        pool.record((c, ), 0.0, samples=[(s, effect[c] + hardness[s], False) for s in range(4) if s != (c + 2) % 4])
    found = pool.rank_on_common_samples()
    assert found.common == {0, 1, 2, 3} and found.groups == ()
    assert found.missed == {0: [(2, )], 1: [(3, )], 2: [(0, )], 3: [(1, )]}
    level = float(np.mean(hardness))
    assert pool.scores == {(c, ): pytest.approx(effect[c] + level, abs=1e-12) for c in range(4)}
    assert [c for c, _ in pool.ranking()] == [(1, ), (3, ), (2, ), (0, )]
    assert pool.rank_on_common_samples() == found and pool.scores[(0, )] == pytest.approx(0.1 + level, abs=1e-12)
    # the candidates' scores gathered in another order (other ranks, a resume): the same floats, in candidate order
    shuffled = _pool(width=4)
    for c in (2, 0, 3, 1):
        shuffled.record((c, ), 0.0, samples=pool.samples[(c, )])
    assert shuffled.rank_on_common_samples() == found
    assert [shuffled.scores[(c, )] for c in range(4)] == [pool.scores[(c, )] for c in range(4)]


def test_candidates_that_share_no_sample_fall_apart_into_groups():
    # (0,) and (1,) read samples 0 and 1, (2,) and (3,) samples 2 and 3: nothing compares the two pairs
    pool = _pool(width=4)
    for c in range(4):
        pool.record((c, ), 0.5, samples=[(2 * (c // 2) + s, 0.1 * c + s, False) for s in range(2) if (c, s) != (1, 1)])
    found = pool.rank_on_common_samples()
    assert found.groups == ([(0, ), (1, )], [(2, ), (3, )])
    assert pool.scores == {(c, ): 0.5 for c in range(4)}  # left as they were


def test_a_candidate_without_metrics_on_a_sample_under_less_scores_inf_and_the_others_are_fitted():
    pool = _pool('less', width=3)
    pool.record((0, ), 0.3, samples=[(0, 0.2, False), (1, 0.4, False)])
    pool.record((1, ), 0.3, samples=[(0, 0.3, False)])  # missed sample 1
    pool.record((2, ), math.inf, samples=[(0, 0.1, False), (1, math.inf, False)])
    pool.rank_on_common_samples()
    assert pool.scores == {(0, ): pytest.approx(0.3), (1, ): pytest.approx(0.4), (2, ): math.inf}


@pytest.mark.parametrize('rule', ['greater', 'less'])
def test_a_sample_without_metrics_for_every_candidate_is_left_out_under_either_rule(monkeypatch, rule):
    """An evaluation without metrics scores the rule's worst: under 'less' +inf, so a sample on which no candidate
    read a value made every mean +inf, and the step stopped as if no candidate had a finite score, though sample 0
    tells them apart; under 'greater' 0, which lowered every mean (0.2 and 0.15 reported for 0.4 and 0.3). Its
    per-sample scores are kept as None (a saved step tells them from a real 0)."""
    warned = []
    monkeypatch.setattr(search_step, 'warn', warned.append)
    values = {((0, ), 0): 0.4, ((0, ), 1): None, ((1, ), 0): 0.3, ((1, ), 1): None}
    saved = []
    step = _step(_evaluator(lambda path, s: values[(path, s)], rule=rule), rule, saved=saved)
    best_first = [[[0], pytest.approx(0.4)], [[1], pytest.approx(0.3)]]
    assert step['candidates'] == (best_first if rule == 'greater' else best_first[::-1])
    worst = '0' if rule == 'greater' else '+inf'
    assert any(f'1 of the 2 search samples [1] gave no metrics for any candidate that read them (each scored '
               f'coco/bbox_mAP_s={worst}, the worst under metric_rule={rule!r}): left out' in w for w in warned), warned
    assert saved[0]['samples'] == [[[0], [[0, 0.4, False], [1, None, False]]]]


def test_a_real_0_is_a_reading_and_no_metrics_saved_before_none_loads():
    """A sample every candidate read 0 on (an AP of 0) is a reading and stays in the means; a checkpoint written
    before None kept +inf under 'less' for an evaluation without metrics: it loads as None (left out alike)."""
    pool = _pool()
    pool.record((0, ), 0.2, samples=[(0, 0.4, False), (1, 0.0, False)])
    pool.record((1, ), 0.15, samples=[(0, 0.3, False), (1, 0.0, False)])
    assert pool.rank_on_common_samples().unread == set()
    assert pool.scores == {(0, ): 0.2, (1, ): 0.15}
    state = _pool('less').state_dict()
    state.update(scores=[[[0], math.inf], [[1], math.inf]],
                 samples=[[[c], [[0, v, False], [1, math.inf, False]]] for c, v in ((0, 0.4), (1, 0.3))])
    pool = _pool('less')
    pool.load_state_dict(state)
    assert pool.samples[(0, )] == [(0, 0.4, False), (1, None, False)]
    assert pool.rank_on_common_samples().unread == {1}
    assert pool.scores == {(0, ): 0.4, (1, ): 0.3}


def test_a_step_resumed_after_the_candidate_that_missed_a_sample_ranks_as_the_uninterrupted_one():
    values = {((0, ), 0): 0.4, ((0, ), 1): 0.1, ((1, ), 0): 0.5, ((1, ), 1): 0.2}

    def evaluator():
        return _evaluator(lambda path, s: values[(path, s)])

    saved = []
    whole = _step(evaluator(), missed=[1], saved=saved)
    assert whole['candidates'] == [[[1], pytest.approx(0.35)], [[0], pytest.approx(0.25)]]
    resumed = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    resumed.load_state_dict(saved[0])  # (0,) scored, with its one sample
    assert resumed.pending() == [(1, )]
    assert _step(evaluator(), pool=resumed) == whole


def test_candidates_with_equal_readings_tie_exactly_in_the_additive_fit():
    # lstsq left rounding noise in the last digits (10.07759999999999 against ...997): the pool's cut between such
    # candidates was decided by float noise, not candidate order, and no tie was warned of (found by a new user's
    # PC-NAS run under a latency limit, missed draws on 2 of 5 candidates)
    v = 10.0776
    cells = {(2, 1): [(0, v), (1, v), (2, v)], (2, 0): [(0, v), (1, v), (2, v)], (0, 0): [(0, v), (2, v)],
             (0, 2): [(0, v), (1, v), (2, v)], (2, 2): [(1, v), (2, v)]}
    assert set(beam._additive_fit(cells).values()) == {v}
    # different readings stay apart (two candidates equal, a third 0.05 better on sample 0)
    cells = {(0, ): [(0, 0.3), (1, 0.5)], (1, ): [(0, 0.3), (1, 0.5), (2, 0.9)], (2, ): [(0, 0.35), (2, 0.95)]}
    fitted = beam._additive_fit(cells)
    assert fitted[(0, )] == fitted[(1, )] < fitted[(2, )]
    assert fitted[(2, )] - fitted[(1, )] == pytest.approx(0.05)


def test_the_missed_draw_warning_names_the_first_candidate_and_how_many_more(monkeypatch):
    """(0,) and (1,) both missed sample 1, which (2,) read: the warning names the first and counts the other."""
    from types import SimpleNamespace

    from mmengine.config import Config

    from automl_mm.nas.samplers import UniformPathSampler

    class MissedBy(UniformPathSampler):  # sample 1's draw finds no completion for (0,) and (1,)
        calls: dict = {}

        def complete(self, prefix, generator, accept=None):
            s = self.calls[prefix] = self.calls.get(prefix, -1) + 1
            return None if s == 1 and prefix in {(0, ), (1, )} else prefix + (0, )

    warned = []
    monkeypatch.setattr(search_step, 'warn', warned.append)
    values = {(0, ): [0.4, 0.1], (1, ): [0.3, 0.1], (2, ): [0.5, 0.2]}
    evaluate = _evaluator(lambda path, s: values[path][s])
    space = LayerwiseSpace([[0, 1, 2]] * 2)
    sampler = MissedBy(space, max_tries=1, enumerate_limit=0)
    pool = PartialArchitecturePool(space, pool_size=2)
    pool.candidates()
    stand_in = SimpleNamespace(metric_key='coco/bbox_mAP_s', checkpoint_interval_s=math.inf, _last_save=0.0,
                               save_search_checkpoint=lambda tag: None, _iter=0,
                               runner=SimpleNamespace(cfg=Config(dict(model=dict(type='RetinaNet')))))
    loop.SearchLoopBase.run_step(stand_in, 'step', pool, lambda c: scoring.potential(
        c, sampler, evaluate, 2, np.random.default_rng(0), accept=lambda path: True), str, evaluate=evaluate)
    missed = [w for w in warned if 'were not scored for every candidate' in w]
    assert len(missed) == 1 and ('(samples [1]: e.g. sample 1 for (0,) and 1 more, whose draw found no completion '
                                 'within the cost limit') in missed[0], warned


def test_an_evaluation_without_metrics_beside_a_reading_scores_0_under_greater_when_rescored():
    """Under 'greater' (0,)'s evaluation without metrics on sample 1, which (1,) read, is its worst reading, 0, also
    where the step is scored again over the common samples (sample 2 a constant, left out): a +inf there ranked it
    first."""
    pool = _pool()
    pool.record((0, ), 0.0, samples=[(0, 0.5, False), (1, None, False), (2, -1.0, True)])
    pool.record((1, ), 0.0, samples=[(0, 0.3, False), (1, 0.3, False), (2, -1.0, True)])
    assert pool.rank_on_common_samples().common == {0, 1}
    assert pool.scores == {(0, ): pytest.approx(0.25), (1, ): pytest.approx(0.3)}
