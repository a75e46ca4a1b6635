"""ImageNet-style class folders (``root/<class>/<image>``) with an optional seeded reward split."""
from __future__ import annotations

import math
import os
import os.path as osp
from numbers import Real

from mmengine.dataset import BaseDataset

from automl_mm.registry import DATASETS
from automl_mm.utils.checks import as_flag

from .splits import (
    SingleLabelMixin,
    check_seed,
    class_names,
    file_keys,
    of_argument,
    refuse_classes_without_training,
    refuse_unread_base_keys,
    stratified_split,
    take_mmpretrain_keys,
)

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


def _layout_hint(root: str) -> str:
    """Where the images of a missing or empty class-folder directory ``root`` come from, in the words of the CIFAR-10
    message (:func:`automl_mm.datasets.cifar.read_cifar_batch`)."""
    name = osp.basename(osp.normpath(root)) or root
    return (f'It must hold one sub-folder per class with its images, {name}/<class>/<image> (a label is the position '
            f'of its folder in the sorted names). Nothing is downloaded: for ImageNet, extract the ILSVRC2012 train '
            f'and val images into data/imagenet/train/<wnid>/ and data/imagenet/val/<wnid>/ (val in class folders '
            f'too) from the repository root, which gives the configs\' data_root, data/imagenet, or set data_root to '
            f'where they are.')


def class_folders(root: str) -> list[str]:
    """The sorted class-folder names of the directory ``root``, as :class:`ImageFolderDataset` labels them (a label
    is the position of its folder here): every sub-folder, a symlink to a folder and an empty folder included, but
    hidden ones (``.ipynb_checkpoints``, ``.cache``: counted, they shifted every later label). ``root`` must be a
    directory. Also read by the config check of the heads' ``num_classes`` (``automl_mm.engine.preflight``)."""
    return sorted(d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith('.'))


def _count_images(folder: str, enough: int = 1) -> int:
    """How many images under ``folder`` a walk finds, up to ``enough`` (hidden entries skipped, links not followed:
    at most what :func:`_image_files` lists, which follows them); the walk stops at the ``enough``-th."""
    found = 0
    for _, dirs, files in os.walk(folder, onerror=_unreadable):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        found += sum(1 for f in files if not f.startswith('.') and f.lower().endswith(IMG_EXTENSIONS))
        if found >= enough:
            return enough
    return found


def _split_fits(ratio: float, num_classes: int) -> int:
    """The number of images in each of ``num_classes`` classes from which a ``reward_ratio`` of ``ratio`` surely
    leaves every class a training image and the reward split an image (:func:`~automl_mm.datasets.splits.
    stratified_split` gives a class of ``n`` images the floor or the ceiling of ``n * ratio`` reward images, and the
    reward split the rounding of ``ratio`` times all the images): ``n * (1 - ratio) > 1`` and ``n * num_classes *
    ratio >= 1``, with a margin for the rounding of floats."""
    per_class = math.floor((1 + 1e-6) / (1 - ratio)) + 1
    return max(per_class, math.ceil((1 + 1e-6) / (ratio * max(num_classes, 1))), 1)


def _contains(folder: str, *paths: str) -> bool:
    """Whether the real path ``folder`` is one of ``paths`` (real paths) or a folder above one of them."""
    return any(path == folder or path.startswith(folder.rstrip(os.sep) + os.sep) for path in paths)


def _unreadable(err: OSError) -> None:
    """``os.walk``'s ``onerror``: a folder that cannot be listed stops the listing, naming it. ``os.walk`` skips it
    by default (as torchvision's ``ImageFolder`` does): a sub-folder without read permission, or one lost to a
    stale network mount, left its images out of the class without a word."""
    raise OSError(err.errno, f'cannot list the image folder {err.filename} ({err.strerror}): its images would be '
                  'left out of the data set; fix its permissions or remove it', err.filename) from err


