"""A diagonal Gaussian over continuous hyper-parameters, optionally with learnable σ."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch

from automl_mm.registry import SAMPLERS

from ..base import BaseDistribution
from ._helpers import _DTYPE, _check_generator, _check_n, _check_stats, _check_top_k, _leaf, _load_into


def check_std(values: Sequence[float], given: Any = None) -> None:
    """Refuse standard deviations that are not finite and > 0 (``given``: what the caller was given, named in the
    message).

    Raises:
        ValueError: ``std must be finite and > 0, got ...``.
    """
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                             for v in values):
        raise ValueError(f'std must be finite and > 0, got {values if given is None else given!r}')


@SAMPLERS.register_module()
class DiagGaussian(BaseDistribution):
    """A diagonal Gaussian N(μ, diag σ²) with learnable mean and optionally learnable log σ.

    One sample is a float64 tensor of shape ``(d,)``, a batch has shape ``(n, d)``. The sufficient statistics
    are ``[count, Σx (d values), Σx² (d values)]`` (length ``1 + 2d``), from which the gradients of the mean
    log-density are ``(mean(x) - μ) / σ²`` for μ and ``E[(x - μ)²] / σ² - 1`` for log σ.

    Args:
        mean: Initial mean μ (d values).
        std: Standard deviation σ: d positive values, or one value for every dimension.
        learn_std: Learn log σ as well (parameters are then ``[mean, log_std]``, else ``[mean]``).
        min_std: With ``learn_std``, :meth:`project_` (called by the controller after each step) clamps σ to
            at least this value, so the distribution cannot collapse.

    Raises:
        ValueError: ``mean`` empty, not 1-D or not finite; ``std`` not one finite value > 0 or ``len(mean)`` of
            them; ``learn_std`` not a bool; ``min_std`` not a number > 0, or above ``std`` with ``learn_std``.

    Examples:
        >>> import torch
        >>> dist = DiagGaussian(mean=[0.0, 1.0], std=0.5)
        >>> dist.sample(torch.Generator().manual_seed(0), n=3).shape
        torch.Size([3, 2])
        >>> dist.sufficient_stats(torch.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
        [2.0, 4.0, 6.0, 10.0, 20.0]
        >>> dist.summary()
        {'type': 'DiagGaussian', 'mean': [0.0, 1.0], 'std': [0.5, 0.5]}
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float] | float, learn_std: bool = False,
                 min_std: float = 1e-4) -> None:
        if torch.as_tensor(mean).ndim > 1:
            raise ValueError(f'mean must be one value per dimension (1-D), got shape '
                             f'{tuple(torch.as_tensor(mean).shape)}')
        self.mean = _leaf(mean, 'mean')
        self.dim = self.mean.numel()
        if self.dim == 0:
            raise ValueError(f'mean must have at least one value, got {mean!r}')
        if not isinstance(learn_std, bool):  # 'False' in a config is truthy: a fixed sigma would have been learned
            raise ValueError(f'learn_std must be True or False, got {learn_std!r}')
        if isinstance(min_std, bool) or not isinstance(min_std, numbers.Real):
            raise ValueError(f'min_std must be a number > 0, got {min_std!r}')
        if isinstance(std, (str, bytes, bool)) or not isinstance(std, numbers.Real) and not all(
                isinstance(s, numbers.Real) and not isinstance(s, bool) for s in std):
            raise ValueError(f'std must be a number or one number per dimension, got {std!r}')
        std_values = [float(std)] * self.dim if isinstance(std, numbers.Real) else [float(s) for s in std]
        if len(std_values) != self.dim:
            raise ValueError(f'std must have len(mean)={self.dim} values, got {len(std_values)}')
        check_std(std_values, std)
        if not min_std > 0:
            raise ValueError(f'min_std must be > 0, got {min_std!r}')
        if learn_std and min(std_values) < min_std:
            raise ValueError(f'std must be >= min_std={min_std} when learn_std=True, got {std!r}')
        self.learn_std = bool(learn_std)
        self.min_std = float(min_std)
        if self.learn_std:
            self.log_std = _leaf([math.log(s) for s in std_values], 'log_std')
        else:
            self._std = torch.tensor(std_values, dtype=_DTYPE)

    def std(self) -> torch.Tensor:
        """σ (detached)."""
        return self.log_std.detach().exp() if self.learn_std else self._std.clone()

    def _std_graph(self) -> torch.Tensor:
        return self.log_std.exp() if self.learn_std else self._std

    def _as_batch(self, samples: Any) -> torch.Tensor:
        if isinstance(samples, (list, tuple)) and samples and isinstance(samples[0], torch.Tensor):
            samples = torch.stack([torch.as_tensor(s, dtype=_DTYPE) for s in samples])
        x = torch.as_tensor(samples, dtype=_DTYPE)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ValueError(f'samples must have shape ({self.dim},) or (n, {self.dim}), got {tuple(x.shape)}')
        return x

    def parameters(self) -> list[torch.Tensor]:
        return [self.mean, self.log_std] if self.learn_std else [self.mean]

    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
        _check_generator(generator)
        _check_n(n)
        with torch.no_grad():
            noise = torch.randn(1 if n is None else n, self.dim, generator=generator, dtype=_DTYPE)
            x = self.mean.detach() + self.std() * noise
        return x[0] if n is None else x

    def log_prob(self, sample: Any) -> torch.Tensor:
        x = self._as_batch(sample)
        std = self._std_graph()
        z = (x - self.mean) / std
        return (-0.5 * z.pow(2) - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(dim=-1)

    def stats_size(self) -> int:
        return 1 + 2 * self.dim

    def sample_count(self, stats: torch.Tensor) -> float:
        return float(_check_stats(stats, self.stats_size())[0])

    def sufficient_stats(self, samples: Any) -> torch.Tensor:
        x = self._as_batch(samples).reshape(-1, self.dim)
        count = torch.tensor([x.shape[0]], dtype=_DTYPE)
        return torch.cat([count, x.sum(dim=0), x.pow(2).sum(dim=0)])

    def grad_mean_log_prob(self, stats: torch.Tensor) -> list[torch.Tensor]:
        stats = _check_stats(stats, self.stats_size())
        count, total, total_sq = stats[0], stats[1:1 + self.dim], stats[1 + self.dim:]
        if count == 0:
            return [torch.zeros(self.dim, dtype=_DTYPE) for _ in self.parameters()]
        mu, var = self.mean.detach(), self.std().pow(2)
        mean_x = total / count
        grads = [(mean_x - mu) / var]
        if self.learn_std:
            # E[(x - μ)²] = E[x²] - 2μ E[x] + μ²
            second_moment = total_sq / count - 2 * mu * mean_x + mu.pow(2)
            grads.append(second_moment / var - 1)
        return grads

    def grad_entropy(self) -> list[torch.Tensor]:
        # H = Σ log σ + dim/2 · log(2πe): nothing depends on μ, dH/d(log σ) = 1
        grads = [torch.zeros(self.dim, dtype=_DTYPE)]
        return grads + [torch.ones(self.dim, dtype=_DTYPE)] if self.learn_std else grads

    def project_(self) -> None:
        if self.learn_std:
            with torch.no_grad():
                self.log_std.clamp_(min=math.log(self.min_std))

    def mode(self) -> torch.Tensor:
        return self.mean.detach().clone()

    def summary(self, top_k: int = 5) -> dict:
        _check_top_k(top_k)
        return {'type': type(self).__name__, 'mean': self.mean.detach().tolist(), 'std': self.std().tolist()}

    #: A learned σ's floor may change on resume: θ keeps its meaning, the next projection applies the new floor.
    resume_may_change = ('min_std',)

    def settings(self) -> dict:
        """``learn_std``, and the fixed ``std`` (part of p_θ: μ was learned as the mean of N(μ, σ²), and the
        controller's optimiser moments hold gradients scaled by 1/σ²) or a learned σ's ``min_std``."""
        if self.learn_std:
            return {'learn_std': True, 'min_std': self.min_std}
        return {'learn_std': False, 'std': self._std.tolist()}

    def state_dict(self) -> dict:
        state = {'mean': self.mean.detach().clone(), 'learn_std': self.learn_std}
        if self.learn_std:
            state['log_std'] = self.log_std.detach().clone()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s μ (and log σ when learned). A fixed σ is not state: the configured ``std``
        is used.

        Raises:
            ValueError: the checkpoint learned σ and this distribution does not, or the other way round (it failed
                with ``KeyError: 'log_std'`` or torch's param-group size error).
        """
        saved_learn = bool(state.get('learn_std', 'log_std' in state))
        if saved_learn != self.learn_std:
            raise ValueError(f'the checkpoint\'s DiagGaussian has learn_std={saved_learn}, this run sets '
                             f'learn_std={self.learn_std}: a resume continues the same search; set it back, or start '
                             'a new search with load_from')
        _load_into(self.mean, state['mean'], 'mean')
        if self.learn_std:
            _load_into(self.log_std, state['log_std'], 'log_std')
