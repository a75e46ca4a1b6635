"""Parametrisations of AM-LFS's θ: the paper's free pieces, and a monotone one in which every θ is a valid loss.

Both describe piecewise-linear ``t`` on ``[-1, 1]`` and ``tau`` on ``[0, 1]`` with ``M`` equal intervals, and both
are evaluated as the slopes and intercepts of the pieces, ``[a_t (M), b_t (M), a_tau (M), b_tau (M)]``.

* ``'piecewise'`` (METHODS.md §3, the public reimplementation): θ *is* those ``4 M`` numbers. Most Gaussian
  samples give a non-monotone ``t`` or ``tau`` with jumps, and ``tau`` can leave ``(0, 1]`` (then it is clamped:
  ``tau >= 1`` has zero gradient).
* ``'monotone'`` (ours, issue #15): θ = ``[s_t (M), c_t, s_tau (M), r_tau]``, ``2 M + 2`` unconstrained numbers,
  mapped to continuous, strictly increasing ``t`` and ``tau`` with ``tau`` in ``(0, 1]`` on ``(0, 1]``:

  - ``t`` has slope ``exp(s_t[k])`` on interval ``k`` and ends at ``t(1) = 1 + c_t`` (``c_t = -m``: a CosFace
    margin ``m``);
  - ``tau`` starts at ``tau(0) = w_0 = 1 - exp(-max(r_tau, 0))`` in ``[0, 1)``, ends at ``tau(1) = 1``, and
    rises on interval ``k`` by the fraction ``softmax(s_tau)[k]`` of ``1 - w_0``. ``w_0 > 0`` bounds the loss
    by ``-log w_0`` (a robust, GCE-like loss); ``tau(1) = 1`` loses nothing, since scaling ``tau`` by a constant
    only adds a constant to ``-log tau``.

  θ = 0 is the identity (softmax cross-entropy) exactly: slopes 1 and intercepts 0 in floating point.
"""
from __future__ import annotations

import torch

PARAMETRISATIONS = ('monotone', 'piecewise')
# exp(±30) ≈ 1e13 / 1e-13: far outside any sampled log-slope, and no overflow to inf (then NaN intercepts).
_MAX_LOG_SLOPE = 30.0


def check_parametrisation(parametrisation: str) -> str:
    """Return ``parametrisation`` if known, else raise ``ValueError`` naming the choices."""
    if parametrisation not in PARAMETRISATIONS:
        raise ValueError(f'parametrisation must be one of {PARAMETRISATIONS}, got {parametrisation!r}')
    return parametrisation


def theta_length(parametrisation: str, num_intervals: int) -> int:
    """Length of θ: ``4 M`` (``'piecewise'``) or ``2 M + 2`` (``'monotone'``)."""
    return 4 * num_intervals if check_parametrisation(parametrisation) == 'piecewise' else 2 * num_intervals + 2


def monotone_identity_theta(num_intervals: int = 6) -> torch.Tensor:
    """θ of softmax cross-entropy in the ``'monotone'`` parametrisation: ``2 M + 2`` zeros (float64)."""
    return torch.zeros(2 * num_intervals + 2, dtype=torch.float64)


def monotone_pieces(theta: torch.Tensor, num_intervals: int) -> torch.Tensor:
    """Slopes and intercepts ``[a_t, b_t, a_tau, b_tau]`` (float64, ``4 M``) of a ``'monotone'`` θ.

    Writing each piece relative to the identity (``t(x) = x + delta``) keeps θ = 0 exact: every slope is
    ``1.0`` and every intercept ``0.0``, bit for bit.

    Args:
        theta: ``(2 M + 2,)`` ``[s_t, c_t, s_tau, r_tau]``, finite.
        num_intervals: ``M``.

    Returns:
        ``(4 M,)`` float64. ``a_t > 0``, ``a_tau >= 0`` (``> 0`` unless a softmax weight underflows), ``t`` and
        ``tau`` continuous, ``tau(0) = w_0 >= 0`` and ``tau(1) = 1`` up to rounding.

    Examples:
        >>> monotone_pieces(monotone_identity_theta(2), 2).tolist()
        [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        >>> theta = torch.tensor([0.0, 0.0, -0.35, 0.0, 0.0, 0.0], dtype=torch.float64)
        >>> monotone_pieces(theta, 2)[:4].tolist()  # CosFace t(x) = x - 0.35
        [1.0, 1.0, -0.35, -0.35]
    """
    num = num_intervals
    theta = torch.as_tensor(theta, dtype=torch.float64)
    device = theta.device
    if theta.shape != (2 * num + 2,):
        raise ValueError(f'a monotone theta has 2 * num_intervals + 2 = {2 * num + 2} values, got '
                         f'{tuple(theta.shape)}')
    s_t, c_t, s_tau, r_tau = theta[:num], theta[num], theta[num + 1:2 * num + 1], theta[2 * num + 1]
    # t on [-1, 1]: left edges x_k, knot values v_k = x_k + delta_k, v_M = 1 + c_t.
    width_t = 2.0 / num
    edges_t = -1.0 + width_t * torch.arange(num, dtype=torch.float64, device=device)
    a_t = torch.exp(s_t.clamp(-_MAX_LOG_SLOPE, _MAX_LOG_SLOPE))
    excess_t = a_t - 1.0
    tail = torch.flip(torch.cumsum(torch.flip(excess_t, [0]), 0), [0])  # sum over intervals i >= k
    delta = c_t - tail * width_t
    b_t = delta - excess_t * edges_t
    # tau on [0, 1]: tau = w_0 + (1 - w_0) g with g increasing from 0 to 1, slope g_k = M softmax(s_tau)_k.
    width_tau = 1.0 / num
    edges_tau = width_tau * torch.arange(num, dtype=torch.float64, device=device)
    weights = torch.exp(s_tau - s_tau.max())
    g = weights / weights.mean()  # exactly 1.0 at s_tau = 0
    w_0 = -torch.expm1(-r_tau.clamp(min=0.0))
    excess_tau = g - 1.0
    head = torch.cumsum(excess_tau, 0) - excess_tau  # sum over intervals i < k
    a_tau = (1.0 - w_0) * g
    b_tau = w_0 + (1.0 - w_0) * (head * width_tau - excess_tau * edges_tau)
    return torch.cat([a_t, b_t, a_tau, b_tau])
