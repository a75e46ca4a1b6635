"""The tools run by a Python without the OpenMMLab stack (``python tools/train.py ...`` as the README writes it,
typed before ``source ~/.cache/automl_mm/venv-py3.11/bin/activate``) say which environment to use: they stopped
with ``ModuleNotFoundError: No module named 'torch'`` and a traceback into ``tools/train.py``. The Python here is the
project's own started with ``-S`` (no site-packages: no torch, mmengine, mmdet, mmcv; automl_mm only through
``PYTHONPATH``)."""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO_ROOT


def _run(tool: str, pythonpath: str | None, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(variables)
    if pythonpath is not None:
        env['PYTHONPATH'] = pythonpath
    argv = ['--out', 'x.json'] if tool == 'measure_latency' else []
    return subprocess.run([sys.executable, '-S', osp.join('tools', f'{tool}.py'),
                           'configs/baselines/baseline_convnet_1x1_30e_digits.py', *argv,
                           *(['missing.pth'] if tool == 'test' else [])],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('tool', ['train', 'test', 'measure_latency', 'data/generate_coco', 'data/generate_fmnist_det',
                                  'data/split_coco'])
def test_a_python_without_the_stack_is_told_which_environment_to_use(tool, tmp_path):
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True)
    (venv / 'bin' / 'python').write_text('')
    proc = _run(tool, REPO_ROOT, AUTOML_MM_VENV=str(venv))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    err = proc.stderr.strip()
    assert err.startswith(f'tools/{tool}.py: error: this Python ({sys.executable}) cannot import torch, mmengine, '
                          'mmdet, mmcv'), err
    assert f'source {venv}/bin/activate' in err and f'{venv}/bin/python tools/{tool}.py' in err, err


def test_without_the_project_s_environment_it_says_how_to_make_it(tmp_path):
    proc = _run('train', REPO_ROOT, AUTOML_MM_VENV=str(tmp_path / 'none'))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'make install' in proc.stderr and 'tools/install.sh' in proc.stderr, proc.stderr
    assert str(tmp_path / 'none') in proc.stderr, proc.stderr


def test_automl_mm_alone_not_importable_is_named_with_its_fix(tmp_path):
    """The stack on the path (this Python's site-packages, without their .pth files: no editable automl_mm)."""
    import torch

    site_packages = osp.dirname(osp.dirname(osp.abspath(torch.__file__)))  # site-packages, dist-packages, ...
    proc = _run('train', site_packages, AUTOML_MM_VENV=str(tmp_path / 'none'))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert ') cannot import automl_mm: ' in proc.stderr, proc.stderr
    assert f'PYTHONPATH={REPO_ROOT}' in proc.stderr and 'pip install -e .' in proc.stderr, proc.stderr


def test_the_project_s_environment_itself_lacking_the_stack_is_told_to_finish_its_install():
    """This Python is the environment tools/install.sh made (its install stopped before a package, say at the mmcv
    build): the tools told it to activate itself (``source <venv>/bin/activate first, or <venv>/bin/python ...``)."""
    venv = osp.dirname(osp.dirname(sys.executable))
    if not osp.isfile(osp.join(venv, 'bin', 'python')):
        pytest.skip(f'{sys.executable} is not <venv>/bin/python')
    proc = _run('train', REPO_ROOT, AUTOML_MM_VENV=venv)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert 'activate' not in proc.stderr and f'{venv}/bin/python tools/train.py' not in proc.stderr, proc.stderr
    assert f'it is the environment tools/install.sh made, {venv}' in proc.stderr, proc.stderr
    assert 'make install' in proc.stderr and 'tools/install.sh' in proc.stderr, proc.stderr
