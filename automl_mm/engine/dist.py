"""Let mmengine's ``pytorch`` launcher run on machines without GPUs, and give each slurm job its own port.

mmengine 0.10.7's ``_init_dist_pytorch`` calls ``torch.cuda.set_device`` unconditionally, so ``torchrun`` and
automl_mm's local launcher fail on CPU-only machines with "Found no NVIDIA driver". Where CUDA is unavailable we
initialise the process group (gloo) without touching CUDA; with GPUs mmengine's own function runs unchanged.
mmengine's ``_init_dist_slurm`` rendezvous on port 29500 unless told another: :func:`init_dist_slurm_job_port`
derives one from the job id (both installed by :mod:`automl_mm.engine.patches`).
"""
from __future__ import annotations

import os

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


def slurm_job_port(job_id: str | None) -> int | None:
    """The rendezvous port of slurm job ``job_id`` (``SLURM_JOB_ID``): 15000 + its last four digits, PyTorch
    Lightning's rule (``lightning.fabric.plugins.environments.SLURMEnvironment.resolve_port``), the same in every
    task of the job and different for jobs whose ids differ in their last four digits; ``None`` for a missing or
    non-numeric id."""
    if not job_id or not job_id.isdigit():
        return None
    return 15000 + int(job_id[-4:])


def init_dist_slurm_job_port(backend: str, port: int | None = None, init_backend: str = 'torch', **kwargs) -> None:
    """mmengine's ``_init_dist_slurm`` with the port of :func:`slurm_job_port` where neither ``dist_cfg.port`` nor
    ``MASTER_PORT`` (``tools/slurm_train.sh`` exports ``PORT`` as it) names one.

    mmengine's default, 29500, was every job's: two jobs sharing a node (4 GPUs each on an 8-GPU node) put their
    rank 0 on the same port, and the second stopped with ``EADDRINUSE`` (its other ranks on that node had connected
    to the first job's store).
    """
    if port is None and not os.environ.get('MASTER_PORT'):
        port = slurm_job_port(os.environ.get('SLURM_JOB_ID'))
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
