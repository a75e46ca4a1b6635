"""The cores both launchers split between their processes: the CPU affinity, or the cgroup v2 CPU quota where it is
lower (``/sys/fs/cgroup/cpu.max``; a container given 2 CPUs of a 64-core machine saw all 64 in ``nproc`` and in
``os.sched_getaffinity``, and each of its processes ran 64 / N threads on 2 CPUs); and the threads line
``tools/dist_train.sh`` / ``dist_test.sh`` print as the local launcher prints it (they printed none)."""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from automl_mm.engine import launch
from automl_mm.utils import cpus

from conftest import REPO_ROOT


def _cpu_max(tmp_path, text: str) -> str:
    path = tmp_path / 'cpu.max'
    path.write_bytes(text.encode('latin-1'))
    return str(path)


@pytest.mark.parametrize('text, quota', [
    ('200000 100000\n', 2), ('150000 100000\n', 2), ('50000 100000\n', 1), ('100000 100000', 1),
    ('1 1000000\n', 1), ('1600000 100000\n', 16),
    # no quota, and what is not a quota: ignored, not a crash
    ('max 100000\n', None), ('', None), ('garbage\n', None), ('200000\n', None), ('200000 0\n', None),
    ('0 100000\n', None), ('-1 100000\n', None), ('1.5 1\n', None), ('200000 100000 7\n', None), ('\xff\xfe', None),
])
def test_the_quota_is_its_whole_cores_rounded_up(tmp_path, text, quota):
    assert cpus.cgroup_cpu_quota(_cpu_max(tmp_path, text)) == quota


def test_a_missing_or_unreadable_file_is_no_quota(tmp_path):
    assert cpus.cgroup_cpu_quota(str(tmp_path / 'absent')) is None
    assert cpus.cgroup_cpu_quota(str(tmp_path)) is None  # a folder


@pytest.mark.parametrize('text, usable', [('200000 100000', 2), ('150000 100000', 2), ('max 100000', 8),
                                          ('1600000 100000', 8), ('bad', 8)])
def test_the_usable_cores_are_the_affinity_or_the_quota_where_lower(tmp_path, monkeypatch, text, usable):
    monkeypatch.setattr(cpus, 'affinity_cpus', lambda: 8)
    path = _cpu_max(tmp_path, text)
    assert cpus.usable_cpus(path) == usable
    assert cpus.quota_note(path) == (f' (the CPU quota in {path})' if usable < 8 else '')
    assert cpus.usable_cpus(str(tmp_path / 'absent')) == 8


def test_the_local_launcher_splits_the_quota_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(cpus, 'affinity_cpus', lambda: 8)
    monkeypatch.setattr(cpus, 'CGROUP_CPU_MAX', _cpu_max(tmp_path, '400000 100000\n'))
    MMLogger.get_instance('automl_mm_cpus_quota')  # the current logger print_log writes through
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    monkeypatch.setattr(launch.mp, 'start_processes', lambda fn, args, **kw: None)
    assert launch.worker_threads(2) == 2
    launch.launch_local(Config(dict(work_dir=str(tmp_path / 'work'))), 2, print)
    assert (f'starting 2 local worker processes, 2 torch threads each (4 usable cores (the CPU quota in '
            f'{cpus.CGROUP_CPU_MAX}) split between them, as tools/dist_train.sh CONFIG 2 splits them)'
            in capsys.readouterr().out)


#: a python that runs the script's count of the cores (automl_mm/utils/cpus.py) and prints the threads the script
#: exported instead of running torchrun
FAKE = (f'#!/bin/sh\ncase "$1" in */automl_mm/utils/cpus.py) exec {sys.executable} "$@";; esac\n'
        'echo "OMP=${OMP_NUM_THREADS:-unset}"\n')


def _run(tmp_path, script: str, gpus: str, **env: str) -> list[str]:
    fake = tmp_path / 'python'
    fake.write_text(FAKE)
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items()
            if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'PORT', 'MASTER_PORT', 'NNODES', 'MASTER_ADDR')}
    args = ['cfg.py', gpus] if script == 'dist_train.sh' else ['cfg.py', 'ckpt.pth', gpus]
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args], capture_output=True, text=True,
                          env=dict(base, PYTHON=str(fake), **env), timeout=60)
    assert (proc.returncode, proc.stderr) == (0, ''), proc
    return proc.stdout.splitlines()


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
def test_the_scripts_print_the_threads_line_of_the_local_launcher(tmp_path, script):
    cores = cpus.usable_cpus()
    threads = max(1, cores // 2)
    note = cpus.quota_note()  # '' unless this machine's own cgroup quota is below its affinity
    assert _run(tmp_path, script, '2') == [
        f'{osp.join(REPO_ROOT, "tools", script)}: {cpus.threads_line(2, threads, cores, "torchrun", note)}',
        f'OMP={threads}']
    assert cpus.threads_line(2, threads, cores, 'torchrun', note) == (
        f'starting 2 processes on this node (torchrun), {threads} torch thread{"s" * (threads > 1)} each ({cores} '
        f'usable core{"s" * (cores > 1)}{note} split between them, as tools/train.py CONFIG splits them between its '
        '2 local workers)')
    line = _run(tmp_path, script, '2', OMP_NUM_THREADS='3')[0]
    assert line.endswith(': starting 2 processes on this node (torchrun), 3 torch threads each (OMP_NUM_THREADS)')


@pytest.mark.skipif(cpus.affinity_cpus() < 2, reason='needs 2 usable cores for a quota below them')
def test_the_scripts_split_a_quota_below_the_affinity(tmp_path):
    quota = _cpu_max(tmp_path, '100000 100000\n')  # 1 CPU
    assert _run(tmp_path, 'dist_train.sh', '1', AUTOML_MM_CGROUP_CPU_MAX=quota) == [
        f'{osp.join(REPO_ROOT, "tools", "dist_train.sh")}: starting 1 process on this node (torchrun), 1 torch '
        f'thread each (1 usable core (the CPU quota in {quota}) split between them, as tools/train.py CONFIG splits '
        'them between its 1 local worker)', 'OMP=1']
    for text in ('max 100000\n', 'garbage\n'):  # no quota, a malformed file: the affinity's split
        lines = _run(tmp_path, 'dist_train.sh', '1', AUTOML_MM_CGROUP_CPU_MAX=_cpu_max(tmp_path, text))
        assert lines[1] == f'OMP={cpus.affinity_cpus()}', lines


def test_the_scripts_fall_back_to_nproc_where_python_cannot_count(tmp_path):
    """A python that cannot run cpus.py (an interpreter too old, a broken environment): the affinity's split, as
    before, and no line (torchrun_run then says what is wrong with that python)."""
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\ncase "$1" in */automl_mm/utils/cpus.py) exit 1;; esac\necho "OMP=$OMP_NUM_THREADS"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')}
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), 'cfg.py', '1'], capture_output=True,
                          text=True, env=dict(env, PYTHON=str(fake)), timeout=60)
    nproc = int(subprocess.run(['nproc'], capture_output=True, text=True, env=env).stdout)
    assert (proc.returncode, proc.stdout.splitlines()) == (0, [f'OMP={nproc}']), proc
