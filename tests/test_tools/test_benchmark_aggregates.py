"""Aggregates over seeds in ``benchmarks/``: a mean ± std may only be taken over runs of one experiment, each run
counted once, and a run that is missing or unfinished is refused or said, never averaged over silently."""
from __future__ import annotations

import importlib
import json
import os.path as osp
import re

import pytest

from conftest import REPO_ROOT

RESULTS = osp.join(REPO_ROOT, 'benchmarks', 'results')
POLICIES = ('cropflip', 'ra18', 'ohl36')


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('reward_horizon')


def _readings(epochs=(1, 3), horizons=(1,), reps=1, seed=0):
    """One JSON line per branch epoch, as a run prints them (every policy, replicate and horizon)."""
    return ''.join(json.dumps([dict(epoch=e, rep=r, policy=p, horizon=h, reward=80.0 + seed + h + (p == 'cropflip'))
                               for r in range(reps) for p in POLICIES for h in horizons]) + '\n' for e in epochs)


def _settings(seed=0, horizons=(1,), **changed):
    return dict(dict(seed=seed, epochs=4, per_class=3, trajectory='ra18', width=[32, 64, 128], device='cpu',
                     cooldown=0, branches=[1, 3], reps=1), **changed)


def _log(path, seed=0, horizons=(1,), header=True, summary=True, branch_epochs=None, **changed):
    """A log as ``reward_horizon.py`` prints it: the header line (``header``), the branch lines (of
    ``branch_epochs``, default all the run's branches), the finals and the summary line (``summary``)."""
    settings = _settings(seed, **changed)
    text = ''
    if header:
        text += json.dumps(dict(header='benchmarks/reward_horizon.py', **settings, horizons=list(horizons),
                                no_final=False)) + '\n'
    epochs = settings['branches'] if branch_epochs is None else branch_epochs
    text += _readings(epochs, horizons, settings['reps'], seed)
    if summary:
        final = {'ra18': 81.0 + seed, 'cropflip': 80.0, 'ohl36': 79.0}
        text += ''.join(json.dumps(dict(policy=p, final=v, seconds=1.0)) + '\n' for p, v in final.items())
        summary_line = dict(settings, final=final)
        if header:  # (a log written before the header existed has no horizons in its summary either)
            summary_line['horizons'] = list(horizons)
        text += json.dumps(summary_line) + '\n'
    path.write_text(text)
    return str(path)


# -- reward_horizon.py --summarise ------------------------------------------------------------------------------

def test_logs_of_other_horizons_are_refused(bench, tmp_path):
    """Seeds run with ``--horizons 1 4`` and one with ``--horizons 1`` (the same settings otherwise, logs written
    before the header existed) were averaged per horizon, horizon 1 over 3 seeds and horizon 4 over 2, silently."""
    logs = [_log(tmp_path / f'seed{s}.log', seed=s, header=False, horizons=(1, 4) if s < 2 else (1,))
            for s in range(3)]
    with pytest.raises(SystemExit, match=r'different settings.*: horizons \[1, 4\] in .*seed0\.log, '
                                         r'.*\[1\] in .*seed2\.log$'):
        bench.summarise_logs(logs)
    new = [_log(tmp_path / f'new{s}.log', seed=s, horizons=(1, 4) if s < 2 else (1,)) for s in range(3)]
    with pytest.raises(SystemExit, match='different settings'):
        bench.summarise_logs(new)


def test_logs_of_another_device_are_refused(bench, tmp_path):
    """A seed trained on the GPU (its convolutions not deterministic) averaged with seeds trained on the CPU."""
    cpu = _log(tmp_path / 'cpu.log', seed=0)
    gpu = _log(tmp_path / 'gpu.log', seed=1, device='cuda')
    with pytest.raises(SystemExit, match=r'different settings.*: device cpu in .*cpu\.log, cuda in .*gpu\.log$'):
        bench.summarise_logs([cpu, gpu])
    bench.summarise_logs([gpu, _log(tmp_path / 'gpu0.log', seed=2, device='cuda:0')])  # one kind of device


def test_a_killed_run_of_a_seed_already_given_is_refused(bench, tmp_path):
    """A killed run has no summary line, so its seed was unknown and the duplicate-seed check let it through: seed
    0's readings were counted twice. The header line at the start of a run names its seed."""
    done = _log(tmp_path / 'seed0.log', seed=0)
    killed = _log(tmp_path / 'seed0_again.log', seed=0, summary=False, branch_epochs=[1])
    with pytest.raises(SystemExit, match='are both seed 0'):
        bench.summarise_logs([done, killed])


