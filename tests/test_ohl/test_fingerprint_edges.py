"""The edges of ``verify_sync``'s weight fingerprint (``automl_mm.ohl.fingerprint``): a device whose int64 sums do
not wrap (the host path, the same numbers), the combination of several devices' sums and finite flags, and ranks whose
rows differ in layout (another automl_mm, another search space; ``automl_mm.ohl.copy_verification``), refused with both
layouts named before the gather (over a real gloo group in test_broadcast.py, whose ranks are started once for the
file)."""
from __future__ import annotations

import pytest
import torch
from test_weight_fingerprint import _Mixed, _reference_sums

import automl_mm.ohl.fingerprint as fp
from automl_mm.ohl import copy_verification, sync
from automl_mm.ohl.fingerprint import fingerprint

SATURATED = [2 ** 63 - 1] * 5  # what a probe gives where int64 sums saturate instead of wrapping


def test_this_builds_int64_sums_wrap_and_take_the_device_path(monkeypatch):
    """The probe's answers on this build are the wrapped ones; it runs once per device type."""
    monkeypatch.setattr(fp, '_WRAPS', {})
    calls = []
    probe = fp._wrap_probe
    monkeypatch.setattr(fp, '_wrap_probe', lambda device: calls.append(device.type) or probe(device))
    assert probe(torch.device('cpu')) == fp._WRAPPED
    fingerprint(_Mixed())
    fingerprint(_Mixed())
    assert calls == ['cpu'] and fp._WRAPS == {'cpu': True}


@pytest.mark.parametrize('columns', [2, 256])
def test_where_int64_sums_do_not_wrap_the_host_path_gives_the_same_numbers(monkeypatch, columns):
    """A build whose int64 sums saturate (probed): no device kernel sums the words (they would be wrong), the
    numpy path gives the wrapping path's fingerprint bit for bit (every dtype, byte tails, negative words whose high
    half is negative), and the plain-Python reference's sums; a warning names the device."""
    monkeypatch.setattr(fp, '_COLUMNS', columns)
    model = _Mixed()
    with torch.no_grad():
        model.linear.weight[0, 0] = -3.5  # a negative float: its word's top bit set
    want = fingerprint(model)
    monkeypatch.setattr(fp, '_WRAPS', {})
    monkeypatch.setattr(fp, '_wrap_probe', lambda device: SATURATED)

    def refuse(*args):
        raise AssertionError('the device path summed on a device whose int64 sums do not wrap')

    monkeypatch.setattr(fp, '_device_sums', refuse)
    warned = []
    monkeypatch.setattr('mmengine.logging.print_log', lambda msg, **kwargs: warned.append(msg))
    assert torch.equal(fingerprint(model), want)
    assert len(warned) == 1 and 'int64 sums on cpu do not wrap' in warned[0], warned
    params = fp._group_sums([('parameter', list(model.named_parameters()))])[0, :3].tolist()
    assert [s % 2 ** 64 for s in params] == list(_reference_sums(model.parameters()))
    with torch.no_grad():
        model.linear.bias[0] = float('nan')  # the finite flag travels through the host path too
    assert fingerprint(model)[:6].isnan().all() and not fingerprint(model)[6:].isnan().any()


#: Every dtype a model can hold, as bit patterns: random bytes viewed as each (negative words, high halves with the
#: top bit set, NaN patterns: the sums read bits, not values).
_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.complex64, torch.complex128,
           torch.float8_e4m3fn, torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool)


