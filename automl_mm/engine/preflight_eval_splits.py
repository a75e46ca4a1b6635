"""Which data an evaluation reads (part of :func:`automl_mm.engine.preflight.check_config`): a COCO metric scores
the annotation file its loader reads (:func:`split_mismatch`), a val / test loader reads every image of the file its
COCO metric scores (:func:`check_scored_subsets`), and a held-out loader (OHL's reward loader, the NAS search loader)
does not read the test split (:func:`reads_test_split`). These faults are silent: the run trains and reports
numbers, scored against other images, against objects never predicted, or selected on the test set. Also used by
:class:`~automl_mm.engine.evaluate.HeldOutEvaluator` for the loader it falls back to.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_classes import _dataset_class
from .preflight_image_ids import check_merged_image_ids
from .preflight_walk import (
    SPLITS,
    ConfigCheckError,
    _datasets,
    _loader_coco_datasets,
    coco_metric_class,
    config_scope,
    evaluator_metrics,
    loader_coco_files,
)


def _abs(path: str) -> str:
    """``path`` as the file it names: absolute, normalised and with symlinks resolved (``os.path.realpath``), so a
    folder reached through a link compares equal to itself."""
    return osp.realpath(path)


def split_mismatch(loader_cfg: Any, evaluator_cfg: Any, scope: str | None = None) -> tuple[str, str, bool] | None:
    """``(metric's annotation file, the loader's, several)`` when a COCO metric reads its ground truth from another
    file than the COCO dataset it scores, or the loader reads several COCO files (``several`` is then ``True``: a
    ``ConcatDataset``, its files joined by ``' + '``; one metric holds one file's ground truth), else ``None``.
    The metric's file is the loader's when it is the same file (resolved, links followed) or a copy of its bytes
    under another path (:func:`~automl_mm.datasets.content.same_file_content`, read only when the paths differ and
    the sizes are equal): compared by path, a metric reading the annotation file copied next to a data set's copy
    was refused as another split's.

    The fault this finds is silent: automl_mm's COCO splits number their images from 1, so the ids of one split
    exist in another's file, mmdet's ``CocoMetric`` restricted to the predicted ids scores each prediction against
    another image (a reward split fell back to ``val_evaluator`` and a perfect detector scored mAP 0).
    """
    from automl_mm.datasets.content import same_file_content

    files = loader_coco_files(loader_cfg, scope)
    if not files:
        return None
    for metric in evaluator_metrics(evaluator_cfg):
        if not (isinstance(metric, dict) and coco_metric_class(metric, scope) is not None
                and isinstance(metric.get('ann_file'), str)):
            continue
        ann = _abs(metric['ann_file'])
        if len(files) > 1 or not (ann == files[0] or same_file_content(ann, files[0])):
            # several files (a ConcatDataset of COCO splits): the metric holds one file's ground truth, and the
            # predictions of the other files' images were scored against its images of the same ids
            return metric['ann_file'], ' + '.join(sorted(files)), len(files) > 1
    return None


def _leaf_splits(loader_cfg: Any, where: str = 'dataset') -> list[dict]:
    """What identifies the data of each leaf dataset of a loader (wrappers such as ``RepeatDataset`` and
    ``ConcatDataset`` looked through): its type, resolved annotation file, resolved image location (``data_root``
    joined with ``data_prefix``) and ``split``; ``key``: its config key under ``where``."""
    dataset = loader_cfg.get('dataset') if isinstance(loader_cfg, dict) else None
    leaves = []
    for d, key in _datasets(dataset, where):
        if isinstance(d.get('dataset'), dict) or d.get('datasets'):
            continue  # a wrapper: its inner datasets are the data
        root = d.get('data_root') or ''
        ann = d.get('ann_file')
        prefix = d.get('data_prefix')
        if isinstance(prefix, dict):
            prefix = prefix.get('img_path') or prefix.get('img') or ''
        prefix = prefix if isinstance(prefix, str) else ''
        leaves.append(dict(type=config_type_name(d),
                           ann=_abs(osp.join(root, ann)) if isinstance(ann, str) and ann else None,
                           where=_abs(osp.join(root, prefix)) if (root or prefix) else None,
                           split=d.get('split'), test_mode=bool(d.get('test_mode', False)), cfg=d, key=key,
                           rest={k: v for k, v in d.items() if k not in ('pipeline', 'lazy_init', 'serialize_data')}))
    return leaves


def _same_where(held_out: dict, test: dict) -> bool:
    """Whether two leaves of one type read their images from one place: the same resolved location, or (for a
    class with ``shares_images(first, second)``, e.g. ``ImageFolderDataset``) a copy of it, whole or in part, under
    another root, or (a class with ``split_images(source)`` / ``split_source(source)``: Fashion-MNIST, CIFAR-10)
    the same non-``None`` digest of the images the splits are carved from, ``None`` standing for the class's
    default location (Fashion-MNIST's ``data_root=None`` and the folder it resolves to were two places, so a reward
    loader of one and a test loader of the other passed). Read only when the paths differ (cost: the class's
    method, e.g. two folder listings and up to 32 pairs of files read, or the two sources' training files)."""
    if held_out['where'] == test['where']:
        return True
    cls = _dataset_class(held_out['cfg'], 'automl_mm')
    digest = getattr(cls, 'split_images', None) or getattr(cls, 'split_source', None)
    if callable(digest):
        found = digest(held_out['where'])
        return found is not None and found == digest(test['where'])
    if held_out['where'] is None or test['where'] is None:
        return False
    if callable(getattr(cls, 'shares_images', None)):
        return bool(cls.shares_images(held_out['where'], test['where']))
    return False


def _split_picks_data(leaf: dict) -> bool:
    """Whether the leaf's class picks its data by ``split`` and its carving arguments (``SPLIT_ARGS``: automl_mm's
    digits, Fashion-MNIST, CIFAR-10 and image folders), not by ``test_mode`` (mmengine's flag, which they do not
    read for data): a reward loader of an image folder (or of a digits split) beside a test loader of the same
    data with ``test_mode=True`` was taken for other data, and passed."""
    return isinstance(getattr(_dataset_class(leaf['cfg'], 'automl_mm'), 'SPLIT_ARGS', None), tuple)


def _same_data(held_out: dict, test: dict) -> bool:
    """Whether two leaf datasets can hold the same images: the same annotation file (or a copy of its bytes under
    another path: :func:`~automl_mm.datasets.content.same_file_content`, which reads the two files only when their
    sizes are equal), or (without one) the same type, image location (:func:`_same_where`: a copied folder is the
    same) and ``test_mode`` (not compared for a class that picks its data by ``split``: :func:`_split_picks_data`)
    with the same ``split`` or one of them ``'all'``; datasets with none of these (a custom
    class) only when all their settings but the pipeline are equal."""
    from automl_mm.datasets.content import same_file_content

    if held_out['ann'] is not None or test['ann'] is not None:
        return held_out['ann'] is not None and test['ann'] is not None and \
            (held_out['ann'] == test['ann'] or same_file_content(held_out['ann'], test['ann']))
    if all(leaf['where'] is None and leaf['split'] is None for leaf in (held_out, test)):
        return held_out['rest'] == test['rest']  # nothing names the data: only the same settings are the same data
    return (held_out['type'] == test['type']
            and (held_out['test_mode'] == test['test_mode'] or _split_picks_data(held_out))
            # mmpretrain-style datasets: test_mode picks the test set; automl_mm's split datasets: split does
            and (held_out['split'] == test['split'] or 'all' in (held_out['split'], test['split']))
            and _same_where(held_out, test))


def _named(leaf: dict) -> str:
    """A leaf dataset as a message names it: ``"train_dataloader.dataset (DigitsDataset, split='test')"``."""
    what = f"split={leaf['split']!r}" if leaf['split'] is not None else \
        f"ann_file={leaf['ann']!r}" if leaf['ann'] is not None else f"data {leaf['where']!r}"
    return f"{leaf['key']} ({leaf['type']}, {what})"


def test_split_read(loader_cfg: Any, test_loader_cfg: Any, where: str = 'dataset',
                    test_key: str = 'test_dataloader') -> str | None:
    """What a loader reads of the test split, as a message clause naming its leaf (``where``: its config key) and
    why it is the test split, or ``None``: a leaf with the same data as a leaf of ``test_loader_cfg``
    (:func:`_same_data`), ``"... reads the test split: the data test_dataloader reports (test_dataloader.dataset
    (DigitsDataset, split='test'))"``; else a leaf with ``split='test'``, named as its class's test split that
    ``test_key`` does not read (it reads other data, named): a split named ``'test'`` is the part its data set holds
    out for testing. Until the forty-sixth session both were told as "the one test_dataloader reports", also where
    ``test_dataloader`` read another data set (a digits test split trained on beside a Fashion-MNIST test loader)."""
    found = _test_leaf_read(loader_cfg, test_loader_cfg, where, test_key)
    if found is None:
        return None
    leaf, same, test = found
    if same is not None:
        return f'{_named(leaf)} reads the test split: the data {test_key} reports ({_named(same)})'
    reported = '; '.join(_named(t) for t in test) or 'no dataset'
    return (f"{_named(leaf)} reads the test split of {leaf['type']} (split='test', the part it holds out for "
            f'testing), though {test_key} reports other data ({reported})')


def _test_leaf_read(loader_cfg: Any, test_loader_cfg: Any, where: str,
                    test_key: str) -> tuple[dict, dict | None, list[dict]] | None:
    """``(leaf, the leaf of test_loader_cfg with its data or None, the test loader's leaves)`` for the first leaf
    of the loader reading the test split (:func:`test_split_read`), or ``None``."""
    leaves = _leaf_splits(loader_cfg, where)
    test = _leaf_splits(test_loader_cfg, f'{test_key}.dataset')
    for leaf in leaves:
        same = next((t for t in test if _same_data(leaf, t)), None)
        if same is not None:
            return leaf, same, test
    return next(((leaf, None, test) for leaf in leaves if leaf['split'] == 'test'), None)


def reads_test_split(loader_cfg: Any, test_loader_cfg: Any) -> bool:
    """Whether a held-out (reward / search) loader reads test images (:func:`test_split_read`): a leaf dataset with
    ``split='test'``, or one with the same data as a leaf of ``test_loader_cfg`` (:func:`_same_data`; paths
    compared resolved, so ``data/x`` and ``data/x/`` or ``data/`` + ``x/ann.json`` are one file, and a copy of an
    annotation file or of an ``ImageFolderDataset`` folder under another path is the same data; wrappers looked
    through)."""
    return test_split_read(loader_cfg, test_loader_cfg) is not None


def check_not_trained_on_test(cfg: Any, test_only: bool) -> None:
    """Refuse a ``train_dataloader`` that reads the test split: a leaf dataset (wrappers looked through: a
    ``ConcatDataset`` of the training and test splits) with ``split='test'`` or the same data as a leaf of
    ``test_dataloader`` (:func:`test_split_read`, as :func:`reads_test_split` judges a held-out loader). The reward
    and search loaders were refused the test split, the training loader was not: a digits config training on
    ``ConcatDataset([train split, test split])`` passed the config check and reported the accuracy of images it
    trained on, silently. Not for ``test_only`` (a test run trains nothing).

    Raises:
        ConfigCheckError: naming the leaf's key (``train_dataloader.dataset.datasets.1``), its split, and the leaf
            of ``test_dataloader`` with its data, or (a ``split='test'`` of other data) what ``test_dataloader``
            reads instead.
    """
    if test_only or not isinstance(cfg.get('train_dataloader'), dict):
        return
    found = test_split_read(cfg.get('train_dataloader'), cfg.get('test_dataloader'), 'train_dataloader.dataset')
    if found is None:
        return
    if _test_leaf_read(cfg.get('train_dataloader'), cfg.get('test_dataloader'), 'train_dataloader.dataset',
                       'test_dataloader')[1] is not None:
        why = ('the model would train on the images it is tested on, and the test score would be of training '
               'images. Train on a split held out of test (remove it from train_dataloader)')
    else:
        why = ('the model would train on the images held out to test it, so no test of it on that split would be '
               "of unseen images. Train on split='train' (remove it from train_dataloader)")
    raise ConfigCheckError(f'{found}: {why}')


def _check_not_test(loader_cfg: Any, loader_key: str, cfg: Any) -> None:
    found = test_split_read(loader_cfg, cfg.get('test_dataloader'), f'{loader_key}.dataset')
    if found is not None:
        raise ConfigCheckError(f'{loader_key} reads the test split ({found}): rewards and search scores must come '
                               'from a split held out of training, never from the test split')


def _check_split(loader_cfg: Any, loader_key: str, evaluator_cfg: Any, evaluator_key: str,
                 scope: str | None = None) -> None:
    """:func:`check_merged_image_ids` and :func:`split_mismatch`, the types resolved in ``scope`` (the config's
    ``default_scope``: :func:`~automl_mm.engine.preflight_walk.config_scope`)."""
    check_merged_image_ids(loader_cfg, loader_key, evaluator_cfg, evaluator_key, scope)
    found = split_mismatch(loader_cfg, evaluator_cfg, scope)
    if found is not None and found[2]:
        raise ConfigCheckError(
            f'{evaluator_key} reads ground truth from {found[0]} but {loader_key} reads several COCO files, '
            f'{found[1]}: one COCO metric holds the ground truth of one file, and the predictions of the other '
            "files' images would be scored against its images of the same ids. Score each file with its own loader "
            'and metric, or merge them into one annotation file')
    if found is not None:
        raise ConfigCheckError(
            f'{evaluator_key} reads ground truth from {found[0]} but {loader_key} is {found[1]}: every prediction '
            f'would be scored against another image of the same id. Give {evaluator_key} ann_file={found[1]!r}')


def images_read(indices: Any, total: int) -> int:
    """How many of a dataset's ``total`` items mmengine's ``BaseDataset(indices=...)`` keeps: an int ``n`` the first
    ``n`` (``-n``: the last ``n``), a sequence those positions, each once (``BaseDataset._get_unserialized_subset``);
    ``total`` for ``None``."""
    if indices is None or isinstance(indices, bool):
        return total
    if isinstance(indices, int):
        return min(abs(indices), total)
    try:
        return len({int(i) % total for i in indices if -total <= int(i) < total}) if total else 0
    except (TypeError, ValueError):
        return total  # not positions: mmengine names the fault when it builds the dataset


def _positions(indices: Any, total: int | None) -> tuple[str, Any] | None:
    """What mmengine's ``BaseDataset(indices=...)`` keeps (``_get_unserialized_subset``), as ``('all', None)``,
    ``('first', n)``, ``('last', n)`` or ``('list', [positions])`` (negative positions counted from the end
    resolved where ``total`` is known); ``None`` for a value that is no positions (mmengine names it)."""
    if indices is None:
        return 'all', None
    if isinstance(indices, bool):
        return None
    if isinstance(indices, int):
        return ('first', indices) if indices >= 0 else ('last', -indices)
    try:
        found = [int(i) for i in indices]
    except (TypeError, ValueError):
        return None
    return 'list', [i + total if total is not None and i < 0 else i for i in found]


def repeated_position(indices: Any, total: int | None = None) -> int | None:
    """A position that ``indices`` (mmengine's ``BaseDataset(indices=[...])``) names more than once, or ``None``:
    mmengine keeps one item per entry, so ``indices=[0, 1, 0]`` reads item 0 twice (and ``[0, -total]`` too where
    ``total``, the number of items, is known)."""
    kept = _positions(indices, total)
    if kept is None or kept[0] != 'list':
        return None
    seen: set = set()
    for i in kept[1]:
        if i in seen:
            return i
        seen.add(i)
    return None


def positions_overlap(first: Any, second: Any, total: int | None = None) -> bool:
    """Whether two ``indices`` of mmengine's ``BaseDataset`` over the same items keep an item in common: ``None``
    (every item) and any non-empty selection, ``n`` and ``m`` (the first ``n`` and ``m``; ``-n`` and ``-m``: the
    last), an ``n`` and a list with a position below ``n``, two lists sharing a position; the first ``n`` and the
    last ``m`` (or positions of either sign) only where ``total`` (the number of items) says (``n + m > total``),
    taken as apart without it."""
    a, b = _positions(first, total), _positions(second, total)
    if a is None or b is None:
        return False
    (kind_a, a), (kind_b, b) = sorted((a, b), key=lambda kept: ('all', 'first', 'last', 'list').index(kept[0]))

    def size(kind, value):
        return None if kind == 'all' else len(value) if kind == 'list' else value

    if size(kind_a, a) == 0 or size(kind_b, b) == 0:
        return False
    if kind_a == 'all' or kind_a == kind_b == 'first' or kind_a == kind_b == 'last':
        return True
    if kind_a == 'first' and kind_b == 'last':
        return total is not None and a + b > total
    if kind_b == 'list':
        if kind_a == 'first':
            return any(0 <= i < a or (total is not None and i < 0 and total + i < a) for i in b)
        if kind_a == 'last':
            return any(-a <= i < 0 or (total is not None and i >= 0 and i >= total - a) for i in b)
        return bool(set(a) & set(b))
    return False


def _repeating_wrapper(cfg: Any) -> str | None:
    """How a dataset wrapper config repeats the items of the dataset inside it (``'RepeatDataset, times=2'``), or
    ``None``: mmengine's ``RepeatDataset`` with ``times`` > 1, ``ClassBalancedDataset`` with ``oversample_thr`` > 0
    (the images of the classes rarer than it, repeated)."""
    kind = config_type_name(cfg)
    for name, key in (('RepeatDataset', 'times'), ('ClassBalancedDataset', 'oversample_thr')):
        value = cfg.get(key)
        if kind == name and isinstance(value, (int, float)) and not isinstance(value, bool) and \
                value > (1 if key == 'times' else 0):
            return f'{name}, {key}={value!r}'
    return None


def _repeated_coco_files(loader_cfg: Any, loader_key: str, per_dataset: bool,
                         scope: str | None = None) -> tuple[str, str] | None:
    """``(config key and how, file)`` where a loader reads the images of one COCO file more than once: a repeating
    wrapper around a COCO dataset (:func:`_repeating_wrapper`), or a ``ConcatDataset`` reading one file twice
    (unless ``per_dataset``: an evaluator scoring each inner dataset with its own metric, mmdet's
    ``MultiDatasetsEvaluator``); types resolved in ``scope`` (the config's ``default_scope``)."""
    dataset = loader_cfg.get('dataset') if isinstance(loader_cfg, dict) else None
    coco = list(_loader_coco_datasets(loader_cfg, f'{loader_key}.dataset', scope))
    for wrapper, key in _datasets(dataset, f'{loader_key}.dataset'):
        how = _repeating_wrapper(wrapper)
        inner = [path for _, inner_key, path in coco if inner_key.startswith(f'{key}.')]
        if how is not None and inner:
            return f'{key} ({how})', inner[0]
    paths = [] if per_dataset else [osp.realpath(path) for _, _, path in coco]
    for path in paths:
        if paths.count(path) > 1:
            return f'{loader_key}.dataset reads {path} {paths.count(path)} times, so it', path
    return None


#: The most items (both leaves together, after their ``indices``) that :func:`_shared_item` compares by identity.
IDENTITY_ITEMS = 20_000


def _other_carving(first: dict, second: dict) -> str | None:
    """How two leaves of one source (:func:`_same_data`) of a class that carves splits (``SPLIT_ARGS``) are carved
    differently, as ``"split: 'reward' and 'all', seed: 0 and 1"``, or ``None`` where a position is the same item
    in both: neither class carves splits, or the same ``split`` with the same ``SPLIT_ARGS`` and
    ``samples_per_class`` (defaults filled in; ``max_samples`` keeps a prefix, so positions still compare). The
    position ``i`` of a reward split of ``seed=0`` and of ``seed=1`` are other images (and disjoint positions may be
    one image)."""
    import inspect

    from .preflight_splits import _plain

    classes = [_dataset_class(leaf['cfg'], 'automl_mm') for leaf in (first, second)]
    if not any(isinstance(getattr(cls, 'SPLIT_ARGS', None), tuple) for cls in classes):
        return None
    if classes[0] is not classes[1] or classes[0] is None:
        return 'classes'
    cls = classes[0]
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
    names = ['split', *cls.SPLIT_ARGS, *(['samples_per_class'] if 'samples_per_class' in defaults else [])]
    values = [{n: _plain(leaf['cfg'].get(n, defaults.get(n))) for n in names} for leaf in (first, second)]
    differ = [f'{n}: {values[0][n]!r} and {values[1][n]!r}' for n in names if values[0][n] != values[1][n]]
    return ', '.join(differ) or None


def _shared_item(first: dict, second: dict) -> str | None:
    """An image two leaf datasets both read, by :func:`~automl_mm.engine.local_loader.item_identity` (named by its
    ``img_path`` / ``img_id`` / ``source_idx`` and its index in each), or ``None``: none, or not cheap to tell (a
    leaf that does not build here, e.g. its files missing, or more than :data:`IDENTITY_ITEMS` items in both;
    items told by their pixels alone, :data:`~automl_mm.engine.local_loader.PIXELS_ONLY`, are not compared). Cost:
    building the two leaves without their pipelines (the class's load, e.g. Fashion-MNIST's idx files read) and one
    identity per item."""
    from .local_loader import PIXELS_ONLY, item_identity

    built = []
    for leaf in (first, second):
        cls = _dataset_class(leaf['cfg'], 'automl_mm')
        if cls is None:
            return None
        try:
            built.append(cls(**{k: v for k, v in leaf['cfg'].items() if k not in ('type', 'pipeline', 'lazy_init')},
                             pipeline=[]))
        except Exception:  # noqa: BLE001 - not buildable here (files missing, a bad value): the build names it
            return None
    if sum(len(dataset) for dataset in built) > IDENTITY_ITEMS:
        return None
    seen = {}
    for index in range(len(built[0])):
        identity = item_identity(built[0], index)
        if not (isinstance(identity, tuple) and identity[-1] == PIXELS_ONLY):
            seen.setdefault(identity, index)
    for index in range(len(built[1])):
        first_index = seen.get(item_identity(built[1], index))
        if first_index is not None:
            info = built[1].get_data_info(index)
            name = next((f'{k}={info[k]!r}' for k in ('img_path', 'img_id', 'file_name', 'source_idx')
                         if isinstance(info, dict) and k in info), 'one data info')
            return f'one image ({name}) at their items {first_index} and {index}'
    return None


def repeated_items(loader_cfg: Any, loader_key: str) -> str | None:
    """How a held-out loader (``loader_key``: OHL's reward loader, a NAS search loader, any dataset class) reads
    some of its items more than once, naming the config key, or ``None``: a repeating wrapper anywhere in it
    (:func:`_repeating_wrapper`: ``RepeatDataset`` with ``times`` > 1, ``ClassBalancedDataset`` with
    ``oversample_thr`` > 0), a leaf dataset whose ``indices`` name a position twice (:func:`repeated_position`),
    or two leaf datasets of a ``ConcatDataset`` with the same data (:func:`_same_data`: the same annotation file,
    or the same type, image location and split) whose ``indices`` keep an item in common
    (:func:`positions_overlap`; two leaves keeping other ``indices`` are taken as parts of it), positions compared
    only within one carved split (:func:`_other_carving`): two splits of one source carved with another ``seed`` /
    ``split_sizes`` / ``reward_size`` (or ``split='all'`` beside a part) hold other images at one position, so
    their items are compared instead (:func:`_shared_item`, where cheap; else nothing is said, and
    :func:`~automl_mm.engine.local_loader.check_items_once` compares them when the loader is built): by positions,
    ``indices=[3]`` of the digits reward split of ``seed=0`` and ``indices=[8]`` of ``seed=1`` (one image,
    ``source_idx=30``) passed, and ``indices=[1]`` of both (images 7 and 5) were refused. Until the
    forty-sixth session only equal ``indices`` were refused: ``indices=10`` and ``indices=20`` of one split scored
    its first 10 items twice. :func:`~automl_mm.engine.evaluate.evaluate_locally` scores each item read, so a
    repeated item counted twice: a COCO metric made every repeated box a false positive (lower AP), an accuracy
    weighed the repeated items twice."""
    dataset = loader_cfg.get('dataset') if isinstance(loader_cfg, dict) else None
    for wrapper, key in _datasets(dataset, f'{loader_key}.dataset'):
        how = _repeating_wrapper(wrapper)
        if how is not None:
            return f'{key} ({how})'
    leaves = _leaf_splits(loader_cfg, f'{loader_key}.dataset')
    for leaf in leaves:
        twice = repeated_position(leaf['cfg'].get('indices'))
        if twice is not None:
            return f'{leaf["key"]}.indices (position {twice} named twice)'
    for i, first in enumerate(leaves):
        for second in leaves[i + 1:]:
            if not _same_data(first, second):
                continue
            differ = _other_carving(first, second)
            if differ is None:  # one carved split: a position is the same item in both
                if positions_overlap(first['cfg'].get('indices'), second['cfg'].get('indices')):
                    same = first['cfg'].get('indices') == second['cfg'].get('indices')
                    return (f'{first["key"]} and {second["key"]} (the same data'
                            f'{"" if same else ", their indices overlapping"})')
                continue
            shared = _shared_item(first, second)  # positions of other carvings name other items: compare items
            if shared is not None:
                return (f'{first["key"]} and {second["key"]} (splits of one source carved with other {differ}, '
                        f'both reading {shared})')
    return None


def check_scored_subsets(cfg: Any, files: dict, test_only: bool, split: str = 'test') -> None:
    """A val / test loader that reads part of the annotation file its COCO metric scores, or reads images of it more
    than once, is refused: mmdet's ``CocoMetric`` (3.3, ``compute_metrics``) scores every image of its ``ann_file``
    once (``img_ids = get_img_ids()``) against every box predicted for it. A COCO dataset keeping a subset of its
    file (``dataset.indices``) left the objects of the images never read counted as missed (a perfect detector on
    the first 5 of 10 images scored ``bbox_mAP`` 0.488), and a loader predicting an image twice (``RepeatDataset``,
    ``ClassBalancedDataset``, a ``ConcatDataset`` of one file twice) made every second box a false positive (0.665
    with every image read twice; ``indices`` naming a position twice, ``[0, 0, 1, 2, 3]`` of 4 images, passed as
    reading every image once until the forty-sixth session), silently. Held-out loaders (reward, search) are not
    refused a subset: :func:`~automl_mm.engine.evaluate.evaluate_locally` scores the images read.

    Args:
        cfg: The config.
        files: Annotation file (as the dataset joins it with its ``data_root``) -> its
            :class:`~automl_mm.engine.preflight_coco.CocoSummary` (its images: ``names``); a file not in it is not
            checked.
        test_only, split: Check only ``{split}_dataloader`` (as :func:`automl_mm.engine.preflight.check_config`).

    Raises:
        ConfigCheckError: naming the dataset's ``indices`` key, how many images it reads of how many (or the
            position it names twice), the file and the evaluator's key; or the key of the wrapper that repeats the
            file's images.
    """
    from .preflight_evaluators import reports_own_keys

    for scored in (split, ) if test_only else SPLITS:
        loader_key, evaluator_key = f'{scored}_dataloader', f'{scored}_evaluator'
        metrics = [m for m in evaluator_metrics(cfg.get(evaluator_key))
                   if isinstance(m, dict) and coco_metric_class(m, config_scope(cfg)) is not None
                   and isinstance(m.get('ann_file'), str)]
        if not metrics:
            continue  # no metric scoring a file (ann_file=None: mmdet builds the ground truth of the images read)
        repeated = _repeated_coco_files(cfg.get(loader_key), loader_key, reports_own_keys(cfg.get(evaluator_key)),
                                        config_scope(cfg))
        if repeated is not None:
            raise ConfigCheckError(
                f'{repeated[0]} predicts its images more than once, but {evaluator_key} '
                f'({config_type_name(metrics[0])}) scores each image of its ann_file once, against every box predicted '
                f'for it: each repeated prediction would count as a false positive and lower every AP, silently. '
                f'Read each image of {repeated[1]} once')
        for dataset, key, path in _loader_coco_datasets(cfg.get(loader_key), f'{loader_key}.dataset',
                                                        config_scope(cfg)):
            summary = files.get(path)
            if summary is None or dataset.get('indices') is None:
                continue
            total = len(summary.names)
            twice = repeated_position(dataset['indices'], total)
            if twice is not None:
                raise ConfigCheckError(
                    f'{key}.indices={dataset["indices"]!r} reads image {twice} of {path} more than once, but '
                    f'{evaluator_key} ({config_type_name(metrics[0])}) scores each image of its ann_file once, '
                    'against every box predicted for it: each repeated prediction would count as a false positive '
                    'and lower every AP, silently. Name each position once')
            read = images_read(dataset['indices'], total)
            if read < total:
                raise ConfigCheckError(
                    f'{key}.indices={dataset["indices"]!r} reads {read} of the {total} images of {path}, but '
                    f'{evaluator_key} ({config_type_name(metrics[0])}) scores every image of its ann_file: the '
                    f'objects of the {total - read} images never read would count as missed and lower every AP / AR, '
                    f'silently. Score an annotation file of the images read (tools/data/split_coco.py --val-images '
                    f'{read} writes one of {read} images) or remove {key}.indices')


def check_held_out(cfg: Any, loader_cfg: Any, loader_key: str, evaluator_cfg: Any, evaluator_key: str) -> None:
    """A held-out loader (``loader_key``: OHL's reward loader, a NAS search loader) reads no test images
    (:func:`reads_test_split`) and its COCO metric (``evaluator_key``) scores the file it reads
    (:func:`split_mismatch`). Raises :class:`ConfigCheckError` naming the keys."""
    _check_not_test(loader_cfg, loader_key, cfg)
    _check_split(loader_cfg, loader_key, evaluator_cfg, evaluator_key, config_scope(cfg))
