"""mmengine's slurm start-up, as automl_mm patches it (``automl_mm.engine.dist.init_dist_slurm_job``).

* It rendezvoused on 29500 unless ``MASTER_PORT`` (``tools/slurm_train.sh``'s ``PORT``) or ``dist_cfg.port`` named
  another: two slurm jobs sharing a node (4 GPUs each on an 8-GPU node) put their rank 0 on the same port, and the
  second stopped with EADDRINUSE. Each job now takes 15000 + its id's last four digits (PyTorch Lightning's rule).
* It found ``MASTER_ADDR`` with ``sh -c 'scontrol show hostname node[01-03,07] | head -n1'``: without scontrol (a task
  in a container) the address was the shell's error message, and the unquoted node list is a glob that a file
  ``node7`` in the working directory replaced. scontrol now runs without a shell, and a missing one is named.
* Jobs 10000 apart take the same port: on one node the second's rank 0 stopped with torch's bare EADDRINUSE while its
  other tasks there had joined the first job's store. Rank 0's store now names its job step, and both sides are
  refused at once, naming the port and PORT / MASTER_PORT.
"""
from __future__ import annotations

import datetime
import os
import socket
import time

import pytest
import torch.distributed as torch_dist
from mmengine.dist import utils as dist_utils
from torch.distributed.elastic.utils.distributed import get_free_port

from automl_mm.engine import dist, patches
from automl_mm.engine.dist import slurm_job_port, slurm_rendezvous_store

FAKE_SCONTROL = """#!/bin/sh
# scontrol show hostnames LIST: the hosts of node[01-03,07] or node[03,07], else LIST itself (what a glob left of it)
case "$3" in
  'node[01-03,07]') printf 'node01\\nnode02\\nnode03\\nnode07\\n' ;;
  'node[03,07]') printf 'node03\\nnode07\\n' ;;
  *) echo "$3" ;;
esac
"""


@pytest.fixture
def slurm_task(monkeypatch, tmp_path):
    """The environment of srun's task 0 of 2 in job 4321987 on node[01-03,07], run from a directory that holds a
    file ``node7``, with a fake scontrol on PATH and mmengine's CUDA and process-group calls faked; returns what
    ``init_process_group`` was called with."""
    patches.install()
    for name in ('MASTER_PORT', 'MASTER_ADDR', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'SLURM_STEP_ID',
                 'SLURM_STEP_NODELIST'):
        # mmengine sets the first five in os.environ: setenv first, so that monkeypatch records the variable (an
        # unset one too) and puts it back after the test; delenv alone records nothing for a variable that is
        # unset, and WORLD_SIZE=2 leaked into every later test of the worker (tools/test.py refused to run)
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    monkeypatch.setenv('SLURM_PROCID', '0')
    monkeypatch.setenv('SLURM_NTASKS', '2')
    monkeypatch.setenv('SLURM_LOCALID', '0')
    monkeypatch.setenv('SLURM_NODELIST', 'node[01-03,07]')
    monkeypatch.setenv('SLURM_JOB_ID', '4321987')
    (tmp_path / 'bin').mkdir()
    (tmp_path / 'bin' / 'scontrol').write_text(FAKE_SCONTROL)
    (tmp_path / 'bin' / 'scontrol').chmod(0o755)
    monkeypatch.setenv('PATH', f'{tmp_path / "bin"}:{os.environ["PATH"]}')
    (tmp_path / 'node7').write_text('')
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(dist, 'slurm_rendezvous_store', lambda *args: ('store', *args))
    monkeypatch.setattr(dist_utils, 'is_mlu_available', lambda: False)
    monkeypatch.setattr(dist_utils.torch.cuda, 'set_device', lambda device: None)
    monkeypatch.setattr(dist_utils.torch_dist, 'init_process_group', lambda **kwargs: calls.append(kwargs))
    return calls


def test_a_slurm_job_rendezvous_on_its_own_port_at_its_first_node(slurm_task):
    dist_utils._init_dist_slurm('gloo')
    store = ('store', 'node01', 16987, 0, '4321987.', datetime.timedelta(minutes=30))  # torch's default timeout
    assert os.environ['MASTER_PORT'] == '16987'
    assert slurm_task == [dict(backend='gloo', store=store, rank=0, world_size=2)]
    assert os.environ['MASTER_ADDR'] == 'node01'  # mmengine's shell expanded node[01-03,07] to the file node7


