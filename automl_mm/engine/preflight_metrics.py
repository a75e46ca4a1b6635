"""The metric keys a config names, against the keys its evaluators report (part of
:func:`automl_mm.engine.preflight.check_config`).

OHL's ``reward_key``, the NAS loops' ``metric_key`` and ``default_hooks.checkpoint.save_best`` are read only when a
metric is first computed (at a trunk's end, a search's scoring, the first validation): a key the evaluator does not
report stopped the run after it had trained up to there. :func:`metric_keys` says which keys a metric reports where
that is known without running it; :func:`check_metric_key` refuses a key outside them; ``CocoMetric``'s
``metric_items`` are mmdet's item names (:func:`_check_coco_metric_items`). :func:`warn_rounded_search_metric` warns
where a search ranks by a metric mmdet reports rounded (copies and candidates tie), :func:`warn_rounded_save_best`
where ``save_best`` selects checkpoints by one (validations tie: the first checkpoint is kept).
An AR item ``AR[_s|_m|_l]@<n>`` whose ``n`` is not among the metric's ``proposal_nums`` (or pycocotools' mAP, read
at 100) is not computed (:func:`uncomputed_coco_keys`): reading one is refused (:func:`check_computed_key`, from
:func:`check_metric_key`, and :func:`check_uncomputed_selection_keys`), reporting one is warned about
(:func:`warn_uncomputed_coco_items`); fewer than three ``proposal_nums`` stop pycocotools' summary, and mmdet's
reading of the AR items by area under ``use_mp_eval=True`` (:func:`check_coco_proposal_nums`), and an
``iou_thrs`` that is not an array stops pycocotools too (:func:`check_coco_iou_thrs`).
"""
from __future__ import annotations

import logging
import re
from typing import Any

from mmengine.logging import print_log

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, _evaluator_cfgs, evaluator_metrics, outside_split

#: The items of pycocotools ``COCOeval.stats`` in its order (``COCOeval.summarize``) under mmdet ``CocoMetric``'s
#: names: AP (indices 0-5) for bbox / segm, AR (6-11) for proposals.
COCO_AP_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
COCO_AR_ITEMS = ('AR@100', 'AR@300', 'AR@1000', 'AR_s@1000', 'AR_m@1000', 'AR_l@1000')


def metric_keys(metric_cfg: Any, complete: bool = True) -> set[str] | None:
    """The keys a metric config reports, when they are known without running it (else ``None``).

    ``Accuracy`` (automl_mm): ``{prefix}/top{k}`` per ``topk``; ``LogLikelihood`` (automl_mm): ``{prefix}/mean``;
    mmdet ``CocoMetric`` (and automl_mm's ``UnroundedCocoMetric``): ``{prefix}/{metric}_{item}`` for bbox/segm
    (``metric_items`` or mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l) and ``{prefix}/{item}`` AR keys for proposals
    (mmdet 3.3 ``CocoMetric.compute_metrics``); unknown (``None``) with ``classwise=True`` for bbox/segm, whose
    ``{prefix}/{class name}_precision`` keys are the dataset's class names (a reward_key or save_best on one class
    was refused as not reported). With ``complete=False`` the keys known to be reported among others (a classwise
    metric's bbox/segm keys), for a check that some key is reported twice.
    """
    if not isinstance(metric_cfg, dict):
        return None
    kind = config_type_name(metric_cfg)
    if kind == 'Accuracy':
        topk = metric_cfg.get('topk', (1, ))
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        prefix = metric_cfg.get('prefix') or 'accuracy'
        return {f'{prefix}/top{int(k)}' for k in topk}
    if kind == 'LogLikelihood':  # automl_mm's: one key
        return {f"{metric_cfg.get('prefix') or 'log_likelihood'}/mean"}
    if kind in ('CocoMetric', 'UnroundedCocoMetric'):
        prefix = metric_cfg.get('prefix') or 'coco'
        metrics = metric_cfg.get('metric', 'bbox')
        keys: set[str] = set()
        for metric in [metrics] if isinstance(metrics, str) else list(metrics):
            if metric in ('bbox', 'segm'):
                if metric_cfg.get('classwise') and complete:
                    return None  # '<class name>_precision' per class of the dataset, known once it is built
                keys |= {f'{prefix}/{metric}_{item}' for item in metric_cfg.get('metric_items') or COCO_AP_ITEMS}
            elif metric == 'proposal':
                keys |= {f'{prefix}/{item}' for item in metric_cfg.get('metric_items') or COCO_AR_ITEMS}
            else:
                return None
        return keys
    return None


