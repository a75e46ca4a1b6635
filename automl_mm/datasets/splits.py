"""Seeded, stratified splits of a labelled set into train / reward / test parts."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from automl_mm.utils.seeding import as_seed

SPLITS = ('train', 'reward', 'test')


def check_seed(seed: Any, key: str) -> int:
    """``seed`` as an int; ``None`` (fresh OS entropy) is refused: a split or a label noise must be the same in
    every build and every process (with ``None`` the train and reward splits of one config overlapped by 4,587
    Fashion-MNIST images, and each rank flipped other labels); so are negative and fractional seeds
    (:func:`~automl_mm.utils.seeding.as_seed`)."""
    if seed is None:
        raise ValueError(f'{key} must be a non-negative int (the split or noise must be the same in every process '
                         f'and build), got None')
    return as_seed(seed, key)


def stratified_split(labels: Sequence[int], sizes: Sequence[float], seed: int, *,
                     exact_total: bool = False, keys: Sequence[Any] | None = None) -> list[np.ndarray]:
    """Split indices into parts whose class proportions follow ``labels``.

    Each class is cut by largest-remainder rounding of ``sizes`` times its count, so its parts sum to its count.
    The parts' totals can then miss ``sizes`` times the whole count by up to one per class (ties go to the first
    part: 10 classes asked for 5 reward items give 0). With ``exact_total`` the totals are the largest-remainder
    rounding of ``sizes`` times the whole count (a requested number of items is met exactly) and each class's part
    is still its proportional count rounded down or up; where the per-class rounding already meets those totals
    the parts are the same as without it.

    Args:
        labels: Class label of every item.
        sizes: Fraction of the items in each part; must be positive and sum to 1.
        seed: Seed of the permutation; the same seed always gives the same parts.
        exact_total: Make the parts' sizes the rounding of ``sizes`` times the number of items (see above).
        keys: A sort key per item (e.g. a seeded hash of its file name, :func:`file_keys`): each class's items are
            cut in the order of their keys instead of in a seeded permutation (``seed`` is then not read). Adding
            or removing an item then moves at most the items at the cuts it shifts (one per class and cut), where a
            permutation of another count re-dealt every class.

    Returns:
        One sorted index array per part. Every index is in exactly one part.

    Examples:
        >>> parts = stratified_split([0, 0, 1, 1, 0, 1], (0.5, 0.5), seed=0)
        >>> sorted(np.concatenate(parts).tolist())
        [0, 1, 2, 3, 4, 5]
        >>> [len(p) for p in stratified_split(np.repeat(np.arange(10), 100), (0.995, 0.005), 0)]
        [1000, 0]
        >>> [len(p) for p in stratified_split(np.repeat(np.arange(10), 100), (0.995, 0.005), 0, exact_total=True)]
        [995, 5]
    """
    sizes = check_fractions(sizes, 'split sizes')
    labels = np.asarray(labels)
    rng = np.random.default_rng(check_seed(seed, 'seed'))
    classes = np.unique(labels)
    if keys is None:
        members = [rng.permutation(np.flatnonzero(labels == cls)) for cls in classes]
    else:
        if len(keys) != len(labels):
            raise ValueError(f'stratified_split: {len(keys)} keys for {len(labels)} labels')
        members = [np.array(sorted(np.flatnonzero(labels == cls), key=lambda i: keys[i]), dtype=int)
                   for cls in classes]
    counts = np.stack([_largest_remainder(sizes * len(idx)) for idx in members]) if members else \
        np.zeros((0, len(sizes)), int)
    if exact_total and members:
        targets = _largest_remainder(sizes * len(labels))
        if not np.array_equal(counts.sum(0), targets):
            counts = _rounding_with_totals(np.outer([len(idx) for idx in members], sizes), targets)
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for idx, row in zip(members, counts):
        bounds = np.concatenate([[0], np.cumsum(row)])
        for p in range(len(sizes)):
            parts[p].append(idx[bounds[p]:bounds[p + 1]])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, int) for p in parts]


def file_keys(paths: Sequence[str], seed: int) -> list[bytes]:
    """A seeded sort key per file name for :func:`stratified_split` (``keys``): the BLAKE2b digest (8 bytes) of
    ``seed`` and the name. A name's key depends on nothing else, so the same files always split alike, and a file
    added to or removed from a folder leaves the other files' order as it was. Give names relative to the data
    root, so that a moved root splits alike."""
    import hashlib

    prefix = f'{check_seed(seed, "seed")}\0'.encode()
    return [hashlib.blake2b(prefix + path.encode('utf-8', 'surrogateescape'), digest_size=8).digest()
            for path in paths]


def check_fractions(sizes: Any, key: str, parts: int | None = None) -> np.ndarray:
    """``sizes`` as a float64 array of positive fractions summing to 1 (``parts`` of them unless ``None``), or
    ``ValueError`` starting with ``key`` (a string such as ``'abc'``, ``None`` or a list with a string in it failed
    in numpy without naming the key)."""
    try:
        if isinstance(sizes, (str, bytes)) or any(isinstance(v, (str, bytes, bool)) for v in sizes):
            raise TypeError
        array = np.asarray(sizes, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1 or (parts is not None and len(array) != parts) or \
            not np.isfinite(array).all() or (array <= 0).any() or not np.isclose(array.sum(), 1.0):
        count = '' if parts is None else f'{parts} '
        raise ValueError(f'{key} must be {count}positive fractions summing to 1, got {sizes!r}')
    return array


def _largest_remainder(exact: np.ndarray) -> np.ndarray:
    """Round non-negative ``exact`` (summing to an integer) to integers with the same sum: floors, then one more
    for the largest remainders (ties to the first)."""
    counts = np.floor(exact).astype(int)
    for j in np.argsort(-(exact - counts), kind='stable')[:int(round(exact.sum())) - counts.sum()]:
        counts[j] += 1
    return counts


def _rounding_with_totals(exact: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round the (classes x parts) matrix ``exact`` to integers whose row sums are the rows' (integer) sums and
    whose column sums are ``totals``, every entry its floor or its ceiling: the largest remainders first, then
    augmenting paths (one more here, one less there, as in bipartite matching) where that greedy pass got stuck."""
    floors = np.floor(exact).astype(int)
    can_add = (exact - floors) > 1e-9
    added = np.zeros(exact.shape, bool)
    row_left = np.rint(exact.sum(1)).astype(int) - floors.sum(1)
    col_left = np.asarray(totals, int) - floors.sum(0)
    for k in np.argsort(-(exact - floors).ravel(), kind='stable'):
        c, j = divmod(int(k), exact.shape[1])
        if row_left[c] > 0 and col_left[j] > 0 and can_add[c, j]:
            added[c, j] = True
            row_left[c] -= 1
            col_left[j] -= 1
    while row_left.any():
        # breadth-first from the rows still short: row -> part by adding a unit, part -> row by moving one back
        parent: dict = {('r', int(c)): None for c in np.flatnonzero(row_left > 0)}
        queue, end = list(parent), None
        while queue and end is None:
            node = queue.pop(0)
            if node[0] == 'r':
                for j in np.flatnonzero(can_add[node[1]] & ~added[node[1]]):
                    nxt = ('p', int(j))
                    if nxt not in parent:
                        parent[nxt] = node
                        if col_left[j] > 0:
                            end = nxt
                            break
                        queue.append(nxt)
            else:
                for c in np.flatnonzero(added[:, node[1]]):
                    nxt = ('r', int(c))
                    if nxt not in parent:
                        parent[nxt] = node
                        queue.append(nxt)
        if end is None:
            raise ValueError('stratified_split: no rounding of the class counts meets the part sizes')
        col_left[end[1]] -= 1
        node = end
        while parent[node] is not None:
            prev = parent[node]
            if node[0] == 'p':  # row prev -> part node: add
                added[prev[1], node[1]] = True
            else:  # part prev -> row node: take back
                added[node[1], prev[1]] = False
            node = prev
        row_left[node[1]] -= 1
    return floors + added


