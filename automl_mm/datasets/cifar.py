"""CIFAR-10 from its standard on-disk python format (the extracted ``cifar-10-batches-py`` folder)."""
from __future__ import annotations

import functools
import os
import os.path as osp
import pickle
from typing import Any

import numpy as np
from mmengine.dataset import BaseDataset

from automl_mm.registry import DATASETS
from automl_mm.utils.file_identity import FileIdentity, file_identity
from automl_mm.utils.wording import a_type

from .splits import (
    SingleLabelMixin,
    check_reward_size,
    check_seed,
    check_split,
    metainfo_with_classes,
    of_argument,
    refuse_classes_without_training,
    refuse_unread_base_keys,
    stratified_split,
    take_mmpretrain_keys,
)

_TRAIN_FILES = tuple(f'data_batch_{i}' for i in range(1, 6))
_TEST_FILES = ('test_batch',)
#: images in CIFAR-10's five training batches: a ``reward_size`` of this or more is refused before any file is read
CIFAR10_TRAIN_IMAGES = 50000
# CIFAR batches are pickles; only the globals numpy arrays need may be resolved while reading them.
_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('_codecs', 'encode'),  # how protocol-2 pickles written by Python 3 store bytes
}


class _ArrayOnlyUnpickler(pickle.Unpickler):

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f'refusing to load global {module}.{name} from a CIFAR batch file')
        return super().find_class(module, name)


#: The python version of CIFAR-10, whose extracted ``cifar-10-batches-py`` folder is a ``data_root``.
CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'


@functools.lru_cache(maxsize=2)
def _batch_labels(paths: tuple[str, ...], identities: tuple[FileIdentity, ...]) -> np.ndarray:
    """The labels of the batch files ``paths``, concatenated: the start checks of a start's train and reward
    datasets read them once (:meth:`CIFAR10Dataset.check_sources`). ``identities`` (their
    :func:`~automl_mm.utils.file_identity.file_identity`, only part of the cache key): a file changed or replaced,
    even by one of the same size and mtime, is read again. Raises as :func:`read_cifar_batch`."""
    del identities
    labels = np.concatenate([read_cifar_batch(path)[1] for path in paths])
    labels.setflags(write=False)  # (shared)
    return labels


def read_cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR python batch file into (N, 32, 32, 3) uint8 RGB images and int64 labels.

    Raises:
        FileNotFoundError: no such file; the message names it, the folder ``data_root`` must be and where
            CIFAR-10 comes from (:data:`CIFAR10_URL`: nothing is downloaded).
        ValueError: not a CIFAR-10 batch: not a dict (or not a pickle), no data / labels, rows other than 3,072
            values, pixels or labels that are not integers, pixels outside 0..255, not one label per image, or
            labels outside [0, 10); the message names the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'CIFAR-10 batch file not found: {path}. data_root must be the extracted "cifar-10-batches-py" '
            f'folder holding {", ".join(_TRAIN_FILES + _TEST_FILES)}. Nothing is downloaded: extract '
            f'{CIFAR10_URL} (the python version) into data/ from the repository root, which gives the configs\' '
            f'data_root, data/cifar-10-batches-py, or set data_root to where it is.')
    with open(path, 'rb') as f:
        try:
            entry = _ArrayOnlyUnpickler(f, encoding='bytes').load()
        except (pickle.UnpicklingError, EOFError, ValueError) as err:  # truncated, or not a pickle
            raise ValueError(f'{path} is not a readable CIFAR-10 batch (truncated or not a pickle: {err})') from None
    if not isinstance(entry, dict):
        raise ValueError(f'{path} is not a CIFAR-10 batch: it holds {a_type(entry)}, not a dict')
    data = entry.get(b'data', entry.get('data'))
    labels = entry.get(b'labels', entry.get('labels'))
    if data is None or labels is None:
        raise ValueError(f'{path} is not a CIFAR-10 batch: it has no "data"/"labels" entries')
    data, labels = np.asarray(data), np.asarray(labels)
    # checked before the reshape: a 64 x 64 batch in the same layout was cut into 32 x 32 images, int16 values
    # wrapped modulo 256, and a label short moved every later label onto another image
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f'{path}: CIFAR-10 "data" must be (N, 3072) (32 x 32 x 3 per row), got {data.shape}')
    for name, values in (('pixels', data), ('labels', labels)):  # astype() truncated floats: 0..1 pixels read as 0
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f'{path}: CIFAR-10 {name} must be integers (the python batches hold uint8 pixels and '
                             f'int labels), got dtype {values.dtype}')
    if data.dtype != np.uint8 and (data.size and (data.min() < 0 or data.max() > 255)):
        raise ValueError(f'{path}: CIFAR-10 pixels must be 0..255, got values in [{data.min()}, {data.max()}]')
    if labels.ndim != 1 or len(labels) != len(data):
        raise ValueError(f'{path} holds {len(data)} images but {labels.size} labels')
    if labels.size and (labels.min() < 0 or labels.max() >= 10):
        raise ValueError(f'{path}: CIFAR-10 labels must be in [0, 10), got {labels.min()}..{labels.max()}')
    images = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def _training_digests(data_root: Any, files: tuple[str, ...] = _TRAIN_FILES) -> tuple[str, str] | None:
    """``(digest of the training images, digest of the training images and labels)`` of the batch files of
    ``data_root`` (:func:`~automl_mm.datasets.content.array_digest`; ``files``: the training batches, or
    ``_TEST_FILES`` for the test batch's), computed once per folder and state of its files (their
    :func:`~automl_mm.utils.file_identity.file_identity`: a file replaced by one of the same size and mtime is read
    again); ``None`` where the batches are missing or unreadable."""
    if not isinstance(data_root, (str, os.PathLike)):
        return None
    paths = [osp.join(data_root, name) for name in files]
    try:
        stamp = tuple(file_identity(p) for p in paths)
    except OSError:
        return None
    return _digests_of(tuple(osp.realpath(p) for p in paths), stamp)


