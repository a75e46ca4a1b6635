"""Cost tables of a supernet's operators (PC-NAS): measured latency or counted FLOPs, summed along a path.

A table holds one entry per ``(mixed layer, candidate op, input shape)`` under the key ``'<layer>:<op>:<CxHxW>'``,
plus the cost of the fixed parts every path runs (stem, final convolution and, in a latency table measured with the
model's ``head``, the classifier the network's result comes from). The cost of a path is the sum of its
ops' entries plus the fixed part, so a search can constrain either the latency on a device or the FLOPs with the
same call, ``table.cost(supernet, path)``. The supernet is any module with ``layer_choices``, ``path``,
``layer_input_shapes``, ``fixed_layers``, ``fixed_input_shapes`` and ``get_op`` (see ``MBConvSupernet``).

The FLOPs counter the FLOPs table counts with (:func:`~automl_mm.nas.flops.count_flops`, also CR-NAS's) lives in
:mod:`~automl_mm.nas.flops`; its names are still importable from here, their former home.
"""
from __future__ import annotations

import copy
import json
import os
import os.path as osp
import platform
import re
import statistics
import time
from collections.abc import Sequence

import torch
import torch.nn as nn

from automl_mm.utils.io import dump_json_atomic
from automl_mm.utils.wording import a_class

# the FLOPs counter (FlopsTable counts with it), its names also importable from here, their former home
from .flops import (  # noqa: F401
    _DEFORMABLE_CONV_OPS,
    FLOPS_COUNTER,
    UncountedOperationError,
    _deformable_conv_flops,
    _EveryOutput,
    _tensors,
    count_flops,
)

_REMEDY = 're-run tools/measure_latency.py CONFIG --out PATH for this supernet and input shape'
#: The torch intra-op thread count a latency table is timed with unless told otherwise (``measure_latency_table``'s
#: ``num_threads``, ``tools/measure_latency.py --num-threads``) and a PC-NAS search expects of its table
#: (``train_cfg.latency_num_threads``): one thread, which every machine has, so a table does not depend on how many
#: cores the process that measured it happened to get.
DEFAULT_LATENCY_THREADS = 1


def cost_key(layer: int, op: str, shape: Sequence[int]) -> str:
    """Table key of op ``op`` in layer ``layer`` for an input of ``shape`` ((N,) C, H, W; N is not part of it)."""
    c, h, w = (int(v) for v in shape[-3:])
    return f'{layer}:{op}:{c}x{h}x{w}'


def _path_keys(supernet: nn.Module, path: Sequence[int], input_shape: Sequence[int]) -> list[str]:
    shapes = supernet.layer_input_shapes(tuple(input_shape))
    names = supernet.arch_names(path)
    return [cost_key(i, op, shape) for i, (op, shape) in enumerate(zip(names, shapes))]


def _all_keys(supernet: nn.Module, input_shape: Sequence[int]) -> list[tuple[int, str, tuple[int, ...]]]:
    shapes = supernet.layer_input_shapes(tuple(input_shape))
    return [(i, op, shape) for i, (ops, shape) in enumerate(zip(supernet.layer_choices, shapes)) for op in ops]


def supernet_fingerprint(supernet: nn.Module, input_shape: Sequence[int], in_order: bool = False) -> str:
    """A digest of what a cost table's entries depend on beyond their keys (which name a layer's op and input
    shape only): every candidate op's and fixed part's module structure (``repr``: widths, kernels, strides, norm and
    activation types) and parameter count, and the fixed parts' input shapes. Two supernets that differ only after
    the keys get different digests: another last-stage width or ``out_channels``, and (since the twenty-seventh
    session, when only parameter counts were hashed) another last-layer stride, activation or norm, whose tables
    held every key and were accepted with the other network's costs.

    The digest does not depend on the order ``ops`` lists the candidates in: entries are looked up by name, so a
    table measured for ``ops=('k3e3', 'k5e6', 'skip')`` gives a supernet of ``('k5e6', 'skip', 'k3e3')`` the same
    costs. Until the forty-fourth session the parts were hashed in that order and such a table was refused as
    "measured for another supernet"; ``in_order=True`` gives that older digest (:meth:`CostTable.matches` accepts
    tables that recorded it)."""
    import hashlib

    def describe(module: nn.Module) -> str:
        return f'{sum(p.numel() for p in module.parameters())}:{module!r}'

    parts = [f'{cost_key(i, op, shape)}:{describe(supernet.get_op(i, op))}'
             for i, op, shape in _all_keys(supernet, input_shape)]
    parts += [f'{name}:{"x".join(map(str, shape[-3:]))}:{describe(getattr(supernet, name))}'
              for name, shape in supernet.fixed_input_shapes(tuple(input_shape)).items()]
    return hashlib.sha1('|'.join(parts if in_order else sorted(parts)).encode()).hexdigest()[:16]


