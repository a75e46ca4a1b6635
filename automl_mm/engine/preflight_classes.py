"""Class names and counts against the data, checked before any data is read (part of
:func:`automl_mm.engine.preflight.check_config`): a COCO dataset's ``metainfo.classes`` against its annotation
file's categories (:func:`coco_classes_mismatch`, :func:`_check_coco_classes`), the inner datasets of a
``ConcatDataset`` against each other (:func:`_check_concat_classes`), and every ``num_classes`` of the model's heads
against each dataset's class count (:func:`_check_num_classes`), and ``Accuracy`` ``topk`` values against the heads'
count (:func:`check_accuracy_topk`; a search's key, whichever evaluator it reads: :func:`check_searched_topk`)."""
from __future__ import annotations

import logging
import os
import os.path as osp
from collections.abc import Iterator
from typing import Any, NamedTuple

from mmengine.logging import print_log

from automl_mm.utils.scope import config_type_name
from automl_mm.utils.wording import a_type

from .preflight_walk import (
    ConfigCheckError,
    _built_in,
    _evaluator_cfgs,
    _loader_cfgs,
    coco_dataset_classes,
    config_scope,
    outside_split,
    scoped_datasets,
)


def _dataset_class(dataset: dict, scope: str | None) -> type | None:
    """The registered dataset class ``dataset`` builds, ``None`` when it cannot be resolved here: its ``type`` (a
    class, or a name resolved as mmengine's ``build_from_cfg`` resolves it: in the node's ``_scope_``, which it pops
    and switches to first, else in ``scope``, the config's ``default_scope``: :func:`~automl_mm.registry.config_class`).
    """
    from automl_mm.registry import DATASETS, config_class

    return config_class(DATASETS, dataset, scope)


def _default_classes(dataset: dict, scope: str | None) -> tuple | None:
    """The class names of the registered dataset class of ``dataset`` (``METAINFO['classes']``), ``None`` when it
    cannot be resolved here."""
    return (getattr(_dataset_class(dataset, scope), 'METAINFO', None) or {}).get('classes')


def _image_folder_classes(dataset: dict, scope: str | None) -> tuple[tuple, str] | None:
    """The class-folder names an ``ImageFolderDataset`` config without ``metainfo.classes`` labels (listed as the
    dataset lists them: :func:`automl_mm.datasets.image_folder.class_folders`) and the folder, or ``None`` when
    ``dataset`` is another kind or its folder is missing or has no class folders (the dataset raises its own
    ``FileNotFoundError`` when built)."""
    from mmengine.fileio import join_path
    from mmengine.utils import is_abs

    from automl_mm.datasets.image_folder import ImageFolderDataset, class_folders

    dataset_cls = _dataset_class(dataset, scope)
    if not (isinstance(dataset_cls, type) and issubclass(dataset_cls, ImageFolderDataset)):
        return None
    data_root, prefix = dataset.get('data_root'), dataset.get('data_prefix') or dict(img_path='')
    data_root = os.fspath(data_root) if isinstance(data_root, os.PathLike) else data_root  # mmengine joins a Path
    # a string is the dataset's img_path (mmpretrain's form); it failed here with "'str' object has no attribute 'get'"
    prefix = prefix.get('img_path') if isinstance(prefix, dict) else prefix
    if not isinstance(prefix, str) or not isinstance(data_root, (str, type(None))):
        return None  # refused when the dataset is built
    root = join_path(data_root, prefix) if data_root and not is_abs(prefix) else prefix  # as BaseDataset joins
    if not osp.isdir(root):
        return None
    classes = class_folders(root)
    return (tuple(classes), root) if classes else None


