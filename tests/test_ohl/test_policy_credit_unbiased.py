"""``PipelineChoiceSpace(policy_size=K)``: the controller's expected step must follow the gradient of the expected
reward, whatever the copies' images used.

Each copy draws K choices a_1..a_K i.i.d. from p_θ per trunk and each of its images applies one of them (a value
with probability count/K, the same as a draw index picked uniformly). The reward R depends on the applied values
only. REINFORCE (Williams 1992) is unbiased when a copy's score is that of all K draws, (1/K) Σ_k ∇log p(a_k) (the
controller averages the log-probabilities of a copy's statistics): E[(R - b) · score] = ∇E[R] / K for any baseline b
that does not depend on the copy's draws. 779f072 credited a copy with the draws whose *value* an image used, all the
draws of that value: which draws are credited then depends on the draws' values, and so does the number of draws
the controller averages over, and the expected step is no longer ∇E[R] / K (3 choices, K = 2, two images: 1.57,
2.10 and 0.22 times it per logit; one image: 2 times it). The test enumerates every draw and every
image's pick exactly (no sampling), drives the space, ``trunk_row``, ``combine_copy_rows`` and the controller's step
on each outcome, and compares the expected step of θ with ∇_θ E[R] computed by autograd through the exact
expectation.
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from automl_mm.ohl import CopyLayout, OHLRandomChoice, PipelineChoiceSpace
from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.distributions import FactorisedCategorical
from automl_mm.ohl.reward import combine_copy_rows, trunk_row
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)

BASELINE = 0.3  # a fixed baseline, not 0: a credit whose score has a non-zero mean is biased by b × E[score]


def _spaces(num_choices, policy_size, ranks, theta):
    """One copy's space on each of its ``ranks`` ranks, with logits ``theta``; ``begin_trunk`` draws the policy set
    in ``drawn[0]`` (the enumeration plants each outcome's draws there)."""
    drawn = [None]
    spaces = []
    for r in range(ranks):
        runner = _pipeline_runner(OHLRandomChoice(transforms=[[]] * num_choices, key='aug'))
        space = PipelineChoiceSpace(dict(type='Categorical', num_choices=num_choices), key='aug',
                                    policy_size=policy_size)
        space.resolve(runner)
        space.setup(runner, CopyLayout(num_copies=1, ranks_per_copy=ranks, rank=r, world_size=ranks), seed=3)
        with torch.no_grad():
            space.distribution.logits.copy_(theta)
        space.distribution.sample = lambda generator=None, n=None: torch.tensor(drawn[0])
        spaces.append(space)
    return spaces, drawn


def _expected_step(num_choices, policy_size, images_per_rank, theta, reward):
    """E[θ' - θ] of one REINFORCE step (SGD, lr 1, baseline ``BASELINE``) of one copy, over every policy and every
    pick of a draw by each image (``images_per_rank[r]`` images on rank r), driven through the hook's code."""
    from mmengine.structures import BaseDataElement

    ranks = len(images_per_rank)
    spaces, drawn = _spaces(num_choices, policy_size, ranks, theta)
    distribution = spaces[0].distribution
    controller = REINFORCE(distribution, optimizer=dict(type='SGD', lr=1.0), baseline='moving_average')
    layout = CopyLayout(num_copies=1, ranks_per_copy=ranks, rank=0, world_size=ranks)
    probs = torch.softmax(theta, dim=0)
    images = sum(images_per_rank)
    expected = torch.zeros(num_choices, dtype=torch.float64)
    for draws in itertools.product(range(num_choices), repeat=policy_size):
        p_draws = math.prod(float(probs[a]) for a in draws)
        drawn[0] = list(draws)
        for picks in itertools.product(range(policy_size), repeat=images):
            values = [draws[k] for k in picks]  # what the images applied (they see values, not indices)
            rows, start = [], 0
            for space, n in zip(spaces, images_per_rank):
                space.reset_stats()
                space.begin_trunk(None, 4, torch.Generator().manual_seed(0))
                space.after_train_iter(None, {'data_samples': [
                    BaseDataElement(metainfo={'ohl_choice': {'aug': v, 'aug@version': 4}})
                    for v in values[start:start + n]]})
                start += n
                rows.append(trunk_row(0.0, True, False, [space]))
            stats = combine_copy_rows(torch.stack(rows), layout, spaces[:1], 4)['stats']['aug']
            controller.baseline = BASELINE
            controller.step(stats, [reward[tuple(values)]])
            with torch.no_grad():
                expected += p_draws / policy_size ** images * (distribution.logits - theta)
                distribution.logits.copy_(theta)
    return expected


def _true_gradient(num_choices, policy_size, images, theta, reward):
    """∇_θ E[R] by autograd through the exact expectation over the draws and the images' picks."""
    theta = theta.clone().requires_grad_(True)
    probs = torch.softmax(theta, dim=0)
    expectation = 0.0
    for draws in itertools.product(range(num_choices), repeat=policy_size):
        p_draws = math.prod(probs[a] for a in draws)
        for picks in itertools.product(range(policy_size), repeat=images):
            expectation = expectation + p_draws / policy_size ** images * reward[tuple(draws[k] for k in picks)]
    expectation.backward()
    return theta.grad


@pytest.mark.parametrize('num_choices,policy_size,images_per_rank', [
    (2, 2, (1,)),  # the reviewer's case: 2 choices, K = 2, one image
    (3, 2, (2,)),  # two images on one rank
    (2, 3, (2,)),
    (3, 2, (1, 1)),  # a copy of two ranks, one image each: the images of its ranks together
    (2, 3, (1, 1)),
], ids=['2ch-K2-1img', '3ch-K2-2img', '2ch-K3-2img', '3ch-K2-2ranks', '2ch-K3-2ranks'])
def test_the_expected_controller_step_follows_the_gradient_of_the_expected_reward(num_choices, policy_size,
                                                                                   images_per_rank):
    """With a planted reward of the applied values, the expected step of θ is ∇E[R] / K (the all-K credit's
    scale, whatever the images used), for two θ and two reward tables."""
    images = sum(images_per_rank)
    generator = torch.Generator().manual_seed(num_choices * 100 + policy_size * 10 + images)
    for _ in range(2):
        theta = 0.8 * torch.randn(num_choices, generator=generator, dtype=torch.float64)
        table = torch.randn(num_choices ** images, generator=generator, dtype=torch.float64).tolist()
        reward = dict(zip(itertools.product(range(num_choices), repeat=images), table))
        truth = _true_gradient(num_choices, policy_size, images, theta, reward)
        step = _expected_step(num_choices, policy_size, images_per_rank, theta, reward)
        assert torch.allclose(step, truth / policy_size, rtol=1e-9, atol=1e-12), \
            (step * policy_size / truth).tolist()  # 1 on each logit: the all-K credit's step


class _MarginalPairs(FactorisedCategorical):
    """A user's pair distribution whose statistics are each factor's histogram, concatenated (2 + 2 entries for
    ``factor_sizes=(2, 2)``, not the 4 flat choices'): additive, counted and differentiated as the contract asks
    (``automl_mm.testing.check_distribution`` passes), and ``probs()`` over the 4 flat choices."""

    def stats_size(self):
        return sum(self.factor_sizes)

    def sufficient_stats(self, samples):
        flat = self._check_indices(samples).reshape(-1)
        return torch.cat([torch.bincount(f, minlength=s).to(torch.float64)
                          for f, s in zip(self._factor_indices(flat), self.factor_sizes)])

    def sample_count(self, stats):
        return float(stats[:self.factor_sizes[0]].sum())

    def grad_mean_log_prob(self, stats):
        total = stats[:self.factor_sizes[0]].sum()
        if total == 0:
            return [torch.zeros(s, dtype=torch.float64) for s in self.factor_sizes]
        return [part / total - probs for part, probs in
                zip(torch.split(stats, self.factor_sizes), self.factor_probs())]


@pytest.mark.parametrize('factor_sizes', [(2, 2), (2, 3)])
def test_a_plugin_distribution_whose_statistics_are_no_flat_histogram_is_credited_too(factor_sizes):
    """A contract-conforming distribution whose statistics are not the histogram of the flat choices (per-factor
    histograms) worked with ``policy_size`` before ``policy_credit`` (its used draws' ``sufficient_stats``); the
    credit padded the unused draws with ``probs()``: of (2, 3) factors, 6 probabilities beside 5 statistics, it
    stopped the run at the first trunk end (ValueError), and of (2, 2), 4 beside 4, it added probabilities to
    histograms: 1.58 samples credited instead of K = 3, a wrong step. A draw none picked is credited with its mean
    statistics under p_θ, Σ_a p_θ(a) s(a), whatever they are: the step is (1/K) Σ_k w_k ∇log p(a_k)."""
    from mmengine.structures import BaseDataElement

    from automl_mm.testing import check_distribution

    check_distribution(_MarginalPairs(list(factor_sizes)))
    distribution = _MarginalPairs(list(factor_sizes))
    with torch.no_grad():
        for logits in distribution.logits:
            logits.copy_(torch.linspace(-0.5, 0.4, len(logits), dtype=torch.float64))
    runner = _pipeline_runner(OHLRandomChoice(transforms=[[]] * math.prod(factor_sizes), key='aug'))
    space = PipelineChoiceSpace(distribution, key='aug', policy_size=3)
    space.resolve(runner)
    layout = CopyLayout(num_copies=1, ranks_per_copy=1, rank=0, world_size=1)
    space.setup(runner, layout, seed=3)
    distribution.sample = lambda generator=None, n=None: torch.tensor([1, 1, 2])
    space.begin_trunk(None, 4, torch.Generator().manual_seed(0))
    space.after_train_iter(None, {'data_samples': [
        BaseDataElement(metainfo={'ohl_choice': {'aug': 1, 'aug@version': 4}})]})  # one image, of choice 1
    credit = combine_copy_rows(trunk_row(0.0, True, False, [space])[None], layout, [space], 4)['stats']['aug'][0]
    assert distribution.sample_count(credit) == pytest.approx(3.0)
    # draws 0 and 1 (choice 1) each picked by the image with probability 1/2, draw 2 (choice 2) by none:
    # (1/3)(½ ∇log p(1) + ½ ∇log p(1) + 0 · ∇log p(2)), the score by autograd
    score = torch.autograd.grad(distribution.log_prob(1), distribution.parameters())
    for got, want in zip(distribution.grad_mean_log_prob(credit), score):
        assert torch.allclose(got, want / 3, rtol=1e-12, atol=1e-12)
