"""Ranking against a stand-alone ground truth (automl_mm/nas/ranking.py): hand-computed values and the table loader."""
from __future__ import annotations

import json
import math

import pytest

from automl_mm.models.backbones.mbconv_supernet import SPACES, MBConvSupernet
from automl_mm.nas import (
    GroundTruthTable,
    enumerate_archs,
    kendall_tau,
    load_ground_truth,
    precision_at_k,
    seed_agreement,
    standalone_rank,
)
from automl_mm.nas.ranking import GROUND_TRUTH_FORMAT, arch_key, rank_all

ARCHS = [(f'op{i}', ) for i in range(10)]
TRUTH = {a: float(i) for i, a in enumerate(ARCHS)}  # op9 best, op0 worst


def test_perfect_estimate_has_tau_one_and_full_precision():
    estimates = {a: 2 * v + 1 for a, v in TRUTH.items()}  # a monotone transform: same order
    assert kendall_tau(estimates, TRUTH) == pytest.approx(1.0)
    for k in range(1, 11):
        assert precision_at_k(estimates, TRUTH, k) == 1.0


def test_reversed_estimate_has_tau_minus_one_and_no_top_hits():
    estimates = {a: -v for a, v in TRUTH.items()}
    assert kendall_tau(estimates, TRUTH) == pytest.approx(-1.0)
    assert precision_at_k(estimates, TRUTH, 5) == 0.0
    assert precision_at_k(estimates, TRUTH, 10) == 1.0  # the whole space


def test_constructed_precision_at_5_and_tau():
    # estimated top 5 = op9, op8, op7 (true top 5) and op1, op0 (true bottom): 3 hits of 5
    estimates = dict(TRUTH)
    estimates[ARCHS[1]], estimates[ARCHS[0]] = 20.0, 19.0
    assert precision_at_k(estimates, TRUTH, 5) == pytest.approx(3 / 5)
    # four architectures, one adjacent swap: 5 concordant, 1 discordant pair of 6 -> (5 - 1) / 6
    truth4 = {'a': 1.0, 'b': 2.0, 'c': 3.0, 'd': 4.0}
    est4 = {'a': 1.0, 'b': 3.0, 'c': 2.0, 'd': 4.0}
    assert kendall_tau(est4, truth4) == pytest.approx(2 / 3)


def test_ties_in_the_estimates_give_the_expected_precision():
    truth = {'a': 4.0, 'b': 3.0, 'c': 2.0, 'd': 1.0}  # true top 2: a, b
    estimates = {'a': 3.0, 'b': 1.0, 'c': 1.0, 'd': 0.0}  # a certain; one of the tied b, c: b half the time
    assert precision_at_k(estimates, truth, 2) == pytest.approx((1 + 0.5) / 2)
    # independent of the mappings' order
    assert precision_at_k(dict(reversed(estimates.items())), truth, 2) == pytest.approx(0.75)


def test_ties_in_the_truth_count_as_top_k():
    truth = {'a': 3.0, 'b': 2.0, 'c': 2.0, 'd': 1.0}  # b and c share rank 2
    assert precision_at_k({'a': 3.0, 'b': 1.0, 'c': 2.0, 'd': 0.0}, truth, 2) == 1.0
    assert [standalone_rank(x, truth) for x in 'abcd'] == [1, 2, 2, 4]
    assert rank_all(truth) == {('a', ): 1, ('b', ): 2, ('c', ): 2, ('d', ): 4}


def test_standalone_rank_is_one_for_the_best():
    assert standalone_rank(ARCHS[9], TRUTH) == 1
    assert standalone_rank(ARCHS[0], TRUTH) == 10
    assert standalone_rank('op7', TRUTH) == 3  # a space-separated string names the same architecture


