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
                                          ('1600000 100000', 8), ('800000 100000', 8), ('bad', 8)])
def test_the_usable_cores_are_the_affinity_or_the_quota_where_lower(tmp_path, monkeypatch, text, usable):
    monkeypatch.setattr(cpus, 'affinity_cpus', lambda: 8)
    path = _cpu_max(tmp_path, text)
    assert cpus.usable_cpus(path) == usable
    assert cpus.quota_note(path) == (f' (the CPU quota in {path})' if usable < 8 else '')
    assert cpus.usable_cpus(str(tmp_path / 'absent')) == 8


def _hierarchy(tmp_path, own: str, limits: dict[str, str], root: str = '/') -> tuple[str, str, str]:
    """A cgroup v2 mount under tmp_path with ``cpu.max`` files (``limits``: cgroup path -> text), and stand-ins for
    /proc/self/cgroup (``0::own``) and /proc/self/mountinfo (the mount of ``root``)."""
    mount = tmp_path / 'cgroup 2'  # a space: escaped in mountinfo
    for cgroup in [own, *limits]:
        (mount / cgroup.lstrip('/')).mkdir(parents=True, exist_ok=True)
    for cgroup, text in limits.items():
        (mount / cgroup.lstrip('/') / 'cpu.max').write_text(text)
    proc_cgroup, mountinfo = tmp_path / 'cgroup', tmp_path / 'mountinfo'
    proc_cgroup.write_text(f'1:name=systemd:/x\n0::{own}\n')
    escaped = str(mount).replace(' ', '\\040')
    mountinfo.write_text(f'30 1 0:26 / /proc rw - proc proc rw\n'
                         f'31 23 0:28 {root} {escaped} rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n')
    return str(mount), str(proc_cgroup), str(mountinfo)


def test_the_quota_is_the_lowest_of_the_processs_cgroup_and_its_parents(tmp_path, monkeypatch):
    """Without a cgroup namespace of its own (a systemd unit, a Slurm step, docker --cgroupns=host) the process's
    cgroup is a path under /sys/fs/cgroup, whose cpu.max (the root's: absent) was all that was read; a parent slice
    may hold the lower quota, which the kernel enforces (the JVM walks up so since JDK-8322420)."""
    mount, proc_cgroup, mountinfo = _hierarchy(tmp_path, '/user.slice/job.scope', {
        '/user.slice/job.scope': 'max 100000\n', '/user.slice': '300000 100000\n', '/': 'garbage'})
    files = cpus.cgroup_cpu_max_files(proc_cgroup, mountinfo)
    assert files == [osp.join(mount, 'user.slice', 'job.scope', 'cpu.max'), osp.join(mount, 'user.slice', 'cpu.max'),
                     osp.join(mount, 'cpu.max')]
    monkeypatch.setattr(cpus, 'cgroup_cpu_max_files', lambda: files)
    monkeypatch.setattr(cpus, 'affinity_cpus', lambda: 8)
    assert (cpus.cgroup_cpu_quota(), cpus.usable_cpus()) == (3, 3)
    assert cpus.quota_note() == f' (the CPU quota in {files[1]})'
    with open(files[0], 'w') as f:
        f.write('200000 100000')  # the leaf's own, lower: it is the one named
    assert (cpus.usable_cpus(), cpus.quota_note()) == (2, f' (the CPU quota in {files[0]})')


@pytest.mark.parametrize('own, root, expected', [
    ('/', '/', ''),  # a container's own cgroup namespace: its cgroup is the mount's root
    ('/kubepods/pod1/ctr', '/kubepods/pod1', 'ctr'),  # the mount shows a subtree: the path is taken below its root
    ('/elsewhere/x', '/kubepods/pod1', ''),  # not under the mount's root: the root's file alone
])
def test_the_cgroup_is_found_under_the_mounts_root(tmp_path, own, root, expected):
    mount, proc_cgroup, mountinfo = _hierarchy(tmp_path, own[len(root):] if own.startswith(root) else own, {})
    with open(mountinfo, 'w') as f:
        f.write(f'31 23 0:28 {root} {mount.replace(" ", chr(92) + "040")} rw - cgroup2 cgroup2 rw\n')
    with open(proc_cgroup, 'w') as f:
        f.write(f'0::{own}\n')
    files = cpus.cgroup_cpu_max_files(proc_cgroup, mountinfo)
    assert files[0] == osp.join(mount, expected, 'cpu.max') and files[-1] == osp.join(mount, 'cpu.max'), files


