"""Learnable distributions p_θ over hyper-parameters, the samplers that OHL trains by REINFORCE.

Every distribution keeps θ as float64 CPU leaf tensors and, besides ``sample`` / ``log_prob``, exposes the two
methods the OHL hook and :class:`~automl_mm.ohl.controllers.REINFORCE` rely on:

* ``sufficient_stats(samples)``: a flat float64 vector summarising a batch of samples. Vectors add
  (``stats(a ∪ b) == stats(a) + stats(b)``), so each copy can accumulate them batch by batch and the copies'
  vectors can be all-gathered as one tensor.
* ``grad_mean_log_prob(stats)``: the analytic gradient of the *mean* log-probability of the summarised samples,
  computed without autograd, so every rank obtains a bitwise identical update from identical statistics.
"""
from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from automl_mm.registry import SAMPLERS

from .base import BaseDistribution, build_distribution

_DTYPE = torch.float64


def _check_generator(generator: Any) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f'generator must be a torch.Generator or None, got {type(generator).__name__}')


def _check_n(n: Any) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f'n must be None or an int >= 0, got {n!r}')


def _check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f'top_k must be an int >= 1, got {top_k!r}')


def _leaf(values: Any, name: str) -> torch.Tensor:
    """A learnable float64 CPU leaf tensor, rejecting non-finite initial values."""
    if isinstance(values, torch.Tensor):
        tensor = values.detach().to(dtype=_DTYPE, device='cpu').clone().reshape(-1)
    else:
        tensor = torch.tensor(values, dtype=_DTYPE).reshape(-1)
    if not torch.isfinite(tensor).all():
        raise ValueError(f'{name} must be finite, got {values!r}')
    return tensor.requires_grad_(True)


def _jsonable(label: Any) -> Any:
    """A label as JSON can hold it (containers become lists, unknown objects their ``str``)."""
    if label is None or isinstance(label, (str, int, float, bool)):
        return label
    if isinstance(label, (list, tuple)):
        return [_jsonable(item) for item in label]
    return str(label)


def _check_stats(stats: Any, size: int) -> torch.Tensor:
    stats = torch.as_tensor(stats).to(dtype=_DTYPE, device='cpu')  # all-gathered rows may live on a GPU
    if stats.shape != (size,):
        raise ValueError(f'stats must be a flat vector of length {size}, got shape {tuple(stats.shape)}')
    return stats


def _load_into(param: torch.Tensor, value: Any, key: str) -> None:
    """Copy ``value`` into ``param`` in place (an optimiser keeps pointing at the same tensor)."""
    value = torch.as_tensor(value, dtype=_DTYPE)
    if value.shape != param.shape:
        raise ValueError(f'state[{key!r}] must have shape {tuple(param.shape)}, got {tuple(value.shape)}')
    with torch.no_grad():
        param.copy_(value)


def _entropy(probs: torch.Tensor) -> torch.Tensor:
    """H = -Σ p log p in nats (0 log 0 = 0)."""
    return -torch.special.xlogy(probs, probs).sum()


def _softmax_grad_entropy(probs: torch.Tensor) -> torch.Tensor:
    """dH/dz of H = -Σ p log p with p = softmax(z): -p ⊙ (log p + H) (zero where p underflows to 0)."""
    log_p = torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny))
    return -probs * (log_p + _entropy(probs))


