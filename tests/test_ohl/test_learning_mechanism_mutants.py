"""Tests that kill mutants of the OHL learning mechanisms which the other tests let live (mutation testing).

Each test names the mutation it was shown red under (the source changed by hand, the test run, the source restored):
a learning mechanism's test must fail when the mechanism is broken.
"""
from __future__ import annotations

import random
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch

from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.distributions import Categorical, DiagGaussian, FactorisedCategorical, Product


def test_normalised_advantages_divide_by_the_std_not_the_variance():
    """Rewards [4, 0]: std 2, so the advantages are ±1 and one SGD step (lr 1) moves the logits by ±0.5. Red when
    the advantages are divided by the variance (±0.5, a step of ±0.25): the existing test's rewards had std 1."""
    dist = Categorical(2)
    controller = REINFORCE(dist, optimizer=dict(type='SGD', lr=1.0), normalize=True, eps=0.0)
    logs = controller.step([torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])], [4.0, 0.0])
    assert logs['advantage_abs_mean'] == pytest.approx(1.0)
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([0.5, -0.5], dtype=torch.float64))


def _shrinking_step(dist) -> None:
    """One SGD step (lr 10) that pushes log σ far down: the copy that sampled μ wins (∂/∂log σ = -1), the one 3 σ
    away loses (∂/∂log σ = 8); with advantages ±0.5, log σ moves by 10 · (-0.5 - 4) / 2 = -22.5."""
    controller = REINFORCE(dist, optimizer=dict(type='SGD', lr=10.0))
    at_mean, far = torch.tensor([[0.0]]), torch.tensor([[3.0]])
    if isinstance(dist, Product):
        stats = [dist.sufficient_stats({'g': x}) for x in (at_mean, far)]
    else:
        stats = [dist.sufficient_stats(x) for x in (at_mean, far)]
    controller.step(stats, [1.0, 0.0])


@pytest.mark.parametrize('wrap', [False, True], ids=['gaussian', 'product'])
def test_the_controller_keeps_a_learned_std_at_its_floor(wrap):
    """The step alone takes σ from 1 to exp(-22.5) ≪ min_std = 0.1; the controller must project after it (red when
    ``REINFORCE._apply`` skips ``project_``, or ``Product.project_`` does not project its components)."""
    gaussian = DiagGaussian([0.0], 1.0, learn_std=True, min_std=0.1)
    dist = Product({'g': gaussian}) if wrap else gaussian
    _shrinking_step(dist)
    torch.testing.assert_close(gaussian.std(), torch.tensor([0.1], dtype=torch.float64))


def test_gaussian_samples_have_the_distributions_mean_and_std():
    """20000 draws of N((1, -2), diag(0.5², 2²)): sample means within 0.05 and sample stds within 3 % (the
    standard errors are ≤ 0.014 and ≤ 0.5 %). Red when the noise is scaled by σ² (0.25 and 4) instead of σ; the
    other tests' Gaussians had σ ≤ 1 in the learning tests, which still converge with σ²."""
    dist = DiagGaussian(mean=[1.0, -2.0], std=[0.5, 2.0])
    x = dist.sample(torch.Generator().manual_seed(0), n=20000)
    torch.testing.assert_close(x.mean(0), torch.tensor([1.0, -2.0], dtype=torch.float64), atol=0.05, rtol=0)
    torch.testing.assert_close(x.std(0), torch.tensor([0.5, 2.0], dtype=torch.float64), rtol=0.03, atol=0)


def test_product_entropy_gradient_is_the_sum_of_its_components():
    """H(product) = Σ H(component): its gradient must be each component's own (red when only the first component's
    gradient is kept; the other test checked shapes only)."""
    cat = Categorical(3, logits=[0.0, 1.0, 2.0])
    fact = FactorisedCategorical([2, 3])
    with torch.no_grad():
        fact.logits[0].copy_(torch.tensor([0.3, -0.4], dtype=torch.float64))
        fact.logits[1].copy_(torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64))
    gauss = DiagGaussian([0.0], 0.5, learn_std=True)
    product = Product({'a': cat, 'b': fact, 'c': gauss})

    def entropy(z):
        log_p = torch.log_softmax(z, 0)
        return -(log_p.exp() * log_p).sum()

    params = product.parameters()
    total = entropy(params[0]) + entropy(params[1]) + entropy(params[2]) + params[4].sum() + 0.0 * params[3].sum()
    for got, want in zip(product.grad_entropy(), torch.autograd.grad(total, params), strict=True):
        torch.testing.assert_close(got, want)


