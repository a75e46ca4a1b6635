"""The contract check of OHL distributions (``SAMPLERS``, :class:`~automl_mm.ohl.base.BaseDistribution`):
:func:`check_distribution` (overview in :mod:`automl_mm.testing.contracts`)."""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import torch

from automl_mm.ohl.base import BaseDistribution, build_distribution

from ._assertions import _all_zero, _check, _equal, _fail, _generator


def _take(batch: Any, index: slice) -> Any:
    """Rows ``index`` of a batch of samples (a tensor, or a dict of them as ``Product`` draws)."""
    if isinstance(batch, dict):
        return {k: _take(v, index) for k, v in batch.items()}
    return batch[index]


def _check_per_parameter(dist: BaseDistribution, grads: Any, params: list[torch.Tensor], method: str) -> None:
    """``method`` (a gradient method of ``dist``) returned ``grads``: one tensor per parameter, shaped like it."""
    _check(len(grads) == len(params) and all(g.shape == p.shape for g, p in zip(grads, params)), dist,
           f'{method} must return one tensor per parameter, shaped like it')


def _move_off_start(dist: BaseDistribution, params: list[torch.Tensor], seed: int, draw: Callable[..., torch.Tensor],
                    scale: float, shift: float = 0.0) -> dict:
    """Add ``shift + scale * draw(shape)`` to every parameter (``draw``: ``torch.rand`` or ``torch.randn`` on a
    generator seeded with ``seed``), project ``dist`` back onto its domain and return its state from before, so the
    caller can restore it with ``load_state_dict``."""
    state = copy.deepcopy(dist.state_dict())
    noise = _generator(seed)
    with torch.no_grad():
        for p in params:
            step = scale * draw(p.shape, generator=noise, dtype=p.dtype)
            p.add_(shift + step if shift else step)
    dist.project_()
    return state