def _image_files(folder: str, with_real: bool = False) -> list:
    """The image files (by :data:`IMG_EXTENSIONS`, any case) under ``folder`` and its sub-folders, sorted by
    folder and then name; symlinked folders are followed (as torchvision's ``ImageFolder`` does; skipped, their
    images were lost); a folder that cannot be listed raises ``OSError`` naming it. Hidden files and folders are
    skipped, as :func:`class_folders` skips hidden class folders:
    macOS's ``._<name>.JPG`` AppleDouble files (in folders copied or unzipped from a Mac) were listed as images
    and stopped the run at their first read, mid-epoch, with mmcv's "failed to load image"; a
    ``.ipynb_checkpoints`` or ``.thumbnails`` folder added copies of images to the class. A symlinked folder that
    leads back to a folder it is in, to any folder walked down to it, or to the class folder or above it, is not
    followed: ``cat/up -> ..`` made ``cat`` 81 images out of 2 (its own image 41 times, and the ``dog`` class's
    image 40 times labelled ``cat``), until the paths grew too long to resolve; a loop of two linked folders outside
    the class folder did the same. An image reached through two paths of linked folders (``cat/more -> sub``
    beside ``cat/sub``) is listed once, under the first path in this order: as two items (until the forty-sixth
    session), the seeded split by path (:func:`~automl_mm.datasets.splits.file_keys`) dealt them apart, so the
    reward split held images training read (20 images in ``cat/sub`` and in ``dog``, ``reward_ratio=0.2``, seed 0:
    8 of the 12 reward images were trained on). ``with_real``: ``(path, real path)`` pairs, the real path of the
    file's folder (links resolved; a linked file itself is not resolved: a ``stat`` per image) joined with its
    name."""
    # the real paths of the folders walked down to each folder (the class folder first): a link is checked against
    # all of them, not only the folder it is in and the class folder (cat/x -> x1, x1/y -> x2, x2/z -> x1 went
    # cat/x/y/z/y/z/... and listed x1's and x2's images 20 times each)
    chains = {folder: (osp.realpath(folder), )}
    found = []
    for dirpath, dirs, files in os.walk(folder, followlinks=True, onerror=_unreadable):
        chain = chains.pop(dirpath)
        reals = {d: osp.realpath(osp.join(dirpath, d)) for d in dirs if not d.startswith('.')}
        # pruned in place: os.walk then skips them
        dirs[:] = [d for d, real in reals.items() if not _contains(real, *chain)]
        chains.update((osp.join(dirpath, d), chain + (reals[d], )) for d in dirs)
        found.extend((dirpath, name, osp.join(chain[-1], name)) for name in files
                     if not name.startswith('.') and name.lower().endswith(IMG_EXTENSIONS))
    found.sort()
    # an image reached again through a linked folder (cat/more -> sub beside cat/sub) is listed once, under its
    # first path: as two items, the split by path dealt its copies apart (reward images trained on)
    first: set[str] = set()
    found = [f for f in found if not (f[2] in first or first.add(f[2]))]
    if with_real:
        return [(osp.join(dirpath, name), real) for dirpath, name, real in found]
    return [osp.join(dirpath, name) for dirpath, name, _ in found]


def _refuse_two_classes(listed: list[tuple[str, str, str]], root: str) -> None:
    """``ValueError`` naming the first image that ``listed`` (``(class, path, real path)`` of each item) holds in
    two classes: a class folder linking into another's (``cat/dogs -> ../dog``) gave its images both labels, two
    items of contradictory classes (and the split by path could deal one to the reward split, the other to
    training), silently. Cost: a dict of the real paths (no file system call)."""
    seen: dict[str, tuple[str, str]] = {}
    for cls, path, real in listed:
        first = seen.setdefault(real, (cls, path))
        if first[0] != cls:
            raise ValueError(f'{root}: the image {real} is in two classes, {first[0]} (as {first[1]}) and {cls} (as '
                             f'{path}), through a linked folder: it would be two items of contradictory labels. '
                             'Remove the link')


