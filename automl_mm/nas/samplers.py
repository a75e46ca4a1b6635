"""Path samplers: uniform over a space's valid paths, and restricted to a pool of partial architectures.

Every rank must run the same path at each iteration. Rather than broadcasting, samplers draw from a generator
seeded by ``(seed, iteration)`` (:func:`path_rng`): identical on every rank, reproducible after ``--resume``, and
free of communication.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from automl_mm.registry import SAMPLERS

from .base import BasePathSampler, BasePathSpace

#: Default ``enumerate_limit``: prefixes with up to this many completions are sampled exactly by enumeration.
_ENUMERATE_LIMIT = 100_000
#: Enumerated prefixes kept in a sampler's cache (bounds its memory: each list holds up to the limit's paths).
_CACHED_PREFIXES = 4


def path_rng(*keys: int) -> np.random.Generator:
    """A generator determined by integer ``keys`` only (e.g. seed, iteration): the same on every rank."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


@SAMPLERS.register_module()
class UniformPathSampler(BasePathSampler):
    """Uniform over the valid completions of a prefix (the single-path one-shot sampler).

    Independent spaces draw each decision uniformly. Constrained spaces (e.g. a fixed total block count) draw
    uniformly among their valid completions: by enumeration when there are at most ``enumerate_limit``, else by
    rejection. A completion that must also pass ``accept`` (a latency or FLOPs limit) is drawn exactly too when
    the prefix's completions can be enumerated (the admitted ones are listed once per prefix); otherwise by
    rejection with a budget of ``max_tries`` draws.

    Args:
        space: The path space (set by the loop or hook that owns the sampler when built from a config).
        max_tries: Rejection attempts before giving up on a constrained or cost-limited draw that cannot be
            enumerated.
        enumerate_limit: Prefixes with at most this many valid completions are sampled exactly by enumeration.

    Examples:
        >>> from automl_mm.nas.spaces import StageAllocationSpace
        >>> sampler = UniformPathSampler(StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8))
        >>> sum(sampler.space.values(sampler.sample(path_rng(0, 1))))
        8
    """

    def __init__(self, space: BasePathSpace | None = None, max_tries: int = 10_000,
                 enumerate_limit: int = _ENUMERATE_LIMIT) -> None:
        if int(max_tries) < 1:
            raise ValueError(f'{type(self).__name__}: max_tries must be >= 1, got {max_tries}')
        if int(enumerate_limit) < 0:
            raise ValueError(f'{type(self).__name__}: enumerate_limit must be >= 0, got {enumerate_limit}')
        super().__init__(space)
        self.max_tries = int(max_tries)
        self.enumerate_limit = int(enumerate_limit)
        self._admitted: OrderedDict[tuple, list[tuple[int, ...]] | None] = OrderedDict()

    def _space(self) -> BasePathSpace:
        if self.space is None or not self.space.num_decisions:
            raise ValueError(f'{type(self).__name__} has no bound space; set sampler.space (loops and '
                             'PathSamplingHook do this from their `space` config)')
        return self.space

    def _num_free_combinations(self, prefix: tuple[int, ...]) -> int:
        """Product of the undecided decisions' option counts, capped just above ``enumerate_limit``."""
        space = self._space()
        n = 1
        for i in range(len(prefix), space.num_decisions):
            n *= space.num_options(i)
            if n > self.enumerate_limit:
                break
        return n

    def admitted_completions(self, prefix: Sequence[int],
                             accept: Callable[[tuple[int, ...]], bool] | None = None) -> list[tuple[int, ...]] | None:
        """Every valid completion of ``prefix`` that ``accept`` admits, in lexicographic order.

        The last few lists are cached (a candidate's samples share its prefix; a pool's prefixes recur).

        Returns:
            The list (empty when no completion is admitted), or ``None`` when the prefix has more than
            ``enumerate_limit`` valid completions (then only rejection sampling can draw from them).
        """
        space = self._space()
        prefix = space.check_path(prefix, partial=True)
        key = (prefix, accept)
        if key in self._admitted:
            self._admitted.move_to_end(key)
            return self._admitted[key]
        found: list[tuple[int, ...]] | None = []
        if space.independent and self._num_free_combinations(prefix) > self.enumerate_limit:
            found = None
        else:
            for count, path in enumerate(space.completions(prefix, limit=self.enumerate_limit + 1), 1):
                if count > self.enumerate_limit:
                    found = None
                    break
                if accept is None or accept(path):
                    found.append(path)
        self._admitted[key] = found
        while len(self._admitted) > _CACHED_PREFIXES:
            self._admitted.popitem(last=False)
        return found

    def complete(self, prefix: Sequence[int], generator: np.random.Generator,
                 accept: Callable[[tuple[int, ...]], bool] | None = None) -> tuple[int, ...] | None:
        """A uniformly drawn valid completion of ``prefix`` that ``accept`` (e.g. a latency limit) admits.

        Exact (one draw from the enumerated admitted completions) when the prefix's completions can be
        enumerated; otherwise by rejection. Independent spaces without ``accept`` draw decision by decision, so
        prefixes of the same length given generators in the same state get the same tail (common random numbers).

        Returns:
            The full path, or ``None`` when no admitted completion exists (enumerated) or none was found in
            ``max_tries`` rejection draws (see :meth:`admitted_completions` to tell the two apart).
        """
        space = self._space()
        prefix = space.check_path(prefix, partial=True)
        if not space.can_complete(prefix):
            return None
        if space.independent and accept is None:
            return prefix + tuple(int(generator.integers(space.num_options(i)))
                                  for i in range(len(prefix), space.num_decisions))
        choices = self.admitted_completions(prefix, accept)
        if choices is not None:
            return choices[int(generator.integers(len(choices)))] if choices else None
        for _ in range(self.max_tries):
            tail = tuple(int(generator.integers(space.num_options(i)))
                         for i in range(len(prefix), space.num_decisions))
            path = prefix + tail
            if space.is_valid(path) and (accept is None or accept(path)):
                return path
        return None

    def sample(self, generator: np.random.Generator | None = None) -> tuple[int, ...]:
        path = self.complete((), generator if generator is not None else np.random.default_rng())
        if path is None:
            raise RuntimeError(f'{type(self).__name__}: no valid path found in {self.max_tries} draws '
                               '(raise max_tries or enumerate_limit)')
        return path


@SAMPLERS.register_module()
class PoolPathSampler(UniformPathSampler):
    """A prefix drawn uniformly from a pool of partial architectures, the rest uniformly (PC-NAS training).

    With an empty pool (or a pool of the empty prefix) it is the uniform sampler.

    Args:
        space: The path space.
        pool: Partial paths, all of the same length.
        max_tries: As for :class:`UniformPathSampler`.
        enumerate_limit: As for :class:`UniformPathSampler`.

    Examples:
        >>> from automl_mm.nas.spaces import LayerwiseSpace
        >>> sampler = PoolPathSampler(LayerwiseSpace([[0, 1, 2]] * 3), pool=[(2,), (1,)])
        >>> sampler.sample(path_rng(0, 5))[0] in (1, 2)
        True
    """

    def __init__(self, space: BasePathSpace | None = None, pool: Sequence[Sequence[int]] = (),
                 max_tries: int = 10_000, enumerate_limit: int = _ENUMERATE_LIMIT) -> None:
        super().__init__(space, max_tries, enumerate_limit)
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