@pytest.mark.parametrize('columns', [3, 256])
def test_the_host_path_gives_the_device_paths_sums_bit_for_bit_on_random_words(monkeypatch, columns):
    """``_host_sums`` (numpy ``uint64``) against ``_device_sums`` (torch int64) and plain Python, directly: random bytes
    of every dtype and lengths that leave byte tails, in two groups, starting at offsets past 2**32 and 2**40 words
    (weights whose products wrap). Red with the host's high half unsigned, a tail given a high half or weighted from
    the tensor's offset, or the device's tail high half taken from its sign."""
    monkeypatch.setattr(fp, '_COLUMNS', columns)
    g = torch.Generator().manual_seed(1)
    entries, want = [], [[0, 0, 0], [0, 0, 0]]
    offsets = [2 ** 32 - 5, 2 ** 40 + 11]
    for index, dtype in enumerate(_DTYPES):
        group = index % 2
        size = torch.empty(0, dtype=dtype).element_size()
        count = (1, 7, 3 * 256 + 5)[index % 3]
        raw = torch.randint(0, 256, (count * size,), dtype=torch.uint8, generator=g)
        t = raw.view(dtype) if dtype != torch.bool else raw % 2 == 1
        main, tail = fp._words(t)
        entries.append((group, offsets[group], main, tail))
        words = [(w, w >> 32) for w in main.tolist()] + [(w, 0) for w in tail.tolist()]
        for position, (word, high) in enumerate(words, offsets[group] + 1):
            want[group][0] += word
            want[group][1] += position * word
            want[group][2] += position * high
        offsets[group] += len(words)
    assert any(w < 0 for _, _, main, _ in entries for w in main.tolist())  # words whose top bit is set
    finite = torch.tensor([1, 0])
    host = fp._host_sums(entries, finite, 2)
    assert torch.equal(host, fp._device_sums(entries, finite, 2, torch.device('cpu')))
    assert host.tolist() == [[fp._signed(s) for s in sums] + [flag] for sums, flag in zip(want, (1, 0))]


def test_the_devices_sums_add_modulo_2_to_the_64_and_any_devices_non_finite_flag_holds():
    """A model on two devices: each device's ``(groups, 4)`` sums add modulo 2**64 (2**63 - 1 + 1 wraps to -2**63,
    not an int64 overflow of the host), and a group is finite only where it is on every device, in either order
    (a second device's finite flag overwrote the first's non-finite one with ``=`` in place of ``&``)."""
    first = torch.tensor([[2 ** 63 - 1, 5, -1, 0], [7, 0, 0, 1]])  # parameters non-finite on the first device
    second = torch.tensor([[1, -5, 1, 1], [-7, 3, 2 ** 62, 1]])
    for order in ([first, second], [second, first]):
        got = fp._combine_device_sums(order, 2)
        assert got.tolist() == [[-2 ** 63, 0, 0, 0], [0, 3, 2 ** 62, 1]], order
    assert fp._combine_device_sums([], 2).tolist() == [[0, 0, 0, 1], [0, 0, 0, 1]]  # no tensors: finite


def test_one_devices_non_finite_dtype_is_not_overwritten_by_another_dtypes_flag():
    """Within one device a group's flag is combined over its dtypes: a NaN float32 parameter next to finite float16
    and bfloat16 ones (their flags taken after it) keeps the parameters' numbers NaN."""
    model = torch.nn.Module()
    for name, dtype in (('nan32', torch.float32), ('f16', torch.float16), ('b16', torch.bfloat16)):
        model.register_parameter(name, torch.nn.Parameter(torch.tensor([1.0, float('nan') if name == 'nan32' else 2.0],
                                                                       dtype=dtype)))
    assert fp._group_sums([('parameter', list(model.named_parameters()))])[0, 3] == 0
    assert fingerprint(model)[:6].isnan().all()


