"""Settings of mmdet's ``LVISMetric`` that lvis-api never receives, and the AR keys it does not report (part of
:func:`automl_mm.engine.preflight.check_config`; a sibling of :mod:`automl_mm.engine.preflight_coco_counts`).

mmdet 3.3's ``LVISMetric.compute_metrics`` scores ``'bbox'`` / ``'segm'`` / ``'proposal'`` with lvis-api's
``LVISEval`` and hands it neither ``iou_thrs`` (lvis-api's ``Params.iou_thrs`` stays 0.50:0.95) nor
``proposal_nums``: for ``'proposal'`` it sets ``params.maxDets``, a name lvis-api's ``Params`` does not read (its
count is ``params.max_dets``, 300 detections per image), so lvis-api's AR is ``AR@300`` (``ARs@300``, ``ARm@300``,
``ARl@300``) whatever the counts. Of lvis-api's results it reports those its ``metric_items`` name (lvis-api's
names: :data:`LVIS_RESULT_ITEMS`), nothing under other names. Only ``'proposal_fast'`` (mmdet's own
``eval_recalls``) reads ``proposal_nums`` and ``iou_thrs``, reporting ``AR@<n>`` per count. Likewise mmdet asks
for the class-agnostic recall of ``'proposal'`` with ``params.useCats = 0``, which lvis-api's ``Params`` does not
read (its ``use_cats`` stays 1): the ``'proposal'`` recall is lvis-api's per category, of the labels predicted (an
RPN's proposals, all labelled 0, match only the first category's objects). A setting so ignored is warned of
(:func:`warn_lvis_ignored_settings`); reading an AR key such a metric does not report is refused
(:func:`check_lvis_ar_key`, from :func:`~automl_mm.engine.preflight_coco_counts.check_computed_key`).

The lvis-api itself is checked too (:func:`check_lvis_api`): mmdet builds an ``LVISMetric`` /
``LVISFixedAPMetric`` only where lvis-api is importable (else ``RuntimeError: Package lvis is not installed`` when
the evaluator is built, naming no config key), and PyPI's lvis 0.5.3 ``LVISEval.accumulate`` calls ``np.float``,
which numpy 1.24 removed: a run trained up to its first evaluation, then stopped with ``AttributeError: module
'numpy' has no attribute 'float'``. Whether the installed lvis-api fails so is found by running its evaluation on a
one-image set (:func:`lvis_eval_error`), not from version strings.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import os.path as osp
import re
import sys
import traceback
from typing import Any

from mmengine.logging import print_log

from .preflight_probe_folder import ProbeFolderError
from .preflight_walk import ConfigCheckError, _evaluator_cfgs, config_scope, outside_split

#: The results lvis-api's ``LVISEval.summarize`` computes, by its names (``AR*@300``: at ``params.max_dets``, 300
#: detections per image, which mmdet's ``LVISMetric`` does not change).
LVIS_RESULT_ITEMS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300', 'ARs@300', 'ARm@300',
                     'ARl@300')
#: mmdet 3.3 ``LVISMetric``'s default ``metric_items``: ``'proposal'``'s and ``'bbox'`` / ``'segm'``'s.
LVIS_PROPOSAL_ITEMS = ('AR@300', 'ARs@300', 'ARm@300', 'ARl@300')
LVIS_AP_ITEMS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')
#: lvis-api's detection count per image (``Params.max_dets``).
LVIS_MAX_DETS = 300
#: The kinds of ``metric`` lvis-api's ``LVISEval`` scores (``'proposal_fast'`` is mmdet's ``eval_recalls``).
_LVIS_EVALUATED = ('bbox', 'segm', 'proposal')
#: An AR key's name after the prefix (and ``bbox_`` / ``segm_``): lvis-api's ``AR[s|m|l]@<n>`` or mmdet
#: ``CocoMetric``'s ``AR[_s|_m|_l]@<n>``.
_AR_NAME = re.compile(r'((bbox|segm)_)?AR(_?[sml])?@\d+')


def lvis_metric_class(metric_cfg: Any, scope: str | None = None) -> type | None:
    """The class a metric config builds where it is mmdet's ``LVISMetric`` or a subclass that keeps its
    ``compute_metrics`` (the type resolved in ``scope``, as mmengine builds it), else ``None`` (another metric, a
    subclass of its own ``compute_metrics``: not judged; no mmdet)."""
    try:
        from mmdet.evaluation.metrics import LVISMetric
    except ImportError:
        return None
    from automl_mm.registry import METRICS

    from .preflight_walk import _subclass

    cls = _subclass(metric_cfg, METRICS, LVISMetric, scope)
    return cls if cls is not None and cls.compute_metrics is LVISMetric.compute_metrics else None


def _kinds(metric_cfg: dict) -> list:
    kinds = metric_cfg.get('metric', 'bbox')
    return [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []


def _shown(value: Any) -> Any:
    import numpy as np

    return value.tolist() if isinstance(value, np.ndarray) else value


def _lvis_iou_thrs():
    """lvis-api's ``Params.iou_thrs``: 0.50:0.95, ten thresholds."""
    import numpy as np

    return np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)


