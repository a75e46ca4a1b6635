"""Fashion-MNIST (Xiao et al., 2017) from the standard idx / idx.gz files.

The files are the ones the Debian package ``dataset-fashion-mnist`` installs under
``/usr/share/datasets/fashion-mnist/`` (``tools/install.sh`` installs it when it can), or the same four files
downloaded from https://github.com/zalandoresearch/fashion-mnist into ``data/fashion-mnist/``.
"""
from __future__ import annotations

import functools
import gzip
import math
import os.path as osp
import weakref

import numpy as np
from mmengine.dataset import BaseDataset

from automl_mm.registry import DATASETS
from automl_mm.utils.file_identity import file_identity
from automl_mm.utils.wording import a_name

from .splits import (
    SingleLabelMixin,
    check_counts,
    check_reward_size,
    check_seed,
    check_split,
    metainfo_with_classes,
    of_argument,
    per_class_subset,
    refuse_classes_without_training,
    refuse_unread_base_keys,
    refuse_zero,
    stratified_split,
    take_mmpretrain_keys,
)

#: Where ``data_root=None`` looks, in order: the repository's data folder, then the Debian package's location.
DEFAULT_ROOTS = ('data/fashion-mnist', '/usr/share/datasets/fashion-mnist')
FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
# idx magic: two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions.
_UBYTE = 0x08
#: (height, width) of a Fashion-MNIST image: the dataset and ``fmnist_det`` assume it of the images files
IMAGE_SHAPE = (28, 28)
_INSTALL_HINT = ('Install the Debian package (sudo apt-get install dataset-fashion-mnist; tools/install.sh does it '
                 'when run as root) or put the four idx files of https://github.com/zalandoresearch/fashion-mnist '
                 'into data/fashion-mnist/.')


def read_idx(path: str, ndim: int | None = None) -> np.ndarray:
    """Read one idx file (plain or gzip-compressed) of unsigned bytes.

    Format (LeCun's MNIST page): a 4-byte magic ``00 00 08 <ndim>``, then ``ndim`` big-endian uint32 sizes, then
    the ``prod(sizes)`` bytes in row-major order.

    Args:
        path: The file; a name ending in ``.gz`` is decompressed.
        ndim: Expected number of dimensions (3 for images, 1 for labels); ``None`` accepts any.

    Returns:
        A uint8 array of the stored shape, e.g. (N, 28, 28) for an images file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Bad magic, unexpected ``ndim``, or a truncated / oversized file; the message names ``path``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'idx file not found: {path}')
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        raise ValueError(f'{path} is not a readable idx{" (gzip)" if opener is gzip.open else ""} file: {exc}') \
            from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or raw[3] == 0:
        raise ValueError(f'{path} is not an idx file of unsigned bytes: magic {raw[:4].hex() or "(empty)"}, '
                         f'expected 0000080N')
    file_ndim = raw[3]
    if ndim is not None and file_ndim != ndim:
        raise ValueError(f'{path} holds {a_name(str(file_ndim))}-dimensional idx array, expected {ndim} dimensions')
    header = 4 + 4 * file_ndim
    if len(raw) < header:
        raise ValueError(f'{path} is truncated: {len(raw)} bytes, shorter than its {header}-byte header')
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype='>u4', count=file_ndim, offset=4))
    # Python ints: np.prod in int64 wrapped sizes past 2**63 (2**31 x 2**31 x 4 gave 0, so a header-only file passed)
    expected = header + math.prod(shape)
    if len(raw) != expected:
        state = 'truncated' if len(raw) < expected else 'longer than its header says'
        raise ValueError(f'{path} is {state}: {len(raw)} bytes, its header {shape} needs {expected}')
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_shape(path: str) -> tuple[int, ...]:
    """The array shape an idx file (plain or ``.gz``) of unsigned bytes declares in its header, read without
    reading its data (the start-up check of a ``lazy_init`` dataset: a few bytes, also of a ``.gz`` file).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Not an idx file of unsigned bytes, or its header is truncated; the message names ``path``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'idx file not found: {path}')
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            magic = f.read(4)
            sizes = f.read(4 * magic[3]) if len(magic) == 4 else b''
    except (OSError, EOFError) as exc:
        raise ValueError(f'{path} is not a readable idx{" (gzip)" if opener is gzip.open else ""} file: {exc}') \
            from exc
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] != _UBYTE or magic[3] == 0:
        raise ValueError(f'{path} is not an idx file of unsigned bytes: magic {magic.hex() or "(empty)"}, '
                         f'expected 0000080N')
    if len(sizes) < 4 * magic[3]:
        raise ValueError(f'{path} is truncated: shorter than its {4 + 4 * magic[3]}-byte header')
    return tuple(int(s) for s in np.frombuffer(sizes, dtype='>u4'))


