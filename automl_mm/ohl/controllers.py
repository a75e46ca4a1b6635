"""Controllers that update an OHL distribution p_θ from the copies' rewards."""
from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Sequence

import torch

from automl_mm.registry import CONTROLLERS, OPTIMIZERS
from automl_mm.utils.checks import same_setting
from automl_mm.utils.scope import build_named, building_key, nested_key

from .base import BaseController, BaseDistribution, build_distribution

_BASELINES = ('mean', 'moving_average')
#: Entries of an optimiser's param group that say how torch runs the step, not which step it takes.
_IMPLEMENTATION_FLAGS = ('foreach', 'fused', 'capturable', 'differentiable')


@CONTROLLERS.register_module()
class REINFORCE(BaseController):
    """REINFORCE with a baseline on the sufficient statistics of each copy's samples.

    One update from N copies, copy n with reward R_n and statistics s_n of the samples it used:

    * A_n = R_n − b, divided by (std(R) + eps) (population std) when ``normalize``;
    * g = (1/N) Σ_n A_n ∇θ mean log p_θ(samples of copy n), the gradient taken analytically from s_n
      (:meth:`BaseDistribution.grad_mean_log_prob`), plus β ∇θ H(p_θ) with ``entropy_weight`` β (the entropy
      bonus of policy-gradient controllers, Williams & Peng 1991; used by ENAS's controller, Pham et al. 2018): it
      keeps p_θ from collapsing on the few choices a noisy reward happened to favour, while choices with a clearly
      lower reward still lose mass. β is in the advantage's units per nat: the reward's (e.g. accuracy points)
      without ``normalize``, reward standard deviations with it;
    * the optimiser *ascends* g (``p.grad = -g``, then ``optimizer.step()``), then
      :meth:`BaseDistribution.project_` keeps the parameters valid.

    Everything runs on CPU in float64 in a fixed order with no randomness, so ranks that call :meth:`step`
    with the same all-gathered inputs keep bitwise identical parameters on the same CPU and torch build; another
    build rounds the last digits otherwise, so ``OHLHook`` gives every rank rank 0's state after each update
    (:func:`~automl_mm.ohl.trunk_end.take_rank0_controllers`).

    Baselines: ``'mean'`` uses b = mean(R) of this update. ``'moving_average'`` uses the average *before*
    this update (so b does not depend on this update's rewards), initialised to the first update's mean(R);
    after the update b ← momentum·b + (1 − momentum)·mean(R). mean(R) is over the rewards the copies read
    (``measured``): a stand-in (``OHLHook``'s reward of a diverged copy, or of a copy that read no metrics) is
    learned from through its own advantage but is no reading of what the policy earns, and in the baseline it
    lowered every other copy's b (readings 80 and 81.25 beside a diverged copy's 78.75: b 80.0 instead of 80.625;
    under ``'moving_average'`` for the trunks after it too). With a single copy, ``'mean'`` gives zero
    advantages (no learning), and so does ``normalize``: rewards that all tie (one copy, or N copies with equal
    rewards) have std 0 and give advantages 0 (no update from the rewards; the entropy bonus still applies).

    Args:
        distribution: The distribution to learn, or its ``SAMPLERS`` config. It must have parameters.
        optimizer: ``OPTIMIZERS`` config without ``params``; defaults to
            ``dict(type='Adam', lr=0.05, betas=(0.5, 0.999))``, the setting of the public OHL-Auto-Aug
            reimplementation.
        baseline: ``'mean'`` or ``'moving_average'``.
        momentum: Momentum of the moving-average baseline, in [0, 1).
        normalize: Divide advantages by the population std of this update's rewards plus ``eps`` (advantages 0
            where the rewards all tie).
        eps: Added to the std when normalising (>= 0).
        entropy_weight: β >= 0, the weight of the entropy bonus; 0 (default) is plain REINFORCE. The
            distribution must implement :meth:`BaseDistribution.grad_entropy` when β > 0.

    Raises:
        ValueError: a distribution without parameters; an unknown ``baseline``; ``momentum`` outside [0, 1);
            ``normalize`` not a bool; ``eps`` or ``entropy_weight`` not a finite number >= 0; ``optimizer`` without
            ``type`` or with ``params``, an ``optimizer.lr`` that is not a finite number > 0, or
            ``optimizer.maximize=True``.
        NotImplementedError: ``entropy_weight > 0`` with a distribution without ``grad_entropy``.

    Examples:
        >>> import torch
        >>> from automl_mm.ohl.distributions import Categorical
        >>> dist = Categorical(4)
        >>> controller = REINFORCE(dist)
        >>> stats = [dist.sufficient_stats(torch.tensor([0, 0, 1])), dist.sufficient_stats(torch.tensor([2, 3]))]
        >>> logs = controller.step(stats, rewards=[1.0, 0.0])
        >>> logs['reward_mean'], bool(dist.probs()[0] > 0.25)
        (0.5, True)
    """

    def __init__(self, distribution: BaseDistribution | dict, optimizer: dict | None = None,
                 baseline: str = 'mean', momentum: float = 0.9, normalize: bool = False,
                 eps: float = 1e-8, entropy_weight: float = 0.0) -> None:
        distribution = build_distribution(distribution)
        params = distribution.parameters()
        if not params:
            raise ValueError(f'distribution must have learnable parameters, got {type(distribution).__name__} '
                             'with none')
        if baseline not in _BASELINES:
            raise ValueError(f'baseline must be one of {_BASELINES}, got {baseline!r}')
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum < 1:
            raise ValueError(f'momentum must be in [0, 1), got {momentum!r}')
        if not isinstance(normalize, bool):
            raise ValueError(f'normalize must be True or False, got {normalize!r}')
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < math.inf:
            raise ValueError(f'eps must be a finite number >= 0, got {eps!r}')
        if isinstance(entropy_weight, bool) or not isinstance(entropy_weight, (int, float)) \
                or not 0 <= entropy_weight < math.inf:
            raise ValueError(f'entropy_weight must be a finite number >= 0, got {entropy_weight!r}')
        if entropy_weight > 0:
            distribution.grad_entropy()  # fails now, naming the distribution, rather than at the first trunk
        optimizer = dict(type='Adam', lr=0.05, betas=(0.5, 0.999)) if optimizer is None else optimizer
        if not isinstance(optimizer, dict) or 'type' not in optimizer or 'params' in optimizer:
            raise ValueError(f"optimizer must be a config dict with 'type' and without 'params', got {optimizer!r}")
        lr = optimizer.get('lr', 1.0)
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
            raise ValueError(f'optimizer.lr must be a finite number > 0 (theta would never move), got {lr!r}')
        self.distribution = distribution
        # named at its config key (OHLHook.controller.optimizer: an unknown argument was named at the controller's)
        self.optimizer = build_named(OPTIMIZERS, dict(optimizer, params=params), nested_key('optimizer', 'optimizer'))
        if self.optimizer.defaults.get('maximize'):
            # step() hands the optimiser -g and relies on it descending; maximize=True would descend the reward
            raise ValueError(f'optimizer.maximize must be False: the controller already ascends the reward '
                             f'(it gives the optimiser the negated REINFORCE gradient), got {optimizer!r}')
        self.baseline_type = baseline
        self.momentum = float(momentum)
        self.normalize = bool(normalize)
        self.eps = float(eps)
        self.entropy_weight = float(entropy_weight)
        self.baseline: float | None = None
        self.num_updates = 0
        # the config key it was built at (custom_hooks[0].controller), named in the resume's refusals
        self.config_key = building_key() or 'controller'

    def step(self, stats: Sequence[torch.Tensor], rewards: Sequence[float],
             measured: Sequence[bool] | None = None) -> dict[str, float]:
        """Apply one REINFORCE update.

        Args:
            stats: One sufficient-statistics vector per copy (``distribution.sufficient_stats``; a trunk policy's
                is weighted, :func:`~automl_mm.ohl.reward.policy_credit`).
            rewards: One finite reward per copy, in the same order.
            measured: Per copy, whether its reward is a reading (``False``: a stand-in, e.g. ``OHLHook``'s reward
                of a diverged copy); the baseline and ``reward_mean`` average the readings only. ``None``
                (default), or none of them a reading: every reward is one.

        Returns:
            ``baseline`` (the b used), ``reward_mean`` (of the readings), ``reward_std`` (of every reward: what
            ``normalize`` divides by, so a lone reading beside a stand-in still ranks them), ``reward_max``,
            ``advantage_abs_mean``, ``grad_norm`` (norm of g, the entropy bonus included) and, for discrete
            distributions, ``entropy`` after the update.

        Raises:
            ValueError: ``stats``, ``rewards`` (or ``measured``) of other lengths, no copy, a non-finite reward.
        """
        if len(stats) != len(rewards):
            raise ValueError(f'stats and rewards must have one entry per copy, got len(stats)={len(stats)} and '
                             f'len(rewards)={len(rewards)}')
        if measured is not None and len(measured) != len(rewards):
            raise ValueError(f'measured must have one entry per copy, got len(measured)={len(measured)} and '
                             f'len(rewards)={len(rewards)}')
        if len(rewards) < 1:
            raise ValueError('rewards must hold at least one copy, got 0')
        reward = torch.tensor([float(r) for r in rewards], dtype=torch.float64)
        if not torch.isfinite(reward).all():
            raise ValueError(f'rewards must be finite, got {list(rewards)!r}')
        num_copies = reward.numel()
        read = reward if measured is None or not any(measured) else reward[torch.tensor([bool(m) for m in measured])]
        reward_mean = float(read.mean())
        reward_std = float(reward.std(correction=0))

        baseline = reward_mean if self.baseline_type == 'mean' or self.baseline is None else self.baseline
        advantage = reward - baseline
        if self.normalize:
            # Tied rewards (std 0) rank no copy above another: no update from them. Dividing by eps alone made the
            # advantages (R - b) / eps ~ 1e8 under a moving-average baseline, a step in a direction set by sampling
            # noise that also filled Adam's second moment and stalled the rest of the run.
            advantage = advantage / (reward_std + self.eps) if reward_std > 0 else torch.zeros_like(advantage)

        params = self.distribution.parameters()
        direction = [torch.zeros_like(p, dtype=torch.float64) for p in params]
        for n in range(num_copies):  # fixed order: identical sums on every rank
            grads = self.distribution.grad_mean_log_prob(stats[n])
            for g, grad in zip(direction, grads):
                g.add_(grad, alpha=float(advantage[n]))
        for g in direction:
            g.div_(num_copies)
        if self.entropy_weight > 0:
            for g, grad in zip(direction, self.distribution.grad_entropy()):
                g.add_(grad, alpha=self.entropy_weight)
        grad_norm = math.sqrt(sum(float(g.pow(2).sum()) for g in direction))

        self._apply(params, direction)

        if self.baseline_type == 'moving_average':
            previous = reward_mean if self.baseline is None else self.baseline
            self.baseline = self.momentum * previous + (1 - self.momentum) * reward_mean
        else:
            self.baseline = reward_mean
        self.num_updates += 1

        logs = {'baseline': float(baseline), 'reward_mean': reward_mean, 'reward_std': reward_std,
                'reward_max': float(reward.max()), 'advantage_abs_mean': float(advantage.abs().mean()),
                'grad_norm': grad_norm}
        entropy = self.distribution.entropy()
        if entropy is not None:
            logs['entropy'] = entropy
        return logs

    def _apply(self, params: list, direction: list) -> None:
        """Ascend ``direction`` (the REINFORCE gradient, entropy bonus included) with the optimiser, then project."""
        for p, g in zip(params, direction):
            p.grad = (-g).to(p.dtype)  # the optimiser minimises; REINFORCE ascends
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.distribution.project_()

    #: The baseline's averaging horizon and the normaliser's guard may change on resume (logged): the saved
    #: baseline stays an average of past mean rewards and the optimiser moments keep their units.
    resume_may_change = ('momentum', 'eps')

    def settings(self) -> dict:
        """``baseline`` (what the saved baseline is: the last update's mean reward or a moving average),
        ``normalize`` (the advantages' units, in which the optimiser's moments were accumulated), ``entropy_weight``
        (part of what θ ascends), and ``momentum`` / ``eps`` (:attr:`resume_may_change`)."""
        return {'baseline': self.baseline_type, 'normalize': self.normalize, 'entropy_weight': self.entropy_weight,
                'momentum': self.momentum, 'eps': self.eps}

    def state_dict(self) -> dict:
        # deep copies: the optimiser updates its state tensors in place after this call
        return {'distribution': self.distribution.state_dict(),
                'optimizer': copy.deepcopy(self.optimizer.state_dict()),
                'optimizer_type': type(self.optimizer).__name__,
                'baseline': self.baseline, 'num_updates': self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s state: θ, the optimiser's moments, the baseline and the update count.

        Raises:
            ValueError: the saved optimiser is another type, or ran with other hyper-parameters (lr, betas, weight
                decay, ...) than this controller's ``optimizer`` config: torch's ``load_state_dict`` puts the saved
                ones in place, so a resumed search stepped θ with the checkpoint's lr and not the configured one,
                without a word. The message names the ``controller.optimizer`` key (under the key the controller
                was built at, ``custom_hooks[0].controller``) and both values.
        """
        self._check_optimizer(state)
        self.distribution.load_state_dict(state['distribution'])
        self.optimizer.load_state_dict(copy.deepcopy(state['optimizer']))
        self.baseline = None if state['baseline'] is None else float(state['baseline'])
        self.num_updates = int(state['num_updates'])

    def _check_optimizer(self, state: dict) -> None:
        """Refuse a saved optimiser that is not the one this controller was configured with (see
        :meth:`load_state_dict`)."""
        hint = ('a resume continues the same search. Resume with the checkpoint\'s controller settings, or start a '
                'new search from its weights with load_from')
        saved_type, now_type = state.get('optimizer_type'), type(self.optimizer).__name__
        if saved_type is not None and saved_type != now_type:
            raise ValueError(f'the checkpoint\'s controller stepped theta with {saved_type}, this run sets '
                             f'{self.config_key}.optimizer.type={now_type!r}: {hint}')
        saved_groups = (state.get('optimizer') or {}).get('param_groups') or []
        for saved, group in zip(saved_groups, self.optimizer.param_groups):
            for key, value in group.items():
                if key == 'params' or key in _IMPLEMENTATION_FLAGS or key not in saved:
                    continue
                if not same_setting(saved[key], value):
                    raise ValueError(f'the checkpoint\'s controller stepped theta with optimizer {key}={saved[key]!r}, '
                                     f'this run sets {self.config_key}.optimizer.{key}={value!r} (torch would put the '
                                     f'checkpoint\'s back without a word): {hint}')


@CONTROLLERS.register_module()
class FrozenController(REINFORCE):
    """The OHL engine with the controller off: θ keeps its initial value for the whole run.

    The random control of an OHL run: the copies draw their samples from the initial distribution (uniform pairs,
    random 5-pair policies, a fixed loss), are scored, and the best copy is broadcast exactly as under
    :class:`REINFORCE`, which this controller is in every other respect (the same logs: baseline, rewards,
    advantages, the gradient's norm, computed and not applied; the same checkpoint state). Benchmarks use it for
    the arms that must share the engine (copies, best-copy selection) but learn nothing; ``optimizer.lr = 0`` is
    refused by :class:`REINFORCE` because there it is a mistake.

    Args and Raises: as :class:`REINFORCE` (its ``optimizer`` is built and its state saved, never stepped).

    Examples:
        >>> import torch
        >>> from automl_mm.ohl.distributions import Categorical
        >>> dist = Categorical(4)
        >>> logs = FrozenController(dist).step([dist.sufficient_stats(torch.tensor([0])),
        ...                                     dist.sufficient_stats(torch.tensor([1]))], rewards=[1.0, 0.0])
        >>> dist.probs().tolist(), logs['advantage_abs_mean']
        ([0.25, 0.25, 0.25, 0.25], 0.5)
    """

    learns = False

    def _apply(self, params: list, direction: list) -> None:
        return
