"""A trunk length the runs cannot split into whole trunks is refused at argument parsing (argparse's exit 2, nothing
trained): ``am_lfs_fmnist.py --epochs 30 --trunk-epochs 4`` trained 7 trunks of 4 epochs and one of 2 although its
help says --trunk-epochs must divide --epochs; ``--trunk-iters 0`` reached the engine."""
from __future__ import annotations

import importlib
import sys

import pytest

from tests.test_tools.test_benchmark_options import _refused

#: What starts work in these benchmarks: stubbed to fail the test.
_WORK = ('run_arms', 'ensure_fmnist_det', 'usable_cpus')


@pytest.mark.parametrize('name, argv, says', [
    ('am_lfs_fmnist', ['--arms', 'ce', '--epochs', '30', '--trunk-epochs', '4'],
     '--trunk-epochs 4 does not divide --epochs 30 (7 whole trunks and one of 2 epochs): choose one of 1, 2, 3, 5, '
     '6, 10, 15, 30'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--trunk-epochs', '0'], '--trunk-epochs must be a positive number of epochs, '
                                                               'got 0'),
    ('am_lfs_fmnist', ['--arms', 'ce', '--trunk-iters', '0'], '--trunk-iters must be a positive number of iterations, '
                                                              'got 0'),
    ('autoaug_fmnist', ['--arms', 'ohl', '--trunk-iters', '-3'], '--trunk-iters must be a positive number of '
                                                                 'iterations, got -3'),
    ('autoaug_det', ['--arms', 'flip', '--trunk-iters', '0'], '--trunk-iters must be a positive number of '
                                                              'iterations, got 0'),
    ('ohl_overhead', ['--epochs', '6', '--trunk-epochs', '4'],
     '--trunk-epochs 4 does not divide --epochs 6 (1 whole trunk and one of 2 epochs): choose one of 1, 2, 3, 6'),
])
def test_a_trunk_that_does_not_divide_the_run_is_refused_before_any_training(arms, monkeypatch, capsys, name, argv,
                                                                             says):
    assert says in _refused(importlib.import_module(name), argv, monkeypatch, capsys, _WORK)


def test_a_dividing_trunk_passes(arms, monkeypatch):
    module = importlib.import_module('am_lfs_fmnist')
    monkeypatch.setattr(module, 'run_arms', lambda *a, **k: (_ for _ in ()).throw(SystemExit(0)))
    monkeypatch.setattr(sys, 'argv', ['am_lfs_fmnist.py', '--arms', 'ce', '--epochs', '30', '--trunk-epochs', '5'])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 0
