"""The top-K partial-architecture component on synthetic scorers: exact top-K, cost filtering, resume, ranks."""
import itertools
import json
import math

import numpy as np
import pytest

from automl_mm.nas import (
    LayerwiseSpace,
    PartialArchitecturePool,
    StageAllocationSpace,
    UniformPathSampler,
    path_rng,
    potential,
    score_step,
)
from automl_mm.nas.beam import seeded_subset

WEIGHTS = np.array([[0.3, 0.1, 0.7], [0.2, 0.9, 0.4], [0.5, 0.6, 0.1], [0.8, 0.0, 0.3]])


def additive_score(path):
    return float(sum(WEIGHTS[i, j] for i, j in enumerate(path)))


def brute_force_topk(prefixes, k, space):
    """Every extension of every prefix by one decision, scored by the best completion (additive: exact)."""
    cands = [p + (j,) for p in prefixes for j in range(space.num_options(len(p)))]
    rest = len(cands[0])
    best_tail = sum(WEIGHTS[i].max() for i in range(rest, space.num_decisions))
    return sorted(cands, key=lambda c: -(additive_score(c) + best_tail))[:k]


def test_pool_keeps_exact_top_k_each_step():
    space = LayerwiseSpace([[0, 1, 2]] * 4)
    pool = PartialArchitecturePool(space, pool_size=3)
    expected = [()]
    while not pool.done:
        expected = brute_force_topk(expected, 3, space)
        best_tail = sum(WEIGHTS[i].max() for i in range(pool.num_decided + 1, 4))
        assert len(pool.candidates()) == len(pool.pool) * 3
        score_step(pool, lambda c, t=best_tail: additive_score(c) + t)
        assert pool.select() == expected
    # the final pool holds the 3 best full architectures of the whole space
    full = sorted(itertools.product(range(3), repeat=4), key=lambda p: -additive_score(p))[:3]
    assert pool.pool == full
    assert [h['decided'] for h in pool.history] == [1, 2, 3, 4]


def test_ties_break_by_candidate_order_and_nonfinite_dropped():
    space = LayerwiseSpace([[0, 1, 2, 3]])
    pool = PartialArchitecturePool(space, pool_size=2)
    for c, s in zip(pool.candidates(), [0.5, -math.inf, 0.5, 0.1]):
        pool.record(c, s)
    assert pool.select() == [(0,), (2,)]
    pool = PartialArchitecturePool(space, pool_size=2)
    for c in pool.candidates():
        pool.record(c, -math.inf)
    with pytest.raises(RuntimeError, match='finite score'):
        pool.select()


def test_nan_and_inf_scores_are_refused_and_no_admitted_completion_is_written_as_null():
    """A NaN score (e.g. a mean over samples one of which was NaN) was dropped from the pool like -inf, without a
    word; +inf ranked last although "best first". -inf (no admitted completion) stays, as JSON's null."""
    space = LayerwiseSpace([[0, 1, 2]])
    pool = PartialArchitecturePool(space, pool_size=2)
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match=r'candidate \(0,\) scored (nan|inf).*finite'):
            pool.record((0,), bad)
    assert pool.scores == {}
    for c, s in zip(pool.candidates(), [-math.inf, 0.5, 0.25]):
        pool.record(c, s)
    assert pool.select() == [(1,), (2,)]
    assert pool.history[-1]['candidates'] == [[[1], 0.5], [[2], 0.25], [[0], None]]
    json.dumps(pool.history, allow_nan=False)  # strict JSON (json.dump wrote -Infinity)


def test_count_arguments_of_the_pool_are_checked():
    """depth=0 returned the pool itself (a loop "while not pool.done" never ended); seeded_subset(k=2.7) kept 2."""
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=1)
    for depth in (0, -1, 1.0):
        with pytest.raises(ValueError, match='depth must be'):
            pool.candidates(depth=depth)
    for k in (0, 2.7):
        with pytest.raises(ValueError, match='max_candidates must be'):
            seeded_subset(list(range(5)), k, 0)
    assert seeded_subset(list(range(5)), 2, 0) == seeded_subset(list(range(5)), 2, 0)


