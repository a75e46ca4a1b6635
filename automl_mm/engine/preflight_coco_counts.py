"""COCO metric arguments and keys at detection counts pycocotools does not evaluate (part of
:func:`automl_mm.engine.preflight.check_config`; split from :mod:`automl_mm.engine.preflight_metrics`).

An AR item ``AR[_s|_m|_l]@<n>`` whose ``n`` is not among the metric's ``proposal_nums`` (or pycocotools' mAP, read
at 100), or an AP item ``mAP_50`` / ``mAP_75`` whose IoU threshold is not in the metric's ``iou_thrs`` array, is
not computed (:func:`uncomputed_coco_keys`): reading one is refused (:func:`check_computed_key`, from
:func:`~automl_mm.engine.preflight_metrics.check_metric_key`, and :func:`check_uncomputed_selection_keys`),
reporting one is warned about (:func:`warn_uncomputed_coco_items`); fewer than three ``proposal_nums`` stop
pycocotools' summary, and mmdet's reading of the AR items by area under ``use_mp_eval=True``
(:func:`check_coco_proposal_nums`). The checks of ``iou_thrs`` and ``classwise`` themselves (an
``iou_thrs`` that is not an array, mmdet's per-class table, ``OVCocoMetric``'s ``base_ap50``):
:mod:`automl_mm.engine.preflight_coco_settings`.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from mmengine.logging import print_log

from automl_mm.utils.scope import config_type_name

from .preflight_coco_settings import (
    _ov_ap50_keys,
    _ov_ap50_threshold,
    _runs_coco_compute,
    coco_compute_class,
    coco_metric_origin,
)
from .preflight_metrics import COCO_AP_ITEMS, COCO_AR_ITEMS, _first_key
from .preflight_walk import ConfigCheckError, _evaluator_cfgs, evaluator_metrics, outside_split

#: mmdet 3.3 ``CocoMetric``'s default ``proposal_nums``: the detection counts per image COCOeval evaluates.
COCO_PROPOSAL_NUMS = (100, 300, 1000)
#: An AR item of mmdet's ``CocoMetric``: ``AR[_s|_m|_l]@<n>``, the average recall at ``n`` detections per image.
_AR_ITEM = re.compile(r'AR(_[sml])?@(\d+)')
#: The AP items of mmdet's ``CocoMetric`` read at one IoU threshold (pycocotools' ``stats[1]``, ``stats[2]``).
_IOU_ITEMS = {'mAP_50': 0.5, 'mAP_75': 0.75}


def _proposal_nums(metric_cfg: dict) -> tuple[int, ...] | None:
    """A COCO metric config's ``proposal_nums`` as ints (mmdet's default where not given), ``None`` where they are
    not a sequence of numbers (left to mmdet)."""
    nums = metric_cfg.get('proposal_nums', COCO_PROPOSAL_NUMS)
    if not isinstance(nums, (list, tuple)) or not all(isinstance(n, (int, float)) and not isinstance(n, bool)
                                                      for n in nums):
        return None
    return tuple(int(n) for n in nums)


def _counted_at(item: Any, use_mp_eval: bool) -> int | None:
    """The detection count per image that COCOeval reads mmdet's ``CocoMetric`` item ``item`` at, where it names
    one: ``n`` for an AR item ``AR[_s|_m|_l]@<n>``; 100 for ``'mAP'`` (pycocotools' ``summarize`` reads
    ``stats[0]`` at its default ``maxDets=100``, whatever ``params.maxDets`` is), except under mmdet's
    ``COCOevalMP`` (``use_mp_eval=True``: at the largest count); else ``None``."""
    found = _AR_ITEM.fullmatch(item) if isinstance(item, str) else None
    if found:
        return int(found[2])
    return 100 if item == 'mAP' and not use_mp_eval else None


def _missing_iou_thr(item: Any, metric_cfg: dict) -> float | None:
    """The IoU threshold mmdet's ``CocoMetric`` item ``item`` is read at (0.5 for ``'mAP_50'``, 0.75 for
    ``'mAP_75'``: pycocotools' ``summarize`` takes ``np.where(iouThr == params.iouThrs)``, exact equality) where the
    metric's ``iou_thrs``, a numpy array, does not hold it (pycocotools then averages nothing: -1); else ``None``
    (also for ``iou_thrs`` unset, mmdet's 0.50:0.95, or not an array:
    :func:`~automl_mm.engine.preflight_coco_settings.check_coco_iou_thrs`)."""
    import numpy as np

    thr = _IOU_ITEMS.get(item) if isinstance(item, str) else None
    thrs = metric_cfg.get('iou_thrs')
    if thr is None or not isinstance(thrs, np.ndarray):
        return None
    return thr if np.where(thr == thrs)[0].size == 0 else None


def uncomputed_coco_keys(metric_cfg: Any, scope: str | None = None) -> list[str]:
    """The keys (``{prefix}/AR@1000``, ``{prefix}/bbox_AR_s@1000``, ``{prefix}/bbox_mAP``, ...) a config of a metric
    that runs mmdet's ``CocoMetric`` evaluation (``CocoMetric``, ``UnroundedCocoMetric``, ``OVCocoMetric``,
    ``CocoVideoMetric``, ``CocoOccludedSeparatedMetric``, a user's subclass that keeps mmdet's ``compute_metrics``:
    :func:`~automl_mm.engine.preflight_coco_settings.coco_compute_class`, its type resolved in ``scope``) reports
    at a detection count per image (:func:`_counted_at`) that is not among its ``proposal_nums`` (the counts
    COCOeval evaluates, ``params.maxDets``), or at an IoU threshold (``mAP_50``, ``mAP_75``:
    :func:`_missing_iou_thr`) that its ``iou_thrs`` array does not hold (``params.iouThrs``), in the order reported;
    ``[]`` for other metrics (``LVISMetric``, a user's own ``compute_metrics``). The ``mAP`` averages over the
    thresholds given: computed.

    mmdet names its AR items by fixed counts (``AR@100``, ``AR@300``, ``AR@1000``, ``AR_<area>@1000``: the default
    ``metric_items`` of ``metric='proposal'``, or ``metric_items`` of bbox / segm) whatever ``proposal_nums`` is.
    Such a key is not computed: automl_mm reads it as -1 (:func:`automl_mm.evaluation.coco.coco_value`, every OHL
    reward and NAS score, ``UnroundedCocoMetric``), mmdet's own ``CocoMetric`` reports under its name the recall at
    another of the ``proposal_nums`` (``COCOeval.stats[6..11]``). pycocotools' mAP (``stats[0]``) is read at 100
    detections: -1 in both without them (``use_mp_eval=False``). ``proposal_fast``'s ``AR@<n>`` are its
    ``proposal_nums``: none."""
    if not isinstance(metric_cfg, dict) or coco_compute_class(metric_cfg, scope) is None:
        return []
    nums = _proposal_nums(metric_cfg)
    kinds = metric_cfg.get('metric', 'bbox')
    kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
    given = metric_cfg.get('metric_items')
    if not nums or (given is not None and not isinstance(given, (list, tuple))):
        return []  # no count (check_coco_proposal_nums) or a string of items (_check_coco_metric_items): refused
    prefix = metric_cfg.get('prefix') or 'coco'
    keys = []
    for kind in kinds:
        if kind not in ('bbox', 'segm', 'proposal'):
            continue
        for item in given or (COCO_AR_ITEMS if kind == 'proposal' else COCO_AP_ITEMS):
            count = _counted_at(item, bool(metric_cfg.get('use_mp_eval')))
            if count is not None and count not in nums or _missing_iou_thr(item, metric_cfg) is not None:
                keys.append(f'{prefix}/{item}' if kind == 'proposal' else f'{prefix}/{kind}_{item}')
    return keys


def check_coco_proposal_nums(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every ``CocoMetric`` / ``UnroundedCocoMetric`` that evaluates with COCOeval (bbox, segm, proposal) has a
    detection count to evaluate, and three where pycocotools summarizes (``use_mp_eval=False``, mmdet's default):
    its ``summarize`` reads ``params.maxDets[2]``, which mmdet sets to ``proposal_nums``. Under mmdet's
    ``COCOevalMP`` (``use_mp_eval=True``), whose ``stats`` hold ``6 + len(proposal_nums) + 3`` values, the AR items
    it reports lie within them (mmdet reads ``AR@100`` .. ``AR_l@1000`` at ``stats[6..11]``: with one count,
    ``AR_m@1000`` and ``AR_l@1000`` are past them, with two ``AR_l@1000``).

    Raises:
        ConfigCheckError: naming the metric's ``proposal_nums`` key and value. mmdet takes any when the metric is
            built and stops (``IndexError``; ``TypeError`` for a count that is not an int) only at the first
            evaluation, after training up to it.
    """
    from .preflight_walk import config_scope

    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split) or not _runs_coco_compute(metric, cfg):
            continue
        origin = coco_metric_origin(metric, config_scope(cfg))
        kinds = metric.get('metric', 'bbox')
        kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
        nums = _proposal_nums(metric)
        evaluated = [kind for kind in kinds if kind in ('bbox', 'segm', 'proposal')]
        given_nums = metric.get('proposal_nums')
        if evaluated and isinstance(given_nums, (list, tuple)) and \
                not all(isinstance(n, int) and not isinstance(n, bool) for n in given_nums):
            raise ConfigCheckError(
                f"{key}.proposal_nums={given_nums!r}: pycocotools' COCOeval (which {origin} "
                f'runs for {", ".join(map(repr, evaluated))}) sorts them and slices each image\'s detections by the '
                "largest, so each must be an int: otherwise it stops with TypeError at the first evaluation, after "
                f"training up to it. Give ints (mmdet's default {COCO_PROPOSAL_NUMS!r})")
        if nums is None or not evaluated:
            continue  # proposal_fast counts its own recalls
        if not nums and metric.get('use_mp_eval'):
            raise ConfigCheckError(f'{key}.proposal_nums={nums!r}: no detection count per image to evaluate; give '
                                   f'the counts (mmdet\'s default {COCO_PROPOSAL_NUMS!r})')
        given = metric.get('metric_items')
        if given is not None and not isinstance(given, (list, tuple)):
            continue  # a string of items: _check_coco_metric_items
        # the AR items mmdet reads past COCOevalMP's stats (6 AP, one AR per count, 3 AR by area)
        past = [(kind, item) for kind in evaluated
                for item in given or (COCO_AR_ITEMS if kind == 'proposal' else COCO_AP_ITEMS)
                if item in COCO_AR_ITEMS and COCO_AR_ITEMS.index(item) >= 3 + len(nums)]
        if len(nums) < 3 and not metric.get('use_mp_eval'):
            raise ConfigCheckError(
                f"{key}.proposal_nums={nums!r}: pycocotools' COCOeval.summarize, which "
                f'{origin} runs for {", ".join(map(repr, evaluated))}, reads the third count '
                '(maxDets[2]: the AP items but the mAP, AR@1000, AR_<area>@1000), so with '
                f'{len(nums)} count{"" if len(nums) == 1 else "s"} it stops with IndexError at the first evaluation, '
                f"after training up to it. Give three counts (mmdet's default {COCO_PROPOSAL_NUMS!r})" +
                ('' if past else ", or use_mp_eval=True (mmdet's COCOevalMP summarizes at the counts given)"))
        if past and metric.get('use_mp_eval'):
            (kind, item), items = past[0], sorted({item for _, item in past}, key=COCO_AR_ITEMS.index)
            raise ConfigCheckError(
                f"{key}.proposal_nums={nums!r} with use_mp_eval=True: mmdet's COCOevalMP summarizes the recall at "
                f'each of the {len(nums)} count{"" if len(nums) == 1 else "s"} and then by area, '
                f'stats[6..{8 + len(nums)}], and {origin} reads {kind!r} item {item!r} at '
                f'stats[{6 + COCO_AR_ITEMS.index(item)}], past them, so it stops with IndexError at the first '
                f"evaluation, after training up to it. Give three counts (mmdet's default {COCO_PROPOSAL_NUMS!r}), "
                f'or metric_items without {", ".join(map(repr, items))}')