class _DiscreteDistribution(BaseDistribution):
    """Shared summary, mode and entropy of distributions over ``num_choices`` flat indices."""

    num_choices: int

    @abstractmethod
    def probs(self) -> torch.Tensor:
        """Probability of every flat choice (float64, detached)."""

    def _label(self, index: int) -> Any:
        return index

    def _check_indices(self, samples: Any) -> torch.Tensor:
        """``samples`` as a LongTensor of flat indices (a scalar or 1-D batch).

        Raises:
            ValueError: values that are not whole numbers (they were truncated: 1.7 counted as choice 1), more
                than one dimension (per-factor tuples were read as flat indices), or indices out of range.
        """
        raw = torch.as_tensor(samples)
        if raw.is_floating_point() or raw.is_complex() or raw.dtype == torch.bool:
            if raw.dtype == torch.bool or raw.is_complex() or not torch.equal(raw, raw.round()):
                raise ValueError(f'samples must be whole-number flat indices, got {samples!r}')
        if raw.ndim > 1:
            raise ValueError(f'samples must be a flat index or a 1-D batch of flat indices, got shape '
                             f'{tuple(raw.shape)} (factorised choices are flattened row-major: sum of index × '
                             'stride)')
        indices = raw.to(torch.long)
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.num_choices):
            raise ValueError(f'samples must be indices in [0, {self.num_choices}), got values in '
                             f'[{int(indices.min())}, {int(indices.max())}]')
        return indices

    @staticmethod
    def _inverse_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        cdf = torch.cumsum(probs, dim=-1)
        return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.numel() - 1)

    def stats_size(self) -> int:
        return self.num_choices

    def sample_count(self, stats: torch.Tensor) -> float:
        return float(_check_stats(stats, self.num_choices).sum())

    def set_choice_names(self, names: Sequence[str], overwrite: bool = True) -> None:
        """Name every flat choice (e.g. a pair transform's ``'Rotate(20) + Invert'``), for summaries and plots.

        Raises:
            ValueError: ``names`` does not hold one name per flat choice.
        """
        if len(names) != self.num_choices:
            raise ValueError(f'names must hold num_choices={self.num_choices} entries, got {len(names)}')
        self._set_flat_names(list(names), overwrite)

    def _set_flat_names(self, names: list, overwrite: bool) -> None:
        raise NotImplementedError

    def sufficient_stats(self, samples: Any) -> torch.Tensor:
        """Histogram of the flat indices ``samples`` (an int, a sequence or a LongTensor)."""
        indices = self._check_indices(samples).reshape(-1)
        return torch.bincount(indices, minlength=self.num_choices).to(_DTYPE)

    def entropy(self) -> float:
        probs = self.probs()
        return float(_entropy(probs))

    def mode(self) -> int:
        return int(torch.argmax(self.probs()))

    def summary(self, top_k: int = 5) -> dict:
        _check_top_k(top_k)
        probs = self.probs()
        order = torch.sort(probs, descending=True, stable=True).indices[:top_k].tolist()
        top = [{'choice': _jsonable(self._label(i)), 'index': i, 'prob': float(probs[i])} for i in order]
        return {'type': type(self).__name__, 'top': top, 'entropy': self.entropy()}


