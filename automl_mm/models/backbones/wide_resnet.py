"""Wide residual networks (Zagoruyko & Komodakis, 2016), the CIFAR WRN-d-k family."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from automl_mm.registry import MODELS
from automl_mm.utils.checks import as_count

from .pretrained import CheckedPretrainedMixin


class _PreActBlock(nn.Module):

    def __init__(self, inplanes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.dropout = dropout
        self.shortcut = None
        if stride != 1 or inplanes != planes:
            self.shortcut = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        # The projection shortcut reads the pre-activated input, as in the reference implementation.
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = F.relu(self.bn2(out))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        return self.conv2(out) + identity


@MODELS.register_module()
class WideResNet(CheckedPretrainedMixin, BaseModule):
    """WRN-``depth``-``widen_factor`` for 32x32 inputs; returns the final (post-activation) feature map.

    Args:
        depth: Total depth; ``(depth - 4)`` must be divisible by 6 (28 gives 4 blocks per stage).
        widen_factor: Width multiplier k of the stage widths (16k, 32k, 64k).
        dropout: Dropout between the two convolutions of each block.
        in_channels: Input image channels.
        init_cfg: mmengine initialisation config; Kaiming for convolutions by default.

    ``forward`` maps ``(N, in_channels, H, W)`` to a 1-tuple holding ``(N, 64 * widen_factor, H / 4, W / 4)``
    (rounded up at each of the two stride-2 stages).

    Raises:
        ValueError: ``depth`` not an int ``6n + 4`` with ``n >= 1``, ``widen_factor`` or ``in_channels`` not an
            int >= 1, ``dropout`` not in [0, 1).

    Examples:
        >>> net = WideResNet(depth=10, widen_factor=1)
        >>> net(torch.zeros(2, 3, 32, 32))[0].shape
        torch.Size([2, 64, 8, 8])
    """

    def __init__(self, depth: int = 28, widen_factor: int = 10, dropout: float = 0.0, in_channels: int = 3,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int) or (depth - 4) % 6 != 0 or depth < 10:
            # 28.0 and '28' failed inside range() / '-', naming no argument
            raise ValueError(f'WideResNet depth must be an int 6n+4 with n >= 1 (e.g. 28), got {depth!r}')
        # 0 built a stem with no input that failed at the first forward; True built a 1-channel one
        in_channels = as_count(in_channels, 'WideResNet in_channels', 1)
        # 0 or 2.5 failed inside torch (at the first forward for 0), naming no argument
        widen_factor = as_count(widen_factor, 'WideResNet widen_factor', 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            # 1.5 failed only at the first training forward, in F.dropout
            raise ValueError(f'WideResNet dropout must be in [0, 1), got {dropout!r}')
        if init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d'), dict(type='Constant', val=1, layer='BatchNorm2d')]
        super().__init__(init_cfg=init_cfg)
        n = (depth - 4) // 6
        widths = (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        stages, inplanes = [], widths[0]
        for planes, stride in zip(widths[1:], (1, 2, 2)):
            blocks = [_PreActBlock(inplanes if j == 0 else planes, planes, stride if j == 0 else 1, dropout)
                      for j in range(n)]
            stages.append(nn.Sequential(*blocks))
            inplanes = planes
        self.stages = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(widths[-1])
        self.out_channels = (widths[-1],)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (F.relu(self.bn(self.stages(self.stem(x)))),)
