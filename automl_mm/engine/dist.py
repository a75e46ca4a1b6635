"""Let mmengine's ``pytorch`` launcher run on machines without GPUs, and give each slurm job its own port.

mmengine 0.10.7's ``_init_dist_pytorch`` calls ``torch.cuda.set_device`` unconditionally, so ``torchrun`` and
automl_mm's local launcher fail on CPU-only machines with "Found no NVIDIA driver". Where CUDA is unavailable we
initialise the process group (gloo) without touching CUDA; with GPUs mmengine's own function runs unchanged; under
torchrun both first refuse two workers holding one ``RANK`` (:func:`check_distinct_ranks`).
mmengine's ``_init_dist_slurm`` rendezvous on port 29500 unless told another, at the address its shell pipe
``scontrol show hostname {SLURM_NODELIST} | head -n1`` printed: :func:`init_dist_slurm_job` derives the port from
the job id and runs scontrol itself; mmengine's ``_init_dist_mpi`` took 29500 for every job: :func:`init_dist_mpi_job`
derives it from the job's name. Both rendezvous through :func:`job_rendezvous_store`, which names a port another
job or program holds (installed by :mod:`automl_mm.engine.patches`). :func:`launcher_rendezvous` reaches that store
(torchrun's ``env://`` one under ``--launcher pytorch``) before the process group starts, for the agreement on the
reading of the config (:func:`~automl_mm.engine.rank_agreement.reading_config_together`). A launcher variable that is
not an integer (``WORLD_SIZE=two``) is named by :func:`env_int`, not left to a bare ``int()`` error.
"""
from __future__ import annotations

import datetime
import os
import socket
import subprocess
import zlib
from typing import Any

import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as dist_utils

from automl_mm.engine.tool_cli import (
    LAUNCHER_SETTERS,
    launcher_integer_problem,
    launcher_variable_problem,
    least_launcher_integer,
)
from automl_mm.registry import config_class

_ORIGINAL = dist_utils._init_dist_pytorch
_ORIGINAL_SLURM = dist_utils._init_dist_slurm
_ORIGINAL_MPI = dist_utils._init_dist_mpi


def env_int(name: str, default: int | None = None) -> int:
    """The launcher's environment variable ``name`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_PORT``,
    ``SLURM_PROCID``, ...) as an integer of at least its least value (1 for a world size and a port, else 0:
    :func:`~automl_mm.engine.tool_cli.least_launcher_integer`) and at most its largest (``MASTER_PORT``: 65535,
    :data:`~automl_mm.engine.tool_cli.LAUNCHER_INTEGER_MOST`), read by the tools' parser
    (:func:`~automl_mm.engine.tool_cli.launcher_integer_problem`); ``default`` where it is unset or empty.

    ``int(os.environ[name])`` stopped with a bare ``ValueError: invalid literal for int() with base 10: 'two'``
    (``WORLD_SIZE=two`` exported by a job script), naming neither the variable nor who set it.

    Raises:
        ValueError: the value is not such an integer, naming the variable, its value, its range and who sets it
            (:func:`~automl_mm.engine.tool_cli.launcher_integer_message`).
        KeyError: the variable is unset or empty and ``default`` is ``None``, naming it.
    """
    value = os.environ.get(name, '')
    if not value.strip():
        if default is None:
            raise KeyError(f'the environment variable {name} is not set ({LAUNCHER_SETTERS.get(name, "the launcher")} '
                           'sets it)')
        return default
    problem = launcher_integer_problem(name, value, least_launcher_integer(name))
    if problem is not None:
        raise ValueError(problem)
    return int(value)


def check_launcher_env(launcher: str) -> None:
    """Refuse a set variable that ``launcher``'s start-up reads as an integer and that is not one (of at least its
    least value): the variables and the message are the tools' early parse's
    (:func:`~automl_mm.engine.tool_cli.launcher_variable_problem` over
    :data:`~automl_mm.engine.tool_cli.LAUNCHER_INTEGERS`), for a caller that starts without the tools; unset ones
    are left to the start-up's own message.

    Raises:
        ValueError: naming the variable, its value, who sets it and the launcher.
    """
    problem = launcher_variable_problem(launcher)
    if problem is not None:
        raise ValueError(problem)


