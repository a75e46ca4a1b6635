"""The label order a dataset gives its categories against the order its metric scores them (part of
:func:`automl_mm.engine.preflight.check_config`; split from :mod:`automl_mm.engine.preflight_metric_order`, whose
probes it shares).

:func:`check_label_order`: mmdet's ``CocoMetric`` maps label i to the i-th category of its ``ann_file`` (by
ascending id with ``sort_categories=True``), the dataset labels them in its own file's order (``CocoDataset``) or
by id (``Objects365V1Dataset``): where the two differ every prediction is credited to another class (an exact box of
'a' on a file listing ``[2: 'b', 1: 'a']`` scored bbox_mAP 0.0 under ``sort_categories=True`` over a
``CocoDataset``), silently.
"""
from __future__ import annotations

import functools
import os.path as osp
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_metric_order import (
    _PROBE_COCO,
    _PROBE_SKIPPED,
    Warnings,
    _format_only,
    _keys,
    _loader_classes,
    _metric_class,
    _process_exact_boxes,
    _run_probe,
    keep_warning,
    probe_metric,
    say_warnings,
)
from .preflight_probe_folder import probe_error
from .preflight_walk import SPLITS, ConfigCheckError, evaluator_metrics


def _dataset_sorts_categories(cls: type) -> tuple[bool | None, str]:
    """Whether the COCO dataset class ``cls`` labels the categories of its ``ann_file`` by ascending id (mmdet's
    ``Objects365V1Dataset`` sorts them before its ``cat_ids``, as ``CocoMetric(sort_categories=True)`` does) rather
    than in the file's order (``CocoDataset``, ``Objects365V2Dataset``: ``COCO.get_cat_ids`` over
    ``dataset['categories']``): its ``load_data_list`` run (``lazy_init=True``, classes ('b', 'a')) on
    :data:`_PROBE_COCO`, categories listed [2: 'b', 1: 'a'], gives ``cat_ids`` [1, 2] (``True``) or [2, 1]
    (``False``) (a user's subclass is judged by what its load does, not by its name). Where it cannot be run here
    (its ``__init__`` needs more, as mmdet's ``V3DetDataset`` its label file), a class whose ``load_data_list`` and
    ``COCOAPI`` are ``CocoDataset``'s labels them in the file's order (``False``).

    Returns:
        ``(True / False / None, why)``: ``None`` where it cannot be told, ``why`` then saying what the probe met
        (``"TypeError: __init__() missing 1 required positional argument: 'extra'"``, ``'its load gave cat_ids
        [7]'``); ``''`` otherwise.
    """
    if cls in _SORTS_CACHE:
        return _SORTS_CACHE[cls]
    from mmdet.datasets import CocoDataset

    def run(path: str) -> Any:
        dataset = cls(ann_file=path, metainfo=dict(classes=('b', 'a')), data_prefix=dict(img=''), pipeline=[],
                      lazy_init=True, test_mode=True)
        dataset.load_data_list()
        return [int(i) for i in dataset.cat_ids]

    ids, err = _run_probe(_PROBE_COCO, run)
    if ids in ([1, 2], [2, 1]):
        found = ids == [1, 2], ''
    elif cls.load_data_list is CocoDataset.load_data_list and cls.COCOAPI is CocoDataset.COCOAPI:
        found = False, ''  # mmdet's load: COCO.get_cat_ids over dataset['categories'], the file's order
    else:
        found = None, probe_error(err) if err is not None else f'its load gave cat_ids {ids}'
    _SORTS_CACHE[cls] = found
    return found


_SORTS_CACHE: dict[type, tuple[bool | None, str]] = {}  # (each dataset class probed once a process)


#: :data:`_PROBE_COCO` with a's box alone (b, without boxes, is left out of the mean: bbox_mAP is a's AP).
_LABEL_PROBE_COCO = dict(_PROBE_COCO, annotations=_PROBE_COCO['annotations'][:1])


