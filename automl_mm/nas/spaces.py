"""Architecture search spaces: a sequence of decisions, the constraint between them, and where a path goes.

A *path* is a tuple of option indices, one per decision. A *partial path* (prefix) fixes the first decisions.
A space knows its options, which full paths are valid, whether a prefix can still be completed validly, and how to
apply a path to the supernet inside a model (found by duck typing, so the model never knows it is searched).

Spaces here:

* ``LayerwiseSpace`` — one operator per mixed layer of an ``MBConvSupernet`` (PC-NAS).
* ``StageAllocationSpace`` — blocks per stage with a fixed total (CR-NAS stage reallocation).
* ``DilationSpace`` — one dilation per active block (CR-NAS spatial reallocation).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from torch import nn

from automl_mm.registry import SEARCH_SPACES


def build_in_scope(registry, cfg: dict):
    """Build ``cfg`` from one of automl_mm's root registries whatever the config's default scope (e.g. mmdet)."""
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('automl_mm'):
        return registry.build(cfg)


def find_supernet(model: nn.Module, methods: Sequence[str], owner: str) -> nn.Module:
    """The first submodule of ``model`` (unwrapped from DDP-like wrappers) having every method in ``methods``."""
    root = getattr(model, 'module', model)
    for module in root.modules():
        if all(callable(getattr(module, name, None)) for name in methods):
            return module
    raise ValueError(f'{owner} needs a supernet module with {", ".join(methods)}() inside the model '
                     f'({type(root).__name__}); is the backbone a supernet (e.g. max_stage_blocks / MBConvSupernet)?')


class BasePathSpace:
    """Decisions with finite options. Subclasses set ``self.options`` and implement :meth:`apply`.

    Args:
        options: One sequence of option values per decision.
    """

    #: Methods the supernet must provide for :meth:`apply`; used to find it inside the model.
    supernet_methods: tuple[str, ...] = ()

    def __init__(self, options: Sequence[Sequence[Any]] | None = None) -> None:
        self.options: list[list[Any]] = [list(o) for o in options] if options is not None else []
        self._found: tuple[nn.Module, nn.Module] | None = None  # (model, its supernet): apply runs every iteration
        for i, opts in enumerate(self.options):
            if not opts:
                raise ValueError(f'{type(self).__name__}: decision {i} has no options')

    # --- structure -----------------------------------------------------------------------------------------
    @property
    def num_decisions(self) -> int:
        return len(self.options)

    def num_options(self, decision: int) -> int:
        return len(self.options[decision])

    def values(self, path: Sequence[int]) -> list[Any]:
        """The option values a (partial) path selects."""
        return [self.options[i][j] for i, j in enumerate(path)]

    def check_path(self, path: Sequence[int], partial: bool = False) -> tuple[int, ...]:
        """``path`` as a tuple of ints, or a ``ValueError`` naming the offending decision."""
        path = tuple(int(j) for j in path)
        if len(path) > self.num_decisions or (not partial and len(path) != self.num_decisions):
            raise ValueError(f'{type(self).__name__}: a path has {self.num_decisions} decisions, got {len(path)}')
        for i, j in enumerate(path):
            if not 0 <= j < self.num_options(i):
                raise ValueError(f'{type(self).__name__}: decision {i} has {self.num_options(i)} options, got {j}')
        return path

    # --- constraints (none by default) ------------------------------------------------------------------------
    def is_valid(self, path: Sequence[int]) -> bool:
        """Whether a full path satisfies the space's constraint."""
        return True

    def can_complete(self, prefix: Sequence[int]) -> bool:
        """Whether some valid full path starts with ``prefix``."""
        return True

    @property
    def independent(self) -> bool:
        """True when every combination of options is valid (decisions can be sampled independently)."""
        return True

    def completions(self, prefix: Sequence[int], limit: int | None = None) -> Iterator[tuple[int, ...]]:
        """Valid full paths extending ``prefix`` in lexicographic order (pruned by :meth:`can_complete`)."""
        prefix = tuple(prefix)
        count = 0

        def _walk(partial: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
            nonlocal count
            if limit is not None and count >= limit:
                return
            if len(partial) == self.num_decisions:
                if self.is_valid(partial):
                    count += 1
                    yield partial
                return
            for j in range(self.num_options(len(partial))):
                extended = partial + (j, )
                if self.can_complete(extended):
                    yield from _walk(extended)

        if self.can_complete(prefix):
            yield from _walk(prefix)

    def extensions(self, prefix: Sequence[int], depth: int = 1) -> list[tuple[int, ...]]:
        """Every completable extension of ``prefix`` by its next ``depth`` decisions, in lexicographic order."""
        start = len(prefix)
        depth = min(depth, self.num_decisions - start)
        out = []
        for tail in itertools.product(*(range(self.num_options(start + d)) for d in range(depth))):
            candidate = tuple(prefix) + tail
            if self.can_complete(candidate) and (len(candidate) < self.num_decisions or self.is_valid(candidate)):
                out.append(candidate)
        return out

    def size(self) -> int:
        """Number of valid full paths (enumerated; spaces with constraints override with a count)."""
        n = 1
        for opts in self.options:
            n *= len(opts)
        return n

    # --- binding ----------------------------------------------------------------------------------------------
    def supernet(self, model: nn.Module) -> nn.Module:
        """The supernet inside ``model`` (looked up once per model)."""
        if self._found is None or self._found[0] is not model:
            self._found = (model, find_supernet(model, self.supernet_methods, type(self).__name__))
        return self._found[1]

    def bind(self, model: nn.Module) -> nn.Module:
        """Locate the supernet inside ``model``; subclasses may read their options from it."""
        return self.supernet(model)

    def apply(self, path: Sequence[int], model: nn.Module) -> None:
        """Configure the supernet inside ``model`` to run ``path``."""
        raise NotImplementedError

    def current_path(self, model: nn.Module) -> tuple[int, ...]:
        """The path the supernet inside ``model`` runs now (what :meth:`apply` would have to set to restore it).

        Raises:
            ValueError: The supernet runs something this space cannot express (the message names it).
        """
        raise NotImplementedError

    def _index_of(self, decision: int, value: Any, what: str) -> int:
        opts = self.options[decision]
        if value not in opts:
            raise ValueError(f'{type(self).__name__}: the supernet runs {what}, which is not among the options '
                             f'{opts} of decision {decision}')
        return opts.index(value)

    def describe(self, path: Sequence[int]) -> dict:
        """A JSON-friendly description of a full path (what the export and the logs show)."""
        return {'path': list(path), 'values': self.values(path)}


@SEARCH_SPACES.register_module()
class LayerwiseSpace(BasePathSpace):
    """One operator per mixed layer of a single-path supernet (``set_path`` / ``layer_choices``).

    The options are read from the supernet when the space is bound, so configs only name the space.

    Examples:
        >>> space = LayerwiseSpace(options=[['k3e3', 'skip'], ['k3e3', 'k5e3']])
        >>> space.size(), space.values((1, 0))
        (4, ['skip', 'k3e3'])
    """

    supernet_methods = ('set_path', )

    def bind(self, model: nn.Module) -> nn.Module:
        supernet = super().bind(model)
        choices = [list(c) for c in supernet.layer_choices]
        if self.options and self.options != choices:
            raise ValueError(f'LayerwiseSpace options {self.options} differ from the supernet layers {choices}')
        self.options = choices
        return supernet

    def apply(self, path: Sequence[int], model: nn.Module) -> None:
        supernet = self.bind(model) if not self.options else self.supernet(model)
        supernet.set_path(self.check_path(path))

    def current_path(self, model: nn.Module) -> tuple[int, ...]:
        supernet = self.bind(model) if not self.options else self.supernet(model)
        return self.check_path(supernet.path)

    def describe(self, path: Sequence[int]) -> dict:
        return {'arch': self.values(path)}


@SEARCH_SPACES.register_module()
class StageAllocationSpace(BasePathSpace):
    """Blocks per stage, one decision per stage, with the total block count fixed (CR-NAS stage reallocation).

    Args:
        stage_choices: The allowed block counts of each stage.
        total_blocks: The fixed sum over stages (keeps ResNet FLOPs about equal; METHODS.md §5).

    Examples:
        >>> space = StageAllocationSpace(stage_choices=[[1, 2, 3]] * 4, total_blocks=8)
        >>> space.size(), space.values(next(space.completions(())))
        (19, [1, 1, 3, 3])
    """

    supernet_methods = ('set_allocation', )

    def __init__(self, stage_choices: Sequence[Sequence[int]], total_blocks: int) -> None:
        super().__init__(stage_choices)
        for i, opts in enumerate(self.options):
            if any(int(v) < 1 for v in opts):
                raise ValueError(f'stage_choices[{i}] = {opts}: every stage needs at least one block')
        self.total_blocks = int(total_blocks)
        self._min_rest = [sum(min(o) for o in self.options[i:]) for i in range(self.num_decisions + 1)]
        self._max_rest = [sum(max(o) for o in self.options[i:]) for i in range(self.num_decisions + 1)]
        if not self._min_rest[0] <= self.total_blocks <= self._max_rest[0]:
            raise ValueError(f'total_blocks={total_blocks} is out of reach of stage_choices '
                             f'(sums from {self._min_rest[0]} to {self._max_rest[0]})')

    @property
    def independent(self) -> bool:
        return False

    def is_valid(self, path: Sequence[int]) -> bool:
        return len(path) == self.num_decisions and sum(self.values(path)) == self.total_blocks

    def can_complete(self, prefix: Sequence[int]) -> bool:
        used = sum(self.values(prefix))
        rest = len(prefix)
        return self._min_rest[rest] <= self.total_blocks - used <= self._max_rest[rest]

    def size(self) -> int:
        return sum(1 for _ in self.completions(()))

    def path_of(self, stage_blocks: Sequence[int]) -> tuple[int, ...]:
        """The path selecting ``stage_blocks``, or a ``ValueError`` naming the stage whose count is not a choice, or
        the stage count / total block count that differs from the space's."""
        if len(stage_blocks) != self.num_decisions or sum(stage_blocks) != self.total_blocks:
            raise ValueError(f'{list(stage_blocks)} ({len(stage_blocks)} stages, {sum(stage_blocks)} blocks) is not '
                             f'an allocation of the space: {self.num_decisions} stages, total_blocks='
                             f'{self.total_blocks}')
        path = []
        for i, (blocks, opts) in enumerate(zip(stage_blocks, self.options)):
            if blocks not in opts:
                raise ValueError(f'stage {i}: {blocks} blocks is not among stage_choices[{i}] = {opts}')
            path.append(opts.index(blocks))
        return tuple(path)

    def apply(self, path: Sequence[int], model: nn.Module) -> None:
        self.supernet(model).set_allocation(self.values(self.check_path(path)))

    def current_path(self, model: nn.Module) -> tuple[int, ...]:
        blocks = self.supernet(model).active_stage_blocks
        return tuple(self._index_of(i, int(n), f'{n} blocks in stage {i}') for i, n in enumerate(blocks))

    def describe(self, path: Sequence[int]) -> dict:
        return {'stage_blocks': self.values(path)}


@SEARCH_SPACES.register_module()
class DilationSpace(BasePathSpace):
    """One dilation per active block of a CR backbone (CR-NAS spatial reallocation; METHODS.md §5).

    Args:
        choices: Dilations each block may take (the paper: 1, 2, 3).
        num_blocks: Number of blocks; ``None`` reads ``num_active_blocks`` from the supernet when bound.

    Examples:
        >>> DilationSpace(choices=(1, 2, 3), num_blocks=4).size()
        81
    """

    supernet_methods = ('set_dilations', )

    def __init__(self, choices: Sequence[int] = (1, 2, 3), num_blocks: int | None = None) -> None:
        if not choices or any(int(c) < 1 for c in choices):
            raise ValueError(f'DilationSpace choices must be dilations >= 1, got {choices}')
        self.choices = [int(c) for c in choices]
        super().__init__([self.choices] * num_blocks if num_blocks else None)

    def bind(self, model: nn.Module) -> nn.Module:
        supernet = super().bind(model)
        blocks = int(supernet.num_active_blocks)
        if self.options and len(self.options) != blocks:
            raise ValueError(f'DilationSpace has {len(self.options)} blocks, the backbone runs {blocks}')
        self.options = [list(self.choices) for _ in range(blocks)]
        return supernet

    def apply(self, path: Sequence[int], model: nn.Module) -> None:
        self.supernet(model).set_dilations(self.values(self.check_path(path)))

    def current_path(self, model: nn.Module) -> tuple[int, ...]:
        dilations = self.supernet(model).active_dilations
        if len(dilations) != self.num_decisions:
            raise ValueError(f'DilationSpace has {self.num_decisions} blocks, the backbone runs {len(dilations)}')
        return tuple(self._index_of(i, int(d), f'dilation {d} in block {i}') for i, d in enumerate(dilations))

    def describe(self, path: Sequence[int]) -> dict:
        return {'dilations_per_block': self.values(path)}
