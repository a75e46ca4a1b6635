"""mmengine's mpi start-up, as automl_mm patches it (``automl_mm.engine.dist.init_dist_mpi_job``): it rendezvoused
on 29500 for every mpirun job unless ``MASTER_PORT`` was exported, so two jobs on one node collided (the later one's
rank 0 stopped with EADDRINUSE, its other ranks there joined the first job's store). A job now takes a port from its
PMIx namespace, and its ranks refuse another job's store naming the port and ``MASTER_PORT``."""
from __future__ import annotations

import datetime
import os
import socket

import pytest
from mmengine.dist import utils as dist_utils

from automl_mm.engine import dist, patches
from automl_mm.engine.dist import job_rendezvous_store, mpi_job_port


@pytest.fixture
def mpi_rank(monkeypatch):
    """Rank 1 of 2 of mpirun job 'prterun-n1-4242@1' (MASTER_ADDR=127.0.0.1), CUDA and the process group faked;
    returns what init_process_group was called with."""
    patches.install()
    for name in ('MASTER_PORT', 'WORLD_SIZE', 'RANK', 'OMPI_MCA_ess_base_jobid'):
        monkeypatch.setenv(name, '')  # recorded, so that mmengine's writes are put back
        monkeypatch.delenv(name)
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('PMIX_NAMESPACE', 'prterun-n1-4242@1')
    monkeypatch.setenv('OMPI_COMM_WORLD_RANK', '1')
    monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_RANK', '1')
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '2')
    calls = []
    monkeypatch.setattr(dist_utils.torch.cuda, 'set_device', lambda device: None)
    monkeypatch.setattr(dist_utils.torch_dist, 'init_process_group', lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.mark.parametrize('name, port', [('prterun-n1-4242@1', 19281), ('prterun-n1-4243@1', 22150),
                                        ('17', 20282), (None, None), ('', None)])
def test_the_port_of_an_mpirun_job(name, port):
    assert mpi_job_port(name) == port


def test_an_mpirun_job_rendezvous_on_its_own_port_through_a_checked_store(mpi_rank, monkeypatch):
    monkeypatch.setattr(dist, 'job_rendezvous_store', lambda *args: ('store', *args[:5]))
    dist_utils._init_dist_mpi('gloo')
    assert os.environ['MASTER_PORT'] == '19281'  # was 29500 for every job
    assert mpi_rank == [dict(backend='gloo', store=('store', '127.0.0.1', 19281, 1, 'mpirun job prterun-n1-4242@1',
                                                    datetime.timedelta(minutes=30)), rank=1, world_size=2)]


def test_a_rank_that_reaches_another_mpirun_job_s_store_is_refused(mpi_rank, monkeypatch):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    monkeypatch.setenv('MASTER_PORT', str(port))
    other = job_rendezvous_store('127.0.0.1', port, 0, 'mpirun job prterun-n1-77@1', datetime.timedelta(seconds=20),
                                 'mpi', '')
    with pytest.raises(RuntimeError, match=rf"--launcher mpi: the rendezvous store at 127.0.0.1:{port} is mpirun job "
                                           r"prterun-n1-77@1's, not this one's \(mpirun job prterun-n1-4242@1, rank 1\)"
                                           r'.*export MASTER_PORT'):
        dist_utils._init_dist_mpi('gloo', timeout=datetime.timedelta(seconds=20))
    assert mpi_rank == [] and other.get('automl_mm/rendezvous_job') == b'mpirun job prterun-n1-77@1'
