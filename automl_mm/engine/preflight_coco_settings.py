"""COCO metric settings mmdet takes when it builds the metric and stops or mislabels on only at the first evaluation
(part of :func:`automl_mm.engine.preflight.check_config`; split from
:mod:`automl_mm.engine.preflight_coco_counts`, as :mod:`automl_mm.engine.preflight_lvis` is).

Which metric configs run mmdet's ``CocoMetric`` evaluation (:func:`coco_compute_class`: ``CocoMetric``,
``UnroundedCocoMetric``, ``OVCocoMetric``, ``CocoVideoMetric``, ``CocoOccludedSeparatedMetric``, a user's subclass
that keeps mmdet's ``compute_metrics``), and the checks of their ``iou_thrs`` and ``classwise`` settings: an
``iou_thrs`` that is not a one-dimensional numpy array stops pycocotools (:func:`check_coco_iou_thrs`); mmdet's
per-class table (``classwise=True``) reads its ``mAP_50`` / ``mAP_75`` columns at the first and sixth of
``iou_thrs``: fewer than six stop it (:func:`check_coco_classwise_iou_thrs`), others than 0.5 / 0.75 there mislabel
it (:func:`warn_classwise_iou_columns`); ``OVCocoMetric`` reads ``base_ap50`` / ``novel_ap50`` at the first of
``iou_thrs`` (:func:`warn_ov_ap50_threshold`); a ``VOCMetric``'s mAP asserts a float or list ``iou_thrs``
(:func:`check_voc_iou_thrs`). Keys read at detection counts or IoU thresholds a metric does not evaluate:
:mod:`automl_mm.engine.preflight_coco_counts`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from mmengine.logging import print_log

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, _evaluator_cfgs, outside_split


def check_coco_iou_thrs(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every ``CocoMetric`` / ``UnroundedCocoMetric`` that evaluates with COCOeval (bbox, segm, proposal) leaves
    ``iou_thrs`` to mmdet (``None``: the array 0.50:0.95) or gives a one-dimensional array of at least one threshold:
    mmdet sets ``params.iouThrs`` to it as given, and pycocotools takes its ``len()``, loops over its entries and
    compares it with ``==`` to 0.5 and 0.75 (``np.where``).

    Raises:
        ConfigCheckError: naming the metric's ``iou_thrs`` key and value. A float stopped the first evaluation with
            ``TypeError`` (no ``len()``), a list or tuple with ``ValueError`` (``Calling nonzero on 0d arrays``),
            after training up to it; ``proposal_fast`` takes either. An array that is not one-dimensional with at
            least one threshold (pycocotools loops over it) stopped there too: 0-d ``TypeError``, 2-D
            ``ValueError``, empty ``IndexError``.
    """
    import numpy as np

    from .preflight_walk import config_scope

    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split) or not _runs_coco_compute(metric, cfg):
            continue
        thrs = metric.get('iou_thrs')
        kinds = metric.get('metric', 'bbox')
        kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
        evaluated = [kind for kind in kinds if kind in ('bbox', 'segm', 'proposal')]
        if thrs is None or not evaluated:
            continue
        origin = coco_metric_origin(metric, config_scope(cfg))
        if isinstance(thrs, np.ndarray):
            if thrs.ndim == 1 and thrs.size:
                continue
            error = 'TypeError' if thrs.ndim == 0 else 'ValueError' if thrs.size else 'IndexError'
            raise ConfigCheckError(
                f"{key}.iou_thrs={thrs.tolist()!r}: {origin} hands it as given to "
                f'pycocotools\' COCOeval (for {", ".join(map(repr, evaluated))}), which loops over it as one IoU '
                'threshold per entry, so it must be a one-dimensional array of at least one threshold; this one '
                f'(shape {thrs.shape}) stops it with {error} at the first evaluation, after training up to it. Give '
                "e.g. np.array([0.5, 0.75]), or leave iou_thrs unset (mmdet's 0.50:0.95)")
        error = 'TypeError' if isinstance(thrs, (int, float)) else 'ValueError'
        raise ConfigCheckError(
            f"{key}.iou_thrs={thrs!r}: {origin} hands it as given to pycocotools' COCOeval "
            f'(for {", ".join(map(repr, evaluated))}), which takes its len() and compares it with == to 0.5 and 0.75, '
            f'as a numpy array only, so it stops with {error} at the first evaluation, after training up to it. '
            "Leave iou_thrs unset (mmdet's 0.50:0.95; the mAP_50 / mAP_75 items give the AP at one threshold)")