def check_distinct_ranks(timeout: datetime.timedelta) -> None:
    """Under torchrun (its agent's store serves the workers: ``TORCHELASTIC_USE_AGENT_STORE=True``), refuse two
    workers with one ``RANK`` before the process group waits for the rank that nobody holds.

    Two nodes given the same ``--node_rank`` (``NODE_RANK``) start workers with the same global ranks where torchrun's
    agents skip their rank exchange (``TORCH_ELASTIC_WORKER_IDENTICAL=1``), or where the second arrives after the run
    started (its agent reads the ranks assigned to the first; so does a node of a second job that reached the first
    job's store on the same port: checked with two torchrun jobs on port 29733, the late node's worker was refused at
    once and the first job's workers went on); when both arrive together they wait in torchrun's own rendezvous, before
    any worker starts (``tools/dist_train.sh`` refuses what one node can see). Every worker counts itself under its
    ``RANK`` in the agent's store (keys under ``automl_mm/ranks/RUN_ID/RESTART/WORLD_SIZE/``) and waits until
    ``WORLD_SIZE`` workers did: 3 nodes given 0, 1, 1 are ``WORLD_SIZE`` workers too, and every one of them is refused
    at once, where the process group waited for node index 2 until the timeout. The local launcher's workers
    (``automl_mm.engine.launch.launch_local``) count themselves the same way in the launcher's store (their ranks are
    distinct: a few store round trips). A no-op outside both (a user's own environment) and where torchrun may restart
    worker groups (``--max-restarts`` > 0, ``TORCHELASTIC_MAX_RESTARTS``): the store outlives the groups and no key
    tells one group from the next on every node (torch counts a restart only on the node whose worker failed, not on the
    nodes a membership change restarts, torch issue 135712; a node still at restart 0 met its previous group's keys,
    RANK held twice, and the others waited under restart 1 until the timeout). Without restarts a dynamic rendezvous
    starts another group only when a node joins: a larger ``WORLD_SIZE``.

    Raises:
        RuntimeError: on every worker, naming each ``RANK`` held twice and the hosts, ``NODE_RANK`` (torchrun's
            ``GROUP_RANK``) and ``LOCAL_RANK`` of its holders; or, where fewer than ``WORLD_SIZE`` workers count
            themselves within ``timeout``, how many did.
    """
    env = os.environ
    if env.get('TORCHELASTIC_USE_AGENT_STORE') != 'True' or env.get('TORCHELASTIC_MAX_RESTARTS', '0') != '0':
        return
    rank, world_size = env_int('RANK'), env_int('WORLD_SIZE')
    prefix = (f"automl_mm/ranks/{env.get('TORCHELASTIC_RUN_ID', '')}/{env.get('TORCHELASTIC_RESTART_COUNT', '0')}/"
              f'{world_size}/')
    store = torch_dist.TCPStore(env['MASTER_ADDR'], env_int('MASTER_PORT'), None, False, timeout)
    holders = store.add(f'{prefix}rank{rank}', 1)
    store.set(f'{prefix}rank{rank}.{holders}', f"{socket.gethostname()} (NODE_RANK={env.get('GROUP_RANK', '?')}, "
                                               f"LOCAL_RANK={env.get('LOCAL_RANK', '?')})")
    if holders == 2:
        store.set(f"{prefix}twice{store.add(f'{prefix}twice', 1)}", str(rank))
    if store.add(f'{prefix}joined', 1) == world_size:
        store.set(f'{prefix}all', '1')
    try:
        store.wait([f'{prefix}all'], timeout)
        joined = None
    except RuntimeError:  # a timeout
        joined = store.add(f'{prefix}joined', 0)
    twice = [int(store.get(f'{prefix}twice{i}')) for i in range(1, store.add(f'{prefix}twice', 0) + 1)]
    if twice:
        held = '; '.join(f'RANK {r} by ' + ' and '.join(
            store.get(f'{prefix}rank{r}.{i}').decode() for i in range(1, store.add(f'{prefix}rank{r}', 0) + 1))
            for r in sorted(twice))
        raise RuntimeError(f'--launcher pytorch: {len(twice)} global rank(s) of {world_size} are held by several '
                           f'workers ({held}), so the process group would wait for the ranks nobody holds until its '
                           'timeout: two nodes were started with the same NODE_RANK (torchrun --node_rank); give '
                           'every node its own index, 0 to NNODES - 1. (Or this node joined the rendezvous of '
                           f"another torchrun job at {env['MASTER_ADDR']}:{env['MASTER_PORT']}: give each job its own "
                           'PORT)')
    if joined is not None:
        raise RuntimeError(f'--launcher pytorch: {joined} of WORLD_SIZE={world_size} workers started within '
                           f'{timeout.total_seconds():g} s (this one RANK {rank}); start every node of the run '
                           '(NNODES) with its own NODE_RANK')