def test_kendall_tau_b_corrects_for_ties():
    # scipy's tau-b: (C - D) / sqrt((n0 - n1)(n0 - n2)); here C = 5, D = 0, n0 = 6, n1 = 1 (tie in estimates)
    truth = {'a': 1.0, 'b': 2.0, 'c': 3.0, 'd': 4.0}
    est = {'a': 1.0, 'b': 1.0, 'c': 3.0, 'd': 4.0}
    assert kendall_tau(est, truth) == pytest.approx(5 / math.sqrt(5 * 6))
    assert math.isnan(kendall_tau({k: 0.0 for k in truth}, truth))  # constant estimates: undefined


def test_helpers_compare_over_the_truth_and_refuse_missing_estimates():
    estimates = dict(TRUTH, extra=100.0)  # not in the truth: ignored
    assert precision_at_k(estimates, TRUTH, 1) == 1.0
    with pytest.raises(ValueError, match='estimates lack 1 of the 10'):
        kendall_tau({a: v for a, v in TRUTH.items() if a != ARCHS[3]}, TRUTH)
    with pytest.raises(ValueError, match=r'k must be an integer in \[1, 10\]'):
        precision_at_k(TRUTH, TRUTH, 11)
    with pytest.raises(ValueError, match='not among the 10 architectures'):
        standalone_rank('op42', TRUTH)
    with pytest.raises(TypeError, match='space.values'):
        arch_key((0, 1, 2, 0))


def test_estimates_in_a_lower_is_better_metric_are_read_as_such():
    """A search scored by a loss: its lowest estimates are its picks. Read as higher-is-better, the perfect loss
    estimate below had precision@3 0 (the estimated *worst* three) and tau -1; with rule='less' it is 1 and 1. A
    true score that is a loss is read with truth_rule='less' (and standalone_rank / rank_all with rule='less')."""
    loss = {a: 10.0 - v for a, v in TRUTH.items()}  # op9, the best, has the lowest loss
    assert precision_at_k(loss, TRUTH, 3, rule='less') == 1.0
    assert kendall_tau(loss, TRUTH, rule='less') == pytest.approx(1.0)
    assert precision_at_k(loss, TRUTH, 3) == 0.0  # the default reads higher as better
    assert kendall_tau(TRUTH, loss, truth_rule='less') == pytest.approx(1.0)
    assert precision_at_k(loss, loss, 3, rule='less', truth_rule='less') == 1.0
    assert standalone_rank(ARCHS[9], loss, rule='less') == 1 and standalone_rank(ARCHS[9], loss) == 10
    assert rank_all({'a': 0.1, 'b': 0.3, 'c': 0.1}, rule='less') == {('a', ): 1, ('b', ): 3, ('c', ): 1}
    with pytest.raises(ValueError, match=r"truth_rule must be 'greater' .* or 'less' .*got 'max'"):
        kendall_tau(loss, TRUTH, truth_rule='max')
    with pytest.raises(ValueError, match=r"rule must be 'greater'.*got 'min'"):
        standalone_rank(ARCHS[0], TRUTH, rule='min')


# --- ground-truth tables --------------------------------------------------------------------------------------
def fmnist_table(seeds=(0, 1), space='fmnist', drop=0) -> dict:
    """A table in the generator's format for every architecture of SPACES[space], with made-up scores: each k5e6
    adds 2 points, each k3e3 1, seed 1 a little noise; FLOPs = 3 per k5e6 + 1 per k3e3."""
    archs = enumerate_archs(MBConvSupernet(space=space).layer_choices)[drop:]
    rows = []
    for i, arch in enumerate(archs):
        base = 80.0 + 2 * arch.count('k5e6') + arch.count('k3e3')
        rows.append({'arch': list(arch), 'flops': 3.0 * arch.count('k5e6') + arch.count('k3e3'), 'params': 100 + i,
                     'reward_top1': [base + 0.01 * s * (i % 3) for s in seeds],
                     'test_top1': [base - 1 for _ in seeds]})
    return {'format': GROUND_TRUTH_FORMAT, 'space': space, 'space_definition': json.loads(json.dumps(SPACES[space])),
            'settings': {'seeds': list(seeds), 'iters': 300}, 'archs': rows, 'seed_agreement': {}}


