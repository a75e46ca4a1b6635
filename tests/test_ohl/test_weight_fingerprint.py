"""``verify_sync``'s weight fingerprint (``automl_mm.ohl.fingerprint.fingerprint``): exact, whatever the order of the
reduction; any single changed bit or swapped pair of values gives another one; every dtype a model holds."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

import automl_mm.ohl.fingerprint as fp
from automl_mm.ohl.fingerprint import FINGERPRINT_SIZE, fingerprint


class _Mixed(torch.nn.Module):
    """A parameter or buffer of every kind a model holds: float32 / float16 / bfloat16 / float64 / complex, sizes
    that fill no whole int64 word, a transposed (non-contiguous) buffer, an empty parameter, BatchNorm's 0-d int64
    ``num_batches_tracked``, bool and uint8 buffers."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.linear = torch.nn.Linear(3, 2)  # weight 6 floats: 3 words; bias 2 floats: 1 word
        self.fp16 = torch.nn.Parameter(torch.randn(5, generator=g).half())  # 2 words and a 2-byte tail
        self.bf16 = torch.nn.Parameter(torch.randn(3, generator=g).bfloat16())
        self.cplx = torch.nn.Parameter(torch.randn(2, dtype=torch.complex64, generator=g))
        self.empty = torch.nn.Parameter(torch.zeros(0, 3))
        self.bn = torch.nn.BatchNorm1d(1)
        self.bn.running_mean.normal_(generator=g)
        self.bn.num_batches_tracked += 5
        self.register_buffer('float64', torch.randn(2, dtype=torch.float64, generator=g))
        self.register_buffer('transposed', torch.randn(2, 2, generator=g).t())
        self.register_buffer('mask', torch.tensor([True, False, True]))
        self.register_buffer('octets', torch.arange(5, dtype=torch.uint8))


def _tensors(module):
    return [t for t in itertools.chain(module.parameters(), module.buffers()) if t.numel()]


def _as_ints(t: torch.Tensor) -> torch.Tensor:
    """``t``'s bits as integers of its width, a view (writes change ``t``)."""
    v = torch.view_as_real(t.data) if t.is_complex() else t.data
    return v.view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[v.element_size()])


def _differs(a: torch.Tensor, b: torch.Tensor) -> bool:
    return not torch.equal(a, b)  # NaN (a non-finite value) equals nothing, as in verify_copies


def test_torch_integer_sums_wrap_around_2_to_the_64():
    """The premise: int64 additions (flat, row and column reductions, products) wrap modulo 2**64 on every path,
    so a fingerprint's sums are exact whatever their order."""
    big = torch.full((1003, 256), 2 ** 62, dtype=torch.int64)  # 1003 * 256 * 2**62 = 0 modulo 2**64
    assert int(big.sum()) == 0 and int(big.sum(1).sum()) == 0 and int(big.sum(0).sum()) == 0
    assert int(torch.tensor([2 ** 63 - 1, 1]).sum()) == -2 ** 63
    assert int((torch.tensor([2 ** 62]) * 4).sum()) == 0


def test_the_fingerprint_does_not_depend_on_how_the_reduction_groups_the_words(monkeypatch):
    """The words are reduced as a grid of ``_COLUMNS`` columns; any width groups the additions differently (as another
    GPU, CPU or torch build orders them) and must give the same fingerprint. Values 1, 1e16, -1e16 give 0 or 1
    summed in float64 by grouping; the fingerprint is exact."""
    model = _Mixed()
    with torch.no_grad():
        model.linear.weight[:] = torch.tensor([[1.0, 1e16, -1e16], [-1e16, 1.0, 1e16]])
    want = fingerprint(model)
    assert want.shape == (FINGERPRINT_SIZE,) and want.dtype == torch.float64 and not want.isnan().any()
    assert all(x == int(x) and 0 <= x < 2 ** 32 for x in want.tolist())  # 32-bit halves, exact in float64
    for columns in (1, 2, 3, 5, 7):
        monkeypatch.setattr(fp, '_COLUMNS', columns)
        assert torch.equal(fingerprint(model), want), columns


def test_every_single_bit_flip_changes_the_fingerprint(monkeypatch):
    """Any bit of any value (parameters and buffers, every dtype, each word of the grid, its remainder and the tail
    that fills no word) changes its tensor's sums (or finite flag), and one bit of each tensor the model's
    fingerprint; restored, the same again. With 2 columns the tensors' words go through the grid's row and column
    sums, the remainder (an odd number of words) and the tail. Each flip is checked on its tensor alone (the
    group's sums add the tensors' words: test_the_sums_are_those_of_the_words_modulo_2_to_the_64), which keeps the
    ~1,000 flips cheap."""
    monkeypatch.setattr(fp, '_COLUMNS', 2)
    model = _Mixed()
    want = fingerprint(model)
    for t in _tensors(model):
        ints = _as_ints(t)
        width = 1 if t.dtype == torch.bool else ints.element_size() * 8  # a bool holds 0 or 1
        alone = fp._group_sums([('parameter', [('t', t)])])
        for index in itertools.product(*map(range, ints.shape)):
            for bit in range(width):
                mask = torch.tensor(1 << bit if bit < width - 1 else -(1 << bit), dtype=ints.dtype)
                ints[index] ^= mask
                assert not torch.equal(fp._group_sums([('parameter', [('t', t)])]), alone), (t.dtype, index, bit)
                if bit == width - 1 and index == tuple(n - 1 for n in ints.shape):  # the last value's top bit
                    assert _differs(fingerprint(model), want), (t.dtype, index, bit)
                ints[index] ^= mask
    assert torch.equal(fingerprint(model), want)