def test_differing_row_layouts_are_named_with_both_sizes_and_what_to_do():
    """The comparison of the ranks' headers ``[version, θ size, fingerprint sizes]``: alike, none; an older
    fingerprint on rank 1 (version 1, 4 numbers), both layouts with their ranks and row sizes, and the fix; another
    θ only, the config."""
    assert copy_verification.row_layouts_differ([[2, 3, 12, 12]] * 3) is None
    said = copy_verification.row_layouts_differ([[2, 3, 12, 12], [1, 3, 4, 4], [2, 3, 12, 12]])
    assert said == ('their rows differ in size (ranks [0, 2]: layout version 2, theta 3 numbers, fingerprints 12 + 12 '
                    'numbers (a row of 27); ranks [1]: layout version 1, theta 3 numbers, fingerprints 4 + 4 numbers '
                    '(a row of 11)); the ranks run different automl_mm versions: install the same automl_mm on every '
                    'node, then start again')
    assert 'the ranks search different spaces' in copy_verification.row_layouts_differ([[2, 3, 12, 12], [2, 5, 12, 12]])
    # one version, other fingerprint sizes (a fingerprint changed without its version raised): automl_mm, not the
    # config, is what differs
    assert 'install the same automl_mm' in copy_verification.row_layouts_differ([[2, 3, 12, 12], [2, 3, 12, 16]])


def test_verify_copies_compares_the_layouts_before_it_gathers_the_rows(monkeypatch):
    """In a distributed run ``verify_copies`` gathers the headers first: another rank's layout is refused there,
    and the rows (whose all_gather would abort in gloo) are not gathered."""
    from types import SimpleNamespace

    from automl_mm.ohl.copies import CopyLayout

    model = torch.nn.Linear(2, 2)
    theta = torch.zeros(3, dtype=torch.float64)
    space = SimpleNamespace(distribution=SimpleNamespace(parameters=lambda: [theta]))
    monkeypatch.setattr(copy_verification, 'is_distributed', lambda: True)
    monkeypatch.setattr(copy_verification, 'all_gather', lambda header: [header, torch.tensor([1, 3, 4, 4])])

    def rows(row):
        raise AssertionError('the rows were gathered before their layouts were compared')

    monkeypatch.setattr(copy_verification, 'gather_rows', rows)
    with pytest.raises(RuntimeError, match=r'OHL trunk 5: verify_sync cannot compare .*\(ranks \[0\]: layout version '
                                           r'2, theta 3 numbers, fingerprints 12 \+ 12 numbers \(a row of 27\); ranks '
                                           r'\[1\]: layout version 1'):
        copy_verification.verify_copies([space], model, fingerprint(model), 0, True, CopyLayout(2, 1, 0, 2), trunk=5)


def test_the_wrap_probe_is_kept_per_device_type_not_per_device(monkeypatch):
    """The CUDA branch's logic on the CPU (the probe faked: no GPU here): ``cuda:0`` and ``cuda:1`` share one probe
    (same kernels), which said 'no wrap' and sends them to the host path; the CPU keeps its own answer."""
    monkeypatch.setattr(fp, '_WRAPS', {})
    probed = []
    monkeypatch.setattr(fp, '_wrap_probe', lambda device: probed.append(str(device)) or (
        SATURATED if device.type == 'cuda' else fp._WRAPPED))
    monkeypatch.setattr('mmengine.logging.print_log', lambda *args, **kwargs: None)
    assert not fp.int64_sums_wrap(torch.device('cuda', 0)) and not fp.int64_sums_wrap(torch.device('cuda', 1))
    assert fp.int64_sums_wrap(torch.device('cpu')) and fp.int64_sums_wrap('cpu')
    assert probed == ['cuda:0', 'cpu'] and fp._WRAPS == {'cuda': False, 'cpu': True}


def test_a_tensor_from_the_sources_gpu_lands_on_the_receiving_ranks_own_gpu():
    """broadcast_state's device branch on the CPU: a tensor the source held on ``cuda:3`` is rebuilt on this rank's
    current GPU (``'cuda'``: the source's index may not exist here), a CPU tensor stays on the CPU."""
    assert sync.receiving_device('cuda:3') == 'cuda' and sync.receiving_device('cuda') == 'cuda'
    assert sync.receiving_device('cpu') == 'cpu'
    # any other accelerator (mmengine's Ascend, Cambricon, Moore Threads; torch's Intel XPU): no index either
    assert [sync.receiving_device(d) for d in ('npu:1', 'mlu:2', 'musa:0', 'xpu:1')] == ['npu', 'mlu', 'musa', 'xpu']
