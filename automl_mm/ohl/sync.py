"""Collectives of the OHL trunk end: gather rows and each copy's applied values, broadcast the best copy's training
state, check the ranks agree.

After the controller step (METHODS.md §1, step 6) every copy takes the best copy's model (with its modules' plain
training state, :func:`training_attributes`), optimiser, schedulers and EMA model (step 7;
:func:`broadcast_copy_state`) and the values the best copy's spaces applied at ``model.`` paths
(:func:`adopt_model_values`), and :func:`verify_copies` checks from weight fingerprints that θ is
the same on every rank, the ranks of a copy are in step and, after a broadcast, every copy holds the best copy's
weights.
"""
from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import torch
import torch.nn as nn
from mmengine.dist import (
    all_gather,
    all_gather_object,
    broadcast,
    broadcast_object_list,
    get_comm_device,
    get_rank,
    is_distributed,
)
from mmengine.hooks import EMAHook
from mmengine.model import is_model_wrapper
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from automl_mm.engine.rank_failures import stopping_together

from .attributes import set_attribute
from .write_order import write_order


def same(a: torch.Tensor, b: torch.Tensor, nan_equal: bool = False) -> bool:
    """Exact equality; NaN equals NaN only with ``nan_equal`` (a diverged copy is NaN on all its ranks)."""
    equal = a == b
    if nan_equal:
        equal = equal | (torch.isnan(a) & torch.isnan(b))
    return bool(equal.all())


def gather_rows(row: torch.Tensor) -> torch.Tensor:
    """All-gather one float64 row per rank into a (world_size, len) tensor on the CPU (identical on all ranks)."""
    row = row.detach().to(torch.float64).flatten()
    if not is_distributed():
        return row[None].clone()
    return torch.stack([r.cpu() for r in all_gather(row)])


def gather_copy_values(spaces: Sequence[Any], layout: Any) -> dict[str, list]:
    """Every copy's applied values of this trunk, ``{space name: [copy 0's {path: value}, copy 1's, ...]}``.

    Only spaces whose :meth:`~automl_mm.ohl.base.OHLSpace.applied_values` is not ``None`` (per-copy attribute
    spaces) are listed; with none the result is ``{}``. Each copy's entry is its lead rank's (the ranks of a copy
    apply the same sample). Every rank must call it: in a distributed run it always runs one all-reduce of a failure
    flag and one ``all_gather_object`` (also where this rank lists nothing: whether the gather runs must not depend
    on one rank's answer, or a space listing values on some ranks only left the others waiting in the gather until
    the process group's timeout). A space's ``applied_values`` that raises, or values that cannot be pickled, on one
    rank stop every rank before the gather, naming the rank and the error.

    Raises:
        RuntimeError: on every rank, where a space's ``applied_values`` is ``None`` on some ranks and values on
            others, naming the space and both sets of ranks (a plugin must answer alike on every rank).
    """
    with stopping_together('OHL: the copies\' applied values (OHLSpace.applied_values)'):
        values = {s.name: v for s in spaces if (v := s.applied_values()) is not None}
        if values and is_distributed():
            pickle.dumps(values)  # torch pickles them on this rank alone, before the gather
    per_rank = all_gather_object(values) if is_distributed() else [values]
    for space in spaces:
        listed = [r for r, got in enumerate(per_rank) if space.name in got]
        if listed and len(listed) != len(per_rank):
            unlisted = [r for r in range(len(per_rank)) if r not in listed]
            raise RuntimeError(
                f'OHL: space {space.name!r} ({type(space).__name__}) returned applied values on ranks {listed} '
                f'but None on ranks {unlisted}: its applied_values() must return None on every rank or values on '
                'every rank')
    if not values:
        return {}
    per_copy = [per_rank[layout.lead_rank(c)] for c in range(layout.num_copies)]
    return {name: [copy_values[name] for copy_values in per_copy] for name in values}


def _broadcast_tensors_(tensors: list[torch.Tensor], src: int, group: Any = None) -> None:
    """Broadcast tensors in place from global rank ``src`` over ``group`` (``None``: the world), one flat buffer per
    (device, dtype) to keep collectives few. The flat buffer is on the group's communication device already, so
    mmengine's ``broadcast`` copies nothing back (it compares ``src``, a global rank, with the rank in ``group``)."""
    buckets: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        buckets.setdefault((t.device, t.dtype), []).append(t)
    comm_device = get_comm_device(group)
    for (device, _), bucket in buckets.items():
        flat = _flatten_dense_tensors([t.data for t in bucket]).to(comm_device)
        broadcast(flat, src, group)
        for t, synced in zip(bucket, _unflatten_dense_tensors(flat.to(device), bucket)):
            t.data.copy_(synced)


