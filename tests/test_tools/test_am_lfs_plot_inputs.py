"""``benchmarks/am_lfs_fmnist.py --plot`` draws the learned losses from its own ``--out`` files and from the
committed ``benchmarks/results/am_lfs_fmnist_*.json`` (another layout: ``runs``), and refuses a file that is
neither, naming it, with argparse's exit 2."""
from __future__ import annotations

import argparse
import importlib
import json
import os.path as osp
import sys

import pytest

from conftest import REPO_ROOT

RESULTS = osp.join(REPO_ROOT, 'benchmarks', 'results')


@pytest.fixture
def bench(arms, monkeypatch):
    module = importlib.import_module('am_lfs_fmnist')
    monkeypatch.setattr(module, 'ARGS', argparse.Namespace())
    return module


def _plot(bench, monkeypatch, files, out):
    monkeypatch.setattr(sys, 'argv', ['am_lfs_fmnist.py', '--plot', *files, '--plot-out', str(out)])
    bench.main()


def test_the_committed_results_files_can_be_plotted(bench, monkeypatch, tmp_path):
    """The docstring's ``--plot results/*.json`` ended in ``KeyError: 'details'``: the committed files keep their
    runs under ``runs``, not ``details``."""
    out = tmp_path / 'pair40.png'
    _plot(bench, monkeypatch, [osp.join(RESULTS, 'am_lfs_fmnist_pair40_30e_seeds012.json')], out)
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize('name, labels', [
    ('am_lfs_fmnist_pair40_30e_seeds012.json', ['pair40 seed 0', 'pair40 seed 1', 'pair40 seed 2']),
    ('am_lfs_fmnist_sigma0.05_clean_pair40_30e.json', ['clean seed 0', 'clean seed 1', 'clean seed 2',
                                                       'pair40 seed 0', 'pair40 seed 1', 'pair40 seed 2']),
    ('am_lfs_fmnist_sym40_30e_poly1_grid.json', []),  # fixed losses only: nothing to draw
])
def test_each_am_lfs_run_of_a_results_file_is_one_labelled_theta(bench, name, labels):
    with open(osp.join(RESULTS, name)) as f:
        records = bench.theta_records(json.load(f), name)
    assert [label for label, _ in records] == labels
    assert all(len(theta) == 14 for _, theta in records)  # monotone θ, M = 6: 2M + 2


def test_an_out_file_keeps_its_labels(bench):
    out = dict(noise='sym40', seeds=[3, 5], details=[dict(arm='ce', reward=1.0), dict(arm='am-lfs', theta=[0.0] * 14),
                                                   dict(arm='ce', reward=1.0), dict(arm='am-lfs', theta=[0.1] * 14)])
    assert bench.theta_records(out, 'x.json') == [('sym40 seed 3', [0.0] * 14), ('sym40 seed 5', [0.1] * 14)]


def test_another_json_is_refused_naming_it(bench, monkeypatch, capsys, tmp_path):
    """A JSON of another benchmark (e.g. results/cr_nas_fmnist_det.json, which the docstring's glob caught) ended
    in a KeyError traceback."""
    other = tmp_path / 'other.json'
    other.write_text(json.dumps({'arms': {}}))
    with pytest.raises(SystemExit) as stop:
        _plot(bench, monkeypatch, [str(other)], tmp_path / 'x.png')
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f'--plot: {other}: not an am_lfs_fmnist.py --out file' in err
    assert not (tmp_path / 'x.png').exists()


def test_a_damaged_out_file_is_refused_naming_it(bench, monkeypatch, capsys, tmp_path):
    """A --out file cut short ended in '--plot: Expecting value: line 1 column 1 (char 0)', naming no file; one with
    fewer θ records than seeds (an edited or merged file) was labelled by zip, the first θ as the first seed's,
    and the rest dropped without a word."""
    cut = tmp_path / 'cut.json'
    cut.write_text('{"noise": "sym40", "seeds": [0, 1]')
    with pytest.raises(SystemExit):
        _plot(bench, monkeypatch, [str(cut)], tmp_path / 'x.png')
    assert f'--plot: {cut}: not JSON' in capsys.readouterr().err
    short = dict(noise='sym40', seeds=[0, 1, 2], details=[dict(arm='am-lfs', theta=[0.0] * 14)])
    with pytest.raises(ValueError, match=r'x.json: 1 AM-LFS θ records for the 3 seeds'):
        bench.theta_records(short, 'x.json')
    assert bench.theta_records(dict(short, details=[dict(arm='ce', reward=1.0)]), 'x.json') == []  # no AM-LFS run