def lvis_ignored_settings(metric_cfg: dict, cls: type | None = None) -> list[tuple[str, str]]:
    """``(setting=value for kinds, what lvis-api does instead)`` of each setting of an ``LVISMetric`` config
    (:func:`lvis_metric_class`) that lvis-api's ``LVISEval`` does not receive for the kinds it scores (``'bbox'``,
    ``'segm'``, ``'proposal'``): ``proposal_nums`` other than ``(300,)`` or mmdet's default ``(100, 300, 1000)``
    (lvis-api evaluates at 300 detections per image), ``iou_thrs`` other than lvis-api's 0.50:0.95, and
    ``metric_items`` that name no result of lvis-api (:data:`LVIS_RESULT_ITEMS`: reported under no key), and
    ``'proposal'`` itself (mmdet's ``params.useCats = 0`` is not read: its keys are the recall per category).
    ``[]`` with ``format_only`` (nothing is evaluated). ``cls``: the metric's class (its ``default_prefix`` names
    the keys)."""
    import numpy as np

    kinds = [kind for kind in _kinds(metric_cfg) if kind in _LVIS_EVALUATED]
    if not kinds or metric_cfg.get('format_only'):
        return []
    prefix = metric_cfg.get('prefix') or getattr(cls, 'default_prefix', None) or 'lvis'
    fast = " ('proposal_fast', mmdet's own recall, reads them)"
    named = ', '.join(map(repr, kinds))
    found = []
    nums = metric_cfg.get('proposal_nums')
    if isinstance(nums, (list, tuple)) and sorted(set(nums)) not in ([LVIS_MAX_DETS], [100, 300, 1000]):
        ar = ', '.join(f"'{prefix}/{item}'" if 'proposal' in kinds else item for item in LVIS_PROPOSAL_ITEMS)
        found.append((f'proposal_nums={_shown(nums)!r} for {named}',
                      "mmdet's LVISMetric does not hand them to lvis-api's LVISEval ('proposal' sets params.maxDets, a "
                      'name lvis-api does not read: its count is params.max_dets), which evaluates at '
                      f'{LVIS_MAX_DETS} detections per image whatever they are: its AP, and its recall {ar}'
                      f'{fast if "proposal_fast" in _kinds(metric_cfg) else ""}. Leave proposal_nums unset'))
    thrs = metric_cfg.get('iou_thrs')
    if thrs is not None:
        given = np.asarray(thrs, dtype=float) if isinstance(thrs, (int, float, list, tuple, np.ndarray)) else None
        if given is None or given.shape != (10, ) or not np.allclose(given, _lvis_iou_thrs()):
            found.append((f'iou_thrs={_shown(thrs)!r} for {named}',
                          "mmdet's LVISMetric does not hand them to lvis-api's LVISEval, which evaluates at its "
                          'params.iou_thrs, 0.50:0.95 (ten thresholds), whatever they are: the AP and AR reported '
                          'average over those' + (fast if 'proposal_fast' in _kinds(metric_cfg) else '') +
                          ". Leave iou_thrs unset (lvis-api's AP50 / AP75 items are the AP at 0.5 / 0.75)"))
    items = metric_cfg.get('metric_items')
    unknown = [item for item in items if item not in LVIS_RESULT_ITEMS] if isinstance(items, (list, tuple)) else []
    if unknown:
        found.append((f'metric_items={list(items)!r} for {named}',
                      f'lvis-api computes no {", ".join(map(repr, unknown))} (its results: '
                      f'{", ".join(LVIS_RESULT_ITEMS)}), and mmdet\'s LVISMetric reports those of its results '
                      f'metric_items name, so {named} report nothing under them. Name lvis-api\'s items'))
    kinds_given = _kinds(metric_cfg)
    later_fast = 'proposal' in kinds_given and 'proposal_fast' in kinds_given[kinds_given.index('proposal') + 1:]
    fast_nums = nums if isinstance(nums, (list, tuple)) else (100, 300, 1000)
    # (a later 'proposal_fast' writes its own recall at each of proposal_nums over 'proposal''s AR@<n>)
    reported = [item for item in (items if isinstance(items, (list, tuple)) else LVIS_PROPOSAL_ITEMS)
                if item in LVIS_RESULT_ITEMS and not (later_fast and item in (f'AR@{n}' for n in fast_nums))] \
        if 'proposal' in kinds else []
    recalls = [f'{prefix}/{item}' for item in reported if item in LVIS_PROPOSAL_ITEMS]
    aps = [f'{prefix}/{item}' for item in reported if item not in LVIS_PROPOSAL_ITEMS]
    if reported:
        several = len(reported) > 1
        read = ' and '.join(f'{", ".join(map(repr, keys))} {"are" if len(keys) > 1 else "is"} the {what} per '
                            'category of the labels predicted' for keys, what in ((recalls, 'recall'), (aps, 'AP'))
                            if keys)
        found.append((f'metric={_shown(metric_cfg.get("metric"))!r}',
                      "mmdet's LVISMetric asks lvis-api's LVISEval for the class-agnostic recall of 'proposal' with "
                      "params.useCats = 0, a name lvis-api's Params does not read (it reads params.use_cats, which "
                      'stays 1), so lvis-api matches each proposal only with ground truth of its label\'s category '
                      f'and averages over the categories: {read}, not the class-agnostic proposal '
                      f'{"recall" if recalls else "AP"} (an RPN labels every proposal 0, the first category: exact '
                      'proposals of two objects of two categories score AR@300 0.5, not 1.0; a detector\'s boxes '
                      "score its class-aware recall). mmdet's LVISMetric has no setting for it: read "
                      f'{"them" if several else "it"} as such, or score proposals with \'proposal_fast\' (mmdet\'s '
                      'own eval_recalls, class-agnostic)'))
    return found


