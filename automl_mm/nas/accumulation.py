"""Gradient accumulation (``optim_wrapper.accumulative_counts``) under the NAS search loops.

mmengine's ``OptimWrapper(accumulative_counts=m)`` steps the optimiser after every m-th iteration, counting from
its ``_inner_count``. The search loops train in phases that a scoring step ends (PC-NAS: the warm-up, then one
stage per layer; CR-NAS: the stage supernet, then the operation supernet). A phase whose length m does not divide
ended with gradients pending: a PC-NAS digits search with ``warmup_iters=4, stage_iters=3`` and
``accumulative_counts=2`` scored stage 1's candidates on a supernet that had applied 2 of its 3 iterations, and the
pending gradient of a stage-1 path was applied with stage 2's first update (after the pool had changed), silently.
(mmengine's ``Runner.train`` starts the counter at the loop's resumed iteration, for the search loops too.)
The same holds at a checkpoint: one written between two optimiser steps lacks the pending gradients, and a
search resumed from it lost them (mmengine only warns); :func:`check_checkpoint_accumulation` refuses the
iteration-based checkpoint interval that writes such checkpoints, :func:`check_resumed_accumulation` the resume.
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



def _count_items(optim_wrapper: Any) -> list[tuple[str, int]]:
    return [(key, count) for key, count in accumulative_counts(optim_wrapper).items() if count > 1]


def check_checkpoint_accumulation(cfg: Any) -> None:
    """Refuse an iteration-based ``default_hooks.checkpoint.interval`` that ``accumulative_counts`` does not
    divide: those checkpoints are written between two optimiser steps, the pending gradients are not saved, and a
    search resumed from one loses them (see :func:`check_resumed_accumulation`).

    Raises:
        ValueError: naming both keys and values.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if not isinstance(hook, dict) or hook.get('by_epoch', True):
        return
    interval = hook.get('interval', -1)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
        return
    for key, count in _count_items(cfg.get('optim_wrapper')):
        if interval % count:
            raise ValueError(
                f'default_hooks.checkpoint.interval={interval} is not a multiple of {key}={count}: its checkpoints '
                f'would be written with up to {count - 1} iteration(s) of gradients pending (not saved), and a '
                f'search resumed from one would lose them; make the interval a multiple of {count}')


def check_resumed_accumulation(optim_wrapper: Any, iteration: int, checkpoint: str = 'the checkpoint') -> None:
    """Refuse to resume a search at an iteration between two optimiser steps.

    The gradients of the last ``iteration % m`` iterations were pending when the checkpoint was written and are not
    in it: mmengine's ``initialize_count_status`` only warns ("the gradient of some iterations is lost"), and the
    resumed search's next update averages fewer paths than an uninterrupted one's (its loss is still divided by m).

    Raises:
        ValueError: naming the checkpoint's iteration, the ``accumulative_counts`` key and value.
    """
    for key, count in _count_items(optim_wrapper):
        if int(iteration) % count:
            raise ValueError(
                f'{checkpoint} was saved at iteration {int(iteration)}, which {key}={count} does not divide: the '
                f'gradients of its last {int(iteration) % count} iteration(s) were pending and are not in it, so '
                f'the resumed search would lose them; resume from a checkpoint at a multiple of {count} (the '
                f'search\'s own search_*_iter_N.pth are), or with the accumulative_counts it was trained with')