def test_select_refuses_unscored_candidates():
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]] * 2), pool_size=1)
    pool.record((0,), 1.0)
    with pytest.raises(RuntimeError, match='not scored'):
        pool.select()


def test_resume_mid_step_scores_only_the_rest():
    space = LayerwiseSpace([[0, 1, 2]] * 3)
    calls = []

    def scorer(c):
        calls.append(c)
        return additive_score(c)

    reference = PartialArchitecturePool(space, 2)
    while not reference.done:
        score_step(reference, additive_score)
        reference.select()

    pool = PartialArchitecturePool(space, 2)
    score_step(pool, additive_score)
    pool.select()
    # interrupt step 2 after two candidates, through the state dict (what a checkpoint holds)
    for c in pool.candidates()[:2]:
        pool.record(c, additive_score(c))
    state = pool.state_dict()
    resumed = PartialArchitecturePool(space, 2)
    resumed.load_state_dict(state)
    score_step(resumed, scorer)
    assert len(calls) == len(resumed.candidates()) - 2
    resumed.select()
    while not resumed.done:
        score_step(resumed, additive_score)
        resumed.select()
    assert resumed.pool == reference.pool
    assert resumed.history == reference.history
    with pytest.raises(ValueError, match='pool_size'):
        PartialArchitecturePool(space, 3).load_state_dict(state)


def test_exhaustive_step_over_a_constrained_space_with_a_cost_filter():
    space = StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8)
    pool = PartialArchitecturePool(space, pool_size=3)
    cands = pool.candidates(depth=space.num_decisions)
    assert len(cands) == space.size() == 19
    assert all(sum(space.values(c)) == 8 for c in cands)
    kept = pool.filter_candidates(lambda c: space.values(c)[3] <= 2)  # e.g. a FLOPs budget
    assert all(space.values(c)[3] <= 2 for c in kept) and len(kept) < 19
    score_step(pool, lambda c: float(np.dot(space.values(c), [1, 2, 3, 4])))
    best = pool.select()
    assert space.values(best[0]) == [1, 2, 3, 2]
    assert pool.done


def test_sampled_candidates_are_seeded_and_ordered():
    space = StageAllocationSpace([list(range(1, 11))] * 4, total_blocks=16)
    a = PartialArchitecturePool(space, 3).candidates(depth=4, max_candidates=20, seed=5)
    b = PartialArchitecturePool(space, 3).candidates(depth=4, max_candidates=20, seed=5)
    c = PartialArchitecturePool(space, 3).candidates(depth=4, max_candidates=20, seed=6)
    assert a == b != c and len(a) == 20 and a == sorted(a)


def test_potential_skips_completions_over_the_limit():
    space = LayerwiseSpace([[0, 1, 2]] * 3)
    sampler = UniformPathSampler(space)
    latency = lambda p: sum(p)  # noqa: E731  (op index = cost)
    seen = []

    def evaluate(path, sample):
        seen.append(path)
        return float(path[0])

    value = potential((2,), sampler, evaluate, 5, path_rng(0, 1), accept=lambda p: latency(p) <= 3)
    assert value == 2.0 and len(seen) == 5
    assert all(p[0] == 2 and latency(p) <= 3 for p in seen)
    assert potential((2, 2), sampler, evaluate, 3, path_rng(0, 2), accept=lambda p: latency(p) <= 3) == -math.inf
    for bad in (0, 2.5):  # 0 samples read as "no admitted completion" (-inf)
        with pytest.raises(ValueError, match='num_samples must be'):
            potential((2,), sampler, evaluate, bad, path_rng(0, 1))


