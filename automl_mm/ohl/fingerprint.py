"""The exact weight fingerprint ``verify_sync`` compares across ranks (:func:`fingerprint`).

A model's parameters and buffers are read as int64 words and summed modulo 2**64 (plain, position-weighted, and the
words' high halves position-weighted), so every rank gets the same numbers from the same bits whatever the order of
the reduction; the wrapping of torch's int64 kernels is probed once per device type (:func:`int64_sums_wrap`), and a
device whose sums do not wrap is summed on the CPU with numpy instead (:func:`_host_sums`). The rows that carry these
numbers between ranks and their checks are :mod:`automl_mm.ohl.copy_verification`'s.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn

#: The words of a fingerprint: a tensor's bytes read as int64 (the last few bytes of a tensor whose size is not a
#: multiple of 8, as integers of its own width), in the tensor's logical element order.
#: The words are summed in int64, whose additions wrap around 2**64: addition modulo 2**64 is exact, associative and
#: commutative, so no order or grouping of the reduction (another GPU, CPU or torch build) changes the sums.
#: (C++ leaves a signed overflow undefined; torch's CPU and CUDA integer kernels compile to two's-complement adds and
#: multiplies, which wrap. :func:`int64_sums_wrap` probes it once per device type at the first fingerprint; where
#: they do not wrap, the words are summed as numpy ``uint64`` on the CPU instead, to the same numbers.)
#: Each tensor is reduced as a (rows, :data:`_COLUMNS`) grid: its row sums and column sums give both the plain sum
#: and the position-weighted sum without a weight per element (its remainder, fewer than :data:`_COLUMNS` words,
#: is weighted directly).
_COLUMNS = 256
#: Numbers per group (parameters, buffers) in a fingerprint: the plain sum, the position-weighted sum and the
#: position-weighted sum of the words' high 32 bits, each as its low and high 32 bits (float64, the type of
#: :func:`~automl_mm.ohl.copy_verification.gather_rows`, holds them exactly).
_GROUP_SIZE = 6
#: Length of a :func:`fingerprint`: the parameters' six numbers, then the buffers'.
FINGERPRINT_SIZE = 2 * _GROUP_SIZE
_SAME_WIDTH_INT = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _words(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``t``'s bytes in its logical element order as int64 words: the whole words, and the last elements that do not
    fill one (fewer than 8 bytes, each sign-extended from an integer of its own width)."""
    v = t.detach()
    if v.is_complex():
        v = torch.view_as_real(v)
    v = v.reshape(-1)  # logical order: a channels_last or transposed tensor is copied, one that is dense is not
    if v.dtype == torch.bool:
        v = v.view(torch.uint8)
    ratio = 8 // v.element_size()
    whole = v.numel() - v.numel() % ratio
    if v.storage_offset() % ratio:  # a view that starts inside a word of its storage: int64 cannot view it in place
        v = v.clone()
    tail = v[whole:]
    return v[:whole].view(torch.int64), tail.view(_SAME_WIDTH_INT[v.element_size()]).to(torch.int64)


def _group_sums(groups: list[tuple[str, list[tuple[str, torch.Tensor]]]]) -> torch.Tensor:
    """Per group of named tensors (``(kind, [(name, tensor), ...])``): the plain and the position-weighted sum
    (modulo 2**64) of the words of its tensors (taken as one sequence, in order: word ``i`` weighs ``i + 1``), the
    position-weighted sum of the words' high 32 bits (signed; a tail's: 0) and 1 where every floating-point value is
    finite (else 0). An int64 tensor ``(len(groups), 4)`` on the CPU (the sums as signed 64-bit integers), read from
    each device the tensors are on with one transfer (:func:`_device_sums`), or, on a device whose int64 sums do not
    wrap (:func:`int64_sums_wrap`), through numpy's unsigned integers on the CPU (:func:`_host_sums`).

    Raises:
        TypeError: a tensor without plain strided storage (sparse, quantized, nested), naming it and its kind.
    """
    per_device: dict[torch.device, list[tuple[int, int, torch.Tensor, torch.Tensor]]] = {}
    bounds: dict[torch.device, dict[tuple[int, torch.dtype], list[torch.Tensor]]] = {}  # each tensor's min and max
    for group, (what, tensors) in enumerate(groups):
        offset = 0
        for name, t in tensors:
            try:
                main, tail = _words(t)
            except (RuntimeError, NotImplementedError) as err:
                raise TypeError(f'verify_sync: cannot fingerprint {what} {name!r} ({t.layout}, {t.dtype}): its bytes '
                                f'cannot be read as integers ({err}); set the OHL hook\'s verify_sync=False to skip '
                                'the check') from err
            per_device.setdefault(t.device, []).append((group, offset, main, tail))
            offset += main.numel() + tail.numel()
            if (t.is_floating_point() or t.is_complex()) and t.numel():
                v = torch.view_as_real(t.detach()) if t.is_complex() else t.detach()
                if v.element_size() == 1:  # float8: no min/max kernels; float16 holds each value, inf and NaN
                    v = v.to(torch.float16)
                bounds.setdefault(t.device, {}).setdefault((group, v.dtype), []).extend(torch.aminmax(v))
    per_device_sums = []
    for device, entries in per_device.items():
        finite = torch.ones(len(groups), dtype=torch.int64, device=device)
        for (group, _), group_bounds in bounds.get(device, {}).items():
            finite[group] &= torch.isfinite(torch.stack(group_bounds)).all()
        if int64_sums_wrap(device):
            per_device_sums.append(_device_sums(entries, finite, len(groups), device))
        else:
            per_device_sums.append(_host_sums(entries, finite.cpu(), len(groups)))
    return _combine_device_sums(per_device_sums, len(groups))


