"""The data a run reads, fingerprinted in every checkpoint and compared on resume.

A resume continues the interrupted run, on its data. Nothing checked that: an ``ImageFolderDataset`` checkpoint
written before its split became a seeded hash of each file's path (:func:`automl_mm.datasets.splits.file_keys`)
resumed on a re-dealt split, so images of the reward split (which OHL's rewards, or a NAS search's scores, are read
on) were trained on from the resume point, and training images were rewarded, without a word; so did a resume
with another split ``seed``, other split fractions, another ``max_samples`` or other files under ``data_root``.

:class:`DataFingerprintHook`, which :func:`automl_mm.engine.patches.install` registers on every runner that trains
(``Runner.train`` / ``FlexibleRunner.train``, whatever launched it), records in
``checkpoint['meta']['data_fingerprints']`` a fingerprint (:func:`dataset_fingerprint`) of each dataset the run
reads (:func:`run_datasets`): the train loop's (``train_dataloader.dataset``), the val loop's
(``val_dataloader.dataset``) and the held-out splits of the OHL hook (its reward split) and of the NAS search loops
(their search split), by config key: what identifies each item (paths, ids, labels, boxes, in-memory images) and
the bytes of a sample of its image files (:func:`dataset_fingerprint`). On resume (not for ``load_from`` alone:
fine-tuning a checkpoint on other data is legitimate) the hook compares them with this run's and refuses a
difference before anything trains, naming the config key, the item counts, the checkpoint and the likely causes
(:func:`refusal`). ``resume_data_check=False``
at the config's top level resumes anyway (with a warning); a checkpoint without fingerprints (an older run)
resumes with a warning that the data could not be compared.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

#: Where a checkpoint's ``meta`` holds the fingerprints, ``{config key: {'items', 'blake2b', 'type'}}``.
META_KEY = 'data_fingerprints'
#: The top-level config switch: ``False`` resumes on data that differs from the checkpoint's (with a warning).
SWITCH = 'resume_data_check'
#: Sequences (labels) up to this many numbers are part of an item's identity as they are; longer ones (an image
#: held in memory) by a digest of their bytes (version 2; version 1 left them out).
_SMALL = 16
_SKIP = object()
#: The fingerprint this automl_mm records (``'version'`` of each fingerprint). Version 1 (no ``'version'`` key,
#: checkpoints written before it) identified an item by its paths, ids, sizes and labels only: a COCO file whose boxes
#: changed, an in-memory set (digits, CIFAR-10, Fashion-MNIST) of other images with the same labels, or other image
#: files under the same names, had the fingerprint of the data it replaced, and a resume on them passed. Version 2
#: adds the instances' boxes and masks, in-memory images and a sample of image files' bytes
#: (:func:`item_identity`, :func:`_file_sample`); a version-1 fingerprint is compared with this data's version-1
#: fingerprint.
VERSION = 2
#: How many image files of a data list :func:`_file_sample` reads (evenly spaced), and how much of each.
FILE_SAMPLE = 32
_FILE_BYTES = 1 << 16


# --- fingerprints -------------------------------------------------------------------------------------------------
def _roots(dataset: Any) -> tuple[str, ...]:
    """The folder prefixes (ending in a separator) an item's paths are made relative to: ``data_root``'s, else
    the ``data_prefix`` folders' (so a data set moved to another mount point keeps its fingerprint)."""
    root = getattr(dataset, 'data_root', None)
    root = os.fspath(root) if isinstance(root, os.PathLike) else root  # a pathlib.Path: mmengine joins it too
    prefix = getattr(dataset, 'data_prefix', None)
    folders = [root] if isinstance(root, str) and root else sorted(
        (v for v in (prefix.values() if isinstance(prefix, dict) else ()) if isinstance(v, str) and v),
        key=len, reverse=True)
    return tuple(dict.fromkeys(f.rstrip('/' + os.sep) + sep for f in folders for sep in {'/', os.sep}))


_NUMBERS = (type(None), bool, int, float)


