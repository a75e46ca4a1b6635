"""The speed benchmarks time both sides of a ratio alternately (in alternating order), so that the ratio compares
them under the same machine load, and refuse a number of timed repeats that leaves nothing to time, before any
work, with argparse's exit 2."""
from __future__ import annotations

import importlib
import sys

import pytest


def _bench(name):
    return importlib.import_module(name)


def test_checkpoint_load_alternates_its_two_loads(arms, monkeypatch, capsys):
    """Both sides were timed as blocks (5 unrestricted loads, then 5 safe ones): on this shared machine the ratio
    read 1.2-1.8 in three runs, and 2.8 in the README's run 'while another job ran'."""
    bench, calls = _bench('checkpoint_load'), []
    monkeypatch.setattr(bench, '_checkpoint', lambda path: open(path, 'wb').write(b'x'))
    monkeypatch.setattr(bench.torch, 'load', lambda path, weights_only: calls.append('unrestricted'))
    monkeypatch.setattr(bench, 'safe_torch_load', lambda path: calls.append('safe'))
    monkeypatch.setattr(sys, 'argv', ['checkpoint_load.py', '--repeats', '3'])
    bench.main()
    assert calls == ['unrestricted', 'safe', 'safe', 'unrestricted', 'unrestricted', 'safe']
    assert 'ratio safe / unrestricted:' in capsys.readouterr().out


def test_augment_throughput_alternates_its_two_sides(arms, monkeypatch, capsys):
    """Our elements' passes all ran before torchvision's (three each): the same blocks as above."""
    bench, calls = _bench('augment_throughput'), []

    def side(name, rate):
        def timed(images, seed):
            calls.append((name, len(images), seed))
            return rate
        return timed

    monkeypatch.setattr(bench, '_ours', side('ours', 600.0))
    monkeypatch.setattr(bench, '_torchvision', side('torchvision', 200.0))
    monkeypatch.setattr(sys, 'argv', ['augment_throughput.py', '--small', '2', '--large', '1', '--repeats', '2'])
    bench.main()
    timed = [(name, seed) for name, count, seed in calls if count == 2][2:]  # after the two warm-up calls
    assert timed == [('ours', 0), ('torchvision', 0), ('torchvision', 1), ('ours', 1)]
    assert capsys.readouterr().out.splitlines()[1].endswith('3.00')


@pytest.mark.parametrize('name, argv, work', [
    ('checkpoint_load', ['--repeats', '0'], '_checkpoint'),  # was: min() arg is an empty sequence
    ('augment_throughput', ['--repeats', '0'], 'build_elements'),  # was: max() arg is an empty sequence
    ('ohl_report_cost', ['--repeats', '0', '--trunks', '2'], 'OHLReport'),  # was: StatisticsError (median)
    ('channels_last_speed', ['--repeats', '0'], 'MODELS'),  # was: StatisticsError after building both models
    ('cr_backbone_speed', ['--repeats', '0'], 'ResNet'),  # was: StatisticsError after building the networks
    ('cr_backbone_speed', ['--warmup', '-1'], 'ResNet'),
    ('ohl_overhead', ['--repeats', '0'], 'subprocess'),
])
def test_nothing_to_time_is_refused_before_any_work(arms, monkeypatch, capsys, name, argv, work):
    bench = _bench(name)
    monkeypatch.setattr(bench, work, None)  # any use of it fails the test with a TypeError / AttributeError
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    with pytest.raises(SystemExit) as stop:
        bench.main()
    assert stop.value.code == 2
    assert '--repeats must be >= 1' in capsys.readouterr().err


