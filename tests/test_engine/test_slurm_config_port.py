"""The port the ranks meet at to agree on the reading of the config (``dist.launcher_rendezvous``, before the config
is read) and the port the process group then starts at (``dist.init_dist_slurm_job``, from ``env_cfg.dist_cfg.port``).

Both derive the port with one function (:func:`dist.slurm_rendezvous_port`): without ``dist_cfg.port`` they are one.
mmengine's ``_init_dist_slurm`` takes ``dist_cfg.port`` before ``MASTER_PORT``, and OpenMMLab documents it as the way to
run two slurm jobs on one node (``tools/slurm_train.sh ... --cfg-options env_cfg.dist_cfg.port=29501``); the agreement
cannot read it (a rank that failed to read its config must still find the others), so where the config names another
port the process group starts there and rank 0 serves both stores (be1e7d5 refused such a config on every rank).
Under torchrun and mpirun mmengine passes ``dist_cfg.port`` to ``init_process_group``, which takes none
(``TypeError: ... unexpected keyword argument 'port'``): refused by name."""
from __future__ import annotations

import json
import os
import os.path as osp

import pytest
from _forked_ranks import fork_ranks, outcome
from torch.distributed.elastic.utils.distributed import get_free_port

from automl_mm.engine import dist

WHAT = 'tools/train.py: reading the config file'
SLURM = dict(SLURM_PROCID='{rank}', SLURM_NTASKS='2', SLURM_JOB_ID='4321987', SLURM_STEP_ID='0',
             MASTER_ADDR='127.0.0.1')


def _rank(rank: int, tmp: str, port: int) -> None:
    from automl_mm.engine.rank_agreement import reading_config_together

    os.environ.update({k: v.format(rank=rank) for k, v in SLURM.items()})
    cfg = dict(env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=20, port=port)))
    found = outcome(lambda: reading_config_together(lambda: cfg, 'slurm', WHAT))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)


@pytest.fixture
def srun_env(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'TORCHELASTIC_USE_AGENT_STORE',
                 'SLURM_STEP_NODELIST', 'SLURM_NODELIST'):
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    return monkeypatch


def _rank_starting_the_group(rank: int, tmp: str, port: int) -> None:
    """:func:`_rank`'s reading of the config, then the process group started from it as ``join_process_group`` starts
    it (mmengine's ``init_dist('slurm', **dist_cfg)``, patched), and one all-reduce in it."""
    import torch
    import torch.distributed as torch_dist
    from mmengine.dist import init_dist
    from mmengine.dist import utils as dist_utils

    from automl_mm.engine import patches
    from automl_mm.engine.rank_agreement import reading_config_together

    patches.install()
    dist_utils.torch.cuda.set_device = lambda device: None  # mmengine's slurm start-up sets the task's GPU
    os.environ.update({k: v.format(rank=rank) for k, v in SLURM.items()})
    os.environ.update(SLURM_NODELIST='localhost', SLURM_LOCALID=str(rank))
    cfg = dict(env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=20, port=port)))

    def start() -> None:
        read = reading_config_together(lambda: cfg, 'slurm', WHAT)
        init_dist('slurm', **read['env_cfg']['dist_cfg'])
        total = torch.ones(1)
        torch_dist.all_reduce(total)
        assert total.item() == 2, total
        torch_dist.barrier()
        torch_dist.destroy_process_group()

    found = outcome(start)
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump([found, os.environ.get('MASTER_PORT')], f)


def test_a_config_port_other_than_the_ranks_meeting_port_starts_the_process_group_there(tmp_path, srun_env):
    """OpenMMLab's documented way to run two slurm jobs on one node: ``tools/slurm_train.sh ... --cfg-options
    env_cfg.dist_cfg.port=29501`` (or ``env_cfg = dict(dist_cfg=dict(backend='nccl', port=29501))`` in the config),
    which stock mmengine's ``_init_dist_slurm`` honours before ``MASTER_PORT``. It was refused on every rank since the
    ranks had met at another port (``MASTER_PORT`` here, the job's port without it) to agree on the reading of the
    config; the process group now starts at the config's port, as under mmengine, and rank 0 serves both."""
    met = get_free_port()
    other = get_free_port()
    srun_env.setenv('MASTER_PORT', str(met))
    fork_ranks(_rank_starting_the_group, (str(tmp_path), other), timeout=60)
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert other != met and found == [[None, str(other)], [None, str(other)]], (met, other, found)


def test_a_config_port_equal_to_the_meeting_port_passes(tmp_path, srun_env):
    met = get_free_port()
    srun_env.setenv('MASTER_PORT', str(met))
    fork_ranks(_rank, (str(tmp_path), met), timeout=60)
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert found == [None, None], found  # outcome: None where the call returned


