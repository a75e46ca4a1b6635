"""The loaders a search builds itself over a held-out split or for BN re-estimation batches
(:func:`build_local_loader`, checked by :func:`check_local_loader`), and batches read from an offset of one
(:func:`cycle_batches`); :mod:`automl_mm.engine.evaluate` scores with them (its module names re-export these).
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import pickle
from collections.abc import Hashable, Iterable, Iterator
from itertools import islice

from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import FUNCTIONS as ROOT_FUNCTIONS
from torch.utils.data import ConcatDataset, DataLoader, SequentialSampler, Subset

#: How a loader that a search builds itself (:func:`build_local_loader`) reads its dataset, by ``purpose``:
#: ``'score'``: a held-out split (the OHL reward split, a NAS search split), whole and in order on every rank;
#: ``'sample'``: BN re-estimation batches of a loader given for them (``OHLHook.bn_recalibration_dataloader``), a
#: seeded random sample of full batches (:func:`fixed_batches`); ``'train'``: the same of ``train_dataloader``'s
#: dataset, whose ``sampler`` / ``batch_sampler`` / ``drop_last`` say how training draws, not the BN batches.
LOCAL_LOADER_PURPOSES = ('score', 'sample', 'train')

#: Keys of a loader config that :func:`build_local_loader` reads (or refuses) itself; the others go to torch's
#: ``DataLoader``.
LOCAL_LOADER_OWN = ('dataset', 'sampler', 'batch_sampler', 'drop_last', 'shuffle', 'collate_fn', 'worker_init_fn',
                    'num_batch_per_epoch', 'disable_subprocess_warning')

#: Samplers that draw a uniform random order (with their default ``shuffle=True``): what a BN re-estimation
#: sample stands for (a loader made from an OHL ``train_dataloader`` has ``CopySampler``).
_SHUFFLING_SAMPLERS = ('DefaultSampler', 'InfiniteSampler', 'CopySampler')


def check_local_loader(loader_cfg: dict, key: str, purpose: str = 'score') -> None:
    """Refuse the keys of a loader config that :func:`build_local_loader` would not apply for ``purpose``
    (:data:`LOCAL_LOADER_PURPOSES`), which a user of mmengine sets expecting them to be (mmengine's
    ``Runner.build_dataloader`` builds them): they used to be dropped without a word, so a ``reward_dataloader`` with
    ``drop_last=True`` was scored whole, one with ``sampler=dict(type='ClassAwareSampler')`` in dataset order.

    * ``'score'`` (read whole, in order, on every rank): a ``sampler`` other than ``DefaultSampler(shuffle=False)``
      (the in-order one; its ``seed`` / ``round_up`` change nothing on one process), any ``batch_sampler``,
      ``drop_last=True``, ``shuffle=True`` and ``num_batch_per_epoch`` (a subset of the split) are refused, and so
      is a dataset reading items more than once (a ``RepeatDataset`` / ``ClassBalancedDataset`` wrapper, one
      split twice in a ``ConcatDataset`` or two parts of it with overlapping ``indices``, ``indices`` naming a
      position twice: :func:`~automl_mm.engine.preflight_eval_splits.repeated_items`), which
      :func:`evaluate_locally` scores twice (a COCO metric counts each repeated box a false positive).
    * ``'sample'`` (a seeded random sample of full batches): a ``sampler`` other than a shuffling
      ``DefaultSampler`` / ``InfiniteSampler`` / ``CopySampler``, any ``batch_sampler``, ``shuffle=False`` and
      ``num_batch_per_epoch`` are refused; ``drop_last`` either way (every batch is full).
    * ``'train'``: nothing is refused (training's sampling keys are not the sample's; ``num_batch_per_epoch`` is
      applied as mmengine applies it, :func:`build_local_loader`).

    Raises:
        ValueError: naming ``key``'s refused key, its value and what to set instead.
        KeyError: an unknown ``purpose``.
    """
    if purpose not in LOCAL_LOADER_PURPOSES:
        raise KeyError(f'purpose must be one of {LOCAL_LOADER_PURPOSES}, got {purpose!r}')
    if purpose == 'train' or not isinstance(loader_cfg, dict):
        return
    from automl_mm.utils.scope import config_type_name

    score = purpose == 'score'
    how = ('is read whole and in order on every rank (each copy or candidate scores every item once, on the same '
           'batches)' if score else 'gives a seeded random sample of full batches (the same for every copy, path and '
           'rank)')
    sampler = loader_cfg.get('sampler')
    if sampler is not None:
        kind = config_type_name(sampler) if isinstance(sampler, dict) else type(sampler).__name__
        shuffle = sampler.get('shuffle', True) if isinstance(sampler, dict) else getattr(sampler, 'shuffle', None)
        fits = (kind == 'DefaultSampler' and shuffle is False) if score else (
            kind in _SHUFFLING_SAMPLERS and shuffle is not False)
        if not fits:
            want = ("dict(type='DefaultSampler', shuffle=False)" if score
                    else "dict(type='DefaultSampler', shuffle=True)")
            raise ValueError(f'{key}.sampler={sampler!r} would not be applied: {key} {how}. Leave {key}.sampler out, '
                             f'or set it to {want}')
    if loader_cfg.get('batch_sampler') is not None:
        raise ValueError(f'{key}.batch_sampler={loader_cfg["batch_sampler"]!r} would not be applied: {key} {how}, '
                         f'batched by {key}.batch_size. Remove {key}.batch_sampler')
    shuffle = loader_cfg.get('shuffle')
    if shuffle is not None and bool(shuffle) == score:
        raise ValueError(f'{key}.shuffle={shuffle!r} would not be applied: {key} {how}. Remove {key}.shuffle')
    if score and loader_cfg.get('drop_last'):
        raise ValueError(f'{key}.drop_last={loader_cfg["drop_last"]!r} would score a subset of the split (its last '
                         f'partial batch left out) where {key} {how}. Set {key}.drop_last=False or leave it out')
    if loader_cfg.get('num_batch_per_epoch') is not None:
        raise ValueError(f'{key}.num_batch_per_epoch={loader_cfg["num_batch_per_epoch"]!r} would not be applied: '
                         f'{key} {how}. Remove {key}.num_batch_per_epoch (give {key}.dataset fewer items instead)')
    if score:
        from .preflight_eval_splits import repeated_items

        repeated = repeated_items(loader_cfg, key)
        if repeated is not None:
            raise ValueError(f'{repeated} reads items of {key} more than once, but {key} {how}: each repeated item '
                             'would be scored again (a COCO metric counts every repeated box as a false positive, '
                             'an accuracy weighs those items twice), silently. Read each item of the split once')


def loader_batch_size(loader_cfg: dict) -> int | None:
    """The number of items a batch of ``loader_cfg`` holds, as mmengine's ``Runner.build_dataloader`` batches them:
    a ``batch_sampler``'s own ``batch_size`` where it sets one (mmengine hands the sampler the loader's
    ``batch_size`` as a default argument, which the sampler's own overrides: ``batch_size=2`` with
    ``batch_sampler=dict(type='AspectRatioBatchSampler', batch_size=4)`` trains on batches of 4), else the loader's
    ``batch_size``, else 1 (torch's default)."""
    sampler = loader_cfg.get('batch_sampler')
    own = sampler.get('batch_size') if isinstance(sampler, dict) else getattr(sampler, 'batch_size', None)
    return own if own is not None else loader_cfg.get('batch_size', 1)


def per_epoch_items(loader_cfg: dict, ranks: int) -> int | None:
    """How many of the dataset's first items mmengine's ``Runner.build_dataloader`` keeps under the loader's
    ``num_batch_per_epoch`` on ``ranks`` ranks: ``num_batch_per_epoch × batch size × ranks``, the batch size read as
    mmengine's ``_get_batch_size`` reads it for that slice (the loader's ``batch_size``, else its
    ``batch_sampler``'s; 1 where neither is set); ``None`` without ``num_batch_per_epoch``."""
    per_epoch = loader_cfg.get('num_batch_per_epoch') if isinstance(loader_cfg, dict) else None
    if per_epoch is None:
        return None
    from mmengine.runner.utils import _get_batch_size

    try:
        size = _get_batch_size(loader_cfg)
    except ValueError:  # neither set: torch batches one item
        size = 1
    return int(per_epoch) * int(size) * int(ranks)


def build_local_loader(loader_cfg: dict, key: str = 'dataloader', purpose: str = 'score',
                       reading_ranks: int | None = None) -> DataLoader:
    """An in-order ``DataLoader`` over the whole dataset of ``loader_cfg`` (no distributed sampler).

    Args:
        loader_cfg: An mmengine dataloader config (``dataset``, ``batch_size``, ``num_workers``, ``collate_fn``).
            Its ``sampler`` / ``batch_sampler`` / ``drop_last`` / ``shuffle`` / ``num_batch_per_epoch`` are
            refused where they would not be applied (:func:`check_local_loader` for ``purpose``), else taken out
            (every item, in order); for ``purpose='train'`` a ``num_batch_per_epoch`` keeps the dataset's first
            ``num_batch_per_epoch × batch_size × reading_ranks`` items, the part training reads
            (:func:`per_epoch_items`). Batches hold :func:`loader_batch_size` items: the ``batch_size`` of a
            ``batch_sampler`` (``'train'``) where it sets one, as mmengine batches training.
            Without ``num_workers``, ``persistent_workers`` and ``prefetch_factor`` are dropped (torch refuses them
            without workers; they change nothing there); for ``purpose='score'`` ``persistent_workers`` is dropped
            with workers too: each reading starts its workers anew from the iterator's base seed, which
            :func:`~automl_mm.engine.evaluate.evaluate_locally` draws from its seeded streams, so every reading of
            the split draws the same numbers in a random transform of its pipeline (persistent workers, seeded once
            at the first reading, drew the next numbers at every later one: a NAS step's candidates, or an OHL
            copy's trunks, were scored on other crops of the split); and so is ``disable_subprocess_warning``
            always (mmengine's switch of the worker init function it adds, which this loader does not add); a
            ``worker_init_fn`` dict is read as mmengine reads it (``type``: a registered name or a function, the other
            keys its arguments).
        key: The config key the loader came from, named in errors (a ``TypeError``, ``ValueError`` or
            ``FileNotFoundError`` of the dataset's build is raised again, of its type, as ``'<key>.dataset: ...'``,
            a plugin's bug as it was raised;
            a ``type`` no registry holds, naming its key: ``'<key>.dataset.pipeline.0.type=...'``).
        purpose: How the loader is read: ``'score'`` (a held-out split), ``'sample'`` (BN batches of a loader given
            for them) or ``'train'`` (BN batches of ``train_dataloader``), see :data:`LOCAL_LOADER_PURPOSES`.
        reading_ranks: The ranks among which one training epoch's ``num_batch_per_epoch`` slice is shared
            (``None``: the world size, as mmengine's ``Runner.build_dataloader`` slices it; an OHL copy reads its own
            ranks' share, ``ranks_per_copy``: :func:`~automl_mm.ohl.copy_sampler.copy_share`).

    Raises:
        ValueError: ``loader_cfg`` is not a loader config; a key refused by :func:`check_local_loader`; for
            ``purpose='score'``, a dataset reading one image at two indices (:func:`check_items_once`); a
            ``collate_fn`` / ``worker_init_fn`` naming no registered function.
    """
    if not isinstance(loader_cfg, dict) or 'dataset' not in loader_cfg:
        raise ValueError(f'{key} must be a dataloader config dict with a `dataset`, got {loader_cfg!r}')
    check_local_loader(loader_cfg, key, purpose)
    cfg = dict(loader_cfg)
    dataset = cfg.pop('dataset')
    if isinstance(dataset, dict):
        from .preflight_build import _named

        with _named(f'{key}.dataset', node=dataset):  # the dataset names its class or folder, not which split
            dataset = ROOT_DATASETS.build(dataset)
    if purpose == 'score':
        check_items_once(dataset, key)
    # purpose 'train': batches of the size training's batches hold (batch_size set only in the batch_sampler, as
    # mmengine reads it, gave BN batches of one image)
    cfg['batch_size'] = loader_batch_size(loader_cfg)
    for name in ('sampler', 'batch_sampler', 'drop_last', 'shuffle', 'disable_subprocess_warning'):
        cfg.pop(name, None)  # refused above where they would have been applied
    if cfg.pop('num_batch_per_epoch', None) is not None:  # purpose 'train': the items mmengine's build_dataloader keeps
        from mmengine.dist import get_world_size
        from torch.utils.data import Subset

        kept = per_epoch_items(loader_cfg, reading_ranks or get_world_size())
        dataset = Subset(dataset, range(min(kept, len(dataset))))
    if not cfg.get('num_workers'):
        cfg.pop('persistent_workers', None)  # torch refuses persistent workers without workers
        cfg.pop('prefetch_factor', None)  # and a prefetch factor
    elif purpose == 'score':
        # persistent workers are seeded once, at the first reading: every later reading of the split (the next
        # trunk's reward, the next candidate's score) drew a random transform from where the last one left off
        cfg.pop('persistent_workers', None)
    collate = cfg.pop('collate_fn', dict(type='pseudo_collate'))
    if isinstance(collate, dict):
        collate = dict(collate)
        kind = collate.pop('type', None)
        collate_fn = kind if callable(kind) else ROOT_FUNCTIONS.get(kind)
        if collate_fn is None:  # DataLoader(collate_fn=None) silently used torch's default_collate
            raise ValueError(f'{key}.collate_fn: {loader_cfg["collate_fn"]!r} names no registered function')
        if collate:  # further keys are the function's arguments, as mmengine's build_dataloader passes them
            collate_fn = functools.partial(collate_fn, **collate)
    else:
        collate_fn = collate or pseudo_collate
    init = cfg.pop('worker_init_fn', None)
    if isinstance(init, dict):  # as mmengine's build_dataloader reads it (torch was handed the dict, and failed
        init = dict(init)      # when the workers started, naming no key)
        kind = init.pop('type', None)
        init_fn = kind if callable(kind) else ROOT_FUNCTIONS.get(kind) if isinstance(kind, str) else None
        if init_fn is None:
            raise ValueError(f'{key}.worker_init_fn: {loader_cfg["worker_init_fn"]!r} names no registered function')
        init = functools.partial(init_fn, **init)
    elif init is not None and not callable(init):
        raise ValueError(f'{key}.worker_init_fn must be a function or a dict with its type, got {init!r}')
    return DataLoader(dataset, shuffle=False, collate_fn=collate_fn, worker_init_fn=init, **cfg)


#: Data-info keys that name the image an item reads (mmengine's / mmdet's ``img_path``, COCO's ``img_id``, the
#: in-memory sets' ``source_idx`` and ``img``): an item holding one is identified by its content alone.
_IMAGE_KEYS = ('img_path', 'img_id', 'file_name', 'source_idx', 'img')


#: The last element of an :func:`item_identity` told by the item's in-memory pixels and annotations alone (a data
#: info with ``img`` and no path / id / source index: mmpretrain's MNIST / CIFAR-10 style): two such items may be
#: two stored images of equal bytes, which real data sets hold (Fashion-MNIST's first release: test items 6334 and
#: 8569, zalandoresearch/fashion-mnist#44), not one image read twice.
PIXELS_ONLY = 'pixels only'


#: Data-info keys holding a file an item reads, compared by :func:`_stored_item` as the file they name
#: (:func:`_real_path`), not as spelled.
_PATH_KEYS = ('img_path', 'seg_map_path')


def _real_path(path):
    """A local file path with symlinks followed, made absolute (``os.path.realpath``), so that one file named
    through another ``data_root`` spelling (``data/x`` and ``./data/x``, its absolute path, a linked folder) is one
    item; a URI (``s3://...``, ``http://...``) or a non-string as given."""
    import os
    import os.path as osp

    if isinstance(path, (str, os.PathLike)) and '://' not in os.fspath(path):
        return osp.realpath(path)
    return path


#: The first element of an :func:`item_identity` told by the source image an item is made from
#: (:func:`_source_image`).
SOURCE_IMAGE = 'source image'


def _source_image(dataset, info) -> Hashable | None:
    """``(SOURCE_IMAGE, source, source_idx)`` for a data info with a ``source_idx`` of a dataset naming the images
    it indexes (``dataset.item_source()``, not ``None``: DigitsDataset, FashionMNISTDataset, CIFAR10Dataset and
    NoisyLabelDataset over one of them), so one source image is one item whatever pixels it is read into (another
    ``img_size``, another in-memory transform at load) or label it is given; else ``None`` (told by its data info,
    :func:`_stored_item`)."""
    if not (isinstance(info, dict) and 'source_idx' in info):
        return None
    get = getattr(dataset, 'item_source', None)
    source = get() if callable(get) else None
    return None if source is None else (SOURCE_IMAGE, source, int(info['source_idx']))


def _stored_item(dataset, index: int) -> Hashable | None:
    """What ``dataset`` stores as its item ``index``: the source image it is made from where the dataset names its
    source (:func:`_source_image`); else its class and a BLAKE2b (16 bytes) of the pickle of its
    ``get_data_info(index)`` (mmengine's data info: the image path or in-memory image, its annotations and source
    index; ``sample_idx``, the position ``get_data_info`` adds, left out), followed by ``index`` where the data info
    names no image (none of :data:`_IMAGE_KEYS`: a dataset whose items are made from their position, whose equal
    data infos are other images), or by :data:`PIXELS_ONLY` where it names the image by its in-memory ``img``
    alone; ``None`` for a dataset without a data info that pickles (a plain torch
    dataset)."""
    get = getattr(dataset, 'get_data_info', None)
    if not callable(get):
        return None
    try:
        info = get(index)
        source = _source_image(dataset, info)
        if source is not None:
            return source
        if isinstance(info, dict):
            # the file as the file it is: compared as spelled, one folder read as data/x and ./data/x (two parts of
            # a ConcatDataset, a base config's root and an absolute one) was two items at every image
            info = {key: _real_path(value) if key in _PATH_KEYS else value
                    for key, value in info.items() if key != 'sample_idx'}
        digest = hashlib.blake2b(pickle.dumps(info, protocol=4), digest_size=16).digest()
    except Exception:  # noqa: BLE001 - an item that is no data info, or does not pickle: told by its position
        return None
    kind = f'{type(dataset).__module__}.{type(dataset).__qualname__}'
    if isinstance(info, dict) and [key for key in _IMAGE_KEYS if key in info] == ['img']:
        return kind, digest, PIXELS_ONLY  # told by its pixels and annotations alone (see check_items_once)
    if isinstance(info, dict) and any(key in info for key in _IMAGE_KEYS):
        return kind, digest
    return kind, digest, index


def item_identity(dataset, index: int) -> Hashable:
    """Which stored item ``dataset[index]`` reads, followed through the wrappers that read items more than once or
    from another position: mmengine's ``RepeatDataset`` and ``ClassBalancedDataset`` (their
    ``_get_ori_dataset_idx``), torch's ``Subset`` (a ``num_batch_per_epoch`` slice, :func:`build_local_loader`) and
    ``ConcatDataset`` (mmengine's and mmdet's too: the part holding ``index``). The item of the dataset reached
    is identified by the source image it is made from where its dataset names the images its ``source_idx``
    indexes (:func:`_source_image`: a digits image read at ``img_size=8`` and at ``16`` is one item; until the
    forty-sixth session their other pixels made them two, so two parts of a reward loader sharing it passed),
    else by its content (:func:`_stored_item`: its class and a digest of its data info, ``img_path`` (the file it
    names, symlinks followed: ``data/x`` and ``./data/x`` are one folder; until the forty-seventh session two) /
    ``img_id`` / ``source_idx``, annotations and in-memory image; and its position where the data info names no
    image), so two dataset objects built from one config (a ``ConcatDataset`` listing one split twice) or two
    overlapping splits of one file give the images they share one identity, and two different splits of one file,
    none; a dataset without mmengine's ``get_data_info``
    (a plain torch dataset) is identified by ``(id(dataset), index in it)``. Two indices of one identity are one
    image (a repeated one: the same file or pixels and annotations; the pipelines of two parts may differ). Cost:
    one ``get_data_info`` and one hash of its pickle (about 2.5 kB for a Fashion-MNIST item).

    Args:
        dataset: A dataset, wrapped or not.
        index: An index of ``dataset`` (0 <= index < len(dataset)).
    """
    dataset, index = _stored_at(dataset, index)
    stored = _stored_item(dataset, index)
    return stored if stored is not None else (id(dataset), index)


def _stored_at(dataset, index: int) -> tuple:
    """The dataset and index that ``dataset[index]`` reads, through the wrappers :func:`item_identity` follows."""
    while True:
        if getattr(dataset, '_fully_initialized', True) is False:  # mmengine's lazily initialised wrappers
            dataset.full_init()
        if isinstance(dataset, Subset):
            dataset, index = dataset.dataset, int(dataset.indices[index])
        elif isinstance(dataset, ConcatDataset):
            part = bisect.bisect_right(dataset.cumulative_sizes, index)
            index -= dataset.cumulative_sizes[part - 1] if part else 0
            dataset = dataset.datasets[part]
        elif callable(getattr(dataset, '_get_ori_dataset_idx', None)) and hasattr(dataset, 'dataset'):
            # mmengine's RepeatDataset / ClassBalancedDataset
            dataset, index = dataset.dataset, int(dataset._get_ori_dataset_idx(index))
        else:
            return dataset, int(index)


def check_items_once(dataset, key: str) -> None:
    """Refuse a held-out dataset (``key``: a reward or search loader, read whole by
    :func:`~automl_mm.engine.evaluate.evaluate_locally`) that reads one image at two of its indices
    (:func:`item_identity`), which the config check cannot always tell: ``indices=[0, 5, -10]`` of a 10-item split
    (``-10`` is item 0), or ``indices=5`` beside ``indices=-8`` of one split in a ``ConcatDataset`` (the config does
    not say how many items the split has). Each repeated item was scored again: an accuracy weighed it twice, a COCO
    metric counted its repeated boxes as false positives. Items told by their pixels alone (:data:`PIXELS_ONLY`)
    are not compared: a split of an in-memory data set holding two images of equal bytes and label was refused.
    Cost: one :func:`item_identity` per item (a data info read and hashed), once, when the loader is built.

    Raises:
        ValueError: naming ``key``, the two indices and the image (its ``img_path`` / ``img_id`` / ``source_idx``).
    """
    seen: dict = {}
    for index in range(len(dataset)):
        identity = item_identity(dataset, index)
        if isinstance(identity, tuple) and identity[-1] == PIXELS_ONLY:
            continue  # equal pixels and labels at two positions: two images of equal bytes, as like as not
        first = seen.setdefault(identity, index)
        if first != index:
            leaf, at = _stored_at(dataset, index)  # torch's ConcatDataset has no get_data_info
            info = leaf.get_data_info(at) if callable(getattr(leaf, 'get_data_info', None)) else {}
            name = next((f'{k}={info[k]!r}' for k in ('img_path', 'img_id', 'file_name', 'source_idx')
                         if isinstance(info, dict) and k in info), 'the same data info')
            raise ValueError(f'{key}.dataset reads one image at its indices {first} and {index} ({name}), but {key} '
                             'is read whole, each item scored once: the image would be scored twice (a COCO metric '
                             'counts its repeated boxes as false positives, an accuracy weighs it twice), silently. '
                             'Read each image of the split once (check its indices / the parts of its '
                             'ConcatDataset)')


def _batches_of(loader: DataLoader, batches: list[list[int]]) -> DataLoader:
    """A loader of the given batches (lists of item indices) of ``loader``'s dataset, with ``loader``'s collate
    function, workers and their ``worker_init_fn`` / base-seed ``generator``, and its pinning: the same items as
    ``loader`` gives them. (A loader of its own that dropped the seeding ``worker_init_fn`` drew the random
    transforms of batches scored from an offset in unseeded workers, unlike the same batches read in order.)"""
    workers = dict(worker_init_fn=loader.worker_init_fn, multiprocessing_context=loader.multiprocessing_context,
                   timeout=loader.timeout, prefetch_factor=loader.prefetch_factor) if loader.num_workers else {}
    return DataLoader(loader.dataset, batch_sampler=batches, collate_fn=loader.collate_fn,
                      num_workers=loader.num_workers, pin_memory=loader.pin_memory,
                      pin_memory_device=loader.pin_memory_device, generator=loader.generator, **workers)


def batch_block(loader: DataLoader, part: int, parts: int) -> DataLoader | list:
    """Part ``part`` of ``parts`` of an in-order loader (:func:`build_local_loader`): a contiguous block of its
    batches, ``[part * B // parts, (part + 1) * B // parts)`` of its ``B`` batches, read with its collate function,
    workers, ``worker_init_fn`` / base-seed ``generator`` and pinning (:func:`_batches_of`). The blocks of
    ``part = 0 ... parts - 1`` partition the split's batches: each item once, in the batches the whole loader reads
    it in (none padded or repeated, as mmengine's ``DefaultSampler`` pads a split the ranks do not divide), and
    the blocks' results put end to end in ``part`` order are the whole loader's in its order. An empty block (fewer
    batches than parts) is an empty list (no workers started for nothing). The ranks of an OHL copy read the reward
    split so (:meth:`~automl_mm.engine.evaluate.HeldOutEvaluator.score` with a ``group``).

    Raises:
        TypeError: ``loader`` is not an in-order torch ``DataLoader`` with a ``batch_size``.
        ValueError: ``parts`` < 1 or ``part`` outside ``[0, parts)``.
    """
    if not (isinstance(loader, DataLoader) and loader.batch_size and isinstance(loader.sampler, SequentialSampler)):
        raise TypeError(f'batch_block needs an in-order DataLoader with a batch_size (build_local_loader), got '
                        f'{type(loader).__name__}')
    if parts < 1 or not 0 <= part < parts:
        raise ValueError(f'batch_block: part {part} of {parts} parts')
    size, n = loader.batch_size, len(loader.dataset)  # type: ignore[arg-type]
    count = len(loader)
    first, stop = part * count // parts, (part + 1) * count // parts
    if first == stop:
        return []
    return _batches_of(loader, [list(range(b * size, min((b + 1) * size, n))) for b in range(first, stop)])


def cycle_batches(loader: Iterable, start: int, count: int) -> Iterator:
    """``count`` batches of ``loader`` starting at batch ``start`` (modulo its length), wrapping around.

    For an in-order torch ``DataLoader`` (what :func:`build_local_loader` makes) only the requested batches are
    loaded: a search scores thousands of samples at increasing batch offsets, and skipping by iterating would load
    the split up to each offset again. Those batches are loaded with ``loader``'s collate function, workers and
    their ``worker_init_fn`` / base-seed ``generator``, and its pinning: the same items as reading it in order.
    """
    length = len(loader)  # type: ignore[arg-type]
    if length == 0:
        raise ValueError('the evaluation split is empty')
    batch_ids = [(start + j) % length for j in range(count)]
    if isinstance(loader, DataLoader) and loader.batch_size and isinstance(loader.sampler, SequentialSampler):
        size, n = loader.batch_size, len(loader.dataset)  # type: ignore[arg-type]
        batches = [list(range(b * size, min((b + 1) * size, n))) for b in batch_ids]
        yield from _batches_of(loader, batches)
        return
    start %= length
    taken = 0
    while taken < count:
        for batch in islice(loader, start, None):
            yield batch
            taken += 1
            if taken == count:
                return
        start = 0