def _metric_paths(evaluator: Any, evaluator_key: str) -> list[tuple[Any, str]]:
    """``(metric config, its config key)`` of each metric of an evaluator config at ``evaluator_key`` (a metric,
    a list of them, or mmengine's ``dict(type='Evaluator', metrics=...)``)."""
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator, evaluator_key = evaluator['metrics'], f'{evaluator_key}.metrics'
    if isinstance(evaluator, (list, tuple)):
        return [(metric, f'{evaluator_key}[{j}]') for j, metric in enumerate(evaluator)]
    return [(evaluator, evaluator_key)]


def check_computed_key(key: Any, owner: str, evaluator: Any, evaluator_key: str, shown: str | None = None,
                       scope: str | None = None) -> None:
    """Refuse a key that is read (set at config key ``owner``: an OHL ``reward_key``, a NAS ``metric_key``,
    ``save_best``, a monitor) where a COCO metric of ``evaluator`` (at ``evaluator_key``) reports it at a detection
    count it does not evaluate (:func:`uncomputed_coco_keys`: an AR item whose count, or pycocotools' mAP where 100,
    is not in ``proposal_nums``), or at an IoU threshold its ``iou_thrs`` array does not hold (``mAP_50``,
    ``mAP_75``: -1 in mmdet's ``CocoMetric`` too). ``shown``: how the message names the setting (``owner=key`` by
    default). ``scope``: the config's ``default_scope`` (:func:`~automl_mm.engine.preflight_walk.config_scope`),
    in which each metric's type is resolved as mmengine builds it (a node's ``_scope_`` first, a ``scope.Type``
    in its scope; with neither, the current default scope, then mmdet's:
    :func:`~automl_mm.engine.preflight_walk.coco_metric_class`): a user's ``CocoMetric`` subclass registered in
    the user's own scope was not resolved, and a key it does not compute passed.

    Raises:
        ConfigCheckError: naming ``owner``, the key, the metric's config key and its ``proposal_nums`` (its
            ``iou_thrs`` for ``mAP_50`` / ``mAP_75``). Read as -1
            by every OHL reward / NAS score (and ``UnroundedCocoMetric``'s validation), every copy or candidate
            ties and the search is flat; mmdet's ``CocoMetric`` validates such an AR item as the recall at another
            count. Also an AR key an mmdet ``LVISMetric`` does not report (lvis-api evaluates at 300 detections per
            image whatever ``proposal_nums`` is: :func:`~automl_mm.engine.preflight_lvis.check_lvis_ar_key`).
    """
    from .preflight_lvis import check_lvis_ar_key

    if not isinstance(key, str):
        return
    for metric, where in _metric_paths(evaluator, evaluator_key):
        check_lvis_ar_key(key, shown or f'{owner}={key!r}', metric, where, scope)
        thr = _ov_ap50_threshold(metric, scope)
        if thr is not None and key in _ov_ap50_keys(metric):
            raise ConfigCheckError(
                f"{shown or f'{owner}={key!r}'} is read by {where} ({config_type_name(metric)}) at the first of "
                f"its iou_thrs={metric['iou_thrs'].tolist()!r} (mmdet takes precisions[0] as the AP at 0.5), "
                f'{thr:g}: the AP at another IoU threshold than its name says. Put 0.5 first in '
                f"{where}.iou_thrs (or leave it unset: mmdet's 0.50:0.95)")
        if key not in uncomputed_coco_keys(metric, scope):
            continue
        nums = _proposal_nums(metric)
        shown = shown or f'{owner}={key!r}'
        found = _AR_ITEM.search(key)
        thr = next((thr for item, thr in _IOU_ITEMS.items() if key.endswith(item)), None)
        if thr is not None:  # pycocotools' AP at one IoU threshold, not among iou_thrs
            raise ConfigCheckError(
                f"{shown} is the AP at an IoU threshold of {thr} (pycocotools' COCOeval.summarize finds it with "
                f'np.where({thr} == params.iouThrs)), which {where} ({config_type_name(metric)}) does not evaluate: '
                f"its iou_thrs={metric['iou_thrs'].tolist()!r} (the thresholds COCOeval evaluates) do not hold {thr} "
                "exactly, so it is -1 (pycocotools' value of what it did not compute), a constant that leaves the "
                f'search or selection flat. Add {thr} to {where}.iou_thrs (np.arange(0.5, 0.96, 0.05) holds '
                "0.7500000000000002, not 0.75), leave it unset (mmdet's 0.50:0.95), or read the mAP (the mean over "
                'the thresholds given)')
        if found is None:  # pycocotools' mAP, at 100 detections
            raise ConfigCheckError(
                f"{shown} is the AP at 100 detections per image (pycocotools' COCOeval.summarize reads the mAP there), "
                f'which {where} ({config_type_name(metric)}) does not evaluate: its proposal_nums={nums!r} (the '
                "counts COCOeval evaluates) do not hold 100, so it is -1 (pycocotools' value of what it did not "
                'compute), a constant that leaves the search or selection flat. Add 100 to '
                f"{where}.proposal_nums (or set use_mp_eval=True: mmdet's COCOevalMP reads the mAP at the largest "
                'count)')
        area, count = found.groups()
        area = area or ''
        kept = [f'{key[:found.start()]}AR{area}@{n}' for n in COCO_PROPOSAL_NUMS
                if n in nums and (not area or n == 1000)]
        alternative = f' or read {kept[0]!r}' if kept else ''
        raise ConfigCheckError(
            f'{shown} is the average recall at {count} detections per image, which {where} '
            f'({config_type_name(metric)}) does not evaluate: its proposal_nums={nums!r} (the counts COCOeval '
            f'evaluates) do not hold {count}. automl_mm reads it as -1 (pycocotools\' value of what it did not '
            "compute: OHL rewards, NAS scores), a constant that leaves the search or selection flat; "
            f'{_uncomputed_ar_reported(metric, scope)}. Add {count} to {where}.proposal_nums{alternative}')


