"""tools/dist_train.sh takes the rendezvous port from PORT, else from an exported MASTER_PORT."""
from __future__ import annotations

import os
import os.path as osp
import subprocess

import pytest

from conftest import REPO_ROOT


def _torchrun_args(tmp_path, **env) -> str:
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "$@"\n')  # prints the torchrun command line instead of running it
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k not in ('PORT', 'MASTER_PORT')}
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools/dist_train.sh'), 'cfg.py', '2'], check=True,
                          capture_output=True, text=True, env=dict(base, PYTHON=str(fake), **env))
    return proc.stdout


@pytest.mark.parametrize('env, port', [({}, '29500'), ({'MASTER_PORT': '29611'}, '29611'),
                                       ({'PORT': '29700', 'MASTER_PORT': '29611'}, '29700')])
def test_the_port_follows_port_then_master_port(tmp_path, env, port):
    """MASTER_PORT=29611 (exported for a second job on the node) was ignored: both jobs rendezvoused on 29500."""
    assert f'--master_port={port}' in _torchrun_args(tmp_path, **env)
