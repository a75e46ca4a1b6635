"""The cost of a copy's training step entering and leaving ``copy_local_collectives``: wrappers built once per
layout (``CopyLayout`` frozen and hashable) against the old path, which built the ~20 wrappers afresh at every
step (``_copy_local`` per function), in the same process.

Both sides patch ``torch.distributed``'s functions for the block and put them back after, and call ``all_reduce``
and ``get_world_size`` once inside (a copy of one rank: no communication). The new side also points the functions
that modules outside torch bound at import at the copy (the ``sys.modules`` scan runs once per module: its first
scan, with mmdet's models imported, is printed apart). torch.distributed is not started: ``is_distributed`` is
replaced for the measurement.

After one untimed round of both, the two sides run ``--rounds`` timed rounds of ``--steps`` steps, in alternating
order (old first in rounds 1, 3, ..., new first in 2, 4, ...); printed: each side's median per-step time and the
old / new ratio as the mean ± sample std of the rounds' paired ratios. Until the forty-third session one timed round
ran, the old path always first.

Run: python benchmarks/copy_local_wrappers.py [--steps 20000] [--rounds 5] [--with-mmdet]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import contextmanager
from unittest import mock

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
import torch.distributed as torch_dist
from _pairs import abba_order, paired_ratios

from automl_mm.ohl import copy_collectives as copies
from automl_mm.ohl.copies import CopyLayout


def _old_copy_local(name: str, original, layout: CopyLayout):
    """``copies._copy_local`` as it was at f090316 (no check of the active layout, no ``update_wrapper``)."""
    signature = copies._signature(original)

    def copy_local(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        call = bound.arguments
        if call.get('group') is not None:
            return original(*args, **kwargs)
        if name in ('get_world_size', 'get_rank'):
            return layout.ranks_per_copy if name == 'get_world_size' else layout.rank_in_copy
        for end in ('src', 'dst'):
            if call.get(end) is not None:
                call[end] = layout.lead_rank(layout.copy_id) + int(call[end])
        if layout.ranks_per_copy == 1:
            if copies._ONE_RANK[name] is not None:
                copies._ONE_RANK[name](call)
            return copies._Done() if call.get('async_op') else None
        call['group'] = layout.group
        return original(*bound.args, **bound.kwargs)
    return copy_local


@contextmanager
def _old_path(layout: CopyLayout):
    """The block as it was at f090316: every function wrapped afresh on entry."""
    originals = {name: getattr(torch_dist, name) for name in copies.COPY_LOCAL_CALLS if hasattr(torch_dist, name)}
    try:
        for name, original in originals.items():
            setattr(torch_dist, name, _old_copy_local(name, original, layout))
        yield
    finally:
        for name, original in originals.items():
            setattr(torch_dist, name, original)


def _steps(block, layout: CopyLayout, steps: int) -> float:
    x = torch.ones(1)
    start = time.perf_counter()
    for _ in range(steps):
        with block(layout):
            torch_dist.all_reduce(x)
            torch_dist.get_world_size()
    return (time.perf_counter() - start) / steps


def alternating_rounds(sides: list, rounds: int) -> list[list[float]]:
    """Call every side once per round, in the given order in rounds 0, 2, ... and reversed in rounds 1, 3, ...,
    after one untimed round of each; ``[[side 0's result per round], [side 1's], ...]``."""
    for side in sides:
        side()
    results: list[list[float]] = [[] for _ in sides]
    for r in range(rounds):
        for k in abba_order(range(len(sides)), r):
            results[k].append(sides[k]())
    return results


def paired_ratio_text(numerator: list[float], denominator: list[float]) -> str:
    """Mean ± sample std of the rounds' paired ratios ``numerator[i] / denominator[i]`` (``n/a`` for one round),
    with the number of rounds."""
    ratios = paired_ratios(numerator, denominator, 'paired ratios need as many rounds of each side (>= 1)')
    std = f'{statistics.stdev(ratios):.2f}' if len(ratios) > 1 else 'n/a'
    return f'{statistics.mean(ratios):.2f} ± {std} (sample std of {len(ratios)} paired round(s))'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--steps', type=int, default=20000)
    parser.add_argument('--rounds', type=int, default=5, help='timed rounds of both sides, in alternating order')
    parser.add_argument('--with-mmdet', action='store_true', help='import mmdet.models first (~4000 modules)')
    args = parser.parse_args()
    if args.rounds < 1 or args.steps < 1:
        parser.error(f'--rounds and --steps must be >= 1, got {args.rounds} and {args.steps}')
    if args.with_mmdet:
        import mmdet.models  # noqa: F401
    layout = CopyLayout(2, 1, rank=1, world_size=2)
    with mock.patch.object(copies, 'is_distributed', lambda: True):
        start = time.perf_counter()
        with copies.copy_local_collectives(layout):
            pass
        first = time.perf_counter() - start
        old, new = alternating_rounds([lambda: _steps(_old_path, layout, args.steps),
                                       lambda: _steps(copies.copy_local_collectives, layout, args.steps)],
                                      args.rounds)
    print(f'modules: {len(sys.modules)}; first block (the sys.modules scan): {first * 1e3:.1f} ms')
    print(f'per step, median of {args.rounds} round(s): old path {statistics.median(old) * 1e6:.1f} us, wrappers '
          f'kept per layout {statistics.median(new) * 1e6:.1f} us; ratio old/new {paired_ratio_text(old, new)}')


if __name__ == '__main__':
    main()