def check_distribution(distribution: dict | BaseDistribution, n: int = 8, seed: int = 0) -> BaseDistribution:
    """Check an OHL distribution (``SAMPLERS``) against :class:`~automl_mm.ohl.base.BaseDistribution`.

    Args:
        distribution: Its config (built in automl_mm's scope) or an instance. The instance's parameters are
            changed and restored.
        n: Batch size of the sampled batches (>= 2).
        seed: Seed of the sampling generators.

    Returns:
        The built distribution.

    Raises:
        TypeError: It is not a ``BaseDistribution``.
        AssertionError: A promise of the contract is broken (the message names it).
    """
    dist = build_distribution(distribution)
    params = dist.parameters()
    for i, p in enumerate(params):
        _check(isinstance(p, torch.Tensor) and p.dtype == torch.float64 and p.device.type == 'cpu'
               and p.is_leaf and p.requires_grad, dist, f'parameters()[{i}] must be a float64 CPU leaf tensor with '
               'requires_grad=True')
    size = dist.stats_size()
    _check(isinstance(size, int) and size >= 1, dist, f'stats_size() must be a positive int, got {size!r}')

    batch = dist.sample(generator=_generator(seed), n=n)
    _check(_equal(batch, dist.sample(generator=_generator(seed), n=n)), dist,
           'sample(generator, n) must depend on the generator only (same seed, same batch)')
    _check(not _equal(dist.sample(generator=_generator(seed), n=64), dist.sample(generator=_generator(seed + 7),
                                                                                 n=64)), dist,
           'sample(generator, n) must draw from the generator (two seeds gave the same 64 samples: every copy '
           'would draw the same)')
    _check_frequencies(dist, seed)
    one = dist.sample(generator=_generator(seed + 1))
    lp_one = dist.log_prob(one)
    _check(torch.is_tensor(lp_one) and lp_one.dim() == 0 and bool(torch.isfinite(lp_one)), dist,
           f'log_prob(one sample) must be a finite scalar tensor, got {lp_one!r}')
    lp = dist.log_prob(batch)
    _check(torch.is_tensor(lp) and tuple(lp.shape) == (n,) and bool(torch.isfinite(lp).all()), dist,
           f'log_prob(batch of {n}) must be {n} finite values, got shape {tuple(getattr(lp, "shape", ()))}')
    _check(bool(torch.isfinite(dist.log_prob(dist.mode()))), dist, 'log_prob(mode()) must be finite')

    stats = dist.sufficient_stats(batch)
    _check(torch.is_tensor(stats) and stats.dtype == torch.float64 and tuple(stats.shape) == (size,), dist,
           f'sufficient_stats must be a float64 vector of length stats_size()={size}')
    k = n // 2
    split = dist.sufficient_stats(_take(batch, slice(0, k))) + dist.sufficient_stats(_take(batch, slice(k, n)))
    _check(torch.allclose(split, stats, rtol=1e-12, atol=1e-12), dist,
           'sufficient statistics must add up: stats(a ∪ b) == stats(a) + stats(b)')
    try:
        count = dist.sample_count(stats)
    except NotImplementedError:
        raise _fail(dist, 'sample_count(stats) must be implemented: OHLHook counts every copy\'s samples from its '
                    'statistics at each trunk end') from None
    _check(math.isclose(float(count), n), dist,
           f'sample_count(stats of {n} samples) must be {n}, got {count}')

    grads = dist.grad_mean_log_prob(torch.zeros(size, dtype=torch.float64))
    _check_per_parameter(dist, grads, params, 'grad_mean_log_prob')
    _check(all(_all_zero(g) for g in grads if g.numel()), dist,
           'grad_mean_log_prob of empty statistics must be zero (finite)')
    if params:
        expected = torch.autograd.grad(dist.log_prob(batch).mean(), params, allow_unused=True)
        expected = [torch.zeros_like(p) if e is None else e for e, p in zip(expected, params)]
        for i, (g, e) in enumerate(zip(dist.grad_mean_log_prob(stats), expected)):
            _check(torch.allclose(g.to(torch.float64), e, rtol=1e-6, atol=1e-9), dist,
                   f'grad_mean_log_prob(stats)[{i}] differs from autograd\'s gradient of the mean log_prob '
                   f'(max |diff| {float((g - e).abs().max()):.3g})')

    _check_draws(dist, params, seed)
    state = _move_off_start(dist, params, seed + 13, torch.randn, scale=0.5)
    # where θ has moved (as the controller moves it): a gradient or sampler that reads the starting θ passed above
    _check_draws(dist, params, seed + 1, 'at parameters moved off their start: ')
    dist.load_state_dict(state)

    _check_grad_entropy(dist, params, seed=seed)

    summary = dist.summary(top_k=3)
    try:
        json.dumps(summary)
    except TypeError as exc:
        raise _fail(dist, f'summary() must be JSON-serialisable: {exc}') from exc

    before = dist.log_prob(batch).detach().clone()
    ids = [id(p) for p in params]
    saved = [p.detach().clone() for p in params]
    # not a constant shift: a softmax ignores those, and a no-op load would pass
    state = _move_off_start(dist, params, seed + 3, torch.rand, scale=1.0, shift=0.25)
    dist.load_state_dict(copy.deepcopy(state))
    _check([id(p) for p in dist.parameters()] == ids, dist,
           'load_state_dict must copy into the existing parameter tensors (an optimiser points at them)')
    _check(all(torch.equal(p.detach(), q) for p, q in zip(dist.parameters(), saved)), dist,
           'load_state_dict(state_dict()) must restore every parameter exactly')
    _check(torch.equal(dist.log_prob(batch).detach(), before), dist,
           'load_state_dict(state_dict()) must restore the distribution exactly')
    return dist


def _check_frequencies(dist: BaseDistribution, seed: int, n: int = 4000, max_choices: int = 64) -> None:
    """A discrete distribution (``probs()``) of at most ``max_choices`` choices, its parameters moved off their
    start by seeded noise, must draw its flat indices with frequencies near ``probs()`` (total variation < 0.1; about
    0.05 is what n = 4000 draws give for 64 choices): a sampler that ignores the parameters draws other ones."""
    probs_fn = getattr(dist, 'probs', None)
    if probs_fn is None or len(probs_fn()) > max_choices:
        return
    state = _move_off_start(dist, dist.parameters(), seed + 5, torch.randn, scale=2.0)
    probs = probs_fn().to(torch.float64)
    draws = torch.as_tensor(dist.sample(generator=_generator(seed + 11), n=n)).reshape(-1).long()
    freq = torch.bincount(draws, minlength=len(probs)).to(torch.float64) / n
    tv = 0.5 * float((freq - probs).abs().sum())
    dist.load_state_dict(state)
    _check(tv < 0.1, dist, f'sample() must draw from probs(): {n} draws differ from them by total variation '
           f'{tv:.3f}')


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().to(torch.float64).reshape(-1) for t in tensors]) if tensors else \
        torch.zeros(0, dtype=torch.float64)