def test_an_unfinished_log_is_refused_naming_what_is_missing(bench, tmp_path, capsys):
    """A killed (or still running) seed's branch readings were averaged with the finished seeds' (its "late" half
    from other epochs than theirs), with a note only."""
    done = [_log(tmp_path / f'seed{s}.log', seed=s) for s in (0, 1)]
    killed = _log(tmp_path / 'seed2.log', seed=2, summary=False, branch_epochs=[1])
    with pytest.raises(SystemExit) as err:
        bench.summarise_logs([*done, killed])
    message = str(err.value)
    assert f'{killed} (seed 2) is unfinished' in message
    assert 'branch epoch 3' in message and 'the summary line' in message
    assert '--' not in message.replace('--summarise', '')  # no option to wave it through
    assert capsys.readouterr().out == ''  # nothing printed before the refusal
    old = _log(tmp_path / 'old.log', seed=3, header=False, summary=False)  # written before the header existed
    with pytest.raises(SystemExit, match=f'{re.escape(old)} .*is unfinished.*the summary line'):
        bench.summarise_logs([*done, old])


def test_a_log_missing_branch_readings_is_refused(bench, tmp_path):
    """A finished log whose branch lines were cut (a partial copy) was summarised over the branches left."""
    done = _log(tmp_path / 'seed0.log', seed=0)
    cut = _log(tmp_path / 'seed1.log', seed=1, branch_epochs=[3])
    with pytest.raises(SystemExit, match=r'seed1\.log.*branch epoch 1'):
        bench.summarise_logs([done, cut])


def test_a_log_holding_two_runs_is_refused(bench, tmp_path):
    """``cat seed0.log seed1.log > both.log``: the two seeds' readings were summarised as one seed's (their
    replicates merged), its settings those of the last summary line."""
    both = tmp_path / 'both.log'
    both.write_text(open(_log(tmp_path / 's0.log', seed=0)).read() + open(_log(tmp_path / 's1.log', seed=1)).read())
    with pytest.raises(SystemExit, match=r'both\.log holds 2 runs \(seeds 0, 1\)'):
        bench.summarise_logs([str(both), _log(tmp_path / 's2.log', seed=2)])


def test_the_run_prints_its_header_before_training(bench, monkeypatch, capsys):
    """The seed and the settings are the first line a run prints, so a killed run's log still names them."""

    class Started(Exception):
        pass

    def load_split(*a):
        raise Started

    monkeypatch.setattr(bench, 'load_split', load_split)
    with pytest.raises(Started):
        bench.main(['--seed', '7', '--epochs', '10', '--every', '4', '--horizons', '2', '1', '--reps', '1'])
    header = json.loads(capsys.readouterr().out.splitlines()[0])
    assert header == dict(header='benchmarks/reward_horizon.py', seed=7, epochs=10, per_class=100,
                          trajectory='ra18', width=[32, 64, 128], device='cpu', cooldown=0, branches=[2, 6],
                          reps=1, horizons=[1, 2], no_final=False)


def _split_results(path):
    """The per-run logs of a committed raw-results file (the runs after ``# seed N`` or after a ``## python
    benchmarks/reward_horizon.py`` command line) and the mean ± std lines the file records."""
    runs, current, printed = [], None, []
    for line in open(path):
        if re.fullmatch(r'# seed \d+\n', line) or (line.startswith('## python') and '--summarise' not in line):
            current = []
            runs.append(current)
        elif line.startswith('#'):
            current = None
        elif current is not None:
            current.append(line)
        elif re.match(r'(\w+ )?horizon_\d|final ', line):
            printed.append(line.rstrip('\n'))
    return [''.join(run) for run in runs], printed


@pytest.mark.parametrize('name', ['reward_horizon_fmnist', 'reward_horizon_fmnist_10k_100e',
                                  'reward_horizon_fmnist_10k_30e', 'reward_horizon_fmnist_2k_120e',
                                  'reward_horizon_fmnist_cooldown3', 'reward_signals_fmnist'])