def _metric_sorts_categories(cls: type, metric: dict) -> tuple[bool | None, str]:
    """Whether the COCO metric class ``cls`` (a user's: built with ``metric``'s other arguments, ``sort_categories``
    included, on :data:`_LABEL_PROBE_COCO`, categories listed [2: 'b', 1: 'a'], classes ('b', 'a')) maps label 0 to the
    category of the lower id (``True``: ``sort_categories=True`` in mmdet 3.3) or to the file's first (``False``):
    a's exact box scores bbox_mAP 1.0 as label 0 and 0.0 as label 1, or the reverse.

    Returns:
        ``(True / False / None, why)``: ``None`` where it cannot be built or evaluated here, or scores neither way,
        ``why`` then saying what the probe met (``"KeyError: 'base_classes'"``, ``'its bbox_mAP of ... was 0.5 as
        label 0 and 0.5 as label 1'``); ``''`` otherwise.
    """
    errors: list[Exception] = []

    def run(label: int) -> Any:
        def one(path: str) -> Any:
            probe = probe_metric(cls, ann_file=path, metric='bbox',
                                 **{k: v for k, v in metric.items() if k not in _PROBE_SKIPPED})
            probe.dataset_meta = dict(classes=('b', 'a'))
            _process_exact_boxes(probe, {'annotations': [_PROBE_COCO['annotations'][0]]}, 1, label=label)
            return probe.compute_metrics(probe.results).get('bbox_mAP')
        value, err = _run_probe(_LABEL_PROBE_COCO, one)
        errors.extend([err] if err is not None else [])
        return round(float(value), 6) if isinstance(value, (int, float)) else value

    scores = (run(0), run(1))
    if scores == (1, 0) or scores == (0, 1):
        return scores == (1, 0), ''
    if errors:
        return None, probe_error(errors[0])
    if not all(isinstance(v, (int, float)) for v in scores):
        return None, f'it reported no bbox_mAP for it (got {scores[0]!r} and {scores[1]!r})'
    return None, (f"its bbox_mAP of the exact box of 'a' was {scores[0]:g} as label 0 and {scores[1]:g} as label 1, "
                  'neither 1 and 0 (by ascending id) nor 0 and 1 (in the file\'s order)')


def _scored_pairs(cfg: Any, test_only: bool, split: str) -> list[tuple[Any, str, Any, str]]:
    """``(evaluator, its key, dataloader, its key)`` of each evaluator and the loader whose results it scores:
    ``{split}_evaluator`` and ``{split}_dataloader`` of each split of :data:`SPLITS` (``test_only``: ``split``'s
    alone), and without ``test_only`` an OHL hook's reward evaluator and loader and a PC-NAS / CR-NAS loop's search
    ones as :class:`~automl_mm.engine.evaluate.HeldOutEvaluator` resolves them (``first_configured``); a pair
    already listed (a fallback to the val keys) is not repeated."""
    from .evaluate import first_configured, held_out_keys

    pairs = [(cfg.get(f'{s}_evaluator'), f'{s}_evaluator', cfg.get(f'{s}_dataloader'), f'{s}_dataloader')
             for s in ((split, ) if test_only else SPLITS)]
    if test_only:
        return pairs
    held: list[tuple[dict, str, str]] = [
        (hook, f'custom_hooks[{i}].reward', 'reward') for i, hook in enumerate(cfg.get('custom_hooks') or [])
        if isinstance(hook, dict) and config_type_name(hook) == 'OHLHook']
    train_cfg = cfg.get('train_cfg') or {}
    if isinstance(train_cfg, dict) and config_type_name(train_cfg) in ('PCNASLoop', 'CRNASLoop'):
        held.append((train_cfg, 'train_cfg.search', 'search'))
    for owner, prefix, purpose in held:
        loaders, evaluators = held_out_keys(purpose)
        name = prefix.rsplit('.', 1)[-1]
        evaluator, evaluator_key = first_configured(cfg, owner.get(f'{name}_evaluator'), f'{prefix}_evaluator',
                                                    evaluators)
        loader, loader_key = first_configured(cfg, owner.get(f'{name}_dataloader'), f'{prefix}_dataloader', loaders)
        if evaluator_key and loader_key and all((evaluator_key, loader_key) != p[1::2] for p in pairs):
            pairs.append((evaluator, evaluator_key, loader, loader_key))
    return pairs


