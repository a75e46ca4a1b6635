"""ResNet (He et al., 2016) with an ImageNet or CIFAR stem; usable by classifiers and mmdet detectors."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.registry import MODELS
from automl_mm.utils.checks import as_count, as_flag, as_frozen_stages, as_out_indices

from .cr_allocation import check_stage_values
from .pretrained import CheckedPretrainedMixin


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, 3, stride=stride, padding=dilation,
                                      dilation=dilation, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        # The stage's dilation goes to conv1 only, as in mmdet's and mmpretrain's BasicBlock (conv2 dilated too gave
        # a dilated ResNet-18 / 34 another receptive field than mmdet's with the same weights and config)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        # Stride on the 3x3 convolution (the "ResNet v1.5" placement used by torchvision and mmdet's pytorch style).
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, stride=stride, padding=dilation,
                                      dilation=dilation, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.conv3 = build_conv_layer(conv_cfg, planes, planes * self.expansion, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, planes * self.expansion)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@MODELS.register_module()
class ResNet(CheckedPretrainedMixin, BaseModule):
    """ResNet backbone returning the feature maps of ``out_indices`` stages.

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: Input image channels.
        stem: ``'imagenet'`` (7x7 stride-2 convolution and max-pool, output stride 32) or ``'cifar'`` (one 3x3
            stride-1 convolution, output stride 8), for 32x32 inputs.
        base_channels: Width of the first stage.
        stage_blocks: Blocks per stage; defaults to the standard ones of ``depth``.
        strides: Stride of the first block of each stage.
        dilations: Dilation of every block of each stage, placed as in mmdet's ResNet: a BasicBlock's ``conv1``,
            a Bottleneck's 3x3 ``conv2``.
        out_indices: Stages whose outputs are returned (0-based).
        frozen_stages: Stages (and the stem, when >= 0) kept frozen in eval mode; -1 freezes nothing.
        norm_cfg: Normalisation layer config (mmcv ``build_norm_layer``).
        norm_eval: Keep normalisation layers in eval mode while training (usual for detection).
        conv_cfg: Convolution config (mmcv ``build_conv_layer``).
        init_cfg: mmengine initialisation config; Kaiming for convolutions by default.

    Raises:
        ValueError: an unknown ``depth`` or ``stem``; ``in_channels``, ``base_channels`` or a ``stage_blocks``
            entry not an int >= 1; ``strides`` or ``dilations`` not one int >= 1 per stage (the message names
            the key);
            ``out_indices`` empty, out of range or not increasing; ``frozen_stages`` outside ``[-1, stages]``;
            ``norm_eval`` not a bool.

    In an mmdet detector config (``default_scope='mmdet'``) use ``type='automl_mm.ResNet'``.

    Examples:
        >>> net = ResNet(depth=18, stem='cifar', out_indices=(3,))
        >>> [f.shape for f in net(torch.zeros(1, 3, 32, 32))]
        [torch.Size([1, 512, 4, 4])]
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int = 50,
                 in_channels: int = 3,
                 stem: str = 'imagenet',
                 base_channels: int = 64,
                 stage_blocks: Sequence[int] | None = None,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_cfg: dict | None = None,
                 norm_eval: bool = False,
                 conv_cfg: dict | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if depth not in self.arch_settings:
            raise ValueError(f'ResNet depth must be one of {sorted(self.arch_settings)}, got {depth}')
        if stem not in ('imagenet', 'cifar'):
            raise ValueError(f"ResNet stem must be 'imagenet' or 'cifar', got {stem!r}")
        block, default_blocks = self.arch_settings[depth]
        base_channels = as_count(base_channels, 'ResNet base_channels', 1)  # 0 failed at the first forward
        in_channels = as_count(in_channels, 'ResNet in_channels', 1)
        # a 0-block stage was built with one block, silently
        if stage_blocks is not None and (isinstance(stage_blocks, (str, bytes)) or
                                         not isinstance(stage_blocks, Sequence)):
            # an int (stage_blocks=2) stopped with "'int' object is not iterable", naming no argument
            raise ValueError(f'ResNet: stage_blocks must be a sequence of block counts, got {stage_blocks!r}')
        stage_blocks = tuple(as_count(n, f'ResNet stage_blocks[{i}]', 1)
                             for i, n in enumerate(stage_blocks or default_blocks))
        # one int >= 1 per stage: 0, -1 or 2.0 failed at the first forward inside torch, an int inside len()
        strides = check_stage_values('ResNet strides', strides, len(stage_blocks))
        dilations = check_stage_values('ResNet dilations', dilations, len(stage_blocks))
        out_indices = as_out_indices(out_indices, len(stage_blocks), 'ResNet out_indices')  # () returned nothing
        frozen_stages = as_frozen_stages(frozen_stages, len(stage_blocks))  # 10 froze every stage silently
        if init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d'),
                        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
        super().__init__(init_cfg=init_cfg)
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = as_flag(norm_eval, 'ResNet norm_eval')  # 'False' kept every BN in eval mode
        norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)

        if stem == 'imagenet':
            self.stem = nn.Sequential(
                build_conv_layer(conv_cfg, in_channels, base_channels, 7, stride=2, padding=3, bias=False),
                build_norm_layer(norm_cfg, base_channels)[1], nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        else:
            self.stem = nn.Sequential(
                build_conv_layer(conv_cfg, in_channels, base_channels, 3, stride=1, padding=1, bias=False),
                build_norm_layer(norm_cfg, base_channels)[1], nn.ReLU(inplace=True))

        inplanes = base_channels
        self.res_layers = nn.ModuleList()
        for i, num_blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            downsample = None
            if strides[i] != 1 or inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    build_conv_layer(conv_cfg, inplanes, planes * block.expansion, 1, stride=strides[i],
                                     bias=False),
                    build_norm_layer(norm_cfg, planes * block.expansion)[1])
            layers = [block(inplanes, planes, strides[i], dilations[i], downsample, conv_cfg, norm_cfg)]
            inplanes = planes * block.expansion
            layers += [block(inplanes, planes, 1, dilations[i], None, conv_cfg, norm_cfg)
                       for _ in range(1, num_blocks)]
            self.res_layers.append(nn.Sequential(*layers))
        # the widths of the returned maps (as MBConvSupernet's), not of every stage
        self.out_channels = tuple(base_channels * 2**i * block.expansion for i in self.out_indices)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        frozen = ([self.stem] if self.frozen_stages >= 0 else []) + \
            list(self.res_layers[:max(self.frozen_stages, 0)])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, layer in enumerate(self.res_layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> ResNet:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
