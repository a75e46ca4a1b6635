"""The planted-reward check of OHL-Auto-Aug's two ways to sample (``benchmarks/autoaug_power.py``): the project's
space, transform and controller driven as the hook drives them; the reward punishes pairs with a harmful element."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

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


def test_the_default_noise_gives_the_measured_copy_spread():
    """The default σ was 1.2, 'the copies' spread measured on Fashion-MNIST'; but that spread is the population std
    of a trunk's 4 rewards (autoaug_fmnist.py's 'copy spread'), which reads about 0.80 σ: σ = 1.2 simulated a spread
    of 0.96. The default is now the σ whose spread, read the same way, is 1.2."""
    import math

    import numpy as np
    from autoaug_power import MEASURED_SPREAD, noise_for_spread

    sigma = noise_for_spread(MEASURED_SPREAD, 4)
    assert sigma == pytest.approx(1.2 / (math.sqrt(3 / 4) * math.sqrt(2 / 3) / math.gamma(1.5)), rel=1e-9)
    assert sigma == pytest.approx(1.504, abs=1e-3)
    rewards = np.random.default_rng(0).normal(0.0, sigma, size=(200_000, 4))
    assert np.std(rewards, axis=1).mean() == pytest.approx(MEASURED_SPREAD, abs=0.01)  # as autoaug_fmnist reads it
    assert noise_for_spread(1.0, 2) == pytest.approx(math.sqrt(math.pi / 2) * math.sqrt(2), rel=1e-9)
    rows = main(['--seeds', '1', '--trunks', '1', '--images', '4', '--policy-sizes', '5', '--deltas', '1'])
    assert rows[0]['noise'] == pytest.approx(sigma)
    with pytest.raises(ValueError):
        noise_for_spread(1.2, 1)


def test_a_short_trunks_copy_is_credited_as_the_hook_credits_it(monkeypatch):
    """The benchmark says it drives the space and controller as ``OHLHook`` does, but it gave the controller each
    copy's ``trunk_stats()``, all K draws of its policy at full weight; the hook credits each draw by the chance
    that one of the copy's images picked it and a draw none did at its expectation p_θ (``policy_credit``). With 2
    images per trunk and K = 5 (of 1,296 pairs) at least 3 of the 5 draws went unused: the controller must be
    given the hook's credit, not the 5 draws' statistics."""
    import autoaug_power
    import torch

    spaces, steps = [], []

    class _Space(autoaug_power.PipelineChoiceSpace):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.chosen = []
            spaces.append(self)

        def reset_stats(self):
            super().reset_stats()
            self.chosen = []

        def after_train_iter(self, runner, data_batch):
            super().after_train_iter(runner, data_batch)
            self.chosen += [s.metainfo['ohl_choice']['aug'] for s in data_batch['data_samples']]

    class _Controller(autoaug_power.REINFORCE):
        def step(self, stats, rewards, *args, **kwargs):
            # each copy's policy and the images of each draw's choice, read before the next trunk's reset, and
            # p_θ before the step
            steps.append(([s.clone() for s in stats], [(list(space.policy), [space.chosen.count(a) for a in
                                                                              space.policy]) for space in spaces],
                          self.distribution.probs()))
            return super().step(stats, rewards, *args, **kwargs)

    monkeypatch.setattr(autoaug_power, 'PipelineChoiceSpace', _Space)
    monkeypatch.setattr(autoaug_power, 'REINFORCE', _Controller)
    autoaug_power.simulate(5, 5.0, 0, trunks=3, images=2)
    assert len(steps) == 3 and len(spaces) == 4
    distribution = spaces[0].distribution
    for stats, policies, probs in steps:
        for credited, (policy, images) in zip(stats, policies):
            assert 0 in images  # the premise: a draw no image used
            weights = [1 - (1 - 1 / policy.count(a)) ** n for a, n in zip(policy, images)]
            expected = (5 - sum(weights)) * probs
            for a, w in zip(policy, weights):
                expected[a] += w
            assert distribution.sample_count(credited) == 5
            assert torch.allclose(credited, expected, rtol=0, atol=1e-12)
            # not the 5 draws' statistics (what the benchmark gave before)
            assert not torch.allclose(credited, distribution.sufficient_stats(torch.tensor(policy)))
