"""The training set's shards of the ranks of a multi-process run, checked before launch: a sampler with
``round_up=False`` (mmengine's ``DefaultSampler``, mmdet's ``MultiDataSampler`` / ``CustomSampleSizeSampler``) on a
training set whose length the world size does not divide gives the first ranks one sample more per epoch, and
with a batch boundary between the two shard lengths one iteration more (:func:`check_train_shards`).

The train loader is refused: its ranks iterate in lockstep (DDP's gradient all-reduce at every step, the
epoch's length read from each rank's own ``len(train_dataloader)`` by the loop and by the parameter schedulers that
``convert_to_iter_based``). A val / test loader with ``round_up=False`` is what mmengine means it for: its loop runs
no collective per batch, and ``collect_results`` gathers the ranks' unequal parts once at the end and interleaves
them with ``zip_longest`` (every image scored once, none repeated), so it is left alone, except where every forward
is itself a collective (FSDP, DeepSpeed ZeRO-3: :func:`check_eval_shards`). The OHL copies'
``CopySampler`` is checked by :func:`~automl_mm.engine.preflight_ohl_copies._check_copy_shards` against its copies'
ranks; the loaders automl_mm scores or samples itself (reward, search, BN re-estimation) are read whole on each rank
(:mod:`automl_mm.engine.local_loader`).
"""
from __future__ import annotations

import copy
import functools
import inspect
import os
from typing import Any

from .preflight_walk import ConfigCheckError


def launched_world_size(cfg: Any) -> tuple[int, str] | None:
    """The number of processes the run of ``cfg`` trains on, where this process can know it, and where it was read:
    the variable its launcher set (``launcher`` ``pytorch`` / ``slurm`` / ``mpi``: ``WORLD_SIZE``, ``SLURM_NTASKS``,
    ``OMPI_COMM_WORLD_SIZE``), else the local processes ``tools/train.py`` starts for an OHL hook (``num_copies x
    ranks_per_copy``). ``None``: not known (a launcher's variable missing or not a number, OHL counts the hook's own
    check refuses)."""
    from .preflight_ohl_copies import LAUNCHER_WORLD_SIZE

    launcher = cfg.get('launcher', 'none')
    name = LAUNCHER_WORLD_SIZE.get(launcher)
    if name is not None:
        try:
            return int(os.environ[name]), f'{name}={os.environ[name]} of launcher={launcher!r}'
        except (KeyError, ValueError):
            return None
    if launcher not in (None, 'none'):
        return None
    from .launch import required_world_size

    try:
        size = required_world_size(cfg)
    except ValueError:  # named by the OHL checks
        return None
    return size, "the OHLHook's num_copies x ranks_per_copy, the processes tools/train.py starts"


def _round_up(node: dict, cls: type) -> Any:
    """``round_up`` as ``cls`` is built from ``node``: the node's, else the constructor's default; ``True`` for a
    sampler without the argument (nothing to check)."""
    try:
        param = inspect.signature(cls).parameters.get('round_up')
    except (TypeError, ValueError):
        return True
    if param is None:
        return True
    return node.get('round_up', param.default)


def _sampler_builder(node: Any, scope: str | None) -> Any:
    """What ``node`` (``train_dataloader.sampler``) builds: its class (:func:`~automl_mm.registry.config_class`), or a
    ``functools.partial`` registered under its ``type`` or given as its ``type`` (mmengine builds any callable;
    ``config_class`` takes classes only, so such a sampler was never checked); ``None`` where it does not resolve."""
    from automl_mm.registry import DATA_SAMPLERS, config_class, registered_class

    cls = config_class(DATA_SAMPLERS, node, scope)
    if cls is not None or not isinstance(node, dict):
        return cls
    kind = node.get('type')
    if isinstance(kind, str):
        node_scope = node.get('_scope_')
        try:
            kind = registered_class(DATA_SAMPLERS, kind, node_scope if isinstance(node_scope, str) and node_scope
                                    else scope)
        except (KeyError, RuntimeError, ImportError, AttributeError):
            return None
    return kind if isinstance(kind, functools.partial) else None


def shard_batches(samples: int, batching: tuple[int, bool] | None) -> int | None:
    """The batches a rank whose shard holds ``samples`` samples runs per epoch under ``batching`` ``(batch_size,
    drop_last)``: ``ceil(samples / batch_size)``, or ``samples // batch_size`` with ``drop_last``; ``None`` where the
    batching is not known (``batching`` ``None``). The rule every shard check of uneven ``round_up=False`` shards
    follows (:func:`check_train_shards` here, OHL's :func:`~automl_mm.ohl.copy_sampler.check_equal_shards`): shards
    that differ by a sample are refused only where this count differs."""
    if batching is None:
        return None
    size, drop_last = batching
    return samples // size if drop_last else -(-samples // size)