def warn_lvis_ignored_settings(cfg: Any, test_only: bool = False, split: str = 'test') -> list[str]:
    """Warn once per ``LVISMetric`` (:func:`lvis_metric_class`; identical metrics of several evaluators together)
    that sets what lvis-api does not receive (:func:`lvis_ignored_settings`): its results are at other settings
    than configured, logged and saved silently. Returns the config keys of the metrics warned about."""
    groups: dict[tuple, list[str]] = {}
    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        cls = lvis_metric_class(metric, config_scope(cfg))
        found = lvis_ignored_settings(metric, cls) if cls is not None else []
        if found:
            groups.setdefault((cls.__name__, tuple(found)), []).append(key)
    for (name, found), wheres in groups.items():
        print_log(f'{" and ".join(wheres)} ({name}) set{"" if len(wheres) > 1 else "s"} '
                  + '; and '.join(f'{setting}: {why}' for setting, why in found),
                  logger='current', level=logging.WARNING)
    return [where for wheres in groups.values() for where in wheres]


def lvis_reported_ar_keys(metric_cfg: dict, cls: type) -> list[str]:
    """The AR keys an ``LVISMetric`` config of class ``cls`` reports, in order: ``{prefix}/<item>`` of
    ``'proposal'``'s items (``metric_items``, or ``AR@300``, ``ARs@300``, ``ARm@300``, ``ARl@300``) and
    ``{prefix}/{bbox|segm}_<item>`` of ``metric_items`` that are lvis-api's AR results, ``{prefix}/AR@<n>`` per count
    of ``proposal_nums`` under ``'proposal_fast'``."""
    prefix = metric_cfg.get('prefix') or getattr(cls, 'default_prefix', None) or 'lvis'
    items = metric_cfg.get('metric_items')
    items = list(items) if isinstance(items, (list, tuple)) else None
    nums = metric_cfg.get('proposal_nums', (100, 300, 1000))
    keys = []
    for kind in _kinds(metric_cfg):
        if kind == 'proposal_fast' and isinstance(nums, (list, tuple)):
            keys += [f'{prefix}/AR@{n}' for n in nums]
        elif kind in _LVIS_EVALUATED:
            head = f'{prefix}/' if kind == 'proposal' else f'{prefix}/{kind}_'
            chosen = items if items is not None else LVIS_PROPOSAL_ITEMS if kind == 'proposal' else LVIS_AP_ITEMS
            keys += [f'{head}{item}' for item in LVIS_PROPOSAL_ITEMS if item in chosen]
    return list(dict.fromkeys(keys))