def _plain(value: Any, roots: tuple[str, ...]) -> Any:
    """``value`` as part of an item's identity: a number, a string (a path under one of ``roots`` relative to it),
    or a short sequence of numbers (a label, a box); ``_SKIP`` for anything else (an image array, nested data)."""
    kind = type(value)
    if kind in _NUMBERS:
        return value
    if kind is str:
        for root in roots:
            if value.startswith(root):
                return value[len(root):].replace(os.sep, '/')
        return value
    if isinstance(value, (bool, int, float)):  # subclasses (IntEnum, ...)
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        return tuple(value.reshape(-1).tolist()) if size <= _SMALL else _SKIP
    if isinstance(value, (list, tuple)) and len(value) <= _SMALL and not any(isinstance(v, dict) for v in value):
        plain = tuple(_plain(v, roots) for v in value)
        if all(v is not _SKIP and not isinstance(v, tuple) for v in plain):
            return plain
    return _SKIP


def _content(value: Any) -> str | None:
    """A BLAKE2b (8 bytes, hex) of an array's dtype, shape and bytes, or of another value's ``repr`` (a polygon
    list, an RLE dict); ``None`` for an object whose ``repr`` is not its content (e.g. ``<object at 0x...>``)."""
    h = hashlib.blake2b(digest_size=8)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        h.update(f'{value.dtype.str}{value.shape}'.encode())
        h.update(np.ascontiguousarray(value).tobytes())
        return h.hexdigest()
    if isinstance(value, (list, tuple, dict, str, bytes)):
        text = repr(value)
        if ' at 0x' in text:
            return None
        h.update(text.encode())
        return h.hexdigest()
    return None


def _labels(instance: dict, roots: tuple[str, ...]) -> tuple:
    """One object of an item's instance list as version 1 identified it: its labels (keys ending in ``label``)."""
    return tuple(_plain(instance[k], roots) for k in sorted(k for k in instance if str(k).endswith('label')))


def _objects(instances: list) -> str | None:
    """A BLAKE2b (8 bytes, hex) of an item's instance list as it is (every field: ``bbox``, ``bbox_label``,
    ``ignore_flag``, ``mask``), from its pickle (a list of dicts of numbers pickles alike in every process; a
    field-by-field identity took ten times as long: 34 s against 3 s for 118K items of 7 objects with polygons,
    COCO train2017's size); its ``repr`` (:func:`_content`) where it does not pickle."""
    try:
        return hashlib.blake2b(pickle.dumps(instances, protocol=4), digest_size=8).hexdigest()
    except Exception:  # noqa: BLE001 - an object that does not pickle is told by its repr
        return _content(instances)


def item_identity(info: dict, roots: tuple[str, ...], version: int = VERSION) -> tuple:
    """What identifies one item of a data list (an mmengine ``BaseDataset`` entry).

    Its plain fields in key order (:func:`_plain`: ``img_path`` / ``file_name`` relative to ``data_root``,
    ``img_id``, ``source_idx``, ``gt_label``, ``height``, ...); of a list of instances (mmdet's ``instances``)
    every field of each object, its boxes and masks included (:func:`_objects`); and of an array held in the item
    (the in-memory sets' ``img``: digits, CIFAR-10, Fashion-MNIST) a digest of its bytes (:func:`_content`), so
    that other images or other boxes under the same indices, paths and labels are other data. Cost: one hash of
    what the item holds in memory (55,000 Fashion-MNIST-sized items: about 0.9 s here, 0.2 s without the images);
    no file is read.
    ``version=1`` gives the identity of checkpoints written before (labels of the instances only, no arrays)."""
    parts = []
    for key in sorted(info, key=str):
        value = info[key]
        plain = _plain(value, roots)
        if plain is not _SKIP:
            parts.append((key, plain))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            parts.append((key, _objects(value) if version >= 2 else tuple(_labels(v, roots) for v in value)))
        elif version >= 2 and isinstance(value, (np.ndarray, torch.Tensor)):
            parts.append((key, _content(value)))
    return tuple(parts)


def _file_sample(paths: list[str]) -> bytes:
    """The sizes and first 64 KiB of :data:`FILE_SAMPLE` of the image files ``paths`` (evenly spaced; a file that
    cannot be read counts as such), so that other images under the same names (a data set regenerated with another
    seed under one ``data_root``) are other data. Cost: up to 32 reads of 64 KiB."""
    from automl_mm.datasets.content import file_digest

    count = len(paths)
    picked = sorted({round(i * (count - 1) / (FILE_SAMPLE - 1)) for i in range(FILE_SAMPLE)}) \
        if count > FILE_SAMPLE else range(count)
    return b''.join((file_digest(paths[i], limit=_FILE_BYTES) or 'unread').encode() for i in picked)


