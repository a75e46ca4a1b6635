"""Figures the README quotes from a committed raw result file (``benchmarks/results/``) are what that file gives:
a mean ± std (sample std, n - 1, as the benchmarks print it) recomputed from the runs it holds, a per-trunk reading
present among the readings it lists."""
from __future__ import annotations

import json
import os.path as osp
import re
import statistics

from conftest import REPO_ROOT

RESULTS = osp.join(REPO_ROOT, 'benchmarks', 'results')


def _readme() -> str:
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        return f.read()


def _json(name: str) -> dict:
    with open(osp.join(RESULTS, name)) as f:
        return json.load(f)


def _mean_std(values: list[float]) -> str:
    return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'


def _table_rows(text: str, header_start: str) -> dict[str, list[str]]:
    """``{first cell: cells}`` of the Markdown table whose header row starts with ``header_start``."""
    lines = text[text.index(header_start):].splitlines()
    rows = {}
    for line in lines[2:]:
        line = line.strip()
        if not line.startswith('|'):
            break
        cells = [cell.strip().strip('*') for cell in line.strip('|').split('|')]
        rows[cells[0]] = cells
    return rows


def _am_lfs_design_runs() -> dict[str, list[dict]]:
    """The runs behind each row of the README's AM-LFS design-sweep table, by the row's first cell."""
    sweep, seeds012 = _json('am_lfs_fmnist_sym40_30e_design_sweep.json'), _json('am_lfs_fmnist_sym40_30e_seeds012.json')
    lr01 = _json('am_lfs_fmnist_controller_lr0.01_30e.json')

    def point(name):
        return [run for run in sweep['runs'] if run['point'] == name]

    return {
        'σ = 0.025': point('sigma 0.025'),
        'σ = 0.05 (chosen)': point('sigma 0.05'),
        'σ = 0.1': point('sigma 0.1'),
        'σ = 0.2 (earlier default)': [run for run in seeds012['runs'] if run['arm'] == 'am-lfs'],
        'σ = 0.4': point('sigma 0.4'),
        'σ = 0.2, trunk of 8 iterations (half an epoch: 60 controller steps)':
            point('sigma 0.2, trunk 8 iterations (half an epoch)'),
        'σ = 0.2, trunk of 3 epochs (10 controller steps)': point('sigma 0.2, trunk 3 epochs'),
        'σ = 0.2, 8 copies (twice the compute)': point('sigma 0.2, 8 copies'),
        'σ = 0.2, controller lr 0.01 (below)': [run for run in lr01['runs'] if run['noise'] == 'sym40'],
        'cross-entropy, same engine (reference)': [run for run in seeds012['runs'] if run['arm'] == 'ce'],
    }


def test_the_am_lfs_design_sweep_table_is_what_its_raw_files_give():
    """The controller-lr-0.01 row read 74.67 ± 0.98 (and the chosen-point bullet 'against 0.98'); its three rewards
    in am_lfs_fmnist_controller_lr0.01_30e.json (74.00, 74.20, 75.80) give a sample std of 0.987, 0.99."""
    text = _readme()
    rows = _table_rows(text, '| AM-LFS design point (40 % symmetric, 30 epochs) |')
    runs = _am_lfs_design_runs()
    assert set(rows) == set(runs)
    for name, row_runs in runs.items():
        assert [run['seed'] for run in row_runs] == [0, 1, 2], name
        rewards, tests = [run['reward'] for run in row_runs], [run['test_top1'] for run in row_runs]
        reward_cell, seeds_cell, test_cell = rows[name][1:4]
        assert reward_cell == _mean_std(rewards), (name, reward_cell)
        assert seeds_cell == ', '.join(f'{r:.2f}' for r in rewards), (name, seeds_cell)
        assert test_cell == _mean_std(tests), (name, test_cell)
    chosen, lr01 = (statistics.stdev([run['reward'] for run in runs[name]])
                    for name in ('σ = 0.05 (chosen)', 'σ = 0.2, controller lr 0.01 (below)'))
    assert f'with the smaller std over seeds ({chosen:.2f} against {lr01:.2f})' in text


