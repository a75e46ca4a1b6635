"""The CR-NAS supernet interface shared by every CR backbone (:class:`CRResNet`, :class:`CRMobileNetV2`).

A CR backbone keeps a detection backbone's computation fixed and exposes how it is *reallocated*: how many blocks
each stage runs (``set_allocation``) and which dilation each block's searched conv uses (``set_dilations``),
changed at runtime by a search loop without rebuilding the model. A new CR backbone subclasses
:class:`CRSupernetMixin` before the mmdet backbone it extends and implements ``_searchable_stages``,
``_searched_conv`` and ``standard_stage_blocks``.

The allocation arithmetic (block counts and dilations checked against what was built, a conv dilated in place) lives
in :mod:`~.cr_allocation`; what a checkpoint gives the blocks beyond the standard count (``init_weights`` under a
``Pretrained`` ``init_cfg``, ``fill_from_state_dict``) in :class:`~.cr_checkpoint_fill.CRCheckpointFill`, a base of
:class:`CRSupernetMixin`. Their names are still importable from here.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .cr_allocation import (  # noqa: F401 (also served here, their former home)
    _as_int_tuple,
    _check_allocation,
    check_dilations,
    check_stage_values,
    resolve_allocation,
    run_prefix,
    set_conv_dilation,
)
from .cr_checkpoint_fill import (  # noqa: F401 (also served here, their former home)
    RESTORED_MARK,
    CRCheckpointFill,
    _own_inits_of_children,
    added_parts,
)


class CRSupernetMixin(CRCheckpointFill):
    """The CR-NAS supernet interface shared by ``CRResNet`` and ``CRMobileNetV2``.

    A subclass builds ``built_stage_blocks`` blocks per stage, calls :meth:`_cr_init` at the end of its
    ``__init__``, runs only the first ``active_stage_blocks[i]`` blocks of stage ``i`` in ``forward``, and names
    its stages and searched convs through :meth:`_searchable_stages` and :meth:`_searched_conv`.

    The dilation of a block is stored on its searched conv (``conv.dilation``), so it is the one source of truth;
    it is not part of the ``state_dict`` (export it with :meth:`arch`).
    """

    _built: tuple[int, ...]
    _active: tuple[int, ...]
    _default_dilations: tuple[tuple[int, ...], ...]

    def _searchable_stages(self) -> list[nn.Sequential]:
        raise NotImplementedError

    def _searched_conv(self, block: nn.Module) -> nn.Module:
        raise NotImplementedError

    @property
    def standard_stage_blocks(self) -> tuple[int, ...]:
        """Blocks per stage of mmdet's standard network: the blocks an mmdet-layout checkpoint holds."""
        raise NotImplementedError

    def unfilled_blocks(self) -> list[nn.Module]:
        """Built blocks beyond the standard count of their stage (every stage's extra blocks, active or not).

        No checkpoint in mmdet's layout (e.g. ImageNet-pretrained) has weights or BN statistics for them, so
        ``frozen_stages`` and ``norm_eval`` do not apply to them (:meth:`_keep_unfilled_trainable`), unless a
        ``Pretrained`` file or ``load_from`` filled them (:meth:`_exempt_blocks`, :meth:`fill_from_state_dict`).
        """
        return [stage[j] for stage, n in zip(self._searchable_stages(), self.standard_stage_blocks)
                for j in range(n, len(stage))]

    def _freeze_stages(self) -> None:
        """mmdet's freezing (stem and the first ``frozen_stages`` stages), except the unfilled blocks.

        Freezing keeps what a pretrained checkpoint gives; a block beyond the standard count has nothing to keep
        (random weights, BN statistics 0 / 1), so its parameters keep their ``requires_grad`` as :meth:`_cr_init`
        left it (trainable).
        """
        keep = [(p, p.requires_grad) for block in self._exempt_blocks() for p in block.parameters()]
        super()._freeze_stages()
        for p, requires_grad in keep:
            p.requires_grad = requires_grad
        self._keep_unfilled_trainable(self.training)

    def _exempt_blocks(self) -> list[nn.Module]:
        """The :meth:`unfilled_blocks` that ``frozen_stages``, ``norm_eval`` and a ``requires_grad=False``
        ``norm_cfg`` do not apply to: all of them but those a ``Pretrained`` file or ``load_from`` filled (a CR
        supernet's or a reallocated network's own checkpoint), whose weights and BN statistics are there to keep,
        as a standard block's."""
        return [block for block in self.unfilled_blocks() if not getattr(block, RESTORED_MARK, False)]

    def _keep_unfilled_trainable(self, mode: bool) -> None:
        for block in self._exempt_blocks():
            block.train(mode)

    def train(self, mode: bool = True):
        """mmdet's ``train`` (frozen stages and, with ``norm_eval``, every BN in eval mode), except unfilled blocks.

        Under ``norm_eval=True`` (all of mmdet's pretrained-backbone configs, and the CR-NAS COCO configs) BN
        layers keep the checkpoint's statistics; the blocks a supernet or a reallocated network adds beyond
        the standard count have none (0 / 1), so their BN layers train, as in a ``norm_eval=False`` model.
        """
        super().train(mode)
        self._keep_unfilled_trainable(mode)
        return self

    def _apply_dilation(self, block: nn.Module, dilation: int) -> None:
        set_conv_dilation(self._searched_conv(block), dilation)

    def _cr_init(self, active: tuple[int, ...], dilations_per_block: Sequence[int] | None) -> None:
        """Make the unfilled blocks trainable, record the as-built dilations (the defaults), then apply the initial
        allocation and dilations.

        A ``norm_cfg`` with ``requires_grad=False`` (mmdet's caffe-style configs: keep the checkpoint's BN affine)
        does not apply to the :meth:`unfilled_blocks` either, as ``frozen_stages`` and ``norm_eval`` do not: no
        checkpoint gives them an affine to keep, and under a ``Pretrained`` ``init_cfg`` with ``zero_init_residual``
        the frozen zero weight of their last norm left each of them the identity for good (no gradient reached
        any of their convs). Set here, in the constructor, so that an optimiser and a DDP wrapper built after it
        see them as trainable.
        """
        for block in self.unfilled_blocks():
            for p in block.parameters():
                p.requires_grad_(True)
        self._default_dilations = tuple(tuple(self._searched_conv(b).dilation[0] for b in stage)
                                        for stage in self._searchable_stages())
        self._active = active
        if dilations_per_block is not None:
            values = check_dilations('dilations_per_block', dilations_per_block, self.num_active_blocks)
            for block, d in zip(self._active_blocks(), values):
                self._apply_dilation(block, d)

    def _active_blocks(self) -> list[nn.Module]:
        return [stage[j] for stage, n in zip(self._searchable_stages(), self._active) for j in range(n)]

    @property
    def built_stage_blocks(self) -> tuple[int, ...]:
        """Blocks built per stage (``max_stage_blocks`` in supernet mode)."""
        return self._built

    @property
    def active_stage_blocks(self) -> tuple[int, ...]:
        """Blocks that run per stage: a prefix of each stage's built blocks."""
        return self._active

    @property
    def num_active_blocks(self) -> int:
        """Total number of active blocks over all stages."""
        return sum(self._active)

    @property
    def built_dilations(self) -> tuple[int, ...]:
        """Dilation of the searched conv of every built block as constructed (mmdet's per-stage ``dilations``),
        flat, stage by stage: what ``set_allocation`` gives a re-activated block."""
        return tuple(d for stage in self._default_dilations for d in stage)

    @property
    def active_dilations(self) -> tuple[int, ...]:
        """Dilation of the searched conv of every active block, flat, stage by stage."""
        return tuple(self._searched_conv(b).dilation[0] for b in self._active_blocks())

    def set_allocation(self, stage_blocks: Sequence[int]) -> None:
        """Set the number of active blocks per stage.

        Blocks that stay active keep their dilation; blocks that become active again get their as-built
        dilation (1 unless the model was built with mmdet's per-stage ``dilations``); blocks that become inactive
        keep their setting until they are activated again.

        Args:
            stage_blocks: Active blocks per stage, each between 1 and the stage's built blocks.

        Raises:
            ValueError: Wrong length, or a count < 1 or above ``built_stage_blocks`` (the message names the stage).
        """
        new = _check_allocation('stage_blocks', stage_blocks, self._built, len(self._built))
        for s, (stage, old, n) in enumerate(zip(self._searchable_stages(), self._active, new)):
            for j in range(old, n):
                self._apply_dilation(stage[j], self._default_dilations[s][j])
        self._active = new

    def set_dilations(self, dilations: Sequence[int]) -> None:
        """Set the dilation (and matching padding) of the searched conv of every active block.

        The weights are shared across dilations; the output shapes do not change.

        Args:
            dilations: One dilation >= 1 per active block, flat, stage by stage (``num_active_blocks`` entries).

        Raises:
            ValueError: Wrong length or a dilation < 1.
        """
        values = check_dilations('dilations', dilations, self.num_active_blocks)
        for block, d in zip(self._active_blocks(), values):
            self._apply_dilation(block, d)

    def arch(self) -> dict:
        """The active architecture as the constructor kwargs that rebuild it as a plain (non-supernet) model.

        Returns:
            ``{'stage_blocks': [...], 'dilations_per_block': [...]}``.
        """
        return {'stage_blocks': list(self._active), 'dilations_per_block': list(self.active_dilations)}