def _check_images_shape(path: str, shape: tuple[int, ...]) -> None:
    """``ValueError`` naming ``path`` and ``shape`` unless ``shape`` is that of Fashion-MNIST images,
    ``(N, 28, 28)``: a 32 x 32 MNIST-format set (or a file of another shape) was read as Fashion-MNIST and trained
    on at its own size, silently (the detection set pasted crops of the wrong size)."""
    if len(shape) != 3 or tuple(shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f'{path} holds images of shape {tuple(shape)}, but Fashion-MNIST images are '
                         f'{IMAGE_SHAPE[0]} x {IMAGE_SHAPE[1]} (N, 28, 28): give data_root the Fashion-MNIST idx '
                         'files, not another set of this format')


def find_data_root(data_root: str | None = None) -> str:
    """The folder holding the Fashion-MNIST files: ``data_root`` itself, or the first of ``DEFAULT_ROOTS``
    holding the training images (plain or ``.gz``).

    Raises:
        FileNotFoundError: ``data_root`` is not a folder, or (``None``) no default location holds the files; the
            message names the folders searched, a relative one with the absolute path it has in this working
            directory (``data/fashion-mnist (/home/me/automl_mm/data/fashion-mnist)``).
    """
    if data_root is not None:
        if not osp.isdir(data_root):
            # the user named a folder: say that one is wrong before where the files usually come from
            raise FileNotFoundError(f'Fashion-MNIST data_root is not a folder: {data_root}. Give the folder holding '
                                    f'the four idx files, or data_root=None to read {_default_roots()}. '
                                    f'{_INSTALL_HINT}')
        return data_root
    for root in DEFAULT_ROOTS:
        if any(osp.isfile(osp.join(root, FILES['train'][0] + ext)) for ext in ('', '.gz')):
            return root
    raise FileNotFoundError(f'Fashion-MNIST not found in {_default_roots()}. {_INSTALL_HINT}')


def _default_roots() -> str:
    """``DEFAULT_ROOTS`` as the errors name them: a relative one is searched in the working directory, whichever
    that is (a tool run from another folder), so its absolute path follows it."""
    return ' or '.join(root if osp.isabs(root) else f'{root} ({osp.abspath(root)})' for root in DEFAULT_ROOTS)


def _files_in(root: str, name: str) -> tuple[str, ...]:
    """The copies of the idx file ``name`` in ``root``: the plain file and / or ``name.gz`` (plain first)."""
    found = tuple(c for c in (osp.join(root, name), osp.join(root, name + '.gz')) if osp.isfile(c))
    if not found:
        raise FileNotFoundError(f'Fashion-MNIST file missing: {osp.join(root, name)}[.gz]. {_INSTALL_HINT}')
    return found


def _read_copies(paths: tuple[str, ...], ndim: int) -> np.ndarray:
    """The array of an idx file held plain, gzip-compressed or both; both copies must hold the same array.

    Raises:
        ValueError: The two copies differ (a stale plain file beside a fresh download, or MNIST's files of the same
            names): the plain one used to be read and the other ignored, silently; the message names both.
    """
    arrays = [read_idx(path, ndim=ndim) for path in paths]
    if len(arrays) == 2 and not (arrays[0].shape == arrays[1].shape and np.array_equal(*arrays)):
        raise ValueError(f'{paths[0]} {arrays[0].shape} and {paths[1]} {arrays[1].shape} hold different data: '
                         'keep only the Fashion-MNIST one (a plain file and its .gz must be the same file)')
    return arrays[0]