def _batching(loader: dict, scope: str | None) -> tuple[int, bool] | None:
    """``(batch_size, drop_last)`` of the loader config ``loader``: the loader's (``batch_size`` 1 unless set, torch's
    default), with a ``batch_sampler`` its own ``drop_last`` (mmengine gives it the loader's ``batch_size``). ``None``
    where that is not known here (a ``batch_size`` that is no whole number, a ``batch_sampler`` that does not resolve
    or drops its last batch: mmdet's ``AspectRatioBatchSampler`` then drops what its aspect-ratio groups leave over,
    which depends on the images)."""
    from automl_mm.registry import DATA_SAMPLERS, config_class

    size = loader.get('batch_size', 1)  # (torch's DataLoader's default)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        return None
    batch_sampler = loader.get('batch_sampler')
    if batch_sampler is None:
        return size, bool(loader.get('drop_last', False))
    cls = config_class(DATA_SAMPLERS, batch_sampler, scope)
    try:
        param = inspect.signature(cls).parameters.get('drop_last') if cls is not None else None
    except (TypeError, ValueError):
        param = None
    if param is None or batch_sampler.get('drop_last', param.default) is not False:
        return None
    return size, False


def _unequal_batches(cfg: Any, key: str, scope: str | None) -> tuple | None:
    """``(sampler, N, world size, where it was read, floor(N / world), the iteration counts said)`` where loader
    ``key``'s sampler has ``round_up=False`` and the known world size gives its ranks different numbers of batches
    (:func:`check_train_shards`); ``None`` otherwise."""
    from mmengine.registry import DefaultScope

    from automl_mm.registry import DATA_SAMPLERS, DATASETS

    loader = cfg.get(key)
    if not isinstance(loader, dict) or loader.get('num_batch_per_epoch') is not None:
        return
    node = loader.get('sampler')
    cls = _sampler_builder(node, scope)
    wrapped = cls
    while isinstance(wrapped, functools.partial):  # (a partial of OHL's CopySampler is copy-aware too)
        wrapped = wrapped.func
    if cls is None or getattr(wrapped, 'copy_aware', False) or _round_up(node, cls):
        return
    known = launched_world_size(cfg)
    if known is None or known[0] <= 1:
        return
    world, source = known
    dataset_cfg = loader.get('dataset')
    if not isinstance(dataset_cfg, dict):
        return
    try:
        with DefaultScope.overwrite_default_scope(scope):
            dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
            # on this one process round_up=False deals out every sample once: its length is the epoch's N
            count = len(DATA_SAMPLERS.build(copy.deepcopy(dict(node)), default_args=dict(dataset=dataset, seed=0)))
    except Exception:  # noqa: BLE001  (the runner builds them again and reports its own error)
        return
    if count % world == 0:
        return
    short = count // world
    batching = _batching(loader, scope)
    longer, shorter = shard_batches(short + 1, batching), shard_batches(short, batching)
    if longer is not None and longer == shorter:
        return  # the same number of batches on every rank (only the last one differs by a sample): nothing hangs
    batches = '' if longer is None else (f' (at {key}.batch_size={loader.get("batch_size", 1)}: '
                                         f'{longer} and {shorter} iterations)')
    return cls, count, world, source, short, batches


def check_train_shards(cfg: Any, scope: str | None) -> None:
    """Refuse ``train_dataloader.sampler.round_up=False`` where the world size (:func:`launched_world_size`) does not
    divide the number of samples the sampler deals out per epoch.

    The ranks then take ``ceil(N / world)`` and ``floor(N / world)`` samples: under an epoch loop those whose shard
    needs one batch more run one more iteration, whose DDP gradient all-reduce pairs with the other ranks' next
    collective (their validation's gather), and the run hangs at the epoch's end or averages unrelated tensors; the
    schedulers' iteration spans (``convert_to_iter_based``) and a resume's position are each rank's own length, not
    one. Under an iteration loop the ranks' epochs (and permutations) drift apart and their shards stop partitioning
    the data. Where both shard lengths make the same number of batches (``ceil`` of each over ``batch_size``, or
    ``floor`` with ``drop_last``: 51 and 50 samples at ``batch_size=16`` are 4 batches on every rank) only the last
    batch differs by a sample and nothing is refused. ``N`` is read from the sampler built here on one process
    (``len`` of it: the dataset's length, or mmdet's ``CustomSampleSizeSampler``'s drawn count), the training set
    built as a worker builds it. Nothing is checked on one process, with ``train_dataloader.num_batch_per_epoch``
    (mmengine slices ``num_batch_per_epoch x batch_size x world`` samples), for a copy-aware sampler (OHL's
    ``CopySampler``: checked per copy), or where the dataset or sampler does not build here (the runner reports its
    own error). The sampler may be a registered ``functools.partial`` (or one given as ``type``), as mmengine builds
    any callable.

    Raises:
        ConfigCheckError: naming ``train_dataloader.sampler.round_up``, the sampler's type, the number of samples,
            the world size and where it was read, the two iteration counts (where the batching is known here), and
            what to set instead.
    """
    found = _unequal_batches(cfg, 'train_dataloader', scope)
    if found is None:
        return
    world = found[2]
    raise ConfigCheckError(
        f"{_uneven_split('train_dataloader', found, 'training samples', 'samples per epoch')}; under an epoch loop "
        'the ranks run different numbers of '
        'iterations and one waits forever in the DDP gradient all-reduce the others never reach (or pairs it with '
        "their next collective), the schedulers' iteration spans and a resume's position differ by rank, and under "
        'an iteration loop their epochs drift apart and their shards stop partitioning the data. Set '
        'train_dataloader.sampler.round_up=True (the default: the short shards repeat a sample) or use a training '
        f'set whose length is a multiple of {world}')