def _device_sums(entries: list[tuple[int, int, torch.Tensor, torch.Tensor]], finite: torch.Tensor, num_groups: int,
                 device: torch.device) -> torch.Tensor:
    """:func:`_group_sums` of one device's ``(group, offset, words, tail)`` entries, computed there with int64
    kernels that wrap around 2**64 (:func:`int64_sums_wrap`); ``finite``: each group's flag, on ``device``. An int64
    tensor ``(num_groups, 4)`` on the CPU: the one transfer (and wait) of this device."""
    parts = [dict(rowsums=[], colsums=[], high_rowsums=[], high_colsums=[], row_weights=[], rest=[], high_rest=[],
                  rest_weights=[]) for _ in range(num_groups)]
    for group, offset, main, tail in entries:
        part = parts[group]
        rows = main.numel() // _COLUMNS
        if rows:
            grid = main[:rows * _COLUMNS].view(rows, _COLUMNS)
            part['rowsums'].append(grid.sum(1))
            part['colsums'].append(grid.sum(0))
            high = grid >> 32  # each word's high half (a signed 32-bit integer)
            part['high_rowsums'].append(high.sum(1))
            part['high_colsums'].append(high.sum(0))
            # the word in row r, column c weighs offset + r * C + c + 1: rows add offset + r * C + 1, columns c
            part['row_weights'].append((offset + 1, rows))
        rest = [p for p in (main[rows * _COLUMNS:], tail) if p.numel()]
        if rest:
            part['rest'].extend(rest)
            # a tail (< 8 bytes, each element below 2**31 in magnitude) has no high half of its own: 0
            part['high_rest'].extend(p >> 32 if p is not tail else torch.zeros_like(p) for p in rest)
            part['rest_weights'].append((offset + rows * _COLUMNS + 1, sum(p.numel() for p in rest)))
    sums = torch.zeros(num_groups, 4, dtype=torch.int64, device=device)
    sums[:, 3] = finite
    for group, part in enumerate(parts):
        if part['rowsums']:
            row_weights = _arange_runs(part['row_weights'], _COLUMNS, device)
            column_weights = torch.arange(_COLUMNS, device=device)
            rowsums = torch.cat(part['rowsums'])
            sums[group, 0] += rowsums.sum()
            for column, (rows, columns) in ((1, ('rowsums', 'colsums')), (2, ('high_rowsums', 'high_colsums'))):
                sums[group, column] += (torch.cat(part[rows]) * row_weights).sum()
                sums[group, column] += (torch.stack(part[columns]) * column_weights).sum()
        if part['rest']:
            rest = torch.cat(part['rest'])
            rest_weights = _arange_runs(part['rest_weights'], 1, device)
            sums[group, 0] += rest.sum()
            sums[group, 1] += (rest * rest_weights).sum()
            sums[group, 2] += (torch.cat(part['high_rest']) * rest_weights).sum()
    return sums.cpu()