def _uncomputed_ar_reported(metric_cfg: dict, scope: str | None = None) -> str:
    """What a message says the metric of config ``metric_cfg`` (its type resolved in ``scope``) itself reports
    under the name of an AR item at a count it does not evaluate, naming its class and where it comes from
    (:func:`~automl_mm.engine.preflight_coco_settings.coco_metric_origin`): mmdet's ``CocoMetric`` evaluation
    (``CocoMetric``, ``OVCocoMetric``, a user's subclass that keeps it: :func:`_validated_by_mmdet`) the recall at
    another of the ``proposal_nums``; automl_mm's ``UnroundedCocoMetric`` (and its subclasses) -1."""
    origin = coco_metric_origin(metric_cfg, scope)
    if _validated_by_mmdet(metric_cfg, scope):
        return (f'{origin} reports under its name the recall at another of the proposal_nums (mmdet names its AR '
                'items by fixed counts, AR@100, AR@300, AR@1000, AR_<area>@1000, whatever proposal_nums is)')
    return f"{origin} reports it as -1 too (each AR item at the count it names: pycocotools' -1 where not evaluated)"


def check_uncomputed_selection_keys(cfg: Any) -> None:
    """Refuse a key the validation selects by that ``val_evaluator`` does not compute (:func:`check_computed_key`):
    ``default_hooks.checkpoint.save_best`` (a key, a list, or ``'auto'``: mmengine takes the first key of the first
    metric, :func:`_first_key`), an ``EarlyStoppingHook``'s ``monitor`` (``custom_hooks``) and a
    ``ReduceOnPlateau*`` scheduler's (``param_scheduler``). Nothing is selected without ``val_dataloader`` and
    ``val_evaluator``. mmdet's own ``CocoMetric`` validates an AR item at a fixed place of ``COCOeval.stats``, the
    recall at another count than the one it names where ``proposal_nums`` are not mmdet's default
    (:func:`_validated_ar_count`: with ``(1, 10, 100)``, ``AR@100`` is the recall at 1): selecting by one is
    refused too.

    Raises:
        ConfigCheckError: naming the config key, the AR key, the metric's config key and its ``proposal_nums``.
    """
    from .preflight_evaluators import _plateau_schedulers
    from .preflight_walk import config_scope

    evaluator = cfg.get('val_evaluator')
    if not evaluator or cfg.get('val_dataloader') is None:
        return
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    save_best = hook.get('save_best') if isinstance(hook, dict) else None
    found = []  # (config key, metric key, how the message names them)
    for given in [save_best] if isinstance(save_best, str) else save_best if isinstance(save_best, (list, tuple)) \
            else []:
        if given == 'auto':
            first = next(iter(evaluator_metrics(evaluator)), None)
            key = _first_key(first, config_scope(cfg))
            found.append(('default_hooks.checkpoint.save_best', key,
                          f"default_hooks.checkpoint.save_best='auto' (val_evaluator's first key, {key!r})"))
        else:
            found.append(('default_hooks.checkpoint.save_best', given, None))
    found += [(f'custom_hooks[{i}].monitor', h.get('monitor'), None)
              for i, h in enumerate(cfg.get('custom_hooks') or [])
              if isinstance(h, dict) and config_type_name(h) == 'EarlyStoppingHook']
    found += [(f'{key}.monitor', node.get('monitor', 'loss'), None) for node, key in _plateau_schedulers(cfg)]
    for owner, key, shown in found:
        check_computed_key(key, owner, evaluator, 'val_evaluator', shown, config_scope(cfg))
        for metric, where in _metric_paths(evaluator, 'val_evaluator'):
            read = _validated_ar_count(key, metric, config_scope(cfg))
            if read is None:
                continue
            raise ConfigCheckError(
                f'{shown or f"{owner}={key!r}"} is validated by {where} '
                f'({coco_metric_origin(metric, config_scope(cfg))}) as '
                f'{_stats_read(read)}: mmdet takes its AR items at fixed places of '
                f'stats, which hold the recalls at the sorted proposal_nums={_proposal_nums(metric)!r}, whatever '
                f'the item names, so the selection would follow another count. Set '
                f'{_ar_count_fix(metric, where, config_scope(cfg))}')


