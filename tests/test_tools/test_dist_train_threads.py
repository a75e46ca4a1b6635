"""tools/dist_train.sh / dist_test.sh give each process the torch threads the local launcher gives its workers
(automl_mm.engine.launch.worker_threads): one OHL config and seed gave other rewards under torchrun than under
``tools/train.py CONFIG`` on a machine with more cores than copies, because torchrun sets ``OMP_NUM_THREADS=1``
where it is unset and the local launcher splits the usable cores between its workers (a convolution's float sums
depend on the thread count: a 2-copy digits run's trunk-1 reward was 19.0608 on 1 thread, 19.337 on 2)."""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys

import pytest

from automl_mm.engine.launch import worker_threads

from conftest import REPO_ROOT

#: a python that prints the threads the script exported instead of running torchrun (the script's count of the
#: usable cores, automl_mm/utils/cpus.py, runs in this python)
FAKE = (f'#!/bin/sh\ncase "$1" in */automl_mm/utils/cpus.py) exec {sys.executable} "$@";; esac\n'
        'echo "OMP=${OMP_NUM_THREADS:-unset} MKL=${MKL_NUM_THREADS:-unset}"\n')


def _threads(tmp_path, script: str, gpus: str, **env: str) -> subprocess.CompletedProcess:
    fake = tmp_path / 'python'
    fake.write_text(FAKE)
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items()
            if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'PORT', 'MASTER_PORT', 'NNODES', 'MASTER_ADDR')}
    args = ['cfg.py', gpus] if script == 'dist_train.sh' else ['cfg.py', 'ckpt.pth', gpus]
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args], capture_output=True, text=True,
                          env=dict(base, PYTHON=str(fake), **env), timeout=60)
    # the threads line the script prints first (tests/test_utils_cpus.py), then the fake's
    lines = proc.stdout.splitlines()
    proc.line, proc.stdout = ('', proc.stdout) if len(lines) < 2 else (lines[0], '\n'.join(lines[1:]))
    return proc


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
@pytest.mark.parametrize('gpus', [1, 2, 3])
def test_unset_threads_are_the_local_launchers_split_of_the_cores(tmp_path, monkeypatch, script, gpus):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    expected = worker_threads(gpus)  # what tools/train.py CONFIG gives each of its `gpus` workers here
    proc = _threads(tmp_path, script, str(gpus))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [f'OMP={expected}', f'MKL={expected}']


@pytest.mark.parametrize('blank', ['', ' '])
def test_blank_threads_count_as_unset(tmp_path, monkeypatch, blank):
    monkeypatch.setenv('OMP_NUM_THREADS', blank)
    expected = worker_threads(1)  # the local launcher's split, as where it is unset (all cores: not torchrun's 1)
    proc = _threads(tmp_path, 'dist_train.sh', '1', OMP_NUM_THREADS=blank)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [f'OMP={expected}', f'MKL={expected}']


@pytest.mark.skipif(not hasattr(os, 'sched_setaffinity') or len(getattr(os, 'sched_getaffinity', set)(0)) < 2,
                    reason='needs 2 usable cores to pin to 1')
def test_both_split_the_cores_this_process_may_run_on(tmp_path, monkeypatch):
    """Pinned to one core (taskset, a cluster's cpuset), the script's nproc and the local launcher's
    sched_getaffinity both see 1 (the machine's count, getconf / os.cpu_count, would be 2 or more)."""
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        expected = worker_threads(1)
        proc = _threads(tmp_path, 'dist_train.sh', '1')
    finally:
        os.sched_setaffinity(0, cores)
    assert expected == 1 and proc.stdout.split() == ['OMP=1', 'MKL=1'], (expected, proc.stdout, proc.stderr)


def test_a_users_threads_stay_and_mkl_follows_them(tmp_path):
    # the local worker: torch.set_num_threads(OMP_NUM_THREADS) and MKL_NUM_THREADS set to it where unset
    assert _threads(tmp_path, 'dist_train.sh', '2', OMP_NUM_THREADS='3').stdout.split() == ['OMP=3', 'MKL=3']
    assert _threads(tmp_path, 'dist_train.sh', '2', OMP_NUM_THREADS='3',
                    MKL_NUM_THREADS='1').stdout.split() == ['OMP=3', 'MKL=1']


def test_torchruns_named_counts_keep_torchruns_default(tmp_path):
    # `auto` / `cpu` / `gpu`: the process count is torchrun's to find, so is the split (it sets 1 thread)
    proc = _threads(tmp_path, 'dist_train.sh', 'auto')
    assert (proc.returncode, proc.stdout.split(), proc.stderr) == (0, ['OMP=unset', 'MKL=unset'], '')


@pytest.mark.parametrize('value', ['two', '0', '-1'])
def test_threads_that_are_no_positive_integer_are_refused(tmp_path, value):
    proc = _threads(tmp_path, 'dist_train.sh', '2', OMP_NUM_THREADS=value)
    assert proc.returncode == 2 and not proc.stdout
    assert f"OMP_NUM_THREADS must be a positive integer, got '{value}'" in proc.stderr