def _host_sums(entries: list[tuple[int, int, torch.Tensor, torch.Tensor]], finite: torch.Tensor,
               num_groups: int) -> torch.Tensor:
    """:func:`_device_sums` without relying on int64 overflow: the words copied to the CPU and summed as numpy
    ``uint64`` (unsigned arithmetic wraps around 2**64 by the C standard, so the sums are those of the wrapping
    path, bit for bit); partial sums added as Python integers. A word's signed high half is taken modulo 2**64 as
    ``(w >> 32) - (w >> 63) * 2**32``. Slower (a host copy of every tensor, a temporary per product): the path of a
    device whose int64 kernels do not wrap (:func:`int64_sums_wrap`). Same result type as :func:`_device_sums`."""
    import numpy as np

    sums = [[0, 0, 0] for _ in range(num_groups)]
    for group, offset, main, tail in entries:
        for words, first, high in ((main, offset, True), (tail, offset + main.numel(), False)):
            if not words.numel():
                continue
            u = words.detach().cpu().contiguous().numpy().view(np.uint64)
            weights = np.arange(first + 1, first + 1 + u.size, dtype=np.uint64)
            sums[group][0] += int(u.sum(dtype=np.uint64))
            sums[group][1] += int((u * weights).sum(dtype=np.uint64))
            if high:  # a tail has no high half of its own: 0
                halves = (u >> np.uint64(32)) - ((u >> np.uint64(63)) << np.uint64(32))
                sums[group][2] += int((halves * weights).sum(dtype=np.uint64))
    return torch.tensor([[_signed(s) for s in three] + [int(flag)] for three, flag in zip(sums, finite.tolist())],
                        dtype=torch.int64).reshape(num_groups, 4)


def _signed(value: int) -> int:
    """``value`` modulo 2**64 as a signed 64-bit integer (two's complement)."""
    value %= 2 ** 64
    return value - 2 ** 64 if value >= 2 ** 63 else value


def _combine_device_sums(per_device: Sequence[torch.Tensor], num_groups: int) -> torch.Tensor:
    """The model's ``(num_groups, 4)`` sums from each device's (:func:`_device_sums`): the three sums added modulo
    2**64 (as Python integers: no int64 overflow relied on here), the finite flags combined with a logical and (a
    group is finite only where it is finite on every device: a non-finite value on any device makes its group's
    numbers NaN)."""
    total = [[0, 0, 0, 1] for _ in range(num_groups)]
    for sums in per_device:
        for row, (plain, weighted, high, finite) in zip(total, sums.tolist()):
            row[0] += plain
            row[1] += weighted
            row[2] += high
            row[3] = int(row[3] and finite)
    return torch.tensor([[_signed(s) for s in row[:3]] + [row[3]] for row in total],
                        dtype=torch.int64).reshape(num_groups, 4)


#: Whether int64 sums wrap around 2**64 on a device type (``'cpu'``, ``'cuda'``), probed at its first fingerprint.
_WRAPS: dict[str, bool] = {}
#: What :func:`_wrap_probe` gives where int64 additions and products wrap around 2**64.
_WRAPPED = [0, 0, 0, 0, -2 ** 63]


def _wrap_probe(device: torch.device) -> list[int]:
    """Five tiny int64 reductions on ``device`` whose exact results overflow int64, by the kernels the fingerprint
    uses (flat, row and column sums, a product, a sum across the sign boundary): :data:`_WRAPPED` where they wrap."""
    big = torch.full((2, 2), 2 ** 62, dtype=torch.int64, device=device)  # 4 * 2**62 = 2**64
    edge = torch.tensor([2 ** 63 - 1, 1], dtype=torch.int64, device=device)
    return torch.stack([big.sum(), big.sum(1).sum(), big.sum(0).sum(), (big[0] * 4).sum(), edge.sum()]).tolist()


def int64_sums_wrap(device: torch.device) -> bool:
    """Whether torch's int64 sums and products wrap around 2**64 on ``device``'s type, which the fingerprint's
    exactness relies on (C++ leaves a signed overflow undefined; torch's CPU and CUDA kernels compile to
    two's-complement adds that wrap). Probed once per device type at its first fingerprint (:func:`_wrap_probe`);
    where they do not, a warning names the device and :func:`fingerprint` takes the slower host path
    (:func:`_host_sums`), which gives the same numbers."""
    key = torch.device(device).type
    if key not in _WRAPS:
        got = _wrap_probe(torch.device(device))
        _WRAPS[key] = got == _WRAPPED
        if not _WRAPS[key]:
            from mmengine.logging import print_log
            print_log(f'verify_sync: torch {torch.__version__}\'s int64 sums on {key} do not wrap around 2**64 '
                      f'(a probe gave {got}, wrapping gives {_WRAPPED}): the weight fingerprint is summed on the '
                      'CPU with numpy instead (a host copy of the weights per fingerprint, slower; the same numbers)',
                      logger='current', level=30)
    return _WRAPS[key]


