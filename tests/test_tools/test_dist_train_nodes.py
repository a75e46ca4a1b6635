"""tools/dist_train.sh / dist_test.sh on several nodes need MASTER_ADDR: without it every node rendezvoused on
127.0.0.1, its own address, so node 1 (NNODES=2 NODE_RANK=1) waited for a node 0 that was not there until
torchrun's store timed out, minutes later, instead of stopping at once naming the variable."""
from __future__ import annotations

import os
import os.path as osp
import subprocess

import pytest

from conftest import REPO_ROOT


def _run(tmp_path, script: str, **env) -> subprocess.CompletedProcess:
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "$@"\n')  # prints the torchrun command line instead of running it
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items()
            if k not in ('NNODES', 'NODE_RANK', 'MASTER_ADDR', 'PORT', 'MASTER_PORT')}
    args = ['cfg.py', '2'] if script == 'dist_train.sh' else ['cfg.py', 'ckpt.pth', '2']
    return subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args], capture_output=True, text=True,
                          env=dict(base, PYTHON=str(fake), **env))


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
def test_several_nodes_without_master_addr_are_refused_naming_it(tmp_path, script):
    proc = _run(tmp_path, script, NNODES='2', NODE_RANK='1')
    assert proc.returncode == 2 and proc.stdout == ''
    assert 'NNODES=2 needs MASTER_ADDR, the address of node 0' in proc.stderr


@pytest.mark.parametrize('env, addr', [({'PORT': '29611'}, '127.0.0.1'),
                                       ({'NNODES': '1', 'PORT': '29611'}, '127.0.0.1'),
                                       ({'NNODES': '2', 'NODE_RANK': '1', 'MASTER_ADDR': '10.0.0.1'}, '10.0.0.1')])
def test_one_node_keeps_the_local_default_and_several_take_the_given_address(tmp_path, env, addr):
    proc = _run(tmp_path, 'dist_train.sh', **env)
    assert proc.returncode == 0 and f'--master_addr={addr}' in proc.stdout