@functools.lru_cache(maxsize=2)
def _load_part(root: str, part: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    del stamp  # only part of the cache key (the files' identities): a rewritten or replaced file is read again
    images_paths, labels_paths = (_files_in(root, name) for name in FILES[part])
    images, labels = _read_copies(images_paths, 3), _read_copies(labels_paths, 1)
    images_path, labels_path = images_paths[0], labels_paths[0]
    _check_images_shape(images_path, images.shape)
    if len(images) != len(labels):
        raise ValueError(f'{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels')
    if len(labels) and labels.max() >= len(FashionMNISTDataset.METAINFO['classes']):
        raise ValueError(f'{labels_path}: label {int(labels.max())} outside the '
                         f'{len(FashionMNISTDataset.METAINFO["classes"])} Fashion-MNIST classes')
    labels = labels.astype(np.int64)
    # every later call gets these very arrays (the cache): a caller writing into them (label noise added in place)
    # changed every FashionMNISTDataset built after it, silently; the images are read-only views of the bytes already
    labels.flags.writeable = False
    return images, labels


def load_fashion_mnist(data_root: str | None, part: str) -> tuple[np.ndarray, np.ndarray]:
    """The official ``'train'`` (60,000) or ``'test'`` (10,000) part: (N, 28, 28) uint8 images, int64 labels.

    Both arrays are read-only: they are kept for later calls (copy one to change it, ``labels.copy()``).

    A file present both plain and as ``.gz`` is read from both, which must hold the same data (``ValueError``
    naming both otherwise).
    """
    root = find_data_root(data_root)
    paths = [path for name in FILES[part] for path in _files_in(root, name)]
    # (a file replaced by another of the same size and mtime, cp -p or rsync -t, was served from the cache)
    stamp = tuple(file_identity(p) for p in paths)
    return _load_part(root, part, stamp)


#: ``id(images) -> (weak reference to images, digest)``: :func:`_images_digest`'s memo
_IMAGE_DIGESTS: dict[int, tuple[weakref.ref, str]] = {}


def _images_digest(images: np.ndarray) -> str:
    """:func:`~automl_mm.datasets.content.array_digest` of a part's (read-only, cached) images array, computed once
    per array in the process: the train and reward splits of one folder (one array: :func:`load_fashion_mnist`'s
    cache) hash it once."""
    from .content import array_digest

    held = _IMAGE_DIGESTS.get(id(images))
    if held is not None and held[0]() is images:
        return held[1]
    digest = array_digest(images)
    _IMAGE_DIGESTS[id(images)] = (weakref.ref(images, lambda _, key=id(images): _IMAGE_DIGESTS.pop(key, None)),
                                  digest)
    return digest


@DATASETS.register_module()
class FashionMNISTDataset(SingleLabelMixin, BaseDataset):
    """Fashion-MNIST split into seeded train / reward / test parts.

    The reward part is a seeded, stratified sample of ``reward_size`` images of the official training set, the
    train part is the rest of it, and the test part is the official test set (10,000 images). Images are the
    28x28 grey images repeated over three channels: uint8 HWC arrays, so every image transform applies.

    Args:
        split: ``'train'``, ``'reward'`` (held out for OHL rewards / NAS scoring) or ``'test'``.
        data_root: Folder holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``. ``None``: the first of
            ``data/fashion-mnist`` and ``/usr/share/datasets/fashion-mnist`` that holds them.
        reward_size: Number of official training images held out as the reward split; 0 holds none out (the train
            split is the whole training set, and ``split='reward'`` is refused).
        seed: Seed of the train / reward split and of the per-class subset, an int in ``[0, 2**32)`` (the subset is
            drawn from ``default_rng([seed, 1])``, which is ``default_rng(seed + 2**32)``: a larger seed would
            draw another seed's numbers, :func:`~automl_mm.utils.seeding.as_seed`).
        samples_per_class: Keep a seeded sample of this many images of each of the 10 classes (reduced-data
            runs), in any split (``'reward'`` and ``'test'`` too: a class-balanced reward subset); a class with
            fewer images in the split is refused. ``None`` keeps all.
        max_samples: Then keep only the first ``max_samples`` in index order (tiny tests and demos); ``None`` keeps
            all. Not class-balanced: the first 1,000 of the default reward split (the OHL configs' reward subset)
            hold 84 to 116 images of a class; ``samples_per_class`` gives equal counts.
        **kwargs: Passed to ``mmengine.dataset.BaseDataset`` (``pipeline``, ``test_mode``, ``indices``,
            ``metainfo``, ...); its ``ann_file``, ``data_prefix`` and ``filter_cfg`` are never read and are
            refused. ``metainfo=dict(classes=...)`` renames the 10 classes (label order) and must give 10 names.
            mmpretrain's ``with_label=True`` and ``download=False`` are taken (what it does anyway), other values
            refused.

    Raises:
        FileNotFoundError: The folder or one of its files is missing (the message names the path).
        ValueError: A file is not an idx file of unsigned bytes or is truncated, or the images file holds images
            other than 28 x 28 (the message names it and the shape found), a size argument does not fit the data
            (``reward_size`` not smaller than the training images: with ``lazy_init`` at :meth:`check_sources`, the
            runner's start check, which reads the files' headers), or (before any file is read) ``seed`` is
            outside ``[0, 2**32)``,
            ``reward_size`` is not a non-negative integer (``None`` included) or is 0 for ``split='reward'``,
            an unread ``BaseDataset`` key is given, or ``metainfo.classes`` does not give one name per class.

    Examples:
        >>> ds = FashionMNISTDataset(split='train', samples_per_class=20)  # doctest: +SKIP
        >>> len(ds), ds[0]['img'].shape, ds[0]['img'].dtype  # doctest: +SKIP
        (200, (28, 28, 3), dtype('uint8'))
    """

    METAINFO = {'classes': ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
                            'Bag', 'Ankle boot')}
    #: The arguments that decide which images each split holds, and the splits they do not change (the official
    #: test set; read by the config check of held-out splits, :mod:`automl_mm.engine.preflight_splits`).
    SPLIT_ARGS = ('reward_size', 'seed')
    FIXED_SPLITS = ('test', )

    #: the mmengine ``BaseDataset`` keys this dataset never reads and refuses (``refuse_unread_base_keys``);
    #: the config check reads it too (a missing ``ann_file`` is not looked for)
    UNREAD_BASE_KEYS: tuple[str, ...] = ('ann_file', 'data_prefix', 'filter_cfg')

    def __init__(self,
                 split: str = 'train',
                 data_root: str | None = None,
                 reward_size: int = 5000,
                 seed: int = 0,
                 samples_per_class: int | None = None,
                 max_samples: int | None = None,
                 **kwargs) -> None:
        take_mmpretrain_keys('FashionMNISTDataset', kwargs, ('with_label', 'download'))
        refuse_unread_base_keys('FashionMNISTDataset', kwargs, self.UNREAD_BASE_KEYS,
                                'reads the four idx files of data_root')
        self.split = check_split(split)
        counts = check_counts(samples_per_class=samples_per_class, max_samples=max_samples)
        refuse_zero('FashionMNISTDataset', samples_per_class=counts['samples_per_class'],
                    max_samples=counts['max_samples'])
        self.reward_size = check_reward_size('FashionMNISTDataset', reward_size, self.split)
        self.seed = check_seed(seed, 'FashionMNISTDataset.seed')
        self.samples_per_class = counts['samples_per_class']
        self.max_samples = counts['max_samples']
        try:
            data_root = find_data_root(data_root)
        except FileNotFoundError as err:  # a folder that is not there, or (None) no default location holds the set
            raise of_argument(err, 'data_root') from None
        kwargs['metainfo'] = metainfo_with_classes(type(self), kwargs.get('metainfo'),
                                                   f'Fashion-MNIST (the idx files of {data_root})')
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, **kwargs)

    @classmethod
    def split_source(cls, data_root: str | None) -> str | None:
        """The data the train / reward split of ``data_root`` is carved from, for the config checks of held-out
        splits (:mod:`automl_mm.engine.preflight_splits`, :mod:`automl_mm.engine.preflight_eval_splits`): a digest
        of the official training part found there, its images and labels
        (:func:`~automl_mm.datasets.content.array_digest`; ``None``: the default locations, as the dataset finds
        them). The split depends on nothing else besides its arguments, so ``data_root=None`` and the folder it
        resolves to, or two copies of the same files (plain or ``.gz``), are one source (compared as paths, a
        training split of ``seed=1`` beside a reward split of ``seed=0`` read from them shared images unchecked),
        and files of other images are another source whatever their labels (compared by the labels alone, a
        training set of other images with Fashion-MNIST's label order was taken for Fashion-MNIST: its splits were
        refused as overlapping, and a reward split of it was taken for the test loader's). Files of the same images
        under other labels are another source of the same images (:meth:`split_images`). ``None`` where no readable pair
        of training files is found (building the dataset then names the problem). Cost: the training part read
        and decoded once (kept for the dataset: :func:`load_fashion_mnist`) and one hash of its bytes."""
        from .content import array_digest

        try:
            images, labels = load_fashion_mnist(data_root, 'train')
        except (FileNotFoundError, ValueError):
            return None
        return array_digest(images, labels)

    @classmethod
    def split_images(cls, data_root: str | None) -> str | None:
        """The images the train / reward split of ``data_root`` is carved from, without their labels (a digest of
        the training images, :func:`~automl_mm.datasets.content.array_digest`), for the config check of held-out
        splits: two sources of other :meth:`split_source` and the same images (a copy of the files relabelled, e.g.
        with label noise written into them) carve their splits from other labels, so any two of their splits share
        images whatever their arguments. ``None`` as :meth:`split_source`. Cost: as :meth:`split_source` (the files
        are read once for both)."""
        from .content import array_digest

        try:
            images, _ = load_fashion_mnist(data_root, 'train')
        except (FileNotFoundError, ValueError):
            return None
        return array_digest(images)

    def item_source(self) -> str | None:
        """The images this split's ``source_idx`` indexes, for
        :func:`~automl_mm.engine.local_loader.item_identity`: a digest of the images of the official part it reads
        (training for ``'train'`` / ``'reward'``, test for ``'test'``; :func:`~automl_mm.datasets.content.array_digest`,
        so a copy of the files, plain or ``.gz``, is the same source), or ``None`` where they are unreadable. Cost:
        one hash of the part's bytes (60,000 images: about 0.05 s), once per images array in the process
        (:func:`_images_digest`): the array the dataset loaded is hashed, not the files read again (they were, each
        time the two-part cache of :func:`load_fashion_mnist` had let them go); a dataset not loaded yet reads
        them."""
        if getattr(self, '_item_source', None) is None:
            images = getattr(self, '_part_images', None)  # the array load_data_list read (read-only, shared)
            if images is None:
                try:
                    images, _ = load_fashion_mnist(self.data_root, 'test' if self.split == 'test' else 'train')
                except (FileNotFoundError, ValueError):
                    return None
            self._item_source = _images_digest(images)
        return self._item_source

    def __getstate__(self) -> dict:
        """The dataset without the part's images array :meth:`load_data_list` keeps for :meth:`item_source` (a
        dataloader worker started by spawn received the 47 MB part with every dataset); the digest, once computed,
        travels."""
        state = dict(self.__dict__)
        state.pop('_part_images', None)
        return state

    def _copy_without_annotation(self, memo: dict | None = None):
        """``get_subset``'s copy shares the part's read-only images array :meth:`load_data_list` keeps (it was
        deep-copied, 47 MB of the training part per subset, and hashed again by :meth:`item_source`)."""
        memo = {} if memo is None else memo
        images = getattr(self, '_part_images', None)
        if images is not None:
            memo[id(images)] = images
        return super()._copy_without_annotation(memo)

    def split_indices(self, labels: np.ndarray) -> np.ndarray:
        """Indices (into the official part) of this split, before the per-class subset and ``max_samples``."""
        if self.split == 'test':
            return np.arange(len(labels))
        if self.reward_size == 0:
            if self.split == 'reward':
                raise ValueError('split="reward" needs reward_size > 0')
            return np.arange(len(labels))
        self._refuse_reward_size(len(labels))
        frac = self.reward_size / len(labels)
        train, reward = stratified_split(labels, (1.0 - frac, frac), self.seed, exact_total=True)
        refuse_classes_without_training(labels, train, self.metainfo['classes'], 'reward_size', self.reward_size,
                                        self.data_root)
        return train if self.split == 'train' else reward

    def _refuse_reward_size(self, num_train: int) -> None:
        """``ValueError`` marked as a refusal of ``reward_size`` (:func:`~automl_mm.datasets.splits.of_argument`)
        where it does not leave a training image of the ``num_train`` official ones (split ``'test'`` reads none)."""
        if self.split != 'test' and self.reward_size >= num_train:
            raise of_argument(ValueError(
                f'reward_size={self.reward_size} must be smaller than the {num_train} training images of '
                f'{self.data_root} (it asks {self.reward_size} reward images of {num_train} available, leaving no '
                'training image)'), 'reward_size')

    def check_sources(self) -> None:
        """Check, reading their headers (and the training labels), what :meth:`load_data_list` reads (the start-up
        check of a dataset built with ``lazy_init``, :func:`~automl_mm.engine.preflight_loading.check_before_loading`):
        the idx files are in ``data_root`` (plain or ``.gz``), the images file holds 28 x 28 images, and
        ``reward_size`` leaves a training image, and one of each class
        (:func:`~automl_mm.datasets.splits.refuse_classes_without_training`).
        Cost: a few header bytes of each file, and the training labels file (60 KB) read and split when
        ``reward_size`` is set.

        Raises:
            FileNotFoundError: a file is missing, naming it, marked as a refusal of ``data_root``
                (:func:`~automl_mm.datasets.splits.of_argument`).
            ValueError: a file is not an idx file, or its images are not 28 x 28 (naming it and the shape found),
                marked as a refusal of ``data_root``; ``reward_size`` is not smaller than the number of training
                labels, naming both, or leaves a class no training image, naming it, marked as a refusal of
                ``reward_size``.
        """
        images_name, labels_name = FILES['test' if self.split == 'test' else 'train']
        try:
            images_paths, labels_paths = _files_in(self.data_root, images_name), _files_in(self.data_root, labels_name)
            for path in images_paths:
                _check_images_shape(path, read_idx_shape(path))
            num_labels = read_idx_shape(labels_paths[0])[0]
            labels = read_idx(labels_paths[0], 1) if self.split != 'test' and 0 < self.reward_size < num_labels \
                else None
        except (FileNotFoundError, ValueError) as err:
            raise of_argument(err, 'data_root') from None
        if self.reward_size > 0:
            self._refuse_reward_size(num_labels)
        if labels is not None:  # a split that takes every image of a class, refused as loading refuses it
            self.split_indices(labels)

    def load_data_list(self) -> list[dict]:
        images, labels = load_fashion_mnist(self.data_root, 'test' if self.split == 'test' else 'train')
        self._part_images = images  # item_source's images: the cache's read-only array, no copy
        indices = self.split_indices(labels)
        if self.samples_per_class is not None:
            # A seeded draw per class, independent of the train / reward split's permutation.
            indices = per_class_subset(indices, labels, self.samples_per_class, len(self.METAINFO['classes']),
                                       self.seed, self.split)
        if self.max_samples is not None:
            indices = indices[:self.max_samples]
        return [{'img': np.repeat(images[i][:, :, None], 3, axis=2), 'gt_label': int(labels[i]),
                 'source_idx': int(i)} for i in indices]

    def prepare_data(self, idx: int) -> dict:
        data = self.get_data_info(idx)
        # get_data_info deep-copies, so transforms may modify the image in place.
        data['img_shape'] = data['ori_shape'] = data['img'].shape[:2]
        return self.pipeline(data)