def _uneven_split(key: str, found: tuple, counted: str, taken: str) -> str:
    """The start of a ``round_up=False`` refusal of the loader ``key``: its sampler, the ``counted`` samples
    (e.g. ``'training samples'``), the world size and where it was read, and what each rank would take (``taken``
    of them) as :func:`_unequal_batches` ``found`` them."""
    from .preflight_training import callable_name

    cls, count, world, source, short, batches = found
    return (f'{key}.sampler.round_up=False ({callable_name(cls)}) with {count} {counted} on {world} processes '
            f'({source}), which {world} does not divide: {count % world} rank(s) would take {short + 1} {taken} and '
            f'the others {short}{batches}')

def _gathering_forward(cfg: Any, scope: str | None) -> str | None:
    """What makes every forward of the model a collective over the ranks, or ``None``: mmengine's
    ``MMFullyShardedDataParallel`` as ``model_wrapper_cfg`` (its ``val_step`` / ``test_step`` call the wrapped
    forward, which all-gathers the parameters' shards), a ``FlexibleRunner``'s ``FSDPStrategy``, or its
    ``DeepSpeedStrategy`` with ZeRO stage 3 (also sharded parameters)."""
    from automl_mm.registry import MODEL_WRAPPERS, config_class

    try:
        from mmengine.model import MMFullyShardedDataParallel
    except ImportError:  # (a torch without FSDP)
        MMFullyShardedDataParallel = None
    cls = config_class(MODEL_WRAPPERS, cfg.get('model_wrapper_cfg'), scope)
    if cls is not None and MMFullyShardedDataParallel is not None and issubclass(cls, MMFullyShardedDataParallel):
        return f'model_wrapper_cfg ({cls.__name__}) gathers the parameters in every forward'
    strategy = cfg.get('strategy')
    kind = strategy.get('type') if isinstance(strategy, dict) else None
    name = kind.rsplit('.', 1)[-1] if isinstance(kind, str) else getattr(kind, '__name__', None)
    if name == 'FSDPStrategy':
        return 'strategy (FSDPStrategy) gathers the parameters in every forward'
    zero = strategy.get('zero_optimization') if isinstance(strategy, dict) else None
    if name == 'DeepSpeedStrategy' and isinstance(zero, dict) and zero.get('stage') == 3:
        return 'strategy (DeepSpeedStrategy, zero_optimization.stage=3) gathers the parameters in every forward'
    return None


def check_eval_shards(cfg: Any, scope: str | None, test_only: bool = False, split: str = 'test') -> None:
    """:func:`check_train_shards` for the val / test loaders a run reads (:func:`~automl_mm.engine.preflight_walk.
    outside_split`), where the model's forward is itself a collective (:func:`_gathering_forward`: FSDP, DeepSpeed
    ZeRO-3). With mmengine's DDP an evaluation runs no collective per batch and ``collect_results`` gathers the
    ranks' unequal parts, so ``round_up=False`` is fine there; with sharded parameters the rank with one batch more
    waits forever in its last forward's all-gather.

    Raises:
        ConfigCheckError: naming ``<key>.sampler.round_up``, the number of samples, the world size, what gathers,
            and what to set instead.
    """
    from .preflight_walk import outside_split

    keys = [key for key in ('val_dataloader', 'test_dataloader') if not outside_split(key, test_only, split)]
    gathering = _gathering_forward(cfg, scope) if keys else None
    if gathering is None:  # (the world size is read by _unequal_batches)
        return
    for key in keys:
        found = _unequal_batches(cfg, key, scope)
        if found is None:
            continue
        raise ConfigCheckError(
            f"{_uneven_split(key, found, 'samples', 'samples')}; {gathering}, so the rank with a batch more waits "
            'forever in its last '
            f'forward for the others. Set {key}.sampler.round_up=True (the default: mmengine\'s collect_results cuts '
            'the padding off, every image is scored once)')
