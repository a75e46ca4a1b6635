"""The cores a process may use, and the threads line both launchers print (``tools/train.py``'s local launcher and
``tools/dist_train.sh`` / ``dist_test.sh``).

Standard library only, and runnable as a script without importing automl_mm (which imports torch and mmengine):
``python automl_mm/utils/cpus.py PROCESSES`` is what ``tools/_torchrun.sh`` runs.
"""
from __future__ import annotations

import os
import re
import sys

#: Where the cgroup v2 hierarchy is mounted where ``/proc/self/mountinfo`` names no ``cgroup2`` mount.
CGROUP2_MOUNT = '/sys/fs/cgroup'


def _unescape(field: str) -> str:
    """A ``/proc/self/mountinfo`` path field with its octal escapes decoded (``\\040``: a space)."""
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), field)


def cgroup_cpu_max_files(proc_cgroup: str = '/proc/self/cgroup',
                         mountinfo: str = '/proc/self/mountinfo') -> list[str]:
    """The cgroup v2 ``cpu.max`` files whose quotas limit this process: its own cgroup's (the ``0::PATH`` line of
    ``proc_cgroup``, under the ``cgroup2`` mount of ``mountinfo``), then each parent's up to the mount's root, where
    the kernel enforces the tightest of them. Inside a container's own cgroup namespace its cgroup is the root
    (``0::/``: ``/sys/fs/cgroup/cpu.max``, the limit ``docker --cpus`` and a Kubernetes CPU limit set); without one
    (a systemd unit's ``CPUQuota=``, a Slurm step, ``--cgroupns=host``) it is a path below it
    (``/sys/fs/cgroup/system.slice/x.scope/cpu.max``), and a parent (a slice) may hold the lower quota. Where either
    file is missing or names no cgroup v2 path (cgroup v1, macOS), or that path is not under the mount, only
    the ``cpu.max`` of the mount's root (:data:`CGROUP2_MOUNT` where no mount is named)."""
    mount, root = CGROUP2_MOUNT, '/'
    try:
        with open(mountinfo) as f:
            for line in f:
                fields = line.split()
                if ' - cgroup2 ' in line and len(fields) > 4:
                    root, mount = _unescape(fields[3]), _unescape(fields[4])
                    break
    except (OSError, UnicodeDecodeError):
        pass
    path = None
    try:
        with open(proc_cgroup) as f:
            path = next((line[3:].rstrip('\n') for line in f if line.startswith('0::')), None)
    except (OSError, UnicodeDecodeError):
        pass
    own = None
    if path is not None and path.startswith('/'):
        rel = os.path.relpath(path, root) if root != '/' else path.lstrip('/')
        if not rel.startswith('..'):
            own = os.path.normpath(os.path.join(mount, rel))
    if own is None or not os.path.isdir(own):
        return [os.path.join(mount, 'cpu.max')]
    files = []
    while True:
        files.append(os.path.join(own, 'cpu.max'))
        if own == os.path.normpath(mount) or os.path.dirname(own) == own:
            return files
        own = os.path.dirname(own)


