"""benchmarks/reward_horizon.py: branching to read the one-trunk rewards leaves the trajectory untouched, and every
policy of a replicate starts from the same state."""
from __future__ import annotations

import importlib
import os.path as osp

import pytest

from conftest import REPO_ROOT

FMNIST = '/usr/share/datasets/fashion-mnist'
TINY = ['--per-class', '3', '--epochs', '3', '--horizons', '1', '2', '--no-final']


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('reward_horizon')


@pytest.mark.skipif(not osp.isdir(FMNIST), reason=f'Fashion-MNIST not installed in {FMNIST}')
def test_branches_restore_the_trajectory_and_share_the_start(bench, capsys):
    plain = bench.main([*TINY, '--every', '0'])
    branched = bench.main([*TINY, '--every', '2', '--reps', '2'])
    assert plain['final'] == branched['final']  # the branches left weights, optimiser and schedule as they were
    assert branched['branches'] == [1]
    lines = capsys.readouterr().out.splitlines()
    readings = next(__import__('json').loads(line) for line in lines if line.startswith('[{'))
    assert len(readings) == 2 * 3 * 2  # reps x policies x horizons
    row = branched['horizon_1']
    assert row['ra18']['minus_trajectory'] == 0 and row['replicate_noise'] >= 0
    assert set(row) == {'replicate_noise', 'cropflip', 'ra18', 'ohl36'}


def test_bad_options_are_refused(bench):
    with pytest.raises(SystemExit):
        bench.main(['--every', '-1'])
    with pytest.raises(SystemExit):
        bench.main(['--epochs', '2', '--every', '4', '--horizons', '4'])