#: The places of ``iou_thrs`` the per-class table of mmdet's ``CocoMetric(classwise=True)`` reads its ``mAP_50`` and
#: ``mAP_75`` columns at (``precisions[0]``, ``precisions[5]``: 0.5 and 0.75 of mmdet's default 0.50:0.95).
_TABLE_IOU_SLOTS = {'mAP_50': (0, 0.5), 'mAP_75': (5, 0.75)}


def coco_compute_class(metric: Any, scope: str | None) -> type | None:
    """The class a metric config builds where its ``compute_metrics`` is mmdet's ``CocoMetric``'s or
    ``OVCocoMetric``'s (run as they are, through ``super()`` as ``CocoOccludedSeparatedMetric``'s, or first as
    automl_mm's ``UnroundedCocoMetric``'s; ``CocoVideoMetric`` inherits it; ``use_mp_eval=True`` runs mmdet's
    COCOevalMP, which accumulates as COCOeval), so what they read of its arguments at the first evaluation is
    theirs; ``None`` for other metrics (``LVISMetric``: lvis' own evaluation) and for a class whose own
    ``compute_metrics`` is not one of those (a user's: not judged)."""
    from .preflight_walk import coco_metric_class

    cls = coco_metric_class(metric, scope)
    if cls is None:
        return None
    from mmdet.evaluation.metrics import CocoMetric, CocoOccludedSeparatedMetric, OVCocoMetric

    from automl_mm.evaluation.coco import UnroundedCocoMetric

    owner = next((c for c in cls.__mro__ if 'compute_metrics' in vars(c)), None)
    return cls if owner in (CocoMetric, OVCocoMetric, CocoOccludedSeparatedMetric, UnroundedCocoMetric) else None


def coco_metric_origin(metric: Any, scope: str | None = None) -> str:
    """How a message names the class a COCO metric config builds (:func:`~automl_mm.engine.preflight_walk.
    coco_metric_class`, its type resolved in ``scope``) and where it comes from: ``"mmdet's OVCocoMetric"``,
    ``"automl_mm's UnroundedCocoMetric"``, or a user's class by its module and the mmdet / automl_mm class it
    subclasses (``"KeptCocoMetric (my_project.metrics, a subclass of mmdet's CocoMetric)"``); ``"mmdet's <type>"``
    where the type does not resolve here (the config's type name as given)."""
    from .preflight_walk import coco_metric_class

    cls = coco_metric_class(metric, scope)
    return f"mmdet's {config_type_name(metric)}" if cls is None else class_origin(cls)


def class_origin(cls: type) -> str:
    """How a message names class ``cls`` and where it comes from: ``"mmdet's VOCMetric"``, ``"automl_mm's
    UnroundedCocoMetric"``, or a user's class by its module and the nearest mmdet / automl_mm class it subclasses
    (``"KeptVOCMetric (my_project.metrics, a subclass of mmdet's VOCMetric)"``; ``"Own (my_project.metrics)"``
    without one)."""
    library = cls.__module__.split('.')[0]
    if library in ('mmdet', 'automl_mm'):
        return f"{library}'s {cls.__name__}"
    base = next((c for c in cls.__mro__ if c.__module__.split('.')[0] in ('mmdet', 'automl_mm')), None)
    return f"{cls.__name__} ({cls.__module__}" + \
        (f", a subclass of {base.__module__.split('.')[0]}'s {base.__name__})" if base is not None else ')')


