"""Mutation audit of OHL-Auto-Aug's learning mechanisms (METHODS.md §2): tests that fail when the mechanism breaks.

* the exported policy is the learned distribution (a mutant writing the uniform one lived: the export tests only
  read fills and text);
* ``FactorisedCategorical`` of two factors of the SAME size (OHL-Auto-Aug's 36 x 36): the second element's
  log-probability and gradient come from the second factor (the tests used factors of unequal sizes, where a
  mutant reading the first factor only crashed on an index, never gave a wrong number silently).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import torch

from automl_mm.ohl import PipelineChoiceSpace
from automl_mm.ohl.distributions import FactorisedCategorical
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)


def test_the_exported_policy_holds_the_learned_pair_probabilities():
    """θ moved onto pair 7 (logit 3 against 0 elsewhere): the exported FixedAutoAugment replays softmax(θ), pair 7
    at e^3 / (e^3 + 323) = 0.0585, every other pair at 1 / (e^3 + 323), not the uniform 1 / 324."""
    from automl_mm.augment import OHLAutoAugment

    runner = _pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa'))
    space = PipelineChoiceSpace(key='aa')
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    with torch.no_grad():
        space.distribution.logits[7] = 3.0
    namespace: dict = {}
    exec(space.export_fragment(), namespace)
    probs = np.asarray(namespace['ohl_fixed_aa']['probs'])
    assert probs.shape == (324, )
    norm = math.exp(3) + 323
    np.testing.assert_allclose(probs[7], math.exp(3) / norm, rtol=1e-9)
    np.testing.assert_allclose(np.delete(probs, 7), 1 / norm, rtol=1e-9)
    assert int(np.argmax(probs)) == 7


def _planted_factorised() -> FactorisedCategorical:
    dist = FactorisedCategorical((3, 3))
    with torch.no_grad():
        dist.logits[0].copy_(torch.tensor([0.0, 1.0, 2.0], dtype=dist.logits[0].dtype))
        dist.logits[1].copy_(torch.tensor([2.0, 0.0, -1.0], dtype=dist.logits[1].dtype))
    return dist


def test_factorised_log_prob_of_the_second_element_reads_the_second_factor():
    """Pair (i, j) = flat index 3 i + j: log p = log softmax(θ1)[i] + log softmax(θ2)[j], θ1 = (0, 1, 2),
    θ2 = (2, 0, -1): pair (1, 0) = log(e / (1 + e + e^2)) + log(e^2 / (e^2 + 1 + e^-1))."""
    dist = _planted_factorised()
    first = math.log(math.e / (1 + math.e + math.e ** 2))
    second = math.log(math.e ** 2 / (math.e ** 2 + 1 + math.exp(-1)))
    assert math.isclose(float(dist.log_prob(3).detach()), first + second, rel_tol=1e-12)
    np.testing.assert_allclose(dist.probs().reshape(3, 3).sum(0).numpy(),
                               torch.softmax(torch.tensor([2.0, 0.0, -1.0], dtype=torch.float64), 0).numpy())


def test_factorised_gradient_of_the_second_element_is_its_own_marginal():
    """Choices (0, 2), (0, 2), (1, 2), (2, 1): the first factor's marginal is (2, 1, 1) / 4, the second's
    (0, 1, 3) / 4; each factor's gradient is its marginal minus its own softmax (METHODS.md §1)."""
    dist = _planted_factorised()
    grads = dist.grad_mean_log_prob(dist.sufficient_stats(torch.tensor([2, 2, 5, 7])))
    p1 = torch.softmax(torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), 0)
    p2 = torch.softmax(torch.tensor([2.0, 0.0, -1.0], dtype=torch.float64), 0)
    torch.testing.assert_close(grads[0].double(), torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64) - p1)
    torch.testing.assert_close(grads[1].double(), torch.tensor([0.0, 0.25, 0.75], dtype=torch.float64) - p2)


def test_the_pair_applied_to_an_image_is_the_pair_its_choice_records():
    """The recorded ``ohl_choice`` is what the controller is credited with, so it must name the two elements that
    actually transformed the image: every element's ``apply`` is logged over 60 images (uniform draws over the
    randaugment set's 324 pairs) and the log must be ``pair(recorded)``, first then second. Red when the policy
    applies ``pair(index + 1)`` while recording ``index``, when it records ``index + 1`` for the pair it applied, and
    when the choice transform applies choice 0 while recording the draw: the other tests logged the index handed to
    ``apply_choice`` (not the elements) or read the recorded index only."""
    from automl_mm.augment import OHLAutoAugment

    transform = OHLAutoAugment(elements='randaugment', key='aa', fill=0)
    applied = []

    def logging(element, apply):
        def logged(results, rng):
            applied.append(element.name)
            return apply(results, rng)
        return logged

    for element in transform.elements:
        element.apply = logging(element, element.apply)
    np.random.seed(0)
    recorded = set()
    for _ in range(60):
        applied.clear()
        index = transform({'img': np.full((8, 8, 3), 100, np.uint8)})['ohl_choice']['aa']
        assert applied == [element.name for element in transform.pair(index)], (index, applied)
        recorded.add(index)
    assert len(recorded) > 30  # many pairs, not one that an off-by-one happens to map to itself