def _ar_count_fix(metric_cfg: dict, where: str | None = None, scope: str | None = None) -> str:
    """What a message about an AR item mmdet validates at another count (:func:`_validated_ar_count`) says to set
    (``where``: the metric's config key, ``None`` where the message names it already), by the class the config
    builds (:func:`~automl_mm.engine.preflight_coco_settings.coco_compute_class`, its type resolved in ``scope``),
    as :func:`~automl_mm.engine.preflight_metrics.reporting_class` judges it, not by its type name: automl_mm's
    ``UnroundedCocoMetric`` or mmdet's default ``proposal_nums`` for mmdet's ``CocoMetric`` itself; for a user's
    class that runs mmdet's ``CocoMetric.compute_metrics`` (whatever its name), the counts or that class derived
    from ``UnroundedCocoMetric``; the counts alone for mmdet's other metrics (``OVCocoMetric``, ``CocoVideoMetric``,
    ...: ``UnroundedCocoMetric`` is a plain ``CocoMetric``)."""
    from .preflight_coco_settings import coco_compute_class

    at = f'{where}.' if where else ''
    cls = coco_compute_class(metric_cfg, scope)
    if cls is None:
        return f'{at}proposal_nums={COCO_PROPOSAL_NUMS!r}'
    from mmdet.evaluation.metrics import CocoMetric

    if cls is CocoMetric:
        return (f"{at}type='automl_mm.UnroundedCocoMetric' (each AR item at the count it names), or proposal_nums="
                f'{COCO_PROPOSAL_NUMS!r}')
    owner = next((c for c in cls.__mro__ if 'compute_metrics' in vars(c)), None)
    if owner is CocoMetric and cls.__module__.split('.')[0] not in ('mmdet', 'automl_mm'):
        return (f'{at}proposal_nums={COCO_PROPOSAL_NUMS!r}, or derive {cls.__name__} from '
                "automl_mm.UnroundedCocoMetric (each AR item at the count it names) rather than from mmdet's "
                'CocoMetric')
    return f'{at}proposal_nums={COCO_PROPOSAL_NUMS!r}'