def _check_coco_metric_items(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every ``metric_items`` of a ``CocoMetric`` (or ``UnroundedCocoMetric``) is a list of mmdet's item names
    (:data:`COCO_AP_ITEMS` and :data:`COCO_AR_ITEMS`, any of them for any metric, as mmdet takes them).

    mmdet takes any items when the metric is built and refuses an unknown one (``KeyError: metric item "mAP_51" is
    not supported``) only in ``compute_metrics``, once the model predicts a box: at a validation after training. A
    string is read letter by letter."""
    items = COCO_AP_ITEMS + COCO_AR_ITEMS
    for metric, key in _evaluator_cfgs(cfg):
        given = metric.get('metric_items')
        if outside_split(key, test_only, split) or given is None or \
                config_type_name(metric) not in ('CocoMetric', 'UnroundedCocoMetric'):
            continue
        kinds = metric.get('metric', 'bbox')
        if not {'bbox', 'segm', 'proposal'} & set([kinds] if isinstance(kinds, str) else kinds):
            continue  # proposal_fast reads no items
        if isinstance(given, str):
            raise ConfigCheckError(f'{key}.metric_items={given!r}: must be a list of item names, not a string (mmdet '
                                   f'reads it letter by letter: {given[0]!r} is not an item). Give '
                                   f'metric_items=[{given!r}]')
        unknown = [item for item in given if item not in items]
        if unknown:
            raise ConfigCheckError(f'{key}.metric_items={list(given)!r}: {unknown[0]!r} is not an item of CocoMetric, '
                                   f'which has {", ".join(items)} (mmdet refuses it only when it computes the metric '
                                   'with a predicted box, at a validation after training)')


def check_metric_key(key: str, owner: str, evaluator: Any, evaluator_key: str) -> None:
    """Raise :class:`ConfigCheckError` when ``key`` (set at config key ``owner``) is not among the keys the
    metrics of ``evaluator`` (a metric config, a list of them, or mmengine's ``dict(type='Evaluator', metrics=...)``
    at config key ``evaluator_key``) report; nothing is checked when any metric's keys are known only after running
    it (:func:`metric_keys` is ``None``) or by an evaluator class of its own (``MultiDatasetsEvaluator``: keys
    prefixed per dataset; :func:`~automl_mm.engine.preflight_evaluators.reports_own_keys`). A ``classwise=True``
    CocoMetric's ``{prefix}/<class name>_precision`` is taken whatever the name (the dataset's classes); its other
    keys are checked."""
    from .preflight_evaluators import reports_own_keys

    if reports_own_keys(evaluator):
        return
    check_computed_key(key, owner, evaluator, evaluator_key)
    metrics = [m for m in evaluator_metrics(evaluator) if m is not None]
    # a classwise CocoMetric's per-class keys are the dataset's class names: any '{prefix}/<name>_precision' is
    # taken, its other keys are checked (with every key unknown, a misspelt 'coco/bbox_mAp' passed and stopped the
    # run at the first reading)
    known = [metric_keys(m, complete=False) for m in metrics]
    if not known or any(k is None for k in known):
        return  # a metric whose keys are only known after running it
    per_class = [_classwise_prefix(m) for m in metrics if _classwise_prefix(m) is not None]
    if any(key.startswith(f'{prefix}/') and key.endswith('_precision') and len(key) > len(prefix) + 11
           for prefix in per_class):
        return
    available = set().union(*known)
    if key not in available:
        classes = ''.join(f" and a '{prefix}/<class name>_precision' per class (classwise=True)"
                          for prefix in per_class)
        raise ConfigCheckError(f'{owner}={key!r} is not reported by {evaluator_key}, which reports '
                               f'{sorted(available)}{classes}')


#: mmdet 3.3 ``CocoMetric``'s default ``proposal_nums``: the detection counts per image COCOeval evaluates.
COCO_PROPOSAL_NUMS = (100, 300, 1000)
#: An AR item of mmdet's ``CocoMetric``: ``AR[_s|_m|_l]@<n>``, the average recall at ``n`` detections per image.
_AR_ITEM = re.compile(r'AR(_[sml])?@(\d+)')


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


def uncomputed_coco_keys(metric_cfg: Any) -> list[str]:
    """The keys (``{prefix}/AR@1000``, ``{prefix}/bbox_AR_s@1000``, ``{prefix}/bbox_mAP``, ...) a ``CocoMetric`` /
    ``UnroundedCocoMetric`` config reports at a detection count per image (:func:`_counted_at`) that is not among its
    ``proposal_nums`` (the counts COCOeval evaluates, ``params.maxDets``), in the order reported; ``[]`` for other
    metrics.

    mmdet names its AR items by fixed counts (``AR@100``, ``AR@300``, ``AR@1000``, ``AR_<area>@1000``: the default
    ``metric_items`` of ``metric='proposal'``, or ``metric_items`` of bbox / segm) whatever ``proposal_nums`` is.
    Such a key is not computed: automl_mm reads it as -1 (:func:`automl_mm.evaluation.coco.coco_value`, every OHL
    reward and NAS score, ``UnroundedCocoMetric``), mmdet's own ``CocoMetric`` reports under its name the recall at
    another of the ``proposal_nums`` (``COCOeval.stats[6..11]``). pycocotools' mAP (``stats[0]``) is read at 100
    detections: -1 in both without them (``use_mp_eval=False``). ``proposal_fast``'s ``AR@<n>`` are its
    ``proposal_nums``: none."""
    if not isinstance(metric_cfg, dict) or config_type_name(metric_cfg) not in ('CocoMetric', 'UnroundedCocoMetric'):
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
            if count is not None and count not in nums:
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
    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split) or \
                config_type_name(metric) not in ('CocoMetric', 'UnroundedCocoMetric'):
            continue
        kinds = metric.get('metric', 'bbox')
        kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
        nums = _proposal_nums(metric)
        evaluated = [kind for kind in kinds if kind in ('bbox', 'segm', 'proposal')]
        given_nums = metric.get('proposal_nums')
        if evaluated and isinstance(given_nums, (list, tuple)) and \
                not all(isinstance(n, int) and not isinstance(n, bool) for n in given_nums):
            raise ConfigCheckError(
                f"{key}.proposal_nums={given_nums!r}: pycocotools' COCOeval (which mmdet's {config_type_name(metric)} "
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
                f"{key}.proposal_nums={nums!r}: pycocotools' COCOeval.summarize, which mmdet's "
                f'{config_type_name(metric)} runs for {", ".join(map(repr, evaluated))}, reads the third count '
                '(maxDets[2]: the AP items but the mAP, AR@1000, AR_<area>@1000), so with '
                f'{len(nums)} count{"" if len(nums) == 1 else "s"} it stops with IndexError at the first evaluation, '
                f"after training up to it. Give three counts (mmdet's default {COCO_PROPOSAL_NUMS!r})" +
                ('' if past else ", or use_mp_eval=True (mmdet's COCOevalMP summarizes at the counts given)"))
        if past and metric.get('use_mp_eval'):
            (kind, item), items = past[0], sorted({item for _, item in past}, key=COCO_AR_ITEMS.index)
            raise ConfigCheckError(
                f"{key}.proposal_nums={nums!r} with use_mp_eval=True: mmdet's COCOevalMP summarizes the recall at "
                f'each of the {len(nums)} count{"" if len(nums) == 1 else "s"} and then by area, '
                f'stats[6..{8 + len(nums)}], and {config_type_name(metric)} reads {kind!r} item {item!r} at '
                f'stats[{6 + COCO_AR_ITEMS.index(item)}], past them, so it stops with IndexError at the first '
                f"evaluation, after training up to it. Give three counts (mmdet's default {COCO_PROPOSAL_NUMS!r}), "
                f'or metric_items without {", ".join(map(repr, items))}')


def check_coco_iou_thrs(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every ``CocoMetric`` / ``UnroundedCocoMetric`` that evaluates with COCOeval (bbox, segm, proposal) leaves
    ``iou_thrs`` to mmdet (``None``: the array 0.50:0.95) or gives an array: mmdet sets ``params.iouThrs`` to it as
    given, and pycocotools takes its ``len()`` and compares it with ``==`` to 0.5 and 0.75 (``np.where``).

    Raises:
        ConfigCheckError: naming the metric's ``iou_thrs`` key and value. A float stopped the first evaluation with
            ``TypeError`` (no ``len()``), a list or tuple with ``ValueError`` (``Calling nonzero on 0d arrays``),
            after training up to it; ``proposal_fast`` takes either.
    """
    import numpy as np

    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split) or \
                config_type_name(metric) not in ('CocoMetric', 'UnroundedCocoMetric'):
            continue
        thrs = metric.get('iou_thrs')
        kinds = metric.get('metric', 'bbox')
        kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
        evaluated = [kind for kind in kinds if kind in ('bbox', 'segm', 'proposal')]
        if thrs is None or isinstance(thrs, np.ndarray) or not evaluated:
            continue
        error = 'TypeError' if isinstance(thrs, (int, float)) else 'ValueError'
        raise ConfigCheckError(
            f"{key}.iou_thrs={thrs!r}: mmdet's {config_type_name(metric)} hands it as given to pycocotools' COCOeval "
            f'(for {", ".join(map(repr, evaluated))}), which takes its len() and compares it with == to 0.5 and 0.75, '
            f'as a numpy array only, so it stops with {error} at the first evaluation, after training up to it. '
            "Leave iou_thrs unset (mmdet's 0.50:0.95; the mAP_50 / mAP_75 items give the AP at one threshold)")


