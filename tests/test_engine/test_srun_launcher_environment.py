"""srun's tasks and ``--launcher``: several srun tasks started without ``--launcher slurm`` each ran the whole
search (its own local workers) into the same work_dir, with no error (two tasks of ``tools/train.py`` on a 2-copy
digits config wrote two log folders and one set of checkpoints); ``--launcher slurm`` outside srun failed with
``KeyError: 'SLURM_PROCID'`` inside mmengine after the config checks."""
from __future__ import annotations

import os.path as osp
import sys

import pytest

from automl_mm.engine import launch
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
SLURM_VARS = ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST', 'SLURM_STEP_NUM_TASKS', 'SLURM_LOCALID')


@pytest.fixture
def no_launcher_env(monkeypatch):
    for name in ('WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE', *SLURM_VARS):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _srun_task(monkeypatch, tasks: int, procid: int = 0) -> None:
    """The variables srun sets in task ``procid`` of a step of ``tasks`` tasks."""
    monkeypatch.setenv('SLURM_STEP_NUM_TASKS', str(tasks))
    monkeypatch.setenv('SLURM_NTASKS', str(tasks))
    monkeypatch.setenv('SLURM_PROCID', str(procid))
    monkeypatch.setenv('SLURM_LOCALID', str(procid))
    monkeypatch.setenv('SLURM_NODELIST', 'node[0-1]')


@pytest.mark.parametrize('gpu', [True, False])
def test_several_srun_tasks_without_the_slurm_launcher_are_refused(no_launcher_env, gpu):
    no_launcher_env.setattr(launch.torch.cuda, 'is_available', lambda: gpu)
    _srun_task(no_launcher_env, tasks=4, procid=1)
    with pytest.raises(RuntimeError, match=r'one of 4 processes \(SLURM_STEP_NUM_TASKS=4\).*same work_dir; add '
                                           r'--launcher slurm' + ('' if gpu else r" \(mmengine's slurm start-up needs "
                                                                             'GPUs.*tools/dist_train.sh')):
        launch.check_launcher_matches_environment('none', 'tools/train.py')


def test_a_batch_script_or_a_single_srun_task_still_launches_locally(no_launcher_env):
    """sbatch sets SLURM_NTASKS (and SLURM_PROCID=0) in the one batch process: it is not a step of several tasks."""
    no_launcher_env.setenv('SLURM_NTASKS', '4')
    no_launcher_env.setenv('SLURM_PROCID', '0')
    launch.check_launcher_matches_environment('none', 'tools/train.py')
    _srun_task(no_launcher_env, tasks=1)
    launch.check_launcher_matches_environment('none', 'tools/train.py')


def test_the_slurm_launcher_inside_srun_passes(no_launcher_env):
    no_launcher_env.setattr(launch.torch.cuda, 'is_available', lambda: True)
    _srun_task(no_launcher_env, tasks=4, procid=3)
    launch.check_launcher_matches_environment('slurm', 'tools/train.py')
    launch.check_slurm_environment('slurm', 'tools/train.py')


def test_the_slurm_launcher_in_a_batch_script_of_several_tasks_is_refused(no_launcher_env):
    """sbatch --ntasks 4 with `python tools/train.py ... --launcher slurm` in its script and no srun: the one batch
    process (SLURM_PROCID=0, SLURM_NTASKS=4) became rank 0 of 4 and waited for 3 ranks nobody started."""
    for name, value in (('SLURM_NTASKS', '4'), ('SLURM_PROCID', '0'), ('SLURM_NODELIST', 'node[0-1]')):
        no_launcher_env.setenv(name, value)
    with pytest.raises(RuntimeError, match=r'tools/test.py --launcher slurm runs in the batch script of a slurm job of '
                                           r'4 tasks \(SLURM_NTASKS=4\), not in a task that srun started '
                                           r'\(SLURM_STEP_NUM_TASKS is not set\): it alone would be rank 0 of 4 and '
                                           r'wait for the other 3 .*srun python tools/test.py'):
        launch.check_slurm_environment('slurm', 'tools/test.py')
    no_launcher_env.setenv('SLURM_NTASKS', '1')  # a job of one task: rank 0 of 1 is the whole run
    launch.check_slurm_environment('slurm', 'tools/test.py')


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_the_slurm_launcher_outside_srun_is_refused_before_the_config_is_read(no_launcher_env, tmp_path, tool):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f'_tool_{tool}', osp.join(REPO_ROOT, 'tools', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    no_launcher_env.setattr(launch.torch.cuda, 'is_available', lambda: True)  # past the refusal without GPUs
    no_launcher_env.setattr(module, 'register_all_modules', lambda **kw: pytest.fail('read on'))
    args = [DIGITS, str(tmp_path / 'missing.pth')] if tool == 'test' else [DIGITS]
    no_launcher_env.setattr(sys, 'argv', [f'{tool}.py', *args, '--work-dir', str(tmp_path), '--launcher', 'slurm'])
    with pytest.raises(RuntimeError, match=f'tools/{tool}.py --launcher slurm outside an srun job step: '
                                           'SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST are not set'):
        module.main()


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_the_pytorch_launcher_outside_torchrun_is_refused_before_the_config_is_read(no_launcher_env, tmp_path,
                                                                                     tool):
    """``python tools/train.py CONFIG --launcher pytorch`` (as typed for mmdet, without torchrun) failed in torch's
    env:// rendezvous with a traceback naming RANK, and neither torchrun nor tools/dist_train.sh."""
    import importlib.util

    for name in ('RANK', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        no_launcher_env.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location(f'_tool_{tool}', osp.join(REPO_ROOT, 'tools', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    no_launcher_env.setattr(module, 'register_all_modules', lambda **kw: pytest.fail('read on'))
    args = [DIGITS, str(tmp_path / 'missing.pth')] if tool == 'test' else [DIGITS]
    no_launcher_env.setattr(sys, 'argv', [f'{tool}.py', *args, '--work-dir', str(tmp_path), '--launcher', 'pytorch'])
    with pytest.raises(RuntimeError, match=f'tools/{tool}.py --launcher pytorch outside the processes torchrun '
                                           'starts: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT are not '
                                           r'set\. Start the processes with torchrun \(tools/dist_train.sh'):
        module.main()


def test_the_pytorch_and_mpi_launchers_inside_their_processes_pass(no_launcher_env):
    for name, value in (('RANK', '1'), ('LOCAL_RANK', '1'), ('WORLD_SIZE', '2'), ('MASTER_ADDR', '127.0.0.1'),
                        ('MASTER_PORT', '29500')):
        no_launcher_env.setenv(name, value)
    launch.check_slurm_environment('pytorch', 'tools/train.py')
    for name, value in (('OMPI_COMM_WORLD_RANK', '1'), ('OMPI_COMM_WORLD_LOCAL_RANK', '1'),
                        ('OMPI_COMM_WORLD_SIZE', '2')):
        no_launcher_env.setenv(name, value)
    launch.check_slurm_environment('mpi', 'tools/train.py')
    no_launcher_env.delenv('OMPI_COMM_WORLD_LOCAL_RANK')
    with pytest.raises(RuntimeError, match='--launcher mpi outside the processes mpirun starts: '
                                           'OMPI_COMM_WORLD_LOCAL_RANK is not set'):
        launch.check_slurm_environment('mpi', 'tools/train.py')
