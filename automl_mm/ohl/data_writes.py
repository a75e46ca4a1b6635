"""Attribute writes into the training data pipeline that reach the dataloader workers.

A *data path* goes through the training dataloader: its first part is ``train_dataloader`` (or it starts with
``train_loop.dataloader``), e.g. ``train_dataloader.dataset.pipeline.transforms.1.prob``. Dataloader worker
processes hold copies of the dataset (its pipeline, its transforms) made when they started: a value written in
the main process after that is not the one they load with (persistent workers never saw it; an
``IterBasedTrainLoop``'s workers start when the loop is built, before any hook; prefetched batches were loaded
before it). With ``num_workers > 0``, for a data path:

* :func:`watch_data_writes` (before training: the writers in :mod:`automl_mm.ohl` call it then, and
  :func:`~automl_mm.ohl.attributes.set_attribute` at every data write) makes the loader's iterators restartable and
  replaces the one an ``IterBasedTrainLoop`` built with the loop. Workers started before it cannot be continued in
  the middle of a pass: a first data write there raises for an iteration loop's or persistent workers, and goes
  unseen by a non-persistent epoch loop's workers until the next epoch.
* :func:`~automl_mm.ohl.attributes.set_attribute` marks the loader written (:func:`note_data_write`); its iterator
  starts new workers right before it loads the next batch and continues with the batch it would have yielded next:
  the batches in flight are loaded again, in their order, and the sampler's pass goes on where it was. A write
  between passes replaces persistent workers instead of resuming them.

Cost: a worker start per trunk start that writes a data path, except where a new pass starts workers anyway
(non-persistent workers at an epoch start), and one more at the start of an ``IterBasedTrainLoop``. Paths outside
``train_dataloader``, or loaders without workers (the main process loads with the very objects written), change
nothing. A restart leaves the main process's torch RNG as it was.

Refused (``ValueError``, before training): a data path with workers on a loader whose position in a pass cannot
be continued (an ``IterableDataset``, a ``DataLoader`` subclass with its own ``_get_iterator``, not a ``DataLoader``).
"""
from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset
from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

from automl_mm.utils.wording import a_type

from .segments import SegmentStart

_STATE = '_automl_data_writes'  # on a watched loader: its _Writes


class _Writes:
    """Per watched loader: the number of data writes so far."""

    def __init__(self) -> None:
        self.version = 0


def is_data_path(path: str) -> bool:
    """Whether ``path`` goes through the training dataloader (``train_dataloader...``, ``train_loop.dataloader...``)."""
    parts = path.split('.')
    return parts[0] == 'train_dataloader' or parts[:2] == ['train_loop', 'dataloader']


def _workers(runner: Any) -> tuple[Any, int]:
    loader = runner.train_dataloader
    return loader, getattr(loader, 'num_workers', 0) or 0


def watch_data_writes(runner: Any, paths: Iterable[str], owner: str) -> bool:
    """Prepare the training dataloader for writes at ``paths`` (call before training); whether any is a data path.

    Raises:
        ValueError: a data path, workers, and a loader that cannot continue a pass (see the module docstring); the
            message names ``owner``, the path and ``train_dataloader.num_workers``.
        RuntimeError: workers started before the first data write are in the middle of a pass.
    """
    data = [p for p in paths if is_data_path(p)]
    if not data:
        return False
    loader, workers = _workers(runner)
    if workers == 0:
        return True
    why = None
    if not isinstance(loader, DataLoader):
        why = f'train_dataloader is {a_type(loader)}, not a torch DataLoader'
    elif type(loader)._get_iterator is not DataLoader._get_iterator:
        why = f'train_dataloader is {a_type(loader)}, which makes its own iterators'
    elif isinstance(loader.dataset, IterableDataset):
        why = (f'train_dataloader.dataset is an IterableDataset ({type(loader.dataset).__name__}): its workers '
               'cannot be restarted where they were in a pass')
    if why is not None:
        raise ValueError(
            f'{owner} writes {data[0]} into the training data pipeline, but {why}. Its {workers} worker processes '
            '(train_dataloader.num_workers) hold their own copies of the dataset and would never see the value. '
            'Set train_dataloader.num_workers=0')
    if not hasattr(loader, _STATE):
        setattr(loader, _STATE, _Writes())
        loader._get_iterator = functools.partial(_get_iterator, weakref.ref(loader))
    _replace_untracked(runner, loader)
    return True


def note_data_write(runner: Any, path: str) -> None:
    """``path`` was written: if it is a data path of a watched loader, its workers restart before its next batch."""
    if is_data_path(path):
        mark_pipeline_changed(runner.train_dataloader)


def mark_pipeline_changed(loader: Any) -> bool:
    """Have a watched loader's workers restart before its next batch; whether ``loader`` is watched."""
    writes = getattr(loader, _STATE, None)
    if writes is None:
        return False
    writes.version += 1
    return True


