"""CR-NAS ResNet: mmdet's ResNet with a searchable block allocation and per-block dilations.

CR-NAS ("Computation Reallocation for Neural Architecture Search", Liang et al., ICLR 2020) keeps a detection
backbone's computation fixed and *reallocates* it: how many blocks each stage gets (stage reallocation) and which
dilation each block's middle 3x3 conv uses (spatial reallocation). :class:`CRResNet` exposes both as constructor
arguments and, in supernet mode (``max_stage_blocks``), as runtime setters that a search loop calls between steps
without rebuilding the model. The supernet interface lives in :class:`_CRSupernetMixin`, shared with
``CRMobileNetV2``.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence

import torch
from mmdet.models.backbones import ResNet
from torch import nn

from automl_mm.registry import MODELS


def _as_int_tuple(name: str, values: Sequence[int], length: int) -> tuple[int, ...]:
    """``values`` as a tuple of ints of the given length; ValueError naming ``name`` otherwise."""
    # Any iterable of ints (lists, tuples, numpy arrays) is accepted; a string is not.
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f'{name} must be a sequence of {length} ints, got {values!r}')
    values = tuple(values)
    if len(values) != length:
        raise ValueError(f'{name} must have {length} entries, got {len(values)}: {values!r}')
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise ValueError(f'{name} must contain ints, got {values!r}') from None


def _check_allocation(name: str, values: Sequence[int], built: Sequence[int] | None, length: int) -> tuple[int, ...]:
    """Blocks per stage, each in ``[1, built[i]]`` (``built=None``: no upper bound)."""
    counts = _as_int_tuple(name, values, length)
    for i, n in enumerate(counts):
        if n < 1:
            raise ValueError(f'{name}[{i}]={n}: stage {i + 1} needs at least 1 block (its first block changes the '
                             'resolution/channels)')
        if built is not None and n > built[i]:
            raise ValueError(f'{name}[{i}]={n}: stage {i + 1} was built with only {built[i]} blocks '
                             '(raise max_stage_blocks to search deeper stages)')
    return counts


def _check_dilations(name: str, values: Sequence[int], num_blocks: int) -> tuple[int, ...]:
    """One dilation >= 1 per active block."""
    dilations = _as_int_tuple(name, values, num_blocks)
    for i, d in enumerate(dilations):
        if d < 1:
            raise ValueError(f'{name}[{i}]={d}: dilations must be >= 1')
    return dilations


def _resolve_allocation(standard: Sequence[int], stage_blocks: Sequence[int] | None,
                        max_stage_blocks: Sequence[int] | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(built, active)`` blocks per stage from the constructor arguments."""
    n = len(standard)
    if max_stage_blocks is None:
        built = _check_allocation('stage_blocks', standard if stage_blocks is None else stage_blocks, None, n)
        return built, built
    built = _check_allocation('max_stage_blocks', max_stage_blocks, None, n)
    active = built if stage_blocks is None else _check_allocation('stage_blocks', stage_blocks, built, n)
    return built, active


def _set_conv_dilation(conv: nn.Module, dilation: int) -> None:
    """Dilate a conv in place, padding so that its output size does not change; weights are untouched."""
    kh, kw = conv.kernel_size
    conv.dilation = (dilation, dilation)
    conv.padding = (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)
    # mmcv's deformable convs (DCN) predict their offsets with a conv of the same geometry.
    offset_conv = getattr(conv, 'conv_offset', None)
    if offset_conv is not None:
        offset_conv.dilation, offset_conv.padding = conv.dilation, conv.padding


def _run_prefix(blocks: nn.Sequential, num_active: int, x: torch.Tensor) -> torch.Tensor:
    """Run the first ``num_active`` blocks of a stage."""
    if num_active == len(blocks):
        return blocks(x)
    for j, block in enumerate(blocks):
        if j == num_active:
            break
        x = block(x)
    return x


