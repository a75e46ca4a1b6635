"""The copy-local sampler: :class:`CopySampler` shards the training set among the ranks of one copy only (each
copy in its own order, or all in one with ``shared_order``), reading the copy layout
(:func:`~automl_mm.ohl.copies.get_copy_layout`); the share of mmengine's ``num_batch_per_epoch`` slice one copy reads
(:func:`copy_share`); the refusal of shards of unequal length among a copy's ranks (:func:`check_equal_shards`).

Split from :mod:`automl_mm.ohl.copies` (the fifty-seventh session), which re-exports every name here and imports
this module after its layout functions (this module reads them).
"""
from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from mmengine.dist import get_world_size, sync_random_seed

from automl_mm.registry import DATA_SAMPLERS
from automl_mm.utils.seeding import as_seed

from .copies import get_copy_layout


@DATA_SAMPLERS.register_module()
class CopySampler(DefaultSampler):
    """``DefaultSampler`` that shards the data among the ranks of one copy only.

    Every copy sees the whole training set, each in its own order: the permutation of epoch ``e`` for copy ``c``
    is drawn from ``numpy.random.SeedSequence([seed, c, e])``, so no (copy, epoch) replays another's order (a
    seed of ``seed + c + e`` would give copy c at epoch e the order of copy 0 at epoch e + c). The ranks of a copy
    draw the same permutation and take interleaved shards of it.

    With ``shared_order=True`` every copy draws epoch ``e``'s permutation from ``SeedSequence([seed, e])``
    instead: all copies see the images in the same order (common random numbers). The copies then differ only in
    what the OHL spaces sampled for them (and the augmentations' own random draws), so the between-copy spread of
    the rewards carries less data-order noise. The REINFORCE gradient's expectation is unchanged (each copy's
    samples stay independent of the order), only its variance can drop; measured in the README's Fashion-MNIST
    section.

    Under mmengine's ``train_dataloader.num_batch_per_epoch`` a copy reads its own ranks' share of the slice mmengine
    made for the world (:func:`copy_share`), so each copy trains that many batches per epoch.

    ``OHLHook`` refuses any other train sampler when there are several copies; a sampler of your own that shards
    by copy can declare ``copy_aware = True`` to be accepted.

    Args:
        dataset: The training set.
        shuffle: Draw a permutation per (copy, epoch); ``False``: every copy reads the data in order.
        seed: Seed of the permutations; ``None``: one random seed shared by all ranks (mmengine's
            ``sync_random_seed``).
        round_up: Repeat items so that every rank of a copy gets ``ceil(len(dataset) / ranks_per_copy)`` of them
            (mmengine's meaning).
        shared_order: Every copy draws the same permutation per epoch (see above).

    With ``round_up=False`` and a training set ``ranks_per_copy`` does not divide, whether the copy's ranks run the
    same number of batches depends on the loader's batch size, which the sampler is built without: ``OHLHook``
    checks it at the start of training (:func:`~automl_mm.ohl.checks.check_copy_shards`, in every worker). A
    sampler iterated without that check, on a layout no ``CopyRunner`` created for its ``OHLHook`` (a loop of your own
    over :func:`~automl_mm.ohl.copies.init_copy_layout`), warns once that its shards are unequal and unchecked: call
    ``check_copy_shards(loader)`` on the loader first (it refuses different batch counts, and marks the sampler
    checked).

    Raises:
        ValueError: a ``seed`` that is not ``None`` or a valid seed.
        TypeError: ``shuffle``, ``round_up`` or ``shared_order`` not a bool.
    """

    copy_aware = True
    #: Set by :func:`~automl_mm.ohl.checks.check_copy_shards` once the shards passed against the loader's batching
    shards_checked = False
    #: Built on a :class:`~automl_mm.ohl.copies.CopyRunner`'s layout, whose ``OHLHook`` checks the shards at start
    _hook_checks = False

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None, round_up: bool = True,
                 shared_order: bool = False) -> None:
        seed = as_seed(seed, 'CopySampler.seed', allow_none=True)  # -1 failed at the first epoch, in numpy
        for name, value in (('shuffle', shuffle), ('round_up', round_up)):
            if not isinstance(value, bool):  # shuffle='False' is truthy: every copy shuffled
                raise TypeError(f'CopySampler: {name} must be a bool, got {value!r}')
        if seed is None:
            seed = sync_random_seed()
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        if not isinstance(shared_order, bool):
            raise TypeError(f'CopySampler: shared_order must be a bool, got {shared_order!r}')
        self.shared_order = shared_order
        layout = get_copy_layout()
        from . import copies

        self._hook_checks = layout is copies._HOOKED_LAYOUT  # (no warning before the hook's check: see __iter__)
        self.copy_id = layout.copy_id
        self.rank, self.world_size = layout.rank_in_copy, layout.ranks_per_copy
        self.size = copy_share(dataset, layout.ranks_per_copy)
        if self.round_up:
            self.num_samples = -(-self.size // self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = -(-(self.size - self.rank) // self.world_size)
            self.total_size = self.size

    def order(self, epoch: int) -> list[int]:
        """The whole permutation of this copy at ``epoch`` (before sharding among the copy's ranks)."""
        if not self.shuffle:
            return list(range(self.size))
        words = [self.seed, epoch] if self.shared_order else [self.seed, self.copy_id, epoch]
        seed = int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0])
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(seed)).tolist()

    def __iter__(self) -> Iterator[int]:
        if not (self.shards_checked or self._hook_checks or self.round_up) and self.size % self.world_size:
            import warnings

            self.shards_checked = True  # (warned once)
            warnings.warn(
                f'CopySampler(round_up=False): the copy\'s {self.world_size} ranks take shards of '
                f'{self.size // self.world_size + 1} and {self.size // self.world_size} of {self.size} samples, not '
                'checked against the loader\'s batch size (OHLHook checks it at the start of training): where the '
                'two make different numbers of batches the ranks wait for each other forever; call '
                'automl_mm.ohl.checks.check_copy_shards(loader) before iterating, or use round_up=True',
                stacklevel=2)
        indices = self.order(self.epoch)
        if self.round_up:
            indices = (indices * (self.total_size // len(indices) + 1))[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])


def copy_share(dataset: Sized, ranks_per_copy: int) -> int:
    """How many samples of ``dataset`` one copy's epoch reads: all of them, except from mmengine's slice for
    ``train_dataloader.num_batch_per_epoch`` (``num_batch_per_epoch x batch_size x world size`` samples, the share of
    every rank of the world, built in this process), of which a copy reads its own ranks' share
    (``num_batch_per_epoch x batch_size x ranks_per_copy``): each copy then trains the batches per epoch the config
    asks for, as in a plain run (with the world's share, N copies each trained N times as many)."""
    from mmengine.runner.runner import _SlicedDataset

    if not isinstance(dataset, _SlicedDataset):
        return len(dataset)
    return len(dataset) * ranks_per_copy // get_world_size()


def check_equal_shards(num_samples: int, ranks_per_copy: int, round_up: bool,
                       batching: tuple[int, bool] | None = None) -> None:
    """Refuse shards among the ranks of one copy that make different numbers of batches per epoch: with
    ``round_up=False`` and a dataset length that ``ranks_per_copy`` does not divide, the copy's first ranks take one
    sample more per epoch; where a batch boundary falls between the two counts (batches of one, say) they run one
    more iteration per epoch than the others, and wait forever in its collectives (the copy's DDP gradient
    all-reduce, the trunk-end reward gather and broadcast; the trunks themselves, counted from
    ``len(train_dataloader)``, would end at other iterations on each rank). Under an iteration loop the ranks'
    epochs (and so their permutations) drift apart instead, and their shards no longer partition the copy's data.
    Shards whose counts make the same number of batches (26 and 25 samples at ``batch_size=16``: 2 on every rank;
    :func:`~automl_mm.engine.preflight_rank_shards.shard_batches`) differ only in their last batch's size and pass.

    Args:
        num_samples: The samples the copy deals out per epoch.
        ranks_per_copy: The copy's ranks.
        round_up: The sampler's; ``True`` (equal shards, a sample repeated) is never refused.
        batching: ``(batch_size, drop_last)`` of the train loader; ``None`` where it is not known (a batch sampler
            whose batches depend on the data): then any uneven split is refused.

    Raises:
        ValueError: naming ``train_dataloader.sampler.round_up``, the dataset length, both shard lengths and (where
            ``batching`` is known) both iteration counts.
    """
    from automl_mm.engine.preflight_rank_shards import shard_batches

    if round_up or ranks_per_copy == 1 or num_samples % ranks_per_copy == 0:
        return
    short = num_samples // ranks_per_copy
    longer, shorter = shard_batches(short + 1, batching), shard_batches(short, batching)
    if longer is not None and longer == shorter:
        return
    batches = '' if longer is None else f' (at batch_size={batching[0]}: {longer} and {shorter} iterations)'
    raise ValueError(
        f'train_dataloader.sampler.round_up=False with ranks_per_copy={ranks_per_copy} and {num_samples} training '
        f'samples, which {ranks_per_copy} does not divide: the ranks of a copy would take {short + 1} and {short} '
        f'samples per epoch{batches}; under an epoch loop they run different numbers of iterations and wait for '
        "each other forever (the copy's DDP all-reduce, the trunk-end collectives), under an iteration loop their "
        'epochs drift apart and their shards stop partitioning the data; set round_up=True (the default: the short '
        f'shards repeat a sample) or use a training set whose length is a multiple of {ranks_per_copy}')