def check_lvis_ar_key(key: Any, shown: str, metric_cfg: Any, where: str, scope: str | None = None) -> None:
    """Refuse an AR key ``key`` (``{prefix}/AR@<n>``, ``{prefix}/{bbox|segm}_ARs@<n>``, mmdet ``CocoMetric``'s
    ``AR_s@<n>``, ...) under the prefix of an ``LVISMetric`` config at ``where`` (:func:`lvis_metric_class`) that it
    does not report (:func:`lvis_reported_ar_keys`). ``shown``: how the message names the setting that reads it.

    Raises:
        ConfigCheckError: naming the setting, the key, the metric's config key and the AR keys it reports. Not
            reported, the key stopped the run where it was first read (an OHL trunk's end, a NAS scoring, the first
            validation), after training up to there.
    """
    cls = lvis_metric_class(metric_cfg, scope) if isinstance(key, str) else None
    if cls is None or metric_cfg.get('format_only'):
        return
    prefix = metric_cfg.get('prefix') or getattr(cls, 'default_prefix', None) or 'lvis'
    if not key.startswith(f'{prefix}/') or not _AR_NAME.fullmatch(key[len(prefix) + 1:]):
        return
    reported = lvis_reported_ar_keys(metric_cfg, cls)
    if key in reported:
        return
    nums = metric_cfg.get('proposal_nums')
    raise ConfigCheckError(
        f'{shown} is not reported by {where} ({cls.__name__}): lvis-api\'s LVISEval computes the recall at its '
        f'params.max_dets, {LVIS_MAX_DETS} detections per image, whatever proposal_nums'
        f'{"" if nums is None else f"={_shown(nums)!r}"} is (mmdet\'s \'proposal\' sets params.maxDets, a name '
        "lvis-api does not read), as AR@300, ARs@300, ARm@300, ARl@300, and mmdet's LVISMetric reports those of its "
        f'results metric_items name ("proposal_fast" its recall at each of proposal_nums). {where} reports '
        + (f'the AR keys {", ".join(map(repr, reported))}: read one of them' if reported else 'no AR key'))


#: Where a working lvis-api comes from: lvis-dataset/lvis-api's main branch uses ``float`` since its PR #42 (2024);
#: PyPI's lvis 0.5.3 (2020) still calls ``np.float``. mmdet's own message names the same source.
LVIS_API_SOURCE = 'pip install git+https://github.com/lvis-dataset/lvis-api.git'


def lvis_api_metric_class(metric_cfg: Any, scope: str | None = None) -> tuple[type | None, bool]:
    """``(cls, evaluates)`` of a metric config that builds mmdet's ``LVISMetric`` or ``LVISFixedAPMetric`` or a
    subclass (the type resolved in ``scope``, as mmengine builds it), else ``(None, False)``. ``evaluates``: whether
    its ``compute_metrics`` runs lvis-api's ``LVISEval`` (``evaluate`` / ``accumulate`` / ``summarize``):
    ``LVISMetric``'s (:func:`lvis_metric_class`) for ``'bbox'`` / ``'segm'`` / ``'proposal'`` without
    ``format_only``, ``LVISFixedAPMetric``'s always (it does not read ``format_only`` there); a subclass's own
    ``compute_metrics`` is not judged."""
    try:
        from mmdet.evaluation.metrics.lvis_metric import LVISFixedAPMetric, LVISMetric
    except ImportError:
        return None, False
    from automl_mm.registry import METRICS

    from .preflight_walk import _subclass

    for base in (LVISMetric, LVISFixedAPMetric):
        cls = _subclass(metric_cfg, METRICS, base, scope)
        if cls is None:
            continue
        if cls.compute_metrics is not base.compute_metrics:
            return cls, False
        if base is LVISFixedAPMetric:
            return cls, True
        kinds = [kind for kind in _kinds(metric_cfg) if kind in _LVIS_EVALUATED]
        return cls, bool(kinds) and not metric_cfg.get('format_only')
    return None, False


def _tiny_lvis_set() -> dict:
    """One 100x100 image with an object of each of two categories (lvis-api's fields: ``frequency``,
    ``neg_category_ids``, ``not_exhaustive_category_ids``)."""
    return dict(images=[dict(id=1, file_name='1.png', height=100, width=100, neg_category_ids=[],
                             not_exhaustive_category_ids=[])],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20], area=400, iscrowd=0),
                             dict(id=2, image_id=1, category_id=2, bbox=[50, 50, 30, 30], area=900, iscrowd=0)],
                categories=[dict(id=1, name='a', frequency='f'), dict(id=2, name='b', frequency='c')])


