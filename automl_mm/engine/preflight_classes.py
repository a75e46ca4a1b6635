"""Class names and counts against the data, checked before any data is read (part of
:func:`automl_mm.engine.preflight.check_config`): a COCO dataset's ``metainfo.classes`` against its annotation
file's categories (:func:`coco_classes_mismatch`, :func:`check_coco_classes`), and every ``num_classes`` of the
model's heads against each dataset's class count (:func:`check_num_classes`)."""
from __future__ import annotations

import logging
import os.path as osp
from collections.abc import Iterator
from typing import Any

from mmengine.logging import print_log

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, _coco_datasets, _loader_cfgs


def _dataset_class(dataset: dict, scope: str | None) -> type | None:
    """The registered dataset class ``dataset`` builds, ``None`` when it cannot be resolved here."""
    from automl_mm.registry import DATASETS, registered_class

    kind = dataset.get('type')
    try:
        return kind if isinstance(kind, type) else registered_class(DATASETS, kind, scope)
    except KeyError:
        return None


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
    data_root, prefix = dataset.get('data_root'), (dataset.get('data_prefix') or dict(img_path='')).get('img_path')
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


def _check_coco_classes(cfg: Any, categories: dict[str, list[str]], test_only: bool) -> None:
    """Each COCO dataset's class names against the categories of its annotation file (``{path: names}``, the files
    :func:`check_config` loaded); a dataset without ``metainfo.classes`` has its class's defaults (mmdet's
    ``CocoDataset``: the 80 COCO names)."""
    scope = cfg.get('default_scope', 'automl_mm')
    for dataset, where, path in _coco_datasets(cfg):
        if (test_only and not where.startswith('test_')) or path not in categories:
            continue
        metainfo = dataset.get('metainfo') or {}
        given = 'classes' in metainfo
        classes = metainfo['classes'] if given else _default_classes(dataset, scope)
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
        unnamed = [c for c in categories[path] if c not in tuple(classes)]
        if unnamed:  # mmdet's subset of classes: meant, but say what it drops
            print_log(f'{key} names {len(classes)} of the {len(categories[path])} categories of {path}: the '
                      f'annotations of {", ".join(map(repr, unnamed))} are dropped (those objects are background)',
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
    if isinstance(dataset.get('dataset'), dict):
        yield from _dataset_classes(dataset['dataset'], f'{where}.dataset', scope)
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _dataset_classes(inner, f'{where}.datasets.{i}', scope)


def _check_num_classes(cfg: Any, test_only: bool) -> None:
    """Every ``num_classes`` of the model's heads equals the class count of each dataset the run reads (the check
    of mmdet's ``NumClassCheckHook``, which no config enables, made before any data is read and for the project's
    classifiers too): a 10-class set under an 11-output head trained silently, one output never a label, and 9
    outputs failed only deep in training."""
    heads = list(_num_classes_keys(cfg.get('model'), 'model'))
    if not heads:
        return
    scope = cfg.get('default_scope', 'automl_mm')
    for loader, key in _loader_cfgs(cfg):
        if test_only and not key.startswith('test_'):
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