def test_resume_over_other_options_is_refused():
    """Paths are option indices: a config whose ops order changed between the interruption and the resume read the
    pool's `k3e3 k5e6` as `k5e6 k3e3` (the weights, keyed by op name, loaded without complaint)."""
    pool = PartialArchitecturePool(LayerwiseSpace([['k3e3', 'k5e6', 'skip']] * 2), 2)
    score_step(pool, lambda c: float(sum(c)))
    pool.select()
    state = pool.state_dict()
    assert state['options'] == [['k3e3', 'k5e6', 'skip']] * 2
    reordered = PartialArchitecturePool(LayerwiseSpace([['k5e6', 'k3e3', 'skip']] * 2), 2)
    with pytest.raises(ValueError, match=r"other options than the config's LayerwiseSpace \(decision 0: checkpoint "
                                         r"\['k3e3', 'k5e6', 'skip'\], config \['k5e6', 'k3e3', 'skip'\]\)"):
        reordered.load_state_dict(state)
    grown = PartialArchitecturePool(LayerwiseSpace([['k3e3', 'k5e6', 'skip']] * 3), 2)
    with pytest.raises(ValueError, match=r"decision 2: checkpoint \(none\)"):
        grown.load_state_dict(state)
    same = PartialArchitecturePool(LayerwiseSpace([('k3e3', 'k5e6', 'skip')] * 2), 2)  # tuples: the same options
    same.load_state_dict(state)
    assert same.pool == pool.pool
    old = {k: v for k, v in state.items() if k != 'options'}  # written before the options were saved
    reordered.load_state_dict(old)


def test_a_space_bound_after_the_resume_is_checked_at_its_first_candidates():
    """CR-NAS's dilation space gets its options when the spatial search binds it, after the checkpoint loaded."""
    pool = PartialArchitecturePool(LayerwiseSpace([[1, 2, 3]] * 2), 2)
    state = pool.state_dict()
    later = LayerwiseSpace([[1, 2, 3]] * 2)
    options, later.options = later.options, []  # not bound yet
    resumed = PartialArchitecturePool(later, 2)
    resumed.load_state_dict(state)
    later.options = [[1, 3, 2]] * 2  # bound, other options
    with pytest.raises(ValueError, match=r'decision 0: checkpoint \[1, 2, 3\], config \[1, 3, 2\]'):
        resumed.candidates()
    unbound_when_saved = PartialArchitecturePool(LayerwiseSpace([[1, 2, 3]] * 2), 2)
    unbound_when_saved.load_state_dict(dict(state, options=[]))
    assert unbound_when_saved.candidates() == [(0,), (1,), (2,)]
    assert options == [[1, 2, 3]] * 2


def test_the_tie_break_warning_counts_only_candidates_with_a_finite_score(monkeypatch):
    """One candidate at 0.8 and two with no admitted completion (-inf) is a real choice; the step warned "all 3
    candidates scored 0.8000: the choice is a tie-break". Two equal finite scores are a tie-break."""
    from types import SimpleNamespace

    from automl_mm.nas import loop as loop_module
    from automl_mm.nas import search_step

    warnings = []
    monkeypatch.setattr(search_step, 'warn', warnings.append)
    stand_in = SimpleNamespace(metric_key='accuracy/top1', checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0)
    for scores, expected in (([0.8, -math.inf, -math.inf], []), ([0.8, 0.8, -math.inf], ['all 2 candidates'])):
        pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1)
        warnings.clear()
        loop_module.SearchLoopBase.run_step(stand_in, 'step', pool, lambda c, s=scores: s[c[0]], str)
        assert pool.pool == [(0,)]
        ties = [w for w in warnings if 'tie-break' in w]
        assert len(ties) == len(expected) and all(e in w for e, w in zip(expected, ties)), ties
    # the warning names the keys of the supernet's training length the loop passes (it said "train longer")
    warnings.clear()
    loop_module.SearchLoopBase.run_step(stand_in, 'step', PartialArchitecturePool(LayerwiseSpace([[0, 1]]), 1),
                                        lambda c: 0.5, str, trained_by='train_cfg.stage_iters=10')
    assert any(w.endswith('train the supernet longer (train_cfg.stage_iters=10)') for w in warnings), warnings


