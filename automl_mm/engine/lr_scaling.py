"""mmengine's linear lr scaling (``auto_scale_lr``, ``tools/train.py --auto-scale-lr``) counting gradient
accumulation.

``auto_scale_lr.base_batch_size`` is, in mmengine's words, "the batch size that the optimizer lr is based on": the
samples one optimiser step learns from. ``Runner.scale_lr`` multiplies the lr by ``world_size x batch_size /
base_batch_size``, but with ``optim_wrapper.accumulative_counts=k`` an optimiser step averages the gradients of
``k`` iterations (each loss divided by ``k``), so it learns from ``world_size x batch_size x k`` samples: a run that
accumulated 4 batches of 2 to stand for the base batch of 8 was scaled by 0.25 (mmengine PR #1080, unmerged).
:func:`scaling_by_accumulation` wraps ``Runner.scale_lr`` (and so ``CopyRunner``'s, which counts one copy's ranks
and calls it) so that the effective batch is the one compared.
"""
from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any


def accumulative_counts(optim_wrapper: Any) -> dict[str | None, int]:
    """``{name: accumulative_counts}`` of each optimiser wrapper of ``optim_wrapper`` (the wrappers of an
    ``OptimWrapperDict`` by name, a single wrapper under ``None``); 1 for one that does not accumulate."""
    from mmengine.optim import OptimWrapperDict

    wrappers = dict(optim_wrapper.items()) if isinstance(optim_wrapper, OptimWrapperDict) else {None: optim_wrapper}
    return {name: int(getattr(wrapper, '_accumulative_counts', 1) or 1) for name, wrapper in wrappers.items()}


def _scale_by_counts(optim_wrapper: Any, auto_scale_lr: Any, scale: Callable[[Any, dict], None]) -> bool:
    """Call ``scale(wrapper, auto_scale_lr with base_batch_size / k)`` for each accumulation count ``k`` of
    ``optim_wrapper`` (once for the whole of it where all its wrappers share one count, else once per wrapper), after
    an INFO line naming the keys; ``False`` (nothing called) where scaling is off, its base batch is no number (left
    to mmengine's own refusal) or nothing accumulates."""
    on = isinstance(auto_scale_lr, dict) and auto_scale_lr.get('enable', False)
    base = auto_scale_lr.get('base_batch_size') if on else None
    if not isinstance(base, numbers.Number) or isinstance(base, bool) or optim_wrapper is None:
        return False
    counts = accumulative_counts(optim_wrapper)
    if set(counts.values()) == {1}:
        return False
    from mmengine.logging import print_log

    by_count: dict[int, list] = {}
    for name, count in counts.items():
        by_count.setdefault(count, []).append(name)
    for count, names in by_count.items():
        keys = ', '.join('optim_wrapper' if n is None else f'optim_wrapper.{n}' for n in names)
        print_log(f'auto_scale_lr: {keys} accumulates gradients over accumulative_counts={count} iterations, so an '
                  f'optimiser step learns from world_size x batch_size x {count} samples; its lr is scaled against '
                  f'base_batch_size / {count} = {base / count:g} per iteration (mmengine\'s line below)',
                  logger='current')
        scaled = dict(auto_scale_lr, base_batch_size=base / count)
        for target in [optim_wrapper] if len(by_count) == 1 else [optim_wrapper[name] for name in names]:
            scale(target, scaled)
    return True


def scaling_by_accumulation(scale_lr: Callable) -> Callable:
    """Wrap a runner class's ``scale_lr(optim_wrapper, auto_scale_lr)`` so that it scales by the effective batch,
    ``world_size x batch_size x accumulative_counts``: mmengine's own method is called with
    ``base_batch_size / accumulative_counts`` (the same ratio; mmengine's log line then reads that base), once per
    count where the wrappers of an ``OptimWrapperDict`` accumulate differently, after one INFO line that says so.
    Nothing changes without accumulation or with scaling off. The wrapper's ``counts_accumulation`` is ``True``."""
    @functools.wraps(scale_lr)
    def wrapper(self, optim_wrapper: Any, auto_scale_lr: dict | None = None) -> None:
        if not _scale_by_counts(optim_wrapper, auto_scale_lr, lambda target, scaled: scale_lr(self, target, scaled)):
            return scale_lr(self, optim_wrapper, auto_scale_lr)
        return None

    wrapper.counts_accumulation = True
    return wrapper


def strategy_scaling_by_accumulation(scale_lr: Callable) -> Callable:
    """:func:`scaling_by_accumulation` for a ``FlexibleRunner``'s strategy: ``BaseStrategy._scale_lr()`` reads
    ``self._auto_scale_lr`` and ``self.optim_wrapper``, which are set to the scaled base (and to each wrapper where
    counts differ) for each call and restored after it."""
    @functools.wraps(scale_lr)
    def wrapper(self) -> None:
        held = getattr(self, 'optim_wrapper', None), getattr(self, '_auto_scale_lr', None)

        def scale(target: Any, scaled: dict) -> None:
            self.optim_wrapper, self._auto_scale_lr = target, scaled
            try:
                scale_lr(self)
            finally:
                self.optim_wrapper, self._auto_scale_lr = held

        if not _scale_by_counts(held[0], held[1], scale):
            return scale_lr(self)
        return None

    wrapper.counts_accumulation = True
    return wrapper