def check_label_order(cfg: Any, scope: str | None, categories: dict[str, list[tuple[Any, Any]]],
                      test_only: bool = False, split: str = 'test') -> None:
    """Refuse a COCO metric whose label order is not its dataset's: mmdet's ``CocoMetric`` maps label ``i`` to its
    ``cat_ids[i]``, the categories of its own ``ann_file`` named by the dataset's classes, in the file's order, or by
    ascending id with ``sort_categories=True`` (mmdet 3.3 ``coco_metric.py``, ``__init__``); the dataset labels
    category ``cat_ids[i]`` of its own ``ann_file`` as ``i``, in the file's order (``CocoDataset``,
    ``Objects365V2Dataset``) or by ascending id (``Objects365V1Dataset``; a user's class as its ``load_data_list``
    does, :func:`_dataset_sorts_categories`). Where the two id lists differ (a file listing [2: 'b', 1: 'a'] under
    ``CocoMetric(sort_categories=True)`` and a ``CocoDataset``; ``Objects365V1Dataset`` under a plain
    ``CocoMetric``; metric and dataset files listing their categories in other orders) every prediction is credited
    to another class (a metric class of the user's labels as :func:`_metric_sorts_categories` finds it does, else
    by its ``sort_categories``): a box of 'a' predicted exactly scores bbox_mAP 0.0, not 1.0, silently. Checked for
    each evaluator and the loader it scores (:func:`_scored_pairs`: val, test, OHL reward, NAS search), every COCO
    dataset under wrappers. Not checked for ``LVISMetric`` (its own loading) or ``format_only`` metrics, nor where
    the loader's class names or a dataset's order are not known here: then a warning (mmengine's ``print_log``,
    once a call and cause, :func:`~automl_mm.engine.preflight_metric_order.keep_warning`) names the dataset's keys
    and type, the evaluators' keys and why (its class names unknown; a user's class that
    cannot be built and loaded on the probe's file, with the error; mmdet's own that cannot, LVIS without the lvis
    package and the panoptic sets, are not warned of); a user's metric class whose labels its probe cannot find
    (:func:`_metric_sorts_categories`: it cannot be built or evaluated on the probe's file, or scores neither way)
    is taken to label as its ``sort_categories`` says, with a warning (once a call and cause) naming every key of
    the metric and its type and why. Nor is a dataset whose labels are the metric's whatever
    those: one reading the metric's file where that lists its categories by ascending id (COCO's own files: either
    order is the file's), or orders them as the metric does (mmdet's ``V3DetDataset``, whose names come from its
    label file, under a plain ``CocoMetric`` of its file).

    Args:
        categories: ``{ann_file: [(category id, name), ...]}`` in the file's order, as :func:`check_category_order`.
        test_only, split: check only ``{split}_evaluator`` / ``{split}_dataloader``.

    Raises:
        ConfigCheckError: naming the evaluator's key and type, the dataset's key and type, both files, both orders
            of category ids, and what to change.
    """
    try:
        import mmdet.evaluation.metrics  # noqa: F401
    except ImportError:
        return
    pending: Warnings = {}  # (said once a call, naming every key of one cause: keep_warning)

    def unchecked(dataset: dict, where: str, key: str, metric: dict, why: str) -> None:
        """Keep the warning that ``where``'s label order was not compared with the metric's at ``key``."""
        said = ('unchecked', config_type_name(dataset), config_type_name(metric), why)
        keep_warning(pending, said, (where, key), functools.partial(_unchecked_message, *said[1:]))

    def unprobed(key: str, metric: dict, cls: type, why: str) -> None:
        """Keep the warning that the label order of a user's metric class was not found by the probe."""
        said = ('unprobed', config_type_name(metric), metric['ann_file'], cls, why, bool(metric.get('sort_categories')))
        keep_warning(pending, said, key, functools.partial(_unprobed_message, *said[1:]))

    try:
        for pair in _scored_pairs(cfg, test_only, split):
            _check_pair_labels(*pair, scope, categories, unchecked, unprobed)
    finally:
        say_warnings(pending)


