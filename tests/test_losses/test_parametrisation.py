"""The monotone parametrisation of AM-LFS: every sampled θ is a valid loss, and θ = 0 is cross-entropy."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from automl_mm.losses import (
    AMLFSLoss,
    LossFunctionSpace,
    cosface_theta,
    identity_theta,
    monotone_identity_theta,
    monotone_pieces,
    theta_length,
)
from automl_mm.ohl import CopyLayout

M = 6
X_T = torch.linspace(-1.0, 1.0, 2001, dtype=torch.float64)  # includes every interval end
P = torch.linspace(0.0, 1.0, 2001, dtype=torch.float64)


def _inputs(n=64, c=10, d=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype) * 3
    w = torch.randn(c, d, generator=g, dtype=dtype)
    return x @ w.t(), torch.randint(0, c, (n,), generator=g), w.norm(dim=1), x.norm(dim=1)


def _raw_tau(loss, p):
    """tau of the pieces without the loss's floor and cap (to test the parametrisation, not the safety net)."""
    _, _, a_tau, b_tau = loss.pieces.split(M)
    k = torch.floor(p * M).clamp(0, M - 1).long()
    return a_tau[k] * p + b_tau[k]


@pytest.mark.parametrize('std', [0.05, 0.2, 0.45, 1.0, 3.0])
def test_every_sampled_theta_gives_increasing_t_and_tau_within_0_1(std):
    g = torch.Generator().manual_seed(int(std * 100))
    loss = AMLFSLoss(num_intervals=M)
    for _ in range(300):
        loss.theta = torch.randn(2 * M + 2, generator=g, dtype=torch.float64) * std
        t = loss.t_function(X_T)
        assert (t[1:] - t[:-1] > 0).all()  # strictly increasing on [-1, 1], also across interval ends
        tau = _raw_tau(loss, P)
        assert (tau[1:] - tau[:-1] > 0).all()  # strictly increasing, also across interval ends (continuous)
        assert tau[0] >= 0 and (tau[1:] > 0).all() and tau[-1] == pytest.approx(1.0, abs=1e-12)
        assert (tau <= 1 + 1e-12).all()


def test_extreme_theta_is_still_a_valid_finite_loss():
    logits, target, w_norm, x_norm = _inputs()
    for value in (-50.0, 50.0, 700.0, -700.0):
        loss = AMLFSLoss(num_intervals=M, theta=torch.full((2 * M + 2,), value, dtype=torch.float64))
        assert torch.isfinite(loss.pieces).all()
        t = loss.t_function(X_T)
        assert (t[1:] - t[:-1] >= -1e-12 * (1 + t.abs().max())).all()  # monotone up to rounding at the joints
        tau = loss.tau_function(P)
        assert (tau[1:] - tau[:-1] >= -1e-12).all() and (tau <= 1).all()
        a = logits.clone().requires_grad_(True)
        value = loss(a, target, w_norm, x_norm)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(a.grad).all()


def test_identity_layout_is_exact():
    pieces = monotone_pieces(monotone_identity_theta(M), M)
    assert pieces.tolist() == identity_theta(M).tolist()  # bit for bit: slopes 1.0, intercepts 0.0
    assert theta_length('monotone', M) == 2 * M + 2 and theta_length('piecewise', M) == 4 * M


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('scale', [None, 16.0])
def test_the_start_is_cross_entropy_numerically(dtype, scale):
    logits, target, w_norm, x_norm = _inputs(dtype=dtype)
    if scale is None:  # confidently wrong, exp(log p) underflows: the start must not cap the loss
        logits[0, target[0]] = -200.0
    loss = AMLFSLoss(scale=scale)
    assert loss.parametrisation == 'monotone' and torch.equal(loss.theta, monotone_identity_theta(M))
    a = logits.clone().requires_grad_(True)
    value = loss(a, target, w_norm, x_norm)
    value.backward()
    b = logits.clone().requires_grad_(True)
    ref = b if scale is None else scale * b / (x_norm[:, None] * w_norm[None, :])
    expected = F.cross_entropy(ref, target)
    expected.backward()
    assert value.item() == pytest.approx(expected.item(), rel=1e-6 if dtype == torch.float32 else 1e-12)
    assert torch.allclose(a.grad, b.grad, rtol=1e-5, atol=1e-7 if dtype == torch.float32 else 1e-14)


