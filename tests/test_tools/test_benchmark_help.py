"""Every benchmark script answers ``--help`` (exit 0, a usage line naming the script) without running anything,
and one that takes positional arguments refuses missing or malformed ones with argparse's exit 2 and a message
naming the argument, instead of a traceback."""
from __future__ import annotations

import glob
import importlib
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPTS = sorted(osp.splitext(osp.basename(path))[0] for path in glob.glob(osp.join(REPO_ROOT, 'benchmarks', '*.py'))
                 if not osp.basename(path).startswith('_'))


def test_the_scripts_are_found():
    assert {'fmnist_regime', 'autoaug_fmnist', 'reward_horizon', 'ohl_vs_pbt'} <= set(SCRIPTS)


@pytest.mark.parametrize('name', SCRIPTS)
def test_every_benchmark_answers_help(arms, monkeypatch, capsys, name):
    """``python benchmarks/fmnist_regime.py --help`` ended in ``ValueError: invalid literal for int() with base 10:
    '--help'`` (it read ``sys.argv`` by position)."""
    module = importlib.import_module(name)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py', '--help'])
    with pytest.raises(SystemExit) as stop:
        module.main()
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f'usage: {name}.py'), out[:200]


@pytest.mark.parametrize('argv, says', [
    ([], 'the following arguments are required: PER_CLASS, EPOCHS, ARM, SEED'),
    (['fifty', '1', 'none', '0'], "PER_CLASS: invalid positive_int value: 'fifty'"),
    (['50', '0', 'none', '0'], "EPOCHS: invalid positive_int value: '0'"),
    (['50', '1', 'none', 'x'], "SEED: invalid int value: 'x'"),
    (['50', '1', 'none', '0', '32,sixty'], "WIDTHS: invalid widths value: '32,sixty'"),
    (['50', '1', 'cropflip', '0', '32,64', '-1'], "PAD: invalid non_negative_int value: '-1'"),
])
def test_fmnist_regime_refuses_missing_or_malformed_arguments_clearly(arms, monkeypatch, capsys, argv, says):
    """Each of these ended in an IndexError or ValueError traceback before any check of the script's own."""
    module = importlib.import_module('fmnist_regime')
    monkeypatch.setattr(module, 'load_split', lambda *a: pytest.fail('data was read'))
    monkeypatch.setattr(sys, 'argv', ['fmnist_regime.py', *argv])
    with pytest.raises(SystemExit) as stop:
        module.main()
    assert stop.value.code == 2
    assert says in capsys.readouterr().err