def init_dist_pytorch_cpu_aware(backend: str, init_backend: str = 'torch', **kwargs) -> None:
    """mmengine's ``_init_dist_pytorch``, with gloo and no CUDA calls where CUDA is unavailable (nccl becomes gloo),
    after :func:`check_launcher_env` (``RANK=two`` is named, not a bare ``int()`` error) and
    :func:`check_distinct_ranks`.

    Raises:
        ValueError: from :func:`check_launcher_env`; a ``port`` (``env_cfg.dist_cfg.port``), which torch's
            ``init_process_group`` does not take, named.
    """
    check_launcher_env('pytorch')
    if 'port' in kwargs:  # a runner started without the tools (their reading of the config refused it already)
        raise ValueError(_port_not_read('pytorch', kwargs['port']))
    check_distinct_ranks(kwargs.get('timeout') or torch_dist.default_pg_timeout)
    if torch.cuda.is_available():
        _ORIGINAL(backend, init_backend=init_backend, **kwargs)
        return
    if backend == 'nccl':
        backend = 'gloo'  # nccl needs GPUs
    torch_dist.init_process_group(backend=backend, **kwargs)


def slurm_job_port(job_id: str | None, step_id: str | None = None) -> int | None:
    """The rendezvous port of step ``step_id`` (``SLURM_STEP_ID``) of slurm job ``job_id`` (``SLURM_JOB_ID``):
    15000 + the job id's last four digits, PyTorch Lightning's rule
    (``lightning.fabric.plugins.environments.SLURMEnvironment.resolve_port``), moved by 100 per step (modulo 10000),
    so that two steps of one job running at once on a node (``srun ... &`` twice in a batch script) differ too. The
    same in every task of the step; jobs of neighbouring ids (an array's) differ. ``None`` for a missing or
    non-numeric job id.

    No rule of a job id onto a port range is free of collisions: jobs 10000 apart (1234 and 11234: both 16234), and
    a step ``s`` of job ``j`` and step 0 of job ``j + 100 * s``, take the same port; so can a program that listens
    on it. Two of them on one node are named at start by :func:`job_rendezvous_store` (set ``PORT`` /
    ``MASTER_PORT`` to another port then)."""
    if not job_id or not job_id.isdigit():
        return None
    step = int(step_id) if step_id and step_id.isdigit() else 0
    return 15000 + (int(job_id[-4:]) + 100 * step) % 10000