@functools.lru_cache(maxsize=8)
def _digests_of(paths: tuple[str, ...], stamp: tuple) -> tuple[str, str] | None:
    from .content import array_digest

    del stamp  # only part of the cache key (the files' identities): a rewritten or replaced file is read again
    try:
        batches = [read_cifar_batch(path) for path in paths]
    except (FileNotFoundError, ValueError):
        return None
    return array_digest(*(images for images, _ in batches)), array_digest(*(a for batch in batches for a in batch))


@DATASETS.register_module()
class CIFAR10Dataset(SingleLabelMixin, BaseDataset):
    """CIFAR-10 with a seeded, stratified reward split carved from the 50k training images.

    Images are uint8 HWC in **BGR** order (mmcv's convention, so ``ImgDataPreprocessor(bgr_to_rgb=True)``
    and mmcv/cv2 transforms behave as on images read from disk).

    Args:
        data_root: The extracted ``cifar-10-batches-py`` folder.
        split: ``'train'`` (50k minus the reward part), ``'reward'`` or ``'test'`` (the official 10k).
        reward_size: Number of training images held out for rewards. Default 5,000: the 45k/5k split of the
            public OHL-Auto-Aug reimplementation. 0 holds none out (the train split is the whole training set, and
            ``split='reward'`` is refused); ``None`` is refused.
        seed: Seed of the train/reward split.
        **kwargs: Passed to ``mmengine.dataset.BaseDataset`` (``pipeline``, ``metainfo``, ...); its
            ``ann_file``, ``data_prefix`` and ``filter_cfg`` are never read and are refused.
            ``metainfo=dict(classes=...)`` renames the 10 classes (label order) and must give 10 names.
            mmpretrain's ``with_label=True`` and ``download=False`` are taken (what it does anyway), other values
            refused.

    Raises:
        ValueError: An argument is out of range (``reward_size`` of 50,000 or more, CIFAR-10's training set, among
            them), an unread ``BaseDataset`` key is given, or ``metainfo.classes`` does not give one name per class
            (before any batch file is read); ``reward_size`` is not smaller than a smaller set's training images (when
            the batches are read).
    """

    METAINFO = {'classes': ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
                            'truck')}
    #: The arguments that decide which images each split holds, and the splits they do not change (the official
    #: test set; read by the config check of held-out splits, :mod:`automl_mm.engine.preflight_splits`).
    SPLIT_ARGS = ('reward_size', 'seed')
    FIXED_SPLITS = ('test', )

    #: the mmengine ``BaseDataset`` keys this dataset never reads and refuses (``refuse_unread_base_keys``);
    #: the config check reads it too (a missing ``ann_file`` is not looked for)
    UNREAD_BASE_KEYS: tuple[str, ...] = ('ann_file', 'data_prefix', 'filter_cfg')

    def __init__(self, data_root: str, split: str = 'train', reward_size: int = 5000, seed: int = 0,
                 **kwargs) -> None:
        take_mmpretrain_keys('CIFAR10Dataset', kwargs, ('with_label', 'download'))
        refuse_unread_base_keys('CIFAR10Dataset', kwargs, self.UNREAD_BASE_KEYS,
                                'reads the python batch files of data_root')
        if not isinstance(data_root, (str, os.PathLike)):  # None failed in os.path.join, naming nothing
            raise ValueError(f'CIFAR10Dataset.data_root must be the extracted "cifar-10-batches-py" folder, got '
                             f'{data_root!r}')
        self.split = check_split(split)
        # reward_size 0 used to give the reward split the whole training set: a reward read on training images
        self.reward_size = check_reward_size('CIFAR10Dataset', reward_size, self.split)
        if self.split != 'test' and self.reward_size >= CIFAR10_TRAIN_IMAGES:
            # before any file is read (lazy_init too): it failed first when the runner loaded the batches
            raise of_argument(ValueError(
                f'CIFAR10Dataset: reward_size={self.reward_size} must be smaller than the '
                f'{CIFAR10_TRAIN_IMAGES:,} training images of CIFAR-10 (it asks {self.reward_size} reward images, '
                'leaving no training image)'), 'reward_size')
        self.seed = check_seed(seed, 'CIFAR10Dataset.seed')
        kwargs['metainfo'] = metainfo_with_classes(type(self), kwargs.get('metainfo'),
                                                   f'CIFAR-10 (the batch files of {data_root})')
        super().__init__(data_root=data_root, **kwargs)

    @classmethod
    def split_source(cls, data_root: str | None) -> str | None:
        """The data the train / reward split of ``data_root`` is carved from, for the config checks of held-out
        splits (:mod:`automl_mm.engine.preflight_splits`, :mod:`automl_mm.engine.preflight_eval_splits`): a digest
        of the images and labels of its five training batches (:func:`~automl_mm.datasets.content.array_digest`;
        the split depends on nothing else besides its arguments), so two copies of the same batches are one source
        (compared as paths, a training split of ``seed=1`` beside a reward split of ``seed=0`` read from them shared
        images unchecked), and batches of other images are another whatever their labels (compared by the labels
        alone, they were one: their splits were refused as overlapping, and a reward split of them was taken for
        the test loader's); batches of the same images under other labels are another source of the same images
        (:meth:`split_images`). ``None`` where the batches are missing or unreadable (building the dataset names the
        problem). Cost: the five batches read (about 150 MB) and hashed, once per folder and state of its files."""
        found = _training_digests(data_root)
        return found and found[1]

    @classmethod
    def split_images(cls, data_root: str | None) -> str | None:
        """The images the train / reward split of ``data_root`` is carved from, without their labels (a digest of
        the five training batches' images), for the config check of held-out splits: two sources of other
        :meth:`split_source` and the same images (the batches relabelled) carve their splits from other labels, so
        any two of their splits share images whatever their arguments. ``None`` as :meth:`split_source`; the
        batches are read once for both."""
        found = _training_digests(data_root)
        return found and found[0]

    def item_source(self) -> str | None:
        """The images this split's ``source_idx`` indexes, for
        :func:`~automl_mm.engine.local_loader.item_identity`: a digest of the images of the batches it reads (the
        five training batches for ``'train'`` / ``'reward'``, ``test_batch`` for ``'test'``;
        :func:`~automl_mm.datasets.content.array_digest`, so a copy of the batches is the same source), or
        ``None`` where they are unreadable. Cost: the batches read and hashed once per folder and state of its
        files."""
        found = _training_digests(self.data_root, _TEST_FILES if self.split == 'test' else _TRAIN_FILES)
        return found and found[0]

    def check_sources(self) -> None:
        """Check what :meth:`load_data_list` reads (the start-up check of a dataset built with ``lazy_init``,
        :func:`~automl_mm.engine.preflight_loading.check_before_loading`): the batch files exist, and (``split``
        ``'train'`` / ``'reward'`` with ``reward_size`` > 0) the training batches are readable and ``reward_size``
        leaves a training image, and one of each class
        (:func:`~automl_mm.datasets.splits.refuse_classes_without_training`), as Fashion-MNIST's start check does:
        until the fifty-eighth session only loading refused them, when the runner first read the batches. Cost:
        the five training batches read (about 150 MB for CIFAR-10: a pickle holds its labels beside its images;
        3.5 s on a loaded 2-core machine) where ``reward_size`` is set, once per start: the train and reward
        datasets of one start share the read (:func:`_batch_labels`).

        Raises:
            FileNotFoundError: a batch file is missing, naming it (as :func:`read_cifar_batch`), marked as a
                refusal of ``data_root`` (:func:`~automl_mm.datasets.splits.of_argument`).
            ValueError: a training batch is no CIFAR-10 batch (:func:`read_cifar_batch`), marked as a refusal of
                ``data_root``; ``reward_size`` is not smaller than the training images, or leaves a class no
                training image, naming it, marked as a refusal of ``reward_size``.
        """
        files = _TEST_FILES if self.split == 'test' else _TRAIN_FILES
        for name in files:
            path = osp.join(self.data_root, name)
            if not osp.isfile(path):
                try:
                    read_cifar_batch(path)  # raises its FileNotFoundError, naming the file and the folder wanted
                except FileNotFoundError as err:
                    raise of_argument(err, 'data_root') from None
        if self.split == 'test' or self.reward_size == 0:
            return
        try:
            paths = [osp.join(self.data_root, name) for name in files]
            labels = _batch_labels(tuple(paths), tuple(file_identity(path) for path in paths))
        except (FileNotFoundError, ValueError) as err:
            raise of_argument(err, 'data_root') from None
        self.split_indices(labels)  # refuses as loading refuses

    def split_indices(self, labels: np.ndarray) -> np.ndarray:
        """Indices (into the batches' images, ``labels`` one per image) of this split: every image for ``'test'``
        and for ``'train'`` at ``reward_size=0``, else the seeded, stratified train / reward split.

        Raises:
            ValueError: ``reward_size`` is not smaller than ``len(labels)`` or leaves a class no training image,
                marked as a refusal of ``reward_size``.
        """
        indices = np.arange(len(labels))
        if self.split == 'test' or self.reward_size == 0:
            return indices
        if self.reward_size >= len(labels):  # a set smaller than CIFAR-10's (the bound __init__ checks)
            raise of_argument(ValueError(f'reward_size={self.reward_size} must be smaller than the {len(labels)} '
                                         f'training images of {self.data_root}'), 'reward_size')
        frac = self.reward_size / len(labels)
        train, reward = stratified_split(labels, (1.0 - frac, frac), self.seed, exact_total=True)
        refuse_classes_without_training(labels, train, self.metainfo['classes'], 'reward_size', self.reward_size,
                                        self.data_root)
        return train if self.split == 'train' else reward

    def load_data_list(self) -> list[dict]:
        files = _TEST_FILES if self.split == 'test' else _TRAIN_FILES
        batches = [read_cifar_batch(osp.join(self.data_root, name)) for name in files]
        images = np.concatenate([b[0] for b in batches])
        labels = np.concatenate([b[1] for b in batches])
        indices = self.split_indices(labels)
        # RGB on disk -> BGR in memory (mmcv convention).
        return [{'img': images[i, :, :, ::-1].copy(), 'gt_label': int(labels[i]), 'source_idx': int(i)}
                for i in indices]

    def prepare_data(self, idx: int) -> dict:
        data = self.get_data_info(idx)
        data['img_shape'] = data['ori_shape'] = data['img'].shape[:2]
        return self.pipeline(data)
