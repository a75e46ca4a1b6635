"""Start the local worker processes a config needs, so that one command runs a multi-copy search.

``python tools/train.py CONFIG`` without ``--launcher`` calls :func:`launch_local` when the config needs more
than one process (an ``OHLHook`` with ``num_copies * ranks_per_copy > 1``): it starts that many workers on this
machine, each joining a process group (gloo on CPUs, nccl on GPUs) with the ``pytorch`` launcher's environment.
Multi-node runs use ``torchrun``/slurm instead (``--launcher pytorch|slurm``).

Threads: each worker runs :func:`worker_threads` torch threads (``OMP_NUM_THREADS`` where set, else the usable cores
split between the workers), and ``tools/dist_train.sh CONFIG N`` / ``dist_test.sh`` export the same count for
each of their N processes, so one config and seed give the same rewards under either launcher on one machine. A
float sum's rounding follows the thread count (a 2-copy digits search: trunk-1 reward 19.0608 on 1 thread, 19.337
on 2), so ``torchrun`` run by hand with ``OMP_NUM_THREADS`` unset, which gives every process 1 thread (torchrun
says so at start), matches the local launcher only where the cores are no more than the workers; the launcher
prints its count at start.
"""
from __future__ import annotations

import contextlib
import ipaddress
import multiprocessing.forkserver
import os
import os.path as osp
import select
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp
from mmengine.logging import print_log

from automl_mm.engine.tool_errors import as_local_worker_said
from automl_mm.utils.cpus import (  # usable_cpus: importable from here as before
    quota_note,
    split_cores,
    threads_line,
    usable_cpus,
)
from automl_mm.utils.setup_env import REGISTERING_MODULES


def required_world_size(cfg: Any) -> int:
    """Processes a config needs: ``num_copies * ranks_per_copy`` of its OHL hook (found by type), else 1.

    Raises:
        ValueError: Either count is not a positive integer (the message names the hook's ``custom_hooks`` entry).
    """
    from automl_mm.engine.preflight_walk import runner_scope
    from automl_mm.ohl.copies import check_copy_counts, find_ohl_hook

    found = find_ohl_hook(cfg.get('custom_hooks', None), runner_scope(cfg))  # as the runner builds the hooks
    if found is None:
        return 1
    index, hook = found
    num_copies, ranks_per_copy = hook.get('num_copies'), hook.get('ranks_per_copy', 1)
    try:  # before any process starts: int('two') or a missing num_copies failed without naming the key
        check_copy_counts(num_copies, ranks_per_copy)
    except ValueError as err:
        raise ValueError(f'custom_hooks[{index}] ({hook.get("type")}): {err}') from None
    return num_copies * ranks_per_copy


#: What a CPU worker imports before it is forked (tools/train.py as ``__mp_main__``, then every module that
#: ``register_all_modules`` loads): about 6 s per worker that the workers no longer spend one after another. Then
#: ``torch._dynamo``: torch imports it lazily at the first optimiser built (``Optimizer.__init__`` is wrapped by
#: ``torch._compile._disable_dynamo``, which imports it on its first call), 0.8 s of CPU time in every worker
#: (torch 2.14, after the modules above), paid once in the fork server instead. Last ``worker_preload_done``,
#: which freezes the server's heap (:func:`automl_mm.utils.frozen_heap.freeze_imported_heap`).
WORKER_PRELOAD = ('__main__', *REGISTERING_MODULES, 'torch._dynamo', 'automl_mm.engine.worker_preload_done')


def start_method() -> str:
    """How local workers start: ``'forkserver'`` on CPUs where the platform has it (workers are forked from one
    server process that only imported :data:`WORKER_PRELOAD`: no model was built or trained there, so no OpenMP
    thread pool or CUDA context is forked), else ``'spawn'`` (every worker imports everything itself; always
    with CUDA)."""
    if torch.cuda.is_available() or 'forkserver' not in mp.get_all_start_methods():
        return 'spawn'
    return 'forkserver'


