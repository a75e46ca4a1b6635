"""tools/dist_train.sh takes the rendezvous port from PORT, else from an exported MASTER_PORT; on one node without
either, torchrun's --standalone rendezvous on a free port (a fixed 29500 made a second job on the node stop with
EADDRINUSE)."""
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
    base = {k: v for k, v in os.environ.items() if k not in ('PORT', 'MASTER_PORT', 'NNODES', 'MASTER_ADDR')}
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools/dist_train.sh'), 'cfg.py', '2'], check=True,
                          capture_output=True, text=True, env=dict(base, PYTHON=str(fake), **env))
    return proc.stdout


@pytest.mark.parametrize('env, port', [({'MASTER_PORT': '29611'}, '29611'),
                                       ({'PORT': '29700', 'MASTER_PORT': '29611'}, '29700'),
                                       ({'NNODES': '2', 'MASTER_ADDR': '10.0.0.1'}, '29500')])
def test_the_port_follows_port_then_master_port(tmp_path, env, port):
    """MASTER_PORT=29611 (exported for a second job on the node) was ignored: both jobs rendezvoused on 29500."""
    assert f'--master_port={port}' in _torchrun_args(tmp_path, **env)


def test_one_node_without_a_port_rendezvous_on_a_free_one(tmp_path):
    args = _torchrun_args(tmp_path).split()
    assert args[:2] == [osp.join(REPO_ROOT, 'tools/_torchrun.py'), '--standalone'], args
    assert not any('master' in a for a in args), args


@pytest.mark.parametrize('env, name, value', [({'PORT': '0'}, 'PORT', '0'), ({'MASTER_PORT': '70000'}, 'MASTER_PORT',
                                                                             '70000'),
                                              ({'PORT': '-1', 'NNODES': '2', 'MASTER_ADDR': '10.0.0.1'}, 'PORT', '-1'),
                                              ({'PORT': 'http'}, 'PORT', 'http')])
def test_a_port_that_is_no_tcp_port_is_refused_before_torchrun(tmp_path, env, name, value):
    """PORT=0 went to torchrun as --master_port=0: its store bound a random port that no other node knew (they
    waited until torchrun's timeout); 70000 stopped inside torch naming no variable."""
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k not in ('PORT', 'MASTER_PORT', 'NNODES', 'MASTER_ADDR')}
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools/dist_train.sh'), 'cfg.py', '2'], capture_output=True,
                          text=True, env=dict(base, PYTHON=str(fake), **env))
    assert proc.returncode == 2 and '_torchrun.py' not in proc.stdout, (proc.stdout, proc.stderr)
    assert f"{name}, the rendezvous port, must be a whole number from 1 to 65535, got '{value}'" in proc.stderr