@DATASETS.register_module()
class ImageFolderDataset(SingleLabelMixin, BaseDataset):
    """Images in one folder per class; labels follow the sorted class-folder names.

    Items carry ``img_path``; put ``dict(type='mmcv.LoadImageFromFile')`` first in the pipeline. A class's images
    are the files with an image extension (:data:`IMG_EXTENSIONS`, any case) in its folder and its sub-folders;
    hidden files and folders (``._x.JPG``, ``.ipynb_checkpoints``) are skipped.

    Args:
        data_root: Data root, e.g. ``data/imagenet``.
        data_prefix: ``dict(img_path='train')``: the class-folder directory under ``data_root``; a string
            (``'train'``, mmpretrain's ``CustomDataset`` form) is read as ``dict(img_path='train')``.
        split: ``'all'`` (every image), or ``'train'`` / ``'reward'`` to carve a held-out reward part.
        reward_ratio: Fraction of images in the reward part when ``split`` is ``'train'`` or ``'reward'``.
        allow_empty: Accept class folders without any image (a label no image has), as torchvision's
            ``ImageFolder(allow_empty=True)``; by default they are refused, as torchvision refuses them.
        seed: Seed of the train/reward split. The split is stratified (each class's share of the reward part is
            its share of the images, rounded; the total is ``reward_ratio`` of all images, rounded) and cut in
            the order of a seeded hash of each file's path under the folder
            (:func:`~automl_mm.datasets.splits.file_keys`): adding or removing images moves at most the images
            at the cuts they shift, not the whole split.
        **kwargs: Passed to ``mmengine.dataset.BaseDataset``; its ``ann_file`` and ``filter_cfg`` are never read
            and are refused. mmpretrain's ``with_label=True`` and ``extensions`` naming :data:`IMG_EXTENSIONS` are
            taken (what it does anyway), other values refused.

    For ImageNet use ``data_prefix=dict(img_path='train')`` and ``'val'``, with ``val`` arranged in class
    folders as well (the usual ``valprep`` layout). A label is the position of its folder among the sorted
    class folders (hidden folders skipped), so val must hold the same class folders as train: give both the same
    ``metainfo=dict(classes=...)`` to have a folder set that differs refused when the dataset is built
    (``tools/train.py``'s config check refuses a val / test / reward folder set that differs from the training
    loader's at start: :mod:`automl_mm.engine.preflight_loader_classes`). Given
    names are checked against the folders when the dataset is built, ``lazy_init`` or not, and ``metainfo['classes']``
    holds the class names from then on (with ``lazy_init`` only the folder names are listed, not the images).
    Give a val / test dataset ``test_mode=True`` (``configs/_base_/datasets/imagenet.py`` does): its ``split='all'``
    is a training folder's too, so an item whose pipeline gives ``None`` is refused only in ``test_mode``; outside
    it mmengine reads a random other image in its place (``reward`` items are refused in either mode). The start
    check refuses a val / test (or other scored) loader outside ``test_mode`` whose pipeline can give ``None``, as
    ``LoadImageFromFile(ignore_empty=True)`` does
    (:func:`~automl_mm.engine.preflight_splits.check_replaced_evaluation_items`); mmpretrain's form, no
    ``test_mode`` and a plain ``LoadImageFromFile`` (which raises on an unreadable image), passes.

    Raises:
        FileNotFoundError: The class-folder directory is missing or has no class folders (the message says the
            layout, ``<img_path>/<class>/<image>``, and that nothing is downloaded) or no images, or (unless
            ``allow_empty``) a class folder holds no image (the message names the folders and the extensions).
        ValueError: An argument is out of range, or ``metainfo.classes`` is not the sorted class-folder names
            (the message names the key, both counts and the names that differ), or (when the images are listed,
            ``split`` ``'train'`` / ``'reward'``) the reward split takes every image of a class, which would keep its
            label and no training image (the message names ``reward_ratio`` and the classes).
    """

    #: The arguments that decide which images the train / reward splits hold (``'all'`` holds both; read by the
    #: config check of held-out splits, :mod:`automl_mm.engine.preflight_splits`).
    SPLIT_ARGS = ('reward_ratio', 'seed')
    FIXED_SPLITS: tuple[str, ...] = ()

    #: the mmengine ``BaseDataset`` keys this dataset never reads and refuses (``refuse_unread_base_keys``);
    #: the config check reads it too (a missing ``ann_file`` is not looked for)
    UNREAD_BASE_KEYS: tuple[str, ...] = ('ann_file', 'filter_cfg')

    def __init__(self, data_root: str, data_prefix: dict | None = None, split: str = 'all',
                 reward_ratio: float = 0.02, seed: int = 0, allow_empty: bool = False, **kwargs) -> None:
        take_mmpretrain_keys('ImageFolderDataset', kwargs, ('with_label', 'extensions'), IMG_EXTENSIONS)
        refuse_unread_base_keys('ImageFolderDataset', kwargs, self.UNREAD_BASE_KEYS,
                                'lists the class folders under data_root + data_prefix.img_path')
        if isinstance(data_prefix, (str, os.PathLike)):
            # mmpretrain's CustomDataset form, data_prefix='train' for dict(img_path='train'): a string's letters
            # were taken for keys ("reads only data_prefix.img_path ...: remove a, i, n, r, t")
            data_prefix = dict(img_path=os.fspath(data_prefix))
        elif data_prefix is not None and not isinstance(data_prefix, dict):
            raise ValueError(f'ImageFolderDataset.data_prefix must be dict(img_path=<the class-folder directory under '
                             f'data_root>) or that directory as a string, got {data_prefix!r}')
        if data_prefix is not None and set(data_prefix) - {'img_path'}:
            # only img_path is read: data_prefix=dict(img_path='train', img='val') read train, silently
            raise ValueError(f'ImageFolderDataset reads only data_prefix.img_path, got data_prefix={data_prefix!r}: '
                             f'remove {", ".join(sorted(set(data_prefix) - {"img_path"}))}')
        if split not in ('all', 'train', 'reward'):
            raise ValueError(f"split must be 'all', 'train' or 'reward', got {split!r}")
        if split != 'all' and (isinstance(reward_ratio, bool) or not isinstance(reward_ratio, Real)
                               or not 0.0 < reward_ratio < 1.0):  # '0.1' failed in the comparison, unnamed
            raise ValueError(f'ImageFolderDataset.reward_ratio must be a number in (0, 1), got {reward_ratio!r}')
        self.split = split
        self.reward_ratio = reward_ratio
        self.seed = check_seed(seed, 'ImageFolderDataset.seed')
        self.allow_empty = as_flag(allow_empty, 'ImageFolderDataset.allow_empty')
        super().__init__(data_root=data_root, data_prefix=data_prefix or dict(img_path=''), **kwargs)
        if not self._fully_initialized and osp.isdir(self.data_prefix['img_path']):
            # lazy_init (the preflight build): given names are checked now all the same, and the folder names are
            # the classes from the start (without them metainfo had no classes until full_init: NoisyLabelDataset
            # refused the dataset, mmengine's ConcatDataset a part built without lazy_init beside it)
            self._class_folders()

    def _class_folders(self) -> list[str]:
        """The sorted class-folder names of ``data_root + data_prefix.img_path``, checked against (or set as)
        ``metainfo.classes``."""
        root = self.data_prefix['img_path']
        # the key to fix: data_root where that folder is not there, else data_prefix.img_path
        argument = 'data_root' if self.data_root and not osp.isdir(self.data_root) else 'data_prefix.img_path'
        if not osp.isdir(root):
            raise of_argument(FileNotFoundError(f'image folder not found: {root} (data_root + data_prefix.img_path). '
                                                f'{_layout_hint(root)}'), argument)
        classes = class_folders(root)
        if not classes:
            raise of_argument(FileNotFoundError(f'{root} has no class sub-folders. {_layout_hint(root)}'), argument)
        if self._metainfo.get('classes') is None:
            self._metainfo['classes'] = tuple(classes)
            return classes
        given = class_names(self._metainfo['classes'], 'ImageFolderDataset: metainfo.classes')
        if given != tuple(classes):
            missing = [c for c in classes if c not in given]
            extra = [c for c in given if c not in classes]
            differ = (f'; not among the folders: {", ".join(extra[:5])}' if extra else '') + \
                (f'; folders not named: {", ".join(missing[:5])}' if missing else '') or \
                '; the same names in another order (labels follow the sorted folder names)'
            raise ValueError(f'ImageFolderDataset: metainfo.classes gives {len(given)} class names, but {root} has '
                             f'{len(classes)} class folders{differ}: give the sorted folder names or leave '
                             'metainfo.classes out')
        # a tuple as without the names (a config list beside a part without them: ConcatDataset refused the type)
        self._metainfo['classes'] = given
        return classes

    def check_sources(self) -> None:
        """Check, without listing every image, what :meth:`load_data_list` will read (the start-up check of a
        dataset built with ``lazy_init``, :func:`~automl_mm.engine.preflight_loading.check_before_loading`): the
        class-folder directory exists and has class folders (named as ``metainfo.classes`` gives them), each class
        folder holds an image (unless ``allow_empty``), and (``split`` ``'train'`` / ``'reward'``) ``reward_ratio``
        leaves every class a training image and the reward split an image: refused here, as loading refuses them
        (until the fifty-eighth session only loading did, when the runner first listed the images). Cost: the class
        folders listed, and each walked until its first image, or for a split until the few images from which no
        split can take the whole class (:func:`_split_fits`: 2 below a ``reward_ratio`` of 0.5, 6 at 0.8); where
        a class has fewer, every class folder is listed and split, as loading does.

        Raises:
            FileNotFoundError: as :meth:`load_data_list`: the directory is missing, has no class folders, or (unless
                ``allow_empty``) a class folder holds no image, naming the folder.
            ValueError: ``metainfo.classes`` other than the folder names; as :meth:`load_data_list`, a
                ``reward_ratio`` that leaves no reward image, or a class no training image (naming the classes,
                marked as a refusal of ``reward_ratio``: :func:`~automl_mm.datasets.splits.of_argument`).
        """
        root = self.data_prefix['img_path']
        classes = self._class_folders()
        enough = 1 if self.split == 'all' else _split_fits(self.reward_ratio, len(classes))
        walked = [_count_images(osp.join(root, cls), enough) for cls in classes]
        if self.split != 'all' and any(count < enough for count in walked):
            # a class the reward split could take whole, or too few images for a reward image: listed and split
            # as loading lists and splits them, refusing what that refuses
            self._split(self._listed_items(root, classes), root, classes)
            return
        # a class folder the walk found no image in: its full listing decides (an image reached only through a
        # linked folder)
        empty = [cls for cls, count in zip(classes, walked) if not count and not _image_files(osp.join(root, cls))]
        if len(empty) == len(classes):
            raise FileNotFoundError(f'no images with extensions {IMG_EXTENSIONS} under {root}')
        if empty and not self.allow_empty:
            raise FileNotFoundError(
                f'{root}: no image in the class folder{"s" if len(empty) > 1 else ""} {", ".join(empty[:5])}'
                f'{" ..." if len(empty) > 5 else ""} ({len(empty)} of {len(classes)}): add their images, remove the '
                'folders, or pass allow_empty=True to keep them as labels without images')

    @staticmethod
    def _listing(folder: str) -> set[str]:
        """The paths under ``folder`` of the images the dataset lists there."""
        return {osp.relpath(path, folder)
                for name in class_folders(folder) for path in _image_files(osp.join(folder, name))}

    @classmethod
    def shares_images(cls, first: str | None, second: str | None) -> bool:
        """Whether the class-folder directories ``first`` and ``second`` (``data_root`` joined with
        ``data_prefix.img_path``, resolved) hold the same images, for the config checks of held-out and test
        splits (:mod:`automl_mm.engine.preflight_splits`, :mod:`automl_mm.engine.preflight_eval_splits`): a copy of
        one under another root, whole or in part (images added or removed since), judged by content. Compared as
        paths, a training split of ``seed=1`` beside a reward split of ``seed=0`` read from the copy shared images
        unchecked, as did a reward loader of ``split='all'`` on it.

        The images both list under one path (which gives an image's class and its place in the split) are
        compared, a sample of 32 (:func:`~automl_mm.datasets.content.same_files`: sizes, then bytes), and the
        folders share images when at least half of those are equal. A folder of other images of the same names
        shares none; copies renamed are not found. ``False`` where either is not a folder (building the dataset
        names the problem).

        Cost: the folder listings the datasets make anyway, and up to 32 pairs of files compared (two ``stat``
        calls, and both read where their sizes are equal)."""
        from .content import same_files

        if not all(isinstance(f, str) and osp.isdir(f) for f in (first, second)):
            return False
        if osp.realpath(first) == osp.realpath(second):
            return True
        return same_files(first, second, list(cls._listing(first) & cls._listing(second)))

    def _listed_items(self, root: str, classes: list[str]) -> list[dict]:
        """Every image of the class folders ``classes`` of ``root``, ``{'img_path', 'gt_label'}`` in label and path
        order, refusing an image in two classes, a folder of no image, and (unless ``allow_empty``) a class folder
        of no image."""
        items, empty = [], []
        listed = []
        for label, cls in enumerate(classes):
            found = _image_files(osp.join(root, cls), with_real=True)
            items.extend({'img_path': path, 'gt_label': label} for path, _ in found)
            listed.extend((cls, path, real) for path, real in found)
            if not found:
                empty.append(cls)
        _refuse_two_classes(listed, root)
        if not items:
            raise FileNotFoundError(f'no images with extensions {IMG_EXTENSIONS} under {root}')
        if empty and not self.allow_empty:
            # a class folder of no image (all .gif / .heic, an extraction that failed, a Mac's __MACOSX of ._ files)
            # took a label and the run went on, its head never shown that class; torchvision's ImageFolder refuses it
            raise FileNotFoundError(
                f'{root}: no image in the class folder{"s" if len(empty) > 1 else ""} {", ".join(empty[:5])}'
                f'{" ..." if len(empty) > 5 else ""} ({len(empty)} of {len(classes)}; image extensions, any case: '
                f'{", ".join(IMG_EXTENSIONS)}; hidden files skipped): add their images, remove the folders, or pass '
                'allow_empty=True to keep them as labels without images')
        return items

    def _split(self, items: list[dict], root: str, classes: list[str]) -> list:
        """``(train, reward)`` index arrays into ``items`` (``split`` ``'train'`` / ``'reward'``), refusing a
        ``reward_ratio`` that leaves no reward image or a class no training image."""
        # exact_total: rounding per class sent every tie to train (10 classes x 30 images at 0.05: 10 reward
        # images, not 15; at 0.02 of 20 per class, none)
        # keys: a permutation of each class's count re-dealt the whole split when one image was added to or
        # removed from the folder (a resumed run trained on ~98 % of the reward images it had been rewarded on)
        keys = file_keys([osp.relpath(it['img_path'], root) for it in items], self.seed)
        train, reward = stratified_split([it['gt_label'] for it in items],
                                         (1.0 - self.reward_ratio, self.reward_ratio), self.seed,
                                         exact_total=True, keys=keys)
        if not len(reward):
            raise ValueError(f'reward_ratio={self.reward_ratio} of the {len(items)} images under {root} '
                             'leaves no reward image: raise reward_ratio')
        # a class whose every image the reward split takes (a 1-image class at 0.75) kept its label and no
        # training image, silently
        refuse_classes_without_training([it['gt_label'] for it in items], train, classes, 'reward_ratio',
                                        self.reward_ratio, root)
        return [train, reward]

    def load_data_list(self) -> list[dict]:
        root = self.data_prefix['img_path']
        classes = self._class_folders()
        items = self._listed_items(root, classes)
        if self.split != 'all':
            train, reward = self._split(items, root, classes)
            items = [items[i] for i in (train if self.split == 'train' else reward)]
        return items