def prestart_workers() -> None:
    """Start the fork server now, so that it imports :data:`WORKER_PRELOAD` while this process still checks the
    config (:func:`launch_local` would otherwise start it, and wait for it, itself). No-op with ``'spawn'`` or when
    the server runs already (it then keeps its first environment and ``sys.path``)."""
    if start_method() == 'forkserver':
        multiprocessing.forkserver.set_forkserver_preload(list(WORKER_PRELOAD))
        multiprocessing.forkserver.ensure_running()


def stop_prestarted_workers() -> None:
    """Stop the fork server :func:`prestart_workers` started, before any worker was forked from it (the config
    check after it refused the config). The server imports :data:`WORKER_PRELOAD` before it looks at whether this
    process still runs, so it outlived a refusing ``tools/train.py`` by its whole preload (about 8 s of CPU), holding
    the tool's stdout and stderr open: ``tools/train.py bad.py | tee log`` and a subprocess reading the tool's output
    waited about 15 s after the refusal was printed. No-op when no server runs. Uses CPython's ``multiprocessing
    .forkserver._forkserver`` (its ``_forkserver_pid`` and its ``_stop``, which closes the server's alive pipe and
    reaps it; Python 3.8-3.13).
    """
    server = getattr(multiprocessing.forkserver, '_forkserver', None)
    pid = getattr(server, '_forkserver_pid', None)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)  # still importing: it would only see the closed alive pipe afterwards
    server._stop()


def worker_threads(world_size: int) -> int:
    """Torch threads of each local CPU worker: ``OMP_NUM_THREADS`` where it is set (as with ``torchrun`` and
    mmengine, which only fill it in when unset), else the :func:`usable_cpus` split between the ``world_size``
    workers (at least 1).

    Raises:
        ValueError: ``OMP_NUM_THREADS`` is set but not a positive integer (names the variable and its value).
    """
    value = os.environ.get('OMP_NUM_THREADS')
    if value is None or not value.strip():
        return split_cores(usable_cpus(), world_size)
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f'environment variable OMP_NUM_THREADS must be a positive integer, got {value!r}')
    return threads


#: Environment variables a multi-process launcher sets in every process it starts, with the ``--launcher`` that
#: joins those processes into one job: ``torchrun`` (and ``torch.distributed.launch``) ``WORLD_SIZE``, ``mpirun``
#: (Open MPI) ``OMPI_COMM_WORLD_SIZE``, ``srun`` ``SLURM_STEP_NUM_TASKS`` (the tasks of this job step; a batch
#: script outside srun has ``SLURM_NTASKS`` but no step, and runs one process).
LAUNCHER_WORLD_SIZE_ENV = {'WORLD_SIZE': 'pytorch', 'OMPI_COMM_WORLD_SIZE': 'mpi', 'SLURM_STEP_NUM_TASKS': 'slurm'}

#: What mmengine's slurm start-up reads (``mmengine.dist.utils._init_dist_slurm``; ``KeyError`` when missing).
SLURM_ENV = ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')

