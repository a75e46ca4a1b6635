"""BatchNorm re-estimation before a held-out reading (NAS paths, OHL copies' rewards): the fixed batches it reads
(:func:`fixed_batches`), the pass (:func:`recalibrate_bn`, without the preprocessor's batch augments:
:func:`without_batch_augments`) and the model's own buffers put back after the reading (:func:`kept_bn_statistics`).
Split from :mod:`automl_mm.engine.evaluate`, which re-exports them."""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader, SequentialSampler

from automl_mm.utils.seeding import stream_rng

from .local_loader import _batches_of, cycle_batches, item_identity
from .random_states import HELD_OUT_SEED, seeded_global_rngs


def fixed_batches(loader: Iterable, count: int, seed: int = 0) -> list:
    """``count`` batches of a seeded random sample of ``loader``'s dataset (BN re-estimation of every NAS path and
    every OHL copy), loaded once with the global RNGs seeded by ``seed`` (:func:`seeded_global_rngs`; dataloader
    workers take their seeds from torch's): a pipeline with random transforms (crops, flips) gives the same batches
    on every rank and in every run with that seed, and keeping the list gives the same batches to every later use.

    For an in-order torch ``DataLoader`` (:func:`build_local_loader`) the items are drawn without replacement in the
    order of a permutation of the dataset seeded by ``seed`` (stream domain ``'bn.batches'``; a new permutation
    after every ``len(dataset)`` items), ``batch_size`` per batch. They used to be the first ``count`` batches in
    dataset order: an ImageFolder training set is ordered by class, so the ImageNet PC-NAS configs re-estimated
    every path's statistics on 20 batches of 128 images of 2 of the 1,000 classes. An index whose stored item the
    pass has taken already (:func:`~automl_mm.engine.local_loader.item_identity`: a ``RepeatDataset`` /
    ``ClassBalancedDataset`` of ``train_dataloader`` reads each image several times, a ``ConcatDataset`` listing one
    split twice two dataset objects of the same images) is skipped, so a sample holds
    each image at most once until every one was taken, as of the unwrapped set (a ``ClassBalancedDataset`` still
    weighs the rare classes' images up); until the forty-fifth session the repeats were drawn as further items (5
    batches of 8 from 200 images under ``RepeatDataset(times=10)`` held one image twice), so the statistics came from
    fewer images than the sample's and counted some twice; until the forty-sixth the images of two dataset objects
    were told apart by object, so one split listed twice in a ``ConcatDataset`` drew the same image twice (5 batches
    of 8 from 200 images held 38, seed 1). Any other iterable (a list of
    batches) is read from its first batch on, wrapping around.

    Args:
        loader: An in-order loader (:func:`build_local_loader`), or an iterable of batches.
        count: Number of batches (> 0).
        seed: The seed of the sample and of the random transforms.

    Returns:
        list: The ``count`` collated batches, held in memory.
    """
    with seeded_global_rngs(seed):
        if isinstance(loader, DataLoader) and loader.batch_size and isinstance(loader.sampler, SequentialSampler):
            size, n = loader.batch_size, len(loader.dataset)  # type: ignore[arg-type]
            if n == 0:
                raise ValueError('the dataset to draw BN re-estimation batches from is empty')
            rng = stream_rng(seed, 'bn.batches')
            dataset, need = loader.dataset, count * size
            order: list[int] = []
            while len(order) < need:  # only the items needed become Python ints (ImageNet: 1.25M)
                taken: set = set()  # a stored item once per pass, whatever repeats it (RepeatDataset: its copies)
                for index in rng.permutation(n):
                    identity = item_identity(dataset, int(index))
                    if identity not in taken:
                        taken.add(identity)
                        order.append(int(index))
                        if len(order) == need:
                            break
            batches = [order[b * size:(b + 1) * size] for b in range(count)]
            return list(_batches_of(loader, batches))
        return list(cycle_batches(loader, 0, count))


