"""Crash-safe checkpoints and resume on mmengine.

mmengine 0.10.7 writes a checkpoint by truncating the file and streaming into it, and ``CheckpointHook`` rewrites
``work_dir/last_checkpoint`` the same way: a process killed during a save leaves a truncated ``.pth`` or an empty
``last_checkpoint``, and ``--resume`` then fails (``checkpoint file not found:`` with an empty path).
:mod:`automl_mm.engine.patches` installs:

* :func:`save_checkpoint_atomic` and :func:`open_last_checkpoint_atomically`: local checkpoints
  (``Runner.save_checkpoint``, and so every ``CheckpointHook`` save) and ``last_checkpoint`` are written to a
  temporary file, fsynced and renamed into place, so each file is either the old one or the complete new one;
* :func:`recording_world_size`: ``Runner.save_checkpoint`` (and ``FlexibleRunner``'s, which is no ``Runner``)
  records the run's world size in every checkpoint's
  ``meta['world_size']`` and its epoch length in ``meta['epoch_length']``, whatever hooks the run has; a resume's
  schedule check names either when the resumed run has another
  (:func:`automl_mm.engine.hooks.check_schedule_unchanged`);
* :func:`resolve_resume`: mmengine's ``find_latest_checkpoint`` (used by ``resume=True`` without a path) goes
  through :func:`find_resumable_checkpoint`, which checks what ``last_checkpoint`` names and, when it is missing,
  empty, dangling or names an empty/truncated/foreign file, falls back to the newest complete checkpoint in the
  work dir, with a warning naming everything it skipped. With nothing to resume it says that training starts from
  scratch.
"""
from __future__ import annotations

import builtins
import functools
import glob
import inspect
import logging
import os.path as osp
import re
from collections.abc import Callable
from typing import Any

import torch
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.runner import checkpoint as _mm_checkpoint

from automl_mm.utils.io import atomic_open

from .checkpoint import diagnose_checkpoint_file

LAST_CHECKPOINT = 'last_checkpoint'


# --- saving -----------------------------------------------------------------------------------------------------
def _is_local(filename: Any) -> bool:
    return '://' not in str(filename)


def save_checkpoint_atomic(checkpoint: dict, filename: str, file_client_args: dict | None = None,
                           backend_args: dict | None = None) -> None:
    """mmengine's ``save_checkpoint`` with local files written atomically (temporary file + fsync + rename).

    Remote destinations (``s3://``, ``pavi://``, ...) and explicit file-client / backend arguments go to mmengine's
    own function unchanged.
    """
    if file_client_args is None and backend_args is None and _is_local(filename):
        with atomic_open(str(filename), 'wb') as f:
            torch.save(checkpoint, f)
        return
    _ORIGINAL_SAVE(checkpoint, filename, file_client_args=file_client_args, backend_args=backend_args)


def open_last_checkpoint_atomically(file, mode='r', *args, **kwargs):
    """``open`` as seen by mmengine's ``checkpoint_hook`` module: its write of ``last_checkpoint`` is atomic."""
    if mode == 'w' and not args and not kwargs and osp.basename(str(file)) == LAST_CHECKPOINT:
        return atomic_open(str(file), 'w')
    return builtins.open(file, mode, *args, **kwargs)


_ORIGINAL_SAVE = _mm_checkpoint.save_checkpoint


def train_epoch_length(runner: Any) -> int | None:
    """The iterations of one training epoch of ``runner`` on this process: the length of its built train loop's
    dataloader, which mmengine converts a schedule given in epochs with (``convert_to_iter_based``); ``None`` where
    the train loop is not built or its loader has no length."""
    loop = getattr(runner, '_train_loop', None)
    loader = None if loop is None or isinstance(loop, dict) else getattr(loop, 'dataloader', None)
    try:
        return len(loader) if loader is not None else None
    except TypeError:  # a loader without a length (an iterable dataset)
        return None


