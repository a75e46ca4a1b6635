"""Independent named components as one distribution (a dict sample)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from automl_mm.registry import SAMPLERS
from automl_mm.utils.scope import nested_key

from ..base import BaseDistribution, build_distribution
from ._helpers import _check_generator, _check_n, _check_stats


@SAMPLERS.register_module()
class Product(BaseDistribution):
    """Independent named components; a sample is a dict ``name -> component sample``.

    The order of everything flat is the **sorted component names** and never changes: :meth:`parameters`,
    :meth:`grad_mean_log_prob` (component lists concatenated) and :meth:`sufficient_stats` (component vectors
    concatenated). The log-probability is the sum of the components'.

    Args:
        components: ``name -> distribution``; config dicts are built with ``build_distribution`` (automl_mm's scope).

    Raises:
        ValueError: ``components`` is not a non-empty dict.
        TypeError: a component that is neither a distribution nor its config (named ``components['<name>']``).

    Examples:
        >>> import torch
        >>> from automl_mm.ohl.distributions import DiagGaussian
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
            self.components[name] = build_distribution(
                components[name], nested_key(f'components.{name}', f'components[{name!r}]'))

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
        # with the sum of the components' uniform entropies (ln K each) where every one gives it: a Gaussian has none
        components = {name: component.summary(top_k) for name, component in self.components.items()}
        maxima = [c.get('max_entropy') for c in components.values()]
        summary = {'type': type(self).__name__, 'entropy': self.entropy(), 'components': components}
        if all(m is not None for m in maxima):
            summary['max_entropy'] = float(sum(maxima))
        return summary

    def settings(self) -> dict:
        return {'components': {name: {'type': type(component).__name__, **component.settings()}
                               for name, component in self.components.items()}}

    @property
    def resume_may_change(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f'components.{name}.{key}' for name, component in self.components.items()
                     for key in component.resume_may_change)

    def state_dict(self) -> dict:
        return {name: component.state_dict() for name, component in self.components.items()}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != set(self.components):
            raise ValueError(f'state must have keys {sorted(self.components)}, got {sorted(state)}')
        for name, component in self.components.items():
            component.load_state_dict(state[name])