def _unchecked_message(dataset_type: str, metric_type: str, why: str, pairs: list[tuple[str, str]]) -> str:
    """The warning of :func:`check_label_order` about datasets whose label order was not checked against the
    metrics they are scored by (``pairs``: the dataset's and the evaluator's keys)."""
    datasets, s = _keys(list(dict.fromkeys(where for where, _ in pairs)))
    return (f'{datasets} ({dataset_type}): the order in which {"it labels its" if s else "they label their"} '
            f'categories was not checked against {_keys(list(dict.fromkeys(key for _, key in pairs)))[0]} '
            f'({metric_type}): {why}. Where the two order them differently every prediction is credited to another '
            'class, silently')


def _unprobed_message(metric_type: str, ann_file: str, cls: type, why: str, flag: bool, wheres: list[str]) -> str:
    """The warning of :func:`check_label_order` about a user's metric class whose label order its probe did not
    find (at config keys ``wheres``)."""
    keys, s = _keys(wheres)
    return (f'{keys} ({metric_type}): the order in which {"it maps" if s else "they map"} labels to the categories of '
            f'{ann_file} was not found here: {cls.__name__}, probed on a two-category file listed '
            f"[2: 'b', 1: 'a'] for whether it maps label 0 to the lower id or to the file's first, gave no "
            f"answer ({why}); it is taken to label them as its sort_categories={flag} says "
            f"({'by ascending id' if flag else 'in the file' + chr(39) + 's order'}), as mmdet's CocoMetric "
            'does. Where it labels them otherwise than its datasets, every prediction is credited to another '
            'class, silently')