@functools.cache
def _run_lvis_eval(lvis_cls: type, results_cls: type, eval_cls: type) -> str | None:
    import numpy as np

    from .preflight_probe_folder import probe_folder

    # (the results as a file, as mmdet hands them: a list is logged as "assuming ... correct format")
    results = [dict(image_id=1, category_id=1, bbox=[10, 10, 20, 20], score=0.9),
               dict(image_id=1, category_id=2, bbox=[50, 50, 30, 30], score=0.8)]
    with probe_folder({'lvis.json': _tiny_lvis_set(), 'results.json': results}) as folder:
        path, found = osp.join(folder, 'lvis.json'), osp.join(folder, 'results.json')
        try:
            gt = lvis_cls(path)
            dt = results_cls(gt, found)
            lvis_eval = eval_cls(gt, dt, 'bbox')
            lvis_eval.evaluate()
            lvis_eval.accumulate()
            lvis_eval.summarize()
        except AttributeError as err:
            tb = traceback.extract_tb(err.__traceback__)
            # numpy's module __getattr__ raised it (numpy 2's removals, "`np.float_` was removed in the NumPy 2.0
            # release. ...", do not say "module 'numpy' has no attribute")
            numpy_getattr = bool(tb) and tb[-1].name == '__getattr__' and \
                osp.normcase(tb[-1].filename).endswith(osp.join(osp.sep + 'numpy', '__init__.py'))
            if getattr(err, 'obj', None) is not np and not numpy_getattr and \
                    not str(err).startswith("module 'numpy' has no attribute"):
                return None  # not numpy's (the probe's own fault or another's: not judged here)
            frames = [frame for frame in tb if osp.sep + 'numpy' + osp.sep not in frame.filename]
            at = f' in {frames[-1].name} ({frames[-1].filename}:{frames[-1].lineno})' if frames else ''
            return f'AttributeError{at}: {str(err).splitlines()[0].rstrip(".")}'
        except Exception:  # noqa: BLE001 (not numpy's: not judged here)
            return None
    return None


def lvis_eval_error() -> str | None:
    """Run the lvis-api mmdet's ``LVISMetric`` evaluates with (the ``LVIS``, ``LVISResults`` and ``LVISEval`` its
    module imported) on a one-image set, as mmdet does: ``evaluate``, ``accumulate``, ``summarize``. Returns the
    error where it stops for want of a numpy name (``"AttributeError in accumulate (.../lvis/eval.py:361): module
    'numpy' has no attribute 'float'"``: lvis 0.5.3 under numpy >= 1.24; a fork's ``np.float_`` under numpy 2:
    "... `np.float_` was removed in the NumPy 2.0 release. ..."), else ``None`` (it runs; no mmdet or no
    lvis-api; another error, not judged). Run once per lvis-api in a process (milliseconds).

    Raises:
        ProbeFolderError: where the one-image set cannot be written to a temporary folder (a missing or read-only
            ``TMPDIR``: :func:`~automl_mm.engine.preflight_probe_folder.probe_folder`), naming it; not run then
            (tried again at the next call).
    """
    try:
        from mmdet.evaluation.metrics import lvis_metric
    except ImportError:
        return None
    classes = [getattr(lvis_metric, name, None) for name in ('LVIS', 'LVISResults', 'LVISEval')]
    if getattr(lvis_metric, 'lvis', None) is None or not all(isinstance(cls, type) for cls in classes):
        return None
    return _run_lvis_eval(*classes)


def _lvis_api_missing() -> bool:
    """Whether mmdet's ``LVISMetric`` module found no lvis-api (its ``lvis`` is ``None``: building an
    ``LVISMetric`` / ``LVISFixedAPMetric`` raises)."""
    try:
        from mmdet.evaluation.metrics import lvis_metric
    except ImportError:
        return False
    return getattr(lvis_metric, 'lvis', None) is None


def _lvis_importable() -> bool:
    """Whether ``import lvis`` finds a module: one already in ``sys.modules`` (not ``None``: a blocked import), else
    one on the path (``importlib.util.find_spec``, which raises ``ValueError`` for a module of ``sys.modules``
    without a ``__spec__``: a stub made in code)."""
    if 'lvis' in sys.modules:
        return sys.modules['lvis'] is not None
    return importlib.util.find_spec('lvis') is not None