def test_copies_equal_the_best_after_a_broadcast_from_a_copy_other_than_0():
    """Copy 1 is the best and was broadcast: both copies now hold copy 1's weights, which the check must accept.
    Red when the check compares the copies with rank 0's weights from before the broadcast (it then raised on a
    correct broadcast; the existing test only broadcast from copy 0)."""
    from automl_mm.ohl.copies import CopyLayout
    from automl_mm.ohl.sync import fingerprint, verify_copies

    torch.manual_seed(0)
    copy0, copy1 = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    theta = torch.zeros(3, dtype=torch.float64)
    space = SimpleNamespace(distribution=SimpleNamespace(parameters=lambda: [theta]))
    fp0, fp1 = fingerprint(copy0), fingerprint(copy1)
    rows = torch.stack([torch.cat([theta, fp0, fp1]), torch.cat([theta, fp1, fp1])])
    with mock.patch('automl_mm.ohl.copy_verification.gather_rows', return_value=rows):
        checks = verify_copies([space], copy1, fp1, 1, True, CopyLayout(2, 1, 1, 2), trunk=0)
    assert checks['copies_identical'] and checks['copies_equal_best']


def _draws(generator: torch.Generator) -> list[int]:
    return Categorical(1000).sample(generator, n=8).tolist()


def test_each_copy_trunk_and_space_draws_its_own_sample_and_the_same_seed_reproduces_it():
    """The per-trunk samples of copies / trunks / spaces come from distinct streams (red when the generator ignores
    the copy, so every copy trains the same sample, or the trunk, so every trunk repeats trunk 0's); the same
    (seed, copy, trunk, space) draws the same sample again."""
    from automl_mm.ohl.segments import space_generator

    keys = [(seed, c, t, k) for seed in (0, 1) for c in range(3) for t in range(3) for k in range(2)]
    draws = {key: tuple(_draws(space_generator(*key))) for key in keys}
    assert len(set(draws.values())) == len(keys)
    assert all(tuple(_draws(space_generator(*key))) == draws[key] for key in keys)


def test_segment_seeds_reseed_python_numpy_and_torch():
    """Re-seeding with a segment's seeds restarts all three streams (red when one of them is not re-seeded: a
    resumed run drew other random augmentations than an uninterrupted one)."""
    from automl_mm.ohl.segments import seed_global_rngs, segment_seeds

    def draw(seeds):
        seed_global_rngs(seeds)
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    first = segment_seeds(0, 1, 0, 2, 3, 4)
    a = draw(first)
    draw(segment_seeds(0, 0, 0, 0, 0, 0))  # move every stream on
    assert draw(first) == a
    other = draw(segment_seeds(0, 2, 0, 2, 3, 4))  # another copy's segment
    assert all(x != y for x, y in zip(a, other))


def test_a_per_copy_space_counts_the_sample_it_applied():
    """The trunk's statistics (what the controller credits with the copy's reward) must be the sample the copy
    trained with. Red when ``PerCopySpace.begin_trunk`` records another draw than it applies: the existing test
    drew from 3 choices once, where the two draws coincided."""
    from automl_mm.ohl import AttributeSpace

    choices = [v / 50 for v in range(50)]  # 50 probabilities: Dropout.p is range-checked at every write
    for seed in range(5):
        runner = SimpleNamespace(model=torch.nn.Dropout(0.5))
        space = AttributeSpace(dict(type='Categorical', num_choices=50), target='model.p', choices=choices)
        space.begin_trunk(runner, 0, torch.Generator().manual_seed(seed))
        stats = space.trunk_stats()
        assert stats.sum() == 1 and stats[choices.index(runner.model.p)] == 1


def test_the_sync_check_refuses_a_rank_whose_theta_differs():
    """Every rank steps θ from the same gathered rewards and statistics, so θ must be identical everywhere; rank 1's
    θ differs here in one coordinate by 1e-12 (the copies' weights are equal) and the check must raise, naming
    it. Red when ``verify_copies`` takes θ as identical without comparing (no test gave it differing θ)."""
    from automl_mm.ohl.copies import CopyLayout
    from automl_mm.ohl.sync import fingerprint, verify_copies

    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    theta = torch.tensor([0.5, -0.25, 0.0], dtype=torch.float64)
    space = SimpleNamespace(distribution=SimpleNamespace(parameters=lambda: [theta]))
    fp = fingerprint(model)
    other = theta.clone()
    other[2] += 1e-12
    rows = torch.stack([torch.cat([theta, fp, fp]), torch.cat([other, fp, fp])])
    with mock.patch('automl_mm.ohl.copy_verification.gather_rows', return_value=rows), \
            pytest.raises(RuntimeError, match=r'trunk 3: ranks disagree after the update \(theta identical: False, '
                                              r'copies identical: True, copies equal the best: True'):
        verify_copies([space], model, fp, 0, True, CopyLayout(2, 1, 0, 2), trunk=3)
    with mock.patch('automl_mm.ohl.copy_verification.gather_rows', return_value=rows[[0, 0]]):
        checks = verify_copies([space], model, fp, 0, True, CopyLayout(2, 1, 0, 2), trunk=3)
    assert checks == dict(theta_identical=True, copies_identical=True, copies_equal_best=True,
                          ranks_in_copy_identical=True)