def test_scoring_settings_may_change_between_steps_not_inside_one():
    """The resume check of the search loops: a partly scored step refuses other settings (named), a step with no
    finished candidate takes the new ones, and a setting an older checkpoint did not save is not compared."""
    from types import SimpleNamespace

    from automl_mm.nas.loop import SearchLoopBase

    def loop(scores):
        pool = SimpleNamespace(scores=scores)
        return SimpleNamespace(search_pools=lambda: [pool], runner=SimpleNamespace(cfg={}),
                               scoring_settings=lambda: {'train_cfg.num_samples': 4,
                                                         'train_cfg.batches_per_sample': None,
                                                         'train_cfg.flops_limit': 2e6})

    saved = {'train_cfg.num_samples': 2, 'train_cfg.batches_per_sample': None}
    with pytest.raises(ValueError, match=r'train_cfg.num_samples=2, this run sets train_cfg.num_samples=4'):
        SearchLoopBase.check_resumed_scoring(loop({(0,): 0.5}), saved)
    SearchLoopBase.check_resumed_scoring(loop({}), saved)  # between steps
    # unchanged; no limit saved
    SearchLoopBase.check_resumed_scoring(loop({(0,): 0.5}), {**saved, 'train_cfg.num_samples': 4})


def test_scoring_settings_compare_the_files_their_paths_name(tmp_path, monkeypatch):
    """The data paths of a scoring step's settings were compared as written: the same annotation file spelled
    ``data/x``, ``./data/x/`` or absolute refused a resume, and ``data/x`` under another working directory (another
    file) was taken for the same. They are compared as the files they name now."""
    import os
    from types import SimpleNamespace

    from automl_mm.engine.evaluate import HeldOutEvaluator
    from automl_mm.nas.loop import SearchLoopBase
    from automl_mm.utils.checks import plain_config

    def data_tree(where, text):
        os.makedirs(where / 'data' / 'x' / 'annotations')
        (where / 'data' / 'x' / 'annotations' / 'a.json').write_text(text)
        return where

    first, other = data_tree(tmp_path / 'first', '{"images": [1]}'), data_tree(tmp_path / 'other', '{"images": [2]}')

    def loop(root, ann='annotations/a.json', metric_ann=None):
        """A search loop whose split (train_cfg.search_dataloader / search_evaluator) reads ``root``; its step is
        partly scored."""
        loader = dict(batch_size=2, num_workers=0, dataset=dict(type='CocoDataset', data_root=root, ann_file=ann,
                                                                data_prefix=dict(img='images/')))
        metric = dict(type='CocoMetric', ann_file=metric_ann or os.path.join(root, ann))
        held = HeldOutEvaluator('search', 'coco/bbox_mAP', 'CRNASLoop', loader, metric, 'train_cfg.search_dataloader',
                                'train_cfg.search_evaluator')
        partly_scored = SimpleNamespace(scores={(0,): 0.5})
        stand_in = SimpleNamespace(runner=SimpleNamespace(cfg={}), held_out=held, metric_key='coco/bbox_mAP',
                                   metric_rule='greater', bn_recalibration_batches=0,
                                   search_pools=lambda: [partly_scored])
        stand_in.scoring_settings = lambda: SearchLoopBase.scoring_settings(stand_in)
        return stand_in

    def check(saved, root, **kwargs):
        SearchLoopBase.check_resumed_scoring(loop(root, **kwargs), saved)

    monkeypatch.chdir(first)
    saved = loop('data/x/').scoring_settings()  # what the checkpoint holds
    check(saved, './data/x')  # the same files, spelled otherwise: resumed
    check(saved, str(first / 'data' / 'x'))
    os.symlink(first / 'data', tmp_path / 'link')
    check(saved, str(tmp_path / 'link' / 'x'), ann=str(first / 'data/x/annotations/a.json'))
    os.link(first / 'data/x/annotations/a.json', tmp_path / 'hard.json')  # one file under two names
    check(saved, 'data/x', metric_ann=str(tmp_path / 'hard.json'))
    # an older checkpoint saved the paths as written: they are read from this working directory
    written = {'train_cfg.search_dataloader': plain_config(dict(batch_size=2, dataset=dict(
        type='CocoDataset', data_root='data/x/', ann_file='annotations/a.json', data_prefix=dict(img='images/')))),
        'train_cfg.search_evaluator': dict(type='CocoMetric', ann_file='data/x/annotations/a.json')}
    check(written, './data/x')
    remote = loop('s3://bucket/x/').scoring_settings()  # remote data: relative paths are the bucket's, as written
    assert remote['train_cfg.search_dataloader']['dataset']['ann_file'] == 's3://bucket/x/annotations/a.json'
    monkeypatch.chdir(other)  # the same relative paths name other files here
    check(remote, 's3://bucket/x/')
    with pytest.raises(ValueError, match=r'middle of a scoring step scored with train_cfg.search_dataloader=.*'
                                         rf"'{first}/data/x.*this run sets train_cfg.search_dataloader=.*"
                                         rf"'{other}/data/x"):
        check(saved, 'data/x/')
    with pytest.raises(ValueError, match=r'this run sets train_cfg.search_evaluator=.*other/data/x/annotations'):
        check(saved, str(first / 'data/x'), metric_ann='data/x/annotations/a.json')