def recalibrate_bn(model: nn.Module, batches: Iterable) -> list[nn.Module]:
    """Re-estimate the running statistics of the BatchNorm layers that train (no gradients): for a NAS path
    (shared statistics mix every path the supernet ran), or for an OHL copy's reward on clean images.

    The model is put in training mode through its own ``train()``, so a BN layer that the model keeps in eval mode
    there (mmdet's ``norm_eval=True``, ``frozen_stages``) keeps its statistics bit for bit: those are the
    pretrained statistics the model is meant to use. Each BN layer in training mode that the forward pass reaches
    is reset on its first input and its statistics become the exact average over ``batches`` (cumulative moving
    average, ``momentum=None``); a layer the path does not reach (an inactive supernet block) is not touched.
    Uses ``model.extract_feat`` (mmdet detectors and automl_mm classifiers have it), so heads with their own BN keep
    theirs. The pass draws its dropout and drop-path masks with the global random streams seeded with
    :data:`HELD_OUT_SEED` (every copy and path the same masks on the same batches: from their own streams two candidates
    of one function got other statistics); momentum, the training flag and the global random streams
    (:func:`seeded_global_rngs`) are restored afterwards. The data preprocessor's batch augments (``batch_augments``:
    mmdet's ``BatchSyncRandomResize``, mmpretrain's Mixup / CutMix) are not applied: the statistics are of the batches
    as evaluation reads them (its ``val_step`` applies none), and a random resize drew the size of the training
    iterations that followed (its last draw here replaced training's) through a barrier and broadcast over every rank.

    Args:
        model: The model (or a DDP-like wrapper of it).
        batches: Training batches as the dataloader yields them (fed through ``model.data_preprocessor`` in its
            training mode, without batch augments).

    Returns:
        The BN layers that were re-estimated.
    """
    root = getattr(model, 'module', model)
    was_training = root.training
    root.train()
    norms = [m for m in root.modules() if isinstance(m, _BatchNorm) and m.track_running_stats and m.training]
    momenta = [m.momentum for m in norms]
    reached: dict[int, nn.Module] = {}

    def reset_on_first_input(module: nn.Module, args) -> None:
        if id(module) not in reached:
            module.reset_running_stats()
            module.momentum = None
            reached[id(module)] = module

    handles = [m.register_forward_pre_hook(reset_on_first_input) for m in norms]
    try:
        if norms:
            with torch.no_grad(), seeded_global_rngs(HELD_OUT_SEED), without_batch_augments(root.data_preprocessor):
                for data in batches:  # a training-mode pass: dropout and drop-path draw
                    data = root.data_preprocessor(data, True)
                    root.extract_feat(data['inputs'])
    finally:
        for handle in handles:
            handle.remove()
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        root.train(was_training)
    return list(reached.values())


@contextlib.contextmanager
def _unset(obj: Any, name: str) -> Iterator[None]:
    """``obj.<name>`` set to ``None`` inside the block and put back after it (also after an error); nothing where it
    is ``None`` or absent already."""
    value = getattr(obj, name, None)
    if value is None:
        yield
        return
    setattr(obj, name, None)
    try:
        yield
    finally:
        setattr(obj, name, value)


def without_batch_augments(preprocessor: Any) -> contextlib.AbstractContextManager:
    """``preprocessor.batch_augments`` (mmdet's, mmpretrain's and mmseg's data preprocessors apply them in training
    mode) set to ``None`` inside the block and put back after it (also after an error); nothing for a preprocessor
    without them."""
    return _unset(preprocessor, 'batch_augments')


@contextlib.contextmanager
def kept_bn_statistics(model: nn.Module) -> Iterator[None]:
    """Put every buffer of the model back as it was on entry, on leaving the block (also after an error): a reading
    with re-estimated statistics (:func:`recalibrate_bn`) that must not change what the model trains with. That is
    the BatchNorm layers' running statistics (``running_mean``, ``running_var``, ``num_batches_tracked``) and
    whatever else the re-estimation's training-mode pass moves: an ``InstanceNorm`` with
    ``track_running_stats=True`` (no ``_BatchNorm``) kept the pass's momentum step toward the clean batches.

    Args:
        model: The model (or a DDP-like wrapper of it).
    """
    root = getattr(model, 'module', model)
    saved = [(m, {name: buf.clone() for name, buf in m.named_buffers(recurse=False) if buf is not None})
             for m in root.modules()]
    try:
        yield
    finally:
        with torch.no_grad():
            for module, buffers in saved:
                for name, value in buffers.items():
                    getattr(module, name).copy_(value)