def _validated_by_mmdet(metric_cfg: Any, scope: str | None) -> bool:
    """Whether a metric config computes its values with mmdet's own ``CocoMetric`` evaluation (rounded, its AR items
    at fixed places of ``COCOeval.stats``): see :func:`_validated_ar_count`."""
    cls = coco_compute_class(metric_cfg, scope) if isinstance(metric_cfg, dict) else None
    if cls is None:
        return False
    from automl_mm.evaluation.coco import UnroundedCocoMetric

    return not issubclass(cls, UnroundedCocoMetric)


def _stats_read(read: tuple[int, str, int]) -> str:
    """How a message names ``(stats index, area, detection count)`` of :func:`_validated_ar_count`."""
    index, area, count = read
    value = ('past the recalls COCOevalMP computes (IndexError at the first validation)' if count < 0 else
             f'the recall at {count} detection{"" if count == 1 else "s"} per image'
             f'{"" if area == "all" else f" of {area} objects"}')
    return f'COCOeval.stats[{index}], {value}'


def _misread_ar_keys(metric_cfg: Any, scope: str | None = None) -> list[tuple[str, tuple[int, str, int]]]:
    """``(key, (stats index, area, count))`` of each AR key an mmdet ``CocoMetric`` config (or one of a metric that
    runs its evaluation, the type resolved in ``scope``) reports, in the order reported, that mmdet reads at another
    area or count than the key names (:func:`_validated_ar_count`)."""
    if not isinstance(metric_cfg, dict):
        return []
    kinds = metric_cfg.get('metric', 'bbox')
    kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
    given = metric_cfg.get('metric_items')
    if given is not None and not isinstance(given, (list, tuple)):
        return []
    prefix = metric_cfg.get('prefix') or 'coco'
    found = []
    for kind in kinds:
        if kind not in ('bbox', 'segm', 'proposal'):
            continue
        for item in given or (COCO_AR_ITEMS if kind == 'proposal' else COCO_AP_ITEMS):
            key = f'{prefix}/{item}' if kind == 'proposal' else f'{prefix}/{kind}_{item}'
            read = _validated_ar_count(key, metric_cfg, scope)
            if read is not None:
                found.append((key, read))
    return found