def _metric_paths(evaluator: Any, evaluator_key: str) -> list[tuple[Any, str]]:
    """``(metric config, its config key)`` of each metric of an evaluator config at ``evaluator_key`` (a metric,
    a list of them, or mmengine's ``dict(type='Evaluator', metrics=...)``)."""
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator, evaluator_key = evaluator['metrics'], f'{evaluator_key}.metrics'
    if isinstance(evaluator, (list, tuple)):
        return [(metric, f'{evaluator_key}[{j}]') for j, metric in enumerate(evaluator)]
    return [(evaluator, evaluator_key)]


def check_computed_key(key: Any, owner: str, evaluator: Any, evaluator_key: str, shown: str | None = None) -> None:
    """Refuse a key that is read (set at config key ``owner``: an OHL ``reward_key``, a NAS ``metric_key``,
    ``save_best``, a monitor) where a COCO metric of ``evaluator`` (at ``evaluator_key``) reports it at a detection
    count it does not evaluate (:func:`uncomputed_coco_keys`: an AR item whose count, or pycocotools' mAP where 100,
    is not in ``proposal_nums``). ``shown``: how the message names the setting (``owner=key`` by default).

    Raises:
        ConfigCheckError: naming ``owner``, the key, the metric's config key and its ``proposal_nums``. Read as -1
            by every OHL reward / NAS score (and ``UnroundedCocoMetric``'s validation), every copy or candidate
            ties and the search is flat; mmdet's ``CocoMetric`` validates such an AR item as the recall at another
            count.
    """
    if not isinstance(key, str):
        return
    for metric, where in _metric_paths(evaluator, evaluator_key):
        if key not in uncomputed_coco_keys(metric):
            continue
        nums = _proposal_nums(metric)
        shown = shown or f'{owner}={key!r}'
        found = _AR_ITEM.search(key)
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
            "compute: OHL rewards, NAS scores, UnroundedCocoMetric), a constant that leaves the search or selection "
            "flat; mmdet's CocoMetric reports under its name the recall at another of the proposal_nums (mmdet names "
            f'its AR items by fixed counts whatever proposal_nums is). Add {count} to {where}.proposal_nums'
            f'{alternative}')


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
            key = _first_key(first)
            found.append(('default_hooks.checkpoint.save_best', key,
                          f"default_hooks.checkpoint.save_best='auto' (val_evaluator's first key, {key!r})"))
        else:
            found.append(('default_hooks.checkpoint.save_best', given, None))
    found += [(f'custom_hooks[{i}].monitor', h.get('monitor'), None)
              for i, h in enumerate(cfg.get('custom_hooks') or [])
              if isinstance(h, dict) and config_type_name(h) == 'EarlyStoppingHook']
    found += [(f'{key}.monitor', node.get('monitor', 'loss'), None) for node, key in _plateau_schedulers(cfg)]
    for owner, key, shown in found:
        check_computed_key(key, owner, evaluator, 'val_evaluator', shown)
        for metric, where in _metric_paths(evaluator, 'val_evaluator'):
            read = _validated_ar_count(key, metric)
            if read is None:
                continue
            raise ConfigCheckError(
                f'{shown or f"{owner}={key!r}"} is validated by {where} (mmdet\'s CocoMetric) as '
                f'{_stats_read(read)}: mmdet takes its AR items at fixed places of '
                f'stats, which hold the recalls at the sorted proposal_nums={_proposal_nums(metric)!r}, whatever '
                f"the item names, so the selection would follow another count. Set {where}.type="
                "'automl_mm.UnroundedCocoMetric' (each AR item at the count it names), or proposal_nums="
                f'{COCO_PROPOSAL_NUMS!r}')