def test_the_step_log_says_how_many_it_lists_and_how_many_it_kept(monkeypatch):
    """With pool_size 1 the log read "top 1 of 3" over three listed candidates, as if all three were kept."""
    from types import SimpleNamespace

    from automl_mm.nas import loop as loop_module
    from automl_mm.nas import search_step

    logged = []
    monkeypatch.setattr(search_step, 'print_log', lambda message, **kw: logged.append(message))
    monkeypatch.setattr(search_step, 'warn', lambda message: None)
    stand_in = SimpleNamespace(metric_key='accuracy/top1', checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1)
    loop_module.SearchLoopBase.run_step(stand_in, 'step', pool, lambda c: [0.5, 0.9, 0.7][c[0]], str)
    table = next(m for m in logged if m.startswith('[step] the best'))
    assert table.splitlines()[0] == '[step] the best 3 of 3 (accuracy/top1, higher is better; the first 1 kept):'
    assert [line.split()[0] for line in table.splitlines()[1:]] == ['1.', '2.', '3.']


def test_a_resume_mid_step_keeps_which_candidates_gave_no_metrics():
    """Under rule 'less' a candidate whose every evaluation gave no metrics (``empty``) ranks after one with only
    some (both +inf), and a step whose every candidate is empty is refused by the loop: both read ``pool.empty``,
    which the checkpoint must carry (planted: ``empty`` not restored by ``load_state_dict``, which every other test
    passed)."""
    space = LayerwiseSpace([[0, 1, 2]] * 2)
    pool = PartialArchitecturePool(space, 2, rule='less')
    first, second, third = pool.candidates()
    pool.record(first, math.inf, empty=True)  # every evaluation empty
    pool.record(second, math.inf)  # some evaluation empty
    resumed = PartialArchitecturePool(space, 2, rule='less')
    resumed.load_state_dict(pool.state_dict())
    assert resumed.empty == {first}
    resumed.record(third, 0.5)
    assert [c for c, _ in resumed.ranking()] == [third, second, first]


def test_tied_potentials_keep_the_better_prefix_first_whatever_order_they_arrive_in():
    """README: ties keep candidate order, the pool's entries best first, each extended by its layer's options in
    order; scores arrive in another order on several ranks or after a resume, which must not matter."""
    space = LayerwiseSpace([[0, 1, 2], [0, 1, 2]])
    pool = PartialArchitecturePool(space, pool_size=2)
    for c, s in zip(pool.candidates(), [0.5, 0.1, 0.9]):
        pool.record(c, s)
    assert pool.select() == [(2,), (0,)]
    assert pool.candidates() == [(2, 0), (2, 1), (2, 2), (0, 0), (0, 1), (0, 2)]
    for c in reversed(pool.candidates()):  # every candidate ties, recorded last first
        pool.record(c, 0.7)
    assert pool.select() == [(2, 0), (2, 1)]