class SingleLabelMixin:
    """``get_cat_ids`` of a dataset with one ``gt_label`` per item, for mmengine's ``BaseDataset`` (subsets that
    share nothing with each other come from the mmengine patch for every ``BaseDataset``,
    :func:`automl_mm.engine.dataset_copy.copying_with_own_memo`).

    mmengine's ``ClassBalancedDataset`` (and mmdet's ``ClassAwareSampler``) read the classes of every item through
    ``get_cat_ids``, which ``BaseDataset`` leaves unimplemented: wrapping a dataset here in it failed with
    ``NotImplementedError``. mmpretrain's ``BaseDataset`` implements it the same way.
    """

    def get_cat_ids(self, idx: int) -> list[int]:
        """The class of item ``idx`` as a one-element list ``[gt_label]`` (after ``indices`` and any label noise
        written into the data list)."""
        return [int(self.get_data_info(idx)['gt_label'])]  # type: ignore[attr-defined]

    def __getitem__(self, idx: int) -> dict:
        """``BaseDataset.__getitem__``, except that an item of a held-out split (``split`` ``'reward'`` or
        ``'test'``) whose pipeline gives ``None`` (mmcv's ``LoadImageFromFile(ignore_empty=True)`` on an unreadable
        file, a filtering transform) is refused: outside ``test_mode`` mmengine reads a random other item in its
        place (``max_refetch`` times), so a reward / search score or a test accuracy took another image at that
        position, one image twice, silently.

        Raises:
            ValueError: naming the dataset, split, index and image (``img_path`` or ``source_idx``).
        """
        if getattr(self, 'split', None) not in ('reward', 'test') or self.test_mode:  # type: ignore[attr-defined]
            return super().__getitem__(idx)  # type: ignore[misc]
        if not self._fully_initialized:  # type: ignore[attr-defined]
            self.full_init()  # type: ignore[attr-defined]
        data = self.prepare_data(idx)  # type: ignore[attr-defined]
        if data is None:
            info = self.get_data_info(idx)  # type: ignore[attr-defined]
            name = next((f'{k}={info[k]!r}' for k in ('img_path', 'source_idx') if k in info), 'its data info')
            raise ValueError(f'{type(self).__name__} (split={self.split!r}): the pipeline gave None for item {idx} '
                             f'({name}); a held-out split is read whole, each item once, and mmengine would read a '
                             'random other item in its place: fix the image or the transform that drops it')
        return data