def _stats_read(read: tuple[int, str, int]) -> str:
    """How a message names ``(stats index, area, detection count)`` of :func:`_validated_ar_count`."""
    index, area, count = read
    value = ('past the recalls COCOevalMP computes (IndexError at the first validation)' if count < 0 else
             f'the recall at {count} detection{"" if count == 1 else "s"} per image'
             f'{"" if area == "all" else f" of {area} objects"}')
    return f'COCOeval.stats[{index}], {value}'


def _misread_ar_keys(metric_cfg: Any) -> list[tuple[str, tuple[int, str, int]]]:
    """``(key, (stats index, area, count))`` of each AR key an mmdet ``CocoMetric`` config reports, in the order
    reported, that mmdet reads at another area or count than the key names (:func:`_validated_ar_count`)."""
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
            read = _validated_ar_count(key, metric_cfg)
            if read is not None:
                found.append((key, read))
    return found


def _validated_ar_count(key: Any, metric_cfg: Any) -> tuple[int, str, int] | None:
    """``(stats index, area, detection count)`` that mmengine's validation of mmdet's own ``CocoMetric`` (config
    type ``CocoMetric``) reads an AR key ``key`` it reports at, where that is not the area and count the key names;
    else ``None`` (also for a count not evaluated: :func:`check_computed_key`).

    mmdet 3.3 reads ``AR@100``, ``AR@300``, ``AR@1000``, ``AR_s|m|l@1000`` at ``COCOeval.stats[6..11]``; pycocotools
    (``evaluate`` sorts ``maxDets``, which are ``proposal_nums``) puts there the recall at the first, second and third
    count and at the third count by area; mmdet's ``COCOevalMP`` (``use_mp_eval=True``) the recall at each count
    and then at the largest by area (an index past them: ``IndexError``, taken as another count). An ``AR@<n>`` of
    ``'proposal'`` that a later ``'proposal_fast'`` of the same metric writes over (its recall at ``n``) is not."""
    if not isinstance(key, str) or not isinstance(metric_cfg, dict) or config_type_name(metric_cfg) != 'CocoMetric':
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
    groups: dict[tuple, list[str]] = {}
    for metric, key in _evaluator_cfgs(cfg):
        keys = [] if outside_split(key, test_only, split) else uncomputed_coco_keys(metric)
        misread = [] if outside_split(key, test_only, split) else _misread_ar_keys(metric)
        if keys or misread:
            groups.setdefault((tuple(keys), tuple(misread), _proposal_nums(metric), config_type_name(metric)),
                              []).append(key)
    for (keys, misread, nums, kind), wheres in groups.items():
        several = len(wheres) > 1
        if not keys:  # every count evaluated, read at other places of stats by mmdet's CocoMetric
            print_log(f'{" and ".join(wheres)} ({kind}) report{"" if several else "s"} '
                      f'{", ".join(f"{key!r} as {_stats_read(read)}" for key, read in misread)}: mmdet takes its AR '
                      f'items at fixed places of stats, which hold the recalls at the sorted proposal_nums={nums!r}, '
                      "whatever the item names, so the values logged and saved are other counts'. Set type="
                      f"'automl_mm.UnroundedCocoMetric' (each AR item at the count it names), or proposal_nums="
                      f'{COCO_PROPOSAL_NUMS!r}', logger='current', level=logging.WARNING)
            continue
        ar = [k for k in keys if _AR_ITEM.search(k)]
        why = []
        if ar:
            why.append("automl_mm reports such an AR item as -1 (pycocotools' value of what it did not compute), "
                       "mmdet's CocoMetric as the recall at another of the proposal_nums (mmdet names its AR items by "
                       'fixed counts, AR@100, AR@300, AR@1000, AR_<area>@1000, whatever proposal_nums is)')
        if misread:
            why.append(f'and mmdet\'s CocoMetric reports {", ".join(f"{k!r} as {_stats_read(r)}" for k, r in misread)} '
                       '(its AR items at fixed places of stats, the recalls at the sorted proposal_nums; '
                       "type='automl_mm.UnroundedCocoMetric' reports each at the count it names)")
        if len(ar) < len(keys):
            why.append("pycocotools reads the mAP at 100 detections per image and reports it as -1 without them "
                       "(use_mp_eval=True: mmdet's COCOevalMP reads it at the largest count)")
        print_log(f'{" and ".join(wheres)} ({kind}) report{"" if several else "s"} {", ".join(map(repr, keys))}, '
                  f'read at detection counts {"their" if several else "its"} proposal_nums={nums!r} does not '
                  f'evaluate: {"; ".join(why)}. Give metric_items the items of the counts evaluated, or add the '
                  'counts to proposal_nums', logger='current', level=logging.WARNING)
    return [where for wheres in groups.values() for where in wheres]