def coco_classes_mismatch(classes: Any, categories: list[str], source: str = 'the file') -> str | None:
    """Why a COCO dataset with class names ``classes`` mislabels an annotation file whose categories are named
    ``categories`` (in the file's order), or ``None`` when every name is a category of the file, in the file's
    order: a phrase to follow the config key, naming ``source`` (the file) and both counts.

    mmdet's ``CocoDataset`` (and ``CocoMetric``) keep the file's categories whose names are in ``classes``, numbered
    in the file's order, and check nothing: a name the file lacks is skipped (every later name then sits on another
    label) and names in another order than the file's are the names of other labels; exported names, per-class AP
    and the head's ``num_classes`` then disagree with the data, silently. Naming only some of the categories (in
    the file's order) is mmdet's way to train on a subset of classes and passes: the others' annotations are dropped
    (:func:`_check_coco_classes` says which).
    """
    from automl_mm.datasets.splits import class_names_problem

    problem = class_names_problem(classes)
    if problem is not None:
        return problem
    given = tuple(classes)
    repeated = sorted({c for c in categories if c in given and categories.count(c) > 1}, key=categories.index)
    if repeated:
        # mmdet keeps every category of a listed name, each its own label: 4 labels under 3 names, the last one
        # past the head's outputs (the old message asked for the names in the file's order, repeats included,
        # which the class-name check then refused as repeated)
        return (f'names {", ".join(map(repr, repeated))}, which {source} gives to more than one category (mmdet '
                f'numbers each of them as its own label: {sum(c in given for c in categories)} labels for '
                f'{len(given)} names). Give each category of the file its own name, or merge them into one '
                'category id')
    if given == tuple(categories):
        return None
    unknown = [c for c in given if c not in categories]
    if not unknown and [c for c in categories if c in given] == list(given):
        return None  # all of them, or a subset, in the file's order
    parts = []
    if unknown:
        parts.append(f'names {", ".join(map(repr, unknown[:5]))}{", ..." if len(unknown) > 5 else ""}, which the '
                     'file has no category of (mmdet skips them: the names after them sit on other labels)')
    else:
        parts.append("names them in another order than the file's categories (mmdet numbers the labels in the "
                     "file's order, so the names would be other labels' names)")
    return (f'gives {len(given)} class name{"s" if len(given) != 1 else ""}, but {source} has {len(categories)} '
            f'categor{"ies" if len(categories) != 1 else "y"}; it '
            + '; it '.join(parts) + f'. Give the file\'s category names in its order: {tuple(categories)!r}')


def _check_coco_classes(cfg: Any, categories: dict[str, list[str]], test_only: bool, split: str = 'test') -> None:
    """Each COCO dataset's class names against the categories of its annotation file (``{path: names}``, the files
    :func:`check_config` loaded); a dataset without ``metainfo.classes`` has its class's defaults (mmdet's
    ``CocoDataset``: the 80 COCO names). Only for a class that keeps ``CocoDataset.load_data_list``, which picks the
    file's categories by these names in the file's order: ``LVISV1Dataset`` reads every category whatever the names,
    ``Objects365V1Dataset`` sorts the file's categories by id first, ``CocoPanopticDataset`` reads its own format.
    A subset of the file's categories is warned of (mmdet drops the others' annotations), once for the loaders of
    one dataset config (``test_dataloader = val_dataloader``: both keys), also where a later dataset is refused.

    Raises:
        ConfigCheckError: naming the dataset's ``metainfo.classes`` key and its file, where the names are not the
            file's categories in its order (:func:`coco_classes_mismatch`).
    """
    try:
        from mmdet.datasets import CocoDataset
    except ImportError:  # mmdet not installed: no COCO dataset is built
        return
    subsets: dict[tuple, list[str]] = {}  # one dataset config of several loaders (test_dataloader = val_dataloader)
    try:
        # (each with the class it builds in the scope mmengine builds it in: a wrapper's _scope_ included)
        for dataset, where, path, cls in coco_dataset_classes(cfg):
            if outside_split(where, test_only, split) or path not in categories or \
                    cls.load_data_list is not CocoDataset.load_data_list:
                continue
            metainfo = dataset.get('metainfo') or {}
            given = 'classes' in metainfo
            classes = metainfo['classes'] if given else cls.METAINFO.get('classes')
            if classes is None:
                continue
            if given and isinstance(classes, str):  # mmengine reads a file name as one class name a line
                from mmengine.dataset import BaseDataset
                classes = BaseDataset._load_metainfo(dict(classes=classes))['classes']
            why = coco_classes_mismatch(classes, categories[path], f'{where}.ann_file {path}')
            key = f'{where}.metainfo.classes' if given else \
                f'{where}.metainfo.classes (not given: the default names of {config_type_name(dataset)})'
            if why is not None:
                raise ConfigCheckError(f'{key} {why}')
            unnamed = tuple(c for c in categories[path] if c not in tuple(classes))
            if unnamed:  # mmdet's subset of classes: meant, but say what it drops
                subsets.setdefault((path, len(classes), unnamed), []).append(key)
    finally:
        for (path, named, unnamed), keys in subsets.items():
            print_log(f'{" and ".join(keys)} name{"" if len(keys) > 1 else "s"} {named} of the '
                      f'{len(categories[path])} categories of {path}: the annotations of '
                      f'{", ".join(map(repr, unnamed))} are dropped (those objects are background)',
                      logger='current', level=logging.WARNING)


