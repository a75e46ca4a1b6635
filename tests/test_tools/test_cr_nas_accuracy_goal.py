"""benchmarks/cr_nas_fmnist_det.py's accuracy goal (searched above standard by more than the larger sample std)
is judged only where both arms have a std, i.e. at least 2 retraining seeds each."""
from __future__ import annotations

import importlib

import pytest


@pytest.fixture
def bench(arms):
    return importlib.import_module('cr_nas_fmnist_det')


def test_one_seed_per_arm_is_not_judged(bench):
    """``--seeds 0`` compared the difference with a std of 0 (summary() gives 0 for one value): any positive
    difference, e.g. searched 0.0010 against standard 0.0000, printed the goal as met."""
    goal = bench.accuracy_goal([0.0000], [0.0010])
    assert goal['searched_above_by_more_than_1_std'] is None and goal['larger_std'] is None
    assert goal['difference'] == pytest.approx(0.0010)
    assert bench.accuracy_goal([0.10, 0.11], [0.20])['searched_above_by_more_than_1_std'] is None


def test_the_goal_uses_the_larger_sample_std(bench):
    standard, searched = [0.100, 0.101, 0.111], [0.122, 0.110, 0.099]  # benchmarks/results/cr_nas_fmnist_det.json
    goal = bench.accuracy_goal(standard, searched)
    assert goal['larger_std'] == pytest.approx(0.0115036, abs=1e-6)  # the searched arm's, n - 1
    assert goal['difference'] == pytest.approx(0.0063333, abs=1e-6)
    assert goal['searched_above_by_more_than_1_std'] is False
    assert bench.accuracy_goal([0.10, 0.11, 0.10], [0.13, 0.14, 0.13])['searched_above_by_more_than_1_std'] is True


def test_one_search_does_not_judge_the_stability(bench):
    """``--search-seeds 0`` printed the stability half of the goal as met ('same allocation in all 1 searches:
    yes'): one search agrees with itself. It is not judged (None, printed so) with fewer than 2 searches."""
    one = [dict(stage_blocks=[3, 2, 1, 2], dilations_per_block=[1] * 8)]
    assert bench.agreement(one) == {'allocations_agree': None, 'dilations_agree': None}
    assert bench.stability_text(None).startswith('not judged')
    two = one + [dict(stage_blocks=[2, 3, 2, 1], dilations_per_block=[1] * 8)]
    assert bench.agreement(two) == {'allocations_agree': False, 'dilations_agree': True}
    assert (bench.stability_text(True), bench.stability_text(False)) == ('yes', 'NO')
