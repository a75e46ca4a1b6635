"""The run-time checks (:mod:`automl_mm.engine.runner_checks`) read a ``FlexibleRunner`` built in Python without a
``launcher`` under the launcher it runs: mmengine's ``FlexibleRunner`` defaults ``launcher`` to ``None`` and infers it
from the environment (``infer_launcher``: torchrun's ``WORLD_SIZE``, slurm's, MPI's), held by its strategy
(``runner.strategy.launcher``). The checks took the ``None`` as "no launcher" and dropped the cfg's entry, so they
judged such a runner under torchrun as one process: ``randomness=dict(seed=2**32 - 1, diff_rank_seed=True)`` on 2
ranks passed, where rank 1 fails in numpy's ``np.random.seed`` (2**32 is past its largest seed).

The torchrun process is played by rank 0 of ``WORLD_SIZE=2`` with a one-process gloo group already started, so that
mmengine's strategy starts none (it skips ``init_dist`` where a group exists)."""
from __future__ import annotations

import pytest
import torch.distributed as torch_dist
from mmengine.runner import FlexibleRunner, Runner

from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.engine.runner_checks import checked_config
from tests._tiny_runner import FourSamples, LinearNet, inductor_cache  # noqa: F401  (autouse)

_SEED = 2 ** 32 - 1  # numpy's largest: rank 0's seed; rank 1's, under diff_rank_seed, is past it


@pytest.fixture
def torchrun_rank0(tmp_path, monkeypatch):
    """This process as rank 0 of ``torchrun --nproc-per-node 2``: its variables, and a process group (of one)."""
    for name, value in dict(WORLD_SIZE='2', RANK='0', LOCAL_RANK='0', LOCAL_WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
                            MASTER_PORT='29500', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1').items():
        monkeypatch.setenv(name, value)
    torch_dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    torch_dist.destroy_process_group()


def _flexible(tmp_path, cfg, **given) -> FlexibleRunner:
    loader = dict(dataset=FourSamples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    return FlexibleRunner(model=LinearNet(), work_dir=str(tmp_path / 'work'), train_dataloader=loader,
                          train_cfg=dict(by_epoch=True, max_epochs=1),
                          optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), cfg=cfg, **given)


@pytest.mark.parametrize('cfg', [dict(seed=0, launcher='pytorch'), dict(seed=0)], ids=['cfg-pytorch', 'cfg-none'])
def test_a_flexible_runner_without_launcher_is_read_under_the_launcher_mmengine_infers(tmp_path, torchrun_rank0,
                                                                                        cfg):
    runner = _flexible(tmp_path, cfg)
    assert runner.strategy.launcher == 'pytorch'  # mmengine's infer_launcher, from WORLD_SIZE
    assert checked_config(runner).get('launcher', 'none') == 'pytorch'


def test_a_flexible_runner_under_torchrun_has_its_ranks_seeds_checked(tmp_path, torchrun_rank0):
    runner = _flexible(tmp_path, dict(seed=0, launcher='pytorch'), randomness=dict(seed=_SEED, diff_rank_seed=True))
    with pytest.raises(ConfigCheckError, match=r'^randomness\.seed=4294967295 .* on 2 ranks \(WORLD_SIZE=2\)'):
        runner.train()


def test_outside_a_launcher_the_cfgs_launcher_is_not_run(tmp_path, monkeypatch):
    """No launcher's variables: mmengine infers ``'none'``, one process; the cfg's ``'pytorch'`` is not read."""
    for name in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    runner = _flexible(tmp_path, dict(seed=0, launcher='pytorch'))
    assert runner.strategy.launcher == 'none' and checked_config(runner).get('launcher', 'none') == 'none'


def test_a_runner_given_its_launcher_is_read_as_given(tmp_path):
    """mmengine's ``Runner`` (default ``'none'``) is read as it was given, whatever its cfg says."""
    loader = dict(dataset=FourSamples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    runner = Runner(model=LinearNet(), work_dir=str(tmp_path), train_dataloader=loader,
                    train_cfg=dict(by_epoch=True, max_epochs=1), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    cfg=dict(seed=0, launcher='pytorch'))
    assert checked_config(runner).get('launcher', 'none') == 'none'