def _classwise_prefix(metric_cfg: Any) -> str | None:
    """The prefix of a ``classwise=True`` CocoMetric config with bbox / segm (its per-class keys are
    ``{prefix}/<class name>_precision``, mmdet 3.3), else ``None``."""
    if not isinstance(metric_cfg, dict) or not metric_cfg.get('classwise') or \
            config_type_name(metric_cfg) not in ('CocoMetric', 'UnroundedCocoMetric'):
        return None
    kinds = metric_cfg.get('metric', 'bbox')
    if not {'bbox', 'segm'} & set([kinds] if isinstance(kinds, str) else list(kinds)):
        return None
    return metric_cfg.get('prefix') or 'coco'


#: mmdet 3.3 metrics that report values rounded: ``{class name: (decimals kept, the keys rounded (a regular
#: expression of the name after the prefix; None: every key))}``, from ``round(v, 3)`` / ``'{:.3f}'`` in their
#: ``compute_metrics`` (``SemSegMetric``: percentages to 2 decimals; ``VOCMetric`` / ``OpenImagesMetric`` round
#: their per-IoU ``AP50``-style keys, not ``mAP``, the mean of the unrounded APs). mmdet's ``CocoMetric`` and its
#: subclasses that score with COCOeval (``OVCocoMetric``, ``CocoOccludedSeparatedMetric``, ``CocoVideoMetric``) are
#: read at full precision by OHL rewards and NAS scores (:func:`automl_mm.evaluation.coco.unrounded_coco_metrics`);
#: ``LVISMetric`` scores with LVIS's own evaluator, which that does not reach.
ROUNDED_MMDET_METRICS: dict[str, tuple[int, str | None]] = {
    'LVISMetric': (3, None), 'DODCocoMetric': (3, None), 'VOCMetric': (3, r'AP\d+'),
    'OpenImagesMetric': (3, r'AP\d+'), 'YouTubeVISMetric': (3, None), 'ReIDMetrics': (3, None),
    'CrowdHumanMetric': (4, None), 'SemSegMetric': (2, None)}