def _check_pair_labels(evaluator: Any, evaluator_key: str, loader: Any, loader_key: str, scope: str | None,
                       categories: dict[str, list[tuple[Any, Any]]], unchecked: Any, unprobed: Any) -> None:
    """:func:`check_label_order` of one evaluator and the loader it scores; ``unchecked`` / ``unprobed`` keep its
    warnings."""
    from mmdet.evaluation.metrics import CocoMetric, LVISMetric

    from .preflight_classes import _built_classes
    from .preflight_walk import loader_coco_dataset_classes

    metrics = evaluator_metrics(evaluator)
    listed = isinstance(evaluator, (list, tuple)) or (isinstance(evaluator, dict) and 'metrics' in evaluator)
    classes = _loader_classes(loader, scope)
    for j, metric in enumerate(metrics):
        if not isinstance(metric, dict) or not isinstance(metric.get('ann_file'), str) or _format_only(metric) \
                or not categories.get(metric['ann_file']):
            continue
        cls = _metric_class(metric, scope)
        if not isinstance(cls, type) or not issubclass(cls, CocoMetric) or issubclass(cls, LVISMetric):
            continue
        key = f'{evaluator_key}[{j}]' if listed else evaluator_key
        file_ids = [i for i, _ in categories[metric['ann_file']]]
        # (the loader's names unknown: every category of the file, which the ones named are among)
        metric_ids = [i for i, n in categories[metric['ann_file']] if classes is None or n in classes]
        metric_sorts = None  # (a user's class probed only where its file is out of id order: it matters there)
        if not cls.__module__.startswith('mmdet.') and all(isinstance(i, int) for i in metric_ids) \
                and metric_ids != sorted(metric_ids):
            metric_sorts, why = _metric_sorts_categories(cls, metric)
            if metric_sorts is None:
                unprobed(key, metric, cls, why)
        metric_sorts = bool(metric.get('sort_categories')) if metric_sorts is None else metric_sorts
        by_id = all(isinstance(i, int) for i in file_ids) and file_ids == sorted(file_ids)
        # (each dataset with the class it builds in the scope mmengine builds it in, a wrapper's _scope_ included)
        for dataset, where, path, dataset_cls in loader_coco_dataset_classes(loader, f'{loader_key}.dataset', scope):
            sorts, why = _dataset_sorts_categories(dataset_cls)
            # the metric's file, listed by id (both orders are the file's) or ordered as the metric orders it:
            # the same labels whatever the class names and (listed by id) whatever the dataset's class does
            alike = osp.realpath(path) == osp.realpath(metric['ann_file']) and (by_id or sorts == metric_sorts)
            if classes is None:  # (the loader's: a wrapper's are its first inner dataset's)
                if not alike:
                    unchecked(dataset, where, key, metric, 'its class names are not known here (no '
                              'metainfo.classes, and its type names none by default)')
                continue
            own = _built_classes(dataset, where, scope)
            names = own[0] if own is not None and isinstance(own[0], (list, tuple)) else classes
            if sorts is None and why and not alike and not dataset_cls.__module__.startswith('mmdet.'):
                # (mmdet's own that cannot be probed here: LVIS without the lvis package, panoptic sets, whose
                # usual metrics are LVISMetric and CocoPanopticMetric)
                unchecked(dataset, where, key, metric, f'{dataset_cls.__name__} could not be built and loaded '
                          f'here on a two-category file to see whether it labels them in the file\'s order or by '
                          f'ascending id ({why})')
            if sorts is None or not categories.get(path):
                continue
            ids = [i for i, n in categories[path] if n in names]
            if not all(isinstance(i, int) for i in ids + metric_ids):
                continue
            ids, scored_ids = sorted(ids) if sorts else ids, sorted(metric_ids) if metric_sorts else metric_ids
            if ids == scored_ids or sorted(ids) != sorted(scored_ids):
                continue  # the same order; or other categories (other class names: preflight_classes' checks)
            same = osp.realpath(path) == osp.realpath(metric['ann_file'])
            dataset_order = 'by ascending id' if sorts else "in the file's order"
            flag = ' (sort_categories=True)' if metric.get('sort_categories') else ''
            metric_order = f'by ascending id{flag}' if metric_sorts else "in the file's order"
            if same and metric_sorts and not flag:  # a user's metric class that sorts them itself
                fix = (f"list {path}'s categories by ascending id, or use a dataset type that sorts them as the "
                       "metric does (mmdet's Objects365V1Dataset)")
            elif same and metric_sorts:
                fix = (f"list {path}'s categories by ascending id, or drop {key}.sort_categories, or use a "
                       "dataset type that sorts them as the metric does (mmdet's Objects365V1Dataset)")
            elif same:
                fix = (f"set {key}.sort_categories=True (as mmdet's objects365v1_detection.py does), or list "
                       f"{path}'s categories by ascending id")
            else:
                fix = (f"give {key}.ann_file and {where}.ann_file the same categories in the same order (or the "
                       'same file)')
            raise ConfigCheckError(
                f'{key} ({config_type_name(metric)}) labels categories {metric_order} of {metric["ann_file"]}: '
                f'{scored_ids}, but {where} ({config_type_name(dataset)}) labels them {dataset_order} of {path}: '
                f'{ids}; label i is scored as the metric\'s i-th category, so every prediction would be credited '
                f'to another class (every AP, bbox_mAP too, silently wrong). To fix it, {fix}')
