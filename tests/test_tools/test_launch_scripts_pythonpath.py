"""The launch scripts put the repository on PYTHONPATH without an empty entry: with PYTHONPATH unset they exported
"$ROOT:", whose empty entry is the working directory, on sys.path before site-packages, so a folder ``mmdet/`` (a
source checkout of another version) in the directory a job was started from replaced the installed mmdet in every
process, silently."""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

FAKE = '#!/bin/sh\nprintf "%s" "$PYTHONPATH" > "$LOG"\n'  # records the PYTHONPATH the processes get


def _pythonpath(tmp_path, script: str, args: list[str], **env: str) -> str:
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('srun', 'python'):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    full = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PORT', 'MASTER_PORT', 'NNODES')}
    full.update(PATH=f'{bin_dir}:{os.environ["PATH"]}', PYTHON=str(bin_dir / 'python'), LOG=str(tmp_path / 'log'),
                **env)
    subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args], cwd=tmp_path, env=full, check=True,
                   capture_output=True, text=True, timeout=60)
    return (tmp_path / 'log').read_text()


@pytest.mark.parametrize('script, args', [('dist_train.sh', ['cfg.py', '2']),
                                          ('dist_test.sh', ['cfg.py', 'ckpt.pth', '2']),
                                          ('slurm_train.sh', ['gpu', 'job', 'cfg.py', 'work']),
                                          ('slurm_test.sh', ['gpu', 'job', 'cfg.py', 'ckpt.pth'])])
def test_an_unset_pythonpath_becomes_the_repository_alone(tmp_path, script, args):
    (tmp_path / 'unset').mkdir()
    (tmp_path / 'set').mkdir()
    assert _pythonpath(tmp_path / 'unset', script, args) == REPO_ROOT  # was REPO_ROOT + ':'
    assert _pythonpath(tmp_path / 'set', script, args, PYTHONPATH='/opt/mine') == f'{REPO_ROOT}:/opt/mine'


def test_a_trailing_empty_entry_would_import_the_working_directorys_package(tmp_path):
    """What the empty entry did: a script's import found the working directory's mmdet before the installed one."""
    (tmp_path / 'mmdet').mkdir()
    (tmp_path / 'mmdet' / '__init__.py').write_text('')
    probe = 'import mmdet, sys; print(mmdet.__file__)'
    (tmp_path / 'probe_dir').mkdir()
    (tmp_path / 'probe_dir' / 'probe.py').write_text(probe)
    found = {}
    for entry in (f'{REPO_ROOT}:', REPO_ROOT):
        found[entry] = subprocess.run([sys.executable, str(tmp_path / 'probe_dir' / 'probe.py')], cwd=tmp_path,
                                      env=dict(os.environ, PYTHONPATH=entry), capture_output=True, text=True,
                                      check=True).stdout.strip()
    assert found[f'{REPO_ROOT}:'] == str(tmp_path / 'mmdet' / '__init__.py')
    assert found[REPO_ROOT] != str(tmp_path / 'mmdet' / '__init__.py')
