"""tools/install.sh: idempotent when up to date, and a failing step is named."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

INSTALL = os.path.join(REPO_ROOT, 'tools', 'install.sh')


@pytest.mark.skipif(not os.path.isfile(os.path.join(sys.prefix, '.automl_mm_stamp')),
                    reason='runs only inside the environment tools/install.sh manages')
def test_second_install_is_a_no_op():
    env = dict(os.environ, AUTOML_MM_VENV=sys.prefix)
    proc = subprocess.run(['bash', INSTALL], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'environment up to date' in proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == os.path.join(sys.prefix, 'bin', 'python')


@pytest.mark.slow
def test_failed_step_is_named_and_stops(tmp_path):
    # No package index: creating the venv works offline, installing torch cannot.
    env = dict(os.environ, AUTOML_MM_HOME=str(tmp_path), PIP_NO_INDEX='1', PIP_FIND_LINKS='',
               PIP_CONFIG_FILE=os.devnull)
    env.pop('AUTOML_MM_VENV', None)
    proc = subprocess.run(['bash', INSTALL], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "FAILED at step 'install torch (requirements/torch.txt)'" in proc.stderr
    assert (tmp_path / 'logs' / 'torch.log').is_file()
    assert not (tmp_path / f'venv-py{sys.version_info[0]}.{sys.version_info[1]}' / '.automl_mm_stamp').exists()