def _runs_coco_compute(metric: Any, cfg: Any) -> bool:
    """Whether a metric config runs mmdet's ``CocoMetric`` evaluation: a class :func:`coco_compute_class` finds in
    the config's scope (``CocoMetric``, ``UnroundedCocoMetric``, ``OVCocoMetric``, ``CocoVideoMetric``,
    ``CocoOccludedSeparatedMetric``, a user's subclass that keeps mmdet's ``compute_metrics``; not a user's own class
    named ``CocoMetric``)."""
    from .preflight_walk import config_scope

    return coco_compute_class(metric, config_scope(cfg)) is not None


def check_voc_iou_thrs(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every mmdet ``VOCMetric`` that computes its ``'mAP'`` (its default ``metric``; a user's subclass that keeps
    mmdet's ``compute_metrics`` too) gives ``iou_thrs`` as a float or a list: mmdet 3.3's ``__init__`` wraps a float
    alone in a list and ``compute_metrics`` asserts ``isinstance(self.iou_thrs, list)``. ``'recall'`` takes any
    sequence (``eval_recalls``).

    Raises:
        ConfigCheckError: naming the metric's ``iou_thrs`` key and value. A tuple, a numpy array or an int (or
            ``None``) stopped the first evaluation with a bare ``AssertionError``, after training up to it.
    """
    import numpy as np

    try:
        from mmdet.evaluation import VOCMetric
    except ImportError:
        return
    from automl_mm.registry import METRICS

    from .preflight_walk import _subclass, config_scope

    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        cls = _subclass(metric, METRICS, VOCMetric, config_scope(cfg))
        if cls is None or cls.compute_metrics is not VOCMetric.compute_metrics:
            continue
        kind = metric.get('metric', 'mAP')
        kind = kind[0] if isinstance(kind, (list, tuple)) and len(kind) == 1 else kind
        thrs = metric.get('iou_thrs', 0.5)
        if kind != 'mAP' or isinstance(thrs, (float, list)):
            continue
        shown = thrs.tolist() if isinstance(thrs, np.ndarray) else thrs
        given = list(shown) if isinstance(shown, (list, tuple)) else float(shown) \
            if isinstance(shown, (int, float)) and not isinstance(shown, bool) else None
        raise ConfigCheckError(
            f"{key}.iou_thrs={shown!r}: mmdet's VOCMetric ({cls.__name__}) wraps a float alone in a list and asserts "
            "that iou_thrs is a list when it computes the mAP, so it stops with AssertionError at the first "
            'evaluation, after training up to it. Give a float or a list' +
            (f' (iou_thrs={given!r})' if given is not None else ''))


def _metric_kinds(metric: dict) -> list:
    """A COCO metric config's ``metric`` as a list (mmdet's default ``'bbox'``; ``[]`` where it is neither a string
    nor a list: mmdet refuses it when it builds the metric)."""
    kinds = metric.get('metric', 'bbox')
    return [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []


def _classwise_tables(cfg: Any, test_only: bool, split: str) -> Iterator[tuple[dict, str, type, Any]]:
    """``(metric config, its key, its class, its iou_thrs array)`` of each metric that logs mmdet's per-class table
    (:func:`coco_compute_class`; ``classwise=True``, ``bbox`` or ``segm``, not ``format_only``) with an ``iou_thrs``
    one-dimensional numpy array (unset: mmdet's 0.50:0.95; not an array, or not one-dimensional:
    :func:`check_coco_iou_thrs`)."""
    import numpy as np

    from .preflight_walk import config_scope

    for metric, key in _evaluator_cfgs(cfg):
        thrs = metric.get('iou_thrs')
        if outside_split(key, test_only, split) or not metric.get('classwise') or metric.get('format_only') or \
                not isinstance(thrs, np.ndarray) or thrs.ndim != 1 or not {'bbox', 'segm'} & set(_metric_kinds(metric)):
            continue
        cls = coco_compute_class(metric, config_scope(cfg))
        if cls is not None:
            yield metric, key, cls, thrs


def check_coco_classwise_iou_thrs(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every metric that logs mmdet's per-class table (:func:`_classwise_tables`: ``CocoMetric``,
    ``UnroundedCocoMetric``, ``OVCocoMetric``, ... with ``classwise=True`` for ``bbox`` / ``segm``) and gives an
    ``iou_thrs`` array gives at least six thresholds: the table reads its ``mAP_50`` and ``mAP_75`` columns at
    ``precisions[0]`` and ``precisions[5]`` (mmdet 3.3 ``compute_metrics``; ``precisions`` has one row per
    threshold).

    Raises:
        ConfigCheckError: naming the metric's ``iou_thrs`` key and value. mmdet builds the metric and stops with
            ``IndexError: index 5 is out of bounds for axis 0 with size <n>`` only at the first evaluation, after
            training up to it.
    """
    for metric, key, cls, thrs in _classwise_tables(cfg, test_only, split):
        if len(thrs) >= 6:
            continue
        kinds = [kind for kind in _metric_kinds(metric) if kind in ('bbox', 'segm')]
        raise ConfigCheckError(
            f'{key}.iou_thrs={thrs.tolist()!r} with classwise=True: {key} ({cls.__name__}) logs mmdet\'s per-class '
            f'table (for {", ".join(map(repr, kinds))}), whose mAP_50 and mAP_75 columns it reads at precisions[0] and '
            f'precisions[5], the first and sixth IoU thresholds, so with {len(thrs)} it stops with IndexError at the '
            "first evaluation, after training up to it. Give six thresholds or more, 0.5 first and 0.75 sixth "
            "(mmdet's default np.linspace(0.5, 0.95, 10): leave iou_thrs unset), or set classwise=False")