def _reference_sums(tensors) -> tuple[int, int]:
    """The specification in plain Python: each tensor's bytes in logical order cut into little-endian int64 words
    (the last bytes that fill none as signed integers of their own width), word ``i`` of the group (from 0, across
    tensors) summed plainly and times ``i + 1``, and its high 32 bits (signed; 0 for the tail) times ``i + 1``,
    modulo 2**64."""
    plain = weighted = high = position = 0
    for t in tensors:
        v = torch.view_as_real(t.detach()) if t.is_complex() else t.detach()
        v = v.reshape(-1).contiguous()
        size = v.element_size()
        raw = v.view(torch.uint8).numpy().tobytes()
        whole = len(raw) - len(raw) % 8
        words = [int.from_bytes(raw[k:k + 8], 'little', signed=True) for k in range(0, whole, 8)]
        tail = [int.from_bytes(raw[k:k + size], 'little', signed=True) for k in range(whole, len(raw), size)]
        for word, top in [(w, w >> 32) for w in words] + [(w, 0) for w in tail]:
            position += 1
            plain += word
            weighted += position * word
            high += position * top
    return plain % 2 ** 64, weighted % 2 ** 64, high % 2 ** 64


@pytest.mark.parametrize('columns', [2, 256])
def test_the_sums_are_those_of_the_words_modulo_2_to_the_64(monkeypatch, columns):
    """Against a plain-Python reference, through ``fingerprint``'s 32-bit halves: 0-d float32 / float16 tensors, odd
    float16 and bfloat16 lengths (byte tails), sizes not divisible by the grid's width (several rows and a
    remainder), a transposed tensor, a view starting inside a word of its storage, complex, uint8, an empty tensor,
    BN's 0-d int64 counter; positions run on across tensors."""
    monkeypatch.setattr(fp, '_COLUMNS', columns)
    g = torch.Generator().manual_seed(1)
    flat = torch.randn(12, generator=g)
    tensors = [torch.randn(515, generator=g), torch.randn((), generator=g), torch.randn((), generator=g).half(),
               torch.randn(7, generator=g).half(), torch.randn(9, generator=g).bfloat16(),
               torch.randn(3, 5, generator=g).t(), flat[1:8], torch.randn(3, dtype=torch.complex64, generator=g),
               torch.arange(11, dtype=torch.uint8), torch.zeros(0), torch.tensor(5),
               torch.randn(3, generator=g).double()]
    model = torch.nn.Module()
    for i, t in enumerate(tensors):
        model.register_parameter(f'p{i}', torch.nn.Parameter(t, requires_grad=False))
    assert model.p6.storage_offset() == 1 and model.p6.is_contiguous()  # inside a word: read through a copy
    halves = [float((s >> shift) & 0xFFFFFFFF) for s in _reference_sums(model.parameters()) for shift in (0, 32)]
    assert fingerprint(model).tolist() == halves + [0.0] * 6  # no buffers: six zeros