def test_without_cgroup_v2_files_only_the_usual_cpu_max_is_read(tmp_path):
    # cgroup v1 only (no 0:: line, no cgroup2 mount), or no /proc (macOS)
    (tmp_path / 'cgroup').write_text('4:cpu,cpuacct:/x\n')
    (tmp_path / 'mountinfo').write_text('32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n')
    for proc_cgroup, mountinfo in [(tmp_path / 'cgroup', tmp_path / 'mountinfo'), (tmp_path / 'no', tmp_path / 'no')]:
        assert cpus.cgroup_cpu_max_files(str(proc_cgroup), str(mountinfo)) == [
            osp.join(cpus.CGROUP2_MOUNT, 'cpu.max')]


def test_the_script_gives_each_process_at_least_one_thread(tmp_path, monkeypatch, capsys):
    """4 processes on a 1-CPU quota: 1 thread each, not 0 (the script would not take 0, and fell back to nproc's
    split, silently, of cores the quota does not give)."""
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    assert cpus._main(['4', _cpu_max(tmp_path, '100000 100000')]) == 0
    assert capsys.readouterr().out.splitlines()[0] == '1'


def test_the_local_launcher_splits_the_quota_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(cpus, 'affinity_cpus', lambda: 8)
    quota = _cpu_max(tmp_path, '400000 100000\n')
    monkeypatch.setattr(cpus, 'cgroup_cpu_max_files', lambda: [quota])
    MMLogger.get_instance('automl_mm_cpus_quota')  # the current logger print_log writes through
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    monkeypatch.setattr(launch.mp, 'start_processes', lambda fn, args, **kw: None)
    assert launch.worker_threads(2) == 2
    launch.launch_local(Config(dict(work_dir=str(tmp_path / 'work'))), 2, print)
    assert (f'starting 2 local worker processes, 2 torch threads each (4 usable cores (the CPU quota in '
            f'{quota}) split between them, as tools/dist_train.sh CONFIG 2 splits them)'
            in capsys.readouterr().out)


#: a python that runs the script's count of the cores (automl_mm/utils/cpus.py) and prints the threads the script
#: exported instead of running torchrun
FAKE = ('#!/bin/sh\ncase "$1" in */automl_mm/utils/cpus.py) exec {python} "$@" {cpu_max};; esac\n'
        'echo "OMP=${{OMP_NUM_THREADS:-unset}}"\n')


def _run(tmp_path, script: str, gpus: str, cpu_max: str = '', **env: str) -> list[str]:
    """The script's output lines, its python a fake (:data:`FAKE`) that gives cpus.py ``cpu_max`` (a file standing in
    for this process's cgroup's cpu.max) where given."""
    fake = tmp_path / 'python'
    fake.write_text(FAKE.format(python=sys.executable, cpu_max=f"'{cpu_max}'" if cpu_max else ''))
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
    assert _run(tmp_path, 'dist_train.sh', '1', quota) == [
        f'{osp.join(REPO_ROOT, "tools", "dist_train.sh")}: starting 1 process on this node (torchrun), 1 torch '
        f'thread each (1 usable core (the CPU quota in {quota}) split between them, as tools/train.py CONFIG splits '
        'them between its 1 local worker)', 'OMP=1']
    for text in ('max 100000\n', 'garbage\n'):  # no quota, a malformed file: the affinity's split
        lines = _run(tmp_path, 'dist_train.sh', '1', _cpu_max(tmp_path, text))
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
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), 'cfg.py', '1'], capture_output=True,
                          text=True, env=dict(env, PYTHON=str(fake), OMP_NUM_THREADS='3'), timeout=60)
    assert (proc.returncode, proc.stdout.splitlines()) == (0, ['OMP=3']), proc  # a user's count stays