#: What mmengine 0.10.7's pytorch and mpi start-ups read without a default (``_init_dist_pytorch``: ``KeyError:
#: 'RANK'`` (``LOCAL_RANK`` the tools set, as mmdet's do), then torch's env:// rendezvous the rest;
#: ``_init_dist_mpi``: the Open MPI variables and ``MASTER_ADDR``), with the command that sets them.
LAUNCHER_ENV = {
    'pytorch': (('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
                'torchrun (tools/dist_train.sh CONFIG N / tools/dist_test.sh CONFIG CHECKPOINT N)'),
    'mpi': (('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK', 'OMPI_COMM_WORLD_SIZE', 'MASTER_ADDR'),
            'mpirun (with MASTER_ADDR exported)'),
}


def check_launcher_matches_environment(launcher: str, tool: str) -> None:
    """Refuse ``--launcher none`` in a process that a multi-process launcher started, and ``--launcher slurm`` /
    ``mpi`` on a machine without GPUs.

    ``torchrun --nproc_per_node N tools/train.py CONFIG`` without ``--launcher pytorch`` ran N independent
    trainings (each an OHL search with its own local workers) writing into the same work_dir, with no error; so
    did ``srun`` with several tasks without ``--launcher slurm`` (a user's own sbatch script), one search per task.
    mmengine 0.10.7's slurm and mpi start-up select a CUDA device per process (``torch.cuda.set_device``; slurm
    without ``SLURM_LOCALID`` first takes ``SLURM_PROCID % torch.cuda.device_count()``): without GPUs
    ``tools/slurm_train.sh`` failed with ``ZeroDivisionError: integer modulo by zero`` from inside mmengine, after
    the config was read and checked, naming neither the launcher nor what to use instead.

    Raises:
        RuntimeError: ``launcher`` is ``'none'`` and one of :data:`LAUNCHER_WORLD_SIZE_ENV` is an integer > 1
            (names the variable, its value and the flag to add); or ``launcher`` is ``'slurm'`` / ``'mpi'`` and
            no CUDA device is available (names the launcher and the torchrun scripts, which run on CPUs).
    """
    if launcher in ('slurm', 'mpi') and not _has_launcher_device(launcher):
        raise RuntimeError(
            f"{tool} --launcher {launcher}: mmengine's {launcher} start-up selects a CUDA device for every process "
            '(torch.cuda.set_device), and this machine has none (torch.cuda.is_available() is False). On CPUs start '
            'the processes with torchrun, which runs them on gloo: tools/dist_train.sh CONFIG N / '
            'tools/dist_test.sh CONFIG CHECKPOINT N (--launcher pytorch), once per node with NNODES, NODE_RANK and '
            'MASTER_ADDR set')
    if launcher != 'none':
        return
    for name, flag in LAUNCHER_WORLD_SIZE_ENV.items():
        try:
            size = int(os.environ.get(name, '1'))
        except ValueError:
            continue
        if size > 1:
            gpus = '' if flag == 'pytorch' or _has_launcher_device(flag) else (
                f" (mmengine's {flag} start-up needs GPUs, which this machine lacks: on CPUs start the processes "
                'with tools/dist_train.sh / tools/dist_test.sh instead)')
            raise RuntimeError(f'{tool} runs in one of {size} processes ({name}={size}) but with --launcher none: '
                               f'each would run the whole job into the same work_dir; add --launcher {flag}{gpus}')


def check_slurm_environment(launcher: str, tool: str) -> None:
    """Refuse ``--launcher slurm`` in a process that srun did not start: mmengine's slurm start-up read
    ``SLURM_PROCID`` and failed with ``KeyError: 'SLURM_PROCID'``, after the config was read and checked; likewise
    ``--launcher pytorch`` / ``mpi`` outside torchrun / mpirun (:data:`LAUNCHER_ENV`: ``python tools/train.py CONFIG
    --launcher pytorch``, as one types it for mmdet, failed in torch's rendezvous with a traceback, "environment
    variable RANK expected, but not set", naming neither torchrun nor the scripts).

    The batch script of an ``sbatch --ntasks N`` job (N > 1) that runs the tool itself, without srun, has all of
    them (sbatch sets ``SLURM_PROCID=0`` and ``SLURM_NTASKS=N`` in its one process): mmengine made that process
    rank 0 of a world of N (its size is ``SLURM_NTASKS``) and it waited for N - 1 ranks that nobody started, until
    ``env_cfg.dist_cfg.timeout``. srun sets ``SLURM_STEP_NUM_TASKS`` in every task of a job step; the batch script
    has none.

    Raises:
        RuntimeError: ``launcher`` is ``'slurm'`` and a variable of :data:`SLURM_ENV` is not set (names them, and
            the tools that start the tasks); ``'pytorch'`` / ``'mpi'`` and one of :data:`LAUNCHER_ENV` is not
            set (names them, and the command that sets them); or ``SLURM_NTASKS`` > 1 without
            ``SLURM_STEP_NUM_TASKS`` (names both, and srun); or a loopback ``MASTER_ADDR`` on several nodes
            (:func:`check_master_addr_reaches_every_node`).
    """
    if launcher in LAUNCHER_ENV:
        names, starter = LAUNCHER_ENV[launcher]
        missing = [name for name in names if not os.environ.get(name)]
        if missing:
            raise RuntimeError(
                f'{tool} --launcher {launcher} outside the processes {starter.split()[0]} starts: '
                f'{", ".join(missing)} {"is" if len(missing) == 1 else "are"} not set. Start the processes with '
                f'{starter}, or drop --launcher for one process (an OHL config starts its copies itself)')
        check_master_addr_reaches_every_node(launcher, tool)
        return
    if launcher != 'slurm':
        return
    missing = [name for name in SLURM_ENV if not os.environ.get(name)]
    if missing:
        raise RuntimeError(
            f'{tool} --launcher slurm outside an srun job step: {", ".join(missing)} '
            f'{"is" if len(missing) == 1 else "are"} not set (srun sets them in every task it starts). Start the '
            'tasks with srun (tools/slurm_train.sh / tools/slurm_test.sh), or use torchrun (--launcher pytorch)')
    check_master_addr_reaches_every_node(launcher, tool)
    ntasks = os.environ['SLURM_NTASKS']
    if not os.environ.get('SLURM_STEP_NUM_TASKS') and ntasks.isdigit() and int(ntasks) > 1:
        raise RuntimeError(
            f'{tool} --launcher slurm runs in the batch script of a slurm job of {ntasks} tasks (SLURM_NTASKS='
            f'{ntasks}), not in a task that srun started (SLURM_STEP_NUM_TASKS is not set): it alone would be rank '
            f'0 of {ntasks} and wait for the other {int(ntasks) - 1} until env_cfg.dist_cfg.timeout. Start the '
            f'tasks with srun inside the batch script (srun python {tool} ... --launcher slurm, as '
            'tools/slurm_train.sh / tools/slurm_test.sh do)')


def is_loopback(address: str) -> bool:
    """Whether ``address`` (a ``MASTER_ADDR``) names this machine only: a loopback IP (``127.0.0.1``, ``::1``) or
    ``localhost``."""
    try:
        return ipaddress.ip_address(address.strip('[]')).is_loopback
    except ValueError:
        return address.lower() == 'localhost' or address.lower().endswith('.localhost')


def _launcher_nodes(launcher: str) -> int | None:
    """How many nodes the processes of ``launcher`` run on, as its environment says: srun's
    ``SLURM_STEP_NUM_NODES``; under mpirun more than one where a node holds fewer than all ranks
    (``OMPI_COMM_WORLD_LOCAL_SIZE`` < ``OMPI_COMM_WORLD_SIZE``); ``None`` where it does not say."""
    if launcher == 'slurm':
        nodes = os.environ.get('SLURM_STEP_NUM_NODES', '')
        return int(nodes) if nodes.isdigit() else None
    if launcher == 'mpi':
        local, size = os.environ.get('OMPI_COMM_WORLD_LOCAL_SIZE', ''), os.environ.get('OMPI_COMM_WORLD_SIZE', '')
        if local.isdigit() and size.isdigit() and int(local) > 0:
            return -(-int(size) // int(local))
    return None


def check_master_addr_reaches_every_node(launcher: str, tool: str) -> None:
    """Refuse a loopback ``MASTER_ADDR`` (``127.0.0.1``, ``localhost``) in the environment of a job on several nodes
    (``--launcher slurm`` / ``mpi``).

    mmengine keeps a ``MASTER_ADDR`` it finds (its mpi start-up needs one), and srun passes the submitting shell's
    environment to every task: ``export MASTER_ADDR=localhost`` left from single-node runs (a profile, a tutorial)
    sent the ranks of every node but the first to wait for a rendezvous on themselves, until the process group's
    timeout, blaming nothing. (``tools/dist_train.sh`` refuses it for torchrun itself, before torchrun starts.)

    Raises:
        RuntimeError: naming ``MASTER_ADDR``, its value, the node count and the variable it was read from.
    """
    address = os.environ.get('MASTER_ADDR', '')
    nodes = _launcher_nodes(launcher)
    if not address or not is_loopback(address) or nodes is None or nodes < 2:
        return
    source = 'SLURM_STEP_NUM_NODES' if launcher == 'slurm' else 'OMPI_COMM_WORLD_SIZE / OMPI_COMM_WORLD_LOCAL_SIZE'
    hint = ('unset it (mmengine then takes the first node of the step from scontrol)' if launcher == 'slurm' else
            'set it to the address of the node of rank 0')
    raise RuntimeError(f'{tool} --launcher {launcher} on {nodes} nodes ({source}) with MASTER_ADDR={address} in the '
                       'environment: it reaches only the node each process runs on, so the ranks of the other nodes '
                       f'would wait for a rendezvous on themselves until the process-group timeout; {hint}')


def _has_launcher_device(launcher: str) -> bool:
    """Whether mmengine's ``launcher`` start-up finds the device it selects: CUDA (slurm: or Cambricon MLU)."""
    if torch.cuda.is_available():
        return True
    if launcher == 'slurm':
        from mmengine.device import is_mlu_available

        return is_mlu_available()
    return False




def exit_with(pid: int, sig: int = signal.SIGTERM) -> threading.Thread:
    """Send ``sig`` to this process as soon as process ``pid`` has exited (a daemon thread waits on its pidfd,
    or checks it once a second where ``os.pidfd_open`` is missing). A ``pid`` that is already gone counts as
    exited.

    Every local worker watches its launcher this way, so a ``tools/train.py`` stopped by any signal, SIGKILL
    included, takes its copies with it: they would otherwise go on training and writing checkpoints into a work
    dir that a restarted run resumes from. (Their OS parent is the fork server, which outlives the launcher
    while they run, so ``prctl(PR_SET_PDEATHSIG)`` would not fire.)
    """
    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd (non-Linux, old kernel) or already gone
            fd = None
        if fd is not None:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.poll()  # readable once the process has exited
        else:
            while True:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        os.kill(os.getpid(), sig)

    thread = threading.Thread(target=watch, name=f'exit-with-{pid}', daemon=True)
    thread.start()
    return thread


#: Set to ``1`` in the environment of ``tools/train.py`` to stop it (and so its workers) when the process that
#: started it exits; the benchmarks set it for every run they start.
EXIT_WITH_PARENT_ENV = 'AUTOML_MM_EXIT_WITH_PARENT'


def exit_with_parent_if_asked() -> bool:
    """Call :func:`exit_with` on this process's parent when :data:`EXIT_WITH_PARENT_ENV` is ``'1'``; returns
    whether it did."""
    if os.environ.get(EXIT_WITH_PARENT_ENV) != '1':
        return False
    exit_with(os.getppid())
    return True


def _worker(local_rank: int, world_size: int, port: int, threads: int, main: Callable[[str], None],
            cfg_path: str, launcher: int, failures: str | None = None) -> None:
    exit_with(launcher)  # a killed launcher takes its workers with it
    # the launcher's store serves the rendezvous (launch_local): every rank joins it as a client, as torch's env://
    # rendezvous does under torchrun's agent store (rank 0 would bind MASTER_PORT itself)
    os.environ.update(MASTER_ADDR=LAUNCH_STORE_ADDR, MASTER_PORT=str(port), RANK=str(local_rank),
                      LOCAL_RANK=str(local_rank), WORLD_SIZE=str(world_size), TORCHELASTIC_USE_AGENT_STORE='True')
    if threads:
        torch.set_num_threads(threads)
        # mmengine's Runner (set_multi_processing) sets both to 1 where unset, with a warning in every copy, while
        # this worker runs `threads`; a user's own values stay (torchrun keeps them too)
        for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            os.environ.setdefault(name, str(threads))
    # the fork server / spawn set this process's start method; unset, the Runner sets the config's
    # mp_start_method without warning every copy 'different from the previous setting forkserver'
    mp.set_start_method(None, force=True)
    _run_main(main, cfg_path, local_rank, failures)


class WorkerRefusal(Exception):
    """Raised in a local worker in place of one of automl_mm's refusals (:func:`_run_main`); its one argument is a
    JSON line, ``{"type": ..., "message": ...}`` (:func:`~automl_mm.engine.tool_errors.refusal_summary`), which
    :func:`launch_local` reads back from the last line of the worker's traceback: torch passes the launcher that text
    only (``ProcessRaisedException``)."""


#: How the last line of a worker's traceback starts where it raised :class:`WorkerRefusal`.
_REFUSAL_LINE = f'{WorkerRefusal.__module__}.{WorkerRefusal.__qualname__}: '


def _run_main(main: Callable[[str], None], cfg_path: str, local_rank: int = 0, failures: str | None = None) -> None:
    """``main(cfg_path)`` in a worker; one of automl_mm's refusals (a start or resume check that names the key and
    the fix, raised in the worker's ``Runner.train``) is raised again as :class:`WorkerRefusal` without its
    traceback, unless ``AUTOML_MM_TRACEBACK`` is set: the launcher printed the worker's 30-line traceback through
    mmengine above the one line a user needs (any other error keeps it). With ``failures`` (the launch's folder),
    the failure is recorded there first (:func:`_record_failure`)."""
    import json

    from .tool_errors import refusal_summary

    try:
        main(cfg_path)
    except Exception as err:
        summary = refusal_summary(_own_error(err), main)
        refusal = None if summary is None else WorkerRefusal(json.dumps(dict(type=summary[0], message=summary[1])))
        if failures is not None:
            _record_failure(err, local_rank, failures, refusal)
        if refusal is None:
            raise
        raise refusal from None


def _own_error(err: BaseException) -> BaseException:
    """The worker's own error where ``err`` is a :class:`~automl_mm.engine.rank_failures.RankFailure` (this rank failed
    after another) whose first rank failed with the same error (every rank ran the same check: a resume or start
    refusal), else ``err``. The worker torch reports has mostly failed after another rank, and the message said it
    twice: ``the run failed on rank 3 (ValueError: <message>); this rank stopped with it (ValueError: <message>); rank
    3's own output (or torchrun's summary) shows its error ...`` (a local worker's output holds no error)."""
    from .rank_failures import RankFailure

    own = err.__cause__
    if isinstance(err, RankFailure) and own is not None and not err.waited \
            and err.cause == f'{type(own).__name__}: {own}':
        return own
    return err


def _worker_refusal(text: str) -> dict | None:
    """The ``{"type": ..., "message": ...}`` of a worker's traceback ``text`` that ends in :class:`WorkerRefusal`,
    else ``None``."""
    import json

    last = text.rstrip('\n').rsplit('\n', 1)[-1]
    if not last.startswith(_REFUSAL_LINE):
        return None
    try:
        refusal = json.loads(last[len(_REFUSAL_LINE):])
    except ValueError:
        return None
    return refusal if isinstance(refusal, dict) and {'type', 'message'} <= refusal.keys() else None


def _record_failure(error: BaseException, local_rank: int, failures: str,
                    refusal: BaseException | None = None) -> None:
    """Record this worker's ``error`` in the folder ``failures`` for :func:`launch_local`: where it is a
    :class:`~automl_mm.engine.rank_failures.RankFailure` naming another rank (this worker was told of that rank's
    failure), that rank (``<local_rank>.told``), once that rank recorded its own traceback (at most
    :data:`~automl_mm.engine.rank_failures.ORIGIN_RECORD_TIMEOUT` seconds:
    :func:`~automl_mm.engine.rank_failures.wait_for_origin_record`); else its traceback
    (``<local_rank>.traceback``).

    After an agreement on a failure every rank stops at once, and the rank told of it usually ends first (the failing
    rank's unwinding is longer): torch's ``join`` reported the first worker it saw end, and terminated the others
    before the failing one had written its own traceback."""
    import traceback

    from automl_mm.engine import rank_failures

    with contextlib.suppress(OSError):  # the run's own error matters more than this record of it
        told = isinstance(error, rank_failures.RankFailure) and error.rank != local_rank
        if told:
            origin = osp.join(failures, f'{error.rank}.traceback')
            rank_failures.wait_for_origin_record(lambda: osp.exists(origin))
        path = osp.join(failures, f'{local_rank}.told' if told else f'{local_rank}.traceback')
        with open(f'{path}.part', 'w') as f:
            # a refusal is recorded as the worker's traceback would end had it raised it (_worker_refusal reads it)
            own = traceback.format_exc() if refusal is None else f'{_REFUSAL_LINE}{refusal.args[0]}'
            f.write(str(error.rank) if told else own)
        os.replace(f'{path}.part', path)  # whole when it is there


def _reported_failure(failures: str, world_size: int, failed: int) -> tuple[int, str] | None:
    """The rank whose own code failed and its traceback (:func:`_record_failure`), where the worker ``failed``
    (the first torch saw fail) was told of it and it recorded its traceback; else ``None``."""
    try:
        with open(osp.join(failures, f'{failed}.told')) as f:
            origin = int(f.read())
        if not 0 <= origin < world_size:
            return None
        with open(osp.join(failures, f'{origin}.traceback')) as f:
            return origin, f.read().strip()
    except (OSError, ValueError):
        return None


#: Where :func:`launch_local`'s rendezvous store listens (its workers' ``MASTER_ADDR``).
LAUNCH_STORE_ADDR = '127.0.0.1'


def launch_store() -> Any:
    """The rendezvous store of one local launch: a ``TCPStore`` server on :data:`LAUNCH_STORE_ADDR`, on a port the OS
    chooses as it binds it (port 0; ``.port`` names it), held until the object is dropped.

    The launch's workers join it as clients (``TORCHELASTIC_USE_AGENT_STORE=True``, ``MASTER_PORT`` its port: torch's
    ``env://`` rendezvous then hosts no store of its own, as under torchrun's agent). The port used to be
    ``get_free_port()``'s (bound, read and closed at once) and bound again by the workers' rank 0 seconds later:
    two launches at once on one node (two benchmark seeds side by side) could be handed the same port, and the later
    rank 0 stopped with ``EADDRINUSE`` (or a rank joined the other launch's store)."""
    return torch.distributed.TCPStore(LAUNCH_STORE_ADDR, 0, None, True, wait_for_workers=False)


def launch_local(cfg: Any, world_size: int, main: Callable[[str], None]) -> None:
    """Dump ``cfg`` to its work_dir (under its file's name, else ``launched_config.py``) and run
    ``main(cfg_path)`` in ``world_size`` new processes (started as :func:`start_method` says;
    :func:`prestart_workers` may have started their fork server already).

    ``main`` must be a module-level function (it is pickled to the workers) that builds and runs a Runner with
    ``launcher='pytorch'``.

    Each worker runs :func:`worker_threads` torch threads (printed before they start). They rendezvous at
    :func:`launch_store`, which this process holds until they end.

    Raises:
        ValueError: ``OMP_NUM_THREADS`` is not a positive integer (before any worker starts).
        WorkerError: when a worker fails; the other workers are stopped, and the message (printed last, once)
            names the rank and holds that worker's traceback: where the first worker to fail was told of another
            rank's failure (a :class:`~automl_mm.engine.rank_failures.RankFailure` naming it, after an agreement
            on a failure), that rank's (:func:`_record_failure`); :class:`WorkerRefused` (a ``WorkerError``) with
            the message alone where that worker stopped on one of automl_mm's refusals (:func:`_run_main`).
    """
    if torch.cuda.is_available() and torch.cuda.device_count() < world_size:
        raise RuntimeError(f'the config needs {world_size} processes but only {torch.cuda.device_count()} GPUs '
                           'are visible; use fewer copies or launch on several nodes with torchrun/slurm')
    # OMP_NUM_THREADS where set, else the cores split between the workers instead of oversubscribing them (GPU
    # workers too: each ran torch's default, every core, so N workers used N x cores threads).
    threads = worker_threads(world_size)
    cores = None if (os.environ.get('OMP_NUM_THREADS') or '').strip() else usable_cpus()
    print_log(threads_line(world_size, threads, cores, 'local', quota_note() if cores is not None else ''),
              logger='current')
    os.makedirs(cfg.work_dir, exist_ok=True)
    # under the config's own name: mmengine names the experiment (every log's 'Exp name') and the work dir's
    # config copy after the file the runner is built from (it was 'launched_config' for every run)
    cfg_path = osp.join(cfg.work_dir, osp.basename(cfg.filename) if cfg.filename else 'launched_config.py')
    if cfg.filename and osp.realpath(cfg_path) == osp.realpath(cfg.filename):
        cfg_path = osp.join(cfg.work_dir, 'launched_config.py')  # the config file is there: never overwritten
    cfg.launcher = 'pytorch'
    cfg.dump(cfg_path)
    prestart_workers()  # unless tools/train.py did already
    store = launch_store()  # held while the workers run: no other launch can take its port
    with tempfile.TemporaryDirectory(prefix='automl_mm_failures_') as failures:
        try:
            mp.start_processes(_worker, args=(world_size, store.port, threads, main, cfg_path, os.getpid(), failures),
                               nprocs=world_size, join=True, start_method=start_method())
        except mp.ProcessRaisedException as err:
            # torch terminated the other workers; keep only the failing worker's traceback, without this frame's: the
            # rank whose own code failed, where the first to fail was told of it (_record_failure), or, for one of
            # automl_mm's refusals, its message alone
            rank, text = _reported_failure(failures, world_size, err.error_index) or (
                err.error_index, _worker_traceback(err))
            refusal = _worker_refusal(text)
            # a worker's own output holds no error: where its message says another rank's does, say what is true
            text = as_local_worker_said(text)
            if refusal is not None:
                refusal['message'] = as_local_worker_said(refusal['message'])
            if refusal is not None:
                raise WorkerRefused(f'worker rank {rank} of {world_size} (work_dir {cfg.work_dir}): '
                                    f'{refusal["message"]}', refused_as=refusal['type']) from None
            raise WorkerError(f'worker rank {rank} of {world_size} failed (work_dir {cfg.work_dir}):\n{text}') from None
        except mp.ProcessExitedException as err:
            raise WorkerError(f'worker rank {err.error_index} of {world_size} exited with code {err.exit_code} '
                              f'(signal {err.signal_name or "none"}) without a Python traceback; see its output '
                              f'above (work_dir {cfg.work_dir})') from None


class WorkerError(RuntimeError):
    """A locally launched worker process failed; the message holds its rank and traceback."""


class WorkerRefused(WorkerError):
    """A locally launched worker process stopped on one of automl_mm's refusals; the message holds its rank and the
    refusal's message, ``refused_as`` the type the worker raised (``'ValueError'``), which the tools name."""

    def __init__(self, message: str, refused_as: str = '') -> None:
        super().__init__(message)
        self.refused_as = refused_as


def _worker_traceback(err: BaseException) -> str:
    text = str(err)
    marker = 'terminated with the following error:'
    return text.split(marker, 1)[1].strip() if marker in text else text