def _validated_ar_count(key: Any, metric_cfg: Any, scope: str | None = None) -> tuple[int, str, int] | None:
    """``(stats index, area, detection count)`` that mmengine's validation of mmdet's own ``CocoMetric`` (config
    type ``CocoMetric``, or a metric that runs its evaluation as mmdet wrote it: ``OVCocoMetric``,
    ``CocoVideoMetric``, ``CocoOccludedSeparatedMetric``, a user's subclass that keeps mmdet's ``compute_metrics``;
    :func:`~automl_mm.engine.preflight_coco_settings.coco_compute_class`, the type resolved in ``scope``; not
    automl_mm's ``UnroundedCocoMetric``) reads an AR key ``key`` it reports at, where that is not the area and
    count the key names; else ``None`` (also for a count not evaluated: :func:`check_computed_key`).

    mmdet 3.3 reads ``AR@100``, ``AR@300``, ``AR@1000``, ``AR_s|m|l@1000`` at ``COCOeval.stats[6..11]``; pycocotools
    (``evaluate`` sorts ``maxDets``, which are ``proposal_nums``) puts there the recall at the first, second and third
    count and at the third count by area; mmdet's ``COCOevalMP`` (``use_mp_eval=True``) the recall at each count
    and then at the largest by area (an index past them: ``IndexError``, taken as another count). An ``AR@<n>`` of
    ``'proposal'`` that a later ``'proposal_fast'`` of the same metric writes over (its recall at ``n``) is not."""
    if not isinstance(key, str) or not _validated_by_mmdet(metric_cfg, scope):
        return None
    nums, given = _proposal_nums(metric_cfg), metric_cfg.get('metric_items')
    kinds = metric_cfg.get('metric', 'bbox')
    kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
    if not nums or (given is not None and not isinstance(given, (list, tuple))):
        return None
    counts = sorted(nums)
    areas = [('small', 's'), ('medium', 'm'), ('large', 'l')]
    if metric_cfg.get('use_mp_eval'):
        layout = [('all', n) for n in counts] + [(name, counts[-1]) for name, _ in areas]
    else:
        layout = [('all', n) for n in counts[:3]] + [(name, counts[2]) for name, _ in areas] if len(counts) > 2 \
            else []
    prefix = metric_cfg.get('prefix') or 'coco'
    for kind in kinds:
        if kind not in ('bbox', 'segm', 'proposal'):
            continue
        head = f'{prefix}/' if kind == 'proposal' else f'{prefix}/{kind}_'
        item = key[len(head):] if key.startswith(head) else None
        if item not in (given or (COCO_AR_ITEMS if kind == 'proposal' else COCO_AP_ITEMS)) or \
                item not in COCO_AR_ITEMS:
            continue
        found = _AR_ITEM.fullmatch(item)
        named = ({letter: name for name, letter in areas}[found[1][1:]] if found[1] else 'all', int(found[2]))
        if named[1] not in nums:
            return None  # not evaluated at all: check_computed_key
        if kind == 'proposal' and named[0] == 'all' and 'proposal_fast' in kinds[kinds.index(kind) + 1:]:
            continue  # a later proposal_fast writes its recall at each of the proposal_nums over this one
        index = COCO_AR_ITEMS.index(item)
        read = layout[index] if index < len(layout) else ('all', -1)
        if read != named:
            return 6 + index, read[0], read[1]
    return None


