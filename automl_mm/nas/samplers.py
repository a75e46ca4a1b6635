"""Path samplers: uniform over a space's valid paths, and restricted to a pool of partial architectures.

Every rank must run the same path at each iteration. Rather than broadcasting, samplers draw from a generator
seeded by ``(seed, iteration)`` (:func:`path_rng`): identical on every rank, reproducible after ``--resume``, and
free of communication.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from automl_mm.registry import SAMPLERS
from automl_mm.search.base import BaseSampler

from .spaces import BasePathSpace

#: Constrained spaces up to this many completions are sampled exactly uniformly by enumeration.
_ENUMERATE_LIMIT = 200_000


def path_rng(*keys: int) -> np.random.Generator:
    """A generator determined by integer ``keys`` only (e.g. seed, iteration): the same on every rank."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


@SAMPLERS.register_module()
class UniformPathSampler(BaseSampler):
    """Uniform over the valid completions of a prefix (the single-path one-shot sampler).

    Independent spaces draw each decision uniformly. Constrained spaces (e.g. a fixed total block count) draw
    uniformly among their valid completions: by enumeration when there are at most 200,000, else by rejection.

    Args:
        space: The path space (set by the loop or hook that owns the sampler when built from a config).
        max_tries: Rejection attempts before giving up on a constrained or cost-limited draw.

    Examples:
        >>> from automl_mm.nas.spaces import StageAllocationSpace
        >>> sampler = UniformPathSampler(StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8))
        >>> sum(sampler.space.values(sampler.sample(path_rng(0, 1))))
        8
    """

    def __init__(self, space: BasePathSpace | None = None, max_tries: int = 1000) -> None:
        self.space = space
        self.max_tries = int(max_tries)
        self._completions: dict[tuple[int, ...], list[tuple[int, ...]] | None] = {}

    def _space(self) -> BasePathSpace:
        if self.space is None or not self.space.num_decisions:
            raise ValueError(f'{type(self).__name__} has no bound space; set sampler.space (loops and '
                             'PathSamplingHook do this from their `space` config)')
        return self.space

    def _enumerated(self, prefix: tuple[int, ...]) -> list[tuple[int, ...]] | None:
        if prefix not in self._completions:
            found = list(self._space().completions(prefix, limit=_ENUMERATE_LIMIT + 1))
            self._completions[prefix] = found if len(found) <= _ENUMERATE_LIMIT else None
        return self._completions[prefix]

    def complete(self, prefix: Sequence[int], generator: np.random.Generator,
                 accept: Callable[[tuple[int, ...]], bool] | None = None) -> tuple[int, ...] | None:
        """A uniformly drawn valid completion of ``prefix`` that ``accept`` (e.g. a latency limit) admits.

        Returns ``None`` when no admitted completion was found in ``max_tries`` draws.
        """
        space = self._space()
        prefix = space.check_path(prefix, partial=True)
        if not space.can_complete(prefix):
            return None
        choices = None if space.independent else self._enumerated(prefix)
        for _ in range(self.max_tries):
            if choices is not None:
                if not choices:
                    return None
                path = choices[int(generator.integers(len(choices)))]
            else:
                tail = tuple(int(generator.integers(space.num_options(i)))
                             for i in range(len(prefix), space.num_decisions))
                path = prefix + tail
                if not space.is_valid(path):
                    continue
            if accept is None or accept(path):
                return path
        return None

    def sample(self, generator: np.random.Generator | None = None) -> tuple[int, ...]:
        path = self.complete((), generator if generator is not None else np.random.default_rng())
        if path is None:
            raise RuntimeError(f'{type(self).__name__}: no valid path found in {self.max_tries} draws')
        return path


@SAMPLERS.register_module()
class PoolPathSampler(UniformPathSampler):
    """A prefix drawn uniformly from a pool of partial architectures, the rest uniformly (PC-NAS training).

    With an empty pool (or a pool of the empty prefix) it is the uniform sampler.

    Args:
        space: The path space.
        pool: Partial paths, all of the same length.
        max_tries: As for :class:`UniformPathSampler`.

    Examples:
        >>> from automl_mm.nas.spaces import LayerwiseSpace
        >>> sampler = PoolPathSampler(LayerwiseSpace([[0, 1, 2]] * 3), pool=[(2,), (1,)])
        >>> sampler.sample(path_rng(0, 5))[0] in (1, 2)
        True
    """

    def __init__(self, space: BasePathSpace | None = None, pool: Sequence[Sequence[int]] = (),
                 max_tries: int = 1000) -> None:
        super().__init__(space, max_tries)
        self.set_pool(pool)

    def set_pool(self, pool: Sequence[Sequence[int]]) -> None:
        pool = [tuple(int(j) for j in p) for p in pool] or [()]
        if len({len(p) for p in pool}) != 1:
            raise ValueError(f'PoolPathSampler: pool entries must fix the same number of decisions, got {pool}')
        self.pool = pool

    def sample(self, generator: np.random.Generator | None = None) -> tuple[int, ...]:
        generator = generator if generator is not None else np.random.default_rng()
        prefix = self.pool[int(generator.integers(len(self.pool)))]
        path = self.complete(prefix, generator)
        if path is None:
            raise RuntimeError(f'PoolPathSampler: pool entry {prefix} has no valid completion')
        return path

    def state_dict(self) -> dict:
        return {'pool': [list(p) for p in self.pool]}

    def load_state_dict(self, state: dict) -> None:
        self.set_pool(state['pool'])