def test_the_committed_raw_logs_summarise_to_the_recorded_numbers(bench, tmp_path, capsys, name):
    """The README's tables come from these files: their per-seed logs (written before the header line existed)
    are still read, and give the mean ± std lines recorded with them."""
    runs, printed = _split_results(osp.join(RESULTS, f'{name}.txt'))
    assert len(runs) == 3 and printed
    logs = []
    for i, run in enumerate(runs):
        logs.append(str(tmp_path / f'seed{i}.log'))
        open(logs[-1], 'w').write(run)
    bench.summarise_logs(logs)
    table = [line for line in capsys.readouterr().out.splitlines() if not line.startswith('{')]
    if name == 'reward_horizon_fmnist':  # printed before the signals existed: OHL's reward alone, unnamed
        printed = [line if line.startswith('final') else f'reward {line}' for line in printed]
    # The recorded replicate noise is the plain mean of 2 replicates' stds (before 2026-12-05), c4(2) of what is
    # printed now (each std divided by c4(2)): the rest of each line as recorded, the noise within rounding.
    noise = re.compile(r' \| replicate noise (-?[0-9.]+) ± ([0-9.]+)$')

    def split(line):
        found = noise.search(line)
        return (line, None) if found is None else (line[:found.start()], tuple(map(float, found.groups())))

    now = dict(split(line) for line in table)
    for line in printed:
        rest, old = split(line)
        assert rest in now, rest
        if old is not None:
            digits = len(noise.search(line).group(1).split('.')[1])
            tolerance = 10 ** -digits * (0.5 + 0.5 / bench.c4(2))
            assert now[rest] == pytest.approx(tuple(v / bench.c4(2) for v in old), abs=tolerance), rest


def test_the_committed_gpu_logs_summarise_per_setting(bench, tmp_path, capsys):
    """``reward_horizon_fmnist_10k_100e_wide_gpu.txt`` holds three experiments of 3 seeds each: each summarises,
    two of them together are refused."""
    runs, _ = _split_results(osp.join(RESULTS, 'reward_horizon_fmnist_10k_100e_wide_gpu.txt'))
    assert len(runs) == 9
    logs = []
    for i, run in enumerate(runs):
        logs.append(str(tmp_path / f'run{i}.log'))
        open(logs[-1], 'w').write(run)
    for group in (logs[0:3], logs[3:6], logs[6:9]):
        bench.summarise_logs(group)
    with pytest.raises(SystemExit, match='different settings'):
        bench.summarise_logs([logs[0], logs[4]])  # widths 64-256 and 128-512
    with pytest.raises(SystemExit, match='different settings'):
        bench.summarise_logs([logs[3], logs[7]])  # --horizons 1 --reps 2 and --horizons 1 4 --reps 1


# -- pc_nas_kendall_digits.py (benchmarks/_nas_supernets.mean_std) ---------------------------------------------

def test_the_nas_mean_says_when_a_seed_is_left_out(monkeypatch, capsys):
    """A NaN tau (constant estimates) or a PC-NAS pick outside ``--max-archs``' subset (no rank, no test accuracy)
    was left out of 'mean ± std over 3 seed(s)' without a word: a mean over 2 seeds printed as over 3."""
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    nas = importlib.import_module('_nas_supernets')
    assert nas.mean_std([0.5, 0.7]) == '0.600 ± 0.141'
    assert nas.mean_std([0.5, float('nan'), 0.7]) == '0.600 ± 0.141 (n=2 of 3)'
    assert nas.mean_std([None, 4.0, None], digits=1) == '4.0 ± n/a (n=1 of 3)'  # one value: no sample std
    assert nas.mean_std([None, float('nan')]) == 'n/a'
    kendall = importlib.import_module('pc_nas_kendall_digits')

    def seed(s, tau, pick_rank):
        method = dict(tau_all=tau, tau_admitted=tau, pick='a b', pick_rank=pick_rank,
                      pick_test=None if pick_rank is None else 90.0)
        return dict(seed=s, standalone=[dict(reward=r, test=r) for r in (1.0, 2.0, 3.0)], uniform=method,
                    pc_nas=method, best_admitted=dict(arch='a b', test=91.0, max_test=91.0))

    kendall.report([seed(0, 0.5, 1), seed(1, float('nan'), None), seed(2, 0.7, 3)], 3, 3)
    out = capsys.readouterr().out
    assert 'pc_nas   tau all 0.600 ± 0.141 (n=2 of 3)' in out and 'pick rank 2.000 ± 1.414 (n=2 of 3)' in out


# -- cr_nas_fmnist_det.py --reuse ------------------------------------------------------------------------------