def _trunk_readings(raw: str, label: str) -> dict[int, float]:
    """``{trunk: best-copy reward}`` of the comment line ``#   <label>: trunk 8 0.122, 12 0.196, ...``."""
    line = next(line for line in raw.splitlines() if line.startswith(f'#   {label}: trunk '))
    pairs = re.findall(r'(\d+) (0\.\d+)', line.split(': trunk ', 1)[1].split(';')[0])
    return {int(trunk): float(value) for trunk, value in pairs}


def test_the_detection_per_trunk_rewards_quoted_are_in_the_raw_file():
    """The seed-0 sentence quoted the reward split 'after trunks 18 / 20 / 24' (0.247 against flip's 0.227 after
    trunk 18): autoaug_det_fmnist_200img_24e.txt lists trunks 8, 12, 16, 20 and 24 only."""
    with open(osp.join(RESULTS, 'autoaug_det_fmnist_200img_24e.txt')) as f:
        raw = f.read()
    ohl, flip = _trunk_readings(raw, 'best-copy reward'), _trunk_readings(raw, 'flip')
    match = re.search(r'on the reward split in the last trunks: ([\d. /]+?) after trunks\s+([\d /]+?) against '
                      r"flip's ([\d. /]+?)\)", _readme())
    assert match, 'the sentence quoting the last trunks\' rewards is gone; update this test with it'
    values, trunks, flips = ([x.strip() for x in group.split('/')] for group in match.groups())
    assert len(values) == len(trunks) == len(flips)
    for trunk, value, flip_value in zip(map(int, trunks), map(float, values), map(float, flips)):
        assert trunk in ohl and trunk in flip, f'trunk {trunk} is not among the raw readings {sorted(ohl)}'
        assert (ohl[trunk], flip[trunk]) == (value, flip_value), trunk


def test_every_mean_std_helper_is_the_sample_std_the_readme_names(arms, monkeypatch):
    """The README's tables quote 'mean ± std' over seeds without saying which std; every helper that prints one
    takes the sample std (n - 1), and the README now says so."""
    import importlib

    nas = importlib.import_module('_nas_supernets')
    ranking = importlib.import_module('pc_nas_ranking_fmnist')
    assert arms.summary([1.0, 2.0, 3.0]) == {'mean': 2.0, 'std': 1.0}
    assert arms.mean_std([1.0, 2.0, 3.0]) == '2.00 ± 1.00'
    assert nas.mean_std([1.0, 2.0, 3.0]) == '2.000 ± 1.000'
    assert ranking._stats([1.0, 2.0, 3.0])['std'] == 1.0
    assert '"mean ± std" over seeds they print, and this README quotes, is\n                  the sample std (n − 1' \
        in _readme()


def test_every_raw_text_file_opens_with_the_header_that_names_its_run():
    """A raw results file is evidence only with the command (and commit or date) that wrote it: three files began
    with the benchmark's output itself (``ohl_vs_pbt_seeds012.txt``, ``ohl_vs_pbt_ohl_k4_seeds012.txt``,
    ``pc_nas_ranking_fmnist_seeds012.txt``), and nothing in them said that today's command no longer gives those
    lines (unseeded crops, PB2's old bounds, BN re-estimated on other batches)."""
    import glob

    lacking = []
    for path in sorted(glob.glob(osp.join(RESULTS, '*.txt'))):
        with open(path) as f:
            lines = f.read().splitlines()
        header = lines[:next((i for i, line in enumerate(lines) if not line.startswith('#')), len(lines))]
        if not any('benchmarks/' in line for line in header):
            lacking.append(osp.basename(path))
    assert not lacking, f'raw results without leading "# ..." lines naming benchmarks/<script>.py: {lacking}'
