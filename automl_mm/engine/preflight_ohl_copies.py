"""The parts of a config that run the OHL copies, checked in the launching process
(:func:`~automl_mm.engine.preflight_ohl.check_ohl_config`): the number of processes a launcher started
(:func:`_check_launcher_world_size`), ``model_wrapper_cfg`` (:func:`_check_wrapper`), the optimisers' classes
(:func:`_optimizer_classes`, for ``check_copy_optimizers``), the train sampler's class and a ``CopySampler``'s
arguments and shards (:func:`_train_sampler_class`, :func:`_check_copy_sampler_arguments`,
:func:`_check_copy_shards`), and a ``CopySampler`` / ``CopyDataParallel`` left in a config without an ``OHLHook``
(:func:`_check_copy_parts_without_hook`).
"""
from __future__ import annotations

import copy
from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.utils.wording import a_class

from .preflight_ohl_hooks import _refuse

#: The environment variable each launcher sets to the number of processes it started.
LAUNCHER_WORLD_SIZE = {'pytorch': 'WORLD_SIZE', 'slurm': 'SLURM_NTASKS', 'mpi': 'OMPI_COMM_WORLD_SIZE'}


def _check_launcher_world_size(cfg: Any, key: str, hook: dict, num_copies: int, ranks_per_copy: int) -> None:
    """In a process that ``torchrun`` / slurm / mpirun started (``--launcher pytorch|slurm|mpi``): the number of
    processes it started is the copies' (``CopyRunner`` refused it only after every process had built its runner)."""
    import os

    from automl_mm.ohl.copies import check_world_size

    name = LAUNCHER_WORLD_SIZE.get(cfg.get('launcher', 'none'))
    try:
        world_size = int(os.environ[name]) if name else None
    except (KeyError, ValueError):
        return
    if world_size is not None:
        try:
            check_world_size(world_size, num_copies, ranks_per_copy)
        except ValueError as err:
            raise _refuse(key, hook, f'{err} ({name}={world_size})') from None


def _optimizer_classes(cfg: Any, scope: str) -> list[tuple[str, type | None]]:
    """``(config key, class)`` of the optimiser of ``optim_wrapper`` (``optim_wrapper.optimizer``) or of each of its
    wrappers (``optim_wrapper.<name>.optimizer``, an ``OptimWrapperDict``'s), resolved as mmengine's optimizer
    constructor builds it (:func:`~automl_mm.registry.config_class`: its ``_scope_``, else ``scope``; ``None`` where
    it cannot be)."""
    from automl_mm.registry import OPTIMIZERS, config_class

    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict):
        return []
    entries = [('optim_wrapper.optimizer', wrapper.get('optimizer'))]
    entries += [(f'optim_wrapper.{name}.optimizer', value.get('optimizer')) for name, value in wrapper.items()
                if isinstance(value, dict) and name != 'optimizer']
    return [(key, config_class(OPTIMIZERS, optimizer, scope)) for key, optimizer in entries]


def _check_wrapper(cfg: Any, layout: Any, scope: str) -> None:
    """A multi-process OHL run needs ``model_wrapper_cfg`` ``CopyDataParallel`` (mmengine's default DDP would
    synchronise gradients across the copies; the hook refused it in every worker), its type resolved as
    ``Runner.wrap_model`` builds it (:func:`~automl_mm.registry.config_class`: its ``_scope_``, else ``scope``)."""
    from automl_mm.ohl.copies import CopyDataParallel
    from automl_mm.registry import MODEL_WRAPPERS, config_class

    if layout.world_size == 1 and cfg.get('launcher', 'none') == 'none':
        return
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')  # mmengine's default
    kind = wrapper.get('type') if isinstance(wrapper, dict) else None
    cls = config_class(MODEL_WRAPPERS, wrapper, scope)
    if cls is not None and not issubclass(cls, CopyDataParallel):
        raise ValueError(f'a run of {layout.world_size} processes needs model_wrapper_cfg=dict(type='
                         f'"automl_mm.CopyDataParallel"), got model_wrapper_cfg.type={kind!r}, which would synchronise '
                         'gradients across the copies (configs/_base_/ohl_copies.py sets it)')