def model_head(model: nn.Module, supernet: nn.Module) -> nn.Module | None:
    """What ``model`` runs after ``supernet`` to give its result, as one module taking the supernet's outputs: the
    ``head`` (after the ``neck``, where there is one) of a model whose ``backbone`` is ``supernet``
    (``ImageClassifier``: average pooling and the linear classifier). ``None`` where ``supernet`` is the whole
    network or the model has no ``head`` (a detector's heads take other inputs than the backbone's maps and are not
    timed here). A wrapped model (DDP, ``CopyDataParallel``) is looked into."""
    inner = getattr(model, 'module', model)
    if inner is supernet or getattr(inner, 'backbone', None) is not supernet:
        return None
    head = getattr(inner, 'head', None)
    if not isinstance(head, nn.Module) or not callable(getattr(head, 'forward', None)):
        return None
    neck = getattr(inner, 'neck', None)
    return _AfterBackbone(head, neck if isinstance(neck, nn.Module) else None)


def model_channels_last(model: nn.Module) -> bool:
    """Whether ``model`` hands its backbone ``torch.channels_last`` (NHWC) inputs (``ImageClassifier``'s
    ``channels_last=True``); a wrapped model (DDP, ``CopyDataParallel``) is looked into."""
    return getattr(getattr(model, 'module', model), 'channels_last', False) is True


class _AfterBackbone(nn.Module):
    """``head(neck(feats))`` (``head(feats)`` without a neck): the part of a classifier after its backbone."""

    def __init__(self, head: nn.Module, neck: nn.Module | None = None) -> None:
        super().__init__()
        self.head, self.neck = head, neck

    def forward(self, feats):
        return self.head(self.neck(feats) if self.neck is not None else feats)


def head_fingerprint(head: nn.Module | None) -> str | None:
    """A digest of the head a latency table timed (structure ``repr`` and parameter count; ``None`` for none), as
    :func:`supernet_fingerprint` for the supernet: a table of a 1000-class head does not time a 10-class one."""
    import hashlib

    if head is None:
        return None
    return hashlib.sha1(f'{sum(p.numel() for p in head.parameters())}:{head!r}'.encode()).hexdigest()[:16]


