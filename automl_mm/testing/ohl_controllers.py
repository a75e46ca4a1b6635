"""The contract check of OHL controllers (``CONTROLLERS``, :class:`~automl_mm.ohl.base.BaseController`):
:func:`check_controller` (overview in :mod:`automl_mm.testing.contracts`)."""
from __future__ import annotations

import copy
from typing import Any

import torch

from automl_mm.ohl.base import BaseController, BaseDistribution, build_controller, build_distribution

from ._assertions import _check, _fail, _generator


def _log_prob_gap(dist: BaseDistribution, better: Any, worse: Any) -> float:
    with torch.no_grad():
        return float(dist.log_prob(better).mean() - dist.log_prob(worse).mean())


def _same_theta(a: BaseDistribution, b: BaseDistribution) -> bool:
    """Whether two distributions hold bitwise-equal parameters θ."""
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


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
        _check(_same_theta(dist, fresh), ctrl,
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
    _check(_same_theta(dist, twin_dist), ctrl,
           'step must be deterministic given its inputs (ranks must stay bitwise identical)')

    resumed, resumed_dist = make()
    # only the controller's state, as OHLHook saves and restores it: θ must be part of it
    resumed.load_state_dict(copy.deepcopy(ctrl.state_dict()))
    later = [stats[1].clone(), stats[0].clone()]
    ctrl.step([s.clone() for s in later], [0.2, 0.7])
    resumed.step([s.clone() for s in later], [0.2, 0.7])
    _check(_same_theta(dist, resumed_dist), ctrl,
           'a controller resumed from its state_dict() alone (OHLHook saves nothing else) must hold the same θ and '
           'take the same next step as the uninterrupted one')
    return ctrl
