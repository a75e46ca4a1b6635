"""The allocation arithmetic of the CR backbones: per-stage block counts and dilations checked against what
was built, and a searched conv dilated in place (used by :class:`~automl_mm.models.backbones.cr_base.CRSupernetMixin`,
``CRResNet``, ``CRMobileNetV2`` and ``automl_mm.ResNet``; still importable from :mod:`~.cr_base`, their former home).
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence

import torch
from torch import nn


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


def check_stage_values(name: str, values: Sequence[int], num_stages: int) -> tuple[int, ...]:
    """A per-stage ``strides`` / ``dilations`` setting as ``num_stages`` ints >= 1.

    mmdet's ResNet asserts only the length (without a message); a stride or dilation of 0, -1 or 2.0 built a
    network that failed at the first forward inside torch ("non-positive stride is not supported"), naming no key.

    Raises:
        ValueError: not ``num_stages`` ints, or a value < 1 (the message names ``name``).
    """
    checked = _as_int_tuple(name, values, num_stages)
    if any(v < 1 for v in checked):
        raise ValueError(f'{name}={checked!r}: every stage\'s value must be >= 1')
    return checked


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


def check_dilations(name: str, values: Sequence[int], num_blocks: int) -> tuple[int, ...]:
    """``values`` as ``num_blocks`` dilations (one per active block, stage by stage).

    Raises:
        ValueError: Not ``num_blocks`` ints, or a dilation < 1 (the message names ``name`` and the index).
    """
    dilations = _as_int_tuple(name, values, num_blocks)
    for i, d in enumerate(dilations):
        if d < 1:
            raise ValueError(f'{name}[{i}]={d}: dilations must be >= 1')
    return dilations


def resolve_allocation(standard: Sequence[int], stage_blocks: Sequence[int] | None,
                        max_stage_blocks: Sequence[int] | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(built, active)`` blocks per stage from a CR backbone's constructor arguments.

    Args:
        standard: Blocks per stage of the standard network (used when ``stage_blocks`` is ``None``).
        stage_blocks: Active blocks per stage.
        max_stage_blocks: Built blocks per stage (supernet mode); ``None`` builds exactly the active ones.

    Raises:
        ValueError: A count < 1, a wrong length, or an active count above the built one (naming the argument).
    """
    n = len(standard)
    if max_stage_blocks is None:
        built = _check_allocation('stage_blocks', standard if stage_blocks is None else stage_blocks, None, n)
        return built, built
    built = _check_allocation('max_stage_blocks', max_stage_blocks, None, n)
    active = built if stage_blocks is None else _check_allocation('stage_blocks', stage_blocks, built, n)
    return built, active


def set_conv_dilation(conv: nn.Module, dilation: int) -> None:
    """Dilate a conv in place, padding so that its output size does not change; weights are untouched."""
    kh, kw = conv.kernel_size
    conv.dilation = (dilation, dilation)
    conv.padding = (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)
    # mmcv's deformable convs (DCN) predict their offsets with a conv of the same geometry.
    offset_conv = getattr(conv, 'conv_offset', None)
    if offset_conv is not None:
        offset_conv.dilation, offset_conv.padding = conv.dilation, conv.padding



def run_prefix(blocks: nn.Sequential, num_active: int, x: torch.Tensor) -> torch.Tensor:
    """Run the first ``num_active`` blocks of a stage."""
    if num_active == len(blocks):
        return blocks(x)
    for j, block in enumerate(blocks):
        if j == num_active:
            break
        x = block(x)
    return x
