"""``--launcher slurm`` / ``mpi`` on a machine without GPUs is refused before the config is read, naming the
launcher and the torchrun scripts (mmengine's start-up failed with ``ZeroDivisionError: integer modulo by zero``)."""
from __future__ import annotations

import os.path as osp
import sys

import pytest

from automl_mm.engine import launch
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_slurm_and_mpi_without_gpus_are_refused_naming_torchrun(monkeypatch, launcher):
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match=f'tools/train.py --launcher {launcher}: .*CUDA device.*has none.*'
                                           r'tools/dist_train.sh CONFIG N'):
        launch.check_launcher_matches_environment(launcher, 'tools/train.py')


@pytest.mark.parametrize('launcher', ['slurm', 'mpi', 'pytorch', 'none'])
def test_with_a_gpu_every_launcher_passes(monkeypatch, launcher):
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: True)
    launch.check_launcher_matches_environment(launcher, 'tools/train.py')


def test_pytorch_launcher_without_gpus_passes(monkeypatch):
    """torchrun's launcher runs on gloo without GPUs (automl_mm's patch), so it is not refused."""
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: False)
    launch.check_launcher_matches_environment('pytorch', 'tools/test.py')


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_the_tools_refuse_it_before_reading_the_checkpoint_or_building(monkeypatch, tmp_path, tool):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f'_tool_{tool}', osp.join(REPO_ROOT, 'tools', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: False)
    args = [DIGITS, str(tmp_path / 'missing.pth')] if tool == 'test' else [DIGITS]
    monkeypatch.setattr(sys, 'argv', [f'{tool}.py', *args, '--work-dir', str(tmp_path), '--launcher', 'slurm'])
    with pytest.raises(RuntimeError, match=f'tools/{tool}.py --launcher slurm'):
        module.main()


def test_mpirun_without_launcher_on_cpus_is_not_sent_to_the_refused_mpi_launcher(monkeypatch):
    """The advice 'add --launcher mpi' led, on CPUs, to the refusal above; it now names the torchrun scripts too."""
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: False)
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '2')
    with pytest.raises(RuntimeError, match=r'add --launcher mpi \(.*needs GPUs.*tools/dist_train.sh'):
        launch.check_launcher_matches_environment('none', 'tools/train.py')
