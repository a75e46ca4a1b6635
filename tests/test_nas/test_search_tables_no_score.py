"""Every search table lists a candidate without a score the same way: ``no score (<why>)``.

A PC-NAS run's stage-1 table listed a candidate whose draws found no completion within the cost limit at ``-inf``,
while stage 2's table left such a candidate out ("the best 5 of 6": it ranked sixth) and the history recorded it as
``null``; the final pool listed a candidate kept under ``metric_rule='less'`` with +inf as ``None``.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from automl_mm.nas import loop, search_step
from automl_mm.nas.beam import PartialArchitecturePool
from automl_mm.nas.pc_nas import PCNASLoop
from automl_mm.nas.search_log import NO_COMPLETION, NO_METRICS, score_text
from automl_mm.nas.spaces import LayerwiseSpace


def _stage(pool, scores, logged):
    stand_in = SimpleNamespace(metric_key='accuracy/top1', checkpoint_interval_s=math.inf, _last_save=0.0,
                               save_search_checkpoint=lambda tag: None, _iter=0,
                               runner=SimpleNamespace(cfg=Config(dict(model=dict(type='ImageClassifier')))))
    pool.candidates()
    loop.SearchLoopBase.run_step(stand_in, f'stage{pool.num_decided + 1}', pool, lambda c: scores[c], str)
    return [line for msg in logged for line in msg.splitlines()]


def test_both_stages_list_a_candidate_without_a_completion_with_why(monkeypatch):
    logged = []
    monkeypatch.setattr(search_step, 'print_log', lambda msg, **kw: logged.append(msg))
    monkeypatch.setattr(search_step, 'warn', lambda msg: None)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2)
    # stage 1: (2,) found no completion within the cost limit (-inf), ranked third of 3
    lines = _stage(pool, {(0, ): 0.5, (1, ): 0.4, (2, ): -math.inf}, logged)
    assert lines[-1] == f'   3. accuracy/top1=no score ({NO_COMPLETION})  (2,)'
    assert pool.history[-1]['no_score'] == [[[2], NO_COMPLETION]]
    # stage 2: 6 candidates, (1, 2) without a completion ranks sixth: it was left out of "the best 5 of 6"
    logged.clear()
    scores = {(0, 0): 0.6, (0, 1): 0.55, (0, 2): 0.5, (1, 0): 0.45, (1, 1): 0.4, (1, 2): -math.inf}
    lines = _stage(pool, scores, logged)
    table = lines[lines.index(next(line for line in lines if 'the best' in line)):]
    assert table[0].startswith('[stage2] the best 5 of 5 scored and 1 without a score (accuracy/top1, higher is '
                               'better; the first 2 kept):')
    assert table[1:] == ['   1. accuracy/top1=0.6000  (0, 0)', '   2. accuracy/top1=0.5500  (0, 1)',
                         '   3. accuracy/top1=0.5000  (0, 2)', '   4. accuracy/top1=0.4500  (1, 0)',
                         '   5. accuracy/top1=0.4000  (1, 1)',
                         f'   6. accuracy/top1=no score ({NO_COMPLETION})  (1, 2)']


def test_the_header_counts_the_candidates_without_a_score_among_the_best_5(monkeypatch):
    """A 2-rank PC-NAS smoke's last stage: 3 of 6 candidates scored, 3 without a completion within the cost limit.
    The header said "the best 5 of 6 and 1 more without a score" over 3 scores and 3 "no score" rows."""
    logged = []
    monkeypatch.setattr(search_step, 'print_log', lambda msg, **kw: logged.append(msg))
    monkeypatch.setattr(search_step, 'warn', lambda msg: None)
    pool = PartialArchitecturePool(LayerwiseSpace([list(range(6))]), pool_size=2)
    lines = _stage(pool, {(c, ): 0.1 * (c + 1) if c < 3 else -math.inf for c in range(6)}, logged)
    assert lines[-7].startswith('[stage1] the best 3 of 3 scored and 3 without a score (accuracy/top1, '), lines
    assert [line.split('=')[1].startswith('no score') for line in lines[-6:]] == [False] * 3 + [True] * 3, lines


def test_the_final_pool_names_a_candidate_kept_without_a_score(monkeypatch):
    """Under 'less' a candidate whose evaluation gave no metrics (+inf) is kept where fewer than K have a finite
    score: the final pool's table showed its potential as None."""
    monkeypatch.setattr(search_step, 'print_log', lambda msg, **kw: None)
    monkeypatch.setattr(search_step, 'warn', lambda msg: None)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]]), pool_size=2, rule='less')
    _stage(pool, {(0, ): math.inf, (1, ): 0.3}, [])
    assert pool.history[-1]['candidates'] == [[[1], 0.3], [[0], None]]
    stand_in = SimpleNamespace(pool=pool, flops_table=None, latency_table=None,
                               supernet=SimpleNamespace(arch_names=lambda path: [f'op{i}' for i in path]))
    results = PCNASLoop._final_results(stand_in)
    assert results[1] == {'path': [0], 'arch': ['op0'], 'potential': None, 'no_score': NO_METRICS}
    assert score_text(results[1]['potential'], results[1]['no_score']) == f'no score ({NO_METRICS})'


