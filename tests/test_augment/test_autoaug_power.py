"""The planted-reward check of OHL-Auto-Aug's two ways to sample (``benchmarks/autoaug_power.py``): the project's
space, transform and controller driven as the hook drives them; the reward punishes pairs with a harmful element."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'benchmarks'))

from autoaug_power import main, simulate  # noqa: E402

SMALL = dict(trunks=30, images=100)


def _mass(policy_size, sign=1.0):
    runs = [simulate(policy_size, 5.0, seed, sign=sign, **SMALL) for seed in (0, 1)]
    return statistics.mean(m for run in runs for m in run)  # first and second operation, both seeds


def test_a_policy_per_copy_learns_to_avoid_the_harmful_elements():
    learned = _mass(5)
    assert learned < 0.8  # 1 = uniform: the harmful elements lost over a fifth of their mass
    assert _mass(5, sign=-1.0) > 1.2  # a flipped advantage seeks them out
    # a draw per image moves far less in the same trunks: each copy's share of harmful pairs is p_θ's up to
    # binomial noise, so the rewards barely tell the copies' samples apart
    assert _mass(None) > learned + 0.1


def test_the_benchmark_prints_a_row_per_way_and_gain(capsys):
    rows = main(['--seeds', '2', '--trunks', '3', '--images', '20', '--policy-sizes', '0', '5', '--deltas', '5'])
    assert [(r['policy_size'], r['delta']) for r in rows] == [(None, 5.0), (5, 5.0)]
    out = capsys.readouterr().out
    assert 'per image | Δ  5.0' in out and 'policy of 5 | Δ  5.0' in out