def _check_draws(dist: BaseDistribution, params: list[torch.Tensor], seed: int, where: str = '', n: int = 4000,
                 groups: int = 40, directions: int = 3, z: float = 6.0) -> None:
    """At the current θ, on ``n`` seeded draws: every ``log_prob`` is finite; ``grad_mean_log_prob`` of the first
    64 equals autograd's gradient of their mean ``log_prob``; and the score identity E_{x~p_θ}[∇_θ log p_θ(x)] = 0
    holds (the controller's update is unbiased only for samples drawn from p_θ): along ``directions`` seeded random
    directions u, the mean of u·∇_θ log p_θ over the draws (from ``groups`` group means) lies within ``z`` standard
    errors of 0. A sampler that ignores θ (draws from the starting θ, a continuous one too, which the frequency
    test of discrete distributions does not see) has a mean score far from 0."""
    if not params:
        return
    batch = dist.sample(generator=_generator(seed + 17), n=n)
    lp = dist.log_prob(batch)
    _check(torch.is_tensor(lp) and tuple(lp.shape) == (n,) and bool(torch.isfinite(lp).all()), dist,
           f'{where}log_prob must be finite for every sample the distribution draws: '
           f'{int((~torch.isfinite(lp)).sum()) if torch.is_tensor(lp) and lp.shape == (n,) else "?"} of {n} draws '
           'were not')
    head = _take(batch, slice(0, 64))
    expected = torch.autograd.grad(dist.log_prob(head).mean(), params, allow_unused=True)
    expected = [torch.zeros_like(p) if e is None else e for e, p in zip(expected, params)]
    for i, (g, e) in enumerate(zip(dist.grad_mean_log_prob(dist.sufficient_stats(head)), expected)):
        _check(torch.allclose(g.to(torch.float64), e, rtol=1e-6, atol=1e-9), dist,
               f'{where}grad_mean_log_prob(stats)[{i}] differs from autograd\'s gradient of the mean log_prob (max '
               f'|diff| {float((g - e).abs().max()):.3g})')
    size = n // groups
    scores = torch.stack([_flat(dist.grad_mean_log_prob(dist.sufficient_stats(_take(batch, slice(g * size,
                                                                                                   (g + 1) * size)))))
                          for g in range(groups)])
    u = torch.randn(directions, scores.shape[1], generator=_generator(seed + 19), dtype=torch.float64)
    projected = scores @ u.T  # (groups, directions)
    mean, error = projected.mean(dim=0), projected.std(dim=0) / math.sqrt(groups)
    _check(bool((mean.abs() <= z * error + 1e-9).all()), dist,
           f'{where}sample() must draw from the distribution whose log_prob it reports: the mean score '
           f'∇_θ log p_θ(x) of {n} draws is not 0 (along random directions: {[round(float(m), 4) for m in mean]}, '
           f'standard errors {[round(float(e), 4) for e in error]}); does sample() read the current parameters?')


def _check_grad_entropy(dist: BaseDistribution, params: list[torch.Tensor], step: float = 1e-6,
                        seed: int = 0) -> None:
    """``grad_entropy`` (optional: what REINFORCE's entropy bonus uses) returns one tensor per parameter, and where
    ``entropy()`` is reported, its central difference, at parameters moved off their start by seeded noise (at a
    uniform start the true gradient is 0, so a flipped or all-zero ``grad_entropy`` passed)."""
    try:
        grads = dist.grad_entropy()
    except NotImplementedError:
        return
    _check_per_parameter(dist, grads, params, 'grad_entropy')
    if dist.entropy() is None:
        return
    state = _move_off_start(dist, params, seed + 7, torch.randn, scale=0.5)
    grads = dist.grad_entropy()
    for i, (p, g) in enumerate(zip(params, grads)):
        flat = p.detach().view(-1)
        for j in range(flat.numel()):
            with torch.no_grad():
                flat[j] += step
                upper = dist.entropy()
                flat[j] -= 2 * step
                lower = dist.entropy()
                flat[j] += step
            _check(math.isclose(float(g.reshape(-1)[j]), (upper - lower) / (2 * step), rel_tol=1e-4, abs_tol=1e-6),
                   dist, f'grad_entropy()[{i}][{j}] differs from the central difference of entropy()')
    dist.load_state_dict(state)