def rounded_metric(metric_cfg: Any, scope: str | None) -> tuple[type, int, str | None] | None:
    """``(the metric's class, decimals, the keys rounded)`` where a metric config builds one of
    :data:`ROUNDED_MMDET_METRICS` (or a subclass), else ``None`` (also where its type does not resolve here, or
    mmdet is not installed)."""
    from automl_mm.registry import METRICS, registered_class

    if not isinstance(metric_cfg, dict):
        return None
    kind = metric_cfg.get('type')
    try:
        cls = kind if isinstance(kind, type) else registered_class(METRICS, kind, metric_cfg.get('_scope_') or scope)
        import mmdet.evaluation.metrics as mmdet_metrics
    except (KeyError, ImportError):
        return None
    if not isinstance(cls, type):
        return None
    for name, (decimals, keys) in ROUNDED_MMDET_METRICS.items():
        rounded = getattr(mmdet_metrics, name, None)
        if isinstance(rounded, type) and issubclass(cls, rounded):
            return cls, decimals, keys
    return None


#: The keys mmdet 3.3's ``CocoMetric`` (and its subclasses that keep its ``compute_metrics``: ``OVCocoMetric``,
#: ``CocoOccludedSeparatedMetric``, ``CocoVideoMetric``) reports rounded to 3 decimals, after the prefix:
#: ``{bbox,segm}_<item>`` (``float(f'{round(val, 3)}')``), each ``<class name>_precision`` (``round(ap, 3)``) and,
#: with ``metric='proposal'``, its COCOeval AR items (``f'{...:.3f}'``); ``proposal_fast``'s ``AR@<n>`` and
#: ``OVCocoMetric``'s ``base_ap`` / ``novel_ap`` are not rounded.
COCO_ROUNDED_KEYS = r'(bbox|segm)_.+|.+_precision'
COCO_PROPOSAL_ROUNDED_KEYS = r'AR(_[sml])?@\d+'


def _validated_coco_rounding(metric_cfg: dict, cls: type) -> str | None:
    """The regular expression of the keys (after the prefix) that a ``CocoMetric`` config reports rounded to 3
    decimals when validated by mmengine (:data:`COCO_ROUNDED_KEYS`), ``None`` where ``cls`` does not round (automl_mm's
    ``UnroundedCocoMetric``, a subclass's own ``compute_metrics`` outside mmdet)."""
    from automl_mm.evaluation.coco import UnroundedCocoMetric

    if issubclass(cls, UnroundedCocoMetric) or not getattr(cls.compute_metrics, '__module__', '').startswith('mmdet.'):
        return None
    kinds = metric_cfg.get('metric', 'bbox')
    kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
    # 'proposal' writes its AR@<n> rounded; a 'proposal_fast' after it writes them again unrounded
    proposal = 'proposal' in kinds and not ('proposal_fast' in kinds and
                                            kinds.index('proposal_fast') > kinds.index('proposal'))
    return COCO_ROUNDED_KEYS + (f'|{COCO_PROPOSAL_ROUNDED_KEYS}' if proposal else '')


def rounded_key(metric_key: Any, evaluator: Any, scope: str | None,
                validated: bool = False) -> tuple[type, int] | None:
    """``(the metric's class, decimals)`` where ``metric_key`` is reported rounded by a metric of ``evaluator``
    (:func:`rounded_metric`; the key's prefix is the metric's ``prefix`` or its class's ``default_prefix``), else
    ``None``. ``validated``: the key is read from mmengine's validation (``save_best``), where mmdet's
    ``CocoMetric`` rounds too (:func:`_validated_coco_rounding`; OHL rewards and NAS scores read it unrounded,
    :func:`automl_mm.evaluation.coco.unrounded_coco_metrics`)."""
    import re

    from automl_mm.registry import METRICS, registered_class

    if not isinstance(metric_key, str) or not evaluator:
        return None
    for metric in evaluator_metrics(evaluator):
        found = rounded_metric(metric, scope)
        if found is None and validated and isinstance(metric, dict):
            try:
                from mmdet.evaluation.metrics import CocoMetric

                kind = metric.get('type')
                cls = kind if isinstance(kind, type) else registered_class(METRICS, kind,
                                                                           metric.get('_scope_') or scope)
            except (KeyError, ImportError):
                cls = None
            if isinstance(cls, type) and issubclass(cls, CocoMetric):
                keys = _validated_coco_rounding(metric, cls)
                found = (cls, 3, keys) if keys is not None else None
        prefix = (metric.get('prefix') or getattr(found[0], 'default_prefix', None)) if found else None
        if found is None or (prefix and not metric_key.startswith(f'{prefix}/')):
            continue
        cls, decimals, keys = found
        if keys is not None and not re.fullmatch(keys, metric_key[len(prefix) + 1:] if prefix else metric_key):
            continue
        return cls, decimals
    return None


