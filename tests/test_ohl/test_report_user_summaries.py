"""``distribution_<space>.png`` of a distribution of one's own: its summary (``{'mu': .., 'sigma': ..}``) has none
of automl_mm's keys (``top``, ``mean``, ``components``), so the figure was drawn empty, without a word; a summary
whose ``mean`` is one number stopped the run at the trunk end (``TypeError: object of type 'float' has no
len()``). Now every number of the summary is a curve, else θ from the history."""
from __future__ import annotations

import math

from automl_mm.ohl.report import _series


def _history(summaries, thetas=None):
    return [dict(trunk=t, distributions=dict(s=summary), theta=dict(s=thetas[t] if thetas else [[0.0]]))
            for t, summary in enumerate(summaries)]


def test_every_number_of_a_summary_of_ones_own_is_a_curve():
    curves = _series(_history([dict(type='MyGauss', mu=0.1, sigma=0.3), dict(type='MyGauss', mu=0.5, sigma=0.2)]),
                     's')
    assert curves == dict(mu=[0.1, 0.5], sigma=[0.3, 0.2])


def test_a_summary_whose_mean_is_a_number_is_drawn_not_fatal():
    curves = _series(_history([dict(mean=0.1, std=1.0), dict(mean=0.4, std=0.9)]), 's')
    assert curves == dict(mean=[0.1, 0.4], std=[1.0, 0.9])


def test_a_summary_without_numbers_draws_theta():
    curves = _series(_history([dict(kind='beta'), dict(kind='beta', note='x')], thetas=[[[1.0, 2.0]], [[1.5, 2.5]]]),
                     's')
    assert curves == {'θ[0][0]': [1.0, 1.5], 'θ[0][1]': [2.0, 2.5]}


def test_automl_mm_summaries_are_drawn_as_before():
    curves = _series(_history([dict(mean=[0.0], std=[1.0]), dict(mean=[0.5], std=[0.8])]), 's')
    assert curves == {'mean[0]': [0.0, 0.5], 'std[0]': [1.0, 0.8]}
    top = _series(_history([dict(top=[dict(choice=0, prob=0.6)]), dict(top=[dict(choice=1, prob=0.7)])]), 's')
    assert top['p(0)'][0] == 0.6 and math.isnan(top['p(0)'][1]) and top['p(1)'][1] == 0.7