def broadcast_module_(module: nn.Module, src: int) -> None:
    """Copy every parameter and buffer of ``module`` from rank ``src`` to all ranks, in place."""
    if is_distributed():
        _broadcast_tensors_(list(module.parameters()) + list(module.buffers()), src)


def broadcast_buffers_(module: nn.Module, src: int, group: Any = None) -> None:
    """Copy every buffer of ``module`` (BatchNorm running statistics, ...) from global rank ``src`` to the ranks of
    ``group`` (``None``: all ranks), in place; nothing outside a distributed run. mmengine's
    ``MMDistributedDataParallel(broadcast_buffers=False)`` keeps the parameters in step but leaves each rank the
    statistics of its own shard of the training batches (and with ``broadcast_buffers=True`` it would send its group's
    first rank's only at the next training forward)."""
    if is_distributed():
        _broadcast_tensors_(list(module.buffers()), src, group)


def map_containers(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """``obj`` with ``fn`` applied to each value of a dict, list or tuple, in a container of the same type; any
    other ``obj`` is returned as is.

    Dict subclasses keep their class and attributes (a shallow copy emptied and refilled: torch's and mmengine's
    ``MultiStepLR`` ``milestones`` stays a ``collections.Counter``, a ``defaultdict`` keeps its
    ``default_factory``, an ``OrderedDict`` its class), a namedtuple is rebuilt from its fields, a list or tuple
    subclass from an iterable.
    """
    if isinstance(obj, dict):
        out = copy.copy(obj)
        out.clear()
        for k, v in obj.items():
            out[k] = fn(v)
        return out
    if isinstance(obj, tuple) and hasattr(type(obj), '_fields'):  # a namedtuple takes its fields as arguments
        return type(obj)(*(fn(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(fn(v) for v in obj)
    return obj


def receiving_device(sent: str) -> str:
    """Where a receiving rank of :func:`broadcast_state` puts a tensor the source held on ``sent`` (``str`` of its
    device): an accelerator's type without the source's index (``'cuda:3'`` -> ``'cuda'``, this rank's own current
    GPU; the same for any other accelerator: mmengine's ``'npu:1'`` -> ``'npu'``, ``'mlu'``, ``'musa'``, torch's
    ``'xpu'``; the source's index means another device here, or none), ``'cpu'`` as it is."""
    kind = sent.partition(':')[0]
    return sent if kind == 'cpu' else kind


def broadcast_state(state: Any, src: int, what: str = 'state') -> Any:
    """Return rank ``src``'s nested state (dicts/lists/tuples of tensors and plain values) on every rank.

    The structure (with tensor shapes and dtypes) travels as one pickled object; the tensors travel as flat
    buffers, so large optimiser states cost one broadcast per dtype rather than a pickle round trip. Every
    container keeps its type (:func:`map_containers`): a receiving rank's state equals the sender's in type and
    value (its ``MultiStepLR`` milestones were a plain dict, without ``Counter.elements`` or a missing key's 0).
    The containers' classes must be importable on every rank (they travel pickled). Every rank must call it.

    A state ``src`` cannot pickle, or one a receiving rank cannot unpickle or rebuild, stops every rank: that rank
    raises its error, the others a :class:`~automl_mm.engine.rank_failures.RankFailure` naming the rank, the error
    and ``what`` (``'optimiser state'``); they used to wait in the next broadcast until the process group's timeout.
    """
    if not is_distributed():
        return state
    tensors: list[torch.Tensor] = []

    def strip(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            tensors.append(obj)
            return ('__tensor__', len(tensors) - 1, tuple(obj.shape), obj.dtype, str(obj.device))
        return map_containers(obj, strip)

    skeleton = [strip(state)]
    # torch pickles the skeleton on src alone, before the broadcast: a state it cannot pickle raised there and left
    # the other ranks in the broadcast until the process group's timeout. Pickled once more here (the tensors are
    # out of it: a small object), and a failure agreed on by every rank
    with stopping_together(f'broadcasting rank {src}\'s {what}: pickling it on rank {src}'):
        if get_rank() == src:
            pickle.dumps(skeleton)
    received: list[torch.Tensor] = []

    def rebuild(obj: Any) -> Any:
        if isinstance(obj, tuple) and len(obj) == 5 and obj[0] == '__tensor__':
            _, _, shape, dtype, device = obj
            received.append(torch.empty(shape, dtype=dtype, device=receiving_device(device)))
            return received[-1]
        return map_containers(obj, rebuild)

    # a receiving rank that cannot unpickle or rebuild it raises after the broadcast, before the tensors' broadcast
    # the others wait in: agreed on too (every rank has passed the broadcast inside the block)
    with stopping_together(f'broadcasting rank {src}\'s {what}: rebuilding it'):
        broadcast_object_list(skeleton, src)
        if get_rank() == src:
            rebuilt = state
            received = tensors
        else:
            rebuilt = rebuild(skeleton[0])
    _broadcast_tensors_(received, src)
    return rebuilt


#: Plain attributes (neither parameters nor buffers) that a module's own training updates, by the qualified name of
#: its class (subclasses included), as dotted paths from the module. mmdet's ``DynamicRoIHead`` (Dynamic R-CNN) keeps
#: the IoUs and regression targets of its last iterations in Python lists and every ``update_iter_interval``
#: iterations sets its assigner's IoU thresholds and its SmoothL1 loss's ``beta`` from them.
TRAINING_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    'mmdet.models.roi_heads.dynamic_roi_head.DynamicRoIHead': (
        'iou_history', 'beta_history', 'bbox_assigner.pos_iou_thr', 'bbox_assigner.neg_iou_thr',
        'bbox_assigner.min_pos_iou', 'bbox_head.loss_bbox.beta'),
}


def training_attributes(module: nn.Module) -> tuple[str, ...]:
    """The dotted paths of ``module``'s plain training state: :data:`TRAINING_ATTRIBUTES` of its classes that the
    module has (a ``DynamicRoIHead`` built without ``train_cfg`` has no assigner), then those its class declares in
    ``ohl_copy_state`` (a tuple of paths: how a module of your own has such state carried).

    Raises:
        AttributeError: a declared ``ohl_copy_state`` path the module does not have, naming its class and the path.
    """
    paths = [p for cls in type(module).__mro__ for p in TRAINING_ATTRIBUTES.get(f'{cls.__module__}.{cls.__qualname__}',
                                                                            ()) if _has_path(module, p)]
    for path in getattr(module, 'ohl_copy_state', ()):
        if not _has_path(module, path):
            raise AttributeError(f'{type(module).__name__}.ohl_copy_state names {path!r}, which the module does not '
                                 'have: the OHL broadcast cannot carry it')
        paths.append(path)
    return tuple(dict.fromkeys(paths))


def _has_path(obj: Any, path: str) -> bool:
    try:
        attrgetter(path)(obj)
    except AttributeError:
        return False
    return True


def broadcast_training_attributes_(model: nn.Module, src: int) -> None:
    """Give every rank rank ``src``'s plain training state of ``model``'s modules (:func:`training_attributes`), in
    place; nothing outside a distributed run. The values travel pickled (one ``broadcast_object_list``, also where
    this rank's modules have none: whether it runs must not hang on one rank's answer, an attribute a module sets
    during training being there on one rank only); a rank whose modules lack a path ``src`` sends raises. Every rank
    must call it. A rank whose :func:`training_attributes` raises (an ``ohl_copy_state`` path its module lacks)
    stops every rank before the broadcast, naming the rank and the error (the others waited in it)."""
    state = {}
    with stopping_together(f'broadcasting rank {src}\'s training attributes: collecting them'):
        for name, module in model.named_modules():
            for path in training_attributes(module):
                state[(name, path)] = attrgetter(path)(module)
    if not is_distributed():
        return
    received = [state]
    paths = sorted({p for _, p in state})
    what = f'broadcasting rank {src}\'s training attributes' + (f' ({", ".join(paths)})' if paths else '')
    with stopping_together(f'{what}: pickling them on rank {src}'):  # as in broadcast_state
        if get_rank() == src:
            pickle.dumps(received)
    with stopping_together(f'{what}: setting them'):  # every rank has passed the broadcast inside the block
        broadcast_object_list(received, src)
        modules = dict(model.named_modules())
        for (name, path), value in received[0].items():
            owner, _, attr = path.rpartition('.')
            setattr(attrgetter(owner)(modules[name]) if owner else modules[name], attr, value)


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
#: position-weighted sum of the words' high 32 bits, each as its low and high 32 bits (float64, :func:`gather_rows`'
#: type, holds them exactly).
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


def broadcast_copy_state(runner: Any, src: int) -> None:
    """Give every rank rank ``src``'s training state, in place: the model's parameters and buffers and its modules'
    plain training state (:func:`training_attributes`: mmdet's ``DynamicRoIHead`` thresholds, ``beta`` and
    histories), the optimiser wrapper's state (AMP loss scaler included), every parameter scheduler and the model
    of each ``EMAHook``. Deliberately each copy's own: the random streams and the data order (the hook re-derives
    them per copy at every segment start; ``CopySampler``), and random draws a module keeps between iterations
    (mmdet's ``BatchSyncRandomResize`` input size).

    With several ranks per copy every rank takes rank ``src``'s state, also what plain DDP training
    (``broadcast_buffers=False``) keeps per rank from its own shard: BatchNorm running statistics and a
    ``DynamicRoIHead``'s thresholds. ``src`` is the best copy's lead rank, whose statistics the reward was read with
    and whose state the checkpoints hold. Every rank must call it; a state one rank cannot pickle, unpickle or load
    stops every rank there, naming that rank and its error (:func:`broadcast_state`)."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    broadcast_module_(model, src)
    if not is_distributed():
        return
    broadcast_training_attributes_(model, src)
    optim_wrapper = runner.optim_wrapper
    # a rank whose load refuses the state stops every rank there (the others went on into the next broadcast)
    state = broadcast_state(optim_wrapper.state_dict(), src, 'optimiser state')
    with stopping_together(f'loading rank {src}\'s optimiser state'):
        optim_wrapper.load_state_dict(state)
    schedulers = runner.param_schedulers
    if schedulers:
        groups = schedulers.values() if isinstance(schedulers, dict) else [schedulers]
        for group in groups:
            for scheduler in group:
                state = broadcast_state(scheduler.state_dict(), src, f'{type(scheduler).__name__} state')
                with stopping_together(f'loading rank {src}\'s {type(scheduler).__name__} state'):
                    scheduler.load_state_dict(state)
    for hook in runner.hooks:
        if isinstance(hook, EMAHook) and hasattr(hook, 'ema_model'):
            broadcast_module_(hook.ema_model, src)


def adopt_model_values(runner: Any, copy_values: dict[str, list], best: int) -> None:
    """After a broadcast of copy ``best``'s state, set the values its spaces applied at ``model.`` paths on every
    rank (``copy_values``: :func:`gather_copy_values`' result).

    The broadcast carries the model's parameters and buffers and the optimiser's state (its ``param_groups``: a
    searched lr or weight decay travels with it), but not a module's plain attributes: every copy kept its own
    sampled ``model.head.loss_cls.loss_weight`` or ``model.test_cfg...`` value next to the best copy's weights, so
    the validation after a broadcasting trunk (every rank scoring its share) and the model left after the last
    trunk ran with each copy's own sample instead of the best copy's. Other paths are left to the next trunk's
    write: the optimiser's came with its state, and a data path's write would restart the loader's workers.

    Paths that reach one value are written a covering path first, the narrower one last
    (:func:`~automl_mm.ohl.write_order.write_order`), as the exports' replay and ``SearchedValuesHook`` write the same
    values; across spaces it is the order the copies wrote in (:func:`~automl_mm.ohl.write_order.check_search_order`
    refused any other before the first trunk). A path two spaces report keeps the later space's value. In space and
    dict order, a space whose reported values overlap (``{'model.0.p': 0.3, 'model.*.p': 0.1}``, which it applied
    as ``[0.3, 0.1]``) left every copy at ``[0.1, 0.1]``.

    Raises:
        ValueError: two paths reaching the same values with different values (:func:`write_order`, naming both).
    """
    values: dict[str, Any] = {}
    for per_copy in copy_values.values():
        if not 0 <= best < len(per_copy):
            continue
        for path, value in per_copy[best].items():
            if path.split('.', 1)[0] == 'model':
                values.pop(path, None)  # a later space's write of a path last, as SearchedValuesHook takes them
                values[path] = value
    for path in write_order(runner, values, "OHLHook: the best copy's model attribute values after the broadcast"):
        set_attribute(runner, path, values[path])


#: The layout of the rows :func:`verify_copies` gathers (θ, then a :func:`fingerprint` before and after the
#: broadcast), by version: 1 (none sent, before the sixty-second session: fingerprints of 4 and then 12 numbers), 2
#: (this one: 12 numbers, announced by :func:`check_row_layouts`' header). Raise it whenever the fingerprint changes.
ROW_LAYOUT_VERSION = 2


def check_row_layouts(theta_size: int, before_size: int, after_size: int, trunk: int) -> None:
    """Gather every rank's row layout (``[version, θ's size, the fingerprints' sizes]``, four int64 numbers, a
    collective of the same size in every version since 2) and refuse rows that differ before they are gathered.

    The rows themselves are gathered with ``all_gather``, which needs one size on every rank: a rank of another
    automl_mm (another fingerprint) or another search space (another θ) sent a row of another size, and gloo
    aborted the process ('Received data size doesn't match expected size', naming neither size); NCCL may hang.
    Every rank gets the same headers, so every rank raises the same error. Nothing to do outside a distributed run.

    Raises:
        RuntimeError: on every rank, where the ranks' layouts differ (:func:`row_layouts_differ`' message).
    """
    if not is_distributed():
        return
    header = torch.tensor([ROW_LAYOUT_VERSION, theta_size, before_size, after_size], dtype=torch.int64)
    headers = [h.tolist() for h in all_gather(header)]
    problem = row_layouts_differ(headers)
    if problem:
        raise RuntimeError(f'OHL trunk {trunk}: verify_sync cannot compare the ranks\' weights: {problem}')


def row_layouts_differ(headers: Sequence[Sequence[int]]) -> str | None:
    """``None`` where every rank's ``[version, θ's size, fingerprint size before, after]`` (rank order) is the same;
    else a message naming each distinct layout with its ranks, its row size, and what to do."""
    layouts: dict[tuple[int, ...], list[int]] = {}
    for rank, header in enumerate(headers):
        layouts.setdefault(tuple(int(x) for x in header), []).append(rank)
    if len(layouts) == 1:
        return None
    said = '; '.join(f'ranks {ranks}: layout version {version}, theta {theta} numbers, fingerprints {before} + {after} '
                     f'numbers (a row of {theta + before + after})'
                     for (version, theta, before, after), ranks in layouts.items())
    versions = {layout[0] for layout in layouts}
    fix = ('the ranks run different automl_mm versions: install the same automl_mm on every node'
           if len(versions) > 1 or len({layout[2:] for layout in layouts}) > 1 else
           'the ranks search different spaces (another config or --cfg-options on some nodes): start every rank '
           'from the same config')
    return f'their rows differ in size ({said}); {fix}, then start again'


def verify_copies(spaces: Sequence[Any], model: nn.Module, before: torch.Tensor, best: int, broadcasted: bool,
                  layout: Any, trunk: int) -> dict:
    """Gather θ (every space's distribution parameters) and weight fingerprints (``before``: this rank's
    :func:`fingerprint` before the broadcast) from every rank; return the four checks as booleans.

    θ must be identical on every rank and the ranks of a copy in step; after a broadcast (``broadcasted``) every
    copy must also equal the best copy's weights from before it. Without a broadcast the copies' equality is
    recorded, not required (they normally differ).

    In a distributed run the rows' layouts are compared first (:func:`check_row_layouts`, one small all_gather):
    rows of different sizes cannot be gathered (gloo aborted the process naming neither size).

    Raises:
        RuntimeError: a required check failed; the message names trunk ``trunk`` and every check's result. Or the
            ranks' rows differ in layout (another automl_mm's fingerprint, another search space's θ), naming each
            layout, its ranks and what to do (:func:`row_layouts_differ`).
    """
    theta = torch.cat([p.detach().flatten().to(torch.float64) for s in spaces
                       for p in s.distribution.parameters()] or [torch.zeros(0, dtype=torch.float64)])
    after = fingerprint(model)
    check_row_layouts(theta.numel(), before.numel(), after.numel(), trunk)
    rows = gather_rows(torch.cat([theta, before, after]))
    n = theta.numel()
    theta_ok = same(rows[:, :n], rows[0, :n])
    # NaN is never equal here: a non-finite weight or buffer after the broadcast is a failure
    size = FINGERPRINT_SIZE
    copies_ok = same(rows[:, n + size:], rows[0, n + size:])
    # every rank, not rank 0 alone: after a trunk that did not broadcast, copy 0 equals itself when it is the best
    best_ok = same(rows[:, n + size:], rows[layout.lead_rank(best), n:n + size].expand(len(rows), size))
    # Ranks of one copy train under DDP: their parameters (not BN statistics) must agree before the broadcast.
    leads = [layout.lead_rank(r // layout.ranks_per_copy) for r in range(layout.world_size)]
    params = slice(n, n + _GROUP_SIZE)  # the parameters' part of the fingerprint before the broadcast
    in_copy_ok = same(rows[:, params], rows[leads, params], nan_equal=True)  # diverged: NaN on all its ranks
    if not (theta_ok and in_copy_ok and (not broadcasted or (copies_ok and best_ok))):
        raise RuntimeError(f'OHL trunk {trunk}: ranks disagree after the update (theta identical: '
                           f'{theta_ok}, copies identical: {copies_ok}, copies equal the best: {best_ok}, '
                           f'ranks of a copy in step: {in_copy_ok})')
    return dict(theta_identical=theta_ok, copies_identical=copies_ok, copies_equal_best=best_ok,
                ranks_in_copy_identical=in_copy_ok)