def _step(cls: type, decimals: int) -> str:
    """The rounding step of ``decimals`` in words (``SemSegMetric``: percentage points)."""
    return f'{10 ** -decimals:g}' + (' percentage points' if cls.__name__ == 'SemSegMetric' else '')


def warn_rounded_search_metric(metric_key: Any, key_name: str, evaluator: Any, evaluator_key: str,
                               scope: str | None) -> bool:
    """Warn where a search ranks by ``metric_key`` (an OHL ``reward_key``, a NAS ``train_cfg.metric_key``) of a
    metric of ``evaluator`` that mmdet reports rounded (:func:`rounded_key`): copies or candidates closer than the
    rounding step tie, the tie goes to the first in order, and with every OHL copy tied the REINFORCE advantages are
    0 (nothing learned). Returns whether it warned."""
    found = rounded_key(metric_key, evaluator, scope)
    if found is None:
        return False
    cls, decimals = found
    print_log(f'{key_name}={metric_key!r} is read from {evaluator_key} ({cls.__name__}), which mmdet reports '
              f'rounded to {decimals} decimals: copies (OHL) or candidates (NAS) whose values differ by less '
              f'than {_step(cls, decimals)} tie, the first in order wins, and with every OHL copy tied the rewards '
              "teach the controller nothing. COCO AP (mmdet's CocoMetric, automl_mm.UnroundedCocoMetric) is read at "
              'full precision; rank by such a key where the search can', logger='current', level=logging.WARNING)
    return True


def warn_rounded_save_best(cfg: Any, scope: str | None) -> list[str]:
    """Warn where ``default_hooks.checkpoint.save_best`` (mmengine's ``CheckpointHook``: a key, a list of keys, or
    ``'auto'``, the first key of ``val_evaluator``'s first metric) is a key ``val_evaluator`` reports rounded
    (:func:`rounded_key` with ``validated``: mmdet's ``CocoMetric`` rounds its AP to 3 decimals): validations
    closer than the rounding step tie, and mmengine keeps the first checkpoint of a tie (``greater``: ``>``), not
    the better one. Returns the keys warned about.

    ``'auto'`` over a metric that reports a class's AP first (``CocoMetric`` / ``UnroundedCocoMetric`` with
    ``classwise=True`` and bbox / segm first: :func:`_first_key`) selects by that one class's AP: said in the warning,
    and warned of alone for ``UnroundedCocoMetric`` (full precision: not returned)."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    evaluator = cfg.get('val_evaluator')
    save_best = hook.get('save_best') if isinstance(hook, dict) else None
    keys = [save_best] if isinstance(save_best, str) else list(save_best) if isinstance(save_best, (list, tuple)) \
        else []
    if not keys or not evaluator or cfg.get('val_dataloader') is None:
        return []
    warned = []
    for given in keys:
        # 'auto': mmengine takes the first key of the validation's metrics, the first metric's first key
        first = next(iter(evaluator_metrics(evaluator)), None)
        key = _first_key(first) if given == 'auto' else given
        found = rounded_key(key, evaluator, scope, validated=True)
        one_class = ''
        if given == 'auto' and key and key.endswith('/<first class>_precision'):
            kinds = first.get('metric', 'bbox')
            kind = kinds if isinstance(kinds, str) else kinds[0]  # (bbox / segm: _first_key)
            one_class = ('with classwise=True mmdet reports each class\'s AP before its mAP: one class\'s AP '
                         f"selects the checkpoint; save_best='{key.split('/')[0]}/{kind}_mAP' selects by the mAP")
        if found is None:
            if one_class:  # UnroundedCocoMetric: full precision, the same order of keys as mmdet's CocoMetric
                print_log(f"default_hooks.checkpoint.save_best='auto' selects by val_evaluator's first key, {key!r} "
                          f'({config_type_name(first)}: {one_class})', logger='current', level=logging.WARNING)
            continue
        cls, decimals = found
        shown = f"'auto' ({key!r}, val_evaluator's first key)" if given == 'auto' else repr(key)
        if one_class:
            shown += f' ({one_class})'
        fix = ("Set val_evaluator's type='automl_mm.UnroundedCocoMetric' (mmdet's CocoMetric at full precision)"
               if cls.__name__ in ('CocoMetric', 'OVCocoMetric') else 'Select by a key reported at full precision')
        print_log(f'default_hooks.checkpoint.save_best={shown} is read from val_evaluator ({cls.__name__}), which '
                  f'mmdet reports rounded to {decimals} decimals: validations whose values differ by less than '
                  f'{_step(cls, decimals)} tie, and mmengine keeps the first checkpoint of a tie, not the better '
                  f'one. {fix}', logger='current', level=logging.WARNING)
        warned.append(key)
    return warned


def _first_key(metric_cfg: Any) -> str | None:
    """The first key a ``CocoMetric`` / ``UnroundedCocoMetric`` config reports (mmdet 3.3: its first ``metric``'s
    first item, ``coco/bbox_mAP`` by default; with ``classwise=True`` and bbox / segm first, the first category's
    ``<class>_precision``, which mmdet reports before the items, named here ``'coco/<first class>_precision'``),
    the one mmengine's ``save_best='auto'`` takes; ``None`` for other metrics (not known here)."""
    if not isinstance(metric_cfg, dict) or config_type_name(metric_cfg) not in ('CocoMetric', 'UnroundedCocoMetric'):
        return None
    kinds = metric_cfg.get('metric', 'bbox')
    kind = kinds if isinstance(kinds, str) else next(iter(kinds), None) if isinstance(kinds, (list, tuple)) else None
    prefix = metric_cfg.get('prefix') or 'coco'
    items = metric_cfg.get('metric_items')
    if kind in ('bbox', 'segm'):
        return f'{prefix}/<first class>_precision' if metric_cfg.get('classwise') else \
            f'{prefix}/{kind}_{(items or COCO_AP_ITEMS)[0]}'
    if kind == 'proposal':
        return f'{prefix}/{(items or COCO_AR_ITEMS)[0]}'
    return None