class _CRSupernetMixin:
    """The CR-NAS supernet interface shared by :class:`CRResNet` and ``CRMobileNetV2``.

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
        ``frozen_stages`` and ``norm_eval`` do not apply to them (:meth:`_keep_unfilled_trainable`).
        """
        return [stage[j] for stage, n in zip(self._searchable_stages(), self.standard_stage_blocks)
                for j in range(n, len(stage))]

    def _freeze_stages(self) -> None:
        """mmdet's freezing (stem and the first ``frozen_stages`` stages), except the unfilled blocks.

        Freezing keeps what a pretrained checkpoint gives; a block beyond the standard count has nothing to keep
        (random weights, BN statistics 0 / 1), so its parameters keep their ``requires_grad`` as built.
        """
        keep = [(p, p.requires_grad) for block in self.unfilled_blocks() for p in block.parameters()]
        super()._freeze_stages()
        for p, requires_grad in keep:
            p.requires_grad = requires_grad
        self._keep_unfilled_trainable(self.training)

    def _keep_unfilled_trainable(self, mode: bool) -> None:
        for block in self.unfilled_blocks():
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
        _set_conv_dilation(self._searched_conv(block), dilation)

    def _cr_init(self, active: tuple[int, ...], dilations_per_block: Sequence[int] | None) -> None:
        """Record the as-built dilations (the defaults), then apply the initial allocation and dilations."""
        self._default_dilations = tuple(tuple(self._searched_conv(b).dilation[0] for b in stage)
                                        for stage in self._searchable_stages())
        self._active = active
        if dilations_per_block is not None:
            values = _check_dilations('dilations_per_block', dilations_per_block, self.num_active_blocks)
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
        values = _check_dilations('dilations', dilations, self.num_active_blocks)
        for block, d in zip(self._active_blocks(), values):
            self._apply_dilation(block, d)

    def arch(self) -> dict:
        """The active architecture as the constructor kwargs that rebuild it as a plain (non-supernet) model.

        Returns:
            ``{'stage_blocks': [...], 'dilations_per_block': [...]}``.
        """
        return {'stage_blocks': list(self._active), 'dilations_per_block': list(self.active_dilations)}