def _num_classes_keys(node: Any, where: str) -> Iterator[tuple[str, int, str]]:
    """``(config key, value, type name)`` of every integer ``num_classes`` in a model config, as mmdet's
    ``NumClassCheckHook`` finds the heads it checks: not under an ``rpn_head`` (its one class is "object"), nor
    in mmcv's ``VGG`` or mmdet's ``FusedSemanticHead`` (their ``num_classes`` count something else)."""
    if isinstance(node, dict):
        kind = config_type_name(node) if 'type' in node else ''
        if where.endswith('rpn_head') or kind in ('VGG', 'FusedSemanticHead'):
            return
        if isinstance(node.get('num_classes'), int) and not isinstance(node['num_classes'], bool):
            yield f'{where}.num_classes', node['num_classes'], kind
        for key, value in node.items():
            yield from _num_classes_keys(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _num_classes_keys(value, f'{where}[{i}]')


def _dataset_classes(dataset: Any, where: str, scope: str | None) -> Iterator[tuple[tuple, str, str | None]]:
    """The class names of each dataset a loader's ``dataset`` reads, where they come from (its
    ``metainfo.classes``, else its class's ``METAINFO``, else an ``ImageFolderDataset``'s class folders) and the
    class-folder directory they are the folders of (``None`` for names): the dataset itself when it has them, else
    every dataset inside it (a wrapper's ``dataset``, each of ``datasets``: a ``ConcatDataset`` reads them all, and
    mmdet's, or mmengine's with ``ignore_keys='classes'``, takes inner datasets of other classes without a word).
    A dataset whose classes are unknown here (e.g. an image folder that does not exist yet) yields nothing."""
    if not isinstance(dataset, dict):
        return
    metainfo = dataset.get('metainfo') or {}
    # classes=None names none: an ImageFolderDataset labels its class folders then too
    folders = None if metainfo.get('classes') is not None else _image_folder_classes(dataset, scope)
    if folders is not None:
        yield folders[0], f'{where} ({config_type_name(dataset)} without metainfo.classes)', folders[1]
        return
    if 'classes' in metainfo:
        classes, source = metainfo['classes'], f'{where}.metainfo.classes'
        if isinstance(classes, str):  # a file of class names, one a line (mmengine reads it so)
            from mmengine.dataset import BaseDataset
            try:
                classes = BaseDataset._load_metainfo(dict(classes=classes))['classes']
            except (OSError, ValueError):
                return
    else:
        classes, source = _default_classes(dataset, scope), f"{where} ({config_type_name(dataset)}'s classes)"
    if isinstance(classes, (list, tuple)):
        yield tuple(classes), source, None
        return
    scope = _built_in(dataset, scope)  # (what a wrapper holds is built in its _scope_)
    if isinstance(dataset.get('dataset'), dict):
        yield from _dataset_classes(dataset['dataset'], f'{where}.dataset', scope)
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _dataset_classes(inner, f'{where}.datasets.{i}', scope)


class LabelScoring(NamedTuple):
    """How a loader's evaluator reads the dataset's class labels (:func:`_label_scoring`)."""

    compared: bool  # the loader's class count is compared with the heads' (False: a MOT or an unregistered metric)
    label_metrics: tuple[str, ...] = ()  # (beside a MOT metric) the config keys of the metrics that read the labels


def _label_scoring(cfg: Any, loader_key: str, scope: str | None) -> LabelScoring:
    """Whether the class count of a loader (``val_dataloader`` -> ``val_evaluator``, ...) is compared with the
    heads': always for ``train_dataloader``; not for a scored loader whose evaluator has mmdet's
    ``MOTChallengeMetric`` (or a subclass), whose other metrics' config keys are then given (those read the
    dataset's class labels), nor for one whose evaluator has a metric type that is not registered (none given).

    ``MOTChallengeMetric`` writes each ground-truth box with its file ``category_id`` and each predicted track
    without a label; MOT's protocol scores the pedestrians and ignores the distractor categories by id, so the
    dataset reads all of MOT's categories (``MOTChallengeDataset``'s ``METAINFO``, 13) under a 1-class pedestrian
    detector by design: mmdet's MOT configs (ByteTrack, OC-SORT, DeepSORT, ...) do, and run. Its labels never meet
    the heads' outputs. Of an unregistered metric type what it scores is unknown, and mmengine stops on that type,
    naming it, when it builds the evaluator (mmdet's own ``mot20test`` configs write ``'MOTChallengeMetrics'``)."""
    if loader_key == 'train_dataloader':
        return LabelScoring(compared=True)
    try:
        from mmdet.evaluation import MOTChallengeMetric
    except ImportError:
        return LabelScoring(compared=True)
    from automl_mm.registry import METRICS, config_class

    evaluator = loader_key.replace('_dataloader', '_evaluator')
    mot, unknown, others = False, False, []
    for metric, key in _evaluator_cfgs(cfg):
        if key != evaluator and not key.startswith(f'{evaluator}['):
            continue
        cls = config_class(METRICS, metric, scope)  # its _scope_ first, as mmengine builds it
        if not isinstance(cls, type):
            unknown = True
            continue
        if issubclass(cls, MOTChallengeMetric):
            mot = True
        else:
            others.append(f'{key} ({config_type_name(metric)})')
    if mot:
        return LabelScoring(compared=False, label_metrics=tuple(others))
    return LabelScoring(compared=not unknown)


def _warn_mot_label_metrics(loader: dict, key: str, metrics: tuple[str, ...], heads: list,
                            scope: str | None) -> None:
    """A warning for the metrics beside a MOT metric (:func:`_label_scoring`) that score a dataset whose class count
    is not the heads': their per-class scores cover categories no head predicts (a mean over them is diluted)."""
    if not metrics:
        return
    for classes, source, _ in _dataset_classes(loader.get('dataset'), f'{key}.dataset', scope):
        wrong = [f'{head_key}={count}' for head_key, count, _ in heads if count != len(classes)]
        if wrong:
            verb = 'scores' if len(metrics) == 1 else 'score'
            print_log(f'{", ".join(metrics)} {verb} {source}, which names {len(classes)} classes, but '
                      f'{", ".join(wrong)}: the classes no head predicts score 0 and pull down their mean (the MOT '
                      'metric beside them needs those categories; read the per-class scores)',
                      logger='current', level=logging.WARNING)
            return


def _check_num_classes(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every ``num_classes`` of the model's heads equals the class count of each dataset the run reads (the check
    of mmdet's ``NumClassCheckHook``, which no config enables, made before any data is read and for the project's
    classifiers too): a 10-class set under an 11-output head trained silently, one output never a label, and 9
    outputs failed only deep in training. A dataset's class count is its ``metainfo.classes``, else its class's
    ``METAINFO`` (as mmengine's ``BaseDataset`` merges them). A scored loader whose evaluator has mmdet's MOT
    metric (:func:`_label_scoring`) reads MOT's categories by design and is not compared; its other metrics that
    score the class labels (mmdet's qdtrack config: a classwise ``CocoVideoMetric``) get a warning."""
    heads = list(_num_classes_keys(cfg.get('model'), 'model'))
    if not heads:
        return
    scope = config_scope(cfg)
    for loader, key in _loader_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        scoring = _label_scoring(cfg, key, scope)
        if not scoring.compared:
            _warn_mot_label_metrics(loader, key, scoring.label_metrics, heads, scope)
            continue
        for classes, source, folder in _dataset_classes(loader.get('dataset'), f'{key}.dataset', scope):
            for head_key, num_classes, kind in heads:
                if num_classes == len(classes):
                    continue
                head = f'{head_key}={num_classes}{f" ({kind})" if kind else ""}'
                if folder is None:
                    raise ConfigCheckError(
                        f'{head}, but {source} names {len(classes)} classes: set num_classes={len(classes)}, or '
                        f'give the data set the {num_classes} class names of the head')
                shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
                raise ConfigCheckError(
                    f'{head}, but {source} reads {len(classes)} class folders in {folder} ({shown}; hidden folders '
                    f'are not classes): set num_classes={len(classes)}, or give that folder the {num_classes} class '
                    'folders of the head')


def _built_classes(dataset: Any, where: str, scope: str | None) -> tuple[list | tuple, str] | None:
    """``(metainfo['classes'], where they come from)`` of the dataset ``dataset`` builds, as it builds them (a
    list or a tuple, as given, but always a tuple for automl_mm's classification datasets; a file of names: a
    list), or ``None`` when they are unknown here. A wrapper has its
    inner dataset's (a ``ConcatDataset``: its first's, as mmengine's keeps)."""
    if not isinstance(dataset, dict):
        return None
    inner = dataset.get('dataset') if isinstance(dataset.get('dataset'), dict) else \
        (dataset.get('datasets') or [None])[0] if isinstance(dataset.get('datasets'), (list, tuple)) else None
    if 'metainfo' not in dataset and inner is not None:
        inner_where = f'{where}.dataset' if isinstance(dataset.get('dataset'), dict) else f'{where}.datasets.0'
        found = _built_classes(inner, inner_where, _built_in(dataset, scope))  # (built in the wrapper's _scope_)
        return None if found is None else (found[0], found[1] if found[1].startswith(inner_where) else
                                           f'{inner_where}: {found[1]}')
    given = (dataset.get('metainfo') or {}).get('classes')
    if isinstance(given, str):  # a file of class names, one a line: mmengine reads it into a list
        from mmengine.dataset import BaseDataset
        try:
            given = BaseDataset._load_metainfo(dict(classes=given))['classes']
        except (OSError, ValueError):
            return None
    if isinstance(given, (list, tuple)):
        from automl_mm.datasets.splits import SingleLabelMixin

        dataset_cls = _dataset_class(dataset, scope)
        if isinstance(dataset_cls, type) and issubclass(dataset_cls, SingleLabelMixin):
            given = tuple(given)  # automl_mm's classification datasets store given names as a tuple
        return given, 'its metainfo.classes'
    folders = _image_folder_classes(dataset, scope)  # (a tuple: the dataset stores them so)
    if folders is not None:
        return folders[0], f'its class folders in {folders[1]}'
    default = _default_classes(dataset, scope)
    if 'classes' not in (dataset.get('metainfo') or {}) and isinstance(default, (list, tuple)):
        return default, f"{config_type_name(dataset)}'s default names"
    return None


def _shown(classes: list | tuple) -> str:
    return repr(classes) if len(classes) <= 10 else f'{type(classes).__name__} of {len(classes)}: ' + \
        ', '.join(map(repr, classes[:10])) + ', ...'


def _check_concat_classes(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every inner dataset of a ``ConcatDataset`` (mmengine's or mmdet's) has the class names of the first, in its
    order and of its type (list / tuple), unless its ``ignore_keys`` has ``'classes'``; for the inner datasets whose
    names are known here (:func:`_built_classes`).

    mmengine's refuses others when it is built (``The meta information of the 2-th dataset does not match ...``,
    naming no key nor names); mmdet's takes them, labels each dataset by its own names (label ``k`` is another class
    in each) and gives the loader a list of metainfos, on which ``CocoMetric`` failed at the end of the first
    validation, after training (``list indices must be integers``). mmdet's under a ``MultiDatasetsEvaluator``
    (which scores each dataset with its own names) is left alone."""
    from mmengine.dataset import ConcatDataset

    scope = config_scope(cfg)
    for loader, key in _loader_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        evaluator = cfg.get(key.replace('_dataloader', '_evaluator')) if key in ('val_dataloader',
                                                                                   'test_dataloader') else None
        # (each in the scope mmengine builds it in: its _scope_, else its wrapper's, else the config's)
        for dataset, where, built_in in scoped_datasets(loader.get('dataset'), f'{key}.dataset', scope):
            wrapper = _dataset_class(dataset, built_in)
            if not (isinstance(wrapper, type) and issubclass(wrapper, ConcatDataset)) or \
                    not isinstance(dataset.get('datasets'), (list, tuple)):
                continue
            is_mmengine = wrapper.__init__ is ConcatDataset.__init__
            if not is_mmengine and not wrapper.__module__.startswith('mmdet.'):
                continue  # another library's wrapper: its own rules
            ignored = dataset.get('ignore_keys')
            if 'classes' in ([ignored] if isinstance(ignored, str) else ignored or []):
                continue
            if not is_mmengine and config_type_name(evaluator) == 'MultiDatasetsEvaluator':
                continue
            first = None
            for i, inner in enumerate(dataset['datasets']):
                found = _built_classes(inner, f'{where}.datasets.{i}', built_in)
                if found is None:
                    continue
                if first is None:
                    first = i, found
                    continue
                (j, (classes_j, source_j)), (classes, source) = first, found
                if type(classes) is type(classes_j) and classes == classes_j:
                    continue
                if tuple(classes) == tuple(classes_j):
                    what = (f'the same {len(classes)} class names as {where}.datasets.{j} '
                            f'({config_type_name(dataset["datasets"][j])}), but as {a_type(classes)} '
                            f'({source}), not {a_type(classes_j)} ({source_j})')
                    fix = 'Give them as tuples in both'
                else:
                    differ = next((k for k, (a, b) in enumerate(zip(classes, classes_j)) if a != b),
                                  min(len(classes), len(classes_j)))
                    what = (f'class names {_shown(classes)} ({source}), but {where}.datasets.{j} '
                            f'({config_type_name(dataset["datasets"][j])}) has {_shown(classes_j)} ({source_j}); '
                            f'label {differ} is '
                            f'{repr(classes[differ]) if differ < len(classes) else "none"} in one and '
                            f'{repr(classes_j[differ]) if differ < len(classes_j) else "none"} in the other')
                    fix = 'Give every inner dataset the same class names in the same order'
                does = ("mmengine's ConcatDataset refuses this when the loader is built, naming neither key nor "
                        'names' if is_mmengine else
                        "mmdet's ConcatDataset takes it: each dataset keeps its own label numbers under one model, "
                        'and the loader\'s metainfo becomes a list, on which CocoMetric fails at the end of the first '
                        'validation, after training')
                raise ConfigCheckError(
                    f'{where}.datasets.{i} ({config_type_name(inner)}) has {what}: {does}. {fix} (or set '
                    f"{where}.ignore_keys=['classes'] if the labels of the same number are the same classes)")


def check_accuracy_topk(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """No search reads an ``Accuracy`` top-k above the model's class count (the smallest ``num_classes`` of its
    heads); other evaluators with one get a warning. A metric is an ``Accuracy`` where the class it builds (resolved
    in the config's scope) runs automl_mm's ``Accuracy.compute_metrics``
    (:func:`~automl_mm.engine.preflight_metrics.reporting_class`): a user's subclass under another name is, a user's
    own class registered as ``'Accuracy'`` is not.

    Top-k of C < k classes counts every image as correct: an OHL reward on ``accuracy/top11`` of a 10-class head
    read a constant 100 % for every copy (every advantage 0, θ never moved), without a word. A val / test metric
    that only reports it (the shipped ``topk=(1, 5)`` over a 4-class image folder) is harmless and keeps running,
    with a warning naming it, once for the evaluator keys of the same ``topk`` (``test_evaluator = val_evaluator``:
    both), also where a later reward / search evaluator is refused.

    Raises:
        ConfigCheckError: for a reward or search evaluator (``custom_hooks[i].reward_evaluator``,
            ``train_cfg.search_evaluator``, ``reward_evaluator``, ``search_evaluator``), naming its key, its
            ``topk`` and the head's ``num_classes`` key.
    """
    heads = [(key, count) for key, count, _ in _num_classes_keys(cfg.get('model'), 'model')]
    if not heads:
        return
    head_key, classes = min(heads, key=lambda head: head[1])

    def what(keys: list[str], topk: str, k: int) -> str:  # (topk: its repr)
        return (f'{".topk and ".join(keys)}.topk={topk} but {head_key}={classes}: a top-{k} of {classes} classes '
                'counts every image as correct (a constant 100 %')

    from .preflight_metrics import reporting_class

    warned: dict[tuple, list[str]] = {}  # one metric config of several evaluators (test_evaluator = val_evaluator)
    try:
        for metric, key in _evaluator_cfgs(cfg):
            if outside_split(key, test_only, split) or \
                    (reporting_class(metric, config_scope(cfg)) or ('', ''))[0] != 'Accuracy':
                continue
            topk = metric.get('topk', (1, ))
            above = [k for k in ((topk, ) if isinstance(topk, int) else topk) if isinstance(k, int) and k > classes]
            if not above:
                continue
            if 'reward_evaluator' in key or 'search_evaluator' in key:
                raise ConfigCheckError(f'{what([key], repr(topk), above[0])}, which no search can follow); use k <= '
                                       f'{classes}')
            warned.setdefault((repr(topk), above[0]), []).append(key)
    finally:
        for (topk, k), keys in warned.items():
            print_log(f'{what(keys, topk, k)}); it is reported as such', logger='current', level=logging.WARNING)


def check_searched_topk(cfg: Any, metric_key: Any, key_name: str, evaluator: Any, evaluator_key: str) -> None:
    """A search's ``metric_key`` (an OHL ``reward_key``, a NAS ``train_cfg.metric_key``) that is an ``Accuracy``
    top-k above the model's class count (the smallest ``num_classes`` of its heads) of the evaluator the search
    reads (an ``Accuracy`` as :func:`check_accuracy_topk` finds it; its keys under the metric's ``prefix``, else its
    class's ``default_prefix``), wherever that comes from: :func:`check_accuracy_topk` refuses it by the evaluator's
    config key, so a
    search scoring with ``val_evaluator`` (the fallback when no reward / search evaluator is set, as in the shipped
    OHL configs) got only the val warning, and ``reward_key='accuracy/top11'`` of 10 classes read a constant 100 %
    for every copy. (A reward / search evaluator's top-k above the count is refused by :func:`check_accuracy_topk`
    whatever the key.)

    Args:
        metric_key: The key the search ranks by, e.g. ``'accuracy/top5'``.
        key_name: Its config key, named in the error (``'custom_hooks[0].reward_key'``).
        evaluator: The evaluator config the search resolved (a metric, a list, or mmengine's ``Evaluator`` dict).
        evaluator_key: Its config key (``'val_evaluator'``).

    Raises:
        ConfigCheckError: naming both keys, the ``topk`` and the head's ``num_classes`` key.
    """
    from .preflight_walk import evaluator_metrics

    if 'reward_evaluator' in evaluator_key or 'search_evaluator' in evaluator_key:
        return  # refused by check_accuracy_topk, whatever the key
    heads = [(key, count) for key, count, _ in _num_classes_keys(cfg.get('model'), 'model')]
    if not heads or not isinstance(metric_key, str) or not evaluator:
        return
    head_key, classes = min(heads, key=lambda head: head[1])
    from .preflight_metrics import reporting_class

    for metric in evaluator_metrics(evaluator):
        found = reporting_class(metric, config_scope(cfg)) if isinstance(metric, dict) else None
        if found is None or found[0] != 'Accuracy':
            continue
        topk = metric.get('topk', (1, ))
        prefix = found[1]
        for k in (topk, ) if isinstance(topk, int) else topk:
            if isinstance(k, int) and k > classes and metric_key == f'{prefix}/top{k}':
                raise ConfigCheckError(
                    f'{key_name}={metric_key!r} is the top-{k} accuracy of {evaluator_key} (topk={topk!r}) but '
                    f'{head_key}={classes}: a top-{k} of {classes} classes counts every image as correct (a '
                    f'constant 100 %, which no search can follow); use k <= {classes}')