def test_a_tie_across_the_pools_cut_is_recorded_and_warned_naming_who_candidate_order_kept(monkeypatch):
    """Ties keep candidate order (documented, deterministic on every rank and after a resume; the first-listed
    operator / dilation wins). A tie that decides which candidates stay, or which is the search's choice at the last
    step, was silent unless every candidate tied (CR-NAS's 2-image spatial scoring: dilations 1 and 2 both at AP
    0.5, dilation 1 chosen without a word). Now the pool's history records it and the step warns, naming both
    sides; a tie inside the kept set of an unfinished step decides nothing and is not reported."""
    from types import SimpleNamespace

    from automl_mm.nas import loop as loop_module
    from automl_mm.nas import search_step

    warnings = []
    monkeypatch.setattr(search_step, 'warn', warnings.append)
    stand_in = SimpleNamespace(metric_key='bbox_mAP', checkpoint_interval_s=1e9, _last_save=math.inf,
                               save_search_checkpoint=lambda tag: None, _iter=0)

    def step(space, pool_size, scores):
        pool = PartialArchitecturePool(space, pool_size=pool_size)
        warnings.clear()
        loop_module.SearchLoopBase.run_step(stand_in, 'spatial_block1', pool,
                                            lambda c: scores[c], lambda c: f'dilations {list(c)}')
        return pool

    # the last decision, K=1: (0,) and (1,) tie at 0.5 for the choice; candidate order keeps (0,)
    pool = step(LayerwiseSpace([[1, 2, 3]]), 1, {(0,): 0.5, (1,): 0.5, (2,): 0.25})
    assert pool.pool == [(0,)]
    assert pool.history[-1]['ties'] == [dict(cut=1, score=0.5, kept=[[0]], dropped=[[1]])]
    [tie] = [w for w in warnings if 'tied' in w]
    assert tie.startswith('[spatial_block1] 2 candidates tied at bbox_mAP=0.5000 for the search\'s choice: '
                          'candidate order kept dilations [0], not dilations [1]'), tie
    assert 'first in the options' in tie and 'more search data' in tie

    # an unfinished step, K=2: the tie inside the kept pair decides nothing; a tie across the cut does
    two = LayerwiseSpace([[1, 2, 3], [1, 2]])
    assert 'ties' not in step(two, 2, {(0,): 0.5, (1,): 0.5, (2,): 0.25}).history[-1] and not warnings
    pool = step(two, 2, {(0,): 0.75, (1,): 0.5, (2,): 0.5})
    assert pool.pool == [(0,), (1,)] and pool.history[-1]['ties'] == [dict(cut=2, score=0.5, kept=[[1]],
                                                                           dropped=[[2]])]
    [tie] = [w for w in warnings if 'tied' in w]
    assert "for the pool's 2 places" in tie and 'kept dilations [1], not dilations [2]' in tie, tie

    # the last step with K=2: both cuts decide (the final pool, and its first entry, the choice)
    pool = step(LayerwiseSpace([[1, 2, 3, 4]]), 2, {(0,): 0.5, (1,): 0.5, (2,): 0.5, (3,): 0.25})
    assert pool.history[-1]['ties'] == [dict(cut=2, score=0.5, kept=[[0], [1]], dropped=[[2]]),
                                        dict(cut=1, score=0.5, kept=[[0]], dropped=[[1], [2]])]
    # every finite score equal: the existing all-tie warning says it, once
    step(LayerwiseSpace([[1, 2]]), 1, {(0,): 0.5, (1,): 0.5})
    assert len([w for w in warnings if 'tie' in w]) == 1, warnings


def test_a_cut_the_no_metrics_rule_decided_is_not_recorded_as_a_tie_candidate_order_broke():
    """Under rule 'less' a candidate whose every evaluation gave no metrics (empty) ranks after one with some
    metrics-less evaluation, both +inf: the ranking's own rule, not candidate order, keeps the latter. The tie record
    said candidate order kept the later-listed (2,) over (1,) ('ties go to ... the option listed first'), which it
    did not; two +inf candidates of one kind do tie, and are recorded."""
    pool = PartialArchitecturePool(LayerwiseSpace([[1, 2, 3]]), 2, rule='less')
    pool.candidates()
    pool.record((0,), 0.3)
    pool.record((1,), math.inf, empty=True)
    pool.record((2,), math.inf)
    assert pool.ranking() == [((0,), 0.3), ((2,), math.inf), ((1,), math.inf)]
    pool.select()
    assert 'ties' not in pool.history[-1], pool.history[-1]['ties']

    pool = PartialArchitecturePool(LayerwiseSpace([[1, 2, 3]]), 2, rule='less')
    pool.candidates()
    for candidate, score in [((0,), 0.3), ((1,), math.inf), ((2,), math.inf)]:
        pool.record(candidate, score)
    pool.select()
    assert pool.history[-1]['ties'] == [dict(cut=2, score=None, kept=[[1]], dropped=[[2]])]