def test_c_t_is_a_cosface_margin():
    logits, target, w_norm, x_norm = _inputs()
    theta = monotone_identity_theta(M)
    theta[M] = -0.35
    monotone = AMLFSLoss(theta=theta)(logits, target, w_norm, x_norm)
    piecewise = AMLFSLoss(parametrisation='piecewise', theta=cosface_theta(0.35))(logits, target, w_norm, x_norm)
    assert monotone.item() == pytest.approx(piecewise.item(), rel=1e-12)


def test_tau_floor_bounds_the_loss_of_mislabelled_samples():
    theta = monotone_identity_theta(M)
    theta[-1] = 0.5  # w_0 = 1 - exp(-0.5)
    loss = AMLFSLoss(theta=theta)
    logits = torch.tensor([[50.0, 0.0]], dtype=torch.float64)  # confidently predicts class 0, label says 1
    value = loss(logits, torch.tensor([1]), torch.ones(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    assert value.item() == pytest.approx(-math.log(1 - math.exp(-0.5)), rel=1e-9)  # capped at -log w_0
    theta[-1] = -3.0  # a negative r is w_0 = 0: unbounded, cross-entropy-like
    assert AMLFSLoss(theta=theta).tau_function(torch.tensor([0.0], dtype=torch.float64)).item() == 0.0


def test_a_theta_of_the_other_layout_gets_an_error_naming_the_key():
    with pytest.raises(ValueError, match="parametrisation='piecewise'"):
        AMLFSLoss(theta=identity_theta(M))  # 24 values given to the default (monotone) loss
    with pytest.raises(ValueError, match="parametrisation='monotone'"):
        AMLFSLoss(parametrisation='piecewise', theta=monotone_identity_theta(M))
    with pytest.raises(ValueError, match='parametrisation must be one of'):
        AMLFSLoss(parametrisation='free')


def test_space_starts_at_zero_and_refuses_a_loss_of_the_other_parametrisation():
    space = LossFunctionSpace(num_intervals=M)
    assert torch.equal(space.distribution.mode(), monotone_identity_theta(M))
    assert torch.allclose(space.distribution.std(), torch.full((2 * M + 2,), 0.05, dtype=torch.float64))
    legacy = LossFunctionSpace(num_intervals=M, parametrisation='piecewise')
    assert torch.allclose(legacy.distribution.std(), torch.full((4 * M,), 0.2**0.5, dtype=torch.float64))
    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(
        loss_module=AMLFSLoss(parametrisation='piecewise'))))
    with pytest.raises(ValueError, match='same parametrisation'):
        space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    legacy.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    legacy.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    assert runner.model.head.loss_module.theta.shape == (4 * M,)


def test_paper_layout_samples_are_mostly_invalid_which_is_why_monotone_is_the_default():
    # The measured failure of the paper's layout: with sigma^2 = 0.2 most samples are not monotone (jumps down
    # between pieces) or put tau outside (0, 1]. The monotone layout never does (test above).
    g = torch.Generator().manual_seed(0)
    loss = AMLFSLoss(parametrisation='piecewise')
    bad = 0
    for _ in range(200):
        loss.theta = identity_theta(M) + torch.randn(4 * M, generator=g, dtype=torch.float64) * 0.2**0.5
        t, tau = loss.t_function(X_T), _raw_tau(loss, P)
        bad += bool((t[1:] < t[:-1]).any() or (tau[1:] < tau[:-1]).any() or (tau[1:] <= 0).any() or (tau > 1).any())
    assert bad > 150


@pytest.mark.parametrize('value', [100.0, 1000.0])
def test_an_extreme_log_slope_gives_a_finite_loss_in_float32(value):
    """t's slopes exp(s_t) are capped at exp(30): exp(100) is inf in float32, the logits' dtype t is evaluated in
    (inf x - inf: a NaN loss), and exp(1000) in float64 too. Every finite θ is a valid loss (the module docstring)."""
    logits, target, w_norm, x_norm = (v.float() if v.is_floating_point() else v for v in _inputs())
    theta = torch.zeros(2 * M + 2, dtype=torch.float64)
    theta[:M] = value  # s_t
    loss = AMLFSLoss(num_intervals=M, theta=theta)
    assert torch.isfinite(loss.pieces).all() and loss.pieces[:M].max().item() == pytest.approx(math.exp(30.0))
    a = logits.clone().requires_grad_(True)
    out = loss(a, target, w_norm, x_norm)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(a.grad).all()