def test_a_policy_of_k_pairs_is_drawn_from_theta():
    """``policy_size=5``: the copy's 5 pairs of the trunk are drawn from p_θ. θ puts 1 - 8e-13 on pair 4 (of 9), so
    all 5 are pair 4, the trunk's statistics count it 5 times and every image draws it (the published probabilities
    are one-hot). Red when the policy is drawn uniformly (θ ignored): the only test of ``policy_size`` is a slow
    run whose controller still learned from the uniform draws it was credited with."""
    from mmengine.dataset import Compose

    from automl_mm.augment.policy import OHLAutoAugment
    from automl_mm.ohl.pipeline_space import PipelineChoiceSpace

    transform = OHLAutoAugment(key='autoaug', elements=[('Rotate', 30), ('Identity',), ('Invert',)])
    dataset = SimpleNamespace(pipeline=Compose([transform]))
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset), logger=mock.Mock())
    space = PipelineChoiceSpace(key='autoaug', policy_size=5)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    logits = torch.zeros(9, dtype=torch.float64)
    logits[4] = 30.0
    space.distribution.load_state_dict({'logits': logits})
    for seed in range(3):
        space.reset_stats()
        space.begin_trunk(runner, seed, torch.Generator().manual_seed(seed))
        assert space.policy == [4] * 5
        assert space.trunk_stats().tolist() == [0, 0, 0, 0, 5, 0, 0, 0, 0]
        assert torch.as_tensor(space.live.probs).tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_per_image_choices_are_drawn_from_theta_after_the_space_begins_a_trunk():
    """A per-image ``PipelineChoiceSpace`` publishes p_θ at ``begin_trunk``; the bound choice transform's draws must
    follow it: logits (3, 0, -3) give p ≈ (0.936, 0.047, 0.002), and 400 images must draw choice 0 at that rate
    (standard error 0.012; tolerance 0.05) and the space must count exactly those draws. Red when ``begin_trunk``
    publishes the uniform distribution (every choice 1/3: the choice randomised, θ ignored, while the draws are
    still credited as θ's samples); the other tests bound a ``LivePolicy`` by hand or checked counts, not rates."""
    from mmengine.structures import BaseDataElement

    from automl_mm.ohl import OHLRandomChoice, PipelineChoiceSpace
    from tests.test_ohl._spaces import _pipeline_runner

    runner = _pipeline_runner(OHLRandomChoice([[], [], []], key='aug'))
    space = PipelineChoiceSpace(key='aug')
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    with torch.no_grad():
        space.distribution.logits.copy_(torch.tensor([3.0, 0.0, -3.0], dtype=torch.float64))
    space.begin_trunk(None, 0, torch.Generator().manual_seed(0))
    pipeline = runner.train_dataloader.dataset.pipeline
    choices = [pipeline({})['ohl_choice'] for _ in range(400)]
    space.after_train_iter(None, {'data_samples': [BaseDataElement(metainfo={'ohl_choice': c}) for c in choices]})
    counts = space.trunk_stats()
    assert counts.sum() == 400
    assert abs(float(counts[0]) / 400 - float(space.distribution.probs()[0])) < 0.05, counts.tolist()


def test_a_per_copy_space_draws_its_sample_from_theta():
    """``PerCopySpace.begin_trunk`` must draw the copy's sample from p_θ: with logits (4, 0, -4) over three values
    (p ≈ (0.98, 0.018, 0.0003)), 100 trunks (each its own generator, as ``space_generator`` gives) must write the
    first value at that rate (standard error 0.014; tolerance 0.08), each recorded as the sample applied. Red when the
    sample is drawn uniformly (θ ignored, the choice random: rate about 1/3) while still recorded; the other tests of
    per-copy spaces set θ uniform or checked only that the recorded sample is the one applied."""
    from automl_mm.ohl import AttributeSpace

    choices = [0.1, 0.2, 0.3]
    space = AttributeSpace(dict(type='Categorical', num_choices=3, logits=[4.0, 0.0, -4.0]), target='model.p',
                           choices=choices)
    runner = SimpleNamespace(model=torch.nn.Dropout(0.5))
    written = []
    for trunk in range(100):
        space.reset_stats()
        space.begin_trunk(runner, trunk, torch.Generator().manual_seed(trunk))
        written.append(runner.model.p)
        assert space.trunk_stats()[choices.index(runner.model.p)] == 1
    assert abs(written.count(0.1) / 100 - float(space.distribution.probs()[0])) < 0.08, written
