"""Contract checks of the AutoML families: one call checks an implementation (automl_mm's own or a plugin).

Each ``check_*`` builds the implementation from its config (or takes an instance), drives it the way its engine
does and raises ``AssertionError`` naming the class and the broken promise. automl_mm's own tests run every check
on every registered implementation (``tests/test_contracts.py``); run the same on yours::

    from automl_mm.testing import check_ohl_space, toy_runner
    check_ohl_space(dict(type='MyLrSpace', choices=[0.1, 0.01]), runner=toy_runner())

Families and what is checked:

* :func:`check_distribution` (``SAMPLERS``, OHL): seeded sampling is reproducible; ``log_prob`` is finite with
  the right shape; sufficient statistics add up over a split batch and count its samples; the analytic
  ``grad_mean_log_prob`` equals autograd's gradient of the mean log-probability (what REINFORCE relies on) and is
  zero without samples; ``grad_entropy``, where implemented, is the entropy's gradient (central differences of
  ``entropy()``); ``state_dict`` round-trips into the same parameter tensors; ``summary`` is JSON.
* :func:`check_controller` (``CONTROLLERS``, OHL): a step moves the distribution toward the better copy's samples;
  steps are bitwise deterministic given their inputs (every rank applies the same update); ``state_dict``
  resumes exactly.
* :func:`check_ohl_space` (``SEARCH_SPACES``, OHL): ``setup`` / ``begin_trunk`` / ``after_train_iter`` /
  ``trunk_stats`` / ``reset_stats`` / ``export_fragment`` as ``OHLHook`` calls them; per-copy samples depend on
  the copy's generator only; the exported fragment is a valid Python config.
* :func:`check_path_space` (``SEARCH_SPACES``, NAS): paths, validity, prefixes, ``size`` and ``extensions``
  agree with the enumerated completions; ``apply`` then ``current_path`` round-trips on a model.
* :func:`check_path_sampler` (``SAMPLERS``, NAS): draws are valid, reproducible from the generator alone,
  complete the prefix they were given, and survive a ``state_dict`` round trip.
"""
from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_mm.nas.base import BasePathSampler, BasePathSpace, build_path_sampler, build_path_space
from automl_mm.ohl.base import (
    BaseController,
    BaseDistribution,
    OHLSpace,
    build_controller,
    build_distribution,
    build_ohl_space,
)

__all__ = ['check_controller', 'check_distribution', 'check_ohl_space', 'check_path_sampler', 'check_path_space',
           'toy_runner']


def _fail(obj: Any, message: str) -> AssertionError:
    return AssertionError(f'{type(obj).__name__}: {message}')


def _check(condition: bool, obj: Any, message: str) -> None:
    if not condition:
        raise _fail(obj, message)


