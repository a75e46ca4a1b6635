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

from collections.abc import Sequence

from torch import nn

from automl_mm.registry import SEARCH_SPACES
from automl_mm.utils.checks import as_count
from automl_mm.utils.scope import build_in_scope  # noqa: F401  (re-exported: its former home)

from .base import BasePathSpace, check_distinct, find_supernet  # noqa: F401  (re-exported: their former home)


@SEARCH_SPACES.register_module()
class LayerwiseSpace(BasePathSpace):
    """One operator per mixed layer of a single-path supernet (``set_path`` / ``layer_choices``).

    The options are read from the supernet when the space is bound, so configs only name the space.

    Args:
        options: One list of operator names per mixed layer; ``None`` (configs) reads them from the supernet.

    Raises:
        ValueError: a layer without options or with a repeated one; at ``bind``, options that differ from the
            supernet's ``layer_choices``.

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


@SEARCH_SPACES.register_module()
class StageAllocationSpace(BasePathSpace):
    """Blocks per stage, one decision per stage, with the total block count fixed (CR-NAS stage reallocation).

    Args:
        stage_choices: The allowed block counts of each stage.
        total_blocks: The fixed sum over stages (keeps ResNet FLOPs about equal; METHODS.md §5).

    Raises:
        ValueError: a stage without choices, a repeated choice or one that is not an int >= 1; ``total_blocks`` not
            an int >= 1 or not a sum the choices can reach.

    Examples:
        >>> space = StageAllocationSpace(stage_choices=[[1, 2, 3]] * 4, total_blocks=8)
        >>> space.size(), space.values(next(space.completions(())))
        (19, [1, 1, 3, 3])
    """

    supernet_methods = ('set_allocation', )
    options_key = 'stage_choices'

    def __init__(self, stage_choices: Sequence[Sequence[int]], total_blocks: int) -> None:
        super().__init__(stage_choices)
        for i, opts in enumerate(self.options):
            self.options[i] = [as_count(v, f'stage_choices[{i}] ({opts}): a block count', 1) for v in opts]
        self.total_blocks = as_count(total_blocks, 'total_blocks', 1)
        # the block counts stages i.. can add up to: min/max bounds alone took gaps in the choices for reachable
        # sums (ResNet-50's [1, 1, 2] "could complete" though no allocation of 16 blocks starts with it)
        self._reach: list[set[int]] = [{0}]
        for opts in reversed(self.options):
            self._reach.insert(0, {int(v) + rest for v in opts for rest in self._reach[0]})
        if self.total_blocks not in self._reach[0]:
            raise ValueError(f'total_blocks={total_blocks} is out of reach of stage_choices (reachable sums: '
                             f'{sorted(self._reach[0])})')

    @property
    def independent(self) -> bool:
        return False

    def is_valid(self, path: Sequence[int]) -> bool:
        return len(path) == self.num_decisions and sum(self.values(path)) == self.total_blocks

    def can_complete(self, prefix: Sequence[int]) -> bool:
        return self.total_blocks - sum(self.values(prefix)) in self._reach[len(prefix)]

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


@SEARCH_SPACES.register_module()
class DilationSpace(BasePathSpace):
    """One dilation per active block of a CR backbone (CR-NAS spatial reallocation; METHODS.md §5).

    Args:
        choices: Dilations each block may take (the paper: 1, 2, 3).
        num_blocks: Number of blocks; ``None`` reads ``num_active_blocks`` from the supernet when bound.

    Raises:
        ValueError: ``choices`` empty, repeated or not ints >= 1; ``num_blocks`` neither ``None`` nor an int >= 1;
            at ``bind``, a ``num_blocks`` other than the backbone's active blocks.

    Examples:
        >>> DilationSpace(choices=(1, 2, 3), num_blocks=4).size()
        81
    """

    supernet_methods = ('set_dilations', )

    def __init__(self, choices: Sequence[int] = (1, 2, 3), num_blocks: int | None = None) -> None:
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or not choices:
            raise ValueError(f'DilationSpace choices must be dilations >= 1, got {choices}')
        self.choices = [as_count(c, f'DilationSpace choices ({list(choices)}): a dilation', 1) for c in choices]
        check_distinct(self.choices, 'DilationSpace choices')
        if num_blocks is not None:
            # 0 and -1 were read as None (blocks from the supernet), 2.5 failed in list * float naming no key
            num_blocks = as_count(num_blocks, 'DilationSpace num_blocks', 1)
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