def slurm_master_addr(node_list: str) -> str:
    """The first host of ``node_list`` (``SLURM_NODELIST``, e.g. ``'node[01-03,07]'``) as ``scontrol show hostnames``
    expands it, run without a shell.

    mmengine ran ``scontrol show hostname {node_list} | head -n1`` through ``sh``: without scontrol (a task inside a
    container, enroot / pyxis / apptainer, that lacks slurm's tools) ``MASTER_ADDR`` became the shell's error,
    ``'/bin/sh: 1: scontrol: not found'``, and the ranks of other nodes tried to reach that host until the
    rendezvous timed out; an unquoted ``node[01-03,07]`` is also a glob, which a file ``node7`` in the working
    directory replaced.

    Raises:
        RuntimeError: scontrol is missing, fails or prints no host (names ``MASTER_ADDR``, which skips it).
    """
    advice = ('export MASTER_ADDR (the first node of the job, e.g. `export MASTER_ADDR=$(scontrol show hostnames '
              '"$SLURM_JOB_NODELIST" | head -n1)` in the batch script, outside the container) to skip it')
    try:
        done = subprocess.run(['scontrol', 'show', 'hostnames', node_list], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeError(f'--launcher slurm finds the rendezvous address (MASTER_ADDR) with `scontrol show '
                           f'hostnames {node_list}`, which could not run here ({err}); {advice}') from None
    hosts = done.stdout.split()
    if done.returncode or not hosts:
        raise RuntimeError(f'--launcher slurm: `scontrol show hostnames {node_list}` exited with {done.returncode} '
                           f'and printed no host ({done.stderr.strip()!r}); {advice}')
    return hosts[0]


#: The key under which rank 0's rendezvous store names its job (:func:`job_rendezvous_store`).
RENDEZVOUS_JOB_KEY = 'automl_mm/rendezvous_job'


def job_rendezvous_store(addr: str, port: int, rank: int, job: str, timeout: datetime.timedelta, launcher: str,
                         fix: str) -> torch_dist.TCPStore:
    """The rendezvous store of the job named ``job`` (e.g. ``'slurm job step 1234.0'``, the same in every rank) at
    ``addr:port``, refusing one that belongs to another job (passed to ``init_process_group(store=...)`` in place
    of its ``env://`` rendezvous, which creates the same ``TCPStore``).

    Rank 0 hosts it and writes ``job`` under :data:`RENDEZVOUS_JOB_KEY`; every other rank connects (retrying, as
    torch's rendezvous does, until ``timeout``) and reads it back before anything else. A port derived from a job
    id (:func:`slurm_job_port`, :func:`mpi_job_port`) can be another job's (slurm job ids 10000 apart) or a
    program's: its rank 0 then stopped with torch's bare ``EADDRINUSE``, naming neither where the port came from
    nor the fix, while its ranks on that node had connected to the other job's store and wrote their rendezvous
    keys into it (a silent hang, or a corrupt one, of both jobs). Clients do not count themselves into the store
    (``world_size=None``), so a wrong store is left as it was.

    Args:
        launcher: ``'slurm'`` / ``'mpi'``, for the messages.
        fix: where the port came from and how to choose another, for the messages.

    Raises:
        RuntimeError: on rank 0, ``port`` is in use on this node; on another rank, the store at ``addr:port`` names
            another job, or names none within ``timeout`` (a program that is not automl_mm's rank 0). Each names
            the port and ``fix``.
    """
    if rank == 0:
        try:
            store = torch_dist.TCPStore(addr, port, None, True, timeout, wait_for_workers=False, multi_tenant=True)
        except RuntimeError as err:
            if 'EADDRINUSE' not in str(err):
                raise
            raise RuntimeError(f'--launcher {launcher}: the rendezvous port {port} is in use on {addr} (rank 0, '
                               f'{socket.gethostname()}): another job, or a program, listens on it; {fix}') from None
        store.set(RENDEZVOUS_JOB_KEY, job)
        return store
    store = torch_dist.TCPStore(addr, port, None, False, timeout)
    try:
        owner = store.get(RENDEZVOUS_JOB_KEY).decode()
    except RuntimeError:  # a timeout: not automl_mm's rank 0 (or rank 0 died before writing)
        raise RuntimeError(f'--launcher {launcher}: the rendezvous store at {addr}:{port} named no job within '
                           f'{timeout.total_seconds():g} s (rank {rank}): another program may listen on the port; '
                           f'{fix}') from None
    if owner != job:
        raise RuntimeError(f'--launcher {launcher}: the rendezvous store at {addr}:{port} is {owner}\'s, not this '
                           f'one\'s ({job}, rank {rank}): two jobs on {addr} took the same port; {fix}')
    return store


def slurm_rendezvous_store(addr: str, port: int, rank: int, step: str,
                           timeout: datetime.timedelta) -> torch_dist.TCPStore:
    """:func:`job_rendezvous_store` of slurm job step ``step`` (``'SLURM_JOB_ID.SLURM_STEP_ID'``); its messages name
    where the port came from (``MASTER_PORT``, ``dist_cfg.port`` or :func:`slurm_job_port`) and ``PORT``."""
    fix = (f'the port comes from MASTER_PORT, dist_cfg.port or SLURM_JOB_ID / SLURM_STEP_ID (this step: {step}, '
           'automl_mm.engine.dist.slurm_job_port); set PORT (tools/slurm_train.sh / slurm_test.sh) or MASTER_PORT to '
           'a port free on the first node of the step')
    return job_rendezvous_store(addr, port, rank, f'slurm job step {step}', timeout, 'slurm', fix)


def slurm_rendezvous_port(port: int | None = None) -> tuple[int, str]:
    """The port a slurm step's ranks rendezvous at, and where it came from: ``port`` (``env_cfg.dist_cfg.port``)
    where given, else ``MASTER_PORT`` (``tools/slurm_train.sh``'s ``PORT``), else :func:`slurm_job_port` of
    ``SLURM_JOB_ID`` / ``SLURM_STEP_ID``, else 29500 (mmengine's). The one derivation of :func:`launcher_rendezvous`
    (without a config: ``port`` ``None``) and :func:`init_dist_slurm_job` (with the config's ``dist_cfg.port``,
    which mmengine's slurm start-up takes first: then rank 0 serves the agreement's store and the process group's).

    ``port`` is read as mmengine's ``_init_dist_slurm`` reads it (it exports ``str(port)``): an integer, or its digits.

    Raises:
        ValueError: ``MASTER_PORT`` is not a port (:func:`env_int`); ``port`` is not a TCP port (1 to 65535: 0 made rank
            0's store bind a random port no other rank knew, 70000 or ``'http'`` stopped in torch's ``TCPStore``),
            naming ``env_cfg.dist_cfg.port`` and its value.
    """
    if port is not None:
        number = int(port) if isinstance(port, int) and not isinstance(port, bool) or \
            isinstance(port, str) and port.strip().isdigit() else None
        if number is None or not 1 <= number <= 65535:
            raise ValueError(f'--launcher slurm: env_cfg.dist_cfg.port={port!r} is not a TCP port (an integer from 1 '
                             'to 65535): set it to a port free on the first node of the step, or remove it and set '
                             'PORT (tools/slurm_train.sh / slurm_test.sh) or MASTER_PORT')
        return number, 'env_cfg.dist_cfg.port'
    if os.environ.get('MASTER_PORT', '').strip():
        return env_int('MASTER_PORT'), 'MASTER_PORT'
    job_port = slurm_job_port(os.environ.get('SLURM_JOB_ID'), os.environ.get('SLURM_STEP_ID'))
    if job_port is not None:
        return job_port, f"SLURM_JOB_ID={os.environ.get('SLURM_JOB_ID')} / SLURM_STEP_ID, slurm_job_port"
    return 29500, "mmengine's default"


def _port_not_read(launcher: str, port: Any) -> str:
    """The refusal of ``env_cfg.dist_cfg.port`` under ``--launcher pytorch`` / ``mpi``, whose start-ups pass it to
    torch's ``init_process_group``, which takes no port."""
    return (f'--launcher {launcher}: env_cfg.dist_cfg.port={port!r} is read by --launcher slurm only (mmengine passes '
            "it to torch's init_process_group here, which takes no port: TypeError): remove it and set the rendezvous "
            'port with MASTER_PORT (PORT for tools/dist_train.sh / dist_test.sh, torchrun --master_port)')


def check_config_port(launcher: str, cfg: Any) -> None:
    """Refuse an ``env_cfg.dist_cfg.port`` of ``cfg`` that the process group of ``launcher`` cannot start at:
    under ``'pytorch'`` / ``'mpi'`` mmengine passes it to torch's ``init_process_group``, which takes none
    (``TypeError: ... unexpected keyword argument 'port'``, naming no config key).

    Under ``'slurm'`` it is the process group's port, as in mmengine's ``_init_dist_slurm`` (before ``MASTER_PORT``):
    OpenMMLab's documented way to run two slurm jobs on one node (``tools/slurm_train.sh ... --cfg-options
    env_cfg.dist_cfg.port=29501``). The ranks' agreement on the reading of the config met before any of them had read
    it (:func:`launcher_rendezvous`, at :func:`slurm_rendezvous_port` without the config), so where the config names
    another port rank 0 serves both stores.

    Raises:
        ValueError: naming ``env_cfg.dist_cfg.port``, its value, the launcher and ``PORT`` / ``MASTER_PORT``
            (:func:`_port_not_read`); under slurm, a ``dist_cfg.port`` that is not a TCP port
            (:func:`slurm_rendezvous_port`).
    """
    dist_cfg = ((cfg.get('env_cfg') if hasattr(cfg, 'get') else None) or {}).get('dist_cfg') or {}
    port = dist_cfg.get('port') if hasattr(dist_cfg, 'get') else None
    if port is None or launcher == 'none':
        return
    if launcher == 'slurm':
        slurm_rendezvous_port(port)  # a TCP port, named where not
        return
    raise ValueError(_port_not_read(launcher, port))


def init_dist_slurm_job(backend: str, port: int | None = None, init_backend: str = 'torch', **kwargs) -> None:
    """mmengine's ``_init_dist_slurm`` with this job's port and first node.

    * The port of :func:`slurm_rendezvous_port` (the one :func:`launcher_rendezvous` meets at): that of
      :func:`slurm_job_port` (of the job and step) where neither ``dist_cfg.port`` nor ``MASTER_PORT``
      (``tools/slurm_train.sh`` exports ``PORT`` as it) names one. mmengine's default, 29500, was every job's: two
      jobs sharing a node (4 GPUs each on an 8-GPU node) put their rank 0 on the same port, and the second stopped
      with ``EADDRINUSE`` (its other ranks on that node had connected to the first job's store).
    * ``MASTER_ADDR``, where not set, from :func:`slurm_master_addr` of the step's nodes (``SLURM_STEP_NODELIST``,
      else ``SLURM_NODELIST``, which can be the whole job's: a second step running on nodes 3 and 4 of a 4-node
      job sent its ranks to node 1, where the first step's rendezvous ran). mmengine keeps a set one.
    * With ``init_backend='torch'``, the store of :func:`slurm_rendezvous_store`, which refuses a port that another
      job holds, in place of torch's ``env://`` rendezvous at the same address and port.

    Raises:
        RuntimeError: from :func:`slurm_master_addr` or :func:`slurm_rendezvous_store`.
        ValueError: from :func:`check_launcher_env` (``SLURM_NTASKS``, ``MASTER_PORT``, ... not an integer); a
            ``port`` (``dist_cfg.port``) that is not a TCP port (:func:`slurm_rendezvous_port`).
    """
    check_launcher_env('slurm')
    at, _ = slurm_rendezvous_port(port)
    if port is not None or not os.environ.get('MASTER_PORT'):
        port = at  # dist_cfg.port as an integer; else the job's (mmengine: 29500 for every job)
    nodes = os.environ.get('SLURM_STEP_NODELIST') or os.environ.get('SLURM_NODELIST')
    if 'MASTER_ADDR' not in os.environ and nodes:
        os.environ['MASTER_ADDR'] = slurm_master_addr(nodes)
    if init_backend == 'torch' and 'store' not in kwargs and os.environ.get('MASTER_ADDR'):
        rank, world_size = env_int('SLURM_PROCID'), env_int('SLURM_NTASKS')
        step = f"{os.environ.get('SLURM_JOB_ID', '')}.{os.environ.get('SLURM_STEP_ID', '')}"
        kwargs.update(store=slurm_rendezvous_store(
            os.environ['MASTER_ADDR'], at, rank, step, kwargs.get('timeout') or torch_dist.default_pg_timeout),
            rank=rank, world_size=world_size)
    _ORIGINAL_SLURM(backend, port=port, init_backend=init_backend, **kwargs)


def mpi_job_name() -> str | None:
    """This mpirun job's name, the same in each of its processes: PMIx's ``PMIX_NAMESPACE`` (Open MPI 4 and 5), else
    Open MPI 4's ``OMPI_MCA_ess_base_jobid``; ``None`` without either."""
    return os.environ.get('PMIX_NAMESPACE') or os.environ.get('OMPI_MCA_ess_base_jobid') or None


def mpi_job_port(name: str | None) -> int | None:
    """The rendezvous port of mpirun job ``name`` (:func:`mpi_job_name`): 15000 + its CRC-32 modulo 10000, the range
    of :func:`slurm_job_port`; ``None`` without a name. mmengine's mpi start-up took 29500 for every job: two
    mpirun jobs on one node collided (the later one's ranks there joined the first's store). Two names may still
    share a port: :func:`job_rendezvous_store` names it."""
    return None if not name else 15000 + zlib.crc32(name.encode()) % 10000


def init_dist_mpi_job(backend: str, **kwargs) -> None:
    """mmengine's ``_init_dist_mpi`` with this job's port and a checked rendezvous.

    * The port of :func:`mpi_job_port` where ``MASTER_PORT`` is not set (mmengine: 29500, every job's).
    * With a ``MASTER_ADDR`` and a backend that rendezvous through a store (not ``mpi`` / ``smddp``), the store of
      :func:`job_rendezvous_store` (rank ``OMPI_COMM_WORLD_RANK`` of ``OMPI_COMM_WORLD_SIZE``), which refuses a
      port that another job holds. Without a job name the ranks cannot tell two unnamed jobs apart; rank 0 still
      names a port in use.

    Raises:
        RuntimeError: from :func:`job_rendezvous_store`.
        ValueError: from :func:`check_launcher_env` (``OMPI_COMM_WORLD_SIZE``, ``MASTER_PORT``, ... not an integer);
            a ``port`` (``env_cfg.dist_cfg.port``), which torch's ``init_process_group`` does not take, named.
    """
    check_launcher_env('mpi')
    if 'port' in kwargs:
        raise ValueError(_port_not_read('mpi', kwargs['port']))
    name = mpi_job_name()
    if not os.environ.get('MASTER_PORT') and (port := mpi_job_port(name)) is not None:
        os.environ['MASTER_PORT'] = str(port)
    if backend not in ('mpi', 'smddp') and 'store' not in kwargs and os.environ.get('MASTER_ADDR'):
        rank, world_size = env_int('OMPI_COMM_WORLD_RANK'), env_int('OMPI_COMM_WORLD_SIZE')
        kwargs.update(store=mpi_rendezvous_store(rank, kwargs.get('timeout') or torch_dist.default_pg_timeout),
                      rank=rank, world_size=world_size)
    _ORIGINAL_MPI(backend, **kwargs)


def mpi_rendezvous_store(rank: int, timeout: datetime.timedelta) -> torch_dist.TCPStore:
    """:func:`job_rendezvous_store` of this mpirun job (:func:`mpi_job_name`) at ``MASTER_ADDR`` and ``MASTER_PORT``
    (else 29500); its messages name where the port came from and ``MASTER_PORT``."""
    name = mpi_job_name()
    fix = (f'the port comes from MASTER_PORT or the job name (PMIX_NAMESPACE / OMPI_MCA_ess_base_jobid: {name}, '
           'automl_mm.engine.dist.mpi_job_port); export MASTER_PORT (mpirun -x MASTER_PORT) with a port free on '
           'the node of rank 0')
    return job_rendezvous_store(os.environ['MASTER_ADDR'], env_int('MASTER_PORT', 29500), rank, f'mpirun job {name}',
                                timeout, 'mpi', fix)


def launcher_rendezvous(launcher: str, timeout: datetime.timedelta) -> tuple[torch_dist.Store, int, int] | None:
    """``(store, rank, world size)`` of a distributed run's launcher, reached before the process group starts (the
    store its ``init_dist`` then rendezvous in), or ``None`` where this launcher's environment does not give it or the
    world is one process.

    * ``'pytorch'`` (torchrun, automl_mm's local launcher): ``env://`` from ``RANK``, ``WORLD_SIZE``,
      ``MASTER_ADDR``, ``MASTER_PORT`` (torchrun's agent store where it serves its workers).
    * ``'slurm'``: srun's ``SLURM_PROCID`` of ``SLURM_NTASKS``, at ``MASTER_ADDR`` (else the step's first node,
      :func:`slurm_master_addr`, kept in ``MASTER_ADDR`` as :func:`init_dist_slurm_job` would) and ``MASTER_PORT``
      (else the step's port, :func:`slurm_job_port`): :func:`slurm_rendezvous_store`. A ``RANK`` / ``WORLD_SIZE`` the
      job script exported (the same in every task, or left from another launcher) is not read: mmengine's slurm
      start-up replaces them too. The port is :func:`slurm_rendezvous_port`'s, the process group's too unless the
      config's ``env_cfg.dist_cfg.port`` names another: the process group then starts there, as under mmengine
      (rank 0 serves both stores).
    * ``'mpi'``: mpirun's ``OMPI_COMM_WORLD_RANK`` of ``OMPI_COMM_WORLD_SIZE`` where ``MASTER_ADDR`` is set (mmengine's
      mpi start-up needs it), at ``MASTER_PORT`` (else :func:`mpi_job_port`): :func:`mpi_rendezvous_store`.

    Raises:
        ValueError: one of the launcher's variables is not an integer (:func:`check_launcher_env`).
        RuntimeError: from :func:`slurm_master_addr`, :func:`job_rendezvous_store`, or torch's rendezvous (a
            timeout).
    """
    env = os.environ
    if launcher == 'pytorch':
        if any(not env.get(name) for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')):
            return None
        check_launcher_env(launcher)
        if env_int('WORLD_SIZE') <= 1:
            return None
        from torch.distributed.rendezvous import rendezvous

        return next(rendezvous('env://', timeout=timeout))
    if launcher == 'slurm':
        if not env.get('SLURM_PROCID') or not env.get('SLURM_NTASKS'):
            return None
        check_launcher_env(launcher)
        rank, world_size = env_int('SLURM_PROCID'), env_int('SLURM_NTASKS')
        nodes = env.get('SLURM_STEP_NODELIST') or env.get('SLURM_NODELIST')
        if world_size <= 1 or not env.get('MASTER_ADDR') and not nodes:
            return None
        if not env.get('MASTER_ADDR'):
            env['MASTER_ADDR'] = slurm_master_addr(nodes)
        port, _ = slurm_rendezvous_port()
        step = f"{env.get('SLURM_JOB_ID', '')}.{env.get('SLURM_STEP_ID', '')}"
        return slurm_rendezvous_store(env['MASTER_ADDR'], port, rank, step, timeout), rank, world_size
    if launcher == 'mpi':
        if not env.get('OMPI_COMM_WORLD_RANK') or not env.get('OMPI_COMM_WORLD_SIZE') or not env.get('MASTER_ADDR'):
            return None
        check_launcher_env(launcher)
        rank, world_size = env_int('OMPI_COMM_WORLD_RANK'), env_int('OMPI_COMM_WORLD_SIZE')
        if world_size <= 1:
            return None
        if not env.get('MASTER_PORT') and (port := mpi_job_port(mpi_job_name())) is not None:
            env['MASTER_PORT'] = str(port)  # as init_dist_mpi_job
        return mpi_rendezvous_store(rank, timeout), rank, world_size
    return None


def gloo_without_gpus(cfg) -> None:
    """Make a config's distributed settings work without GPUs (every launcher).

    * the process-group backend nccl becomes gloo (the same collectives on CPUs);
    * DistributedDataParallel wrappers get ``device_ids=None``: mmengine passes ``[LOCAL_RANK]``, which torch
      refuses for CPU modules.
    """
    if torch.cuda.is_available():
        return
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg', {})
    if dist_cfg.get('backend') == 'nccl':
        cfg.env_cfg.dist_cfg.backend = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                                     find_unused_parameters=cfg.get('find_unused_parameters', False))
        return
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel

    from automl_mm.engine.preflight_walk import runner_scope

    # resolved as the runner builds it: its _scope_, else the runner's scope ('mmengine' without default_scope)
    wrapper_type = config_class(MODEL_WRAPPERS, dict(wrapper, type=wrapper.get('type', 'MMDistributedDataParallel')),
                                runner_scope(cfg))
    if isinstance(wrapper_type, type) and issubclass(wrapper_type, DistributedDataParallel):
        wrapper.setdefault('device_ids', None)