def warn_rounded_monitors(cfg: Any, scope: str | None) -> list[str]:
    """Warn where an ``EarlyStoppingHook`` (``custom_hooks``) or a ``ReduceOnPlateau*`` parameter scheduler
    (``param_scheduler``) monitors a key ``val_evaluator`` reports rounded (:func:`rounded_key` with
    ``validated``) and counts improvements smaller than the rounding step: mmengine's ``EarlyStoppingHook`` counts
    an epoch as no improvement unless the value passes the best by ``min_delta`` (default 0.1), a
    ``ReduceOnPlateau*`` by ``threshold`` (``threshold_rule='abs'``) or ``best * threshold`` (``'rel'``, the
    default, 1e-4; taken here with the largest value of the metric, 1, or 100 for ``SemSegMetric``'s
    percentages). Below the step (``min_delta`` above 0: mmengine counts a tie as an improvement there, and
    rounding keeps the order of values; any ``threshold``: a tie is no improvement), a real gain rounds to none:
    training stops, or the parameter is reduced, early. Returns the config keys warned about."""
    from automl_mm.utils.scope import config_type_name

    from .preflight_evaluators import _plateau_schedulers

    evaluator = cfg.get('val_evaluator')
    if not evaluator or cfg.get('val_dataloader') is None:
        return []
    found = [(f'custom_hooks[{i}]', hook, hook.get('monitor'), hook.get('min_delta', 0.1), 'abs', 'min_delta',
              'training stops early') for i, hook in enumerate(cfg.get('custom_hooks') or [])
             if isinstance(hook, dict) and config_type_name(hook) == 'EarlyStoppingHook']
    found += [(key, node, node.get('monitor', 'loss'), node.get('threshold', 1e-4), node.get('threshold_rule', 'rel'),
               'threshold', 'the parameter is reduced early') for node, key in _plateau_schedulers(cfg)]
    warned = []
    for where, node, monitor, least, mode, least_key, effect in found:
        rounded = rounded_key(monitor, evaluator, scope, validated=True)
        if rounded is None or not isinstance(least, (int, float)):
            continue
        cls, decimals = rounded
        scale = 1 if mode == 'abs' else 100 if cls.__name__ == 'SemSegMetric' else 1
        # EarlyStoppingHook: no improvement only where best + min_delta passes the value, strictly (mmengine negates
        # min_delta for 'less'): with min_delta <= 0 a tie is an improvement, and rounding never turns a gain into a
        # loss, so no gain is lost
        if (least_key == 'min_delta' and least <= 0) or least * scale >= 10 ** -decimals:
            continue
        print_log(f'{where}.monitor={monitor!r} ({config_type_name(node)}) is read from val_evaluator '
                  f'({cls.__name__}), which mmdet reports rounded to {decimals} decimals, and its {least_key}={least!r}'
                  f'{" (relative)" if mode == "rel" else ""} counts gains smaller than {_step(cls, decimals)}: '
                  f'such a gain rounds to none, so {effect}. Monitor a key reported at full precision (COCO: '
                  "val_evaluator's type='automl_mm.UnroundedCocoMetric') or set a larger "
                  f'{where}.{least_key}', logger='current', level=logging.WARNING)
        warned.append(where)
    return warned