def warn_classwise_iou_columns(cfg: Any, test_only: bool = False, split: str = 'test') -> list[str]:
    """Warn once per metric (identical metrics of several evaluators together) whose per-class table
    (:func:`_classwise_tables`) reads its ``mAP_50`` / ``mAP_75`` column at a threshold other than 0.5 / 0.75: mmdet
    takes the first and the sixth of ``iou_thrs`` as given (an ``iou_thrs`` of 0.55:0.95 logs the AP at 0.55 as
    mAP_50 and at 0.8 as mAP_75), so the table is mislabelled, silently (the reported ``mAP_50`` / ``mAP_75`` keys
    are pycocotools', at 0.5 / 0.75 exactly: :func:`~automl_mm.engine.preflight_coco_counts.uncomputed_coco_keys`).
    Fewer than six thresholds are refused (:func:`check_coco_classwise_iou_thrs`). Returns the config keys of the
    metrics warned about."""
    import numpy as np

    groups: dict[tuple, list[str]] = {}
    for _, key, cls, thrs in _classwise_tables(cfg, test_only, split):
        off = tuple((column, float(thrs[index])) for column, (index, named) in _TABLE_IOU_SLOTS.items()
                    if index < len(thrs) and not np.isclose(thrs[index], named))
        if off:
            groups.setdefault((off, cls.__name__, tuple(thrs.tolist())), []).append(key)
    for (off, name, thrs), wheres in groups.items():
        read = ' and '.join(f'its {column} column at {value:g} (iou_thrs[{_TABLE_IOU_SLOTS[column][0]}]), not '
                            f'{_TABLE_IOU_SLOTS[column][1]}' for column, value in off)
        print_log(f'{" and ".join(wheres)} ({name}, classwise=True) log{"" if len(wheres) > 1 else "s"} mmdet\'s '
                  f'per-class table with iou_thrs={list(thrs)!r}: it reads {read}, so those columns are APs at '
                  'other IoU thresholds than their headers say (the reported mAP_50 / mAP_75 keys are read at 0.5 / '
                  "0.75 exactly). Put 0.5 first and 0.75 sixth in iou_thrs (mmdet's default np.linspace(0.5, 0.95, "
                  '10): leave iou_thrs unset)', logger='current', level=logging.WARNING)
    return [where for wheres in groups.values() for where in wheres]