def warn_uncomputed_coco_items(cfg: Any, test_only: bool = False, split: str = 'test') -> list[str]:
    """Warn once per COCO metric (identical metrics of several evaluators together) that reports items at detection
    counts it does not evaluate (:func:`uncomputed_coco_keys`: AR items of ``metric_items``, or mmdet's default items
    of ``metric='proposal'``, whose counts are not in ``proposal_nums``; pycocotools' mAP without 100): logged and
    saved as -1 (or, an AR item validated by mmdet's ``CocoMetric``, as the recall at another count) under names that
    say otherwise. Reading one is refused (:func:`check_computed_key`). An mmdet ``CocoMetric`` that reports AR items
    it evaluates at other places of ``COCOeval.stats`` (:func:`_validated_ar_count`: with ``proposal_nums=(10, 100,
    300, 1000)``, ``AR@100`` is the recall at 10) is warned about too. Returns the config keys of the metrics warned
    about."""
    from .preflight_walk import config_scope

    groups: dict[tuple, list[str]] = {}
    scope = config_scope(cfg)
    for metric, key in _evaluator_cfgs(cfg):
        keys = [] if outside_split(key, test_only, split) else uncomputed_coco_keys(metric, config_scope(cfg))
        misread = [] if outside_split(key, test_only, split) else _misread_ar_keys(metric, config_scope(cfg))
        if keys or misread:
            groups.setdefault((tuple(keys), tuple(misread), _proposal_nums(metric), config_type_name(metric),
                               _ar_count_fix(metric, scope=scope), coco_metric_origin(metric, scope),
                               _uncomputed_ar_reported(metric, config_scope(cfg))), []).append(key)
    for (keys, misread, nums, kind, ar_fix, origin, ar_reported), wheres in groups.items():
        several = len(wheres) > 1
        if not keys:  # every count evaluated, read at other places of stats by mmdet's CocoMetric
            print_log(f'{" and ".join(wheres)} ({kind}) report{"" if several else "s"} '
                      f'{", ".join(f"{key!r} as {_stats_read(read)}" for key, read in misread)}: mmdet takes its AR '
                      f'items at fixed places of stats, which hold the recalls at the sorted proposal_nums={nums!r}, '
                      f"whatever the item names, so the values logged and saved are other counts'. Set {ar_fix}",
                      logger='current', level=logging.WARNING)
            continue
        ar = [k for k in keys if _AR_ITEM.search(k)]
        at_iou = [k for k in keys if k.endswith(tuple(_IOU_ITEMS))]
        why = []
        if ar:
            why.append("automl_mm reads such an AR item as -1 (pycocotools' value of what it did not compute: OHL "
                       f'rewards, NAS scores), and {ar_reported}')
        if misread:
            why.append(f'and {"it" if ar else origin} reports '
                       f'{", ".join(f"{k!r} as {_stats_read(r)}" for k, r in misread)} '
                       '(its AR items at fixed places of stats, the recalls at the sorted proposal_nums; '
                       + ("type='automl_mm.UnroundedCocoMetric' reports each at the count it names)"
                          if kind == 'CocoMetric' else f'{ar_fix} gives the counts the items name)'))
        if len(ar) + len(at_iou) < len(keys):
            why.append("pycocotools reads the mAP at 100 detections per image and reports it as -1 without them "
                       "(use_mp_eval=True: mmdet's COCOevalMP reads it at the largest count)")
        counted = [k for k in keys if k not in at_iou]
        named = bool(counted and at_iou)  # name which keys are read where
        read = []
        if counted:
            read.append(f'{", ".join(map(repr, counted)) + " " if named else ""}at detection counts '
                        f'{"their" if several else "its"} proposal_nums={nums!r} does not evaluate')
        if at_iou:
            thrs = sorted({thr for k in at_iou for item, thr in _IOU_ITEMS.items() if k.endswith(item)})
            read.append(f'{", ".join(map(repr, at_iou)) + " " if named else ""}at an IoU threshold '
                        f'({", ".join(map(str, thrs))}) {"their" if several else "its"} iou_thrs array does not hold '
                        '(pycocotools finds it with np.where(iouThr == params.iouThrs), exact equality)')
            why.append("pycocotools reports such an AP as -1 (averaged over no threshold); the mAP is the mean over "
                       'the thresholds given')
        fix = [] if not counted else ['give metric_items the items of the counts evaluated, or add the counts to '
                                      'proposal_nums']
        fix += [] if not at_iou else ['add the thresholds to iou_thrs exactly (or leave it unset: mmdet\'s '
                                      '0.50:0.95), or leave the items out of metric_items']
        fix_text = '; '.join(fix)
        print_log(f'{" and ".join(wheres)} ({kind}) report{"" if several else "s"} {", ".join(map(repr, keys))}, '
                  f'read {"; and ".join(read)}: {"; ".join(why)}. {fix_text[:1].upper()}{fix_text[1:]}',
                  logger='current', level=logging.WARNING)
    return [where for wheres in groups.values() for where in wheres]
