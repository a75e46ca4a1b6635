"""What each component of a ``'monotone'`` θ means (parametrisation.py, METHODS.md §3 as implemented): ``t`` has
slope ``exp(s_t[k])`` on interval ``k``, ``tau`` rises on interval ``k`` by the fraction ``softmax(s_tau)[k]`` of
``1 - w_0``. The other tests (monotone, identity at θ = 0, ``c_t`` a CosFace margin) passed with ``exp(-s_t)`` and
``softmax(-s_tau)``: a learned θ exported and read by the documented definition would have been another loss."""
from __future__ import annotations

import math

import pytest
import torch

from automl_mm.losses import AMLFSLoss, monotone_identity_theta

M = 4


def _knots(fn, lo, hi):
    return fn(torch.linspace(lo, hi, M + 1, dtype=torch.float64))


def test_s_t_is_the_log_slope_of_t_on_its_interval():
    theta = monotone_identity_theta(M)
    theta[1] = math.log(3.0)  # interval 1 of t, [-0.5, 0]: slope 3
    theta[M] = -0.2  # t(1) = 0.8
    loss = AMLFSLoss(num_intervals=M, theta=theta)
    values = _knots(loss.t_function, -1.0, 1.0)
    slopes = (values[1:] - values[:-1]) / (2.0 / M)
    assert slopes.tolist() == pytest.approx([1.0, 3.0, 1.0, 1.0], rel=1e-12)
    assert values[-1].item() == pytest.approx(0.8, rel=1e-12)


def test_s_tau_is_where_tau_rises():
    theta = monotone_identity_theta(M)
    theta[M + 1 + 2] = math.log(5.0)  # interval 2 of tau gets weight 5 of 8: softmax [1, 1, 5, 1] / 8
    loss = AMLFSLoss(num_intervals=M, theta=theta)
    _, _, a_tau, b_tau = loss.pieces.split(M)
    p = torch.linspace(0.0, 1.0, M + 1, dtype=torch.float64)
    k = torch.floor(p * M).clamp(0, M - 1).long()
    values = a_tau[k] * p + b_tau[k]  # tau without the loss's floor and cap
    rises = values[1:] - values[:-1]
    assert rises.tolist() == pytest.approx([1 / 8, 1 / 8, 5 / 8, 1 / 8], rel=1e-12)
    assert values[0].item() == pytest.approx(0.0, abs=1e-15) and values[-1].item() == pytest.approx(1.0)


@pytest.mark.parametrize('parametrisation', ['piecewise', 'monotone'])
def test_the_space_names_each_coordinate_by_what_it_is(parametrisation):
    """``LossFunctionSpace.dimension_names()`` labels the curves of ``distribution_loss.png``: each name must say what
    its coordinate of θ does in the loss (the piecewise names were not checked: interleaved ``a_t[0], b_t[0], ...``
    labels over the part-major layout named every intercept a slope)."""
    from automl_mm.losses import LossFunctionSpace

    names = LossFunctionSpace(num_intervals=M, parametrisation=parametrisation).dimension_names()
    theta = torch.linspace(0.1, 0.9, len(names), dtype=torch.float64)  # distinct, non-negative: nothing projected
    loss = AMLFSLoss(num_intervals=M, theta=theta, parametrisation=parametrisation)
    a_t, b_t, a_tau, b_tau = loss.pieces.split(M)
    value = dict(zip(names, theta.tolist()))
    for k in range(M):
        if parametrisation == 'piecewise':
            assert [value[f'{part}[{k}]'] for part in ('a_t', 'b_t', 'a_tau', 'b_tau')] == \
                [a_t[k].item(), b_t[k].item(), a_tau[k].item(), b_tau[k].item()]
        else:
            assert a_t[k].item() == pytest.approx(math.exp(value[f's_t[{k}]']), rel=1e-12)
            weights = torch.tensor([math.exp(value[f's_tau[{i}]']) for i in range(M)], dtype=torch.float64)
            w_0 = 1.0 - math.exp(-value['r_tau'])
            assert a_tau[k].item() == pytest.approx((1 - w_0) * M * (weights[k] / weights.sum()).item(), rel=1e-12)
    if parametrisation == 'monotone':
        assert loss.t_function(torch.ones(1, dtype=torch.float64)).item() == pytest.approx(1.0 + value['c_t'])
        assert loss.tau_function(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(
            1.0 - math.exp(-value['r_tau']))
