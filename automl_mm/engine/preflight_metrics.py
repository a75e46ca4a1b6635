"""The metric keys a config names, against the keys its evaluators report (part of
:func:`automl_mm.engine.preflight.check_config`).

OHL's ``reward_key``, the NAS loops' ``metric_key`` and ``default_hooks.checkpoint.save_best`` are read only when a
metric is first computed (at a trunk's end, a search's scoring, the first validation): a key the evaluator does not
report stopped the run after it had trained up to there. :func:`metric_keys` says which keys a metric reports where
that is known without running it; :func:`check_metric_key` refuses a key outside them; ``CocoMetric``'s
``metric_items`` are mmdet's item names (:func:`_check_coco_metric_items`). :func:`warn_rounded_search_metric` warns
where a search ranks by a metric mmdet reports rounded (copies and candidates tie).
"""
from __future__ import annotations

import logging
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


def warn_rounded_search_metric(metric_key: Any, key_name: str, evaluator: Any, evaluator_key: str,
                               scope: str | None) -> bool:
    """Warn where a search ranks by ``metric_key`` (an OHL ``reward_key``, a NAS ``train_cfg.metric_key``) of a
    metric of ``evaluator`` that mmdet reports rounded (:func:`rounded_metric`; the key's prefix is the metric's
    ``prefix`` or its class's ``default_prefix``): copies or candidates closer than the rounding step tie, the tie
    goes to the first in order, and with every OHL copy tied the REINFORCE advantages are 0 (nothing learned).
    Returns whether it warned."""
    import re

    if not isinstance(metric_key, str) or not evaluator:
        return False
    for metric in evaluator_metrics(evaluator):
        found = rounded_metric(metric, scope)
        prefix = (metric.get('prefix') or getattr(found[0], 'default_prefix', None)) if found else None
        if found is None or (prefix and not metric_key.startswith(f'{prefix}/')):
            continue
        cls, decimals, keys = found
        if keys is not None and not re.fullmatch(keys, metric_key[len(prefix) + 1:] if prefix else metric_key):
            continue
        step = f'{10 ** -decimals:g}' + (' percentage points' if cls.__name__ == 'SemSegMetric' else '')
        print_log(f'{key_name}={metric_key!r} is read from {evaluator_key} ({cls.__name__}), which mmdet reports '
                  f'rounded to {decimals} decimals: copies (OHL) or candidates (NAS) whose values differ by less '
                  f'than {step} tie, the first in order wins, and with every OHL copy tied the rewards teach the '
                  'controller nothing. COCO AP (mmdet\'s CocoMetric, automl_mm.UnroundedCocoMetric) is read at '
                  'full precision; rank by such a key where the search can', logger='current', level=logging.WARNING)
        return True
    return False
