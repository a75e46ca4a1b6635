"""What a space says of itself: summaries naming the value a choice sets (a Product's with its entropy), and
signatures saying what θ means (the resume checks compare them)."""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.ohl import AttributeSpace
from tests.test_ohl._spaces import _fresh_layout  # noqa: F401  (autouse)


def test_attribute_space_summaries_name_the_value_a_choice_sets():
    """The summary, log and heatmap showed the index: 'choice 3' for the lr 0.3."""
    space = AttributeSpace(dict(type='Categorical', num_choices=4, logits=[3.0, 0.0, 0.0, 0.0]),
                           target='optim_wrapper.lr', choices=[0.3, 0.1, 0.03, 0.01])
    assert space.distribution.summary()['top'][0] == {'choice': 0.3, 'index': 0, 'prob': pytest.approx(0.87, abs=0.01)}
    labelled = AttributeSpace(dict(type='Categorical', num_choices=2, labels=['high', 'low']), target='model.p',
                              choices=[0.5, 0.1])
    assert labelled.distribution.summary()['top'][0]['choice'] in ('high', 'low')  # the config's labels win


def test_a_product_summary_carries_its_entropy():
    """The progress line reads the summary's entropy: a Product space showed none."""
    from automl_mm.ohl.distributions import Product

    dist = Product(dict(a=dict(type='Categorical', num_choices=3), b=dict(type='Categorical', num_choices=4)))
    assert dist.summary()['entropy'] == pytest.approx(np.log(3) + np.log(4))


def test_attribute_and_loss_spaces_sign_what_theta_means():
    from automl_mm.losses import LossFunctionSpace

    def attribute(choices, target='optim_wrapper.lr'):
        return AttributeSpace(dict(type='Categorical', num_choices=len(choices)), target=target, choices=choices)

    assert attribute([0.1, 0.01]).signature() == attribute([0.1, 0.01]).signature()
    assert attribute([0.1, 0.01]).signature() != attribute([0.01, 0.1]).signature()
    assert attribute([0.1, 0.01]).signature() != attribute([0.1, 0.01], target='model.head.dropout.p').signature()
    assert LossFunctionSpace(num_intervals=6, parametrisation='monotone').signature() != \
        LossFunctionSpace(num_intervals=6, parametrisation='piecewise').signature()