@pytest.mark.parametrize('master_port, port, expected', [('29611', None, '29611'), (None, 29700, '29700')])
def test_a_port_the_user_names_is_kept(slurm_task, monkeypatch, master_port, port, expected):
    if master_port:
        monkeypatch.setenv('MASTER_PORT', master_port)
    monkeypatch.setenv('MASTER_ADDR', 'head-ib')  # kept too
    dist_utils._init_dist_slurm('gloo', **({} if port is None else {'port': port}))
    assert (os.environ['MASTER_PORT'], os.environ['MASTER_ADDR']) == (expected, 'head-ib')


def test_a_task_without_scontrol_is_told_to_set_master_addr(slurm_task, monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))  # a container without slurm's tools
    with pytest.raises(RuntimeError, match=r'scontrol show hostnames node\[01-03,07\]`, which could not run here .*'
                                           r'export MASTER_ADDR'):
        dist_utils._init_dist_slurm('gloo')
    assert slurm_task == []  # mmengine's MASTER_ADDR was '/bin/sh: 1: scontrol: not found'


@pytest.mark.parametrize('job_id, step_id, port', [
    ('4321987', None, 16987), ('4321987', '0', 16987), ('4321988', '0', 16988), ('4321987', '1', 17087),
    ('9999', '1', 15099), ('12', 'batch', 15012), ('', '0', None), (None, None, None), ('123_4', '0', None),
    ('1234', '0', 16234), ('11234', '0', 16234), ('1334', '0', 16334), ('1234', '1', 16334)])  # collisions
def test_the_port_of_a_job_and_step(job_id, step_id, port):
    assert slurm_job_port(job_id, step_id) == port


def test_a_second_step_of_the_job_rendezvous_at_its_own_first_node_and_port(slurm_task, monkeypatch):
    """Two steps of one 4-node job at once (srun -N 2 ... & twice): the second, step 1 on node03 and node07, went
    to node01 (SLURM_NODELIST, the job's), where the first step's rendezvous ran on the same port."""
    monkeypatch.setenv('SLURM_STEP_ID', '1')
    monkeypatch.setenv('SLURM_STEP_NODELIST', 'node[03,07]')
    dist_utils._init_dist_slurm('gloo')
    assert (os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == ('node03', '17087')




TIMEOUT = datetime.timedelta(seconds=20)


def test_rank_0_names_a_port_that_another_job_holds():
    """Job 11234 takes job 1234's port, 16234, on a node where job 1234's rank 0 listens (a free port here)."""
    with socket.socket() as other_job:
        other_job.bind(('', 0))
        other_job.listen()
        port = other_job.getsockname()[1]
        with pytest.raises(RuntimeError, match=rf'rendezvous port {port} is in use on 127.0.0.1 \(rank 0, .*another '
                                               r'job, or a program, listens on it; the port comes from MASTER_PORT, '
                                               r'dist_cfg.port or SLURM_JOB_ID / SLURM_STEP_ID \(this step: '
                                               r'11234.0.*set PORT .* or MASTER_PORT'):
            slurm_rendezvous_store('127.0.0.1', port, 0, '11234.0', TIMEOUT)


def test_a_task_that_reaches_another_job_s_store_is_refused_at_once_and_writes_nothing():
    port = get_free_port()
    first_job = slurm_rendezvous_store('127.0.0.1', port, 0, '1234.0', TIMEOUT)
    keys = first_job.num_keys()
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"store at 127.0.0.1:{port} is slurm job step 1234.0's, not this one's "
                                           r'\(slurm job step 11234.0, rank 1\): two jobs on 127.0.0.1 took the same '
                                           r'port;.*PORT'):
        slurm_rendezvous_store('127.0.0.1', port, 1, '11234.0', TIMEOUT)
    assert time.monotonic() - start < 10 and first_job.num_keys() == keys  # not the 20 s timeout; no key written


def test_a_store_that_names_no_job_step_is_refused_after_the_timeout():
    port = get_free_port()
    program = torch_dist.TCPStore('127.0.0.1', port, None, True, TIMEOUT, wait_for_workers=False)  # noqa: F841
    with pytest.raises(RuntimeError, match=rf'store at 127.0.0.1:{port} named no job within 1 s '
                                           r'\(rank 1\): another program may listen on the port'):
        slurm_rendezvous_store('127.0.0.1', port, 1, '1234.0', datetime.timedelta(seconds=1))


def test_the_job_s_own_store_starts_its_process_group():
    store = slurm_rendezvous_store('127.0.0.1', get_free_port(), 0, '1234.0', TIMEOUT)
    torch_dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    try:
        assert (torch_dist.get_rank(), torch_dist.get_world_size()) == (0, 1)
    finally:
        torch_dist.destroy_process_group()
