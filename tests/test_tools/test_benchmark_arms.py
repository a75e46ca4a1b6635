"""benchmarks/_arms.py, the runner every OHL evidence benchmark shares: ``--work-dir`` keeps each run in
``DIR/<arm><seed>/`` and never overwrites one; every benchmark built on it passes the option through; the uniform
pair entropy is ``2 ln |elements|``."""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import os.path as osp
import sys

import pytest

from conftest import REPO_ROOT

BENCHMARKS = {'am_lfs_digits': 'ce', 'am_lfs_fmnist': 'ce', 'autoaug_det': 'flip', 'autoaug_digits': 'none',
              'autoaug_fmnist': 'ohl', 'det_regime': 'flip'}  # each with one of its arms


@pytest.fixture
def arms(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('_arms')


class _FakeTrain:
    """Stands in for ``tools/train.py`` (unit test only): writes one ``scalars.json`` row per run into the work dir
    named on the command line and remembers the work dirs."""

    def __init__(self):
        self.work_dirs = []

    def __call__(self, argv, **kwargs):
        work = argv[argv.index('--work-dir') + 1]
        self.work_dirs.append(work)
        os.makedirs(osp.join(work, 'vis_data'), exist_ok=True)
        with open(osp.join(work, 'vis_data', 'scalars.json'), 'w') as f:
            f.write(json.dumps({'accuracy/top1': 50.0 + len(self.work_dirs)}) + '\n')
        return type('Done', (), {'returncode': 0, 'stderr': ''})()


def _run(arms, monkeypatch, work_dir):
    fake = _FakeTrain()
    monkeypatch.setattr(arms.subprocess, 'run', fake)
    config = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')
    results = arms.run_arms(config, ['flip', 'ohl'], [0, 1], 2, lambda cfg, arm: None, lambda arm, work: '',
                            work_dir=work_dir)
    return fake, results


def test_work_dir_keeps_every_run_under_its_arm_and_seed(arms, monkeypatch, tmp_path):
    fake, results = _run(arms, monkeypatch, str(tmp_path / 'runs'))
    expected = [str(tmp_path / 'runs' / name) for name in ('flip0', 'ohl0', 'flip1', 'ohl1')]
    assert fake.work_dirs == expected
    for work in expected:  # the dumped config and the logs stay after run_arms returns
        assert osp.isfile(work + '.py') and osp.isfile(osp.join(work, 'vis_data', 'scalars.json'))
    assert results == {'flip': [51.0, 53.0], 'ohl': [52.0, 54.0]}


def test_without_work_dir_the_runs_go_to_a_temporary_folder_that_is_deleted(arms, monkeypatch):
    fake, _ = _run(arms, monkeypatch, None)
    assert len(fake.work_dirs) == 4 and not any(osp.exists(work) for work in fake.work_dirs)


def test_an_existing_run_stops_everything_before_training_and_is_kept(arms, monkeypatch, tmp_path):
    kept = tmp_path / 'runs' / 'ohl1'
    kept.mkdir(parents=True)
    (kept / 'history.json').write_text('[1]')
    with pytest.raises(FileExistsError, match=r'--work-dir .*runs already holds ohl1'):
        _run(arms, monkeypatch, str(tmp_path / 'runs'))
    assert os.listdir(tmp_path / 'runs') == ['ohl1'] and (kept / 'history.json').read_text() == '[1]'


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


def test_uniform_pair_entropy_is_twice_the_log_of_the_set_size(arms):
    assert arms.uniform_pair_entropy('ohl') == pytest.approx(2 * math.log(36))  # 7.167, the paper's 36
    assert arms.uniform_pair_entropy('randaugment') == pytest.approx(2 * math.log(18))  # 5.781


def test_a_missing_detection_set_other_than_the_default_is_not_generated_with_default_sizes(arms, monkeypatch):
    """`autoaug_det.py --data-root data/fmnist_det_r200` without the README's generate step used to generate that
    folder with the default 500 reward / 1,000 test images: a table on other splits than its command says."""
    ran = []
    monkeypatch.setattr(arms.subprocess, 'run', lambda *a, **k: ran.append(a))
    with pytest.raises(FileNotFoundError, match='--num-reward 200 --num-test 500'):
        arms.ensure_fmnist_det('data/no_such_det_set_r200')
    assert not ran


# every arm of every OHL benchmark (autoaug_fmnist's 'learned' needs kept policies and is the 'none' engine's)
ALL_ARMS = {'am_lfs_digits': ['ce', 'am-lfs'], 'am_lfs_fmnist': ['ce', 'ls', 'gce', 'sce', 'poly1', 'am-lfs'],
            'autoaug_det': ['none', 'flip', 'uniform', 'autoaugment', 'randaugment', 'ohl'],
            'autoaug_digits': ['none', 'uniform', 'ohl'],
            'autoaug_fmnist': ['none', 'cropflip', 'uniform', 'trivialaugment', 'randaugment', 'ohl']}
LEARNING_ARMS = {'ohl', 'am-lfs'}


@pytest.mark.parametrize('name', ALL_ARMS)
def test_every_arm_builds_its_controller_and_only_the_searching_arms_learn(arms, monkeypatch, name):
    """The arms that learn nothing run the OHL arm's engine with the controller off. They used to set the
    controller's lr to 0, which REINFORCE came to refuse (rightly, in a user's config): every such arm of every
    benchmark then failed in its first trunk. Each arm's controller is built here and given one step of rewards that
    differ; θ must move in the searching arms only."""
    import torch

    from automl_mm.engine.preflight import build_check
    from automl_mm.ohl import build_controller

    module = importlib.import_module(name)
    seen = {}

    def fake_run_arms(config, arm_names, seeds, epochs, configure, *args, **kwargs):
        seen.update(config=config, configure=configure)
        raise SystemExit(0)

    monkeypatch.setattr(module, 'run_arms', fake_run_arms)
    monkeypatch.setattr(module, 'ensure_fmnist_det', lambda root: None, raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', '--seeds', '0', '--arms', *ALL_ARMS[name]])
    with pytest.raises(SystemExit):
        module.main()
    for arm in ALL_ARMS[name]:
        cfg = arms.run_config(seen['config'], 0, 1)
        seen['configure'](cfg, arm)
        controller = build_controller(cfg.custom_hooks[0].controller, dict(type='Categorical', num_choices=4))
        dist = controller.distribution
        before = dist.probs().clone()
        controller.step([dist.sufficient_stats(torch.tensor([0])), dist.sufficient_stats(torch.tensor([1]))],
                        rewards=[1.0, 0.0])
        assert (not torch.equal(before, dist.probs())) == (arm in LEARNING_ARMS), (name, arm)
        if name != 'autoaug_det':  # the detection set is generated by the benchmark; the rest read installed data
            build_check(cfg)  # what tools/train.py checks in the launching process: model, hooks, spaces, data


# Options that reach the engine, data, reward or evaluation of every arm (none of them names an arm), per benchmark.
_EVERY_ARM_OPTIONS = {
    'autoaug_fmnist': ['--copies', '3', '--trunk-iters', '5', '--samples-per-class', '20', '--reward-samples', '300',
                       '--shared-order', '--reward', 'log_likelihood', '--reward-bn', '2', '--channels-last',
                       '--reward-batch', '32'],
    'am_lfs_fmnist': ['--copies', '3', '--trunk-iters', '5', '--train-per-class', '20', '--reward-per-class', '5',
                      '--test-per-class', '9', '--noise', 'pair40'],
    'autoaug_det': ['--trunk-iters', '5', '--train-images', '50'],
}


def _outside_the_arm(cfg, name: str) -> tuple[dict, list]:
    """``cfg`` without what an arm may change: the OHL space and controller type, and the augmentation step of the
    train pipeline (returned apart: the steps before and after it) or, in AM-LFS, the head's loss."""
    import copy

    config = copy.deepcopy(cfg.to_dict())
    hook = config['custom_hooks'][0]
    del hook['spaces'], hook['controller']['type']
    if name == 'am_lfs_fmnist':
        del config['model']['head']['loss']
        return config, []
    pipeline = config['train_dataloader']['dataset'].pop('pipeline')
    chosen = [i for i, step in enumerate(pipeline) if 'OHL' in step['type']]
    assert len(chosen) == 1, pipeline
    return config, [pipeline[:chosen[0]], pipeline[chosen[0] + 1:]]


@pytest.mark.parametrize('name', sorted(_EVERY_ARM_OPTIONS))
def test_arms_differ_in_nothing_but_their_augmentation_or_loss(arms, monkeypatch, tmp_path, name):
    """The evidence benchmarks promise one engine and one budget for every arm: the same copies, trunks, iterations,
    batch size, workers, data (images, noise, reward and test splits), seed, reward and final evaluation. Every arm's
    whole config, parsed from the command line with every option that reaches all arms, equals every other's but for
    the arm's augmentation step (the steps around it equal too, bar the ``none`` arm's crop / flip) or its loss, the
    OHL space and the controller type. (Measured in tiny runs: each arm's copies ran the same iterations on the same
    images, the best copy was broadcast after every trunk and the last checkpoint was the one tested.)"""
    module = importlib.import_module(name)
    seen = {}

    def fake_run_arms(config, arm_names, seeds, epochs, configure, *args, **kwargs):
        seen.update(config=config, configure=configure, arms=arm_names)
        raise SystemExit(0)

    chosen = list(ALL_ARMS[name])
    extra = []
    if name == 'autoaug_fmnist':  # the learned arm replays a kept policy
        (tmp_path / 'ohl0.py').write_text("ohl_fixed_autoaug = dict(type='FixedAutoAugment', elements='ohl', fill=0, "
                                          "key='autoaug', probs=None)\n")
        chosen.append('learned')
        extra = ['--policies', str(tmp_path)]
    if name == 'am_lfs_fmnist':
        chosen.append('poly1:0.5')
    monkeypatch.setattr(module, 'run_arms', fake_run_arms)
    monkeypatch.setattr(module, 'ensure_fmnist_det', lambda root: None, raising=False)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', '--seeds', '0', '--epochs', '3', '--arms', *chosen,
                                      *_EVERY_ARM_OPTIONS[name], *extra])
    with pytest.raises(SystemExit):
        module.main()
    assert seen['arms'] == chosen
    outside = {}
    for arm in chosen:
        cfg = arms.run_config(seen['config'], 0, 3)
        seen['configure'](cfg, arm)
        outside[arm] = _outside_the_arm(cfg, name)
    first = chosen[0] if chosen[0] != 'none' else chosen[1]
    for arm, (config, around) in outside.items():
        differ = sorted(key for key in set(config) | set(outside[first][0])
                        if config.get(key) != outside[first][0].get(key))
        assert not differ, f'{name}: arm {arm} differs from {first} in {differ} beyond its augmentation or loss'
        if around:
            assert around[1] == outside[first][1][1], (name, arm)  # the same pipeline tail (packing)
            if arm == 'none':  # no crop / flip, the rest the same
                assert [s for s in outside[first][1][0] if 'Flip' not in s['type'] and 'Crop' not in s['type']] \
                    == around[0], (name, arm)
            else:
                assert around[0] == outside[first][1][0], (name, arm)


