"""Every benchmark run by a Python without the OpenMMLab stack (``python benchmarks/am_lfs_digits.py`` typed before
``source ~/.cache/automl_mm/venv-py3.11/bin/activate``) names the environment to use, as the tools do
(``tools/_early_cli.py``'s ``require_stack``, shared through ``benchmarks/_stack.py``): they stopped with a traceback
ending in ``ModuleNotFoundError: No module named 'torch'`` (or ``'mmengine'``, ``'cv2'``, from their helpers). The
Python here is the project's own started with ``-S`` (no site-packages: no torch, mmengine, mmdet, mmcv; automl_mm
only through ``PYTHONPATH``), as in ``test_tool_environment.py``."""
from __future__ import annotations

import glob
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

SCRIPTS = sorted(osp.basename(path) for path in glob.glob(osp.join(REPO_ROOT, 'benchmarks', '*.py'))
                 if not osp.basename(path).startswith('_'))


def _run(script: str, cwd: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(variables, PYTHONPATH=REPO_ROOT)
    return subprocess.run([sys.executable, '-S', script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_scripts_are_found():
    assert {'am_lfs_digits.py', 'pc_nas_ranking_fmnist.py', 'augment_check_cost.py'} <= set(SCRIPTS)


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_python_without_the_stack_is_told_which_environment_to_use(script, tmp_path):
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True)
    (venv / 'bin' / 'python').write_text('')
    proc = _run(osp.join('benchmarks', script), REPO_ROOT, AUTOML_MM_VENV=str(venv))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    err = proc.stderr.strip()
    assert err.startswith(f'benchmarks/{script}: error: this Python ({sys.executable}) cannot import torch, '
                          'mmengine, mmdet, mmcv'), err
    assert f'source {venv}/bin/activate' in err and f'{venv}/bin/python benchmarks/{script}' in err, err


def test_a_benchmark_started_from_another_folder_is_named_as_typed(tmp_path):
    """Outside the repository the script is named by the path typed, so that the fix's ``<venv>/bin/python
    <script>`` runs it from there too."""
    script = osp.join(REPO_ROOT, 'benchmarks', 'am_lfs_digits.py')
    proc = _run(script, str(tmp_path), AUTOML_MM_VENV=str(tmp_path / 'none'))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f'{script}: error: this Python ({sys.executable}) cannot import torch'), proc.stderr
    assert 'make install' in proc.stderr and str(tmp_path / 'none') in proc.stderr, proc.stderr