def recording_world_size(save_checkpoint: Callable) -> Callable:
    """``Runner.save_checkpoint`` or ``FlexibleRunner.save_checkpoint`` (``save_checkpoint``) that adds the run's
    world size and epoch length to the
    ``meta`` it is given (``meta['world_size']``, ``meta['epoch_length']``: :func:`train_epoch_length`, where
    known; before mmengine builds the checkpoint and calls the ``before_save_checkpoint`` hooks), so every
    checkpoint a runner saves records them, whatever hooks the run has.

    A schedule in epochs converted to iterations counts one process's iterations of an epoch, so a resume on
    another number of processes, or with another ``train_dataloader.batch_size`` or training-set size, is refused
    by :func:`automl_mm.engine.hooks.check_schedule_unchanged`; without the records (the world size was written by
    ``FiniteLossHook`` alone, the epoch length not at all) the message blamed ``train_cfg.max_epochs``.
    A ``meta`` that is not a dict is passed on unchanged (mmengine refuses it).
    """
    signature = inspect.signature(save_checkpoint)

    @functools.wraps(save_checkpoint)
    def save(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        meta = bound.arguments.get('meta')
        if meta is None or isinstance(meta, dict):
            length = train_epoch_length(bound.arguments.get('self'))
            bound.arguments['meta'] = {**(meta or {}), 'world_size': get_world_size(),
                                       **({'epoch_length': length} if length is not None else {})}
        return save_checkpoint(*bound.args, **bound.kwargs)

    save.records_world_size = True
    return save


# --- resuming ---------------------------------------------------------------------------------------------------
_STEP = re.compile(r'^(?P<kind>.*?)(?P<step>\d+)\.pth$')


def _newest_first(paths: list[str]) -> list[str]:
    """Checkpoints newest first: by the step in their names (``epoch_12.pth``, ``iter_12.pth``,
    ``search_pool_iter_12.pth``) where every numbered one has the same kind of name, then those without a number
    (``best_*.pth``, saved without optimiser state); by modification time otherwise. File times alone follow the
    order files were copied or extracted, not saved (a moved work dir is the usual reason for this fallback), and as
    text ``iter_9`` sorts after ``iter_10``."""
    steps = {p: _STEP.match(osp.basename(p)) for p in paths}
    numbered = [p for p in paths if steps[p] and not osp.basename(p).startswith('best_')]
    kinds = {steps[p]['kind'] for p in numbered}
    by_time = sorted(paths, key=lambda p: (osp.getmtime(p), p), reverse=True)
    if len(kinds) != 1:
        return by_time
    first = sorted(numbered, key=lambda p: (int(steps[p]['step']), osp.getmtime(p), p), reverse=True)
    return first + [p for p in by_time if p not in first]


def find_resumable_checkpoint(work_dir: str) -> tuple[str | None, list[str]]:
    """The checkpoint ``--resume`` should continue from, and what was skipped on the way (one sentence each).

    ``work_dir/last_checkpoint`` wins when the file it names is a complete checkpoint (or a remote path, which is
    returned unchecked), or, when that file is gone, the file of the same name in ``work_dir`` (a moved work dir).
    Otherwise (missing, empty,
    dangling, or naming an empty/truncated/foreign file) the newest complete ``*.pth`` in ``work_dir`` and in the
    folder ``last_checkpoint`` names is returned: newest by the step in its name (:func:`_newest_first`).
    "Complete" is checked without unpickling (see :func:`~automl_mm.engine.checkpoint.diagnose_checkpoint_file`).

    Returns:
        ``(path or None, skipped)``.
    """
    skipped: list[str] = []
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    folders = [work_dir]
    named = None
    if not osp.isfile(pointer):
        skipped.append(f'{pointer} is missing')
    else:
        with open(pointer) as f:
            named = f.read().strip()
        if not named:
            skipped.append(f'{pointer} is empty')
        elif '://' in named:
            # a checkpoint on remote storage (CheckpointHook out_dir='s3://...'): mmengine's loader reads it; the
            # local checks below dropped it and resumed a stale local file or nothing
            return named, skipped
        else:
            problem = diagnose_checkpoint_file(named)
            if problem is None:
                return named, skipped
            moved = osp.join(work_dir, osp.basename(named))
            if problem == 'missing' and diagnose_checkpoint_file(moved) is None:
                # the work dir was moved or copied: the file the pointer names is here (ranking by step could pick
                # an older run's later checkpoint left in the same folder)
                skipped.append(f'{pointer} names {named}, which is missing; the file of that name here is used')
                return moved, skipped
            skipped.append(f'{pointer} names {named}, which is {problem}')
            folders.append(osp.dirname(named) or '.')
    seen = {osp.realpath(named)} if named else set()
    candidates = []
    for folder in folders:
        for path in glob.glob(osp.join(folder, '*.pth')):
            if osp.realpath(path) not in seen and osp.isfile(path):
                seen.add(osp.realpath(path))
                candidates.append(path)
    for path in _newest_first(candidates):
        problem = diagnose_checkpoint_file(path)
        if problem is None:
            return path, skipped
        skipped.append(f'{path} is {problem}')
    return None, skipped


def read_as_local_file(path: str) -> bool:
    """Whether mmengine's ``CheckpointLoader`` reads ``path`` as a local file (its ``''`` scheme: a path); ``False``
    for the names it sends to another loader, which fetches them itself (``https://download.openmmlab.com/...``,
    ``s3://``, ``open-mmlab://``, ``torchvision://``, a scheme a plugin registered).

    ``tools/test.py CONFIG https://.../model.pth`` (an mmdet model-zoo checkpoint, which mmdet's tool downloads) was
    refused as "checkpoint file not found ... (there is no folder https://...)": only local names are checked as files.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    return CheckpointLoader._get_checkpoint_loader(path) is CheckpointLoader._schemes.get('')


def checkpoint_not_found(path: str, what: str, hint: str = '') -> str:
    """The message for a checkpoint argument that is no file: ``'<what> not found: <path> (...)'``, in brackets the
    newest complete checkpoint of the folder it names (:func:`find_resumable_checkpoint`: ``epoch_9.pth`` of a run
    that saved up to epoch 4, or one ``max_keep_ckpts`` removed, said only "not found"), that the folder holds none,
    or that there is no such folder (a mistyped work dir); or, for a directory (``--resume work_dirs/run``: "not
    found" sent the user looking for a missing path), that it is one, with the newest complete checkpoint in it to
    give instead, and ``hint``."""
    if not osp.isdir(path):
        folder = osp.dirname(path) or '.'
        if not osp.isdir(folder):
            return f'{what} not found: {path} (there is no folder {folder})'
        newest, _ = find_resumable_checkpoint(folder)
        there = (f'the newest complete checkpoint in its folder is {newest}' if newest
                 else 'its folder holds no complete checkpoint')
        return f'{what} not found: {path} ({there})'
    newest, _ = find_resumable_checkpoint(path)
    there = f'the newest complete checkpoint in it is {newest}' if newest else 'it holds no complete checkpoint'
    return f'{what} is a directory, not a checkpoint file: {path} ({there}{hint})'


def resolve_resume(work_dir: str, load_from: str | None = None) -> str | None:
    """:func:`find_resumable_checkpoint` with its findings logged: a warning for each fallback, and a warning that
    training starts from scratch (or from the config's ``load_from`` weights, when given) when nothing in
    ``work_dir`` can be resumed."""
    found, skipped = find_resumable_checkpoint(work_dir)
    if found is None:
        what = '; '.join(skipped) if skipped else 'nothing found'
        start = f'from the weights of load_from {load_from}' if load_from else 'from scratch'
        print_log(f'--resume: nothing to resume in {work_dir} ({what}, and no complete *.pth); '
                  f'training starts {start}', logger='current', level=logging.WARNING)
    elif skipped:
        print_log(f'--resume: skipped {"; ".join(skipped)}; resuming from the newest complete checkpoint '
                  f'{found}', logger='current', level=logging.WARNING)
    return found


__all__ = ['find_resumable_checkpoint', 'open_last_checkpoint_atomically', 'resolve_resume',
           'save_checkpoint_atomic']


def checkpoint_seed(path: str) -> int | None:
    """The run seed an mmengine checkpoint recorded (``meta['seed']``), or ``None`` when it holds none.

    A run whose config sets no ``randomness.seed`` draws one; resumed, mmengine builds the train dataloader (its
    sampler's seed, the workers' seeds) from a newly drawn seed before ``Runner.resume`` puts the checkpoint's back,
    so the data order after the resume point differed from the interrupted run's. ``tools/train.py`` sets the
    config's seed to this one before the runner is built.

    A remote checkpoint (``s3://...``) is not read here: ``None`` (mmengine's ``resume`` restores its seed). The
    tensors of a local one are mapped, not read: the runner loads the file afterwards.

    Raises:
        CheckpointFormatError, UnsafeCheckpointError: as :func:`~automl_mm.engine.checkpoint.safe_torch_load`.
    """
    from .checkpoint import safe_torch_load

    if '://' in path:
        return None
    try:
        checkpoint = safe_torch_load(path, map_location='cpu', mmap=True)
    except RuntimeError:  # torch maps zip checkpoints only; a legacy one is read whole
        checkpoint = safe_torch_load(path, map_location='cpu')
    meta = checkpoint.get('meta') or {}
    seed = meta.get('seed')
    return None if seed is None else int(seed)


def check_ranks_start_alike(resume: bool, load_from: str | None, work_dir: str) -> None:
    """Refuse a distributed run whose ranks start from different checkpoints (or some from none).

    Under torchrun / srun every process reads the config and resolves ``--resume`` itself
    (:func:`resolve_resume` in ``tools/train.py``). Where the nodes do not share ``work_dir`` (a node's own disk;
    mmengine's rank 0 writes every checkpoint, so only node 0's disk holds them) node 0's ranks resumed and node
    1's started from scratch: their collectives no longer matched, and the run hung until
    ``env_cfg.dist_cfg.timeout`` with an error about a crashed or hung rank (2 nodes x 2 ranks, an OHL search
    resumed at epoch 2: "OHL trunk 2: rank 1 could not meet the other copies"). Collective: every rank calls it.

    Raises:
        RuntimeError: the ranks' ``(resume, load_from)`` differ; names what each group of ranks starts from and
            that ``work_dir`` must be one folder shared by every node.
    """
    from mmengine.dist import all_gather_object, is_distributed

    if not is_distributed():
        return
    problem = starts_differ(all_gather_object((bool(resume), load_from)), work_dir)
    if problem is not None:
        raise RuntimeError(problem)


def starts_differ(starts: list[tuple[bool, str | None]], work_dir: str) -> str | None:
    """What :func:`check_ranks_start_alike` says about every rank's ``(resume, load_from)`` (indexed by global
    rank), or ``None`` when they are all the same."""
    if len(set(starts)) == 1:
        return None
    groups: dict[tuple, list[int]] = {}
    for rank, start in enumerate(starts):
        groups.setdefault(start, []).append(rank)
    said = '; '.join(f'ranks {ranks} ' + (f'resume {path}' if res and path else f'load {path}' if path else
                                          'start from scratch') for (res, path), ranks in groups.items())
    return (f'the ranks do not start alike: {said}. Every process resolves --resume / load_from in '
            f'work_dir {work_dir} itself, and only rank 0 writes checkpoints there: on several nodes '
            'work_dir must be one folder shared by every node (and a load_from path readable on each)')