def _write_run(work_dir, timestamp: str, value: float) -> None:
    """One mmengine run's ``<timestamp>/vis_data/scalars.json`` with one ``accuracy/top1`` row."""
    vis = osp.join(work_dir, timestamp, 'vis_data')
    os.makedirs(vis)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write(json.dumps({'accuracy/top1': value, 'step': 1}) + '\n')


def test_the_final_value_is_the_newest_runs_whatever_the_listing_order(arms, monkeypatch, tmp_path):
    """A work dir holding two runs (a rerun, or a resume: mmengine starts a new ``<timestamp>/`` each time) gave the
    last row in ``os.walk``'s listing order, which is the directory's, not time's: the older run's value."""
    _write_run(tmp_path, '20261203_120000', 11.0)
    _write_run(tmp_path, '20261203_130000', 22.0)
    listing = os.walk

    def walk_newest_first(top, *args, **kwargs):  # the order ext4 gave in the audit's repro
        for dirpath, dirs, files in listing(top, *args, **kwargs):
            dirs.sort(reverse=True)
            yield dirpath, dirs, files

    monkeypatch.setattr(arms.os, 'walk', walk_newest_first)
    assert [row['accuracy/top1'] for row in arms.logged_rows(str(tmp_path), 'accuracy/top1')] == [11.0, 22.0]
    assert arms.final_accuracy(str(tmp_path)) == 22.0


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


