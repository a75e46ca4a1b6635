"""The check that the ranks agree after an OHL trunk end (:func:`verify_copies`): every rank's row (θ, then a weight
:func:`~automl_mm.ohl.fingerprint.fingerprint` before and after the broadcast) is gathered (:func:`gather_rows`) and
compared, after the rows' layouts (:data:`ROW_LAYOUT_VERSION`, :func:`check_row_layouts`) are, so rows of different
sizes are refused by name before a gather that cannot take them.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn
from mmengine.dist import all_gather, is_distributed

from .fingerprint import _GROUP_SIZE, FINGERPRINT_SIZE, fingerprint


def same(a: torch.Tensor, b: torch.Tensor, nan_equal: bool = False) -> bool:
    """Exact equality; NaN equals NaN only with ``nan_equal`` (a diverged copy is NaN on all its ranks)."""
    equal = a == b
    if nan_equal:
        equal = equal | (torch.isnan(a) & torch.isnan(b))
    return bool(equal.all())


def gather_rows(row: torch.Tensor) -> torch.Tensor:
    """All-gather one float64 row per rank into a (world_size, len) tensor on the CPU (identical on all ranks)."""
    row = row.detach().to(torch.float64).flatten()
    if not is_distributed():
        return row[None].clone()
    return torch.stack([r.cpu() for r in all_gather(row)])


#: The layout of the rows :func:`verify_copies` gathers (θ, then a :func:`fingerprint` before and after the
#: broadcast), by version: 1 (none sent, before the sixty-second session: fingerprints of 4 and then 12 numbers), 2
#: (this one: 12 numbers, announced by :func:`check_row_layouts`' header). Raise it whenever the fingerprint changes.
ROW_LAYOUT_VERSION = 2


def check_row_layouts(theta_size: int, before_size: int, after_size: int, trunk: int) -> None:
    """Gather every rank's row layout (``[version, θ's size, the fingerprints' sizes]``, four int64 numbers, a
    collective of the same size in every version since 2) and refuse rows that differ before they are gathered.

    The rows themselves are gathered with ``all_gather``, which needs one size on every rank: a rank of another
    automl_mm (another fingerprint) or another search space (another θ) sent a row of another size, and gloo
    aborted the process ('Received data size doesn't match expected size', naming neither size); NCCL may hang.
    Every rank gets the same headers, so every rank raises the same error. Nothing to do outside a distributed run.

    Raises:
        RuntimeError: on every rank, where the ranks' layouts differ (:func:`row_layouts_differ`' message).
    """
    if not is_distributed():
        return
    header = torch.tensor([ROW_LAYOUT_VERSION, theta_size, before_size, after_size], dtype=torch.int64)
    headers = [h.tolist() for h in all_gather(header)]
    problem = row_layouts_differ(headers)
    if problem:
        raise RuntimeError(f'OHL trunk {trunk}: verify_sync cannot compare the ranks\' weights: {problem}')


def row_layouts_differ(headers: Sequence[Sequence[int]]) -> str | None:
    """``None`` where every rank's ``[version, θ's size, fingerprint size before, after]`` (rank order) is the same;
    else a message naming each distinct layout with its ranks, its row size, and what to do."""
    layouts: dict[tuple[int, ...], list[int]] = {}
    for rank, header in enumerate(headers):
        layouts.setdefault(tuple(int(x) for x in header), []).append(rank)
    if len(layouts) == 1:
        return None
    said = '; '.join(f'ranks {ranks}: layout version {version}, theta {theta} numbers, fingerprints {before} + {after} '
                     f'numbers (a row of {theta + before + after})'
                     for (version, theta, before, after), ranks in layouts.items())
    versions = {layout[0] for layout in layouts}
    fix = ('the ranks run different automl_mm versions: install the same automl_mm on every node'
           if len(versions) > 1 or len({layout[2:] for layout in layouts}) > 1 else
           'the ranks search different spaces (another config or --cfg-options on some nodes): start every rank '
           'from the same config')
    return f'their rows differ in size ({said}); {fix}, then start again'


def verify_copies(spaces: Sequence[Any], model: nn.Module, before: torch.Tensor, best: int, broadcasted: bool,
                  layout: Any, trunk: int) -> dict:
    """Gather θ (every space's distribution parameters) and weight fingerprints (``before``: this rank's
    :func:`fingerprint` before the broadcast) from every rank; return the four checks as booleans.

    θ must be identical on every rank and the ranks of a copy in step; after a broadcast (``broadcasted``) every
    copy must also equal the best copy's weights from before it. Without a broadcast the copies' equality is
    recorded, not required (they normally differ).

    In a distributed run the rows' layouts are compared first (:func:`check_row_layouts`, one small all_gather):
    rows of different sizes cannot be gathered (gloo aborted the process naming neither size).

    Raises:
        RuntimeError: a required check failed; the message names trunk ``trunk`` and every check's result. Or the
            ranks' rows differ in layout (another automl_mm's fingerprint, another search space's θ), naming each
            layout, its ranks and what to do (:func:`row_layouts_differ`).
    """
    theta = torch.cat([p.detach().flatten().to(torch.float64) for s in spaces
                       for p in s.distribution.parameters()] or [torch.zeros(0, dtype=torch.float64)])
    after = fingerprint(model)
    check_row_layouts(theta.numel(), before.numel(), after.numel(), trunk)
    rows = gather_rows(torch.cat([theta, before, after]))
    n = theta.numel()
    theta_ok = same(rows[:, :n], rows[0, :n])
    # NaN is never equal here: a non-finite weight or buffer after the broadcast is a failure
    size = FINGERPRINT_SIZE
    copies_ok = same(rows[:, n + size:], rows[0, n + size:])
    # every rank, not rank 0 alone: after a trunk that did not broadcast, copy 0 equals itself when it is the best
    best_ok = same(rows[:, n + size:], rows[layout.lead_rank(best), n:n + size].expand(len(rows), size))
    # Ranks of one copy train under DDP: their parameters (not BN statistics) must agree before the broadcast.
    leads = [layout.lead_rank(r // layout.ranks_per_copy) for r in range(layout.world_size)]
    params = slice(n, n + _GROUP_SIZE)  # the parameters' part of the fingerprint before the broadcast
    in_copy_ok = same(rows[:, params], rows[leads, params], nan_equal=True)  # diverged: NaN on all its ranks
    if not (theta_ok and in_copy_ok and (not broadcasted or (copies_ok and best_ok))):
        raise RuntimeError(f'OHL trunk {trunk}: ranks disagree after the update (theta identical: '
                           f'{theta_ok}, copies identical: {copies_ok}, copies equal the best: {best_ok}, '
                           f'ranks of a copy in step: {in_copy_ok})')
    return dict(theta_identical=theta_ok, copies_identical=copies_ok, copies_equal_best=best_ok,
                ranks_in_copy_identical=in_copy_ok)