class CostTable:
    """Additive cost of a supernet path: ``sum(entries of the path's ops) + fixed``.

    Args:
        entries: Cost of each ``'<layer>:<op>:<CxHxW>'``.
        fixed: Cost of the parts every path runs.
        input_shape: ``(N, C, H, W)`` network input the entries were made for.
        meta: Extra JSON-serialisable fields saved with the table (device, versions, ...).

    Examples:
        >>> table = CostTable({'0:k3e3:16x8x8': 1.0, '0:skip:16x8x8': 0.0}, fixed=0.5, input_shape=(1, 16, 8, 8))
        >>> table.entries['0:k3e3:16x8x8'] + table.fixed
        1.5
    """

    fixed_key = 'fixed'  # name of the fixed cost in the saved JSON

    def __init__(self, entries: dict[str, float], fixed: float, input_shape: Sequence[int],
                 meta: dict | None = None) -> None:
        self.entries = {str(k): float(v) for k, v in entries.items()}
        self.fixed = float(fixed)
        self.input_shape = [int(v) for v in input_shape]
        self.meta = dict(meta or {})

    def cost(self, supernet: nn.Module, path: Sequence[int]) -> float:
        """Cost of ``path`` (one op index per layer of ``supernet``) at the table's input shape.

        Raises:
            ValueError: Naming the first ``'<layer>:<op>:<shape>'`` the table lacks.
        """
        total = self.fixed
        for key in _path_keys(supernet, path, self.input_shape):
            try:
                total += self.entries[key]
            except KeyError:
                raise ValueError(f'{type(self).__name__} has no entry {key!r} (made for input shape '
                                 f'{self.input_shape}); {_REMEDY}') from None
        return total

    def matches(self, supernet: nn.Module, input_shape: Sequence[int]) -> bool:
        """Whether the table was made for ``input_shape`` and ``supernet``: an entry for every candidate and, for
        tables that record it (``measure_latency_table`` does), the same :func:`supernet_fingerprint` (a table of a
        supernet with another last-stage width or ``out_channels`` has every key and was accepted). The candidates
        may be listed in another order than the table's supernet listed them (its entries are read by name)."""
        if [int(v) for v in input_shape] != self.input_shape:
            return False
        if not all(cost_key(*k) in self.entries for k in _all_keys(supernet, input_shape)):
            return False
        recorded = self.meta.get('supernet')
        return recorded is None or recorded in (supernet_fingerprint(supernet, input_shape),
                                                supernet_fingerprint(supernet, input_shape, in_order=True))

    def digest(self) -> str:
        """A digest of the costs the table gives: its entries, fixed cost and input shape (not its other fields,
        e.g. when or with which torch it was measured). Two tables of one digest admit the same paths under any
        limit; a table measured again, or on another device, has another."""
        import hashlib

        costs = {'entries': self.entries, 'fixed': self.fixed, 'input_shape': self.input_shape}
        return hashlib.sha1(json.dumps(costs, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {**self.meta, 'input_shape': self.input_shape, 'entries': self.entries, self.fixed_key: self.fixed}

    def save(self, path: str) -> None:
        """Write the table as JSON atomically (a temporary file in the same folder, then a rename)."""
        dump_json_atomic(self.to_dict(), path, indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict, source: str = '<dict>') -> CostTable:
        if not isinstance(data, dict):
            raise ValueError(f'{source}: {a_class(cls)} must be a JSON object, got {type(data).__name__}')
        for key in ('entries', 'input_shape', cls.fixed_key):
            if key not in data:
                raise ValueError(f'{source}: missing key {key!r} of {a_class(cls)}; {_REMEDY}')
        entries, shape = data['entries'], data['input_shape']
        if not isinstance(entries, dict) or not entries:
            raise ValueError(f'{source}: "entries" must be a non-empty object of cost numbers; {_REMEDY}')
        bad = [k for k, v in entries.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            raise ValueError(f'{source}: entries {bad[:3]} are not numbers')
        if not isinstance(data[cls.fixed_key], (int, float)) or isinstance(data[cls.fixed_key], bool):
            raise ValueError(f'{source}: {cls.fixed_key!r} must be a number, got {data[cls.fixed_key]!r}')
        if not isinstance(shape, list) or len(shape) != 4 or not all(isinstance(v, int) for v in shape):
            raise ValueError(f'{source}: "input_shape" must be [N, C, H, W], got {shape!r}')
        meta = {k: v for k, v in data.items() if k not in ('entries', 'input_shape', cls.fixed_key)}
        return cls(entries, data[cls.fixed_key], shape, meta)

    @classmethod
    def from_file(cls, path: str) -> CostTable:
        """Load a table saved by ``save``.

        Raises:
            ValueError: Naming the file when it is missing, is not JSON, or lacks a required key.
        """
        if not osp.isfile(path):
            raise ValueError(f'{cls.__name__} file not found: {path}; {_REMEDY}')
        try:
            with open(path) as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f'{path} is not a valid JSON {cls.__name__} ({e}); {_REMEDY}') from None
        return cls.from_dict(data, source=path)


class LatencyTable(CostTable):
    """Latencies in ms measured on one device (see ``measure_latency_table``).

    Examples:
        >>> from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
        >>> net = MBConvSupernet(space='digits')
        >>> table = LatencyTable.measure(net, (1, 3, 16, 16), repeats=3, warmup=1)
        >>> table.matches(net, (1, 3, 16, 16))
        True
        >>> table.latency(net, [2, 2, 0, 2]) >= table.fixed
        True
    """

    fixed_key = 'fixed_ms'

    @classmethod
    def measure(cls, supernet: nn.Module, input_shape: Sequence[int], device: str | torch.device = 'cpu',
                repeats: int = 50, warmup: int = 10, head: nn.Module | None = None,
                channels_last: bool = False, num_threads: int = DEFAULT_LATENCY_THREADS) -> LatencyTable:
        """Measure a new table (``measure_latency_table``, ``head`` included in the fixed part) and wrap it."""
        return cls.from_dict(measure_latency_table(supernet, input_shape, device, repeats, warmup, head=head,
                                                   channels_last=channels_last, num_threads=num_threads))

    def timed_threads(self) -> int | None:
        """The torch thread count the table was timed with: its ``num_threads``, or for a table measured before it
        was recorded (the forty-fifth session) the count its CPU ``device`` name states (``'... 16 torch
        threads)'``, :func:`device_name`); ``None`` where neither says (an older CUDA table)."""
        recorded = self.meta.get('num_threads')
        if isinstance(recorded, int) and not isinstance(recorded, bool):
            return recorded
        found = re.search(r'\(\d+ cores, (\d+) torch threads\)', str(self.meta.get('device', '')))
        return int(found.group(1)) if found else None

    def check_threads(self, num_threads: int, source: str, key: str = 'train_cfg.latency_num_threads') -> None:
        """Refuse a table timed with another torch thread count than ``num_threads`` (the search's ``key``): the
        same operators run at other per-op latencies with 16 threads than with 1 (and not by one factor: small ops
        gain little from threads, large convolutions much), so a latency limit admitted other paths depending on
        the machine the table was measured on. Until the forty-fifth session the count was neither fixed nor checked.
        A CUDA table measured before the count was recorded is accepted: its latencies are the GPU kernels' (the
        timing synchronises the device), which the CPU's intra-op thread count does not run, so re-measuring it
        (on a GPU machine) would give the same table.

        Raises:
            ValueError: Naming ``source`` (the table's file or key), ``key``, both counts and the remedy.
        """
        timed = self.timed_threads()
        if timed == num_threads:
            return
        if timed is None and str(self.meta.get('device', '')).startswith('cuda'):
            return  # an older GPU table: the thread count is not what its latencies depend on
        if timed is None:
            timed_text, other = 'a torch thread count it does not record', ''
        else:
            timed_text, other = f'{timed} torch thread(s)', f', or set {key}={timed}'
        raise ValueError(f'{source}: the latency table was timed with {timed_text} but {key}={num_threads}, so its '
                         f'per-op latencies are not those of {num_threads} thread(s); re-run tools/measure_latency.py '
                         f'CONFIG --out PATH --num-threads {num_threads}{other}')

    def check_layout(self, channels_last: bool, source: str) -> None:
        """Refuse a table timed in another memory layout than the model runs its backbone in
        (:func:`model_channels_last`): NHWC and NCHW run other kernels, at other speeds. A table that records no
        layout (measured before the forty-fourth session) was timed in NCHW.

        Raises:
            ValueError: Naming ``source`` (the table's file or key), both layouts and the remedy.
        """
        timed = bool(self.meta.get('channels_last', False))
        if timed != bool(channels_last):
            def name(nhwc: bool) -> str:
                return 'channels_last (NHWC)' if nhwc else 'the default NCHW layout'

            raise ValueError(f'{source}: the latency table was timed in {name(timed)} but the model runs its '
                             f'backbone in {name(bool(channels_last))} (model.channels_last), so its latencies are '
                             f'another layout\'s; {_REMEDY}')

    def check_head(self, head: nn.Module | None, source: str) -> None:
        """Refuse a table that did not time ``head``, the part the model runs after the supernet
        (:func:`model_head`): its latencies are the backbone's only (tables measured before the forty-third
        session never timed the classifier, so ``latency_limit`` admitted networks slower than the limit by the
        head's time), or another head's.

        Raises:
            ValueError: Naming ``source`` (the table's file or key) and the remedy.
        """
        if 'head' not in self.meta and head is None:
            return  # an older table of a network without a head: nothing is missing
        wanted = head_fingerprint(head)
        if 'head' not in self.meta:
            timed = 'no head (it records none: measured before the classifier was timed)'
        elif self.meta['head'] == wanted:
            return
        else:
            timed = f'a head {self.meta["head"]}' if self.meta['head'] is not None else 'no head'
        runs = f'its head {wanted}' if head is not None else 'no head'
        raise ValueError(f'{source}: the latency table timed {timed} but the model runs {runs} after the '
                         f'supernet, so its latencies are not the network\'s; {_REMEDY}')

    def latency(self, supernet: nn.Module, path: Sequence[int]) -> float:
        """Latency of ``path`` in ms; the same as ``cost``."""
        return self.cost(supernet, path)


class FlopsTable(CostTable):
    """FLOPs per image (one multiply-add = one FLOP, mmengine's ``FlopAnalyzer`` convention) of every candidate op.

    Examples:
        >>> from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
        >>> net = MBConvSupernet(space='digits')
        >>> table = FlopsTable.from_supernet(net, (1, 3, 16, 16))
        >>> table.flops(net, [2, 2, 0, 2]) < table.flops(net, [1, 1, 1, 1])
        True
    """

    fixed_key = 'fixed_flops'

    @classmethod
    def from_supernet(cls, supernet: nn.Module, input_shape: Sequence[int]) -> FlopsTable:
        """Count the FLOPs of every candidate op at its input shape, and of the fixed parts.

        Norms are counted in eval mode, as in deployment: a per-channel scale and shift, one multiply-add per
        element, which mmengine's counter books as 2 (a convolution's multiply-add counts 1).

        FLOPs are per image, as ``flops_limit`` and the papers' figures are: the batch size of ``input_shape``
        (``(N, C, H, W)``, e.g. the latency table's shape) is replaced by 1 (counted at N, every entry was N times
        the per-image figure and a per-image limit N times as strict).
        """
        input_shape = (1,) + tuple(int(v) for v in input_shape)[1:]
        net = copy.deepcopy(supernet).eval()
        entries = {cost_key(i, op, shape): float(count_flops(net.get_op(i, op), shape))
                   for i, op, shape in _all_keys(net, input_shape)}
        fixed = sum(count_flops(getattr(net, name), shape)
                    for name, shape in net.fixed_input_shapes(input_shape).items())
        return cls(entries, fixed, input_shape, meta={'counter': FLOPS_COUNTER})

    def flops(self, supernet: nn.Module, path: Sequence[int]) -> float:
        """FLOPs of ``path``; the same as ``cost``."""
        return self.cost(supernet, path)


def device_name(device: str | torch.device) -> str:
    """A readable name of the device the latencies are measured on."""
    device = torch.device(device)
    if device.type == 'cuda':
        return f'cuda: {torch.cuda.get_device_name(device)}'
    cpu = platform.processor() or platform.machine()
    return f'{device.type}: {cpu} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)'


def _time_module(module: nn.Module, x, repeats: int, warmup: int, device: torch.device | None = None) -> float:
    """Median forward time of ``module(x)`` in ms (``x`` a tensor, or e.g. a tuple of feature maps on ``device``)."""
    device = x.device if device is None else torch.device(device)
    # synchronize() without a device waits for the current one: on cuda:1 the loop timed kernel launches only
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
    for _ in range(warmup):
        module(x)
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        module(x)
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure_latency_table(supernet: nn.Module, input_shape: Sequence[int], device: str | torch.device = 'cpu',
                          repeats: int = 50, warmup: int = 10, head: nn.Module | None = None,
                          channels_last: bool = False, num_threads: int = DEFAULT_LATENCY_THREADS) -> dict:
    """Measure the forward latency of every candidate op of ``supernet`` and of its fixed parts.

    Each module runs alone on a zero tensor of its input shape, in eval mode under ``torch.no_grad``, ``warmup``
    times untimed and then ``repeats`` times timed (synchronising CUDA); an entry is the median in ms. ``'skip'``
    computes nothing and is recorded as 0. The supernet itself is not changed (a copy is moved to ``device``).
    ``head`` (the model's part after the supernet, :func:`model_head`: an ``ImageClassifier``'s pooling and linear
    classifier) runs on the supernet's outputs (their shapes do not depend on the path) and its time is part of
    ``fixed_ms``: the network's result comes from it. Until the forty-third session it was not timed, and a path's
    latency was the backbone's alone.

    The inputs are laid out as the network runs them: ``channels_last=True`` (a model that hands its backbone NHWC
    inputs, ``ImageClassifier(channels_last=True)``, :func:`model_channels_last`) times every module on
    ``torch.channels_last`` tensors, which the convolutions pass on to the next layer. Until the forty-fourth
    session every table was timed in NCHW, the other kernels (on CPU oneDNN's NHWC ones ran the project's CNN about
    1.5-2x faster, README), and such a model's latencies were another layout's.

    The timing runs with ``torch.set_num_threads(num_threads)`` (the process's count is put back after) and records
    it: a convolution's latency depends on the intra-op thread count, so until the forty-fifth session a table
    measured in a 16-thread process and one in a 1-thread process gave other per-op latencies, and a latency limit
    other paths, without a record of which (PC-NAS refuses a table of another count than
    ``train_cfg.latency_num_threads``, :meth:`LatencyTable.check_threads`).

    Args:
        supernet: E.g. an ``MBConvSupernet``.
        input_shape: ``(N, C, H, W)`` of the network input.
        device: Where to measure, e.g. ``'cpu'`` or ``'cuda:0'``.
        repeats: Timed runs per entry.
        warmup: Untimed runs per entry first.
        head: The model's part after the supernet, taking its outputs; ``None`` for a supernet that is the whole
            network.
        channels_last: Time on ``torch.channels_last`` (NHWC) inputs, as a model with ``channels_last=True`` runs.
        num_threads: Torch intra-op threads to time with (>= 1; default :data:`DEFAULT_LATENCY_THREADS`, 1).

    Returns:
        A JSON-serialisable dict with ``device``, ``input_shape``, ``torch``, ``repeats``, ``warmup``,
        ``channels_last``, ``num_threads``,
        ``entries`` (``'<layer>:<op>:<CxHxW>'`` -> ms), ``fixed_ms`` (stem, final convolution and head),
        ``head_ms`` (the head's share of it) and ``head`` (:func:`head_fingerprint`, ``None`` for none);
        ``LatencyTable.from_dict`` reads it.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f'repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}')
    input_shape = tuple(int(v) for v in input_shape)
    device = torch.device(device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device={str(device)!r} but CUDA is not available here')
    if not isinstance(channels_last, bool):
        raise TypeError(f'channels_last must be True or False, got {channels_last!r}')
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f'num_threads must be an int >= 1 (torch threads to time with), got {num_threads!r}')
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        data = _measure(supernet, input_shape, device, repeats, warmup, head, channels_last)
    finally:
        torch.set_num_threads(before)
    return {**data, 'num_threads': num_threads}


def _measure(supernet: nn.Module, input_shape: tuple[int, ...], device: torch.device, repeats: int, warmup: int,
             head: nn.Module | None, channels_last: bool) -> dict:
    """:func:`measure_latency_table` with its arguments checked, under the thread count it set."""
    net = copy.deepcopy(supernet).to(device).eval()
    keys = _all_keys(net, input_shape)  # also validates input_shape against the supernet
    layout = torch.channels_last if channels_last else torch.contiguous_format

    def zeros(shape):
        return torch.zeros(shape, device=device).contiguous(memory_format=layout)

    entries = {}
    with torch.no_grad():
        for i, op, shape in keys:
            module = net.get_op(i, op)
            entries[cost_key(i, op, shape)] = (0.0 if op == 'skip' else
                                               _time_module(module, zeros(shape), repeats, warmup))
        fixed = sum(_time_module(getattr(net, name), zeros(shape), repeats, warmup)
                    for name, shape in net.fixed_input_shapes(input_shape).items())
        head_ms = 0.0
        if head is not None:
            feats = net(zeros(input_shape))
            head_ms = _time_module(copy.deepcopy(head).to(device).eval(), feats, repeats, warmup, device)
    return {'device': device_name(device), 'input_shape': list(input_shape), 'torch': torch.__version__,
            'repeats': repeats, 'warmup': warmup, 'channels_last': channels_last, 'entries': entries,
            'fixed_ms': fixed + head_ms, 'head_ms': head_ms, 'head': head_fingerprint(head),
            'supernet': supernet_fingerprint(supernet, input_shape)}