def _equal(a: Any, b: Any) -> bool:
    """Exact equality of samples: tensors, dicts of them, sequences, plain values."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and \
            bool(torch.equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def _take(batch: Any, index: slice) -> Any:
    """Rows ``index`` of a batch of samples (a tensor, or a dict of them as ``Product`` draws)."""
    if isinstance(batch, dict):
        return {k: _take(v, index) for k, v in batch.items()}
    return batch[index]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _close(a: Any, b: Any) -> bool:
    """Equal values, or equal to float64 rounding (lists / tensors element-wise)."""
    try:
        return bool(np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-9,
                                atol=0.0))
    except (TypeError, ValueError):
        return a == b


def _all_zero(t: torch.Tensor) -> bool:
    """Every entry exactly 0 (a NaN is not zero: ``not (nan > 0)`` used to pass for it)."""
    return bool(torch.isfinite(t).all()) and int(torch.count_nonzero(t)) == 0


# ------------------------------------------------------------------------------------------------- OHL
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
        count = None
    _check(count is None or math.isclose(float(count), n), dist,
           f'sample_count(stats of {n} samples) must be {n}, got {count}')

    grads = dist.grad_mean_log_prob(torch.zeros(size, dtype=torch.float64))
    _check(len(grads) == len(params) and all(g.shape == p.shape for g, p in zip(grads, params)), dist,
           'grad_mean_log_prob must return one tensor per parameter, shaped like it')
    _check(all(_all_zero(g) for g in grads if g.numel()), dist,
           'grad_mean_log_prob of empty statistics must be zero (finite)')
    if params:
        expected = torch.autograd.grad(dist.log_prob(batch).mean(), params, allow_unused=True)
        expected = [torch.zeros_like(p) if e is None else e for e, p in zip(expected, params)]
        for i, (g, e) in enumerate(zip(dist.grad_mean_log_prob(stats), expected)):
            _check(torch.allclose(g.to(torch.float64), e, rtol=1e-6, atol=1e-9), dist,
                   f'grad_mean_log_prob(stats)[{i}] differs from autograd\'s gradient of the mean log_prob '
                   f'(max |diff| {float((g - e).abs().max()):.3g})')

    _check_grad_entropy(dist, params, seed=seed)

    summary = dist.summary(top_k=3)
    try:
        json.dumps(summary)
    except TypeError as exc:
        raise _fail(dist, f'summary() must be JSON-serialisable: {exc}') from exc

    state = copy.deepcopy(dist.state_dict())
    before = dist.log_prob(batch).detach().clone()
    ids = [id(p) for p in params]
    saved = [p.detach().clone() for p in params]
    noise = _generator(seed + 3)
    with torch.no_grad():
        for p in params:  # not a constant shift: a softmax ignores those, and a no-op load would pass
            p.add_(0.25 + torch.rand(p.shape, generator=noise, dtype=p.dtype))
    dist.project_()
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
    state = copy.deepcopy(dist.state_dict())
    noise = _generator(seed + 5)
    with torch.no_grad():
        for p in dist.parameters():
            p.add_(2.0 * torch.randn(p.shape, generator=noise, dtype=p.dtype))
    dist.project_()
    probs = probs_fn().to(torch.float64)
    draws = torch.as_tensor(dist.sample(generator=_generator(seed + 11), n=n)).reshape(-1).long()
    freq = torch.bincount(draws, minlength=len(probs)).to(torch.float64) / n
    tv = 0.5 * float((freq - probs).abs().sum())
    dist.load_state_dict(state)
    _check(tv < 0.1, dist, f'sample() must draw from probs(): {n} draws differ from them by total variation '
           f'{tv:.3f}')


def _check_grad_entropy(dist: BaseDistribution, params: list[torch.Tensor], step: float = 1e-6,
                        seed: int = 0) -> None:
    """``grad_entropy`` (optional: what REINFORCE's entropy bonus uses) returns one tensor per parameter, and where
    ``entropy()`` is reported, its central difference, at parameters moved off their start by seeded noise (at a
    uniform start the true gradient is 0, so a flipped or all-zero ``grad_entropy`` passed)."""
    try:
        grads = dist.grad_entropy()
    except NotImplementedError:
        return
    _check(len(grads) == len(params) and all(g.shape == p.shape for g, p in zip(grads, params)), dist,
           'grad_entropy must return one tensor per parameter, shaped like it')
    if dist.entropy() is None:
        return
    state = copy.deepcopy(dist.state_dict())
    noise = _generator(seed + 7)
    with torch.no_grad():
        for p in params:
            p.add_(0.5 * torch.randn(p.shape, generator=noise, dtype=p.dtype))
    dist.project_()
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


def _log_prob_gap(dist: BaseDistribution, better: Any, worse: Any) -> float:
    with torch.no_grad():
        return float(dist.log_prob(better).mean() - dist.log_prob(worse).mean())


def check_controller(controller: dict, distribution: dict, n: int = 16, seed: int = 0) -> BaseController:
    """Check an OHL controller (``CONTROLLERS``) against :class:`~automl_mm.ohl.base.BaseController`.

    Two copies sample different batches; copy 0 gets the higher reward. One step must raise the mean
    log-probability of copy 0's samples relative to copy 1's (the direction of the REINFORCE gradient, METHODS.md
    §1), or leave θ unchanged for a controller that declares ``learns = False``; two controllers given the same
    inputs must end bitwise equal; a controller resumed from ``state_dict`` must take the same next step as the
    uninterrupted one.

    Args:
        controller: Its config without ``distribution`` (as in ``OHLHook(controller=...)``).
        distribution: The config of a learnable distribution to control.
        n: Samples per copy.
        seed: Seed of the sampling generators.

    Returns:
        A controller built from the configs.
    """
    def make() -> tuple[BaseController, BaseDistribution]:
        dist = build_distribution(copy.deepcopy(distribution))
        return build_controller(copy.deepcopy(controller), dist), dist

    ctrl, dist = make()
    _check(getattr(ctrl, 'distribution', None) is dist, ctrl,
           'the controller must hold the distribution it was built with as .distribution')
    better = dist.sample(generator=_generator(seed), n=n)
    worse = dist.sample(generator=_generator(seed + 1), n=n)
    stats = [dist.sufficient_stats(better), dist.sufficient_stats(worse)]
    rewards = [1.0, 0.0]
    gap = _log_prob_gap(dist, better, worse)
    logs = ctrl.step([s.clone() for s in stats], rewards)
    _check(isinstance(logs, dict) and all(isinstance(k, str) for k in logs), ctrl,
           'step must return a dict of named scalars to log')
    for key, value in logs.items():
        try:
            float(value)
        except (TypeError, ValueError) as exc:
            raise _fail(ctrl, f'step()[{key!r}] must be a number, got {value!r}') from exc
    if not getattr(ctrl, 'learns', True):  # a declared random control: θ must not move, whatever the rewards
        fresh = make()[1]
        _check(all(torch.equal(a, b) for a, b in zip(dist.parameters(), fresh.parameters())), ctrl,
               'a controller with learns = False must leave θ where it started')
    elif not torch.equal(stats[0], stats[1]):
        _check(_log_prob_gap(dist, better, worse) > gap, ctrl,
               'a step with rewards [1, 0] must make copy 0\'s samples more likely relative to copy 1\'s')
        # and the other way round: a controller that always credits copy 0, or sorts the rewards, passed the above
        other, other_dist = make()
        other.step([s.clone() for s in stats], [0.0, 1.0])
        _check(_log_prob_gap(other_dist, better, worse) < gap, ctrl,
               'a step with rewards [0, 1] must make copy 1\'s samples more likely relative to copy 0\'s (the '
               'rewards must be matched to the statistics in order)')

    twin, twin_dist = make()
    twin.step([s.clone() for s in stats], rewards)
    _check(all(torch.equal(a, b) for a, b in zip(dist.parameters(), twin_dist.parameters())), ctrl,
           'step must be deterministic given its inputs (ranks must stay bitwise identical)')

    resumed, resumed_dist = make()
    # only the controller's state, as OHLHook saves and restores it: θ must be part of it
    resumed.load_state_dict(copy.deepcopy(ctrl.state_dict()))
    later = [stats[1].clone(), stats[0].clone()]
    ctrl.step([s.clone() for s in later], [0.2, 0.7])
    resumed.step([s.clone() for s in later], [0.2, 0.7])
    _check(all(torch.equal(a, b) for a, b in zip(dist.parameters(), resumed_dist.parameters())), ctrl,
           'a controller resumed from its state_dict() alone (OHLHook saves nothing else) must hold the same θ and '
           'take the same next step as the uninterrupted one')
    return ctrl


def toy_runner(**attributes: Any) -> SimpleNamespace:
    """A stand-in runner for :func:`check_ohl_space`: a small model, an mmengine ``OptimWrapper`` with SGD (lr 0.1,
    weight decay 1e-4) and ``seed``; ``attributes`` add or replace attributes (e.g. ``train_dataloader``)."""
    from mmengine.optim import OptimWrapper

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=1e-4)
    runner = SimpleNamespace(model=model, optim_wrapper=OptimWrapper(optimizer), seed=0, iter=0, epoch=0)
    for key, value in attributes.items():
        setattr(runner, key, value)
    return runner


def check_ohl_space(space: dict | OHLSpace, runner: Any, data_batches: Callable[[], Iterable] | None = None,
                    seed: int = 0) -> OHLSpace:
    """Check an OHL space (``SEARCH_SPACES``) against :class:`~automl_mm.ohl.base.OHLSpace`, driving it as
    ``OHLHook`` does on one rank of one copy.

    Args:
        space: Its config (built in automl_mm's scope, as ``OHLHook`` builds it) or an instance.
        runner: What the space binds to (a real mmengine Runner, or :func:`toy_runner` with the attributes the
            space touches).
        data_batches: Per-item spaces: a callable returning training batches (each a dict with ``data_samples``
            carrying ``metainfo['ohl_choice']``), called after ``begin_trunk`` so the batches are drawn from the
            trunk's θ; its samples must be counted.
        seed: The hook's seed.

    Returns:
        The set-up space.
    """
    from mmengine.config import Config

    from automl_mm.ohl.attributes import get_attribute
    from automl_mm.ohl.copies import CopyLayout

    config = copy.deepcopy(space) if isinstance(space, dict) else None
    space = build_ohl_space(space, 'space')
    space.resolve(runner)
    _check(isinstance(space.name, str) and bool(space.name), space, 'name must be a non-empty str')
    _check(isinstance(space.distribution, BaseDistribution), space, 'distribution must be a BaseDistribution')
    _check(isinstance(space.per_item, bool), space, 'per_item must be a bool')
    size = space.distribution.stats_size()
    layout = CopyLayout(num_copies=1, ranks_per_copy=1, rank=0, world_size=1)
    space.setup(runner, layout, seed)
    space.reset_stats()
    stats = space.trunk_stats()
    _check(torch.is_tensor(stats) and stats.dtype == torch.float64 and tuple(stats.shape) == (size,), space,
           f'trunk_stats() must be a float64 vector of length distribution.stats_size()={size}')
    _check(_all_zero(stats), space, 'trunk_stats() must be zero after reset_stats()')

    space.begin_segment(runner, 0)
    space.begin_trunk(runner, 0, _generator(seed))
    if space.per_item:
        if data_batches is not None:
            for batch in data_batches():
                space.after_train_iter(runner, batch)
            counted = space.distribution.sample_count(space.trunk_stats())
            _check(counted > 0, space, 'after_train_iter counted no sample of the given batches')
    else:
        first = space.trunk_stats()
        _check(space.distribution.sample_count(first) > 0, space,
               'begin_trunk must record() the samples it drew (the controller learns from them)')
        space.trunk_stats().add_(1.0)
        _check(torch.equal(space.trunk_stats(), first), space, 'trunk_stats() must return a copy')
        space.reset_stats()
        space.begin_trunk(runner, 0, _generator(seed))
        _check(torch.equal(space.trunk_stats(), first), space,
               'per-copy samples must depend on the generator only (all ranks of a copy must agree)')
        applied = space.applied_values()
        for path, value in (applied or {}).items():
            try:
                held = get_attribute(runner, path)
            except ValueError:
                continue  # not an attribute path of this runner: nothing to compare
            _check(all(_close(v, value) for v in held), space,
                   f'applied_values() reports {path} = {value!r} but the target holds {held!r} after begin_trunk '
                   '(the recorded sample must be the one applied)')
        if isinstance(config, dict):
            # another rank of the same copy: it must record (and so apply) the same sample
            twin = build_ohl_space(copy.deepcopy(config), 'space')
            twin.resolve(runner)
            twin.setup(runner, CopyLayout(num_copies=1, ranks_per_copy=2, rank=1, world_size=2), seed)
            twin.reset_stats()
            twin.begin_trunk(runner, 0, _generator(seed))
            _check(torch.equal(twin.trunk_stats(), first), space,
                   'the ranks of one copy must draw the same per-copy sample (it must not depend on the rank)')
            space.begin_trunk(runner, 0, _generator(seed))  # the target holds this rank's sample again
    stale = space.stale_count()
    _check(isinstance(stale, int) and stale >= 0, space, f'stale_count() must be an int >= 0, got {stale!r}')
    space.reset_stats()
    _check(_all_zero(space.trunk_stats()) and space.stale_count() == 0, space,
           'reset_stats() must zero the statistics and the stale count')

    fragment = space.export_fragment()
    _check(isinstance(fragment, str) and fragment.strip() != '', space, 'export_fragment() must return config text')
    try:
        Config.fromstring(fragment, file_format='.py')
    except Exception as exc:  # noqa: BLE001  (any parse or evaluation error is the finding)
        raise _fail(space, f'export_fragment() is not a valid Python config: {exc}\n{fragment}') from exc
    return space


# ------------------------------------------------------------------------------------------------- NAS
def check_path_space(space: dict | BasePathSpace, model: nn.Module | None = None,
                     max_paths: int = 2000) -> BasePathSpace:
    """Check an architecture path space (``SEARCH_SPACES``) against :class:`~automl_mm.nas.base.BasePathSpace`.

    Args:
        space: Its config or an instance.
        model: A model holding the supernet the space binds to; ``None`` checks the structure only (the space
            must then know its options without binding).
        max_paths: Paths enumerated; ``size`` and ``extensions`` are compared only when the space has no more.

    Returns:
        The (bound) space.
    """
    space = build_path_space(space, 'space')
    if model is not None:
        space.bind(model)
    _check(space.num_decisions >= 1, space, 'a space needs at least one decision (bind it to a model?)')
    _check(all(space.num_options(i) >= 1 for i in range(space.num_decisions)), space, 'every decision needs options')
    paths = list(space.completions((), limit=max_paths + 1))
    _check(bool(paths), space, 'completions(()) must yield at least one valid path')
    _check(paths == sorted(set(paths)), space, 'completions must be unique and in lexicographic order')
    for path in paths:
        _check(isinstance(path, tuple) and space.check_path(path) == path, space, f'{path!r} is not a checked path')
        _check(space.is_valid(path), space, f'completions yielded {path} but is_valid says no')
        _check(all(space.can_complete(path[:k]) for k in range(len(path) + 1)), space,
               f'every prefix of the valid path {path} must be completable')
    for bad in ((0,) * (space.num_decisions + 1), (space.num_options(0),) + (0,) * (space.num_decisions - 1)):
        try:
            space.check_path(bad)
        except ValueError:
            continue
        raise _fail(space, f'check_path({bad}) must raise ValueError')
    if len(paths) <= max_paths:
        _check(space.size() == len(paths), space, f'size()={space.size()} but {len(paths)} valid paths')
        _check(space.extensions((), 1) == sorted({p[:1] for p in paths}), space,
               'extensions((), 1) must be the first decisions of the valid paths')
        prefixes = {p[:k] for p in paths for k in range(len(p) + 1)}
        for prefix in [q for q in prefixes if len(q) < space.num_decisions]:
            for j in range(space.num_options(len(prefix))):
                extended = prefix + (j, )
                _check(space.can_complete(extended) == (extended in prefixes), space,
                       f'can_complete({extended}) must say whether a valid path starts with it '
                       f'({extended in prefixes})')
        if space.independent:
            _check(len(paths) == math.prod(space.num_options(i) for i in range(space.num_decisions)), space,
                   'an independent space must admit every combination of options')
        elif math.prod(space.num_options(i) for i in range(space.num_decisions)) <= 20 * max_paths:
            # samplers past enumerate_limit rejection-sample with is_valid: it must say no to the other paths
            valid = set(paths)
            for path in itertools.product(*(range(space.num_options(i)) for i in range(space.num_decisions))):
                _check(space.is_valid(path) == (path in valid), space,
                       f'is_valid({path}) must be {path in valid} (completions {"yield" if path in valid else "skip"} '
                       'it)')
    if model is not None:
        for path in {paths[0], paths[len(paths) // 2], paths[-1]}:
            space.apply(path, model)
            _check(tuple(space.current_path(model)) == path, space,
                   f'current_path after apply({path}) must be {path}, got {space.current_path(model)}')
    return space


def check_path_sampler(sampler: dict | BasePathSampler, space: dict | BasePathSpace,
                       model: nn.Module | None = None, draws: int = 20, seed: int = 0) -> BasePathSampler:
    """Check an architecture path sampler (``SAMPLERS``) against :class:`~automl_mm.nas.base.BasePathSampler`.

    Args:
        sampler: Its config (``space`` is set afterwards, as the loops do) or an instance.
        space: The path space it draws from (config or instance).
        model: Bound to the space when given.
        draws: Paths drawn.
        seed: First key of the generators (``path_rng(seed, i)``).

    Returns:
        The sampler, bound to the space.
    """
    from automl_mm.nas.samplers import path_rng

    space = build_path_space(space, 'space')
    if model is not None:
        space.bind(model)
    built = build_path_sampler(copy.deepcopy(sampler) if isinstance(sampler, dict) else sampler, 'sampler')
    built.space = space
    paths = []
    for i in range(draws):
        path = built.sample(path_rng(seed, i))
        _check(isinstance(path, tuple) and space.check_path(path) == path and space.is_valid(path), built,
               f'sample() drew {path!r}, not a valid full path')
        _check(built.sample(path_rng(seed, i)) == path, built,
               'sample(generator) must depend on the generator only (every rank must draw the same path)')
        paths.append(path)
    if space.size() > 1:
        _check(len(set(paths)) > 1, built, f'{draws} draws gave one path {paths[0]} of a space of {space.size()}: '
               'sample() must spread over the valid paths')
    try:
        at = [built.sample_at(seed, i) for i in range(draws)]
    except ValueError:  # a sampler may refuse a space for training (FairPathSampler: constrained spaces)
        at = None
    if at is not None:
        _check(all(isinstance(p, tuple) and space.is_valid(p) for p in at), built,
               'sample_at must return valid paths')
        _check(at == [built.sample_at(seed, i) for i in range(draws)], built,
               'sample_at(seed, iteration) must depend on (seed, iteration) only (every rank runs the same path)')
        if space.size() > 1:
            _check(at != [built.sample_at(seed + 1, i) for i in range(draws)], built,
                   'sample_at must depend on the seed (two seeds drew the same paths at every iteration)')
    prefix = paths[0][:1]
    completed = built.complete(prefix, path_rng(seed, draws))
    _check(completed is not None and completed[:1] == prefix and space.is_valid(completed), built,
           f'complete({prefix}) must return a valid path starting with it (a valid path does), got {completed!r}')
    last = paths[0][-1]  # an accept that admits part of the space: PC-NAS's cost limit is one
    for i in range(5):
        admitted = built.complete(prefix, path_rng(seed, draws + 1 + i), accept=lambda p: p[-1] == last)
        _check(admitted is None or (admitted[:1] == prefix and space.is_valid(admitted) and admitted[-1] == last),
               built, f'complete({prefix}, accept=...) returned {admitted!r}, which accept does not admit')
    admitted = built.admitted_completions(())
    _check(admitted is None or all(space.is_valid(p) for p in admitted), built,
           'admitted_completions must be None or valid paths')
    if isinstance(sampler, dict):
        resumed = build_path_sampler(copy.deepcopy(sampler), 'sampler')
        resumed.space = space
        if hasattr(resumed, 'set_pool'):  # a state that differs from the fresh one: the round trip must restore it
            built.set_pool([paths[0][:1]])
            paths = [built.sample(path_rng(seed, i)) for i in range(draws)]
        resumed.load_state_dict(copy.deepcopy(built.state_dict()))
        _check(all(resumed.sample(path_rng(seed, i)) == p for i, p in enumerate(paths)), built,
               'a sampler restored from state_dict() must draw what the original draws')
    return built
