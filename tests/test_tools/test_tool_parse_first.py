"""``tools/train.py`` and ``tools/test.py`` parse their command line before they import automl_mm, torch, mmengine's
runner and mmdet: ``python tools/train.py --help`` and a mistyped option waited for some 3 s of imports (6-10 s on
2 busy cores) before argparse answered. The parser's parts (:mod:`automl_mm.engine.tool_cli`) are executed alone
for that parse; ``main`` parses again with automl_mm's own. (The seconds are measured, not asserted: what is asserted
is that nothing heavy was imported when argparse answered; a valid command line runs the tool as the other tests of
``tools/`` show.)"""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

# run as ``python tools/<name>.py ...`` would, then name what is imported when argparse exits
PROBE = '''
import runpy, sys
sys.argv = [sys.argv[1], *sys.argv[2:]]
sys.path.insert(0, __import__('os.path').path.dirname(sys.argv[0]))
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
finally:
    heavy = sorted(m for m in ('torch', 'automl_mm', 'mmdet', 'mmengine.runner') if m in sys.modules)
    sys.stderr.write(f'IMPORTED {heavy}\\n')
'''


def _run(name: str, *argv: str, **variables: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])),
               **variables)
    return subprocess.run([sys.executable, '-c', PROBE, osp.join(REPO_ROOT, 'tools', f'{name}.py'), *argv],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize('name', ['train', 'test'])
@pytest.mark.parametrize('argv, status, said', [
    (['--help'], 0, 'usage: '),
    (['cfg.py', 'x.pth', '--cfg-options', 'a.b'], 2, "'a.b' has no \"=\""),  # automl_mm's CfgOptionsAction
    (['cfg.py', 'x.pth', '--launcher', 'nowhere'], 2, "invalid choice: 'nowhere'"),
])
def test_the_command_line_is_answered_before_the_heavy_imports(name, argv, status, said):
    if name == 'train':
        argv = [a for a in argv if a != 'x.pth']
    done = _run(name, *argv)
    assert done.returncode == status, done.stderr[-2000:]
    assert said in done.stdout + done.stderr
    assert 'IMPORTED []' in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize('argv, status, said', [
    (['--help'], 0, 'usage: '),
    (['cfg.py'], 2, 'the following arguments are required: --out'),
    (['cfg.py', '--out', 'x.json', '--cfg-options', 'a.b'], 2, "'a.b' has no \"=\""),  # automl_mm's CfgOptionsAction
    (['cfg.py', '--out', 'x.json', '--repeats', '0'], 2, '--repeats must be >= 1, got 0'),
])
def test_measure_latency_answers_its_command_line_before_the_heavy_imports(argv, status, said):
    """``tools/measure_latency.py`` imported torch, mmengine and automl_mm before argparse (some 4 s for ``--help``),
    as train / test did before they parsed first."""
    done = _run('measure_latency', *argv)
    assert done.returncode == status, done.stderr[-2000:]
    assert said in done.stdout + done.stderr
    assert 'IMPORTED []' in done.stderr, done.stderr[-2000:]


def test_measure_latency_help_shows_the_default_thread_count_of_automl_mm():
    """The early parse reads ``--num-threads``' default from :mod:`automl_mm.nas.latency` without importing it."""
    from automl_mm.nas.latency import DEFAULT_LATENCY_THREADS

    done = _run('measure_latency', '--help')
    assert f'(default: {DEFAULT_LATENCY_THREADS})' in ' '.join(done.stdout.split()), done.stdout


@pytest.mark.parametrize('name', ['train', 'test'])
@pytest.mark.parametrize('launcher, variables, said', [
    ('pytorch', dict(WORLD_SIZE='two', RANK='0', LOCAL_RANK='0'), "WORLD_SIZE='two' is not an integer"),
    ('pytorch', dict(WORLD_SIZE='2', RANK='x', LOCAL_RANK='0'), "RANK='x' is not an integer"),
    ('none', dict(LOCAL_RANK='zero'), "LOCAL_RANK='zero' is not an integer"),
])
def test_a_non_integer_rank_variable_is_refused_by_name_before_the_heavy_imports(name, launcher, variables, said):
    """``WORLD_SIZE=two`` under ``--launcher pytorch`` stopped in the ranks' config agreement with a bare
    ``ValueError: invalid literal for int() with base 10: 'two'``, ``RANK=x`` in torch's rendezvous, ``LOCAL_RANK=zero``
    (any launcher) in mmengine's logger: each a traceback naming no variable."""
    argv = ['cfg.py', *([] if name == 'train' else ['x.pth']), '--launcher', launcher]
    done = _run(name, *argv, **variables)
    assert done.returncode == 2, done.stderr[-2000:]
    assert said in done.stderr and 'Traceback' not in done.stderr, done.stderr[-2000:]
    assert 'IMPORTED []' in done.stderr, done.stderr[-2000:]
