"""Label noise on a training set: symmetric (the AM-LFS CIFAR-10 experiments) or pair-flip (asymmetric)."""
from __future__ import annotations

import copy
import pickle
from collections.abc import Sequence
from numbers import Real

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.logging import MMLogger

from automl_mm.registry import DATASETS
from automl_mm.utils.checks import as_count, as_flag

from .splits import check_seed

_REFUSED_SPLITS = ('reward', 'test')
NOISE_TYPES = ('symmetric', 'pairflip')


@DATASETS.register_module()
class NoisyLabelDataset:
    """Flip a seeded fraction of a training set's labels to other classes (symmetric or pair-flip noise).

    Exactly ``round(noise_ratio * N)`` items are chosen (without replacement, seeded, uniformly over the set).
    ``noise_type='symmetric'``: each gets a label drawn uniformly from the other ``num_classes - 1`` classes.
    ``noise_type='pairflip'``: class ``c`` becomes ``(c + 1) mod num_classes`` (asymmetric noise; Han et al.,
    "Co-teaching", NeurIPS 2018, §4: transition matrix ``1 - eps`` on the diagonal and ``eps`` next to it). The
    rate is exact over the set, not per class: a class's own rate varies around it (hypergeometrically, as
    Co-teaching's per-sample draws vary binomially), so near ``noise_ratio = 0.5`` (Co-teaching's Pair-45 %) some
    classes can lose their clean majority (on 1,000 Fashion-MNIST images, 5 seeds of 6 had one). The flips are
    written into the wrapped dataset's data list once, at initialisation (re-serialising it if ``serialize_data``
    is on), so its pipeline sees the noisy labels; note that a dataset passed as an instance is modified in place.
    Noise only ever goes on training data: a wrapped dataset whose ``split`` is ``'reward'`` or ``'test'``, or that
    has ``test_mode=True`` (an evaluation set), is refused, and the start-of-run check refuses it under any loader but
    ``train_dataloader`` (:func:`~automl_mm.engine.preflight_splits.check_noise_on_training_only`).

    An mmengine dataset wrapper, as ``RepeatDataset`` / ``ClassBalancedDataset`` are (not a ``BaseDataset``): it
    takes ``lazy_init`` and has ``metainfo``, ``full_init``, ``get_data_info``, ``get_cat_ids`` and
    ``_get_ori_dataset_idx``; its positions are the wrapped dataset's, so, unlike theirs, ``get_subset`` /
    ``get_subset_`` are defined (the wrapped dataset's subset, each item with its flip). mmengine's wrappers take it
    as a config (``RepeatDataset(dataset=dict(type='NoisyLabelDataset', ...))``), not as a built instance.

    Args:
        dataset: An mmengine ``BaseDataset`` (e.g. ``DigitsDataset``, ``CIFAR10Dataset``) or its config.
        noise_ratio: Fraction of labels to flip, in ``[0, 1)``.
        seed: Seed of the choice of items and of their new labels.
        noise_type: ``'symmetric'`` or ``'pairflip'``.
        num_classes: Number of classes; defaults to ``len(dataset.metainfo['classes'])``.
        lazy_init: Defer loading the wrapped dataset and flipping to the first access (as mmengine's wrappers).

    Raises:
        ValueError: ``noise_ratio`` outside [0, 1); an unknown ``noise_type``; a wrapped dataset whose ``split`` is
            ``'reward'`` or ``'test'`` or that has ``test_mode=True``; ``num_classes`` not an int >= 2, other than
            the wrapped dataset's classes, or missing where it has no ``metainfo['classes']``; a bad ``seed``;
            ``lazy_init`` not a bool; at initialisation, an item without one integer ``gt_label`` in
            ``[0, num_classes)``.
        TypeError: ``dataset`` is neither an mmengine ``BaseDataset`` nor its config.

    Attributes:
        noisy_indices: Sorted indices of the flipped items.
        clean_labels: The original label of every item.

    Examples:
        >>> from automl_mm.datasets import DigitsDataset
        >>> ds = NoisyLabelDataset(DigitsDataset(split='train', img_size=8, max_samples=50), noise_ratio=0.2)
        >>> flipped = int(ds.noisy_indices[0])
        >>> len(ds.noisy_indices), bool(ds[flipped]['gt_label'] != ds.clean_labels[flipped])
        (10, True)
    """

    def __init__(self, dataset: dict | BaseDataset, noise_ratio: float, seed: int = 0, num_classes: int | None = None,
                 lazy_init: bool = False, noise_type: str = 'symmetric') -> None:
        if isinstance(noise_ratio, bool) or not isinstance(noise_ratio, Real) or not 0.0 <= noise_ratio < 1.0:
            raise ValueError(f'noise_ratio must be a number in [0, 1), got {noise_ratio!r}')
        if noise_type not in NOISE_TYPES:
            raise ValueError(f'noise_type must be one of {NOISE_TYPES}, got {noise_type!r}')
        self.noise_type = noise_type
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        if not isinstance(dataset, BaseDataset):
            raise TypeError(f'NoisyLabelDataset wraps an mmengine BaseDataset (or its config), got '
                            f'{type(dataset).__name__}')
        split = getattr(dataset, 'split', None)
        if split in _REFUSED_SPLITS:
            raise ValueError(f'label noise goes on training data only; the wrapped {type(dataset).__name__} has '
                             f'split={split!r}')
        if getattr(dataset, 'test_mode', False) is True:
            # an image folder has split='all' for val as for train: a val set built with test_mode=True was scored
            # against flipped labels (accuracy of a perfect model: 1 - noise_ratio), silently
            raise ValueError(f'label noise goes on training data only; the wrapped {type(dataset).__name__} has '
                             'test_mode=True (an evaluation set): remove the NoisyLabelDataset from this loader')
        self.dataset = dataset
        self.noise_ratio = float(noise_ratio)
        self.seed = check_seed(seed, 'NoisyLabelDataset.seed')
        self._metainfo = dataset.metainfo
        if num_classes is not None:  # 10.5 classes flipped among int(10.5) = 10 without a word
            num_classes = as_count(num_classes, 'NoisyLabelDataset.num_classes')
        if num_classes is None:
            if 'classes' not in self._metainfo:
                raise ValueError(f'num_classes is needed: {type(dataset).__name__} has no metainfo["classes"]')
            num_classes = len(self._metainfo['classes'])
        elif 'classes' in self._metainfo and num_classes != len(self._metainfo['classes']):
            # num_classes=100 on the 10 digits flipped labels to classes 10..99, which no head predicts
            raise ValueError(f'NoisyLabelDataset.num_classes={num_classes}, but the wrapped {type(dataset).__name__} '
                             f'has {len(self._metainfo["classes"])} classes (metainfo["classes"]): leave it out')
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2 to flip labels, got {num_classes}')
        self.num_classes = int(num_classes)
        self.noisy_indices = np.zeros(0, dtype=np.int64)
        self.clean_labels = np.zeros(0, dtype=np.int64)
        self._fully_initialized = False
        if not as_flag(lazy_init, 'NoisyLabelDataset.lazy_init'):  # 'False' (truthy) deferred the flips
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (a copy)."""
        return copy.deepcopy(self._metainfo)

    @property
    def split(self) -> str | None:
        """The wrapped dataset's split (``None`` if it has none)."""
        return getattr(self.dataset, 'split', None)

    def full_init(self) -> None:
        """Initialise the wrapped dataset and flip the labels (once)."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        data_list = self._read_data_list()
        num_items = len(data_list)  # re-serialising empties the list the log line would count
        self.clean_labels = np.asarray([self._label_of(info, i) for i, info in enumerate(data_list)], dtype=np.int64)
        num_flips = int(round(self.noise_ratio * len(data_list)))
        rng = np.random.default_rng(self.seed)
        chosen = np.sort(rng.choice(len(data_list), size=num_flips, replace=False)).astype(np.int64)
        if self.noise_type == 'symmetric':
            # An offset in [1, C - 1] modulo C: uniform over the classes other than the clean one.
            offsets = rng.integers(1, self.num_classes, size=num_flips)
        else:
            offsets = np.ones(num_flips, dtype=np.int64)
        for idx, offset in zip(chosen.tolist(), offsets.tolist()):
            data_list[idx]['gt_label'] = int((self.clean_labels[idx] + offset) % self.num_classes)
        if num_flips:
            self._write_data_list(data_list)
        self.noisy_indices = chosen
        self._fully_initialized = True
        MMLogger.get_current_instance().info(
            f'NoisyLabelDataset: flipped {num_flips} of {num_items} labels of {type(self.dataset).__name__} '
            f'(noise_ratio={self.noise_ratio}, seed={self.seed}, {self.noise_type} over {self.num_classes} classes)')

    def _read_data_list(self) -> list[dict]:
        """The wrapped dataset's data infos, without the ``sample_idx`` that ``get_data_info`` adds."""
        ds = self.dataset
        if not ds.serialize_data:
            return ds.data_list
        ends = ds.data_address.tolist()
        starts = [0] + ends[:-1]
        return [pickle.loads(memoryview(ds.data_bytes[s:e])) for s, e in zip(starts, ends)]

    def _write_data_list(self, data_list: list[dict]) -> None:
        ds = self.dataset
        if ds.serialize_data:  # non-serialised lists were modified in place
            ds.data_list = data_list
            ds.data_bytes, ds.data_address = ds._serialize_data()

    def _label_of(self, info: dict, idx: int) -> int:
        label = np.asarray(info.get('gt_label', np.nan))
        if label.size != 1 or not np.issubdtype(label.dtype, np.integer):
            raise ValueError(f'NoisyLabelDataset needs one integer gt_label per item; item {idx} of '
                             f'{type(self.dataset).__name__} has gt_label={info.get("gt_label")!r}')
        label = int(label.reshape(-1)[0])
        if not 0 <= label < self.num_classes:
            raise ValueError(f'item {idx} has gt_label={label}, outside [0, num_classes={self.num_classes})')
        return label

    def item_source(self):
        """The wrapped dataset's ``item_source()`` (the images its ``source_idx`` indexes; the labels flipped here
        leave the image the same), or ``None`` where it has none."""
        get = getattr(self.dataset, 'item_source', None)
        return get() if callable(get) else None

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> int:
        """The wrapped dataset's index of item ``idx``: the same (the flips change labels, not positions); read, as
        mmengine's ``RepeatDataset`` / ``ClassBalancedDataset`` are, by what follows an item to the dataset that
        stores it (:func:`~automl_mm.engine.local_loader.item_identity`)."""
        return int(idx)

    def get_subset_(self, indices: int | Sequence[int]) -> None:
        """Keep only the items ``indices`` selects, in place, with their flips (mmengine's ``BaseDataset.get_subset_``
        semantics: an int ``n`` keeps the first ``n`` items, ``-n`` the last ``n``; a sequence keeps those items in
        its order, repeats included). Unlike mmengine's ``RepeatDataset`` / ``ClassBalancedDataset``, which refuse it
        (their positions are not the wrapped dataset's), a position here is the wrapped dataset's, so the subset is
        the wrapped dataset's subset with the same noisy labels; ``noisy_indices`` and ``clean_labels`` follow it.

        Raises:
            IndexError: as mmengine's ``BaseDataset``: a position past the items.
        """
        self.full_init()
        positions = self._positions(indices)
        self.dataset.get_subset_(indices)
        self._keep(positions)

    def get_subset(self, indices: int | Sequence[int]) -> NoisyLabelDataset:
        """A copy holding only the items ``indices`` selects, with their flips (:meth:`get_subset_`); this dataset is
        unchanged and the copy shares nothing with it (the wrapped dataset's ``get_subset``)."""
        self.full_init()
        positions = self._positions(indices)
        subset = copy.copy(self)
        subset.dataset = self.dataset.get_subset(indices)
        subset._metainfo = copy.deepcopy(self._metainfo)
        subset._keep(positions)
        return subset

    def _positions(self, indices: int | Sequence[int]) -> np.ndarray:
        """The positions (of this dataset) that ``get_subset(indices)`` keeps, as mmengine's ``BaseDataset`` reads
        ``indices``."""
        everything = np.arange(len(self.dataset), dtype=np.int64)
        if isinstance(indices, (int, np.integer)) and not isinstance(indices, bool):
            return everything[:int(indices)] if indices >= 0 else everything[int(indices):]
        return everything[np.asarray(list(indices), dtype=np.int64)]

    def _keep(self, positions: np.ndarray) -> None:
        flipped = np.zeros(len(self.clean_labels), dtype=bool)
        flipped[self.noisy_indices] = True
        self.clean_labels = self.clean_labels[positions]
        self.noisy_indices = np.flatnonzero(flipped[positions]).astype(np.int64)

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's (noisy) data info of item ``idx``."""
        return self.dataset.get_data_info(idx)

    @force_full_init
    def get_cat_ids(self, idx: int) -> list[int]:
        """The (noisy) class of item ``idx`` as ``[gt_label]`` (what class-aware samplers read)."""
        return [int(self.dataset.get_data_info(idx)['gt_label'])]

    @force_full_init
    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> dict:
        if not self._fully_initialized:
            self.full_init()
        return self.dataset[idx]