def test_run_arms_refuses_a_repeated_seed(arms):
    with pytest.raises(ValueError, match='seeds lists a value more than once'):
        arms.run_arms('unused.py', ['ohl'], [0, 0], 1, lambda cfg, arm: None, lambda arm, work: '')


def test_cr_nas_benchmark_refuses_a_work_dir_holding_its_runs_unless_reused(arms, tmp_path):
    """A second invocation without --reuse trained again into the same run folders; the report could then pair
    the new search with the old retraining's mAP."""
    module = importlib.import_module('cr_nas_fmnist_det')
    (tmp_path / 'searched_s1').mkdir()
    args = module.parse_args(['--seeds', '0', '1', '--work-dir', str(tmp_path)])
    assert module.run_names(args) == ['search_s0', 'search_s1', 'standard_s0', 'searched_s0', 'standard_s1',
                                      'searched_s1']
    with pytest.raises(FileExistsError, match=r'already holds searched_s1: pass --reuse'):
        module.check_work_root(args, str(tmp_path))
    module.check_work_root(module.parse_args(['--seeds', '0', '1', '--reuse']), str(tmp_path))
    module.check_work_root(module.parse_args(['--seeds', '0']), str(tmp_path))  # none of its runs is there


def test_fmnist_regime_refuses_an_arm_it_does_not_have(arms, monkeypatch):
    """Any arm but 'cropflip' trained the 'none' arm under the name typed ('crop-flip', 'flip')."""
    module = importlib.import_module('fmnist_regime')
    monkeypatch.setattr(module, 'load_split', lambda *a: pytest.fail('data was read'))
    monkeypatch.setattr(sys, 'argv', ['fmnist_regime.py', '50', '1', 'crop-flip', '0'])
    with pytest.raises(SystemExit, match="must be one of none, cropflip, got 'crop-flip'"):
        module.main()


