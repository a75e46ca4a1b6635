"""The FLOPs band of CR-NAS's stage search: the backbone FLOPs of an allocation (blocks per stage), and the band
around the reference allocation's FLOPs that the allocations the stage supernet trains on and the stage search scores
must lie in (METHODS.md §5: the reallocated network keeps the reference's computation).

:class:`AllocationFlopsBand` is a base of :class:`~automl_mm.nas.cr_nas.CRNASLoop`; its methods are still reached
under their former path (``CRNASLoop.allocation_flops``, ``CRNASLoop.check_budget``, ...), and
:mod:`automl_mm.nas.cr_nas` still serves :class:`~automl_mm.nas.flops.UncountedOperationError`.
"""
from __future__ import annotations

import math

from mmengine.logging import print_log

from .flops import UncountedOperationError, count_flops


class AllocationFlopsBand:
    """The FLOPs of allocations and their band (a mixin of :class:`~automl_mm.nas.cr_nas.CRNASLoop`).

    It reads the loop's ``backbone`` (a CR supernet), ``stage_space`` (``StageAllocationSpace``), ``flops`` (FLOPs
    counted so far by allocation path, filled here), ``flops_input_shape`` (``(1, C, H, W)``), ``reference_path`` /
    ``reference_allocation`` (the band's centre) and ``flops_tolerance`` (its relative half-width). FLOPs are
    counts of multiply-adds of one image (:func:`~automl_mm.nas.flops.count_flops`), logged as GFLOPs.
    """

    def allocation_flops(self, path: tuple) -> float:
        """Backbone FLOPs of an allocation (mmengine's FlopAnalyzer; dilation adds none), of every stage the backbone
        runs, also one whose map is not among its ``out_indices`` (:func:`~automl_mm.nas.flops.count_flops`). The
        backbone's allocation and dilations are restored afterwards (``set_allocation`` gives re-activated blocks
        their as-built dilation)."""
        if path not in self.flops:
            previous, dilations = self.backbone.active_stage_blocks, self.backbone.active_dilations
            self.backbone.set_allocation(self.stage_space.values(path))
            was_training = self.backbone.training
            self.backbone.eval()
            try:
                self.flops[path] = float(count_flops(self.backbone, self.flops_input_shape))
            finally:
                self.backbone.train(was_training)
                self.backbone.set_allocation(previous)
                self.backbone.set_dilations(dilations)
        return self.flops[path]

    def flops_band(self) -> tuple[float, float]:
        """``(low, high)`` FLOPs an allocation may cost: the reference allocation's FLOPs x (1 -+ ``flops_tolerance``),
        counted by :meth:`allocation_flops` (METHODS.md §5: the reallocated network keeps the reference's
        computation)."""
        reference = self.allocation_flops(self.reference_path)
        return reference * (1 - self.flops_tolerance), reference * (1 + self.flops_tolerance)

    def within_band(self, path: tuple) -> bool:
        """Whether the allocation ``path`` costs the reference's FLOPs within ``flops_tolerance`` (both sides)."""
        low, high = self.flops_band()
        return low <= self.allocation_flops(path) <= high

    def check_budget(self) -> None:
        """Raise, naming ``flops_tolerance``, the nearest allocation and the FLOPs it costs, when the FLOPs band holds
        no allocation of the space but the reference itself (the stage search would have nothing to reallocate; a
        space of the reference alone is not refused).

        The reference allocation is counted first (a ``flops_input_shape`` the backbone cannot run is named here);
        then the other eligible allocations until one lies within the band (every one when none does; the stage
        search reuses the counts).

        Raises:
            ValueError: the backbone cannot be counted at ``flops_input_shape``, or the band holds no allocation but
                the reference (the message gives the ``flops_tolerance`` that admits the nearest one).
            UncountedOperationError: the backbone runs an operation the counter cannot count.
        """
        try:  # counted before any training: a bad input shape fails here, not after it
            reference = self.allocation_flops(self.reference_path)
        except UncountedOperationError:
            raise  # the backbone's operations, not the shape
        except (RuntimeError, ValueError) as err:
            raise ValueError(f'train_cfg.flops_input_shape {list(self.flops_input_shape[1:])} (C, H, W): the '
                             f'backbone\'s FLOPs could not be counted at it: {err}') from err
        nearest = None
        for path in self.stage_space.completions(()):
            if path == self.reference_path:
                continue
            if self.within_band(path):
                return
            if nearest is None or abs(self.allocation_flops(path) - reference) < abs(nearest[1] - reference):
                nearest = (path, self.allocation_flops(path))
        if nearest is None:
            return  # the space holds the reference alone: nothing to reallocate, by the config's choice
        low, high = self.flops_band()
        path, flops = nearest
        needed = math.ceil(round(abs(flops / reference - 1) * 1e4, 6)) / 1e4  # round: 104 / 100 - 1 > 0.04
        raise ValueError(f'train_cfg.flops_tolerance={self.flops_tolerance}: the FLOPs band {low / 1e9:.4f} to '
                         f'{high / 1e9:.4f} GFLOPs around reference_allocation {self.reference_allocation} '
                         f'({reference / 1e9:.4f} GFLOPs at flops_input_shape {list(self.flops_input_shape[1:])}) '
                         'holds no allocation of stage_space but the reference itself: the stage search would have '
                         f'nothing to reallocate. The nearest, {self.stage_space.values(path)}, costs '
                         f'{flops / 1e9:.4f} GFLOPs ({flops / reference - 1:+.2%}); flops_tolerance={needed} admits it')

    def _log_stage_supernet(self) -> None:
        """Log how many allocations the stage supernet trains on (those within the FLOPs band) of how many."""
        allocations = list(self.stage_space.completions(()))
        low, high = self.flops_band()
        kept = sum(self.within_band(path) for path in allocations)
        print_log(f'[stage supernet] training on the {kept} of {len(allocations)} allocations within the FLOPs band '
                  f'{low / 1e9:.3f} to {high / 1e9:.3f} GFLOPs (the ones the stage search may choose)',
                  logger='current')