def _arange_runs(runs: list[tuple[int, int]], step: int, device: torch.device) -> torch.Tensor:
    """``cat([start, start + step, ..., start + (count - 1) * step] for start, count in runs)`` (int64), built from
    two kernels instead of one per run."""
    total = sum(n for _, n in runs)
    counts = torch.tensor([n for _, n in runs], dtype=torch.int64)
    first = torch.cumsum(counts, 0) - counts  # the index where each run begins
    base = torch.tensor([s for s, _ in runs], dtype=torch.int64) - step * first
    base = torch.repeat_interleave(base.to(device), counts.to(device), output_size=total)
    return base + step * torch.arange(total, dtype=torch.int64, device=device)


def fingerprint(module: nn.Module) -> torch.Tensor:
    """:data:`FINGERPRINT_SIZE` (12) float64 numbers on the CPU that differ when the weights differ: six for the
    parameters, then six for the buffers.

    Each six are the low and high 32 bits of three sums modulo 2**64 of the group's bytes read as int64 words
    (:func:`_words`; the tensors in ``module.parameters()`` / ``buffers()`` order, each in its logical element order,
    so the memory format does not matter): the plain sum, the sum of each word times its position + 1 and the sum of
    each word's high 32 bits (signed) times its position + 1. Any single changed bit changes the plain sum (by
    ±2**k, k < 64, which is not 0 modulo 2**64). A swap of two different words ``d`` apart changes a weighted sum
    by a difference times ``d``: of their high halves where those differ, else of the words themselves (then their
    low halves'); either difference is below 2**32, so divisible by 2**31 at most, and the product is 0 modulo 2**64
    only where ``d`` is a multiple of 2**33: any swap within 2**33 words (64 GiB) of one group is seen. The words'
    weighted sum alone missed words differing only in their top bits at an even distance (0.25 and -0.25 four
    float32 values apart, swapped). Two more sums (of the words and of their high halves, weighted by ``position >>
    32``) would close that blind spot (a swap ``k * 2**33`` apart changes them by ``2k`` times a difference below
    2**32: never 0 modulo 2**64 for positions below 2**63); not taken: they are 0 in a group of fewer than 2**32
    words (32 GiB; a model holding over 2**33 words in one group is far beyond those OHL trains), yet would add four
    numbers to every row, and an ad-hoc prototype weighting every word made the fingerprint 1.8-3.1x slower
    (ResNet-50 / -18, 2 threads, interleaved in one run; weighting the row sums would cost far less). They are
    NaN where a floating-point value of the group is not finite (NaN never counts as equal: a non-finite weight
    after a broadcast is a failure).

    Integer sums, wrapping modulo 2**64: every rank computes the same numbers from the same bits, whatever the order
    of the reduction. The wrapping is probed once per device type (:func:`int64_sums_wrap`); a device whose int64
    sums do not wrap has its words summed on the CPU as numpy ``uint64`` (:func:`_host_sums`, slower, the same
    numbers), and the devices' sums are added as Python integers (:func:`_combine_device_sums`). Sums of the values
    in float64 round by the order of their reduction, which another GPU, CPU (AVX2 or AVX-512 kernels) or torch
    build changes, and ``verify_sync`` stopped a run on a mixed cluster whose copies held the same weights bit for
    bit. Cost: per tensor a shift and four integer reductions (the row and
    column sums of its words and of their high halves) and one min/max (floating point), on its own device; one
    temporary of the tensor's size (the high halves), a logical-order copy of a tensor that is not contiguous
    (channels_last); one transfer per device for the whole model
    (``benchmarks/fingerprint_cost.py``; README, OHL's ``verify_sync``).

    Raises:
        TypeError: a parameter or buffer whose bytes cannot be read as integers (sparse, quantized), naming it.
    """
    numbers: list[float] = []
    sums = _group_sums([('parameter', list(module.named_parameters())), ('buffer', list(module.named_buffers()))])
    for *three, finite in sums.tolist():
        halves = [float((s >> shift) & 0xFFFFFFFF) for s in three for shift in (0, 32)]
        numbers += halves if finite else [math.nan] * _GROUP_SIZE
    return torch.tensor(numbers, dtype=torch.float64)
