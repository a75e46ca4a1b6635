"""``AMLFSLoss`` against METHODS.md §3's formula at points computed by hand and at random θ, value and gradient.

``L = -log tau(p_y)``, ``p_y = e^{s_y t(cos_y)} / (e^{s_y t(cos_y)} + sum_{j != y} e^{f_j})`` with
``s_y = ||W_y|| ||x||`` (or the fixed ``scale``) and ``f_j`` the other logits, unchanged; ``t`` and ``tau`` piecewise
linear over ``M`` equal intervals, each closed on the left (a point on a boundary takes the right-hand piece,
``x = hi`` the last).

The other tests check θ whose pieces are all alike (identity, CosFace) or a secant fit within a tolerance, where the
choice of piece does not show: ``tau``'s piece chosen by ``round(p M)`` instead of ``floor(p M)`` passed every one.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from automl_mm.losses import AMLFSLoss

# M = 2, the paper's layout [a_t, b_t, a_tau, b_tau]: t(x) = x on [-1, 0), 2x - 0.25 on [0, 1];
# tau(p) = 0.5 p + 0.1 on [0, 0.5), 0.5 p + 0.5 on [0.5, 1] (a jump at 0.5, so the piece taken at p = 0.5 shows)
THETA = [1.0, 2.0, 0.0, -0.25, 0.5, 0.5, 0.1, 0.5]


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def _row(loss, logits, target, w_norm, x_norm):
    """The loss of one sample, in float64."""
    d = torch.float64
    return loss(torch.tensor([logits], dtype=d), torch.tensor([target]), torch.tensor(w_norm, dtype=d),
                torch.tensor([x_norm], dtype=d), reduction_override='none')[0].item()


# (logits, target, ||W_j||, ||x||, loss by hand)
HAND = {
    # cos_y = 0.5: t = 2 * 0.5 - 0.25 = 0.75, target logit 2 * 0.75 = 1.5, p = sigmoid(1.5) = 0.8176 in tau's right
    # piece: tau = 0.5 p + 0.5
    'target in the right pieces': ([1.0, 0.0], 0, [1.0, 1.0], 2.0, -math.log(0.5 * _sigmoid(1.5) + 0.5)),
    # cos_y = 0 is on t's boundary: the right piece, t(0) = -0.25 (the left piece would give t(0) = 0);
    # p = sigmoid(-0.5 - 1) in tau's left piece: tau = 0.5 p + 0.1
    't at its interval boundary': ([1.0, 0.0], 1, [1.0, 1.0], 2.0, -math.log(0.5 * _sigmoid(-1.5) + 0.1)),
    # cos_y = -0.5: t = -0.5, target logit -1.0 = the other: p = 0.5 exactly, on tau's jump: the right piece,
    # tau = 0.75 (the left piece would give 0.35)
    'tau at its interval boundary': ([-1.0, -1.0], 0, [1.0, 1.0], 2.0, -math.log(0.75)),
    # confidently wrong, p = e^-120: tau(p) ~ tau(0) = 0.1 bounds the loss (cross-entropy would be 120)
    'p at 0': ([-60.0, 60.0], 0, [1.0, 1.0], 60.0, -math.log(0.1)),
    # confidently right, p = 1: tau(1) = 1, nothing to learn
    'p at 1': ([60.0, -60.0], 0, [1.0, 1.0], 60.0, 0.0),
    # t acts on the target only: class 2 has cos 0.5 too, and keeps its logit 0.25 (not 0.5 * 0.75)
    'other classes keep their logits': ([0.5, -1.0, 0.25], 0, [1.0, 2.0, 0.5], 1.0,
                                        -math.log(0.5 * math.exp(0.75) / (math.exp(0.75) + math.exp(-1.0)
                                                                          + math.exp(0.25)) + 0.5)),
}


@pytest.mark.parametrize('case', sorted(HAND))
def test_the_loss_at_points_computed_by_hand(case):
    logits, target, w_norm, x_norm, expected = HAND[case]
    loss = AMLFSLoss(num_intervals=2, parametrisation='piecewise', theta=THETA)
    assert _row(loss, logits, target, w_norm, x_norm) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_the_gradient_at_a_point_computed_by_hand():
    """Row 'target in the right pieces': z = 2 t(logit_y / 2) - logit_other, dz/dlogit_y = t' = 2;
    dL/dz = -0.5 p (1 - p) / tau."""
    loss = AMLFSLoss(num_intervals=2, parametrisation='piecewise', theta=THETA)
    logits = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    loss(logits, torch.tensor([0]), torch.ones(2, dtype=torch.float64), torch.tensor([2.0], dtype=torch.float64)
         ).backward()
    p = _sigmoid(1.5)
    dz = -0.5 * p * (1 - p) / (0.5 * p + 0.5)
    torch.testing.assert_close(logits.grad, torch.tensor([[2 * dz, -dz]], dtype=torch.float64), rtol=1e-12, atol=0)


def _formula(loss, w, x, target):
    """METHODS.md §3 written out sample by sample (the piece of each point chosen by hand), differentiable in w, x."""
    m = loss.num_intervals
    a_t, b_t, a_tau, b_tau = loss.pieces.split(m)
    rows = []
    for i in range(x.shape[0]):
        w_norm, x_norm = w.norm(dim=1), x[i].norm()
        cos = (w @ x[i]) / (w_norm * x_norm)
        size = w_norm * x_norm if loss.scale is None else torch.full_like(cos, loss.scale)
        y = int(target[i])
        c = cos[y]
        k = min(int(math.floor((c.item() + 1.0) / 2.0 * m)), m - 1)
        logits = [size[j] * (a_t[k] * c + b_t[k]) if j == y else size[j] * cos[j] for j in range(len(cos))]
        p = F.softmax(torch.stack(logits), 0)[y]
        k = min(int(math.floor(p.item() * m)), m - 1)
        tau = torch.clamp(torch.maximum(a_tau[k] * p + b_tau[k], loss.eps * p), max=1.0)
        rows.append(-torch.log(tau))
    return torch.stack(rows).mean() * loss.loss_weight


@pytest.mark.parametrize('parametrisation,std', [('monotone', 0.5), ('piecewise', 0.4)])
@pytest.mark.parametrize('scale', [None, 8.0])
def test_value_and_gradient_follow_the_formula_at_random_theta(parametrisation, std, scale):
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        loss = AMLFSLoss(num_intervals=3, parametrisation=parametrisation, scale=scale, loss_weight=1.5)
        loss.theta = loss.theta + std * torch.randn(loss.theta.shape, generator=g, dtype=torch.float64)
        w = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
        x = (2 * torch.randn(6, 3, generator=g, dtype=torch.float64)).requires_grad_()
        target = torch.randint(0, 4, (6,), generator=g)
        value = loss(x @ w.t(), target, w.norm(dim=1), x.norm(dim=1))
        expected = _formula(loss, w, x, target)
        torch.testing.assert_close(value, expected, rtol=1e-10, atol=1e-12)
        for got, want in zip(torch.autograd.grad(value, (w, x)), torch.autograd.grad(expected, (w, x))):
            torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('scale', [None, 8.0])
def test_half_precision_inputs_are_evaluated_in_float32(dtype, scale):
    """Logits and norms in float16 / bfloat16 (a half-precision head) give the float32 loss of the same values."""
    g = torch.Generator().manual_seed(1)
    loss = AMLFSLoss(num_intervals=3, scale=scale)
    loss.theta = 0.5 * torch.randn(loss.theta.shape, generator=g, dtype=torch.float64)
    w, x = torch.randn(5, 4, generator=g), 3 * torch.randn(8, 4, generator=g)
    target = torch.randint(0, 5, (8,), generator=g)
    logits, w_norm, x_norm = (x @ w.t()).to(dtype), w.norm(dim=1).to(dtype), x.norm(dim=1).to(dtype)
    logits.requires_grad_()
    value = loss(logits, target, w_norm, x_norm, reduction_override='none')
    expected = loss(logits.detach().float(), target, w_norm.float(), x_norm.float(), reduction_override='none')
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-6)
    (grad, ) = torch.autograd.grad(value.sum(), logits)
    assert grad.dtype == dtype and torch.isfinite(grad).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('scale', [None, 8.0])
def test_a_feature_parallel_to_its_class_weight_has_cos_1_in_half_precision(dtype, scale):
    """x = W_y = (1, 1): the half norms round sqrt(2) down to 1.4140625, so logit / (||W_y|| ||x||) reads 1.0002; the
    cosine is 1 and t is taken there, t(1) = 1 + c_t (monotone θ, c_t = -0.35, slope 3 on the last piece, which
    would stretch the excess 0.0002 three times)."""
    theta = [0.0, math.log(3.0), -0.35, 0.0, 0.0, 0.0]
    loss = AMLFSLoss(num_intervals=2, theta=theta, scale=scale)
    x = torch.tensor([[1.0, 1.0]], dtype=dtype)
    w = torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=dtype)
    w_norm, x_norm = w.norm(dim=1), x.norm(dim=1)
    assert (x @ w.t())[0, 0].float() / (w_norm[0].float() * x_norm[0].float()) > 1.0  # the rounding this is about
    got = loss(x @ w.t(), torch.tensor([0]), w_norm, x_norm)
    if scale is None:  # the margin is added to the logit, 2 + ||W_y|| ||x|| (t(1) - 1): identity t keeps it exact
        logits = torch.stack([2.0 + w_norm[0].float() * x_norm[0].float() * (0.65 - 1.0), torch.tensor(1.0)])
    else:
        logits = torch.stack([torch.tensor(scale * 0.65), scale / (w_norm[1].float() * x_norm[0].float())])
    torch.testing.assert_close(got, F.cross_entropy(logits[None], torch.tensor([0])), rtol=1e-6, atol=1e-7)
