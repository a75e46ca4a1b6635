"""The command each stored AM-LFS results file (``benchmarks/results/am_lfs_fmnist_*.json``) gives for its AM-LFS
runs trains, run today, what those runs were measured with: σ (the file's ``sigma``, or the design point's), the
epochs, data sizes and copies the file records.

The AM-LFS default σ moved from 0.2 to 0.05 after most of these runs (the design sweep chose it), and the files kept
the commands as typed then: ``--noise sym40 --seeds S --arms ce gce am-lfs ls sce poly1`` now trains the am-lfs arm
at σ = 0.05, and the design sweep's ``sigma 0.2, 8 copies`` point, recorded as ``--copies 8``, at σ = 0.05 with 8
copies. A file keeps its ``command`` (and a point its ``options``) as typed; ``reproduce`` (``reproduce_options``
per point) is the command that gives the same settings today. The numbers it gives are not the stored ones: the
am-lfs arm's samples and test predictions changed after these runs (8575a96, e00aaec), so each such file names the
``commit`` that added its runs.
"""
from __future__ import annotations

import glob
import importlib
import json
import os.path as osp
import re
import shlex
import sys

import pytest

from conftest import REPO_ROOT

RESULTS = osp.join(REPO_ROOT, 'benchmarks', 'results')
#: What a results file records at its top level and the option of am_lfs_fmnist.py that sets it.
SIZES = ('epochs', 'train_per_class', 'reward_per_class', 'test_per_class', 'copies')


def _am_lfs_files() -> list[str]:
    """The results files of am_lfs_fmnist.py that hold AM-LFS runs in a ``runs`` list (the Poly-1 grid holds none;
    the own-streams file keeps each run's parsed ``args`` instead of a command)."""
    names = []
    for path in sorted(glob.glob(osp.join(RESULTS, 'am_lfs_fmnist_*.json'))):
        with open(path) as f:
            data = json.load(f)
        if isinstance(data.get('runs'), list) and any(run.get('arm', 'am-lfs') == 'am-lfs' for run in data['runs']):
            names.append(osp.basename(path))
    return names


def _commands(data: dict) -> list[tuple[str, float]]:
    """``(command, σ)`` of each distinct AM-LFS setting of a results file, its placeholders filled in (S: seed 0,
    N: the run's noise, OPTIONS: the design point's options)."""
    out = {}
    for run in data['runs']:
        if run.get('arm', 'am-lfs') != 'am-lfs':
            continue
        command = data.get('reproduce', data['command'])
        if 'point' in run:  # a design point: its own options, σ in its name
            options = data.get('reproduce_options', {}).get(run['point'], run['options'])
            command = command.replace('OPTIONS', options)
            sigma = float(re.match(r'sigma ([\d.]+)', run['point']).group(1))
        else:
            sigma = data['sigma']
        noise = run.get('noise', data.get('noise'))
        words = [{'S': '0', 'N': noise}.get(word, word) for word in shlex.split(command)]
        out[' '.join(words)] = sigma
    return list(out.items())


def _trained(monkeypatch, arms, command: str) -> tuple[object, object]:
    """The parsed options and the am-lfs arm's config that ``command`` (``python benchmarks/am_lfs_fmnist.py ...``)
    trains, without training."""
    module = importlib.import_module('am_lfs_fmnist')
    seen = {}

    def fake_run_arms(config, arm_names, seeds, epochs, configure, *args, **kwargs):
        cfg = arms.run_config(config, seeds[0], epochs)
        configure(cfg, 'am-lfs')
        seen['cfg'] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(module, 'run_arms', fake_run_arms)
    words = shlex.split(command)
    assert words[:2] == ['python', 'benchmarks/am_lfs_fmnist.py'], command
    monkeypatch.setattr(sys, 'argv', ['am_lfs_fmnist.py', *words[2:]])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 0, command
    return module.ARGS, seen['cfg']


@pytest.mark.parametrize('name', _am_lfs_files())
def test_a_results_file_command_trains_the_runs_it_holds(arms, monkeypatch, name):
    with open(osp.join(RESULTS, name)) as f:
        data = json.load(f)
    commands = _commands(data)
    assert commands, name
    for command, sigma in commands:
        args, cfg = _trained(monkeypatch, arms, command)
        assert cfg.custom_hooks[0].spaces[0].std == sigma, (name, command)
        for key in SIZES:
            if key in data:
                assert getattr(args, key) == data[key], (name, command, key)


def test_every_am_lfs_results_file_is_checked():
    """The files above are all of this benchmark's results that hold AM-LFS runs: a new file with a ``runs`` list
    of another shape would have been skipped, silently."""
    assert set(_am_lfs_files()) >= {
        'am_lfs_fmnist_sym40_30e_seeds012.json', 'am_lfs_fmnist_pair40_30e_seeds012.json',
        'am_lfs_fmnist_clean_30e_seeds012.json', 'am_lfs_fmnist_controller_lr0.01_30e.json',
        'am_lfs_fmnist_sigma0.05_clean_pair40_30e.json', 'am_lfs_fmnist_sym40_30e_design_sweep.json'}


#: Since these commits the am-lfs arm draws other runs from the same settings: its per-trunk θ samples from their
#: own stream (8575a96) and its test predictions from ``scale · cos`` (e00aaec); the README's re-measure at σ = 0.05
#: is am_lfs_fmnist_own_streams_30e.json.
_AM_LFS_RUNS_CHANGED = ('8575a96', 'e00aaec', 'am_lfs_fmnist_own_streams_30e.json')


@pytest.mark.parametrize('name', _am_lfs_files())
def test_a_reproduce_command_says_where_it_gives_the_stored_runs(name):
    """``reproduce`` (``reproduce_options``) gives the stored runs' settings today, not their numbers: the files'
    notes said 'reproduce ... gives these runs today', but every such file holds runs from 2026-11-30, before the
    am-lfs arm's samples and test predictions changed. A file with such a key names the ``commit`` that added its
    runs (where ``command`` as typed gives them) and what changed since."""
    with open(osp.join(RESULTS, name)) as f:
        data = json.load(f)
    if 'reproduce' not in data and 'reproduce_options' not in data:
        return
    assert re.fullmatch(r'[0-9a-f]{7,40}', data.get('commit', '')), f'{name}: no "commit" of its runs'
    note = data['reproduce_note']
    assert data['commit'] in note and all(word in note for word in _AM_LFS_RUNS_CHANGED), (name, note)
    assert 'gives these runs today' not in note and 'reproduced today' not in note, (name, note)
