"""The launch environment an mmengine / torchrun user sets (OMP_NUM_THREADS, WORLD_SIZE) is honoured or refused."""
from __future__ import annotations

import os.path as osp
import sys

import pytest
from mmengine.config import Config

from automl_mm.engine import launch
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _started_threads(monkeypatch, tmp_path, world_size: int) -> list:
    started = []
    monkeypatch.setattr(launch.os, 'sched_getaffinity', lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    monkeypatch.setattr(launch.mp, 'start_processes', lambda fn, args, **kw: started.append(args[2]))
    launch.launch_local(Config(dict(work_dir=str(tmp_path))), world_size, print)
    return started


def test_local_workers_keep_the_omp_num_threads_the_user_set(monkeypatch, tmp_path):
    """OMP_NUM_THREADS=1 with 4 copies on 16 cores gave each worker 4 torch threads (torchrun and mmengine keep it)."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert _started_threads(monkeypatch, tmp_path, 4) == [1]
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert _started_threads(monkeypatch, tmp_path, 4) == [3]
    monkeypatch.delenv('OMP_NUM_THREADS')
    assert _started_threads(monkeypatch, tmp_path, 4) == [4]  # unset: the cores are split


@pytest.mark.parametrize('value', ['0', 'four', '-2'])
def test_a_bad_omp_num_threads_is_named_before_any_worker_starts(monkeypatch, tmp_path, value):
    monkeypatch.setenv('OMP_NUM_THREADS', value)
    with pytest.raises(ValueError, match=f"OMP_NUM_THREADS must be a positive integer, got '{value}'"):
        _started_threads(monkeypatch, tmp_path / 'work', 2)
    assert not (tmp_path / 'work').exists()  # refused before the config was dumped


def _tool(name: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('name, flag', [('WORLD_SIZE', 'pytorch'), ('OMPI_COMM_WORLD_SIZE', 'mpi')])
def test_train_started_by_torchrun_without_launcher_is_refused(monkeypatch, tmp_path, name, flag):
    """torchrun --nproc_per_node 2 tools/train.py CONFIG (no --launcher pytorch) ran two whole searches, each with
    its own local workers, into one work_dir."""
    train = _tool('train')
    started = []
    monkeypatch.setattr(train, 'launch_local', lambda *a, **k: started.append(a))
    monkeypatch.setattr(train, 'prestart_workers', lambda: None)
    monkeypatch.setattr(sys, 'argv', ['train.py', osp.join(REPO_ROOT, OHL), '--work-dir', str(tmp_path)])
    monkeypatch.setenv(name, '2')
    with pytest.raises(RuntimeError, match=f'{name}=2.*--launcher none.*add --launcher {flag}'):
        train.main()
    assert started == []
    monkeypatch.setenv(name, '1')  # a single process under a launcher runs as before
    train.main()
    assert len(started) == 1


def test_test_tool_started_by_torchrun_without_launcher_is_refused(monkeypatch, tmp_path):
    test = _tool('test')
    monkeypatch.setattr(sys, 'argv', ['test.py', osp.join(REPO_ROOT, OHL), str(tmp_path / 'missing.pth')])
    monkeypatch.setenv('WORLD_SIZE', '4')
    with pytest.raises(RuntimeError, match='WORLD_SIZE=4.*add --launcher pytorch'):
        test.main()
    monkeypatch.delenv('WORLD_SIZE')
    with pytest.raises(FileNotFoundError, match='checkpoint file not found'):
        test.main()


def test_gpu_workers_split_the_cores_too(monkeypatch, tmp_path):
    """With CUDA each worker ran torch's default thread count (every core): 4 workers, 4 x 16 threads on 16 cores."""
    started = []
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(launch.os, 'sched_getaffinity', lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(launch.torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(launch.torch.cuda, 'device_count', lambda: 4)
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    monkeypatch.setattr(launch.mp, 'start_processes', lambda fn, args, **kw: started.append(args[2]))
    launch.launch_local(Config(dict(work_dir=str(tmp_path))), 4, print)
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    launch.launch_local(Config(dict(work_dir=str(tmp_path))), 4, print)
    assert started == [4, 2]


@pytest.mark.parametrize('omp', [None, '1'])
def test_local_workers_start_mmengine_without_its_start_method_and_threads_warnings(monkeypatch, omp):
    """Each copy of `make demo` printed mmengine's `Multi-processing start method fork is different from the
    previous setting forkserver ... changing mp_start_method in your config` and `Setting MKL_NUM_THREADS ... to
    be 1` (OMP_NUM_THREADS too when unset): the start method was the launcher's, not the config's, and the threads
    were set by the launcher. A worker now leaves no start method set and the thread variables at its threads."""
    import multiprocessing
    import warnings

    from mmengine.utils.dl_utils.setup_env import set_multi_processing

    seen, threads = [], []
    monkeypatch.setattr(launch, 'exit_with', lambda pid: None)
    monkeypatch.setattr(launch.torch, 'set_num_threads', threads.append)
    environ, method = dict(launch.os.environ), multiprocessing.get_start_method(allow_none=True)
    try:
        for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            launch.os.environ.pop(name, None)
        if omp is not None:
            launch.os.environ['OMP_NUM_THREADS'] = omp
        multiprocessing.set_start_method('forkserver', force=True)  # as in a worker the fork server started

        def main(cfg_path):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                set_multi_processing('fork', distributed=True)  # what mmengine's Runner runs at start
            seen.extend(str(w.message) for w in caught)
            seen.append((launch.os.environ['OMP_NUM_THREADS'], launch.os.environ['MKL_NUM_THREADS']))

        launch._worker(0, 4, 29999, 3, main, 'cfg.py', 1)
    finally:
        launch.os.environ.clear()
        launch.os.environ.update(environ)
        multiprocessing.set_start_method(method, force=True)
    assert threads == [3]
    assert seen == [(omp or '3', '3')]  # no warning; a user's OMP_NUM_THREADS is kept