def _write(tmp_path, data, name='gt.json') -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_table_loads_and_checks_its_space(tmp_path):
    path = _write(tmp_path, fmnist_table())
    table = load_ground_truth(path, space='fmnist')
    assert len(table) == 81 and table.seeds == [0, 1]
    assert table.archs[0] == ('k3e3', ) * 4 and table.archs[-1] == ('skip', ) * 4
    best = max(table.scores().items(), key=lambda kv: kv[1])[0]
    assert best == ('k5e6', ) * 4 and standalone_rank(best, table) == 1
    assert table.scores('test_top1', seed=1)[best] == 87.0
    # restricting to a FLOPs limit (made-up FLOPs 3 per k5e6 + 1 per k3e3): ranks among those within it
    within = table.within_flops(6.0)
    assert within.archs == [a for a in table.archs if 3 * a.count('k5e6') + a.count('k3e3') <= 6]
    assert 0 < len(within) < len(table)
    worst = ('skip', ) * 4
    assert standalone_rank(worst, table) == 81 and standalone_rank(worst, within) == len(within)
    with pytest.raises(ValueError, match='not among'):
        standalone_rank(best, within)
    # the supernet itself can be the space
    load_ground_truth(path, space=MBConvSupernet(space='fmnist'))


def test_table_seed_agreement():
    table = GroundTruthTable(fmnist_table())
    agreement = seed_agreement(table)
    assert agreement['pairs'][0][:2] == [0, 1]
    assert 0.9 < agreement['mean'] <= 1.0  # the made-up noise barely reorders
    assert seed_agreement(GroundTruthTable(fmnist_table(seeds=(0, ))))['mean'] is None


def test_missing_table_is_named(tmp_path):
    path = str(tmp_path / 'nope.json')
    with pytest.raises(FileNotFoundError, match='nope.json.*nas_ground_truth_fmnist.py'):
        load_ground_truth(path)


def test_malformed_tables_are_refused_with_the_file_named(tmp_path):
    bad_json = tmp_path / 'broken.json'
    bad_json.write_text('{"format": ')
    with pytest.raises(ValueError, match='broken.json is not a readable JSON'):
        load_ground_truth(str(bad_json))
    other = _write(tmp_path, {'format': 'something else'}, 'other.json')
    with pytest.raises(ValueError, match='other.json is not a ground-truth table'):
        load_ground_truth(other)
    data = fmnist_table()
    data['archs'][3]['reward_top1'] = [85.0]  # one value for two seeds
    with pytest.raises(ValueError, match=r'short.json: archs\[3\] is malformed.*2 seeds'):
        load_ground_truth(_write(tmp_path, data, 'short.json'))
    data = fmnist_table()
    data['archs'][1] = dict(data['archs'][0])
    with pytest.raises(ValueError, match='appears twice'):
        load_ground_truth(_write(tmp_path, data, 'dup.json'))


def test_table_of_another_space_is_refused(tmp_path):
    digits = _write(tmp_path, fmnist_table(space='digits'), 'digits.json')
    with pytest.raises(ValueError, match="space 'digits', not 'fmnist'"):
        load_ground_truth(digits, space='fmnist')
    changed = fmnist_table()
    changed['space_definition']['stem_channels'] = 24  # made for another width: stale
    with pytest.raises(ValueError, match=r"SPACES\['fmnist'\] is now"):
        load_ground_truth(_write(tmp_path, changed, 'changed.json'), space='fmnist')
    with pytest.raises(ValueError, match='2 missing'):
        load_ground_truth(_write(tmp_path, fmnist_table(drop=2), 'partial.json'), space='fmnist')
    with pytest.raises(ValueError, match='does not hold exactly the 54'):
        load_ground_truth(digits, space=MBConvSupernet(space='fmnist', stages=((16, 1, 1), (32, 3, 2))))