def _data_infos(dataset: Any) -> Iterable[dict] | None:
    """The entries of an mmengine ``BaseDataset``'s data list, in order (a serialised one is read back from its
    bytes, as ``get_data_info`` does); ``None`` for a dataset without one."""
    if getattr(dataset, 'serialize_data', False) and getattr(dataset, 'data_address', None) is not None \
            and getattr(dataset, 'data_bytes', None) is not None:
        ends = np.asarray(dataset.data_address).tolist()
        starts = [0] + ends[:-1]
        return (pickle.loads(memoryview(dataset.data_bytes[s:e])) for s, e in zip(starts, ends))
    data_list = getattr(dataset, 'data_list', None)
    return data_list if isinstance(data_list, list) else None


def _update_numbers(h: Any, dataset: Any) -> None:
    """A wrapper's own numbers that decide which items it gives (``torch.utils.data.Subset.indices``,
    ``RepeatDataset.times``, ``ClassBalancedDataset.repeat_indices``)."""
    for name in ('indices', 'times', 'repeat_indices'):
        value = getattr(dataset, name, None)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            h.update(f'{name}={int(value)};'.encode())
        elif isinstance(value, (list, tuple, np.ndarray, range)):
            h.update(f'{name}='.encode() + np.asarray(list(value), dtype=np.int64).tobytes() + b';')


def _digest(dataset: Any, depth: int = 0, version: int = VERSION) -> bytes | None:
    """blake2b over the identity of every item of ``dataset`` in order (and, version 2, a sample of its image files'
    bytes: :func:`_file_sample`), or ``None`` where it cannot be told."""
    if depth > 8:
        return None
    if callable(getattr(dataset, 'full_init', None)) and not getattr(dataset, '_fully_initialized', True):
        dataset.full_init()  # what the first read does anyway: loads annotations, reads no image
    h = hashlib.blake2b(digest_size=16)
    h.update(type(dataset).__name__.encode() + b'\0')
    infos = _data_infos(dataset)
    if infos is not None:
        roots, count, files = _roots(dataset), 0, []
        for info in infos:
            h.update(repr(item_identity(info, roots, version)).encode() + b'\n')
            path = info.get('img_path') if isinstance(info, dict) else None
            if isinstance(path, str):
                files.append(path)
            count += 1
        if version >= 2 and files:
            h.update(_file_sample(files))
        # a BaseDataset that keeps its items elsewhere (its own get_data_info) has an empty or partial list
        return h.digest() if count == len(dataset) else None
    children = getattr(dataset, 'datasets', None)
    inner = getattr(dataset, 'dataset', None)
    parts = (list(children) if isinstance(children, (list, tuple)) and children else
             [inner] if inner is not None else None)
    if parts is None:
        return None
    h.update(f'{len(dataset)};'.encode())
    _update_numbers(h, dataset)
    for part in parts:
        digest = _digest(part, depth + 1, version)
        if digest is None:
            return None
        h.update(digest)
    return h.digest()


def dataset_fingerprint(dataset: Any, version: int = VERSION) -> dict | None:
    """``{'items': len(dataset), 'blake2b': hex digest, 'type': class name, 'version': version}`` of a dataset
    (version 1: without ``'version'``, as checkpoints written before recorded it), or ``None`` when it cannot be
    fingerprinted (no data list and no wrapped dataset that has one; an error while reading it).

    The digest covers each item's identity (:func:`item_identity`: paths, ids, labels, boxes, masks, in-memory
    images) in order, so the same images in another order, another split of the same count, other boxes or other
    pixels under the same labels differ, and (version 2) the bytes of a sample of 32 image files
    (:func:`_file_sample`). mmengine's ``BaseDataset`` (serialised or not), its wrappers (``ConcatDataset``,
    ``RepeatDataset``, ``ClassBalancedDataset``), torch's ``Subset`` / ``ConcatDataset``, automl_mm's
    ``NoisyLabelDataset`` (its flipped labels are in the wrapped list) and mmdet's datasets are covered; no image
    is decoded (a lazily initialised dataset loads its annotations, as its first read would). Cost: one pass over
    the data list, hashing what it holds, and up to 32 reads of 64 KiB."""
    try:
        digest = _digest(dataset, version=version)
        if digest is None:
            return None
        found = {'items': int(len(dataset)), 'blake2b': digest.hex(), 'type': type(dataset).__name__}
        return dict(found, version=version) if version >= 2 else found
    except Exception as err:  # noqa: BLE001 - a dataset that cannot be told is skipped, never an error
        print_log(f'data fingerprint: {type(dataset).__name__} skipped ({type(err).__name__}: {err})',
                  logger='current', level=logging.DEBUG)
        return None