def _ov_ap50_threshold(metric_cfg: Any, scope: str | None = None) -> float | None:
    """The IoU threshold an mmdet ``OVCocoMetric`` config (or one of a user's subclass that keeps its
    ``compute_metrics``: :func:`coco_compute_class`, the type resolved in ``scope``) reports its ``base_ap50`` /
    ``novel_ap50`` at, where it is not 0.5: mmdet 3.3 reads them at ``precisions[0]``, the first of its ``iou_thrs``
    as given (0.5 of mmdet's default 0.50:0.95), for ``bbox`` / ``segm`` whatever ``classwise``; ``None`` otherwise
    (``iou_thrs`` unset or not an array: :func:`check_coco_iou_thrs`; ``format_only``: nothing reported; a subclass
    of its own ``compute_metrics``: not judged)."""
    import numpy as np

    if not isinstance(metric_cfg, dict) or metric_cfg.get('format_only') or \
            not {'bbox', 'segm'} & set(_metric_kinds(metric_cfg)):
        return None
    if config_type_name(metric_cfg) != 'OVCocoMetric':
        cls = coco_compute_class(metric_cfg, scope)
        if cls is None:  # (also without mmdet)
            return None
        from mmdet.evaluation.metrics import OVCocoMetric

        if cls.compute_metrics is not OVCocoMetric.compute_metrics:
            return None
    thrs = metric_cfg.get('iou_thrs')
    if not isinstance(thrs, np.ndarray) or not thrs.size or np.isclose(thrs.flat[0], 0.5):
        return None
    return float(thrs.flat[0])


def _ov_ap50_keys(metric_cfg: dict) -> tuple[str, str]:
    """An ``OVCocoMetric`` config's ``{prefix}/base_ap50`` and ``{prefix}/novel_ap50`` keys."""
    prefix = metric_cfg.get('prefix') or 'coco'
    return f'{prefix}/base_ap50', f'{prefix}/novel_ap50'


def warn_ov_ap50_threshold(cfg: Any, test_only: bool = False, split: str = 'test') -> list[str]:
    """Warn once per metric (identical metrics of several evaluators together: ``test_evaluator = val_evaluator``)
    of an mmdet ``OVCocoMetric`` whose ``base_ap50`` / ``novel_ap50`` are read at an IoU threshold other than 0.5
    (:func:`_ov_ap50_threshold`: ``iou_thrs=np.linspace(0.55, 0.95, 9)`` reports the AP at 0.55 as ``base_ap50``),
    logged and saved under names that say otherwise; reading one is refused
    (:func:`~automl_mm.engine.preflight_coco_counts.check_computed_key`). Returns the config keys warned about."""
    from .preflight_walk import config_scope

    groups: dict[tuple, list[str]] = {}
    for metric, key in _evaluator_cfgs(cfg):
        thr = None if outside_split(key, test_only, split) else _ov_ap50_threshold(metric, config_scope(cfg))
        if thr is not None:
            groups.setdefault((config_type_name(metric), _ov_ap50_keys(metric), thr), []).append(key)
    for (name, keys, thr), wheres in groups.items():
        several = len(wheres) > 1
        print_log(f"{' and '.join(wheres)} ({name}) report{'' if several else 's'} {', '.join(map(repr, keys))} at "
                  f"the first of {'their' if several else 'its'} iou_thrs (mmdet reads them at precisions[0]), "
                  f'{thr:g}, not 0.5: the APs at another IoU threshold than their names say. Put 0.5 first in '
                  "iou_thrs (mmdet's default np.linspace(0.5, 0.95, 10): leave iou_thrs unset)", logger='current',
                  level=logging.WARNING)
    return [where for wheres in groups.values() for where in wheres]