@MODELS.register_module()
class CRResNet(_CRSupernetMixin, ResNet):
    """mmdet's ResNet with a searchable number of blocks per stage and a dilation per block (CR-NAS).

    Every argument of ``mmdet.models.backbones.ResNet`` keeps its meaning (``depth``, ``out_indices``,
    ``frozen_stages``, ``norm_cfg``, ``norm_eval``, ``style``, ``strides``, ``dilations``, ``with_cp``,
    ``zero_init_residual``, ``init_cfg``, ...). With the standard allocation and all-1 dilations the module is
    mmdet's ResNet, parameter names included, so ImageNet checkpoints in mmdet's layout load through
    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` unchanged. A supernet loads them too: the standard
    blocks of each stage come first, the extra blocks are reported as missing keys.

    The *searched conv* of a block is its 3x3 ``conv2`` (BasicBlock's second conv, Bottleneck's middle conv);
    a dilation ``d`` sets its ``dilation=(d, d)`` and ``padding=(d, d)``: same output size, no new parameters.

    In supernet mode (``max_stage_blocks``) stage ``i`` is built with ``max_stage_blocks[i]`` blocks and the
    forward pass runs only the first ``active_stage_blocks[i]``; the search changes them with
    :meth:`set_allocation` and :meth:`set_dilations` and exports the result with :meth:`arch`. Inactive blocks
    get no gradients, so wrap a supernet with ``find_unused_parameters=True`` under DDP.

    ``frozen_stages`` and ``norm_eval`` keep mmdet's meaning for the stem and the standard blocks of each stage
    (the ones an mmdet-layout checkpoint fills), and do not apply to the blocks beyond the standard count
    (:meth:`unfilled_blocks`): no checkpoint initialises them, so frozen they would stay random with BN
    statistics 0 / 1 for the whole search. They train, BN statistics included.

    Args:
        depth: ResNet depth, one of 18, 34, 50, 101, 152.
        stage_blocks: Blocks per stage (``num_stages`` entries, each >= 1). Defaults to the depth's standard,
            e.g. ``(2, 2, 2, 2)`` for 18 and ``(3, 4, 6, 3)`` for 50. In supernet mode: the initial active
            allocation (defaults to ``max_stage_blocks``).
        dilations_per_block: One dilation per (active) block, flat over the stages in order
            (``sum(stage_blocks)`` entries). Defaults to what mmdet's per-stage ``dilations`` builds (all 1 by
            default). If ``dilations`` is not all 1, the two must agree on every block of the dilated stages.
        max_stage_blocks: Supernet mode: blocks built per stage. ``None`` builds exactly ``stage_blocks``.
        num_stages: Number of stages (1-4), as in mmdet.
        dilations: mmdet's per-stage dilation, kept with mmdet's meaning (BasicBlock dilates ``conv1``,
            Bottleneck ``conv2``).
        **kwargs: Every other argument of ``mmdet.models.backbones.ResNet``.

    Raises:
        ValueError: Unknown ``depth``, a malformed allocation or dilation list, or ``dilations_per_block`` that
            conflicts with mmdet's ``dilations``.

    Examples:
        >>> import torch
        >>> net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3), stage_blocks=(1, 2, 3, 2))
        >>> net.set_dilations([1, 1, 2, 1, 2, 3, 1, 1])
        >>> [tuple(o.shape) for o in net(torch.rand(1, 3, 64, 64))]
        [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4), (1, 512, 2, 2)]
        >>> net.arch()
        {'stage_blocks': [1, 2, 3, 2], 'dilations_per_block': [1, 1, 2, 1, 2, 3, 1, 1]}
        >>> CRResNet(depth=18, **net.arch()).built_stage_blocks
        (1, 2, 3, 2)
    """

    def __init__(self,
                 depth: int,
                 stage_blocks: Sequence[int] | None = None,
                 dilations_per_block: Sequence[int] | None = None,
                 max_stage_blocks: Sequence[int] | None = None,
                 num_stages: int = 4,
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise ValueError(f'depth={depth!r} is not a ResNet depth; use one of {sorted(self.arch_settings)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages={num_stages!r} must be between 1 and 4')
        standard = self.arch_settings[depth][1][:num_stages]
        built, active = _resolve_allocation(standard, stage_blocks, max_stage_blocks)
        # Read by make_res_layer while ResNet.__init__ builds the stages.
        self._built = built
        super().__init__(depth=depth, num_stages=num_stages, dilations=dilations, **kwargs)
        self.stage_blocks = built
        if dilations_per_block is not None:
            self._check_against_stage_dilations(active, dilations_per_block)
        self._cr_init(active, dilations_per_block)

    def make_res_layer(self, **kwargs) -> nn.Sequential:
        """Build stage ``len(self.res_layers)`` with its allocated number of blocks."""
        # ResNet.__init__ appends each stage's name to res_layers right after building it.
        kwargs['num_blocks'] = self._built[len(self.res_layers)]
        return super().make_res_layer(**kwargs)

    def _check_against_stage_dilations(self, active: tuple[int, ...], dilations_per_block: Sequence[int]) -> None:
        """Per-block dilations must not contradict mmdet's per-stage ``dilations`` where that is not 1."""
        values = _check_dilations('dilations_per_block', dilations_per_block, sum(active))
        k = 0
        for s, (stage, n) in enumerate(zip(self._searchable_stages(), active)):
            for j in range(n):
                built_d = self._searched_conv(stage[j]).dilation[0]
                if self.dilations[s] != 1 and values[k] != built_d:
                    raise ValueError(
                        f'dilations_per_block[{k}]={values[k]} conflicts with dilations[{s}]={self.dilations[s]}: '
                        f'mmdet builds the searched conv of stage {s + 1} with dilation {built_d}; pass either '
                        'per-stage dilations or dilations_per_block')
                k += 1

    @property
    def standard_stage_blocks(self) -> tuple[int, ...]:
        return tuple(self.arch_settings[self.depth][1][:self.num_stages])

    def _searchable_stages(self) -> list[nn.Sequential]:
        return [getattr(self, name) for name in self.res_layers]

    def _searched_conv(self, block: nn.Module) -> nn.Module:
        return block.conv2

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Stem, then the active prefix of every stage; returns the ``out_indices`` stage outputs."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.conv1(x)
            x = self.norm1(x)
            x = self.relu(x)
        x = self.maxpool(x)
        outs = []
        for i, (layer_name, num_active) in enumerate(zip(self.res_layers, self._active)):
            x = _run_prefix(getattr(self, layer_name), num_active, x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