def lvis_api_datasets(cfg: Any, test_only: bool = False, split: str = 'test') -> list[tuple[str, type]]:
    """``(config key, class)`` of each dataset of the config's loaders (wrappers looked through) that loads its
    ``ann_file`` with lvis-api: mmdet's ``LVISV05Dataset`` / ``LVISV1Dataset`` or a subclass keeping their
    ``load_data_list`` (``import lvis`` inside it: without lvis-api, ``ImportError: Package lvis is not installed``
    when the dataset is built, naming no config key)."""
    try:
        from mmdet.datasets import LVISV05Dataset
    except ImportError:
        return []
    from automl_mm.registry import DATASETS

    from .preflight_walk import _loader_cfgs, _subclass, scoped_datasets

    found = []
    for loader, key in _loader_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        # (each in the scope mmengine builds it in: its _scope_, else its wrapper's, else the config's)
        for dataset, where, built_in in scoped_datasets(loader.get('dataset'), f'{key}.dataset', config_scope(cfg)):
            cls = _subclass(dataset, DATASETS, LVISV05Dataset, built_in)
            if cls is not None and cls.load_data_list.__module__ == LVISV05Dataset.__module__:
                found.append((where, cls))
    return found


def check_lvis_api(cfg: Any, test_only: bool = False, split: str = 'test') -> None:
    """Refuse the LVIS metrics of a config (:func:`lvis_api_metric_class`) that the installed lvis-api cannot run:
    none is importable (every such metric, and every dataset that loads with it, :func:`lvis_api_datasets`: mmdet
    raises when the evaluator or the dataset is built, naming no config key), or its
    evaluation stops for want of a numpy name (:func:`lvis_eval_error`; the metrics that run ``LVISEval``): found
    only at the first evaluation, after training up to it. Every metric of the cause is named in one error.

    Where the lvis-api cannot be run here for want of a temporary folder (:func:`lvis_eval_error`), a warning says
    the check was not done, naming the metrics, the folder and ``TMPDIR``.

    Raises:
        ConfigCheckError: naming the metrics' config keys and classes, the error and what to install.
    """
    import numpy as np

    missing = _lvis_api_missing()
    found: dict[str, list[str]] = {}  # the config keys of each class
    for metric, key in _evaluator_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        cls, evaluates = lvis_api_metric_class(metric, config_scope(cfg))
        if cls is not None and (evaluates or missing):
            found.setdefault(cls.__name__, []).append(key)
    unloaded: dict[str, list[str]] = {}  # mmdet's LVIS datasets import lvis-api when they load
    datasets = lvis_api_datasets(cfg, test_only, split)
    if datasets and not _lvis_importable():
        for where, cls in datasets:
            unloaded.setdefault(cls.__name__, []).append(where)
    needing = {**found, **unloaded} if missing else unloaded
    if needing:
        named = ' and '.join(f'{" and ".join(keys)} ({name})' for name, keys in needing.items())
        several = sum(map(len, needing.values())) > 1
        raise ConfigCheckError(
            f'{named} need{"" if several else "s"} lvis-api, which is not installed here: mmdet raises '
            "'Package lvis is not installed' when the evaluator or the dataset is built. Install it: "
            f"{LVIS_API_SOURCE} (PyPI's lvis 0.5.3 calls np.float, which numpy >= 1.24 does not have)")
    if not found:
        return
    named = ' and '.join(f'{" and ".join(keys)} ({name})' for name, keys in found.items())
    several = sum(map(len, found.values())) > 1
    try:
        error = lvis_eval_error()
    except ProbeFolderError as err:
        print_log(f"{named} {'were' if several else 'was'} not checked for an lvis-api that fails under the "
                  f'installed numpy: its evaluation could not be run here on a one-image set ({err}). Where it '
                  "calls np.float (PyPI's lvis 0.5.3), the run stops at its first evaluation, after training up to it; "
                  f'to be sure, install lvis-api from its main branch: {LVIS_API_SOURCE}',
                  logger='current', level=logging.WARNING)
        return
    if error is None:
        return
    raise ConfigCheckError(
        f"{named} evaluate{'' if several else 's'} with lvis-api's LVISEval, which fails under the installed "
        f'numpy {np.__version__} (run here on a one-image set): {error}. The run would stop at its first evaluation, '
        "after training up to it. Install an lvis-api that uses float (lvis-dataset/lvis-api's main branch: "
        f"{LVIS_API_SOURCE}; PyPI's lvis 0.5.3 calls np.float, removed in numpy 1.24), or numpy < 1.24")
