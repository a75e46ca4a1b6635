"""The abstract contracts of the three AutoML registry families.

Implementations register into ``automl_mm.registry.SAMPLERS`` / ``CONTROLLERS`` / ``SEARCH_SPACES`` and must
honour these contracts; the OHL engine and the NAS loops talk to them only through these methods.
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import Any


class BaseSampler(metaclass=ABCMeta):
    """A distribution over choices, learnable or fixed.

    Covers hyper-parameter distributions (categorical, Gaussian, products) and architecture path samplers
    (uniform, pool-restricted). A sample is whatever the matching search space knows how to apply: an index,
    a tensor, a tuple of per-layer choices.
    """

    @abstractmethod
    def sample(self, generator: Any = None) -> Any:
        """Draw one sample, using ``generator`` (a ``torch.Generator`` or ``numpy.random.Generator``) if given."""

    def log_prob(self, sample: Any) -> Any:
        """Log-probability of ``sample``; learnable samplers must implement it (REINFORCE needs it)."""
        raise NotImplementedError(f'{type(self).__name__} is not a learnable sampler')

    def state_dict(self) -> dict:
        """Everything needed to restore the sampler exactly (saved in runner checkpoints)."""
        return {}

    def load_state_dict(self, state: dict) -> None:  # noqa: B027  (stateless samplers need nothing)
        """Inverse of :meth:`state_dict`."""


class BaseController(metaclass=ABCMeta):
    """Updates a sampler's parameters from rewards.

    ``step`` must be deterministic given its inputs: in distributed runs every rank calls it with the same
    all-gathered samples and rewards, and the sampler's parameters must stay bitwise identical everywhere.
    """

    @abstractmethod
    def step(self, samples: Sequence[Any], rewards: Sequence[float]) -> dict[str, float]:
        """Apply one update and return scalars to log (e.g. baseline, mean reward)."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Optimiser state, baseline and anything else needed for an exact resume."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`."""


class BaseSearchSpace(metaclass=ABCMeta):
    """Couples a sampler with the target its samples configure.

    The target is a data-pipeline transform's policy, a loss module's parameters, or any attribute path of the
    model or the optimiser. ``apply`` binds one sample to that target in the current process.
    """

    def __init__(self, sampler: BaseSampler) -> None:
        self.sampler = sampler

    @abstractmethod
    def apply(self, sample: Any, runner: Any = None) -> None:
        """Bind ``sample`` to the target (``runner`` gives access to model, optimiser and dataloaders)."""