# --- the datasets of a run ----------------------------------------------------------------------------------------
def _built_loop(runner: Any, name: str) -> Any:
    from mmengine.runner import BaseLoop

    loop = getattr(runner, name, None)
    return loop if isinstance(loop, BaseLoop) else None


def held_out_owners(runner: Any) -> Iterator[Any]:
    """The hooks and the train loop that score a held-out split (those with ``held_out_splits(runner)``)."""
    for owner in [*getattr(runner, 'hooks', []), _built_loop(runner, '_train_loop')]:
        if owner is not None and callable(getattr(owner, 'held_out_splits', None)):
            yield owner


def run_datasets(runner: Any, build: Callable[[str], bool] = lambda key: False) -> dict[str, Any]:
    """The datasets ``runner`` reads, by config key: ``train_dataloader.dataset`` and ``val_dataloader.dataset``
    (of the loops built so far) and ``<loader key>.dataset`` of each held-out split (an OHL hook's reward split,
    ``custom_hooks.0.reward_dataloader`` or the top-level ``reward_dataloader`` it falls back to; a NAS loop's
    ``train_cfg.search_dataloader`` / ``search_dataloader`` / ``reward_dataloader``). A held-out split not built
    yet is built when ``build(key)`` says so (it is built once per run and kept), else left out."""
    found = {}
    for loop_name, key in (('_train_loop', 'train_dataloader'), ('_val_loop', 'val_dataloader')):
        loop = _built_loop(runner, loop_name)
        dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
        if dataset is not None:
            found[f'{key}.dataset'] = dataset
    for owner in held_out_owners(runner):
        for key, held in owner.held_out_splits(runner).items():
            if held.loader is None and build(f'{key}.dataset'):
                held.build(runner)
            if held.loader is not None:
                found[f'{key}.dataset'] = held.loader.dataset
    return found


# --- the check ------------------------------------------------------------------------------------------------------
def check_enabled(cfg: Any) -> bool:
    """The config's ``resume_data_check`` (default ``True``).

    Raises:
        ValueError: it is not ``True`` or ``False`` (``'False'`` is a true string: the check ran where it was meant
            to be off).
    """
    value = (cfg or {}).get(SWITCH, True)
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f'{SWITCH} must be True or False, got {value!r}')
    return bool(value)


def _resumed_file(runner: Any) -> str:
    """The checkpoint a runner resumes, for messages: ``load_from`` (``--resume PATH``, or what tools/train.py
    resolved), ``FlexibleRunner``'s ``resume=PATH``, else what auto-resume picks in ``work_dir``."""
    if isinstance(getattr(runner, '_resume', None), str):
        return runner._resume
    if getattr(runner, '_load_from', None):
        return str(runner._load_from)
    from .resume import find_resumable_checkpoint

    found, _ = find_resumable_checkpoint(getattr(runner, 'work_dir', '.'))
    return found or 'the resumed checkpoint'


def saved_version(fingerprint: Any) -> int:
    """The version of a fingerprint a checkpoint recorded: its ``'version'``, 1 where it has none (written
    before versions)."""
    version = fingerprint.get('version', 1) if isinstance(fingerprint, dict) else VERSION
    return version if isinstance(version, int) and not isinstance(version, bool) else VERSION


def same_data_by_content(runner: Any, checkpoint: dict, key: str) -> bool | None:
    """Whether the dataset of config key ``key`` (``'<loader key>.dataset'``, as :func:`run_datasets` names it)
    holds, by content, the data the checkpoint's run read there: its fingerprint (of the checkpoint's version,
    computed through the runner's :class:`DataFingerprintHook`, which keeps it for the data check; a held-out split
    not built yet is built for it, as the check builds it) against ``meta['data_fingerprints'][key]``. ``None``
    where it cannot be told: a checkpoint written without fingerprints (an older automl_mm), a dataset that cannot
    be fingerprinted, a runner without the check."""
    saved = (checkpoint.get('meta') or {}).get(META_KEY) if isinstance(checkpoint, dict) else None
    saved = saved.get(key) if isinstance(saved, dict) else None
    check = next((h for h in getattr(runner, 'hooks', None) or () if isinstance(h, DataFingerprintHook)), None)
    if not isinstance(saved, dict) or check is None:
        return None
    dataset = run_datasets(runner, build=lambda name: name == key).get(key)
    now = None if dataset is None else check.fingerprint(dataset, saved_version(saved))
    return None if now is None else not data_changes({key: saved}, {key: now})


