"""Shared pieces of the CR-NAS backbone tests (``test_cr_backbones*.py``)."""
from __future__ import annotations

import torch

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet


def _searched_convs(net: CRResNet | CRMobileNetV2) -> list[torch.nn.Module]:
    """The searched conv of every active block, read from the module tree (not through the class's helpers)."""
    if isinstance(net, CRResNet):
        stages = [getattr(net, f'layer{i + 1}') for i in range(len(net.active_stage_blocks))]
        return [stage[j].conv2 for stage, n in zip(stages, net.active_stage_blocks) for j in range(n)]
    stages = [getattr(net, f'layer{i + 1}') for i in range(7)]
    return [stage[j].depthwise_conv.conv for stage, n in zip(stages, net.active_stage_blocks) for j in range(n)]