def test_a_nan_estimate_is_refused():
    """NaN compares false both ways: precision@3 of [4, nan, 2, 1] (truth a > b > c > d) read 1.0, precision@2
    divided by zero. -inf stays allowed (an architecture ranked last)."""
    truth = {('a', ): 4.0, ('b', ): 3.0, ('c', ): 2.0, ('d', ): 1.0}
    nan = {('a', ): 4.0, ('b', ): float('nan'), ('c', ): 2.0, ('d', ): 1.0}
    for k in (2, 3):
        with pytest.raises(ValueError, match='NaN estimate'):
            precision_at_k(nan, truth, k)
    with pytest.raises(ValueError, match='NaN estimate'):
        kendall_tau(nan, truth)
    assert precision_at_k({**nan, ('b', ): float('-inf')}, truth, 3) == pytest.approx(2 / 3)



def test_nan_scores_and_repeated_seeds_are_refused_where_ranks_are_read():
    """standalone_rank / rank_all ranked a NaN score first (nothing compares above it); a table with seeds [0, 0]
    (or [0, 0.7], read as 0) returned the first run for both, so the seeds' agreement read tau 1.0 where the two
    runs, read as seeds 0 and 1, give -1.0."""
    nan = {('a', ): 4.0, ('b', ): float('nan'), ('c', ): 2.0}
    with pytest.raises(ValueError, match='NaN true score'):
        standalone_rank(('c', ), nan)
    with pytest.raises(ValueError, match='NaN score'):
        rank_all(nan)
    assert rank_all({('a', ): 4.0, ('b', ): float('-inf'), ('c', ): 2.0}) == {('a', ): 1, ('b', ): 3, ('c', ): 2}
    data = fmnist_table()
    data['archs'][2]['reward_top1'][1] = float('nan')
    with pytest.raises(ValueError, match=r'archs\[2\] is malformed.*reward_top1 holds NaN'):
        GroundTruthTable(data)
    data = fmnist_table()
    reversed_runs = [float(i) for i in range(len(data['archs']))]
    for entry, value in zip(data['archs'], reversed_runs):
        entry['reward_top1'] = [value, -value]
    assert seed_agreement(GroundTruthTable(data))['pairs'] == [[0, 1, -1.0]]
    for seeds, match in (([0, 0], 'repeats a seed'), ([0, 0.7], 'must be integers'), ([0, True], 'integers')):
        data['settings']['seeds'] = seeds
        with pytest.raises(ValueError, match=match):
            GroundTruthTable(data)


def test_seed_agreement_counts_the_pairs_its_mean_leaves_out():
    """Seed 2 scored every architecture 50.0: its two pairs have no tau-b (NaN); the noise ceiling is the (0, 1)
    pair's tau alone, and says that 2 of 3 pairs were left out (they were dropped from the mean silently)."""
    from automl_mm.nas.ranking import agreement_text

    data = fmnist_table(seeds=(0, 1, 2))
    for entry in data['archs']:
        entry['reward_top1'][2] = 50.0
    table = GroundTruthTable(data)
    agreement = seed_agreement(table)
    assert [p[:2] for p in agreement['pairs']] == [[0, 1], [0, 2], [1, 2]]
    assert math.isnan(agreement['pairs'][1][2]) and math.isnan(agreement['pairs'][2][2])
    assert agreement['mean'] == agreement['pairs'][0][2] and agreement['left_out'] == 2
    assert agreement_text(agreement) == (f'{agreement["mean"]:.4f} (2 of 3 seed pairs left out: tau-b undefined, '
                                         'one seed scored every architecture the same)')
    assert seed_agreement(GroundTruthTable(fmnist_table()))['left_out'] == 0
    assert agreement_text({'mean': 0.5, 'pairs': [[0, 1, 0.5]]}) == '0.5000'  # a table without left_out