def compared_by_content(runner: Any, checkpoint: dict | None, loaders: dict[str, str]) -> tuple[list[str], list[str]]:
    """For the resume checks of what a search's scores are read on (an OHL hook's reward split and BN batches, a
    NAS search loop's search split and BN batches): which of their loaders' data is judged by content
    (:func:`same_data_by_content`) instead of by path. ``loaders``: ``{setting name: dataset config key}``.

    Returns ``(names whose paths the check leaves out, names it refuses)``: the first, the data that is the same
    (copied or moved under another root: compared by path, it was refused) or that differs while the data check is
    on (it refuses the resume, naming the key: other data under the same paths passed the path comparison); the
    second, data that differs under ``resume_data_check=False``, which lets the run train on other data but not rank
    rewards or scores of two data sets together. Names whose data cannot be told (``None``; ``checkpoint`` ``None``)
    are in neither: their paths are compared."""
    if checkpoint is None:
        return [], []
    verdicts = {name: same_data_by_content(runner, checkpoint, key) for name, key in loaders.items()}
    checked = check_enabled(getattr(runner, 'cfg', None))
    return ([name for name, same in verdicts.items() if same or (same is False and checked)],
            [name for name, same in verdicts.items() if same is False and not checked])


def _describe(key: str, before: dict, now: dict) -> str:
    kind = now.get('type') or before.get('type') or 'dataset'
    if before.get('items') == now.get('items'):
        return (f'{key} ({kind}): {now.get("items")} items then and now, but other items, another order or other '
                'content (boxes, labels, pixels)')
    return f'{key} ({kind}): {before.get("items")} items in the checkpoint\'s run, {now.get("items")} now'


def data_changes(saved: dict, current: dict[str, dict | None]) -> list[str]:
    """One line per dataset whose fingerprint in ``current`` differs from ``saved`` (both by config key); keys
    either side lacks, or could not fingerprint, are not compared."""
    lines = []
    for key, before in saved.items():
        now = current.get(key)
        if not isinstance(before, dict) or now is None:
            continue
        if before.get('items') != now['items'] or before.get('blake2b') != now['blake2b']:
            lines.append(_describe(key, before, now))
    return lines


def refusal(name: str, lines: list[str]) -> str:
    """The message of a resume whose data differs (``lines`` from :func:`data_changes`)."""
    return (f'resuming {name}: the data differs from what the checkpoint\'s run read - ' + '; '.join(lines) +
            '. The resumed run would train, reward or score on other images than the run it continues (e.g. '
            'images of the reward split trained on, training images rewarded). Likely causes: another split seed '
            '(the dataset\'s seed), other split fractions (split_sizes, reward_ratio, reward_size), another '
            'max_samples / samples_per_class, files added, removed or renamed under data_root, an annotation file '
            'or images changed under the same names (e.g. a generated set made again with another seed), or a '
            'checkpoint of an '
            'older automl_mm whose split order was another (ImageFolderDataset\'s split became a seeded hash of '
            'each file\'s path: a checkpoint written before resumes on another split). Resume with the '
            'checkpoint\'s data settings; to continue on this data knowingly, set '
            f'{SWITCH}=False at the config\'s top level (--cfg-options {SWITCH}=False); to train on it as a new '
            'run from these weights, use load_from without resume')


def _agree(problem: str | None) -> str | None:
    """Every rank's verdict, so that all raise when one does (a rank that raised alone left the others waiting
    in the next collective until the process group's timeout); each rank's line where they differ."""
    from mmengine.dist import all_gather_object, is_distributed

    if not is_distributed():
        return problem
    verdicts = all_gather_object(problem)
    if all(v is None for v in verdicts):
        return None
    if len(set(verdicts)) == 1:
        return verdicts[0]
    return ' | '.join(f'rank {rank}: {v or "the data matches"}' for rank, v in enumerate(verdicts))


