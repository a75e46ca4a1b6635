"""A loopback MASTER_ADDR (``export MASTER_ADDR=localhost`` left from single-node runs: srun passes the submitting
shell's environment to every task, and mmengine keeps a MASTER_ADDR it finds) on a job of several nodes sent the
ranks of every node but the first to wait for a rendezvous on themselves until the process-group timeout; it is
refused at start, naming MASTER_ADDR (``tools/dist_train.sh`` refuses it for torchrun itself)."""
from __future__ import annotations

import os
import os.path as osp
import subprocess

import pytest

from automl_mm.engine import launch

from conftest import REPO_ROOT


@pytest.fixture
def srun_task(monkeypatch):
    """Task 0 of 4 of an srun step on 2 nodes."""
    for name, value in (('SLURM_PROCID', '0'), ('SLURM_NTASKS', '4'), ('SLURM_STEP_NUM_TASKS', '4'),
                        ('SLURM_NODELIST', 'node[01-02]'), ('SLURM_STEP_NUM_NODES', '2')):
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize('address', ['127.0.0.1', 'localhost', '::1', '127.0.1.1'])
def test_slurm_on_two_nodes_refuses_a_loopback_master_addr(srun_task, address):
    srun_task.setenv('MASTER_ADDR', address)
    with pytest.raises(RuntimeError, match=rf'--launcher slurm on 2 nodes \(SLURM_STEP_NUM_NODES\) with '
                                           rf'MASTER_ADDR={address} in the environment.*unset it'):
        launch.check_slurm_environment('slurm', 'tools/train.py')


@pytest.mark.parametrize('nodes, address', [('1', '127.0.0.1'), ('2', 'node01'), ('2', '10.0.0.1'), ('2', None)])
def test_one_node_or_a_reachable_address_passes(srun_task, nodes, address):
    srun_task.setenv('SLURM_STEP_NUM_NODES', nodes)
    if address is None:
        srun_task.delenv('MASTER_ADDR', raising=False)
    else:
        srun_task.setenv('MASTER_ADDR', address)
    launch.check_slurm_environment('slurm', 'tools/train.py')


def test_mpirun_on_two_nodes_refuses_a_loopback_master_addr(monkeypatch):
    for name, value in (('OMPI_COMM_WORLD_RANK', '0'), ('OMPI_COMM_WORLD_LOCAL_RANK', '0'),
                        ('OMPI_COMM_WORLD_SIZE', '4'), ('OMPI_COMM_WORLD_LOCAL_SIZE', '2'),
                        ('MASTER_ADDR', '127.0.0.1')):
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=r'--launcher mpi on 2 nodes .*MASTER_ADDR=127\.0\.0\.1'):
        launch.check_slurm_environment('mpi', 'tools/train.py')
    monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_SIZE', '4')  # one node
    launch.check_slurm_environment('mpi', 'tools/train.py')


@pytest.mark.parametrize('address', ['127.0.0.1', 'localhost'])
def test_dist_train_on_two_nodes_refuses_a_loopback_master_addr(tmp_path, address):
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ('PORT', 'MASTER_PORT')}
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools/dist_train.sh'), 'cfg.py', '2'], capture_output=True,
                          text=True, env=dict(env, PYTHON=str(fake), NNODES='2', NODE_RANK='1', MASTER_ADDR=address))
    assert proc.returncode == 2 and proc.stdout == ''
    assert f'NNODES=2 needs MASTER_ADDR to be the address of node 0 that every node reaches, not {address}' in \
        proc.stderr