@pytest.mark.parametrize('env, port', [({}, None), ({'MASTER_PORT': '29611'}, None), ({}, 16987),
                                       ({'MASTER_PORT': '29611'}, 29611), ({'MASTER_PORT': ''}, None),
                                       ({'SLURM_JOB_ID': ''}, None)])
def test_the_agreement_and_the_process_group_derive_one_port(srun_env, env, port):
    """What the agreement's store (``launcher_rendezvous``, without the config) and the process group's
    (``init_dist_slurm_job``, given ``dist_cfg.port``) are opened at, where the config's port is accepted."""
    for key, value in dict(SLURM, **env).items():
        srun_env.setenv(key, value.format(rank=1))
    opened = []
    srun_env.setattr(dist, 'slurm_rendezvous_store', lambda addr, at, *args: opened.append(at) or 'store')
    srun_env.setattr(dist, '_ORIGINAL_SLURM', lambda *args, **kwargs: None)
    dist.launcher_rendezvous('slurm', None)
    cfg = dict(env_cfg=dict(dist_cfg=dict(backend='gloo', **({} if port is None else {'port': port}))))
    dist.check_config_port('slurm', cfg)
    dist.init_dist_slurm_job('gloo', port=port)
    assert len(opened) == 2 and opened[0] == opened[1], opened


@pytest.mark.parametrize('launcher', ['pytorch', 'mpi'])
def test_a_config_port_under_torchrun_or_mpirun_is_refused_by_name(launcher):
    cfg = dict(env_cfg=dict(dist_cfg=dict(backend='gloo', port=29700)))
    with pytest.raises(ValueError, match=rf'--launcher {launcher}: env_cfg.dist_cfg.port=29700 is read by --launcher '
                                         'slurm only'):
        dist.check_config_port(launcher, cfg)
    dist.check_config_port(launcher, dict(env_cfg=dict(dist_cfg=dict(backend='gloo'))))


@pytest.mark.parametrize('launcher', ['pytorch', 'mpi'])
def test_a_runner_started_without_the_tools_names_the_config_port_too(monkeypatch, launcher):
    """mmengine's init_dist(launcher, **dist_cfg) (a runner that a stock launcher builds) passed ``port`` on to
    ``init_process_group``: ``TypeError: ... unexpected keyword argument 'port'``."""
    for name in ('RANK', 'WORLD_SIZE', 'MASTER_PORT', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    init = dict(pytorch=dist.init_dist_pytorch_cpu_aware, mpi=dist.init_dist_mpi_job)[launcher]
    with pytest.raises(ValueError, match=rf'--launcher {launcher}: env_cfg.dist_cfg.port=29700 is read by'):
        init('gloo', port=29700)


@pytest.mark.parametrize('port', [0, 70000, -1, 'http', True, 2.5])
def test_a_config_port_that_is_no_tcp_port_is_refused_by_name(srun_env, port):
    """As ``MASTER_PORT`` (4a8ec69): ``dist_cfg.port=0`` under slurm made rank 0's store bind a random port no other
    rank knew; 70000 and ``'http'`` stopped inside torch's ``TCPStore`` naming no config key. Refused when the config
    is read (every rank alike) and by the start-up itself (a runner started without the tools)."""
    for key, value in SLURM.items():
        srun_env.setenv(key, value.format(rank=1))
    cfg = dict(env_cfg=dict(dist_cfg=dict(backend='gloo', port=port)))
    expected = rf'env_cfg.dist_cfg.port={port!r} is not a TCP port \(an integer from 1 to 65535\)'
    with pytest.raises(ValueError, match=expected):
        dist.check_config_port('slurm', cfg)
    srun_env.setattr(dist, 'slurm_rendezvous_store', lambda *args: pytest.fail('store opened'))
    with pytest.raises(ValueError, match=expected):
        dist.init_dist_slurm_job('gloo', port=port)


def test_a_config_port_given_as_digits_is_read_as_mmengine_reads_it(srun_env):
    """mmengine's ``_init_dist_slurm`` exports ``str(port)``: ``port='29611'`` worked there; automl_mm's store took it
    as given (``TypeError: ... incompatible constructor arguments``)."""
    for key, value in SLURM.items():
        srun_env.setenv(key, value.format(rank=1))
    opened = []
    srun_env.setattr(dist, 'slurm_rendezvous_store', lambda addr, at, *args: opened.append(at) or 'store')
    srun_env.setattr(dist, '_ORIGINAL_SLURM', lambda *args, **kwargs: None)
    dist.check_config_port('slurm', dict(env_cfg=dict(dist_cfg=dict(backend='gloo', port='29611'))))
    dist.init_dist_slurm_job('gloo', port='29611')
    assert opened == [29611], opened