@pytest.mark.parametrize('n', [0, 21])
def test_ohl_vs_pbt_refuses_a_grid_subset_outside_the_grid_before_any_run(arms, monkeypatch, capsys, n):
    """--grid-subset 0 failed inside the grid arm after the other arms had run; 30 trained 20 points, some twice."""
    module = importlib.import_module('ohl_vs_pbt')
    for attr in ('run_ohl', 'run_other'):
        monkeypatch.setattr(module, attr, lambda *a, **k: pytest.fail('a run started'))
    monkeypatch.setattr(sys, 'argv', ['ohl_vs_pbt.py', '--arms', 'grid', '--grid-subset', str(n)])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 2 and f'--grid-subset must be in [1, 20] (the grid\'s points), got {n}' in \
        capsys.readouterr().err


def test_ohl_vs_pbt_members_draw_their_crops_from_their_own_seed(arms):
    """Only the shuffle was seeded: the crops and flips (numpy's and python's global RNGs, as mmcv draws) came from
    whatever state the spawned worker or Ray trial had, so two runs of the same member differed."""
    import random

    import numpy as np
    import torch

    module = importlib.import_module('ohl_vs_pbt')

    class Draws(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {'numpy': np.random.rand(), 'python': random.random()}

    class Member(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen = []

        def data_preprocessor(self, batch, training):
            self.seen += list(zip(batch['numpy'], batch['python']))  # pseudo_collate: a dict of lists
            return {}

        def forward(self, mode):
            return {'loss': self.w.sum()}

        def parse_losses(self, losses):
            return losses['loss'], {}

    runs = []
    for state in (1, 2):  # two workers' RNG states
        np.random.seed(state)
        random.seed(state)
        member = Member()
        module.train_epoch(member, torch.optim.SGD(member.parameters(), lr=0.1), Draws(),
                           {'seed': 0, 'batch_size': 2}, member=3, epoch=5)
        runs.append(member.seen)
    assert len(runs[0]) == 4 and runs[0] == runs[1]


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


def test_run_arms_configures_every_arm_before_any_training(arms, monkeypatch):
    """The shared runner configured an arm only at its turn: an arm its benchmark's configure refuses stopped the
    benchmark after the arms before it had trained (minutes each)."""
    monkeypatch.setattr(arms.subprocess, 'run', lambda *a, **k: pytest.fail('a run started'))
    seen = []

    def configure(cfg, arm):
        seen.append(arm)
        if arm not in ('flip', 'ohl'):
            raise ValueError(f"unknown arm {arm!r}; choose from ('flip', 'ohl')")

    config = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')
    with pytest.raises(ValueError, match="unknown arm 'flop'"):
        arms.run_arms(config, ['flip', 'ohl', 'flop'], [0, 1], 2, configure, lambda arm, work: '')
    assert seen == ['flip', 'ohl', 'flop']


@pytest.mark.parametrize('argv, flags', [
    (['--allocation', '2', '2', '2', '2', '--search-seeds', '3'], '--search-seeds 3 is not read with --allocation'),
    (['--allocation', '2', '2', '2', '2', '--search-options', 'train_cfg.stage_iters=2'],
     '--search-options train_cfg.stage_iters=2 is not read with --allocation'),
    (['--train-options', 'max_epochs=3'], 'train_cfg.max_epochs'),  # the file wrote 1 there when it was read
    (['--train-options', 'max_iters=3'], "--train-options max_iters=3: the config has no top-level key 'max_iters'"),
    (['--search-options', 'max_iters=3'], "--search-options max_iters=3: the config has no top-level key"),
    (['--train-options', 'train_cfg.val_interval=1'], '--train-options train_cfg.val_interval=1 is set by the '
                                                     'benchmark'),
    (['--train-options', 'val_evaluator.classwise=True'], '--train-options val_evaluator.classwise=True is set by'),
    (['--train-options', 'val_dataloader.batch_size=2'], '--train-options val_dataloader.batch_size=2 is set by'),
    (['--search-options', 'randomness.seed=5'], '--search-options randomness.seed=5 would give every run this seed'),
    (['--train-options', 'randomness.seed=5'], 'instead of its --seeds seed'),
])
def test_cr_nas_benchmark_refuses_options_that_change_nothing_before_any_work(arms, capsys, argv, flags):
    """With --allocation no search runs (its seeds and options were ignored); an option the benchmark overwrites
    after merging it (the arms' validation is the test split after the last epoch, every run's seed is --seeds'), or
    a top-level name the file had already written into its settings (max_epochs), changed nothing, silently."""
    module = importlib.import_module('cr_nas_fmnist_det')
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flags in err and any(words in err for words in ('change nothing', 'changes the top-level name',
                                                            'the same run'))


def test_cr_nas_benchmark_keeps_the_options_it_reads(arms):
    module = importlib.import_module('cr_nas_fmnist_det')
    args = module.parse_args(['--search-seeds', '0', '1', '--seeds', '0', '1', '2', '--jobs', '2', '--out', 'r.json'])
    assert args.search_seeds == [0, 1] and args.jobs == 2
    args = module.parse_args(['--allocation', '2', '3', '2', '1', '--dilations', '2', '2', '2', '1', '2', '3', '2', '1',
                              '--seeds', '0', '1', '2', '--jobs', '2', '--reuse',
                              '--search-options', 'train_cfg.flops_tolerance=0.1',  # the FLOPs check reads it
                              '--train-options', 'train_dataloader.batch_size=2', 'train_cfg.max_epochs=2',
                              'test_dataloader.batch_size=2'])
    assert args.search_options == {'train_cfg.flops_tolerance': 0.1}
    module.parse_args(['--search-options', 'train_cfg.stage_iters=2', 'train_dataloader.batch_size=2',
                       'default_hooks.checkpoint.interval=4', 'train_cfg.dilation_choices=[1,2]'])


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


def _ohl_vs_pbt_without(monkeypatch, absent: tuple):
    """``ohl_vs_pbt`` with the packages ``absent`` not installed (``sys.modules[name] = None``: ``find_spec`` says
    None and ``import`` fails) and the others of Ray Tune / scikit-learn / psutil present (stand-in modules)."""
    import importlib.machinery
    import types

    for name in ('ray', 'sklearn', 'psutil'):
        if name in absent:
            monkeypatch.setitem(sys.modules, name, None)
        elif importlib.util.find_spec(name) is None:
            stand_in = types.ModuleType(name)
            stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None)
            monkeypatch.setitem(sys.modules, name, stand_in)
    module = importlib.import_module('ohl_vs_pbt')
    for attr in ('run_ohl', 'run_other', 'measure'):  # nothing may start
        monkeypatch.setattr(module, attr, lambda *a, **k: pytest.fail('a run started'))
    return module


@pytest.mark.parametrize('argv', [['--arms', 'pb2'], ['--arms', 'ohl', 'pb2'], []])
def test_ohl_vs_pbt_without_scikit_learn_refuses_pb2_before_any_run(arms, monkeypatch, capsys, argv):
    """PB2 without scikit-learn was dropped from the arms with a printed note: ``--arms pb2`` ran nothing and printed
    an empty table (exit 0), and the default arms gave a comparison without PB2."""
    module = _ohl_vs_pbt_without(monkeypatch, ('sklearn', ))
    monkeypatch.setattr(sys, 'argv', ['ohl_vs_pbt.py', '--seeds', '0', *argv])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f'--arms {" ".join(argv[1:] or module.ARMS)}: the pb2 arm needs scikit-learn (import sklearn), not ' \
           'installed' in err
    assert 'make bench-deps' in err and 'tools/install.sh' in err


def test_ohl_vs_pbt_names_each_missing_package_with_the_arms_needing_it(arms, monkeypatch, capsys):
    module = _ohl_vs_pbt_without(monkeypatch, ('ray', 'sklearn', 'psutil'))
    monkeypatch.setattr(sys, 'argv', ['ohl_vs_pbt.py', '--arms', 'ohl', 'pbt', 'pb2'])
    with pytest.raises(SystemExit):
        module.main()
    err = capsys.readouterr().err
    assert ('the pbt and pb2 arms need ray[tune] (import ray); the pb2 arm needs scikit-learn (import sklearn); '
            'every arm needs psutil (import psutil), not installed') in ' '.join(err.split())


def test_ohl_vs_pbt_without_scikit_learn_runs_the_arms_not_needing_it(arms, monkeypatch):
    module = _ohl_vs_pbt_without(monkeypatch, ('sklearn', ))

    class Started(Exception):
        pass

    def started(args, arm, *rest):
        raise Started(arm)

    monkeypatch.setattr(module, 'run_ohl', started)
    monkeypatch.setattr(sys, 'argv', ['ohl_vs_pbt.py', '--seeds', '0', '--arms', 'ohl', 'pbt'])
    with pytest.raises(Started, match='ohl'):
        module.main()


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
