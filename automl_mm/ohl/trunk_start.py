"""The start of an OHL trunk on every rank: each space's draw for the trunk, held against the relations its
constructors check, written, and the trunk's counters reset (METHODS.md §1, step 1).

:func:`begin_trunk` runs these in order for :meth:`OHLHook._begin_trunk <automl_mm.ohl.hook.OHLHook._begin_trunk>`:
the values the spaces will write, drawn aside with their trunk's generators
(:func:`~automl_mm.ohl.segments.space_generator`) where every space plans its writes, held against the relations
(:func:`~automl_mm.ohl.constructor_relations.check_relations`) before any write; each space's ``begin_trunk``, its
written paths against those it reports (:func:`~automl_mm.ohl.write_order.check_declared_writes`); the relations
again once every space wrote; the copy's DDP against parameters thawed since it was built; choices a written
magnitude made identical, warned about once (:func:`~automl_mm.ohl.base.warn_merged_choices`). A trunk begins from
:meth:`OHLHook._start_segment <automl_mm.ohl.hook.OHLHook._start_segment>`, which then re-derives the rank's random
streams. Split from :mod:`automl_mm.ohl.hook`, which holds the hook's state and sequences its stages.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from automl_mm.engine.rank_failures import stopping_together

from .attributes import recording_writes
from .base import warn_merged_choices
from .constructor_relations import check_relations
from .segments import space_generator
from .write_order import check_declared_writes

if TYPE_CHECKING:
    from .hook import OHLHook


def begin_trunk(hook: OHLHook, runner: Any) -> None:
    """Begin trunk ``hook.trunk`` on this rank: the spaces draw and write its values, and the trunk's counters
    (iterations, non-finite losses, start time) restart. Collective only in the draws' agreement: a space that
    fails on one rank stops every rank.

    Args:
        hook: The OHL hook whose trunk begins (its spaces, layout, seed and trunk counter); marked in a trunk.
        runner: The runner the spaces write into (its logger; its model for the DDP check).

    Raises:
        ValueError: planned or written values that break a relation a constructor checks
            (:func:`~automl_mm.ohl.constructor_relations.check_relations`), a path a space wrote without reporting it
            (:func:`~automl_mm.ohl.write_order.check_declared_writes`), a parameter thawed since the copy's DDP was
            built (:func:`~automl_mm.engine.learned_state.check_ddp_reduces_thawed`).
        Exception: on the failing rank, what a space's draw raised; on every other rank, a ``RankFailure`` naming it
            (``stopping_together``).
    """
    # The spaces' samples depend only on (seed, copy, trunk, space): every rank of a copy draws the same one.
    # Space by space: where their paths overlap, a covering one first (check_search_order refused any other order
    # in before_train), the order the exports' replay and adopt_model_values write in.
    # A space's draw (plugin code) that fails on one rank stops every rank here: the others trained on and waited
    # for it at the trunk end (or in the copy's first DDP step) until the process group's timeout
    with stopping_together(f'OHL trunk {hook.trunk}: the spaces\' draws'):
        # the values the spaces will write, drawn aside with the same generators and held against the relations
        # before any write: a refused trunk leaves the live objects as they were. Only where every space's
        # writes are planned: one that writes otherwise (planned_values None or missing) could write the other
        # side of a pair, and the pair held with what the object held before was refused though the writes kept
        # it; such a trunk is held once every space wrote, below
        planned: dict[str, Any] | None = {}
        for i, space in enumerate(hook.spaces):
            plan = getattr(space, 'planned_values', None)
            values = plan(space_generator(hook.seed, hook.layout.copy_id, hook.trunk, i)) if callable(plan) \
                else None
            if values is None:
                planned = None
                break
            planned.update(values)
        where = f'OHL trunk {hook.trunk} (copy {hook.layout.copy_id})'
        if planned is not None:
            check_relations(runner, planned, where)
        written: list[str] = []
        for i, space in enumerate(hook.spaces):
            space.reset_stats()
            with recording_writes(runner, getattr(space, 'wiring_attributes', ())) as wrote:
                space.begin_trunk(runner, hook.trunk,
                                  space_generator(hook.seed, hook.layout.copy_id, hook.trunk, i))
            # a path it writes but does not report escaped check_search_order, the replay and adopt_model_values
            check_declared_writes(runner, space, wrote, f'trunk {hook.trunk}')
            written += wrote
        # two settings a constructor relates (min_mag <= max_mag), held once every space wrote: in any order
        check_relations(runner, written, where)
        # a parameter thawed since the copy's DDP was built (a hook or a space at a trunk start inside an epoch,
        # trunk_iters, which LearnedStateHook's per-epoch check meets only at the next epoch) would train on each
        # rank's own gradient: refused here, on every rank
        from automl_mm.engine.learned_state import check_ddp_reduces_thawed

        check_ddp_reduces_thawed(getattr(runner, 'model', None),  # (the unit tests' stand-in runners: no loop)
                                 f'the start of OHL trunk {hook.trunk} (epoch {getattr(runner, "epoch", "?")}, '
                                 f'iteration {getattr(runner, "iter", "?")})')
    # two augmentation elements made identical by a written magnitude: one choice's mass split, said once
    warn_merged_choices(hook.spaces, hook.trunk, hook._merged_warned, runner)
    hook._in_trunk = True
    hook._trunk_iters = 0
    hook._nonfinite_losses = 0
    hook._trunk_start = time.perf_counter()
