"""``tools/train.py`` run as torchrun runs it (``--launcher pytorch``, one process per rank over gloo), for tests about
what a multi-process run does, not about how its processes start.

A subprocess of ``tools/train.py`` imports everything in its launcher and again in its fork server (about 10 s of
CPU before a worker starts). Here :func:`_forked_ranks.fork_ranks` forks one parent from the pytest worker's fork
server (torch, mmengine and automl_mm imported there already, and what the tool's own fork server preloads:
tests/_train_preload.py); the parent imports ``tools/train.py`` and :data:`automl_mm.engine.launch.WORKER_PRELOAD`
(imported already, unless the fork server skipped them), and forks the ranks from itself
while it is single-threaded (checked), as that server does. Each rank runs ``tools/train.py``'s ``main`` on the
test's command line with ``RANK`` / ``WORLD_SIZE`` / ``MASTER_*`` set as torchrun sets them, so the config is read,
checked and run by the tool's own code (``build_config``, ``run``). Beside the ranks, one more forked process runs
the tool's main as a user starts it (``--launcher none``) up to its local launch, so the start-up checks only that
path makes (``build_check``) still refuse a config as they refused the subprocess. The launch itself
(``launch_local``'s workers, torchrun) is tested where it is the subject (tests/test_ohl/test_ohl_runs.py).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from types import ModuleType

import torch
import torch.multiprocessing as mp
from _forked_ranks import REPO_ROOT, fork_ranks, load_tool, one_blas_thread, preload_worker_modules, torchrun_env
from torch.distributed.elastic.utils.distributed import get_free_port

from automl_mm.engine.launch import worker_threads

_PR_SET_PDEATHSIG = 1


def _start_up_check(tool: ModuleType, world_size: int, argv: list[str]) -> None:
    """``tools/train.py argv`` as a user starts it (``--launcher none``), up to its local launch: the tool's main
    with ``launch_local`` replaced by a check that it would start ``world_size`` workers. What only that path checks
    (``build_check``: the model, hooks, datasets, OHL copies and resume, once before any worker starts) still
    refuses a config here as it refused the subprocess of the tool these runs replaced."""
    launched = []
    tool.prestart_workers = tool.stop_prestarted_workers = lambda: None  # no fork server: no worker starts here
    tool.launch_local = lambda cfg, n, run: launched.append(n)
    tool.main([*argv, '--launcher', 'none'])
    if launched != [world_size]:
        raise AssertionError(f'tools/train.py {" ".join(argv)} would launch {launched or "no"} local workers, '
                             f'the test runs {world_size} ranks')


def _rank(rank: int, tool: ModuleType, world_size: int, port: int, argv: list[str], launcher: str) -> None:
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # the parent killed (fork_ranks' timeout): this too
    if rank == world_size:  # beside the ranks, in a process of its own (the ranks see none of its state)
        _start_up_check(tool, world_size, argv)
        return
    # the torch threads of the process these runs replaced (fork_ranks' parent runs 1): a local launch's worker
    # (launch_local: OMP_NUM_THREADS, else the cores split between the copies), the plain run's process (one copy);
    # the resume tests compare a run of it bit for bit with a killed and resumed run of the tool's local launch
    threads = worker_threads(world_size)
    torch.set_num_threads(threads)
    for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ.setdefault(name, str(threads))
    if launcher == 'pytorch':
        os.environ.update(torchrun_env(rank, port, world_size), GROUP_RANK='0')
    tool.main([*argv, '--launcher', launcher])


def _parent(_: int, world_size: int, port: int, argv: list[str], sys_path: list[str], launcher: str,
            start_up_check: bool) -> None:
    sys.path[:0] = sys_path  # a config's custom_imports (the test's plugins), as PYTHONPATH gave a subprocess
    os.chdir(REPO_ROOT)  # where run_tool runs the tool
    # A BLAS library these imports load (scipy's OpenBLAS) starts its thread pool at load time, OMP_NUM_THREADS (or
    # every core, unset) threads: a plain `pytest` (no OMP_NUM_THREADS, or more than 2 cores a worker) found 2 threads
    # here and refused every run. Loaded with one thread; the ranks then see the test's environment again.
    with one_blas_thread():
        tool = load_tool('train')
        preload_worker_modules()
    threads = len(os.listdir('/proc/self/task'))
    if threads != 1:  # a fork copies only the forking thread: a lock another one holds would stay held
        raise RuntimeError(f'the ranks\' parent runs {threads} threads after its imports: it cannot fork them')
    # --launcher none, world_size 1: main's own path, nothing skipped
    checker = 1 if launcher == 'pytorch' and start_up_check else 0
    mp.start_processes(_rank, args=(tool, world_size, port, argv, launcher), nprocs=world_size + checker, join=True,
                       start_method='fork')


def train_ranks(argv: list[str], world_size: int, sys_path: list[str] = (), launcher: str = 'pytorch',
                timeout: float = 900.0, start_up_check: bool = True) -> None:
    """Run ``tools/train.py argv --launcher pytorch`` in ``world_size`` forked ranks with ``sys_path`` put first on
    their ``sys.path``; join them. ``launcher='none'`` (``world_size`` 1): the plain single-process run of
    ``tools/train.py argv``, in one forked process. ``start_up_check=False``: no process beside the ranks runs the
    plain start's checks (:func:`_start_up_check`): for a test of what the ranks of a launcher refuse that the
    plain start, which picks its own number of workers, accepts (a world size the config does not fit).

    Raises as :func:`_forked_ranks.fork_ranks` does: a rank's exception (``ProcessRaisedException`` naming the rank,
    with its traceback), a rank that died (``ProcessExitedException``), ``TimeoutError`` after ``timeout`` seconds
    (the parent killed, its ranks with it; 900 s: ``run_tool``'s limit for a subprocess of the tool).
    """
    if launcher not in ('pytorch', 'none') or (launcher == 'none' and world_size != 1):
        raise ValueError(f'train_ranks: launcher {launcher!r} with world_size {world_size}: pytorch, or none with 1')
    fork_ranks(_parent, (world_size, get_free_port(), list(argv), list(sys_path), launcher, start_up_check), nprocs=1,
               timeout=timeout)