@SAMPLERS.register_module()
class Categorical(_DiscreteDistribution):
    """A softmax distribution over ``num_choices`` choices with learnable logits.

    Samples are indices (an ``int``, or a LongTensor of shape ``(n,)`` for a batch); the sufficient statistics
    are the histogram of the indices (length ``num_choices``) and the gradient of the mean log-probability
    w.r.t. the logits is ``c / |c| - p``.

    Args:
        num_choices: Number of choices K (at least 2).
        logits: Initial logits (K values); ``None`` gives zeros, i.e. the uniform distribution.
        labels: Optional names of the K choices, shown by :meth:`summary`.

    Examples:
        >>> import torch
        >>> dist = Categorical(3, logits=[0.0, 0.0, 1.0], labels=['a', 'b', 'c'])
        >>> dist.sample(torch.Generator().manual_seed(0), n=4).shape
        torch.Size([4])
        >>> dist.sufficient_stats([2, 2, 0]).tolist()
        [1.0, 0.0, 2.0]
        >>> dist.summary(top_k=1)['top'][0]['choice']
        'c'
    """

    def __init__(self, num_choices: int, logits: Sequence[float] | None = None,
                 labels: Sequence | None = None) -> None:
        if isinstance(num_choices, bool) or not isinstance(num_choices, int) or num_choices < 2:
            raise ValueError(f'num_choices must be an int >= 2, got {num_choices!r}')
        if logits is not None and (torch.as_tensor(logits).ndim != 1 or len(logits) != num_choices):
            raise ValueError(f'logits must be {num_choices} values (num_choices) in one dimension, got shape '
                             f'{tuple(torch.as_tensor(logits).shape)}')
        if labels is not None and len(labels) != num_choices:
            raise ValueError(f'labels must have num_choices={num_choices} entries, got {len(labels)}')
        self.num_choices = num_choices
        self.labels = list(labels) if labels is not None else None
        self.logits = _leaf(logits if logits is not None else [0.0] * num_choices, 'logits')

    def _label(self, index: int) -> Any:
        return self.labels[index] if self.labels is not None else index

    def _set_flat_names(self, names: list, overwrite: bool) -> None:
        if overwrite or self.labels is None:
            self.labels = names

    def parameters(self) -> list[torch.Tensor]:
        return [self.logits]

    def probs(self) -> torch.Tensor:
        return torch.softmax(self.logits.detach(), dim=0)

    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> int | torch.Tensor:
        _check_generator(generator)
        _check_n(n)
        with torch.no_grad():
            u = torch.rand(1 if n is None else n, generator=generator, dtype=_DTYPE)
            indices = self._inverse_cdf(self.probs(), u)
        return int(indices[0]) if n is None else indices

    def log_prob(self, sample: Any) -> torch.Tensor:
        return torch.log_softmax(self.logits, dim=0)[self._check_indices(sample)]

    def grad_mean_log_prob(self, stats: torch.Tensor) -> list[torch.Tensor]:
        stats = _check_stats(stats, self.num_choices)
        total = stats.sum()
        if total == 0:
            return [torch.zeros(self.num_choices, dtype=_DTYPE)]
        return [stats / total - self.probs()]

    def grad_entropy(self) -> list[torch.Tensor]:
        return [_softmax_grad_entropy(self.probs())]

    def state_dict(self) -> dict:
        return {'logits': self.logits.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        _load_into(self.logits, state['logits'], 'logits')


@SAMPLERS.register_module()
class FactorisedCategorical(_DiscreteDistribution):
    """Independent categoricals whose joint choice is one flat (row-major) index.

    With ``factor_sizes=(36, 36)`` this is an ordered pair of 36 augmentation elements: 1296 flat choices with
    only 2 × 36 learnable logits, p(i, j) = p₁(i)·p₂(j). Samples, statistics (a histogram over the flat index
    space, length ``prod(factor_sizes)``) and :meth:`probs` are in the flat space, exactly like
    :class:`Categorical`; the gradient for factor f is ``m_f / |c| - p_f`` with ``m_f`` the marginal of the
    histogram on that factor.

    Args:
        factor_sizes: Number of choices of each factor (each at least 2, at least one factor).
        labels: Optional names of each factor's choices: one sequence per factor, of that factor's size. The
            label of a flat choice in :meth:`summary` is the list of its factors' labels.

    Examples:
        >>> dist = FactorisedCategorical([2, 3], labels=[['x', 'y'], ['a', 'b', 'c']])
        >>> dist.num_choices, [p.shape[0] for p in dist.parameters()]
        (6, [2, 3])
        >>> dist.sufficient_stats([5, 0]).tolist()
        [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        >>> dist.summary(top_k=1)['top'][0]['choice']
        ['x', 'a']
    """

    def __init__(self, factor_sizes: Sequence[int], labels: Sequence[Sequence] | None = None) -> None:
        sizes = list(factor_sizes)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 2 for s in sizes):
            raise ValueError(f'factor_sizes must be a non-empty sequence of ints >= 2, got {factor_sizes!r}')
        if labels is not None and (len(labels) != len(sizes)
                                   or any(len(lab) != size for lab, size in zip(labels, sizes))):
            raise ValueError(f'labels must hold one sequence per factor with factor_sizes={sizes} entries, got '
                             f'lengths {[len(lab) for lab in labels]}')
        self.factor_sizes = sizes
        self.num_choices = math.prod(sizes)
        self.labels = [list(lab) for lab in labels] if labels is not None else None
        self.choice_names: list | None = None  # optional flat names, see set_choice_names
        self.logits = [_leaf([0.0] * size, f'logits[{f}]') for f, size in enumerate(sizes)]
        # stride of factor f in the flat row-major index
        self._strides = [math.prod(sizes[f + 1:]) for f in range(len(sizes))]

    def _factor_indices(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [torch.div(flat, stride, rounding_mode='floor') % size
                for stride, size in zip(self._strides, self.factor_sizes)]

    def _set_flat_names(self, names: list, overwrite: bool) -> None:
        # flat names (one per joint choice) are kept apart from the per-factor ``labels``
        if overwrite or (self.labels is None and self.choice_names is None):
            self.choice_names = names

    def _label(self, index: int) -> Any:
        if self.choice_names is not None:
            return self.choice_names[index]
        factors = [int(i) for i in self._factor_indices(torch.tensor(index))]
        if self.labels is None:
            return factors
        return [lab[i] for lab, i in zip(self.labels, factors)]

    def parameters(self) -> list[torch.Tensor]:
        return list(self.logits)

    def factor_probs(self) -> list[torch.Tensor]:
        """Probabilities of each factor's choices (detached)."""
        return [torch.softmax(logits.detach(), dim=0) for logits in self.logits]

    def probs(self) -> torch.Tensor:
        joint = torch.ones((), dtype=_DTYPE)
        for probs in self.factor_probs():
            joint = torch.outer(joint.reshape(-1), probs)
        return joint.reshape(-1)

    def entropy(self) -> float:
        # the entropy of independent factors is the sum of theirs
        return float(sum(_entropy(p) for p in self.factor_probs()))

    def mode(self) -> int:
        return sum(int(torch.argmax(p)) * stride for p, stride in zip(self.factor_probs(), self._strides))

    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> int | torch.Tensor:
        _check_generator(generator)
        _check_n(n)
        with torch.no_grad():
            u = torch.rand(1 if n is None else n, len(self.factor_sizes), generator=generator, dtype=_DTYPE)
            flat = torch.zeros(u.shape[0], dtype=torch.long)
            for f, (probs, stride) in enumerate(zip(self.factor_probs(), self._strides)):
                flat += self._inverse_cdf(probs, u[:, f].contiguous()) * stride
        return int(flat[0]) if n is None else flat

    def log_prob(self, sample: Any) -> torch.Tensor:
        factors = self._factor_indices(self._check_indices(sample))
        return sum(torch.log_softmax(logits, dim=0)[idx] for logits, idx in zip(self.logits, factors))

    def grad_mean_log_prob(self, stats: torch.Tensor) -> list[torch.Tensor]:
        stats = _check_stats(stats, self.num_choices)
        total = stats.sum()
        if total == 0:
            return [torch.zeros(size, dtype=_DTYPE) for size in self.factor_sizes]
        grid = stats.reshape(self.factor_sizes)
        dims = range(len(self.factor_sizes))
        grads = []
        for f, probs in enumerate(self.factor_probs()):
            others = [d for d in dims if d != f]
            marginal = grid.sum(dim=others) if others else grid
            grads.append(marginal / total - probs)
        return grads

    def grad_entropy(self) -> list[torch.Tensor]:
        # the entropy of independent factors is the sum of theirs: each factor's logits get their own
        return [_softmax_grad_entropy(probs) for probs in self.factor_probs()]

    def state_dict(self) -> dict:
        return {'logits': [logits.detach().clone() for logits in self.logits]}

    def load_state_dict(self, state: dict) -> None:
        if len(state['logits']) != len(self.logits):
            raise ValueError(f"state['logits'] must hold {len(self.logits)} tensors, got {len(state['logits'])}")
        for f, (param, value) in enumerate(zip(self.logits, state['logits'])):
            _load_into(param, value, f'logits[{f}]')


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
        std_values = [float(std)] * self.dim if isinstance(std, (int, float)) else [float(s) for s in std]
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

    def state_dict(self) -> dict:
        state = {'mean': self.mean.detach().clone()}
        if self.learn_std:
            state['log_std'] = self.log_std.detach().clone()
        return state

    def load_state_dict(self, state: dict) -> None:
        _load_into(self.mean, state['mean'], 'mean')
        if self.learn_std:
            _load_into(self.log_std, state['log_std'], 'log_std')


@SAMPLERS.register_module()
class Product(BaseDistribution):
    """Independent named components; a sample is a dict ``name -> component sample``.

    The order of everything flat is the **sorted component names** and never changes: :meth:`parameters`,
    :meth:`grad_mean_log_prob` (component lists concatenated) and :meth:`sufficient_stats` (component vectors
    concatenated). The log-probability is the sum of the components'.

    Args:
        components: ``name -> distribution``; config dicts are built with ``build_distribution`` (automl_mm's scope).

    Examples:
        >>> import torch
        >>> dist = Product({'op': dict(type='Categorical', num_choices=3), 'mag': DiagGaussian([0.0], 1.0)})
        >>> sorted(dist.sample(torch.Generator().manual_seed(0)))
        ['mag', 'op']
        >>> dist.stats_size()  # 'mag' (1 + 2 * 1) then 'op' (3)
        6
        >>> dist.summary()['components']['op']['type']
        'Categorical'
    """

    def __init__(self, components: Mapping[str, dict | BaseDistribution]) -> None:
        if not isinstance(components, Mapping) or not components:
            raise ValueError(f'components must be a non-empty dict of name -> distribution, got {components!r}')
        self.components: dict[str, BaseDistribution] = {}
        for name in sorted(components):
            self.components[name] = build_distribution(components[name], f'components[{name!r}]')

    def _split(self, sample: Any) -> dict[str, Any]:
        if isinstance(sample, Sequence) and not isinstance(sample, str):  # a list of per-sample dicts
            sample = {name: [s[name] for s in sample] for name in self.components}
        if not isinstance(sample, Mapping) or set(sample) != set(self.components):
            keys = sorted(sample) if isinstance(sample, Mapping) else type(sample).__name__
            raise ValueError(f'sample must be a dict with keys {sorted(self.components)}, got {keys}')
        return sample

    def parameters(self) -> list[torch.Tensor]:
        return [p for component in self.components.values() for p in component.parameters()]

    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> dict[str, Any]:
        _check_generator(generator)
        _check_n(n)
        return {name: component.sample(generator, n) for name, component in self.components.items()}

    def log_prob(self, sample: Any) -> torch.Tensor:
        sample = self._split(sample)
        return sum(component.log_prob(sample[name]) for name, component in self.components.items())

    def stats_size(self) -> int:
        return sum(component.stats_size() for component in self.components.values())

    def sufficient_stats(self, samples: Any) -> torch.Tensor:
        """Concatenated component statistics; ``samples`` is a dict of batches or a list of sample dicts."""
        samples = self._split(samples)
        return torch.cat([component.sufficient_stats(samples[name]) for name, component in self.components.items()])

    def grad_mean_log_prob(self, stats: torch.Tensor) -> list[torch.Tensor]:
        stats = _check_stats(stats, self.stats_size())
        grads, start = [], 0
        for component in self.components.values():
            size = component.stats_size()
            grads.extend(component.grad_mean_log_prob(stats[start:start + size]))
            start += size
        return grads

    def grad_entropy(self) -> list[torch.Tensor]:
        # independent components: the entropy is the sum of theirs
        return [g for component in self.components.values() for g in component.grad_entropy()]

    def sample_count(self, stats: torch.Tensor) -> float:
        # every sample has one value of each component: the first component's count is the count
        first = next(iter(self.components.values()))
        return first.sample_count(_check_stats(stats, self.stats_size())[:first.stats_size()])

    def entropy(self) -> float | None:
        entropies = [component.entropy() for component in self.components.values()]
        return None if any(e is None for e in entropies) else float(sum(entropies))

    def project_(self) -> None:
        for component in self.components.values():
            component.project_()

    def mode(self) -> dict[str, Any]:
        return {name: component.mode() for name, component in self.components.items()}

    def summary(self, top_k: int = 5) -> dict:
        # the total entropy at the top level, as every distribution gives it (the progress line reads it there)
        return {'type': type(self).__name__, 'entropy': self.entropy(),
                'components': {name: component.summary(top_k) for name, component in self.components.items()}}

    def state_dict(self) -> dict:
        return {name: component.state_dict() for name, component in self.components.items()}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != set(self.components):
            raise ValueError(f'state must have keys {sorted(self.components)}, got {sorted(state)}')
        for name, component in self.components.items():
            component.load_state_dict(state[name])
