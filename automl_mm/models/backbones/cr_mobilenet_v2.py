"""CR-NAS MobileNetV2: mmdet's MobileNetV2 with a searchable block allocation and per-block dilations."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from mmdet.models.backbones import MobileNetV2
from torch import nn

from automl_mm.registry import MODELS
from automl_mm.utils.checks import as_flag, as_frozen_stages, as_out_indices

from .cr_allocation import resolve_allocation, run_prefix, set_conv_dilation
from .cr_base import CRSupernetMixin


@MODELS.register_module()
class CRMobileNetV2(CRSupernetMixin, MobileNetV2):
    """mmdet's MobileNetV2 with a searchable number of blocks per layer and a dilation per block (CR-NAS).

    mmdet's MobileNetV2 has 7 layers of InvertedResidual blocks (``arch_settings`` rows
    ``[expand_ratio, channel, num_blocks, stride]``, standard blocks ``(1, 2, 3, 4, 3, 3, 1)``) followed by a
    1x1 ``conv2``. The first block of a layer changes channels/stride; the others are stride-1 residual blocks,
    so any active prefix of a layer keeps the shapes consistent. ``widen_factor``, ``out_indices`` (0-7, where 7 is
    ``conv2``), ``frozen_stages``, ``norm_eval``, ``act_cfg`` and the other mmdet arguments keep their meaning;
    with the standard allocation the parameter names equal mmdet's, so its checkpoints load unchanged.

    The *searched conv* of a block is its depthwise 3x3 conv (``depthwise_conv.conv``); a dilation ``d`` sets
    its ``dilation=(d, d)`` and ``padding=(d, d)``. The supernet interface (``max_stage_blocks``,
    :meth:`set_allocation`, :meth:`set_dilations`, :meth:`arch`, ...) is the one of ``CRResNet``, and so is the
    rule that ``frozen_stages`` / ``norm_eval`` do not apply to blocks beyond the standard count of their layer.

    Note:
        Unlike ResNet, MobileNetV2's layers differ a lot in per-block FLOPs (resolution, width and expansion
        change independently), so an allocation with the standard number of blocks does not have the standard
        FLOPs: a search must enforce its budget with a FLOPs counter, not a block count.

    Args:
        stage_blocks: Blocks per layer (7 entries, each >= 1). Defaults to ``(1, 2, 3, 4, 3, 3, 1)``. In supernet
            mode: the initial active allocation (defaults to ``max_stage_blocks``).
        dilations_per_block: One dilation per (active) block, flat over the layers in order. Defaults to all 1.
        max_stage_blocks: Supernet mode: blocks built per layer. ``None`` builds exactly ``stage_blocks``.
        zero_init_residual: Under a ``Pretrained`` ``init_cfg``, the blocks beyond the standard count that the
            file does not hold start as the identity (their ``linear_conv`` BN weight 0), as ``CRResNet``'s
            (mmdet's ResNet argument). mmdet's MobileNetV2 has no such option: from scratch its init is kept.
        **kwargs: Every argument of ``mmdet.models.backbones.MobileNetV2``.

    Attributes:
        out_channels: Channels of each returned feature map, in ``out_indices`` order (``(24, 32, 96, 1280)`` for
            the defaults): the ``in_channels`` of an FPN neck.

    Raises:
        ValueError: A malformed allocation or dilation list, ``out_indices`` that is empty, out of ``[0, 8)`` or
            not strictly increasing, ``frozen_stages`` outside ``[-1, 7]``, ``widen_factor`` not a finite
            number > 0, ``norm_eval`` / ``with_cp`` / ``zero_init_residual`` not a bool, or a bad mmdet argument.

    Examples:
        >>> import torch
        >>> net = CRMobileNetV2(widen_factor=0.5, out_indices=(2, 4, 6), max_stage_blocks=(1, 2, 4, 4, 3, 3, 2))
        >>> net.set_allocation((1, 2, 2, 4, 3, 2, 1))
        >>> net.set_dilations([1] * 9 + [2, 2, 2, 3, 1, 1])
        >>> [tuple(o.shape) for o in net(torch.rand(1, 3, 64, 64))]
        [(1, 16, 8, 8), (1, 48, 4, 4), (1, 160, 2, 2)]
        >>> net.arch()['stage_blocks']
        [1, 2, 2, 4, 3, 2, 1]
    """

    def __init__(self,
                 stage_blocks: Sequence[int] | None = None,
                 dilations_per_block: Sequence[int] | None = None,
                 max_stage_blocks: Sequence[int] | None = None,
                 zero_init_residual: bool = True,
                 **kwargs) -> None:
        # 'False' (truthy) zero-initialised the unfilled blocks; mmdet's norm_eval likewise kept BN in eval mode
        self.zero_init_residual = as_flag(zero_init_residual, 'CRMobileNetV2 zero_init_residual')
        for key in ('norm_eval', 'with_cp'):
            if key in kwargs:
                kwargs[key] = as_flag(kwargs[key], f'CRMobileNetV2 {key}')
        standard = tuple(row[2] for row in self.arch_settings)
        # mmdet checks the range only: (6, 2) returned (layer 3, layer 7) and (2, 2) one map, silently
        kwargs['out_indices'] = as_out_indices(kwargs.get('out_indices', (1, 2, 4, 7)), len(standard) + 1,
                                               'CRMobileNetV2 out_indices')
        kwargs['frozen_stages'] = as_frozen_stages(kwargs.get('frozen_stages', -1), len(standard))
        widen_factor = kwargs.get('widen_factor', 1.0)
        if (isinstance(widen_factor, bool) or not isinstance(widen_factor, numbers.Real)
                or not (isinstance(widen_factor, numbers.Integral) or math.isfinite(widen_factor))
                or widen_factor <= 0):
            # mmdet's make_divisible floors every width at 8: -1 or 0 built a tiny network without a word
            raise ValueError(f'CRMobileNetV2 widen_factor must be a finite number > 0, got {widen_factor!r}')
        built, active = resolve_allocation(standard, stage_blocks, max_stage_blocks)
        # Read by make_layer while MobileNetV2.__init__ builds the layers.
        self._built = built
        super().__init__(**kwargs)
        #: Channels of each returned map, in ``out_indices`` order: what a neck's ``in_channels`` must be.
        self.out_channels = tuple(self._layer_out_channels(name) for i, name in enumerate(self.layers)
                                  if i in self.out_indices)
        self._cr_init(active, dilations_per_block)

    def _layer_out_channels(self, name: str) -> int:
        layer = getattr(self, name)
        last = layer[-1].linear_conv if isinstance(layer, nn.Sequential) else layer  # conv2: one ConvModule
        return last.conv.out_channels

    def make_layer(self, out_channels: int, num_blocks: int, stride: int, expand_ratio: int) -> nn.Sequential:
        """Build layer ``len(self.layers)`` with its allocated number of blocks."""
        # MobileNetV2.__init__ appends each layer's name to self.layers right after building it.
        return super().make_layer(out_channels, self._built[len(self.layers)], stride, expand_ratio)

    @property
    def standard_stage_blocks(self) -> tuple[int, ...]:
        return tuple(row[2] for row in self.arch_settings)

    def _searchable_stages(self) -> list[nn.Sequential]:
        return [getattr(self, name) for name in self.layers[:len(self._built)]]

    def _residual_last_norm(self, block: nn.Module) -> nn.Module:
        return block.linear_conv.norm

    def _searched_conv(self, block: nn.Module) -> nn.Module:
        return block.depthwise_conv.conv

    def _apply_dilation(self, block: nn.Module, dilation: int) -> None:
        conv_module = block.depthwise_conv
        set_conv_dilation(conv_module.conv, dilation)
        # ConvModule mirrors its conv's geometry in attributes; keep them truthful.
        conv_module.padding, conv_module.dilation = conv_module.conv.padding, conv_module.conv.dilation

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``conv1``, the active prefix of every layer, then ``conv2``; returns the ``out_indices`` outputs."""
        x = self.conv1(x)
        outs = []
        num_searched = len(self._active)
        for i, layer_name in enumerate(self.layers):
            layer = getattr(self, layer_name)
            x = run_prefix(layer, self._active[i], x) if i < num_searched else layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
