"""Discrete distributions: a softmax over choices and a product of independent softmax factors."""
from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from automl_mm.registry import SAMPLERS

from ..base import BaseDistribution
from ._helpers import (
    _DTYPE,
    _check_generator,
    _check_n,
    _check_stats,
    _check_top_k,
    _entropy,
    _jsonable,
    _leaf,
    _load_into,
    _softmax_grad_entropy,
)


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
        # the uniform's entropy ln K, the most a distribution over K choices has: the reference the progress line
        # shows beside the entropy (5.728/5.781 nats)
        return {'type': type(self).__name__, 'top': top, 'entropy': self.entropy(),
                'max_entropy': math.log(len(probs))}


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

    Raises:
        ValueError: ``num_choices`` not an int >= 2, ``logits`` not ``num_choices`` finite values in one dimension,
            ``labels`` not ``num_choices`` long.

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

    def settings(self) -> dict:
        return {'num_choices': self.num_choices}

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

    Raises:
        ValueError: ``factor_sizes`` empty or holding a size that is not an int >= 2, ``labels`` not one sequence
            per factor of that factor's size.

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

    def settings(self) -> dict:
        return {'factor_sizes': list(self.factor_sizes)}

    def state_dict(self) -> dict:
        return {'logits': [logits.detach().clone() for logits in self.logits]}

    def load_state_dict(self, state: dict) -> None:
        if len(state['logits']) != len(self.logits):
            raise ValueError(f"state['logits'] must hold {len(self.logits)} tensors, got {len(state['logits'])}")
        for f, (param, value) in enumerate(zip(self.logits, state['logits'])):
            _load_into(param, value, f'logits[{f}]')
