"""A small plain CNN: the fast default backbone of the embedded digits demos."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from automl_mm.registry import MODELS
from automl_mm.utils.checks import as_count

from .pretrained import CheckedPretrainedMixin


@MODELS.register_module()
class SimpleConvNet(CheckedPretrainedMixin, BaseModule):
    """Stages of (3x3 conv, BN, ReLU, 2x2 max-pool), one per entry of ``channels``.

    ``forward`` maps ``(N, in_channels, H, W)`` to a 1-tuple holding ``(N, channels[-1], H // 2**S, W // 2**S)``
    for ``S = len(channels)`` stages.

    Args:
        channels: Output width of each stage.
        in_channels: Input image channels.
        init_cfg: mmengine initialisation config.

    Raises:
        ValueError: ``channels`` is not a sequence (a list or tuple), is empty or holds a width that is not an
            int >= 1, or ``in_channels`` is not an int >= 1.

    Examples:
        >>> SimpleConvNet(channels=(8, 16))(torch.zeros(1, 3, 16, 16))[0].shape
        torch.Size([1, 16, 4, 4])
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128), in_channels: int = 3,
                 init_cfg: dict | list[dict] | None = None) -> None:
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence):
            # an int (channels=32) stopped with "'int' object is not iterable", naming no argument
            raise ValueError(f'SimpleConvNet: channels must be a sequence of stage widths, got {channels!r}')
        if not channels:
            raise ValueError('SimpleConvNet needs at least one stage in channels')
        # a 0-wide stage failed at the first forward inside torch, naming no argument
        channels = [as_count(c, f'SimpleConvNet channels[{i}]', 1) for i, c in enumerate(channels)]
        # 0 built a conv with no input that failed at the first forward; True built a 1-channel one
        in_channels = as_count(in_channels, 'SimpleConvNet in_channels', 1)
        super().__init__(init_cfg=init_cfg)
        layers, c_in = [], in_channels
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = (c_in,)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.layers(x),)