@pytest.fixture
def cr_nas(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    module = importlib.import_module('cr_nas_fmnist_det')

    class Started(Exception):
        pass

    def started(*a, **k):
        raise Started

    for name in ('ensure_fmnist_det', '_run'):  # nothing may start before the reused runs are checked
        monkeypatch.setattr(module, name, started)
    module.Started = Started
    return module


def _finished_retraining(module, work_root, name: str, argv: list[str], source=None, backbone=None) -> None:
    """A finished retraining run ``work_root/name`` (its final mAP logged) of the options ``argv``, with the config
    the benchmark dumped for it beside it, as an earlier invocation leaves it."""
    arm, seed = name.split('_s')
    cfg = module.arm_config(module.parse_args(argv), arm, int(seed), source or module.RETRAIN_CONFIG, backbone)
    work_root.mkdir(exist_ok=True)
    module.train_command(cfg, str(work_root), name)  # dumps work_root/name.py
    vis = work_root / name / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    vis.joinpath('scalars.json').write_text(json.dumps({key: 0.5 for key in module.METRICS}) + '\n')


def test_cr_nas_reuse_refuses_runs_of_other_options_before_any_work(cr_nas, tmp_path):
    """``--reuse`` read every finished run in ``--work-dir`` whatever it was trained with: retrainings of another
    ``--train-options`` (or another ``--allocation``) were averaged into this invocation's mean ± std."""
    work = tmp_path / 'work'
    base = ['--allocation', '2', '2', '2', '2', '--seeds', '0', '1', '--work-dir', str(work)]
    _finished_retraining(cr_nas, work, 'standard_s0', [*base, '--train-options', 'train_dataloader.batch_size=2'])
    _finished_retraining(cr_nas, work, 'standard_s1', [*base, '--train-options', 'train_dataloader.batch_size=4'])
    with pytest.raises(SystemExit, match=r'--reuse: .*standard_s0 was trained with other settings than this '
                                         r'invocation gives it: train_dataloader\.batch_size 2 there, 4 here'):
        cr_nas.main([*base, '--reuse', '--train-options', 'train_dataloader.batch_size=4'])
    with pytest.raises(cr_nas.Started):  # standard_s0 moved away: standard_s1 is this invocation's run
        (work / 'standard_s0').rename(tmp_path / 'elsewhere')
        cr_nas.main([*base, '--reuse', '--train-options', 'train_dataloader.batch_size=4'])
    _finished_retraining(cr_nas, work, 'searched_s1', [*base[:1], '1', '3', '1', '3', *base[5:]],
                         backbone=dict(stage_blocks=(1, 3, 1, 3)))
    with pytest.raises(SystemExit, match=r'searched_s1 was trained with other settings.*model\.backbone\.'
                                         r'stage_blocks \(1, 3, 1, 3\) there, \(2, 2, 2, 2\) here'):
        cr_nas.main([*base, '--reuse', '--train-options', 'train_dataloader.batch_size=4'])


def test_cr_nas_reuse_refuses_a_searched_arm_whose_search_is_not_there(cr_nas, tmp_path):
    """A finished searched-arm retraining next to a search that is not finished (deleted or restarted) was
    trained from another search's allocation, and reused beside the new search's report."""
    work = tmp_path / 'work'
    _finished_retraining(cr_nas, work, 'searched_s0', ['--allocation', '1', '3', '1', '3', '--seeds', '0'],
                         backbone=dict(stage_blocks=(1, 3, 1, 3)))
    with pytest.raises(SystemExit, match=r'searched_s0 is finished but search_s0 is not'):
        cr_nas.main(['--seeds', '0', '--reuse', '--work-dir', str(work)])


# -- autoaug_fmnist.py --save-policies / --policies ------------------------------------------------------------

def test_policies_of_other_settings_are_not_kept_in_one_folder(monkeypatch, capsys, tmp_path):
    """``--save-policies DIR`` refused only a seed already kept: seeds 0-1 searched with the 36 elements and seed 2
    with RandAugment's 18 went into one folder, and ``--arms learned --policies DIR`` averaged their retrainings as
    one experiment."""
    import sys

    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    autoaug = importlib.import_module('autoaug_fmnist')
    ran = []
    monkeypatch.setattr(autoaug, 'run_arms', lambda *a, **k: ran.append(a[2]))
    kept = tmp_path / 'k5'

    def run(*argv):
        monkeypatch.setattr(sys, 'argv', ['autoaug_fmnist.py', *argv])
        autoaug.main()

    run('--arms', 'ohl', '--seeds', '0', '1', '--policy-size', '5', '--save-policies', str(kept))
    assert ran == [[0, 1]]
    run('--arms', 'ohl', '--seeds', '2', '--policy-size', '5', '--save-policies', str(kept))  # the same search
    with pytest.raises(SystemExit) as exit_info:
        run('--arms', 'ohl', '--seeds', '3', '--policy-size', '5', '--elements', 'randaugment',
            '--save-policies', str(kept))
    assert exit_info.value.code == 2 and ran == [[0, 1], [2]]
    err = capsys.readouterr().err
    assert f'--save-policies {kept} keeps the policies of a search with other settings' in err
    assert '--elements ohl there, randaugment here' in err
    assert json.loads((kept / 'settings.json').read_text())['policy_size'] == 5  # what the folder records
    older = tmp_path / 'older'  # kept before the folder recorded its settings: which they were is unknown
    older.mkdir()
    (older / 'ohl0.py').write_text('ohl_fixed_autoaug = dict()\n')
    with pytest.raises(SystemExit):
        run('--arms', 'ohl', '--seeds', '1', '--save-policies', str(older))
    assert 'holds policies of a search whose settings it does not record' in capsys.readouterr().err
    assert ran == [[0, 1], [2]]


def test_autoaug_fmnist_default_arms_run_without_policies(monkeypatch, tmp_path):
    """The default ``--arms`` held ``learned``, which needs ``--policies``: a plain ``python
    benchmarks/autoaug_fmnist.py`` (and the README's six-arm commands) exited 2 asking for them."""
    import sys

    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    autoaug = importlib.import_module('autoaug_fmnist')
    ran = []
    monkeypatch.setattr(autoaug, 'run_arms', lambda config, arms, *a, **k: ran.append(list(arms)))
    monkeypatch.setattr(sys, 'argv', ['autoaug_fmnist.py', '--seeds', '0'])
    autoaug.main()
    assert ran == [['none', 'cropflip', 'uniform', 'trivialaugment', 'randaugment', 'ohl']]
    monkeypatch.setattr(autoaug, 'learned_policy', lambda directory, seed: {})  # (a kept policy is not read here)
    monkeypatch.setattr(sys, 'argv', ['autoaug_fmnist.py', '--seeds', '0', '--policies', str(tmp_path)])
    autoaug.main()
    assert ran[-1][-1] == 'learned' and len(ran[-1]) == 7


# -- every mean ± std helper: one value has no sample std ------------------------------------------------------

def test_one_value_has_no_sample_std_in_any_helper(bench, tmp_path, capsys):
    """The helpers print the sample std (n - 1; README, Layout), which one value does not have; they printed
    '± 0.00', the population std of one value, as if a seed's run had been measured to agree with itself (a
    one-seed run's table, a figure with the other seeds left out, a one-seed paired difference). It is 'n/a'."""
    arms = importlib.import_module('_arms')
    nas = importlib.import_module('_nas_supernets')
    ranking = importlib.import_module('pc_nas_ranking_fmnist')
    power = importlib.import_module('autoaug_power')
    assert arms.summary([79.98]) == {'mean': 79.98, 'std': None}
    assert arms.mean_std([79.98]) == '79.98 ± n/a' and arms.mean_std([0.2], '.3f') == '0.200 ± n/a'
    assert arms.mean_std([1.0, 2.0, 3.0]) == '2.00 ± 1.00'  # two or more: the sample std, as before
    assert nas.mean_std([None, 4.0, None], digits=1) == '4.0 ± n/a (n=1 of 3)' and nas.mean_std([0.5]) == '0.500 ± n/a'
    assert ranking._stats([0.4, None])['std'] is None and ranking._stats([0.4, None])['n'] == 1
    rows = power.main(['--seeds', '1', '--trunks', '1', '--images', '4', '--policy-sizes', '0', '--deltas', '1'])
    assert rows[0]['first_std'] is None and rows[0]['second_std'] is None
    assert re.search(r'first op \d\.\d\d ± n/a \| second op \d\.\d\d ± n/a', capsys.readouterr().out)
    logs = [_log(tmp_path / 'seed0.log', seed=0), _log(tmp_path / 'seed1.log', seed=1)]
    text = open(logs[1]).read().replace('"cropflip": 80.0, ', '')  # seed 1's summary without crop + flip's final
    open(logs[1], 'w').write(text)
    bench.summarise_logs(logs)
    assert 'final cropflip: 80.00 ± n/a (n=1 of 2)' in capsys.readouterr().out
