"""Gradient accumulation (``optim_wrapper.accumulative_counts``) under the NAS search loops.

mmengine's ``OptimWrapper(accumulative_counts=m)`` steps the optimiser after every m-th iteration, counting from
its ``_inner_count``. The search loops train in phases that a scoring step ends (PC-NAS: the warm-up, then one
stage per layer; CR-NAS: the stage supernet, then the operation supernet). A phase whose length m does not divide
ended with gradients pending: a PC-NAS digits search with ``warmup_iters=4, stage_iters=3`` and
``accumulative_counts=2`` scored stage 1's candidates on a supernet that had applied 2 of its 3 iterations, and the
pending gradient of a stage-1 path was applied with stage 2's first update (after the pool had changed), silently.
(mmengine's ``Runner.train`` starts the counter at the loop's resumed iteration, for the search loops too.)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def accumulative_counts(optim_wrapper: Any) -> dict[str, int]:
    """``{config key: m}`` of every ``accumulative_counts`` of an ``optim_wrapper`` config (one wrapper, or a dict
    of wrappers by name); values other than whole numbers are left to mmengine."""
    if not isinstance(optim_wrapper, dict):
        return {}
    found = {}
    nodes = [('optim_wrapper', optim_wrapper)] + [(f'optim_wrapper.{k}', v) for k, v in optim_wrapper.items()
                                                  if isinstance(v, dict)]
    for key, node in nodes:
        count = node.get('accumulative_counts')
        if isinstance(count, int) and not isinstance(count, bool):
            found[f'{key}.accumulative_counts'] = count
    return found


def check_phase_accumulation(optim_wrapper: Any, phases: Sequence[tuple[str, int]]) -> None:
    """Refuse search phases that end between two optimiser steps (see the module docstring).

    Args:
        optim_wrapper: The config's ``optim_wrapper``.
        phases: ``(train_cfg key, iterations)`` of each phase length whose end a scoring step or the next phase
            follows, e.g. ``[('train_cfg.warmup_iters', 600), ('train_cfg.stage_iters', 300)]``.

    Raises:
        ValueError: naming the ``accumulative_counts`` key and value and the first phase key it does not divide.
    """
    for key, count in accumulative_counts(optim_wrapper).items():
        if count <= 1:
            continue
        for phase, iters in phases:
            if int(iters) % count:
                raise ValueError(
                    f'{key}={count} does not divide {phase}={int(iters)}: the phase would end with the gradients of '
                    f'its last {int(iters) % count} iteration(s) not applied, its scoring would read a supernet '
                    'trained less than configured, and the next phase\'s first update would carry them; make every '
                    f'phase length a multiple of {count} (or accumulative_counts=1)')

