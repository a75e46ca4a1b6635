"""Let mmengine's ``pytorch`` launcher run on machines without GPUs, and give each slurm job its own port.

mmengine 0.10.7's ``_init_dist_pytorch`` calls ``torch.cuda.set_device`` unconditionally, so ``torchrun`` and
automl_mm's local launcher fail on CPU-only machines with "Found no NVIDIA driver". Where CUDA is unavailable we
initialise the process group (gloo) without touching CUDA; with GPUs mmengine's own function runs unchanged.
mmengine's ``_init_dist_slurm`` rendezvous on port 29500 unless told another, at the address its shell pipe
``scontrol show hostname {SLURM_NODELIST} | head -n1`` printed: :func:`init_dist_slurm_job` derives the port from
the job id and runs scontrol itself (both installed by :mod:`automl_mm.engine.patches`).
"""
from __future__ import annotations

import os
import subprocess

import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as dist_utils

from automl_mm.registry import registered_class

_ORIGINAL = dist_utils._init_dist_pytorch
_ORIGINAL_SLURM = dist_utils._init_dist_slurm


def init_dist_pytorch_cpu_aware(backend: str, init_backend: str = 'torch', **kwargs) -> None:
    """mmengine's ``_init_dist_pytorch``, with gloo and no CUDA calls where CUDA is unavailable (nccl becomes gloo)."""
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
    non-numeric job id."""
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


def init_dist_slurm_job(backend: str, port: int | None = None, init_backend: str = 'torch', **kwargs) -> None:
    """mmengine's ``_init_dist_slurm`` with this job's port and first node.

    * The port of :func:`slurm_job_port` (of the job and step) where neither ``dist_cfg.port`` nor ``MASTER_PORT``
      (``tools/slurm_train.sh`` exports ``PORT`` as it) names one. mmengine's default, 29500, was every job's: two
      jobs sharing a node (4 GPUs each on an 8-GPU node) put their rank 0 on the same port, and the second stopped
      with ``EADDRINUSE`` (its other ranks on that node had connected to the first job's store).
    * ``MASTER_ADDR``, where not set, from :func:`slurm_master_addr` of the step's nodes (``SLURM_STEP_NODELIST``,
      else ``SLURM_NODELIST``, which can be the whole job's: a second step running on nodes 3 and 4 of a 4-node
      job sent its ranks to node 1, where the first step's rendezvous ran). mmengine keeps a set one.

    Raises:
        RuntimeError: from :func:`slurm_master_addr`.
    """
    if port is None and not os.environ.get('MASTER_PORT'):
        port = slurm_job_port(os.environ.get('SLURM_JOB_ID'), os.environ.get('SLURM_STEP_ID'))
    nodes = os.environ.get('SLURM_STEP_NODELIST') or os.environ.get('SLURM_NODELIST')
    if 'MASTER_ADDR' not in os.environ and nodes:
        os.environ['MASTER_ADDR'] = slurm_master_addr(nodes)
    _ORIGINAL_SLURM(backend, port=port, init_backend=init_backend, **kwargs)


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

    wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
    if isinstance(wrapper_type, str):  # resolved in the config's scope, as the runner builds it
        wrapper_type = registered_class(MODEL_WRAPPERS, wrapper_type, cfg.get('default_scope'))
    if isinstance(wrapper_type, type) and issubclass(wrapper_type, DistributedDataParallel):
        wrapper.setdefault('device_ids', None)