def check_counts(**counts: object) -> dict[str, int | None]:
    """Each count as an ``int`` (``None`` kept), or ``ValueError`` naming the argument unless it is ``None`` or a
    non-negative whole number (a negative ``max_samples`` would slice ``indices[:-k]`` and silently drop the last k).
    Use the returned values: a whole float such as ``50.0`` passes the check but cannot slice or count."""
    for key, value in counts.items():
        # NaN and inf are checked before int(), which raised its own error naming no key for them
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.integer))
                                  or (isinstance(value, float) and not np.isfinite(value))
                                  or int(value) != value or value < 0):
            raise ValueError(f'{key} must be a non-negative integer, got {value!r}')
    return {key: None if value is None else int(value) for key, value in counts.items()}


def check_reward_size(owner: str, reward_size: object, split: str) -> int:
    """``reward_size`` (the official training images held out as the reward split) as an ``int``, checked when the
    dataset is built (with ``lazy_init`` too, as the start-up check builds it), not first when it loads.

    ``None`` is refused (it is "keep all" for ``max_samples``, and here it passed :func:`check_counts` to fail at
    loading in a comparison naming nothing: "'>=' not supported between instances of 'NoneType' and 'int'"), and so
    is ``0`` for ``split='reward'`` (0 holds nothing out: the train split is the whole training set).

    Raises:
        ValueError: naming ``owner.reward_size`` for ``None``; ``reward_size`` for a negative or fractional count
            (:func:`check_counts`); ``owner`` and ``split="reward"`` for 0 on the reward split.
    """
    if reward_size is None:
        raise ValueError(f'{owner}.reward_size must be a non-negative integer (0: no reward split), got None')
    reward_size = check_counts(reward_size=reward_size)['reward_size']
    if split == 'reward' and reward_size == 0:
        # 0 used to give a reward split of the whole training set (CIFAR-10), or (Fashion-MNIST, lazily built)
        # failed only when the runner loaded it
        raise ValueError(f'{owner}: split="reward" needs reward_size > 0 (0 holds no training image out)')
    return reward_size


