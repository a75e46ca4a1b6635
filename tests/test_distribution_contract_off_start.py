"""``check_distribution`` on a distribution of one's own (a scalar Gaussian, as a user writes it): the contract held
only at the starting θ and on 8 draws, so a gradient that reads the starting σ, a sampler that reads the starting μ
(a continuous one: the frequency test is for discrete ones) and a log_prob that is NaN on 5 % of the draws all
passed, and REINFORCE then learned from a wrong gradient or from samples p_θ never drew."""
from __future__ import annotations

import math

import pytest
import torch

from automl_mm.ohl.base import BaseDistribution
from automl_mm.testing import check_distribution


class _Gauss(BaseDistribution):
    """N(μ, σ²) over one float, parameters [μ, log σ]; statistics [count, Σx, Σx²]."""

    def __init__(self, mu: float = 0.0, sigma: float = 0.3) -> None:
        self.mu = torch.tensor(float(mu), dtype=torch.float64, requires_grad=True)
        self.log_sigma = torch.tensor(math.log(sigma), dtype=torch.float64, requires_grad=True)
        self.mu0, self.var0 = float(mu), sigma ** 2

    def parameters(self):
        return [self.mu, self.log_sigma]

    def _sample_mean(self) -> torch.Tensor:
        return self.mu.detach()

    def sample(self, generator=None, n=None):
        z = torch.randn(1 if n is None else n, generator=generator, dtype=torch.float64)
        x = self._sample_mean() + self.log_sigma.detach().exp() * z
        return x[0] if n is None else x

    def log_prob(self, sample):
        x = torch.as_tensor(sample, dtype=torch.float64)
        return -0.5 * ((x - self.mu) / self.log_sigma.exp()) ** 2 - self.log_sigma - 0.5 * math.log(2 * math.pi)

    def stats_size(self):
        return 3

    def sufficient_stats(self, samples):
        x = torch.as_tensor(samples, dtype=torch.float64).reshape(-1)
        return torch.stack([torch.tensor(float(x.numel()), dtype=torch.float64), x.sum(), (x ** 2).sum()])

    def sample_count(self, stats):
        return float(stats[0])

    def _var(self) -> torch.Tensor:
        return self.log_sigma.detach().exp() ** 2

    def grad_mean_log_prob(self, stats):
        n, sx, sxx = stats
        if n == 0:
            return [torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)]
        mu, var, m = self.mu.detach(), self._var(), sx / n
        return [(m - mu) / var, (sxx / n - 2 * mu * m + mu ** 2) / var - 1]

    def summary(self, top_k=5):
        return dict(mu=float(self.mu.detach()), sigma=float(self.log_sigma.detach().exp()))

    def mode(self):
        return self.mu.detach().clone()

    def state_dict(self):
        return dict(mu=self.mu.detach().clone(), log_sigma=self.log_sigma.detach().clone())

    def load_state_dict(self, state):
        with torch.no_grad():
            self.mu.copy_(state['mu'])
            self.log_sigma.copy_(state['log_sigma'])


class _StartVarGrad(_Gauss):
    """The gradient divides by the starting σ² (exact at the start only)."""

    def _var(self):
        return torch.tensor(self.var0, dtype=torch.float64)


class _StartMeanSampler(_Gauss):
    """Draws around the starting μ whatever μ is now."""

    def _sample_mean(self):
        return torch.tensor(self.mu0, dtype=torch.float64)


class _NaNAboveHalf(_Gauss):
    """log_prob is NaN for x > 0.5 (about 5 % of the draws at the start: none of the 8 checked)."""

    def log_prob(self, sample):
        lp = super().log_prob(sample)
        x = torch.as_tensor(sample, dtype=torch.float64)
        return torch.where(x > 0.5, torch.full_like(lp, float('nan')), lp)


def test_a_correct_scalar_gaussian_of_ones_own_passes():
    for seed in range(3):
        check_distribution(_Gauss(), seed=seed)


@pytest.mark.parametrize('broken, message', [
    (_StartVarGrad, 'at parameters moved off their start: grad_mean_log_prob'),
    (_StartMeanSampler, 'sample() must draw from the distribution'),
    (_NaNAboveHalf, 'log_prob must be finite for every sample the distribution draws'),
])
def test_a_distribution_right_only_at_its_start_or_on_few_draws_is_caught(broken, message):
    with pytest.raises(AssertionError, match=f'{broken.__name__}: .*{message[:20]}'.replace('(', r'\(').replace(
            ')', r'\)')):
        check_distribution(broken())
