"""benchmarks/ohl_vs_pbt.py: a grid subset outside the grid, and an arm whose packages are not installed, are
refused before any run (the arms not needing them run); each member draws its crops from its own seed."""
from __future__ import annotations

import importlib
import sys

import pytest


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


@pytest.mark.parametrize('size', [5, 4])  # the config's lr grid and weight-decay grid
def test_pb2_starts_and_explores_uniformly_over_the_grid_as_pbt_does(arms, size):
    """PB2 searches continuous bounds and the trainable rounds them to a grid index. With bounds [0, n - 1] the two
    end points owned half an interval each: PB2's initial population drew lr 0.003 and 0.3 with probability 1/8
    (PBT's ``tune.choice``: 1/5) and weight decay 0 and 1e-2 with 1/6 (PBT: 1/4), so the two Ray arms started from
    different distributions over "the same grid". Every grid point now owns an interval of width 1."""
    module = importlib.import_module('ohl_vs_pbt')
    choices = [f'v{i}' for i in range(size)]
    low, high = module.pb2_index_bounds(choices)
    draws = 100_000  # midpoints of equal slices of [low, high]: the uniform draw's mass, to 1 / draws
    counts = {value: 0 for value in choices}
    for k in range(draws):
        counts[module.grid_value(choices, low + (high - low) * (k + 0.5) / draws)] += 1
    assert {value: round(count / draws, 3) for value, count in counts.items()} == \
        {value: round(1 / size, 3) for value in choices}
    assert module.grid_value(choices, low) == choices[0] and module.grid_value(choices, high) == choices[-1]


def test_ohl_vs_pbt_alternates_the_arm_order_and_pairs_the_wall_times_by_seed(arms, monkeypatch, capsys):
    """Every seed ran its arms in the order given, OHL first: a change of the machine's load, or caches warmed by the
    first run, reached the arms unevenly, and the goal read the ratio of the mean wall times. Now odd seeds run
    the arms in reverse and the goal reads the mean of the seeds' paired ratios (0.2 and 0.4 -> 0.30; the ratio of
    the means, 120 / 350 = 0.34, would miss the third)."""
    module = _ohl_vs_pbt_without(monkeypatch, ())
    ran, walls = [], {('ohl', 0): 20.0, ('pbt', 0): 100.0, ('ohl', 1): 240.0, ('pbt', 1): 600.0}

    def run(args, arm, seed, tmp, cores):
        ran.append((seed, arm))
        return dict(test=70.0, reward=70.0, wall=walls[arm, seed], peak=1.0, checkpoints=1, checkpoint_bytes=1,
                    copies=4)

    monkeypatch.setattr(module, 'run_ohl', run)
    monkeypatch.setattr(module, 'run_other', run)
    monkeypatch.setattr(sys, 'argv', ['ohl_vs_pbt.py', '--seeds', '0', '1', '--arms', 'ohl', 'pbt'])
    module.main()
    assert ran == [(0, 'ohl'), (0, 'pbt'), (1, 'pbt'), (1, 'ohl')]
    out = capsys.readouterr().out
    assert 'Wall time OHL / PBT, paired by seed: 0.30 ± 0.14 (2 seed(s): 0.20 0.40)' in out
    assert 'in at most a third of its wall time: True' in out
    with pytest.raises(ValueError, match='one run per seed on each side'):
        module.paired_wall_ratios([dict(wall=1.0)], [])


def test_each_arm_prints_the_member_epochs_it_trained_copies_and_members_counted(arms, monkeypatch, capsys,
                                                                                 tmp_path):
    """The docstring and README said every arm trains the same epochs per member; Ray's asynchronous PBT / PB2 let
    an exploiting trial continue from a donor's later epoch, so the arm trained fewer member-epochs than OHL's
    copies (73 of 80 in the README's seed 0): unsaid. Each run now prints its member-epochs: OHL 4 copies x 20, the
    random arm 4 points x 20, PBT its reports (one checkpoint folder per trained epoch)."""
    module = _ohl_vs_pbt_without(monkeypatch, ())
    for trial, reports in (('trial_0', 20), ('trial_1', 18), ('trial_2', 20), ('trial_3', 15)):
        for i in range(reports):
            (tmp_path / trial / f'checkpoint_{i:06d}').mkdir(parents=True)
    assert module.checkpoint_folders(str(tmp_path)) == 73
    runs = {'ohl': dict(copies=4, checkpoints=1, checkpoint_bytes=1),
            'pbt': dict(checkpoints=module.checkpoint_folders(str(tmp_path)), checkpoint_bytes=1),
            'random': dict(rewards={'0.1/0': 70.0, '0.01/0': 71.0, '0.3/0': 69.0, '0.03/0.001': 70.5})}

    def run(args, arm, seed, tmp, cores):
        return dict(runs[arm], test=70.0, reward=70.0, wall=10.0, peak=1.0)

    monkeypatch.setattr(module, 'run_ohl', run)
    monkeypatch.setattr(module, 'run_other', run)
    monkeypatch.setattr(sys, 'argv', ['ohl_vs_pbt.py', '--seeds', '0', '--arms', 'ohl', 'pbt', 'random'])
    module.main()
    lines = capsys.readouterr().out.splitlines()
    for arm, epochs in (('ohl', 80), ('pbt', 73), ('random', 80)):
        run_line = next(line for line in lines if line.startswith(f'seed 0 {arm:6s}'))
        assert f'  member-epochs {epochs}' in run_line, run_line
        summary_line = next(line for line in lines if line.startswith(f'{arm:6s} '))
        assert summary_line.endswith(f'member-epochs {epochs}'), summary_line


def test_the_readme_says_how_many_member_epochs_the_ray_arms_trained():
    """The README's PBT / PB2 rows were measured with fewer training iterations than OHL's 4 x 20 member-epochs; the
    note beside the table gives the counts the raw files hold (checkpoint folders: one per trained epoch)."""
    import os.path as osp
    import re

    from conftest import REPO_ROOT
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        readme = f.read()
    for name in ('ohl_vs_pbt_seeds012.txt', 'ohl_vs_pbt_seeded_crops.txt'):
        with open(osp.join(REPO_ROOT, 'benchmarks', 'results', name)) as f:
            lines = f.read().splitlines()
        for arm in ('pbt', 'pb2'):
            counts = [re.search(r'checkpoints (\d+) files', line).group(1) for line in lines
                      if re.match(rf'seed \d {arm} ', line)]
            assert len(counts) == 3
            assert f'{arm.upper()} {" / ".join(counts)}' in readme, (name, arm, counts)
