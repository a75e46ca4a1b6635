"""Shared pieces of the CR-NAS backbone tests (``test_cr_backbones*.py``)."""
from __future__ import annotations

import torch

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet


def _randomize(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and BN statistics, so that equality tests cannot pass on zeros/ones."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                values = torch.rand(t.shape, generator=g) + 0.5 if 'running_var' in name else \
                    torch.randn(t.shape, generator=g) * 0.1
                t.copy_(values)
    return net


def _shapes(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _assert_same_outputs(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    a.eval()
    b.eval()
    with torch.no_grad():
        outs_a, outs_b = a(x), b(x)
    assert len(outs_a) == len(outs_b)
    for oa, ob in zip(outs_a, outs_b):
        torch.testing.assert_close(oa, ob, rtol=0, atol=0)


def _searched_convs(net: CRResNet | CRMobileNetV2) -> list[torch.nn.Module]:
    """The searched conv of every active block, read from the module tree (not through the class's helpers)."""
    if isinstance(net, CRResNet):
        stages = [getattr(net, f'layer{i + 1}') for i in range(len(net.active_stage_blocks))]
        return [stage[j].conv2 for stage, n in zip(stages, net.active_stage_blocks) for j in range(n)]
    stages = [getattr(net, f'layer{i + 1}') for i in range(7)]
    return [stage[j].depthwise_conv.conv for stage, n in zip(stages, net.active_stage_blocks) for j in range(n)]