def _check_copy_parts_without_hook(cfg: Any, scope: str) -> None:
    """Without an ``OHLHook`` there is no copy layout, which a ``CopySampler`` needs to build and a
    ``CopyDataParallel`` needs in a multi-process run. A retraining config made from an OHL config by dropping the
    hook (as the exported fragments say) kept ``configs/_base_/ohl_copies.py``'s ``train_dataloader.sampler``: it
    failed when mmengine built the train loop, after the runner, asking for the ``OHLHook`` just dropped. Types
    are resolved as mmengine builds them (:func:`~automl_mm.registry.config_class`: a node's ``_scope_``, else
    ``scope``)."""
    from automl_mm.ohl.copies import CopyDataParallel, CopySampler
    from automl_mm.registry import MODEL_WRAPPERS, config_class

    fix = ('; to train without OHL (e.g. retraining with an exported final_policy.py) set {}, or add the OHLHook')
    sampler = _train_sampler_class(cfg, scope)
    if sampler is not None and issubclass(sampler, CopySampler):
        raise ConfigCheckError(
            f'train_dataloader.sampler is {a_class(sampler)}, which needs the copies of an OHLHook, but '
            f'custom_hooks has no OHLHook'
            + fix.format("train_dataloader.sampler=dict(type='DefaultSampler', shuffle=True)"))
    if cfg.get('launcher', 'none') == 'none':
        return  # one process (tools/train.py starts no workers without an OHLHook): the wrapper runs the model as is
    cls = config_class(MODEL_WRAPPERS, cfg.get('model_wrapper_cfg'), scope)
    if cls is not None and issubclass(cls, CopyDataParallel):
        raise ConfigCheckError(
            f'model_wrapper_cfg is {a_class(cls)}, which runs DDP inside the copies of an OHLHook, but '
            f'custom_hooks has no OHLHook (launcher={cfg.get("launcher")!r})'
            + fix.format('model_wrapper_cfg=None (mmengine\'s DDP)'))


def _check_copy_sampler_arguments(cfg: Any, sampler: type, layout: Any, scope: str) -> None:
    """Build a ``CopySampler`` (or subclass) of ``train_dataloader.sampler`` on a one-item dataset, as mmengine
    builds it (``seed`` the run's unless the config sets one), so its arguments (``seed=-1``,
    ``shared_order='yes'``) are refused here rather than in every worker's ``Runner.train``."""
    from mmengine.registry import DefaultScope

    from automl_mm.ohl.copies import CopySampler, temporary_copy_layout
    from automl_mm.registry import DATA_SAMPLERS

    if not issubclass(sampler, CopySampler):
        return
    sampler_cfg = copy.deepcopy(dict(cfg.train_dataloader.sampler))
    try:
        with DefaultScope.overwrite_default_scope(scope), temporary_copy_layout(layout):
            # one item per rank of a copy: the arguments alone (the shards' lengths are checked below)
            built = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(dataset=list(range(layout.ranks_per_copy)),
                                                                       seed=0))
    except (TypeError, ValueError) as err:
        raise ConfigCheckError(f'train_dataloader.sampler ({sampler.__name__}): {err}') from None
    if not built.round_up and layout.ranks_per_copy > 1:
        _check_copy_shards(cfg, layout, scope, sampler)


def _check_copy_shards(cfg: Any, layout: Any, scope: str, sampler: type) -> None:
    """``round_up=False`` with several ranks per copy: build the training set (as a worker does) and refuse a
    length ``ranks_per_copy`` does not divide into shards of the same number of batches (at the loader's batch size
    and ``drop_last``: :func:`~automl_mm.ohl.copy_sampler.check_equal_shards`; the copy's ranks would run different
    numbers of iterations and hang in their first collective after the shorter epoch). A
    dataset that does not build here is left to the runner, which reports its own error."""
    from mmengine.registry import DefaultScope

    from automl_mm.ohl.copies import check_equal_shards
    from automl_mm.registry import DATASETS

    from .preflight_rank_shards import _batching

    dataset_cfg = copy.deepcopy(cfg.train_dataloader.get('dataset'))
    if not isinstance(dataset_cfg, dict) or cfg.train_dataloader.get('num_batch_per_epoch') is not None:
        return  # a copy reads num_batch_per_epoch x batch_size x ranks_per_copy samples (copy_sampler.copy_share)
    try:
        with DefaultScope.overwrite_default_scope(scope):
            length = len(DATASETS.build(dataset_cfg))
    except Exception:  # noqa: BLE001  (the runner builds it again and reports its own error)
        return
    try:
        check_equal_shards(length, layout.ranks_per_copy, False, _batching(cfg.train_dataloader, scope))
    except ValueError as err:
        raise ConfigCheckError(f'{err} ({sampler.__name__})') from None


def _train_sampler_class(cfg: Any, scope: str) -> type | None:
    """The class of ``train_dataloader.sampler`` (:func:`~automl_mm.registry.config_class`: its ``_scope_``, else
    ``scope``; ``None``: not a config whose type resolves)."""
    from automl_mm.registry import DATA_SAMPLERS, config_class

    return config_class(DATA_SAMPLERS, (cfg.get('train_dataloader') or {}).get('sampler'), scope)