def _file_quota(cpu_max: str) -> int | None:
    """The whole cores of the quota in one ``cpu.max`` file (:func:`cgroup_cpu_quota`), or ``None``."""
    try:
        with open(cpu_max) as f:
            fields = f.read().split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 2 or not all(field.isdigit() for field in fields):
        return None  # "max 100000" (no quota) or malformed
    quota, period = int(fields[0]), int(fields[1])
    if quota < 1 or period < 1:
        return None
    return max(1, -(-quota // period))


def _tightest_quota(cpu_max: str | None) -> tuple[int, str] | None:
    """The lowest quota (:func:`_file_quota`) of ``cpu_max`` or, where ``None``, of :func:`cgroup_cpu_max_files`, and
    the file that holds it; ``None`` where none holds one."""
    quotas = [(quota, path) for path in ([cpu_max] if cpu_max else cgroup_cpu_max_files())
              if (quota := _file_quota(path)) is not None]
    return min(quotas, key=lambda q: q[0]) if quotas else None


def cgroup_cpu_quota(cpu_max: str | None = None) -> int | None:
    """The whole cores the cgroup v2 CPU quota allows: ``ceil(quota / period)``, at least 1 (``"200000 100000"``: 2;
    ``"150000 100000"``: 2; ``"50000 100000"``: 1), the lowest of this process's cgroup and its parents
    (:func:`cgroup_cpu_max_files`), or of the one file ``cpu_max`` where given. ``None`` where there is no quota
    (``"max 100000"``), or the files are missing, unreadable or not two positive integers (cgroup v1, or no cgroup
    file system: nothing is known, so nothing is limited)."""
    tightest = _tightest_quota(cpu_max)
    return None if tightest is None else tightest[0]


def affinity_cpus() -> int:
    """The cores this process may be scheduled on (its CPU affinity: ``taskset``, a benchmark's pinning, a cluster's
    cgroup cpuset), at least 1; the machine's count where the platform has no affinity (macOS)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def usable_cpus(cpu_max: str | None = None) -> int:
    """The cores this process may use: its CPU affinity (:func:`affinity_cpus`: 4 copies pinned to 2 of 16 cores got
    4 threads each, 16 threads on 2 cores), or the cgroup v2 CPU quota (:func:`cgroup_cpu_quota`) where it is lower
    (a container given 2 CPUs of a 64-core machine sees all 64 in its affinity and in ``nproc``).

    Args:
        cpu_max: The one cgroup v2 ``cpu.max`` file to read the quota from (``None``: this process's cgroup and its
            parents, :func:`cgroup_cpu_max_files`).
    """
    cores = affinity_cpus()
    quota = cgroup_cpu_quota(cpu_max)
    return cores if quota is None else min(cores, quota)


def quota_note(cpu_max: str | None = None) -> str:
    """``' (the CPU quota in /sys/fs/cgroup/cpu.max)'``, naming the file that holds it, where that quota is what
    limits :func:`usable_cpus` (lower than the affinity), else ``''``: said after the core count in the threads
    line."""
    tightest = _tightest_quota(cpu_max)
    return f' (the CPU quota in {tightest[1]})' if tightest is not None and tightest[0] < affinity_cpus() else ''


def threads_line(processes: int, threads: int, cores: int | None, launcher: str, note: str = '') -> str:
    """What a launcher prints before its processes start: how many, their torch threads each, and where that count
    comes from.

    Args:
        processes: The processes this launcher starts on this machine.
        threads: The torch threads (``OMP_NUM_THREADS``) of each.
        cores: The usable cores split between them; ``None`` where ``OMP_NUM_THREADS`` was set (and is used).
        launcher: ``'local'`` (``tools/train.py CONFIG``'s workers) or ``'torchrun'`` (``tools/dist_train.sh`` /
            ``dist_test.sh``).
        note: Said after the core count (:func:`quota_note`).

    Raises:
        ValueError: ``launcher`` is neither.
    """
    if launcher not in ('local', 'torchrun'):
        raise ValueError(f"launcher must be 'local' or 'torchrun', got {launcher!r}")
    if cores is None:
        given = 'OMP_NUM_THREADS'
    else:
        other = (f'tools/dist_train.sh CONFIG {processes} splits them' if launcher == 'local' else
                 f'tools/train.py CONFIG splits them between its {processes} local worker{"s" * (processes != 1)}')
        given = f'{cores} usable core{"s" * (cores != 1)}{note} split between them, as {other}'
    plural = 'es' * (processes != 1)
    what = f'local worker process{plural}' if launcher == 'local' else f'process{plural} on this node (torchrun)'
    return f'starting {processes} {what}, {threads} torch thread{"s" * (threads != 1)} each ({given})'


def split_cores(cores: int, processes: int) -> int:
    """Torch threads of each of ``processes`` processes sharing ``cores`` usable cores: ``cores // processes``, at
    least 1 (the rule of both launchers: ``automl_mm.engine.launch.worker_threads`` and ``tools/_torchrun.sh``)."""
    return max(1, cores // processes)


def _main(argv: list[str]) -> int:
    """``cpus.py PROCESSES [CPU_MAX]``, for ``tools/_torchrun.sh``: prints the torch threads of each of PROCESSES
    processes (``OMP_NUM_THREADS`` where set, a positive integer the script checked; else the usable cores split
    between them, at least 1), then the threads line; exit 2 on a PROCESSES that is no positive integer."""
    if len(argv) not in (1, 2) or not argv[0].isdigit() or int(argv[0]) < 1:
        print(f'usage: cpus.py PROCESSES [CPU_MAX] (PROCESSES a positive integer), got {argv}', file=sys.stderr)
        return 2
    processes = int(argv[0])
    cpu_max = argv[1] if len(argv) == 2 else None
    given = (os.environ.get('OMP_NUM_THREADS') or '').strip()
    if given:
        threads, cores, note = int(given), None, ''
    else:
        cores = usable_cpus(cpu_max)
        threads, note = split_cores(cores, processes), quota_note(cpu_max)
    print(threads)
    print(threads_line(processes, threads, cores, 'torchrun', note))
    return 0


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
