"""Arguments of an OHL distribution or controller of the wrong type: a string where a bool goes was truthy
(``learn_std='False'`` learned σ the config said was fixed), a string where a number goes failed with Python's
comparison error naming no argument (``momentum='0.5'``: ``'<=' not supported between instances of 'int' and
'str'``)."""
from __future__ import annotations

import pytest

from automl_mm.ohl import DiagGaussian
from automl_mm.ohl.controllers import REINFORCE


@pytest.mark.parametrize('kwargs, words', [
    (dict(learn_std='False'), r"learn_std must be True or False, got 'False'"),
    (dict(min_std='1e-4'), r"min_std must be a number > 0, got '1e-4'"),
    (dict(std='0.5'), r"std must be a number or one number per dimension, got '0.5'"),
    (dict(std=['0.5']), r"std must be a number or one number per dimension, got \['0.5'\]"),
])
def test_a_gaussian_argument_of_the_wrong_type_is_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DiagGaussian(mean=[0.0], **dict(dict(std=1.0), **kwargs))


def test_the_learned_sigma_is_what_learn_std_says():
    assert len(DiagGaussian(mean=[0.0], std=1.0, learn_std=False).parameters()) == 1
    assert len(DiagGaussian(mean=[0.0], std=1.0, learn_std=True).parameters()) == 2


def test_a_controller_momentum_of_the_wrong_type_is_named():
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got '0.5'"):
        REINFORCE(DiagGaussian(mean=[0.0], std=1.0), baseline='moving_average', momentum='0.5')
