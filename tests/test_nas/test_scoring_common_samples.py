"""A search step ranks its candidates on the samples every candidate was scored on with a value.

A candidate's potential averages the samples its completion draws found (a draw that finds no completion within
``max_tries`` is skipped, :func:`~automl_mm.nas.scoring.potential`). A candidate that missed a sample on which it
would have scored low averaged its better samples only, against the others' means over all of them: the missed-draw
bias. Every candidate's mean is now over the samples that every candidate scored with a value (not a COCO ``-1`` or a
NaN without ground truth); a step with no such sample is refused. Samples are keyed by their index (the completion
draw and the search batches it reads), also where the indices wrap around the search split.
"""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.nas import beam, loop, scoring
from automl_mm.nas.beam import PartialArchitecturePool
from automl_mm.nas.spaces import LayerwiseSpace
from tests.test_nas.test_scoring_constant_ranges import _evaluator, _step


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(scoring, 'print_log', lambda msg, **kw: None)


@pytest.mark.parametrize('rule, values, first, means', [
    # (0,)'s draw missed sample 1, where it would have read 0.1 ('greater'; 0.9 under 'less'): it averaged sample 0
    # alone (0.4), (1,) both (0.35), and (0,) ranked first; on sample 0, the one both read, (1,) is better
    ('greater', {((0, ), 0): 0.4, ((0, ), 1): 0.1, ((1, ), 0): 0.5, ((1, ), 1): 0.2}, [1], [0.5, 0.4]),
    ('less', {((0, ), 0): 0.5, ((0, ), 1): 0.9, ((1, ), 0): 0.4, ((1, ), 1): 0.7}, [1], [0.4, 0.5]),
])
def test_a_candidate_whose_draw_missed_a_sample_is_ranked_on_the_samples_every_candidate_read(
        rule, values, first, means, monkeypatch):
    warned = []
    monkeypatch.setattr(loop, 'warn', warned.append)
    evaluate = _evaluator(lambda path, s: values[(path, s)], rule=rule)
    step = _step(evaluate, rule, missed=[1])
    assert step['candidates'][0][0] == first
    assert [score for _, score in step['candidates']] == [pytest.approx(m) for m in means]
    said = ('1 of the 2 search samples were not scored for every candidate (samples [1]: e.g. sample 1 for (0,), '
            'whose draw found no completion')
    assert any(said in w and 'left out of every candidate\'s mean' in w for w in warned), warned


@pytest.mark.parametrize('rule', ['greater', 'less'])
def test_a_step_without_a_sample_every_candidate_read_with_a_value_is_refused(rule):
    # (0,)'s draw missed sample 0, the one sample with a value (sample 1 reads COCO's -1 for every candidate): no
    # sample to compare it with (1,) on; it used to score the rule's worst and (1,) was chosen
    evaluate = _evaluator(lambda path, s: 0.3 if s == 0 else -1.0, rule=rule)
    refused = (r"\[step\] no search sample was scored with a value for every candidate \(of samples \[0, 1\]\): "
               r"samples \[1\] read coco/bbox_mAP_s as a value every candidate reads there .*; samples \[0\] were not "
               r"scored for every candidate \(e\.g\. sample 0 for \(0,\), whose draw found no completion .* "
               r"train_cfg\.metric_key .*train_cfg\.batches_per_sample.*train_cfg\.completion_sampler\.max_tries")
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
    Keyed by index, (0,)'s missed sample 2 is left out of both means, which average samples 0 and 1 alike; keyed by
    the batches, (1,)'s two readings of batch 0 would have weighed it twice against (0,)'s one."""
    values = {((0, ), 0): 0.4, ((0, ), 1): 0.2, ((1, ), 0): 0.3, ((1, ), 1): 0.35}
    evaluate = _evaluator(lambda path, s: values[(path, s % 2)])
    step = _step(evaluate, missed=[2], num_samples=3)
    assert step['candidates'] == [[[1], pytest.approx(0.325)], [[0], pytest.approx(0.3)]]
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


def test_the_mean_over_the_common_samples_keeps_their_order():
    # np.mean over the kept samples in their order, as potential averages them: the same float as a step without
    # anything left out
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    pool.candidates()
    pool.record((0, ), 0.2, samples=[(0, 0.1, False), (1, 0.2, False), (2, 0.3, False)])
    pool.record((1, ), float(np.mean([0.7, 0.1])), samples=[(0, 0.7, False), (2, 0.1, False)])
    found = pool.rank_on_common_samples()
    assert (found.read, found.constant, found.common) == ({0, 1, 2}, set(), {0, 2})
    assert found.missed == {1: [(1, )]}
    assert pool.scores == {(0, ): float(np.mean([0.1, 0.3])), (1, ): float(np.mean([0.7, 0.1]))}


def test_a_sample_without_metrics_for_every_candidate_is_left_out_under_less(monkeypatch):
    """Under 'less' an evaluation without metrics scores +inf: a sample on which no candidate read a value made every
    mean +inf, and the step stopped as if no candidate had a finite score, though sample 0 tells them apart."""
    warned = []
    monkeypatch.setattr(loop, 'warn', warned.append)
    values = {((0, ), 0): 0.4, ((0, ), 1): None, ((1, ), 0): 0.3, ((1, ), 1): None}
    step = _step(_evaluator(lambda path, s: values[(path, s)], rule='less'), 'less')
    assert step['candidates'] == [[[1], pytest.approx(0.3)], [[0], pytest.approx(0.4)]]
    assert any('1 of the 2 search samples [1] gave no metrics for any candidate' in w for w in warned), warned
    # under 'greater' it reads 0 for both, as a real 0 would: kept, no rank moves
    step = _step(_evaluator(lambda path, s: values[(path, s)]))
    assert step['candidates'] == [[[0], pytest.approx(0.2)], [[1], pytest.approx(0.15)]]


def test_a_step_resumed_after_the_candidate_that_missed_a_sample_ranks_as_the_uninterrupted_one():
    values = {((0, ), 0): 0.4, ((0, ), 1): 0.1, ((1, ), 0): 0.5, ((1, ), 1): 0.2}

    def evaluator():
        return _evaluator(lambda path, s: values[(path, s)])

    saved = []
    whole = _step(evaluator(), missed=[1], saved=saved)
    assert whole['candidates'] == [[[1], pytest.approx(0.5)], [[0], pytest.approx(0.4)]]
    resumed = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=2)
    resumed.load_state_dict(saved[0])  # (0,) scored, with its one sample
    assert resumed.pending() == [(1, )]
    assert _step(evaluator(), pool=resumed) == whole
