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
    assert args[:3] == ['-m', 'torch.distributed.run', '--standalone'] and not any('master' in a for a in args)