@pytest.mark.parametrize('entry, rule, why', [
    ({'candidates': [[[0], None]]}, 'greater', NO_COMPLETION),  # a history written before 'no_score'
    ({'candidates': [[[0], 0.0]], 'empty': [[0]]}, 'greater', None),
])
def test_histories_without_reasons_are_still_shown(entry, rule, why):
    from automl_mm.nas.search_log import ALL_EMPTY, unscored_reasons

    reasons = unscored_reasons(entry, rule)
    if why is None:
        assert score_text(0.0, reasons[(0, )]) == f'0.0000 ({ALL_EMPTY})'
    else:
        assert score_text(None, reasons[(0, )]) == f'no score ({why})'


def test_the_cr_nas_stage_table_lists_allocations_without_a_score_past_its_best_10():
    from automl_mm.nas.cr_nas import stage_table_rows

    ranking = [{'stage_blocks': [i, 1], 'score': 0.5 - i / 100, 'gflops': 1.0} for i in range(11)]
    ranking.append({'stage_blocks': [9, 9], 'score': None, 'gflops': 1.0, 'no_score': NO_METRICS})
    rows = stage_table_rows(ranking)
    assert [row[0] for row in rows] == [*range(1, 11), 12]
    assert rows[-1] == [12, f'no score ({NO_METRICS})', '1.000', [9, 9]]


def test_a_candidate_without_metrics_past_the_best_5_is_listed_under_less(monkeypatch):
    """Under 'less' a +inf candidate (an evaluation gave no metrics) ranks after every finite one: seventh of 7, it
    is listed with why, as a -inf one is."""
    logged = []
    monkeypatch.setattr(search_step, 'print_log', lambda msg, **kw: logged.append(msg))
    monkeypatch.setattr(search_step, 'warn', lambda msg: None)
    pool = PartialArchitecturePool(LayerwiseSpace([list(range(7))] * 2), pool_size=2, rule='less')
    lines = _stage(pool, {(c, ): math.inf if c == 6 else 0.1 * (c + 1) for c in range(7)}, logged)
    assert '[stage1] the best 5 of 6 scored and 1 without a score' in lines[-7]
    assert lines[-1] == f'   7. accuracy/top1=no score ({NO_METRICS})  (6,)'


def test_a_candidate_without_metrics_in_any_evaluation_is_noted_in_the_history_and_the_final_pool():
    """Under 'greater' such a candidate scores 0, the worst: select records it in the step's 'empty', and the final
    pool, where it is kept, notes it."""
    from automl_mm.nas.search_log import ALL_EMPTY

    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]]), pool_size=2)
    pool.candidates()
    pool.record((0, ), 0.0, empty=True)
    pool.record((1, ), 0.3)
    pool.select()
    assert pool.history[-1]['empty'] == [[0]] and 'no_score' not in pool.history[-1]
    stand_in = SimpleNamespace(pool=pool, flops_table=None, latency_table=None,
                               supernet=SimpleNamespace(arch_names=lambda path: [f'op{i}' for i in path]))
    assert PCNASLoop._final_results(stand_in)[1] == {'path': [0], 'arch': ['op0'], 'potential': 0.0,
                                                      'note': ALL_EMPTY}


def test_the_cr_nas_result_names_why_an_allocation_has_no_score():
    """cr_nas_result.json's stage_ranking (what the stage table lists) carries each unscored allocation's reason
    from the step's history: 'no_score' for a missing score, 'note' for one scored 0 without metrics."""
    from automl_mm.nas.cr_nas import CRNASLoop
    from automl_mm.nas.search_log import ALL_EMPTY

    history = {'candidates': [[[1], 0.3], [[0], 0.0], [[2], None]], 'empty': [[0]],
               'no_score': [[[2], NO_COMPLETION]]}
    values = SimpleNamespace(values=lambda path: list(path))
    stand_in = SimpleNamespace(
        stage_pool=SimpleNamespace(history=[history], rule='greater'), stage_space=values, dilation_space=values,
        dilation_pool=SimpleNamespace(pool=[(1, )], history=[{'candidates': [[[1], 0.4]]}]),
        allocation_flops=lambda path: 1e9, reference_allocation=[1], reference_path=(1, ),
        flops_input_shape=(1, 3, 8, 8), metric_key='coco/bbox_mAP', metric_rule='greater')
    ranking = CRNASLoop._result(stand_in, (1, ))['stage_ranking']
    assert [{k: e[k] for k in e if k in ('no_score', 'note')} for e in ranking] == [
        {}, {'note': ALL_EMPTY}, {'no_score': NO_COMPLETION}]
