"""mmengine's slurm start-up rendezvous on 29500 unless ``MASTER_PORT`` (``tools/slurm_train.sh``'s ``PORT``) or
``dist_cfg.port`` names another: two slurm jobs sharing a node (4 GPUs each on an 8-GPU node) put their rank 0 on
the same port, and the second stopped with EADDRINUSE. Each job now takes 15000 + its id's last four digits
(PyTorch Lightning's rule)."""
from __future__ import annotations

import pytest
from mmengine.dist import utils as dist_utils

from automl_mm.engine import patches
from automl_mm.engine.dist import slurm_job_port


@pytest.fixture
def slurm_task(monkeypatch):
    """The environment of srun's task 0 of 2 in job 4321987, with mmengine's CUDA, scontrol and process-group calls
    faked; returns what ``init_process_group`` was called with."""
    patches.install()
    for name in ('MASTER_PORT', 'MASTER_ADDR', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)  # mmengine sets them; restored after the test
    monkeypatch.setenv('SLURM_PROCID', '0')
    monkeypatch.setenv('SLURM_NTASKS', '2')
    monkeypatch.setenv('SLURM_LOCALID', '0')
    monkeypatch.setenv('SLURM_NODELIST', 'node[01-02]')
    monkeypatch.setenv('SLURM_JOB_ID', '4321987')
    calls = []
    monkeypatch.setattr(dist_utils, 'is_mlu_available', lambda: False)
    monkeypatch.setattr(dist_utils.torch.cuda, 'set_device', lambda device: None)
    monkeypatch.setattr(dist_utils.subprocess, 'getoutput', lambda command: 'node01')
    monkeypatch.setattr(dist_utils.torch_dist, 'init_process_group', lambda **kwargs: calls.append(kwargs))
    return calls


def test_a_slurm_job_rendezvous_on_its_own_port(slurm_task, monkeypatch):
    dist_utils._init_dist_slurm('gloo')
    assert dist_utils.os.environ['MASTER_PORT'] == '16987' and slurm_task == [dict(backend='gloo')]
    assert dist_utils.os.environ['MASTER_ADDR'] == 'node01'


@pytest.mark.parametrize('master_port, port, expected', [('29611', None, '29611'), (None, 29700, '29700')])
def test_a_port_the_user_names_is_kept(slurm_task, monkeypatch, master_port, port, expected):
    if master_port:
        monkeypatch.setenv('MASTER_PORT', master_port)
    dist_utils._init_dist_slurm('gloo', **({} if port is None else {'port': port}))
    assert dist_utils.os.environ['MASTER_PORT'] == expected


@pytest.mark.parametrize('job_id, port', [('4321987', 16987), ('12', 15012), ('', None), (None, None),
                                          ('123_4', None)])
def test_the_port_of_a_job_id(job_id, port):
    assert slurm_job_port(job_id) == port
