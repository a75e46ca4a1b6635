"""The reading of the config file agreed on under srun and mpirun too (``reading_config_together``), and launcher
variables that are not integers named.

Under torchrun every rank reached the rendezvous store from ``RANK`` / ``WORLD_SIZE`` / ``MASTER_*``; under srun and
mpirun, whose start-up sets those from their own variables inside mmengine's ``init_dist``, the reading ran plainly: a
node lacking the config refused alone while the others waited in the rendezvous until the timeout. A job script that
exported ``RANK`` / ``WORLD_SIZE`` (the same in every task) sent every srun task to the ``env://`` store as rank 0.
Now the ranks meet in the store their launcher's start-up uses (``SLURM_PROCID`` / ``OMPI_COMM_WORLD_RANK``): the
rank lacking its config raises its own error, the others a ``RankFailure`` naming it. 2 forked ranks, no process
group. ``WORLD_SIZE=two`` stopped with a bare ``invalid literal for int()``."""
from __future__ import annotations

import json
import os
import os.path as osp

import pytest
from _forked_ranks import fork_ranks, outcome
from torch.distributed.elastic.utils.distributed import get_free_port

WHAT = 'tools/train.py: reading the config file'
MISSING = 'FileNotFoundError: config file not found: cfg.py'


def _read(rank: int) -> dict:
    if rank == 1:
        raise FileNotFoundError('config file not found: cfg.py')
    return dict(env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=20)))


def _rank(rank: int, tmp: str, launcher: str, env: dict) -> None:
    from automl_mm.engine.rank_agreement import reading_config_together

    os.environ.update({k: v.format(rank=rank) for k, v in env.items()})
    found = outcome(lambda: reading_config_together(lambda: _read(rank), launcher, WHAT))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)


SLURM = dict(SLURM_PROCID='{rank}', SLURM_NTASKS='2', SLURM_JOB_ID='4321987', SLURM_STEP_ID='0',
             MASTER_ADDR='127.0.0.1')
# a job script's exports, the same in every task
STALE = dict(RANK='0', WORLD_SIZE='2', LOCAL_RANK='0')
MPI = dict(OMPI_COMM_WORLD_RANK='{rank}', OMPI_COMM_WORLD_SIZE='2', OMPI_COMM_WORLD_LOCAL_RANK='{rank}',
           PMIX_NAMESPACE='prterun-node01-1234@1', MASTER_ADDR='127.0.0.1')


@pytest.mark.parametrize('launcher, env', [('slurm', SLURM), ('slurm', dict(SLURM, **STALE)), ('mpi', MPI)],
                         ids=['slurm', 'slurm_exported_rank', 'mpi'])
def test_a_rank_lacking_its_config_stops_every_rank_under_srun_and_mpirun(tmp_path, monkeypatch, launcher, env):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'TORCHELASTIC_USE_AGENT_STORE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('MASTER_PORT', str(get_free_port()))
    fork_ranks(_rank, (str(tmp_path), launcher, env), timeout=60)
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert found[1] == MISSING, found
    assert found[0] is not None and found[0].startswith(f'RankFailure: {WHAT} failed on rank 1 (on '), found
    assert found[0].endswith(f': {MISSING}); every rank stops here (each rank reads the config from its own node: give '
                             'every node the same config file at the same path, or a path on a file system they '
                             'share)'), found


@pytest.mark.parametrize('launcher, name', [('pytorch', 'WORLD_SIZE'), ('pytorch', 'RANK'), ('slurm', 'SLURM_NTASKS'),
                                            ('mpi', 'OMPI_COMM_WORLD_SIZE')])
def test_a_launcher_variable_that_is_no_integer_is_named(monkeypatch, launcher, name):
    from automl_mm.engine import dist
    from automl_mm.engine.rank_agreement import reading_config_together

    env = dict(pytorch=dict(RANK='0', WORLD_SIZE='2', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1', MASTER_PORT='29999'),
               slurm=SLURM, mpi=MPI)[launcher]
    for key, value in dict(env, **{name: 'two'}).items():
        monkeypatch.setenv(key, value.format(rank=0))
    message = rf"the environment variable {name}='two' is not an integer \("
    with pytest.raises(ValueError, match=message):
        reading_config_together(lambda: dict(), launcher, WHAT)
    init = dict(pytorch=dist.init_dist_pytorch_cpu_aware, slurm=dist.init_dist_slurm_job,
                mpi=dist.init_dist_mpi_job)[launcher]
    with pytest.raises(ValueError, match=message):  # before any store or process group
        init('gloo')


def test_local_rank_and_the_port_are_named_too(monkeypatch):
    from automl_mm.engine import dist

    monkeypatch.setenv('LOCAL_RANK', '0,1')
    with pytest.raises(ValueError, match=r"LOCAL_RANK='0,1' is not an integer \(torchrun sets it"):
        dist.init_dist_pytorch_cpu_aware('gloo')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('MASTER_PORT', '-1')
    with pytest.raises(ValueError, match=r"MASTER_PORT='-1' is not an integer from 1 to 65535 \(a TCP port"):
        dist.init_dist_pytorch_cpu_aware('gloo')


ADVICE = "each rank imports automl_mm's modules on its own node: give every node the same installed packages"


def _check_rank(rank: int, tmp: str, env: dict) -> None:
    from automl_mm.engine.rank_agreement import reading_config_together

    def checks() -> None:
        if rank == 1:
            raise ImportError("planted: cannot import name 'DetDataSample' from 'mmdet.structures'")

    os.environ.update({k: v.format(rank=rank) for k, v in env.items()})
    found = outcome(lambda: reading_config_together(lambda: _read(-1), 'slurm', WHAT, checks=checks,
                                                    checks_advice=ADVICE))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)


def test_a_rank_failing_its_checks_is_given_the_checks_advice(tmp_path, monkeypatch):
    """A rank whose own checks failed (an import, ``--show``'s display) before the config was read: the others'
    advice is the checks' (the same installed packages), not to give every node the same config file."""
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'TORCHELASTIC_USE_AGENT_STORE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('MASTER_PORT', str(get_free_port()))
    fork_ranks(_check_rank, (str(tmp_path), SLURM), timeout=60)
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    cause = "ImportError: planted: cannot import name 'DetDataSample' from 'mmdet.structures'"
    assert found[1] == cause, found
    assert found[0] is not None and found[0].startswith(f'RankFailure: {WHAT} failed on rank 1 (on '), found
    assert found[0].endswith(f': {cause}); every rank stops here ({ADVICE})'), found