def _replace_untracked(runner: Any, loader: DataLoader) -> None:
    """Replace the iterators that started before the loader was watched: the one an ``IterBasedTrainLoop`` built
    with the loop, and persistent workers between passes."""
    loop = getattr(runner, 'train_loop', None)
    infinite = getattr(loop, 'dataloader_iterator', None)
    while isinstance(infinite, SegmentStart):
        infinite = infinite.iterator
    if infinite is not None and '_iterator' in vars(infinite) and _untracked(infinite._iterator):
        current = infinite._iterator
        if current._num_yielded > 0 or getattr(infinite, '_epoch', 0) > 0:
            raise RuntimeError(
                f'{type(loop).__name__} has loaded {current._num_yielded} batches through workers started before a '
                'data path was first written: call watch_data_writes before training')
        current._shutdown_workers()
        if loader._iterator is current:  # persistent workers: iter() would resume them
            loader._iterator = None
        infinite._iterator = iter(loader)
    cached = loader._iterator
    if _untracked(cached):  # persistent workers of an epoch loop
        if cached._num_yielded not in (0, len(cached)):
            raise RuntimeError(
                f'train_dataloader has loaded {cached._num_yielded} of {len(cached)} batches of a pass through '
                'persistent workers started before a data path was first written: call watch_data_writes before '
                'training')
        cached._shutdown_workers()
        loader._iterator = None


def _untracked(it: Any) -> bool:
    return isinstance(it, _MultiProcessingDataLoaderIter) and not isinstance(it, _RestartableIter)


def _get_iterator(ref: weakref.ref) -> Any:
    """``DataLoader._get_iterator`` of a watched loader (``ref``, weak: no reference cycle delays the workers'
    shutdown to a garbage collection): multi-process iterators that can restart in place."""
    loader = ref()
    if loader.num_workers == 0:
        return DataLoader._get_iterator(loader)
    loader.check_worker_number_rationality()
    return _RestartableIter(loader)


class _RestartableIter(_MultiProcessingDataLoaderIter):
    """A multi-process iterator that records the batches in flight and restarts its workers in place (the object
    a ``for`` loop or mmengine's infinite iterator holds) when the loader's pipeline was written since they
    started; it continues with the batch it would have yielded next. Its own attributes start with ``_dw_``."""

    def __init__(self, loader: DataLoader, source: Iterable | None = None) -> None:
        self._dw_loader = weakref.ref(loader)
        self._dw_version = getattr(loader, _STATE).version  # the loader's write count its workers started from
        self._dw_sent: dict[int, Any] = {}  # task index -> batch of sampler indices, for the batches in flight
        self._dw_source = source  # after a restart: the batches in flight, then the rest of the pass
        self._dw_exhausted = False  # the pass has no index left to send
        super().__init__(loader)

    def _dw_stale(self) -> bool:
        loader = self._dw_loader()
        return loader is not None and self._dw_version != getattr(loader, _STATE).version

    def _dw_restart(self, source: Iterable | None) -> None:
        """New workers, forked from the pipeline as it is now, that send ``source`` (``None``: a new pass)."""
        self._shutdown_workers()
        rng = torch.get_rng_state()  # __init__ draws the workers' base seed from it
        try:
            _RestartableIter.__init__(self, self._dw_loader(), source)
        finally:
            torch.set_rng_state(rng)

    def _next_index(self) -> Any:
        """The next batch of sampler indices to send, recorded until its batch is yielded."""
        source = self._dw_source if self._dw_source is not None else self._sampler_iter
        try:
            index = next(source)
        except StopIteration:
            self._dw_exhausted = True
            raise
        for task in [t for t in self._dw_sent if t not in self._task_info]:  # yielded
            del self._dw_sent[task]
        self._dw_sent[self._send_idx] = index  # the task index this batch is sent as
        return index

    def _next_data(self) -> Any:
        if self._dw_stale() and (self._task_info or not self._dw_exhausted):  # batches of this pass are left
            missing = [t for t in self._task_info if t not in self._dw_sent]
            if missing:
                raise RuntimeError(f'dataloader tasks {missing} in flight were not recorded; cannot restart workers')
            in_flight = [self._dw_sent[t] for t in sorted(self._task_info)]
            rest = self._dw_source if self._dw_source is not None else self._sampler_iter
            self._dw_restart(itertools.chain(in_flight, rest))
        return super()._next_data()

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        if not first_iter and self._dw_stale():  # persistent workers that missed a write: replaced, not resumed
            self._dw_restart(None)
            return
        self._dw_sent = {}
        if not first_iter:
            self._dw_source, self._dw_exhausted = None, False
        super()._reset(loader, first_iter)
