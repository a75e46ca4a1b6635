"""The metric keys a config names, against the keys its evaluators report (part of
:func:`automl_mm.engine.preflight.check_config`).

OHL's ``reward_key``, the NAS loops' ``metric_key`` and ``default_hooks.checkpoint.save_best`` are read only when a
metric is first computed (at a trunk's end, a search's scoring, the first validation): a key the evaluator does not
report stopped the run after it had trained up to there. :func:`metric_keys` says which keys a metric reports where
that is known without running it; :func:`check_metric_key` refuses a key outside them; ``CocoMetric``'s
``metric_items`` are mmdet's item names (:func:`_check_coco_metric_items`). :func:`warn_rounded_search_metric` warns
where a search ranks by a metric mmdet reports rounded (copies and candidates tie), :func:`warn_rounded_save_best`
where ``save_best`` selects checkpoints by one (validations tie: the first checkpoint is kept),
:func:`warn_area_ranges_differ` where a search ranks by an area key (``bbox_mAP_s``) that the validation logs ranged
by box areas (mmdet's ``CocoMetric`` without ``ann_file``) and the search by mask areas.
Keys and arguments at detection counts pycocotools does not evaluate: :mod:`automl_mm.engine.preflight_coco_counts`;
``iou_thrs`` and ``classwise`` settings: :mod:`automl_mm.engine.preflight_coco_settings`.
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


def reporting_class(metric_cfg: Any, scope: str | None = None) -> tuple[str, str] | None:
    """``(the stock metric whose keys a metric config reports, their prefix)`` where that is known without running
    it, else ``None``.

    The class is resolved as mmengine builds the node (its ``_scope_``, else ``scope``, the config's
    ``default_scope``; with neither, the current scope, then mmdet's:
    :func:`~automl_mm.engine.preflight_walk.coco_metric_class`), and judged by the class whose ``compute_metrics``
    it runs: ``'Accuracy'`` / ``'LogLikelihood'`` (automl_mm's), ``'CocoMetric'`` (mmdet's ``CocoMetric``, or
    automl_mm's ``UnroundedCocoMetric``, which reports its keys). So a user's subclass under another name that keeps
    that ``compute_metrics`` reports its keys, and a user's own class named ``'CocoMetric'`` does not. The prefix is
    the config's ``prefix``, else the class's ``default_prefix`` (mmengine's ``BaseMetric``)."""
    from mmengine.evaluator import BaseMetric

    from automl_mm.evaluation.accuracy import Accuracy, LogLikelihood
    from automl_mm.registry import METRICS

    from .preflight_walk import _subclass

    cls = _subclass(metric_cfg, METRICS, BaseMetric, scope)  # (config_class: None where unresolvable)
    if cls is None:
        return None
    stock: dict[type, str] = {Accuracy: 'Accuracy', LogLikelihood: 'LogLikelihood'}
    try:
        from mmdet.evaluation.metrics import CocoMetric

        from automl_mm.evaluation.coco import UnroundedCocoMetric
        stock.update({CocoMetric: 'CocoMetric', UnroundedCocoMetric: 'CocoMetric'})
    except ImportError:  # no mmdet: no COCO metric is built
        pass
    owner = next((c for c in cls.__mro__ if 'compute_metrics' in vars(c)), None)
    if owner not in stock:
        return None
    return stock[owner], metric_cfg.get('prefix') or cls.default_prefix or ''


def metric_keys(metric_cfg: Any, complete: bool = True, scope: str | None = None) -> set[str] | None:
    """The keys a metric config reports, when they are known without running it (else ``None``); its class is
    resolved in ``scope`` (the config's ``default_scope``) and judged by the ``compute_metrics`` it runs
    (:func:`reporting_class`), not by its ``type`` name.

    ``Accuracy`` (automl_mm): ``{prefix}/top{k}`` per ``topk``; ``LogLikelihood`` (automl_mm): ``{prefix}/mean``;
    mmdet ``CocoMetric`` (and automl_mm's ``UnroundedCocoMetric``): ``{prefix}/{metric}_{item}`` for bbox/segm
    (``metric_items`` or mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l) and ``{prefix}/{item}`` AR keys for proposals
    (mmdet 3.3 ``CocoMetric.compute_metrics``); unknown (``None``) with ``classwise=True`` for bbox/segm, whose
    ``{prefix}/{class name}_precision`` keys are the dataset's class names (a reward_key or save_best on one class
    was refused as not reported). With ``complete=False`` the keys known to be reported among others (a classwise
    metric's bbox/segm keys), for a check that some key is reported twice. ``{prefix}``: the config's ``prefix``,
    else the class's ``default_prefix``.
    """
    if not isinstance(metric_cfg, dict):
        return None
    found = reporting_class(metric_cfg, scope)
    if found is None:
        return None
    kind, prefix = found
    if kind == 'Accuracy':
        topk = metric_cfg.get('topk', (1, ))
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        return {f'{prefix}/top{int(k)}' for k in topk}
    if kind == 'LogLikelihood':  # automl_mm's: one key
        return {f'{prefix}/mean'}
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


def _check_coco_metric_items(cfg: Any, test_only: bool, split: str = 'test') -> None:
    """Every ``metric_items`` of a ``CocoMetric`` (or ``UnroundedCocoMetric``) is a list of mmdet's item names
    (:data:`COCO_AP_ITEMS` and :data:`COCO_AR_ITEMS`, any of them for any metric, as mmdet takes them).

    mmdet takes any items when the metric is built and refuses an unknown one (``KeyError: metric item "mAP_51" is
    not supported``) only in ``compute_metrics``, once the model predicts a box: at a validation after training. A
    string is read letter by letter."""
    from .preflight_coco_settings import _runs_coco_compute

    items = COCO_AP_ITEMS + COCO_AR_ITEMS
    for metric, key in _evaluator_cfgs(cfg):
        given = metric.get('metric_items')
        if outside_split(key, test_only, split) or given is None or not _runs_coco_compute(metric, cfg):
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


def check_metric_key(key: str, owner: str, evaluator: Any, evaluator_key: str, scope: str | None = None) -> None:
    """Raise :class:`ConfigCheckError` when ``key`` (set at config key ``owner``) is not among the keys the
    metrics of ``evaluator`` (a metric config, a list of them, or mmengine's ``dict(type='Evaluator', metrics=...)``
    at config key ``evaluator_key``) report; nothing is checked when any metric's keys are known only after running
    it (:func:`metric_keys` is ``None``) or by an evaluator class of its own (``MultiDatasetsEvaluator``: keys
    prefixed per dataset; :func:`~automl_mm.engine.preflight_evaluators.reports_own_keys`). A ``classwise=True``
    CocoMetric's ``{prefix}/<class name>_precision`` is taken whatever the name (the dataset's classes); its other
    keys are checked, and a key a COCO metric does not compute is refused
    (:func:`~automl_mm.engine.preflight_coco_counts.check_computed_key`, the metrics' types resolved in ``scope``,
    the config's ``default_scope``)."""
    from .preflight_coco_counts import check_computed_key
    from .preflight_evaluators import reports_own_keys

    if reports_own_keys(evaluator):
        return
    check_computed_key(key, owner, evaluator, evaluator_key, scope=scope)
    metrics = [m for m in evaluator_metrics(evaluator) if m is not None]
    # a classwise CocoMetric's per-class keys are the dataset's class names: any '{prefix}/<name>_precision' is
    # taken, its other keys are checked (with every key unknown, a misspelt 'coco/bbox_mAp' passed and stopped the
    # run at the first reading)
    known = [metric_keys(m, complete=False, scope=scope) for m in metrics]
    if not known or any(k is None for k in known):
        return  # a metric whose keys are only known after running it
    per_class = [p for p in (_classwise_prefix(m, scope) for m in metrics) if p is not None]
    if any(key.startswith(f'{prefix}/') and key.endswith('_precision') and len(key) > len(prefix) + 11
           for prefix in per_class):
        return
    available = set().union(*known)
    if key not in available:
        classes = ''.join(f" and a '{prefix}/<class name>_precision' per class (classwise=True)"
                          for prefix in per_class)
        meant = _meant_key(key, available)
        hint = f'; did you mean {owner}={meant!r}?' if meant is not None else ''
        raise ConfigCheckError(f'{owner}={key!r} is not reported by {evaluator_key}, which reports '
                               f'{sorted(available)}{classes}{hint}')


def _meant_key(key: str, available: set[str]) -> str | None:
    """The reported key that ``key`` most likely means: the one whose name after its metric's prefix is ``key``
    (``top1`` for ``accuracy/top1``, mmdet 2.x's ``bbox_mAP`` for ``coco/bbox_mAP``; only where one key has it),
    else one equal but for case (``coco/bbox_map``), else the closest spelling (``difflib``, ratio 0.8 or more:
    ``accuracy/top_1``); ``None`` where none is close."""
    import difflib

    keys = sorted(available)
    tails = [k for k in keys if k.rsplit('/', 1)[-1] == key]
    if len(tails) == 1:
        return tails[0]
    same = [k for k in keys if k.lower() == key.lower()]
    if same:
        return same[0]
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.8)
    return close[0] if close else None


def _classwise_prefix(metric_cfg: Any, scope: str | None = None) -> str | None:
    """The prefix of a ``classwise=True`` config of a metric that reports mmdet's ``CocoMetric`` keys
    (:func:`reporting_class`, resolved in ``scope``) with bbox / segm (its per-class keys are
    ``{prefix}/<class name>_precision``, mmdet 3.3), else ``None``."""
    if not isinstance(metric_cfg, dict) or not metric_cfg.get('classwise'):
        return None
    found = reporting_class(metric_cfg, scope)
    if found is None or found[0] != 'CocoMetric':
        return None
    kinds = metric_cfg.get('metric', 'bbox')
    if not {'bbox', 'segm'} & set([kinds] if isinstance(kinds, str) else list(kinds)):
        return None
    return found[1]


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
    if not _rounder(cls).startswith("mmdet's "):
        return None  # its own compute_metrics (a user's): not known to round
    for name, (decimals, keys) in ROUNDED_MMDET_METRICS.items():
        rounded = getattr(mmdet_metrics, name, None)
        if isinstance(rounded, type) and issubclass(cls, rounded):
            return cls, decimals, keys
    return None


def _rounder(cls: type) -> str:
    """The ``compute_metrics`` a metric class runs, by the class that defines it and where that comes from
    (``"mmdet's VOCMetric.compute_metrics"`` for mmdet's ``VOCMetric`` and a user's subclass that keeps it)."""
    from .preflight_coco_settings import class_origin

    owner = next((c for c in cls.__mro__ if 'compute_metrics' in vars(c)), cls)
    return f'{class_origin(owner)}.compute_metrics'


def _is_mmdet(cls: type, name: str) -> bool:
    """Whether ``cls`` is mmdet's class ``name`` or a subclass of it (a user's subclass too)."""
    return any(c.__name__ == name and c.__module__.startswith('mmdet.') for c in cls.__mro__)


def _rounded_by(where: str, cls: type, decimals: int) -> str:
    """``"<where> (<the class and where it comes from>), reported rounded to <n> decimals by <the compute_metrics
    that rounds>"``: a user's class is not called mmdet's, and the rounding is said to be mmdet's."""
    from .preflight_coco_settings import class_origin

    return f'{where} ({class_origin(cls)}), reported rounded to {decimals} decimals by {_rounder(cls)}'


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
    return f'{10 ** -decimals:g}' + (' percentage points' if _is_mmdet(cls, 'SemSegMetric') else '')


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
    print_log(f'{key_name}={metric_key!r} is read from {_rounded_by(evaluator_key, cls, decimals)}: copies (OHL) '
              'or candidates (NAS) whose values differ by less '
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
        key = _first_key(first, scope) if given == 'auto' else given
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
        fix = _full_precision_fix(cls)
        print_log(f'default_hooks.checkpoint.save_best={shown} is read from '
                  f'{_rounded_by("val_evaluator", cls, decimals)}: validations whose values differ by less than '
                  f'{_step(cls, decimals)} tie, and mmengine keeps the first checkpoint of a tie, not the better '
                  f'one. {fix}', logger='current', level=logging.WARNING)
        warned.append(key)
    return warned


def _full_precision_fix(cls: type) -> str:
    """What to do where ``save_best`` reads a rounded key of a metric of class ``cls``: mmdet's ``CocoMetric`` /
    ``OVCocoMetric`` itself, automl_mm's ``UnroundedCocoMetric`` in its place; a user's class that keeps mmdet's
    ``CocoMetric.compute_metrics``, that class derived from ``UnroundedCocoMetric``; else a key at full precision."""
    from .preflight_coco_settings import class_origin

    if cls.__module__.startswith('mmdet.') and cls.__name__ in ('CocoMetric', 'OVCocoMetric'):
        return "Set val_evaluator's type='automl_mm.UnroundedCocoMetric' (mmdet's CocoMetric at full precision)"
    if _rounder(cls) == "mmdet's CocoMetric.compute_metrics":
        return (f"Derive {class_origin(cls)} from automl_mm.UnroundedCocoMetric (mmdet's CocoMetric at full "
                'precision) rather than from mmdet\'s CocoMetric, or select by a key reported at full precision')
    return 'Select by a key reported at full precision'


def _first_key(metric_cfg: Any, scope: str | None = None) -> str | None:
    """The first key a config of a metric that reports mmdet's ``CocoMetric`` keys (:func:`reporting_class`,
    resolved in ``scope``: ``CocoMetric``, ``UnroundedCocoMetric``, a user's subclass keeping their
    ``compute_metrics``) reports (mmdet 3.3: its first ``metric``'s first item, ``coco/bbox_mAP`` by default; with
    ``classwise=True`` and bbox / segm first, the first category's ``<class>_precision``, which mmdet reports before
    the items, named here ``'coco/<first class>_precision'``), the one mmengine's ``save_best='auto'`` takes;
    ``None`` for other metrics (not known here)."""
    found = reporting_class(metric_cfg, scope) if isinstance(metric_cfg, dict) else None
    if found is None or found[0] != 'CocoMetric':
        return None
    kinds = metric_cfg.get('metric', 'bbox')
    kind = kinds if isinstance(kinds, str) else next(iter(kinds), None) if isinstance(kinds, (list, tuple)) else None
    prefix = found[1]
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
        scale = 1 if mode == 'abs' else 100 if _is_mmdet(cls, 'SemSegMetric') else 1
        # EarlyStoppingHook: no improvement only where best + min_delta passes the value, strictly (mmengine negates
        # min_delta for 'less'): with min_delta <= 0 a tie is an improvement, and rounding never turns a gain into a
        # loss, so no gain is lost
        if (least_key == 'min_delta' and least <= 0) or least * scale >= 10 ** -decimals:
            continue
        print_log(f'{where}.monitor={monitor!r} ({config_type_name(node)}) is read from '
                  f'{_rounded_by("val_evaluator", cls, decimals)}, and its {least_key}={least!r}'
                  f'{" (relative)" if mode == "rel" else ""} counts gains smaller than {_step(cls, decimals)}: '
                  f'such a gain rounds to none, so {effect}. Monitor a key reported at full precision (COCO: '
                  "val_evaluator's type='automl_mm.UnroundedCocoMetric') or set a larger "
                  f'{where}.{least_key}', logger='current', level=logging.WARNING)
        warned.append(where)
    return warned


#: The keys (after the prefix) of a ``CocoMetric`` that range objects small / medium / large by their ``area``.
COCO_AREA_KEYS = r'(bbox|segm)_mAP_[sml]|AR_[sml]@\d+'


def warn_area_ranges_differ(metric_key: Any, key_name: str, evaluator: Any, evaluator_key: str, cfg: Any,
                            scope: str | None) -> bool:
    """Warn where a search ranks by an area key (``coco/bbox_mAP_s``, ``coco/AR_l@1000``: :data:`COCO_AREA_KEYS`)
    of a ``CocoMetric`` without ``ann_file`` while ``val_evaluator`` logs the same key from mmdet's own
    ``CocoMetric`` without ``ann_file``: the search's value ranges each object with a mask by its mask's area, as
    pycocotools on an annotation file does (:func:`automl_mm.evaluation.coco.gt_json_with_mask_areas`), mmdet's by
    its box's, so for the same predictions the logged validation and the search's scores read other objects (a 40 x
    40 box around 800 mask pixels: small to the search, medium to the validation). ``automl_mm.UnroundedCocoMetric``
    in ``val_evaluator`` reads as the search does. An object without a mask keeps its box's area in both, so for
    box-only data the readings agree: whether the data has masks is not known here (the ground truth is written at
    evaluation), so the warning says that it applies where they do. Returns whether it warned."""
    import re

    from automl_mm.evaluation.coco import UnroundedCocoMetric
    from automl_mm.registry import METRICS

    from .preflight_walk import _subclass

    def area_key_of(metric: Any) -> bool:  # a CocoMetric without ann_file reporting metric_key, an area key
        found = reporting_class(metric, scope) if isinstance(metric, dict) else None
        if found is None or found[0] != 'CocoMetric' or metric.get('ann_file'):
            return False
        prefix = found[1]
        key = metric_key[len(prefix) + 1:] if prefix and metric_key.startswith(f'{prefix}/') else \
            None if prefix else metric_key
        return key is not None and re.fullmatch(COCO_AREA_KEYS, key) is not None and \
            metric_key in (metric_keys(metric, complete=False, scope=scope) or ())

    if not isinstance(metric_key, str) or not any(area_key_of(m) for m in evaluator_metrics(evaluator or [])):
        return False
    if cfg.get('val_dataloader') is None:
        return False
    for metric in evaluator_metrics(cfg.get('val_evaluator') or []):
        cls = _subclass(metric, METRICS, object, scope) if isinstance(metric, dict) else None
        if cls is None or issubclass(cls, UnroundedCocoMetric) or not area_key_of(metric):
            continue
        print_log(f'{key_name}={metric_key!r} ranges objects small / medium / large by their mask areas '
                  f'({evaluator_key} has no ann_file: the ground truth is written from the scored images, each object '
                  "with a mask given its mask's area, as pycocotools reads an annotation file), but val_evaluator's "
                  f"{config_type_name(metric)} (mmdet's, without ann_file) logs {metric_key!r} ranged by box areas: "
                  'where the annotations give masks (segmentation), the validation and the search read other objects '
                  'for the same predictions (an object without a mask keeps its box area in both: box-only data '
                  'reads the same, and this warning does not apply to it). Set val_evaluator '
                  "type='automl_mm.UnroundedCocoMetric' (mmdet's CocoMetric, ranged by mask areas) for the same "
                  'reading, or give both an ann_file', logger='current', level=logging.WARNING)
        return True
    return False