class DataFingerprintHook(Hook):
    """Record the fingerprints of the run's datasets in every checkpoint; refuse a resume on other data.

    Registered on every runner that trains by :func:`automl_mm.engine.patches.install` (see the module docstring);
    not a config entry. ``before_save_checkpoint`` (rank 0, which saves) writes
    ``checkpoint['meta']['data_fingerprints']``; ``after_load_checkpoint`` (every rank, after the other hooks' own
    resume checks, whose messages name the settings they compare: OHL's refusal of a reward read on other images
    names both ``reward_dataloader`` configs; before the weights are copied) compares on a resume only, each rank
    its own datasets (every rank reads the same data), and all ranks raise when one does. Fingerprints are
    computed once per dataset and kept.

    Raises:
        ValueError: on resume, a dataset's fingerprint differs from the checkpoint's (:func:`refusal`: the config
            key, the item counts, the checkpoint, the likely causes and ``resume_data_check=False``); or
            ``resume_data_check`` is not a bool.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], tuple[Any, dict | None]] = {}

    def fingerprint(self, dataset: Any, version: int = VERSION) -> dict | None:
        """:func:`dataset_fingerprint`, computed once per dataset object and version."""
        cached = self._cache.get((id(dataset), version))
        if cached is None or cached[0] is not dataset:
            cached = self._cache[id(dataset), version] = (dataset, dataset_fingerprint(dataset, version))
        return cached[1]

    def fingerprints(self, runner: Any, build: Callable[[str], bool] = lambda key: False,
                     versions: dict[str, int] | None = None) -> dict[str, dict]:
        """``{config key: fingerprint}`` of :func:`run_datasets` (those that can be fingerprinted), each of the
        version ``versions`` gives its key (a checkpoint's: :func:`saved_version`), else :data:`VERSION`."""
        found = {key: self.fingerprint(ds, (versions or {}).get(key, VERSION))
                 for key, ds in run_datasets(runner, build).items()}
        return {key: fp for key, fp in found.items() if fp is not None}

    def before_run(self, runner) -> None:
        check_enabled(getattr(runner, 'cfg', None))  # a bad switch is named at the start, not at a resume

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.setdefault('meta', {})
        if isinstance(meta, dict):
            meta[META_KEY] = self.fingerprints(runner)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from .run_info import is_resume

        if not is_resume(runner):  # load_from: the weights only; other data is a new run's right
            return
        saved = (checkpoint.get('meta') or {}).get(META_KEY)
        if not check_enabled(getattr(runner, 'cfg', None)):
            print_log(f'{SWITCH}=False: the resumed run\'s data is not compared with the checkpoint\'s',
                      logger='current', level=logging.WARNING)
            return
        if not isinstance(saved, dict):
            print_log(f'resuming {_resumed_file(runner)}: the checkpoint records no data fingerprints (saved by an '
                      'older automl_mm or without it), so this run\'s data could not be compared with its run\'s',
                      logger='current', level=logging.WARNING)
            return
        problem = None
        try:
            versions = {key: saved_version(fp) for key, fp in saved.items()}
            current = self.fingerprints(runner, build=lambda key: key in saved, versions=versions)
            lines = data_changes(saved, current)
            if lines:
                problem = refusal(_resumed_file(runner), lines)
        except Exception as err:
            _agree(f'{type(err).__name__}: {err}')  # the other ranks raise too, instead of waiting for this one
            raise
        problem = _agree(problem)
        if problem is not None:
            raise ValueError(problem)
        compared = sorted(set(saved) & set(current))
        print_log(f'resume: the data matches the checkpoint\'s run ({", ".join(compared) or "nothing to compare"})',
                  logger='current', level=logging.INFO)
        older = [key for key in compared if versions[key] < VERSION]
        if older:
            print_log(f'resuming {_resumed_file(runner)}: its data fingerprints of {", ".join(older)} were written by '
                      'an older automl_mm (version 1: paths, ids and labels only), so boxes, masks and image bytes '
                      'were not compared', logger='current', level=logging.WARNING)


__all__ = ['DataFingerprintHook', 'META_KEY', 'SWITCH', 'VERSION', 'check_enabled', 'compared_by_content',
           'data_changes', 'dataset_fingerprint', 'item_identity', 'run_datasets', 'same_data_by_content',
           'saved_version']