def test_a_swap_of_two_different_values_changes_the_fingerprint(monkeypatch):
    """Position matters: any two different values of a tensor swapped, two tensors of one shape swapped, and two
    values 65,521 elements apart (the period of the position weights of the 16-bit pieces' fingerprint, which took
    that swap for the same weights) swapped; 0.25 and -0.25 swapped four float32 values apart, which the words'
    weighted sum alone took for the same weights (its high halves' weighted sum tells them apart)."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(4, 3))
    for columns in (2, 256):
        monkeypatch.setattr(fp, '_COLUMNS', columns)
        want = fingerprint(model)
        flat = model[0].weight.data.view(-1)
        for i, j in itertools.combinations(range(flat.numel()), 2):
            flat[[i, j]] = flat[[j, i]]
            assert _differs(fingerprint(model), want), (columns, i, j)
            flat[[i, j]] = flat[[j, i]]
        first = model[0].weight.data.clone()
        model[0].weight.data.copy_(model[1].weight.data)
        model[1].weight.data.copy_(first)
        assert _differs(fingerprint(model), want), columns
    # 0.25 and -0.25 four float32 values apart: words differing only in their top bit, two words apart (the words'
    # weighted sum changes by 2**63 * 2 = 0 modulo 2**64; the 16-bit pieces caught it)
    signs = torch.nn.Linear(8, 1, bias=False)
    with torch.no_grad():
        signs.weight[0] = torch.tensor([0.5, 0.25, 1.0, 2.0, 3.0, -0.25, 4.0, 5.0])
    want = fingerprint(signs)
    with torch.no_grad():
        signs.weight[0, [1, 5]] = signs.weight[0, [5, 1]]
    assert _differs(fingerprint(signs), want)
    far = torch.nn.Linear(65600, 1, bias=False)
    with torch.no_grad():
        far.weight.zero_()
        far.weight[0, 10] = 1.0
    want = fingerprint(far)
    with torch.no_grad():
        far.weight[0, [10, 10 + 65521]] = far.weight[0, [10 + 65521, 10]]
    assert _differs(fingerprint(far), want)


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_makes_its_groups_numbers_nan(value):
    """A non-finite parameter makes the parameters' numbers NaN (never equal: a failure after a broadcast),
    the buffers' stay; a non-finite buffer (float16 here) the buffers'. Also in a complex parameter's imaginary
    part."""
    size = FINGERPRINT_SIZE // 2
    for where in ('bias', 'complex'):
        model = _Mixed()
        with torch.no_grad():
            if where == 'bias':
                model.linear.bias[1] = value
            else:
                model.cplx[1] = complex(1.0, value)
        got = fingerprint(model)
        assert got[:size].isnan().all() and not got[size:].isnan().any(), where
    for dtype in (torch.float16, torch.float8_e5m2, torch.float8_e4m3fn):  # float8: no min/max kernels of its own
        model = _Mixed()
        model.register_buffer('low_precision', torch.tensor([1.0, value]).to(dtype))
        got = fingerprint(model)
        finite = math.isfinite(float(model.low_precision[1]))  # float8_e4m3fn has no inf: ±448 (finite) instead
        assert not got[:size].isnan().any() and got[size:].isnan().all() != finite, dtype
        model.low_precision[1] = 2.0
        assert not fingerprint(model).isnan().any(), dtype


def test_the_memory_format_does_not_change_the_fingerprint():
    """Values are read in their logical order: a channels_last copy of a model (the demo's model is one) and a
    contiguous one holding the same values agree; the same values in another order do not."""
    model = torch.nn.Conv2d(3, 4, 3)
    last = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    last.load_state_dict(model.state_dict())
    assert not last.weight.is_contiguous()
    assert torch.equal(fingerprint(last), fingerprint(model))
    with torch.no_grad():
        last.weight.copy_(last.weight.flip(-1))
    assert _differs(fingerprint(last), fingerprint(model))


def test_a_tensor_whose_bytes_cannot_be_read_is_named():
    """A sparse buffer: a TypeError naming it and the way out, not a bare view error."""
    model = torch.nn.Linear(2, 2)
    model.register_buffer('adjacency', torch.eye(2).to_sparse())
    with pytest.raises(TypeError, match=r"cannot fingerprint buffer 'adjacency' \(torch.sparse_coo.*verify_sync=False"):
        fingerprint(model)


def test_a_swap_is_seen_at_any_distance_but_multiples_of_2_to_the_33_words():
    """The sums' far reach, with the group's words placed far apart by their offsets (no 32 GiB tensor): a swap of
    two different words d apart changes the weighted sums by (difference) * d, whose differences (of the high
    halves, else of the words) are below 2**32: seen unless d is a multiple of 2**33. At 2**32 and 3 * 2**32 words
    the worst pairs (words differing in the top bit only; low halves differing by 2**31 under equal high halves;
    high halves differing by 2**31 and the words by an odd multiple of 2**31) are seen; at 2**33 they are the
    documented blind spot (64 GiB apart in one group), where words differing by 2 are still seen. The host path
    (numpy ``uint64``, a device whose int64 sums do not wrap) gives the same sums at every distance."""
    empty = torch.zeros(0, dtype=torch.int64)
    finite = torch.ones(1, dtype=torch.int64)

    def swapped_alike(a: int, b: int, distance: int) -> bool:
        def sums(first: int, second: int) -> list[int]:
            entries = [(0, 0, torch.tensor([first]), empty), (0, distance, torch.tensor([second]), empty)]
            on_device = fp._device_sums(entries, finite, 1, torch.device('cpu'))
            assert torch.equal(fp._host_sums(entries, finite, 1), on_device), (first, second, distance)
            return on_device.tolist()
        return sums(a, b) == sums(b, a)

    # the top bit (high halves -2**31 and 0); low halves 2**31 apart (high halves both 1); high halves 2**31 - 1
    # and -1 (and low halves 0 and 2**31: the words 2**63 - 2**31 apart)
    worst = [(-2 ** 63, 0), (3 << 31, 1 << 32), ((2 ** 31 - 1) << 32, -2 ** 31)]
    assert [(a >> 32) - (b >> 32) for a, b in worst] == [-2 ** 31, 0, 2 ** 31]
    for distance in (1, 2 ** 32, 3 * 2 ** 32, 2 ** 33 + 1):
        assert not any(swapped_alike(a, b, distance) for a, b in worst), distance
    assert all(swapped_alike(a, b, 2 ** 33) for a, b in worst)  # the blind spot, pinned
    assert not swapped_alike(5, 3, 2 ** 33)
