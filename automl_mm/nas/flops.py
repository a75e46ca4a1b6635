"""The FLOPs counter of CR-NAS's budget and PC-NAS's ``flops_limit``: FLOPs per forward of any module.

:func:`count_flops` counts with mmengine's ``FlopAnalyzer`` everything a module's ``forward`` runs (also the
operations whose results do not reach its output), mmcv's deformable convolutions as the convolutions they compute,
and refuses operations it has no handle for (:class:`UncountedOperationError`) instead of counting them as 0. CR-NAS
counts each allocation's backbone with it; ``FlopsTable`` (:mod:`~automl_mm.nas.latency`) counts each candidate op
of a supernet with it. Its names are re-exported by :mod:`~automl_mm.nas.latency`, their former home.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

#: How :func:`count_flops` counts, recorded with saved counts (a CR-NAS search's checkpoint): counts made otherwise
#: are counted again. Until the forty-second session the counter left out what does not reach the traced output;
#: until the forty-third it counted mmcv's deformable convolutions as 0.
FLOPS_COUNTER = 'mmengine.analysis.FlopAnalyzer, every submodule output, mmcv deformable convs as convs'
#: mmcv's deformable convolutions (mmdet's ``dcn=dict(type='DCN' | 'DCNv2')``), traced as custom autograd functions
#: that mmengine's counter has no handle for.
_DEFORMABLE_CONV_OPS = ('prim::PythonOp.DeformConv2dFunction', 'prim::PythonOp.ModulatedDeformConv2dFunction')


class UncountedOperationError(ValueError):
    """:func:`count_flops`: the module runs an operation the counter has no handle for (it would count 0 FLOPs)."""


def _tensors(value) -> list[torch.Tensor]:
    """The tensors in a module's output (a tensor, or lists, tuples and dicts of them; anything else holds none)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


class _EveryOutput(nn.Module):
    """Runs ``module`` and returns its output together with the output of every submodule it ran.

    The tracer behind ``FlopAnalyzer`` counts only the operations whose results reach the traced output: a stage
    whose feature map is not among a backbone's ``out_indices`` still runs in ``forward`` (mmdet's ResNet and
    MobileNetV2, the CR backbones) but was not counted. Returning every submodule's output keeps all of them.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ran: list[torch.Tensor] = []
        handles = [m.register_forward_hook(lambda _m, _args, out: ran.extend(_tensors(out)))
                   for m in self.module.modules()]
        try:
            out = self.module(x)
        finally:
            for handle in handles:
                handle.remove()
        return tuple(_tensors(out)) + tuple(ran)


def count_flops(module: nn.Module, shape: Sequence[int]) -> int:
    """FLOPs of ``module`` on a zero input of ``shape`` by mmengine's ``FlopAnalyzer`` with its default operator
    handles: convolutions and linear layers as multiply-adds (one multiply-add = 1) plus batch norm (2 per element in
    eval mode), adaptive average pooling (1 per input element) and upsampling; max-pooling, activations and
    additions (residual sums) are not counted (``_DEFAULT_SUPPORTED_OPS`` of mmengine's
    ``analysis/complexity_analysis.py``). So a network counts a few percent above its multiply-adds (torchvision's
    MobileNetV2-1.4 at 224 x 224: 601.43M, of which 580.40M convolution and 1.79M linear multiply-adds and 19.15M
    batch norm, the module in eval mode; in train mode batch norm counts 5 per element). Cost limits
    (``flops_limit``) are in these units; the callers put the module in eval mode first.

    Everything ``forward`` runs is counted, also what does not reach its output: a backbone computes every stage
    whatever its ``out_indices``, but ``FlopAnalyzer`` alone counts only the operations its returned tensors depend
    on, so a CR-ResNet-18 with ``out_indices=(0, 1, 2)`` counted 114.88M instead of 148.45M at 64 x 64 (its last
    stage free: a CR-NAS FLOPs budget admitted any block moved there), and a CR-MobileNetV2 with mmdet's
    ``out_indices=(2, 4, 6)`` left its final 1x1 ``conv2`` out. Every submodule's output is returned to the tracer
    (:class:`_EveryOutput`); a module whose whole computation reaches its output counts as before.

    mmcv's deformable convolutions (mmdet's ``dcn``, e.g. ``stage_with_dcn=(False, True, True, True)``) count the
    multiply-adds of the convolution they compute (:func:`_deformable_conv_flops`). mmengine has no handle for them
    and counted each as 0: a CR-ResNet-50 with DCN in stages 2-4 counted 0.91G instead of 1.34G at 128 x 128, a
    block there about half of a stage-1 block, so the CR-NAS budget refused allocations that move blocks into
    stage 1 and admitted any that move them out. Any other custom autograd function (``prim::PythonOp``) or
    convolution the counter has no handle for is an error instead of 0 FLOPs. The count runs without gradients:
    blocks built ``with_cp=True`` then run as plain modules (through ``torch.utils.checkpoint`` the trace failed).

    Raises:
        UncountedOperationError: (a ``ValueError``) ``module`` runs a custom autograd function or a convolution
            without a FLOPs handle (named).
    """
    from mmengine.analysis import FlopAnalyzer

    if isinstance(module, nn.Identity):
        return 0  # nothing to trace, and nothing computed
    param = next(module.parameters(), None)
    x = torch.zeros(*shape, device=param.device if param is not None else 'cpu')
    analyzer = FlopAnalyzer(_EveryOutput(module), (x,))
    analyzer.set_op_handle(**{name: _deformable_conv_flops for name in _DEFORMABLE_CONV_OPS})
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings('none')
    # without gradients: mmdet's blocks built with_cp=True run through torch.utils.checkpoint when their input
    # requires grad, and the tracer failed inside it ("unordered_map::at")
    with torch.no_grad():
        total = int(analyzer.total())
    uncounted = sorted(op for op in analyzer.unsupported_ops() if op.startswith('prim::PythonOp.') or 'conv' in op)
    if uncounted:
        raise UncountedOperationError(
            f'{type(module).__name__} runs {uncounted}, which mmengine\'s FlopAnalyzer has no handle for: they would '
            'count 0 FLOPs (a cost limit or budget would treat them as free); give the counter a handle for them '
            '(automl_mm/nas/flops.py: count_flops) or leave them out')
    return total


def _deformable_conv_flops(inputs: list, outputs: list):
    """mmengine op handle of mmcv's deformable convolutions: the multiply-adds of the convolution they compute
    (mmengine's ``conv_flop_count`` of the input, the weight, the last 4-D input, and the output), as mmengine
    counts ``aten::_convolution``; the offsets' bilinear sampling and the modulation are not counted."""
    from collections import Counter

    from mmengine.analysis.jit_handles import conv_flop_count, get_shape

    shapes = [get_shape(v) for v in inputs]
    weight = [s for s in shapes if s is not None and len(s) == 4][-1]
    return Counter({'conv': conv_flop_count(shapes[0], weight, get_shape(outputs[0]))})