def per_class_subset(indices: np.ndarray, labels: np.ndarray, samples_per_class: int, num_classes: int,
                     seed: int, split: str) -> np.ndarray:
    """A seeded sample of ``samples_per_class`` of ``indices`` of each of the ``num_classes`` classes (a
    class-balanced subset of a split), drawn from ``default_rng([seed, 1])``, independent of the split's own
    permutation. Every class is asked, also one the split has no image of (a 5-image reward split asked for 1 per
    class gave 5 images of classes 5..9 and no word about classes 0..4).

    Args:
        indices: The split's item indices (into ``labels``).
        labels: The class of every item of the set split.
        samples_per_class: The images kept of each class.
        num_classes: The number of classes (labels ``0 .. num_classes - 1``).
        seed: The dataset's seed.
        split: The split's name, for the message.

    Returns:
        The kept indices, sorted: ``samples_per_class * num_classes`` of them.

    Raises:
        ValueError: a class has fewer than ``samples_per_class`` images in the split, naming both numbers.
    """
    rng = np.random.default_rng([seed, 1])
    chosen = []
    for cls in range(num_classes):
        of_class = indices[labels[indices] == cls]
        if len(of_class) < samples_per_class:
            raise ValueError(f'samples_per_class={samples_per_class} but class {int(cls)} has only '
                             f'{len(of_class)} images in the {split} split')
        chosen.append(rng.choice(of_class, size=samples_per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def refuse_classes_without_training(labels: Sequence[int], train: Sequence[int], classes: Sequence[str],
                                    argument: str, value: object, source: str, taken_by: str = 'the reward split',
                                    advice: str | None = None) -> None:
    """``ValueError`` marked as a refusal of ``argument`` (:func:`of_argument`) where a class that has items in
    ``labels`` has none among the ``train`` indices: the reward split took all of them (a 1-image class at
    ``reward_ratio=0.75``, a 60-image Fashion-MNIST set at ``reward_size=55``), and the class kept its label with no
    training image, silently (the head never trained on it).

    Args:
        labels: The class label (an index into ``classes``) of every item of the set split.
        train: Indices into ``labels`` of the training split.
        classes: The class names, label order.
        argument: The dataset argument that sizes the reward split (``'reward_ratio'``, ``'reward_size'``).
        value: Its value, for the message.
        source: What was split, for the message (a folder).
        taken_by: The splits that took the images, for the message.
        advice: What to change, for the message (default: lower ``argument`` or add images to the classes).
    """
    labels = np.asarray(labels, dtype=np.int64)
    in_class = np.bincount(labels, minlength=len(classes))
    in_train = np.bincount(labels[np.asarray(train, dtype=np.int64)], minlength=len(classes))
    lost = [f'{classes[c] if c < len(classes) else c}: {in_class[c]} image{"s" if in_class[c] > 1 else ""}'
            for c in np.flatnonzero((in_class > 0) & (in_train == 0))]
    if lost:
        raise of_argument(ValueError(
            f'{argument}={value} of the images of {source} leaves {len(lost)} class{"es" if len(lost) > 1 else ""} '
            f'no training image, {taken_by} taking all of {"them" if len(lost) > 1 else "it"} '
            f'({"; ".join(lost[:5])}{" ..." if len(lost) > 5 else ""}): '
            + (advice or f'lower {argument} or add images to the class{"es" if len(lost) > 1 else ""}')), argument)


def refuse_zero(owner: str, **counts: int | None) -> None:
    """``ValueError`` naming ``owner.key`` for each count that is 0: a ``max_samples=0`` or ``samples_per_class=0``
    built an empty split without a word, and the run failed (or trained on nothing) far from the cause."""
    zero = [key for key, value in counts.items() if value == 0]
    if zero:
        raise ValueError(f'{owner}: {", ".join(f"{k}=0" for k in zero)} leaves the split empty: give a count '
                         '>= 1, or None to keep every item')


def check_split(split: str, allowed: Sequence[str] = SPLITS) -> str:
    if split not in allowed:
        raise ValueError(f'split must be one of {tuple(allowed)}, got {split!r}')
    return split


#: mmengine ``BaseDataset`` keys and the values that leave them doing nothing (its defaults, and ``None``).
_BASE_DEFAULTS = {'ann_file': ('', None), 'data_root': ('', None), 'data_prefix': ({'img_path': ''}, {}, None),
                  'filter_cfg': (None, {})}


def of_argument(err: BaseException, argument: str) -> BaseException:
    """``err`` marked as a refusal of the dataset's argument ``argument`` (``'data_root'``,
    ``'data_prefix.img_path'``): the config checks name the argument's config key
    (``train_dataloader.dataset.data_root: ...``), not only the dataset's; the key is read from its
    ``config_argument`` attribute. Returns ``err`` (``raise of_argument(FileNotFoundError(...), 'data_root')``)."""
    err.config_argument = argument  # type: ignore[attr-defined]
    return err


def refuse_unread_base_keys(dataset: str, kwargs: dict, keys: Sequence[str], reads: str) -> None:
    """Refuse the mmengine ``BaseDataset`` arguments among ``keys`` that ``kwargs`` sets to something other than
    their do-nothing defaults: the dataset ``dataset`` builds its items itself (``reads`` says from what) and never
    reads them, so an ``ann_file``, a ``data_prefix`` or a ``filter_cfg`` given to it was accepted and changed
    nothing. The ``BaseDataset`` keys it does read (``pipeline``, ``indices``, ``metainfo``, ``test_mode``, ...)
    pass."""
    given = [key for key in keys if key in kwargs and not any(kwargs[key] == d for d in _BASE_DEFAULTS[key])]
    if given:
        raise ValueError(f'{dataset} does not read {", ".join(f"{k}={kwargs[k]!r}" for k in given)}: it {reads}, '
                         f'so {"this key" if len(given) == 1 else "these keys"} would change nothing; remove '
                         f'{"it" if len(given) == 1 else "them"}')


def take_mmpretrain_keys(dataset: str, kwargs: dict, keys: Sequence[str], extensions: Sequence[str] = ()) -> None:
    """Take out of ``kwargs`` the mmpretrain dataset keys among ``keys`` (``with_label``, ``download``,
    ``extensions``) where their value is what ``dataset`` does anyway, and refuse them, naming the key, where it is
    not: mmengine's ``BaseDataset`` does not know them, and a config carried over from mmpretrain stopped with
    "BaseDataset.__init__() got an unexpected keyword argument 'with_label'", naming neither the dataset nor what
    it does instead.

    - ``with_label`` (mmpretrain's ``CustomDataset``): every item here has its ``gt_label``; ``True`` is taken.
    - ``download`` (mmpretrain's ``CIFAR10`` / ``FashionMNIST``): nothing is downloaded here; ``False`` is taken.
    - ``extensions`` (``CustomDataset``): the image extensions ``extensions`` are listed, any case; the same set is
      taken.

    Raises:
        ValueError: naming ``dataset``, the key, its value and what to do.
    """
    if 'with_label' in keys and 'with_label' in kwargs:
        if kwargs['with_label'] is not True:
            raise ValueError(f'{dataset} gives every item its class label (gt_label); with_label='
                             f'{kwargs["with_label"]!r} (mmpretrain\'s unlabelled CustomDataset) has no counterpart '
                             'here: remove with_label')
        del kwargs['with_label']
    if 'download' in keys and 'download' in kwargs:
        if kwargs['download'] is not False:
            raise ValueError(f'{dataset} downloads nothing (README: "Data (nothing is downloaded)"), got download='
                             f'{kwargs["download"]!r}: put the files under data_root and remove download')
        del kwargs['download']
    if 'extensions' in keys and 'extensions' in kwargs:
        given = kwargs['extensions']
        given = (given, ) if isinstance(given, str) else given
        if not isinstance(given, Sequence) or not all(isinstance(e, str) for e in given) or \
                {e.lower() for e in given} != set(extensions):
            raise ValueError(f'{dataset} lists the image extensions {", ".join(extensions)} (any case), got '
                             f'extensions={kwargs["extensions"]!r} (mmpretrain\'s CustomDataset key), which is not '
                             'read here: remove extensions')
        del kwargs['extensions']


def class_names_problem(classes: Any) -> str | None:
    """What is wrong with ``classes`` as ``metainfo.classes`` (a phrase to follow the key), or ``None``: it must be
    a list or tuple of distinct strings (a string is what mmengine keeps when it names no file: its letters would
    count as classes; a name given twice made two labels share one name)."""
    if isinstance(classes, str) or not isinstance(classes, Sequence) or \
            not all(isinstance(name, str) for name in classes):
        return f'must be a list or tuple of class names (str), got {classes!r}'
    repeated = sorted({name for name in classes if list(classes).count(name) > 1})
    if repeated:
        return f'names {", ".join(map(repr, repeated))} more than once: every label needs its own name'
    return None


def class_names(classes: Any, key: str) -> tuple[str, ...]:
    """``classes`` as a tuple of names, or ``ValueError`` starting with ``key`` (:func:`class_names_problem`)."""
    problem = class_names_problem(classes)
    if problem is not None:
        raise ValueError(f'{key} {problem}')
    return tuple(classes)


def check_metainfo_classes(dataset_cls: type, metainfo: Mapping | None, source: str) -> tuple[str, ...]:
    """Refuse a ``metainfo=dict(classes=...)`` whose number of names is not the number of classes of a data set
    with a fixed label set (``dataset_cls.METAINFO['classes']``, labels ``0 .. C - 1``), before any data is read.

    mmengine's ``BaseDataset`` takes the names as given and checks nothing: 9 names for Fashion-MNIST's 10 labels
    left label 9 without a name (and 11 named a class no label has), so class names exported with the metrics,
    and anything that sized itself by them (``NoisyLabelDataset`` flipped labels among 9 classes), were wrong,
    silently. The names themselves may differ from the defaults (a translation); their order is the labels'.

    Args:
        dataset_cls: The dataset class (its ``METAINFO`` and mmengine's ``_load_metainfo``, which reads a
            ``classes`` file name as one name a line).
        metainfo: The ``metainfo`` argument (``None``: the defaults, nothing to check).
        source: The data, as the message names it (e.g. the ``data_root`` folder).

    Returns:
        The class names the dataset will have.

    Raises:
        ValueError: ``metainfo.classes`` is not a list of distinct names, or gives another number of names than
            the data's classes; the message names the key, both counts and ``source``.
    """
    import copy

    name = dataset_cls.__name__
    expected = dataset_cls.METAINFO['classes']
    if metainfo is None or 'classes' not in metainfo:
        return tuple(expected)
    classes = class_names(dataset_cls._load_metainfo(copy.deepcopy(dict(metainfo)))['classes'],
                          f'{name}: metainfo.classes')
    if len(classes) != len(expected):
        raise ValueError(f'{name}: metainfo.classes gives {len(classes)} class names, but {source} has '
                         f'{len(expected)} classes (labels 0..{len(expected) - 1}): give exactly {len(expected)} '
                         f'names in label order, or leave metainfo.classes out (the default names: '
                         f'{", ".join(expected)})')
    return classes


def metainfo_with_classes(dataset_cls: type, metainfo: Mapping | None, source: str) -> Mapping | None:
    """``metainfo`` checked by :func:`check_metainfo_classes`, its ``classes`` (where given) as the tuple of names,
    the type of the class's ``METAINFO['classes']``; ``None`` and a ``metainfo`` without ``classes`` as given.

    mmengine's ``ConcatDataset`` refuses parts whose ``metainfo`` values differ in type: a ``DigitsDataset`` with
    the default names (a tuple) beside one naming the same ten as a config list (``metainfo=dict(classes=['0',
    ..., '9'])``) stopped with "The type <class 'list'> of classes in the 2-th dataset should be the same with the
    first dataset <class 'tuple'>".

    Raises:
        ValueError: as :func:`check_metainfo_classes`.
    """
    classes = check_metainfo_classes(dataset_cls, metainfo, source)
    if metainfo is None or 'classes' not in metainfo:
        return metainfo
    return {**metainfo, 'classes': classes}
