"""The benchmarks' command lines: ``--work-dir`` reaches the shared runner; a value listed twice, an unknown arm
or policy, an option of an arm or a mode that does not run, and arguments a script would not read are refused
(argparse's exit 2) before anything runs; the documented modes still run."""
from __future__ import annotations

import argparse
import importlib
import sys

import pytest

BENCHMARKS = {'am_lfs_digits': 'ce', 'am_lfs_fmnist': 'ce', 'autoaug_det': 'flip', 'autoaug_digits': 'none',
              'autoaug_fmnist': 'ohl', 'det_regime': 'flip'}  # each with one of its arms


@pytest.mark.parametrize('name, arm', BENCHMARKS.items())
def test_every_benchmark_passes_work_dir_to_the_runner(arms, monkeypatch, tmp_path, name, arm):
    module = importlib.import_module(name)
    seen = {}

    def fake_run_arms(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(module, 'run_arms', fake_run_arms)
    monkeypatch.setattr(module, 'ensure_fmnist_det', lambda root: None, raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', '--seeds', '0', '--arms', arm, '--work-dir', str(tmp_path)])
    with pytest.raises(SystemExit):
        module.main()
    assert seen.get('work_dir') == str(tmp_path)


@pytest.mark.parametrize('name, option', [(n, o) for n in BENCHMARKS for o in ('--seeds', '--arms')]
                         + [('cr_nas_fmnist_det', '--seeds'), ('cr_nas_fmnist_det', '--search-seeds'),
                            ('ohl_vs_pbt', '--seeds'), ('ohl_vs_pbt', '--arms'),
                            ('pc_nas_ranking_fmnist', '--seeds'), ('pc_nas_ranking_fmnist', '--methods'),
                            ('nas_ground_truth_fmnist', '--seeds'), ('pc_nas_kendall_digits', '--seeds')])
def test_a_seed_or_arm_given_twice_is_refused_before_any_run(arms, monkeypatch, capsys, name, option):
    """``--seeds 0 0`` trained the same run twice into one folder and counted it as two seeds in the mean ± std."""
    module = importlib.import_module(name)
    value = {'--arms': BENCHMARKS.get(name, 'ohl'), '--methods': 'pcnas'}.get(option, '0')
    for attr in ('run_arms', 'ensure_fmnist_det', 'train_method', 'run'):  # nothing may start
        monkeypatch.setattr(module, attr, lambda *a, **k: pytest.fail('a run started'), raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', option, value, value])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 2
    assert f'{option} lists {value} more than once' in capsys.readouterr().err


@pytest.mark.parametrize('name, argv, says', [
    ('autoaug_power', ['--deltas', '1', '2', '1.0'], '--deltas lists 1.0 more than once'),
    ('autoaug_power', ['--policy-sizes', '0', '5', '5'], '--policy-sizes lists 5 more than once'),
    ('autoaug_power', ['--seeds', '0'], '--seeds must be >= 1 (the number of seeds), got 0'),
    ('autoaug_power', ['--policy-sizes', '-1'], '--policy-sizes must be 0 (a draw per image) or K >= 1 pairs'),
    ('reinforce_noise_drift', ['--gains', '0', '3', '3.0'], '--gains lists 3.0 more than once'),
    ('reinforce_noise_drift', ['--seeds', '0'], '--seeds must be >= 1 (the number of seeds), got 0'),
    ('ohl_report_cost', ['--trunks', '100', '100'], '--trunks lists 100 more than once'),
    ('channels_last_speed', ['--eval-batch', '8', '8'], '--eval-batch lists 8 more than once'),
    ('channels_last_speed', ['--eval-batch', '8', '64'], "--eval-batch 64 is the config's reward_dataloader"),
])
def test_a_setting_listed_twice_or_no_seed_is_refused_before_anything_runs(arms, monkeypatch, capsys, name, argv,
                                                                         says):
    """``--deltas 1 2 1.0`` (``--gains``, ``--policy-sizes``, ``--trunks``, ``--eval-batch``) ran and printed the same
    setting twice, as two rows that looked like two settings; ``--seeds 0`` printed the mean of no run (or failed
    inside the statistics after the header)."""
    module = importlib.import_module(name)
    for attr in ('simulate', 'run', 'OHLReport', 'MODELS', '_interleaved'):  # nothing may start
        monkeypatch.setattr(module, attr, lambda *a, **k: pytest.fail('something ran'), raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 2
    assert says in capsys.readouterr().err


#: Each benchmark's entry points that start work (training, a search, data generation): stubbed to fail the test.
_WORK = ('run_arms', 'ensure_fmnist_det', 'run_ohl', 'run_other', 'run_worker', 'train_method', 'simulate', 'run',
         'load_split')


@pytest.mark.parametrize('name, argv, words', [
    ('autoaug_digits', ['--arms', 'none', 'unifrom'], ["invalid choice: 'unifrom'", 'none', 'uniform', 'ohl']),
    ('am_lfs_digits', ['--arms', 'ce', 'amlfs'], ["invalid choice: 'amlfs'", 'ce', 'am-lfs']),
    ('am_lfs_fmnist', ['--arms', 'ce', 'poly1x'], ["unknown arm 'poly1x': choose from ce, ls, gce, sce, poly1, "
                                                   'poly1:<epsilon>, am-lfs']),
    ('am_lfs_fmnist', ['--arms', 'ce', 'cross-entropy'], ["unknown arm 'cross-entropy'"]),
    ('am_lfs_fmnist', ['--arms', 'ce', 'poly1:-2'], ["arm 'poly1:-2': the Poly-1 epsilon", 'finite number >= -1']),
    ('am_lfs_fmnist', ['--arms', 'ce', 'poly1:abc'], ["arm 'poly1:abc'", "got 'abc'"]),
    ('autoaug_fmnist', ['--arms', 'none', 'randaug'], ["invalid choice: 'randaug'", 'randaugment']),
    ('autoaug_det', ['--arms', 'flip', 'autoaug'], ["invalid choice: 'autoaug'", 'autoaugment']),
    ('det_regime', ['--arms', 'none', 'ohl'], ["invalid choice: 'ohl'", 'uniform']),
    ('ohl_vs_pbt', ['--arms', 'ohl', 'pbt2'], ["invalid choice: 'pbt2'", 'pb2']),
    ('pc_nas_ranking_fmnist', ['--methods', 'spos', 'pc-nas'], ["invalid choice: 'pc-nas'", 'pcnas']),
    ('autoaug_power', ['--policy-sizes', '0', '5', '-1'], ['--policy-sizes must be 0 (a draw per image) or K >= 1',
                                                           'got -1']),
    ('autoaug_power', ['--harmful', '0'], ['--harmful must be a number of harmful elements in [1, 35]']),
    ('autoaug_power', ['--harmful', '40'], ['--harmful must be', 'got 40']),
])
def test_an_unknown_arm_or_policy_is_refused_before_any_training(arms, monkeypatch, capsys, name, argv, words):
    """``autoaug_digits.py --arms none unifrom`` trained the none arm of every seed's first turn for minutes
    before 'unifrom' failed at its turn (am_lfs_digits alike); ``am_lfs_fmnist.py --arms poly1x`` trained Poly-1
    under that name, ``poly1:-2`` failed only when its run started; ``autoaug_power.py --policy-sizes 0 5 -1``
    failed after the other sizes' searches, and ``--harmful 0`` divided by zero after the first. The benchmarks
    that already refused such names (argparse choices) are checked alike."""
    module = importlib.import_module(name)
    if hasattr(module, 'ARGS'):  # parse_args(namespace=ARGS) keeps the values of an earlier parse
        monkeypatch.setattr(module, 'ARGS', argparse.Namespace())
    err = _refused(module, argv, monkeypatch, capsys, _WORK)
    for word in words:
        assert word in err, (word, err)


def test_fmnist_regime_refuses_an_arm_it_does_not_have(arms, monkeypatch):
    """Any arm but 'cropflip' trained the 'none' arm under the name typed ('crop-flip', 'flip')."""
    module = importlib.import_module('fmnist_regime')
    monkeypatch.setattr(module, 'load_split', lambda *a: pytest.fail('data was read'))
    monkeypatch.setattr(sys, 'argv', ['fmnist_regime.py', '50', '1', 'crop-flip', '0'])
    with pytest.raises(SystemExit, match="must be one of none, cropflip, got 'crop-flip'"):
        module.main()


@pytest.mark.parametrize('argv, match', [
    (['50', '1', 'none', '0', '32,64,128', '4'], 'PAD .* applies to the cropflip arm only'),
    (['50', '1', 'cropflip', '0', '32,64,128', '2', '7'], 'takes at most 6 arguments'),
])
def test_fmnist_regime_refuses_arguments_it_would_not_read(arms, monkeypatch, argv, match):
    """PAD with the 'none' arm (no crop to pad) printed pad=4 beside a run that never padded; a seventh argument
    was dropped."""
    module = importlib.import_module('fmnist_regime')
    monkeypatch.setattr(module, 'load_split', lambda *a: pytest.fail('data was read'))
    monkeypatch.setattr(sys, 'argv', ['fmnist_regime.py', *argv])
    with pytest.raises(SystemExit, match=match):
        module.main()


@pytest.mark.parametrize('name, argv, flag', [
    ('autoaug_fmnist', ['--arms', 'none', 'cropflip', '--lr', '0.1'], '--lr 0.1 applies to the ohl arm only'),
    ('autoaug_fmnist', ['--arms', 'ohl', '--ra-magnitude', '14'], '--ra-magnitude 14 applies to the randaugment'),
    ('autoaug_fmnist', ['--arms', 'randaugment', '--elements', 'randaugment'], '--elements randaugment applies to '
                                                                                'the uniform / ohl arms only'),
    ('autoaug_fmnist', ['--arms', 'uniform', '--policies', 'kept'], '--policies kept applies to the learned arm'),
    ('autoaug_det', ['--arms', 'uniform', '--lr', '0.1'], '--lr 0.1 applies to the ohl arm only'),
    ('det_regime', ['--arms', 'none', 'flip', '--elements', 'randaugment'], '--elements randaugment applies to the '
                                                                           'uniform arm only'),
    ('am_lfs_digits', ['--arms', 'ce', '--std', '0.5'], '--std 0.5 applies to the am-lfs arm only'),
    ('am_lfs_fmnist', ['--arms', 'ce', 'ls', '--controller-lr', '0.1'], '--controller-lr 0.1 applies to the am-lfs'),
    ('ohl_vs_pbt', ['--arms', 'ohl', '--broadcast-interval', '2'], '--broadcast-interval 2 applies to the ohl_k arm'),
    ('ohl_vs_pbt', ['--arms', 'ohl', '--grid-subset', '2'], '--grid-subset 2 applies to the grid arm only'),
])
def test_an_option_of_arms_that_do_not_run_is_refused_before_any_run(arms, monkeypatch, capsys, name, argv, flag):
    """An arm's option given without that arm changed nothing: ``--arms none cropflip --lr 0.1`` trained both arms
    as without it, silently."""
    err = _refused(importlib.import_module(name), argv, monkeypatch, capsys,
                   ('run_arms', 'ensure_fmnist_det', 'run_ohl', 'run_worker', 'fixed_loss'))
    assert flag in err and 'would change nothing' in err


def _refused(module, argv: list, monkeypatch, capsys, entry_points: tuple) -> str:
    """Run ``module.main()`` with ``argv`` and the ``entry_points`` that would start work stubbed to fail the test;
    assert argparse's exit code 2 and return stderr."""
    for attr in entry_points:  # nothing may start
        monkeypatch.setattr(module, attr, lambda *a, **k: pytest.fail('something ran'), raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{module.__name__}.py', *argv])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize('name, argv, flags', [
    ('am_lfs_fmnist', ['--plot', 'a.json', '--seeds', '3', '--arms', 'ce', '--epochs', '5'],
     '--seeds, --epochs, --arms are not read with --plot'),
    ('am_lfs_fmnist', ['--plot', 'a.json', '--out', 'b.json', '--work-dir', 'runs'],
     '--out, --work-dir are not read with --plot'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--plot-out', 'loss.png'], '--plot-out is not read without --plot'),
    ('reward_horizon', ['--summarise', 'seed0.log', '--seed', '1', '--epochs', '50', '--every', '0'],
     '--seed, --epochs, --every are not read with --summarise'),
    ('reward_horizon', ['--every', '0', '--epochs', '50', '--horizons', '1', '--reps', '3'],
     '--horizons, --reps are not read with --every 0'),
])
def test_an_option_the_chosen_mode_does_not_read_is_refused_before_anything_runs(arms, monkeypatch, capsys, name,
                                                                                   argv, flags):
    """``--plot`` / ``--summarise`` only read their files: training options given with them changed nothing (and
    ``--plot-out`` without ``--plot`` drew nothing), silently."""
    module = importlib.import_module(name)
    if hasattr(module, 'ARGS'):  # parse_args(namespace=ARGS) keeps the values of an earlier parse
        monkeypatch.setattr(module, 'ARGS', argparse.Namespace())
    err = _refused(module, argv, monkeypatch, capsys,
                   ('run_arms', 'plot', 'summarise_logs', 'load_split', 'fixed_loss'))
    assert flags in err and 'would change nothing' in err


@pytest.mark.parametrize('name, argv, called', [
    ('am_lfs_fmnist', ['--plot', 'a.json', 'b.json', '--plot-out', 'loss.png'], 'plot'),
    ('am_lfs_fmnist', ['--noise', 'sym40', '--seeds', '0', '--arms', 'am-lfs', '--out', 'x.json'], 'run_arms'),
    ('reward_horizon', ['--summarise', 'seed0.log', 'seed1.log', '--trajectory', 'ohl36'], 'summarise_logs'),
    ('reward_horizon', ['--every', '0', '--epochs', '50', '--seed', '0'], 'load_split'),
    ('reward_horizon', ['--seed', '1', '--per-class', '200', '--epochs', '120', '--every', '20', '--horizons', '1',
                        '--reps', '2'], 'load_split'),
    ('fmnist_regime', ['50', '200', 'cropflip', '0', '64,128,256'], 'load_split'),
    ('fmnist_regime', ['50', '200', 'none', '0', '64,128,256'], 'load_split'),
    ('fmnist_regime', ['100', '100', 'cropflip', '0', '32,64,128', '4'], 'load_split'),
    ('am_lfs_fmnist', ['--arms', 'ce', 'poly1', 'poly1:-1', 'poly1:2.5', 'am-lfs'], 'run_arms'),
    ('autoaug_digits', ['--arms', 'ohl', 'none'], 'run_arms'),
    ('am_lfs_digits', ['--arms', 'am-lfs'], 'run_arms'),
    ('autoaug_power', ['--policy-sizes', '0', '5', '--harmful', '35'], 'simulate'),
])
def test_the_documented_modes_still_run(arms, monkeypatch, name, argv, called):
    module = importlib.import_module(name)
    if hasattr(module, 'ARGS'):
        monkeypatch.setattr(module, 'ARGS', argparse.Namespace())

    class Reached(Exception):
        pass

    def reached(*a, **k):
        raise Reached

    monkeypatch.setattr(module, called, reached)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', *argv])
    with pytest.raises(Reached):
        module.main()


@pytest.mark.parametrize('argv, says', [
    (['--max-archs', '0'], "--max-archs must be >= 2 (Kendall's tau ranks at least two architectures), got 0"),
    (['--max-archs', '1'], '--max-archs must be >= 2'),
    (['--supernet-iters', '0'], '--supernet-iters must be >= 1, got 0'),
    (['--standalone-iters', '-5'], '--standalone-iters must be >= 1, got -5'),
    (['--bn-batches', '-1'], '--bn-batches must be >= 0, got -1'),
])
def test_pc_nas_kendall_refuses_an_empty_ranking_before_any_training(arms, monkeypatch, capsys, argv, says):
    """``--max-archs 0`` sampled no architecture: the supernets trained for nothing to rank."""
    err = _refused(importlib.import_module('pc_nas_kendall_digits'), argv, monkeypatch, capsys,
                   ('run_seed', 'register_all_modules'))
    assert says in err