def test_ohl_overhead_pairs_its_arms_in_alternating_order(arms, monkeypatch, capsys, tmp_path):
    """The plain runs always went first and each side ran once: warm caches and a change of load reached one side
    only, and one ratio was printed as the cost. Now the sides alternate (ABBA) and the printed ratio is the mean ±
    std of the pairs' ratios (1.5 and 1.3 -> 1.40 ± 0.14; the ratio of the mean times would read 1.37)."""
    import json
    import os
    import os.path as osp
    from types import SimpleNamespace

    bench, calls, clock = _bench('ohl_overhead'), [], [0.0]
    seconds = {'plain': [10.0, 20.0], 'ohl': [15.0, 26.0]}
    record = dict(seconds=dict(train=10.0, reward=1.0, wait=0.0, gather_update=0.01, broadcast=0.01, verify=0.01))

    def ran(arm):
        clock[0] += seconds[arm][sum(1 for c in calls if c == arm)]
        calls.append(arm)

    class Plain:
        returncode = 0

        def __init__(self, cmd, **kwargs):
            self.cmd = cmd

        def communicate(self):
            if self.cmd[self.cmd.index('--work-dir') + 1].endswith('_0'):  # one side of N processes at once
                ran('plain')
            return '', ''

    def ohl_run(cmd, **kwargs):
        if cmd[1] == '-c':  # the untimed process loading the libraries first
            calls.append('warm-up')
            return SimpleNamespace(returncode=0)
        work = cmd[cmd.index('--work-dir') + 1]
        ran('ohl')
        folder = osp.join(work, 'ohl')
        os.makedirs(folder)
        with open(osp.join(folder, 'history.json'), 'w') as f:
            json.dump([record, record], f)
        return SimpleNamespace(returncode=0, stderr='')

    monkeypatch.setattr(bench, 'subprocess', SimpleNamespace(Popen=Plain, run=ohl_run, DEVNULL=None, PIPE=None))
    monkeypatch.setattr(bench, 'time', SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(bench.tempfile, 'TemporaryDirectory', lambda: _Folder(str(tmp_path)))
    monkeypatch.setattr(sys, 'argv', ['ohl_overhead.py', '--repeats', '2'])
    bench.main()
    assert calls == ['warm-up', 'plain', 'ohl', 'ohl', 'plain']
    out = capsys.readouterr().out
    assert 'mean ± sample std of 2 paired ratio(s): 1.40 ± 0.14' in out
    assert 'reward evaluation / training: 0.100' in out  # the breakdown: both runs' seconds, averaged


class _Folder:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        return False


def test_ohl_overhead_paired_ratios_refuse_unpaired_times(arms):
    bench = _bench('ohl_overhead')
    assert bench.paired_ratios([3.0, 4.0], [2.0, 4.0]) == [1.5, 1.0]
    with pytest.raises(ValueError, match='as many OHL as plain'):
        bench.paired_ratios([3.0, 4.0], [2.0])
    assert [bench.arm_order(p) for p in range(3)] == [('plain', 'ohl'), ('ohl', 'plain'), ('plain', 'ohl')]


def test_copy_local_wrappers_alternates_its_rounds_and_pairs_the_ratio(arms):
    """One timed round ran, the old path always first; now rounds alternate after an untimed one, and the ratio is
    the mean ± std of the rounds' paired ratios (4/2 and 3/3 -> 1.50 ± 0.71, not the medians' 3.5/2.5)."""
    bench, calls = _bench('copy_local_wrappers'), []
    times = {'old': iter([9.0, 4.0, 3.0]), 'new': iter([9.0, 2.0, 3.0])}

    def side(name):
        def run():
            calls.append(name)
            return next(times[name])
        return run

    old, new = bench.alternating_rounds([side('old'), side('new')], 2)
    assert calls == ['old', 'new', 'old', 'new', 'new', 'old'] and (old, new) == ([4.0, 3.0], [2.0, 3.0])
    assert bench.paired_ratio_text(old, new) == '1.50 ± 0.71 (sample std of 2 paired round(s))'
    assert bench.paired_ratio_text([2.0], [1.0]).startswith('2.00 ± n/a')


def test_ohl_report_cost_alternates_its_two_writes(arms, monkeypatch, capsys, tmp_path):
    """write_history was always timed before the whole-history dump, in every repeat."""
    bench, calls = _bench('ohl_report_cost'), []

    class Report:
        def __init__(self, *args):
            pass

        def write_history(self, history):
            calls.append(('ours', len(history)))

    def dump(history, f, indent):
        calls.append(('whole', len(history)))

    monkeypatch.setattr(bench, 'OHLReport', Report)
    monkeypatch.setattr(bench.json, 'dump', dump)
    monkeypatch.setattr(sys, 'argv', ['ohl_report_cost.py', '--trunks', '3', '--repeats', '2', '--logits', '2'])
    bench.main()
    timed = [name for name, n in calls if n == 3]  # the setup writes of the 2 earlier trunks left out
    assert timed == ['ours', 'whole', 'whole', 'ours']


def test_the_benchmarks_share_one_abba_order_and_one_paired_ratio(arms):
    """The ABBA order and the paired ratios were written once per benchmark (six orders, three ratios); one pair of
    helpers serves them all, and an unpaired round is refused by each."""
    pairs = _bench('_pairs')
    assert [pairs.abba_order('ab', i) for i in range(3)] == [['a', 'b'], ['b', 'a'], ['a', 'b']]
    assert pairs.paired_ratios([3.0, 4.0], [2.0, 4.0], 'x') == [1.5, 1.0]
    with pytest.raises(ValueError, match='as many rounds of each side'):
        _bench('copy_local_wrappers').paired_ratio_text([2.0, 1.0], [1.0])
