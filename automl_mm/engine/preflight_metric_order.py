"""A val / test loader that shuffles is refused where its metric pairs results with images by their order (part of
:func:`automl_mm.engine.preflight.check_config`).

mmdet's ``CocoMetric(metric='proposal_fast')`` (and its subclasses: ``LVISMetric``, automl_mm's
``UnroundedCocoMetric``) with an ``ann_file`` computes its recall in ``fast_eval_recall`` (mmdet 3.3,
``coco_metric.py``): ``pred_bboxes = [result['bboxes'] for result in results]`` paired position by position with
the ground truth of ``self.img_ids[i]``, the images of the annotation file in file order
(``COCO.get_img_ids()``). The results come in the loader's sampler order (mmengine's ``collect_results`` keeps it
across ranks), so a ``DefaultSampler`` that shuffles (its default, ``shuffle=True``) scored each image's proposals
against another image's boxes: perfect proposals of 3 images of one box each, read in the order [2, 0, 1],
scored AR@100 0.0 instead of 1.0, silently (images of unequal box counts stop mmdet 3.3's ``eval_recalls`` under
numpy >= 1.24, which refuses to stack their IoU matrices). The other COCO metrics pair by each result's ``img_id`` and
take any order; so does ``proposal_fast`` without ``ann_file`` (mmdet builds the ground truth from the results,
in their order). OHL's reward loader and the NAS search loaders are read in order already
(:func:`~automl_mm.engine.local_loader.check_local_loader` refuses a shuffling sampler there).

:func:`check_category_order`: mmdet's own ``CocoMetric(classwise=True)`` (and ``OVCocoMetric``'s ``base_ap`` /
``novel_ap``) in a val / test evaluator read per-class APs by position: COCOeval's precisions are in ascending
category id order (``COCOeval.evaluate`` sorts ``params.catIds``), mmdet indexes them by each class's position in
the annotation file's order of categories. With categories listed ``[{id: 2, 'b'}, {id: 1, 'a'}]`` the logged table
and ``coco/b_precision`` gave b a's AP and a b's (0.0 and 1.0 for b's exact box and a's miss), silently.

The dataset's label order against its metric's: :mod:`automl_mm.engine.preflight_label_order` (shares this
module's metric probes); a recall that stops on images of unequal box counts:
:mod:`automl_mm.engine.preflight_recall` (likewise).
"""
from __future__ import annotations

import functools
import logging
import os.path as osp
from collections.abc import Callable
from typing import Any

from mmengine.logging import print_log

from automl_mm.utils.scope import config_type_name

from .preflight_walk import SPLITS, ConfigCheckError, evaluator_metrics

#: The ``metric`` of mmdet's ``CocoMetric`` that pairs results with the annotation file's images by position.
ORDERED_COCO_METRICS = ('proposal_fast', )


#: Warnings kept to be said once a call (:func:`keep_warning`): ``{what they say apart from the config keys:
#: (the config keys, in the order met; how the message reads for them)}``. A key is a string, or a tuple of the
#: keys a warning pairs (a dataset's and its evaluator's: :func:`~automl_mm.engine.preflight_label_order.
#: check_label_order`).
Warnings = dict[tuple, tuple[list, Callable[[list], str]]]


def keep_warning(pending: Warnings, said: tuple, where: str | tuple[str, ...], message: Callable[[list], str]) -> None:
    """Keep the warning ``message(wheres)`` about config key ``where`` in ``pending``, with the keys of the same
    warning (``said``: what it says apart from the keys): one metric config checked for ``val_evaluator`` and for
    ``test_evaluator`` (``test_evaluator = val_evaluator``), or in two evaluators, is one cause, said once naming
    every key (:func:`say_warnings`). ``where`` may be a tuple of keys (a dataset's and the evaluator's it is checked
    against), ``message`` then given the tuples."""
    wheres = pending.setdefault(said, ([], message))[0]
    if where not in wheres:
        wheres.append(where)


def say_warnings(pending: Warnings) -> None:
    """Log each warning of ``pending`` (:func:`keep_warning`) once, with mmengine's ``print_log`` at ``WARNING``."""
    for wheres, message in pending.values():
        print_log(message(wheres), logger='current', level=logging.WARNING)
    pending.clear()


def _keys(wheres: list[str]) -> tuple[str, str]:
    """How a message names config keys ``wheres`` (``'val_evaluator and test_evaluator'``) and ``'s'``, the verb
    ending for them (``''`` for several)."""
    return ' and '.join(wheres), '' if len(wheres) > 1 else 's'


def _is_coco_metric(metric: dict, scope: str | None) -> bool:
    """Whether ``metric`` builds mmdet's ``CocoMetric`` or a subclass (``LVISMetric``, ``UnroundedCocoMetric``), its
    type resolved as mmengine builds it (:func:`_metric_class`: its own ``_scope_`` first, else ``scope``); by name
    (``'coco'`` / ``'lvis'`` in it) where the type cannot be resolved here."""
    cls = _metric_class(metric, scope)
    try:
        from mmdet.evaluation.metrics import CocoMetric
    except ImportError:  # no mmdet: no CocoMetric to build either
        return False
    if isinstance(cls, type):
        return issubclass(cls, CocoMetric)
    name = config_type_name(metric).lower()
    return 'coco' in name or 'lvis' in name


def ordered_metric(metric: Any, scope: str | None, unprobed: list | None = None) -> str | None:
    """The ``metric`` of a metric config that pairs results with images by their order
    (:data:`ORDERED_COCO_METRICS` of a ``CocoMetric`` with an ``ann_file``), or ``None``. A metric class of the
    user's (defined outside mmdet) counts only where it pairs by position on three images read in another order
    (:func:`_probe_pairs_by_position`; where that cannot be run, where it keeps mmdet's ``fast_eval_recall``; one
    of its own is then not judged, and ``(class, metric name, why)`` appended to ``unprobed``, where given)."""
    if not isinstance(metric, dict) or not isinstance(metric.get('ann_file'), str) or _format_only(metric):
        return None
    kinds = metric.get('metric', 'bbox')
    kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
    ordered = next((k for k in kinds if k in ORDERED_COCO_METRICS), None)
    if ordered is None or not _is_coco_metric(metric, scope):
        return None
    cls = _metric_class(metric, scope)
    if isinstance(cls, type) and not cls.__module__.startswith('mmdet.'):  # a metric class of the user's
        why: list[str] = []
        pairs = _probe_pairs_by_position(cls, metric, why)
        if pairs is False or (pairs is None and not cls.fast_eval_recall.__module__.startswith('mmdet.')):
            if pairs is None and unprobed is not None:
                unprobed.append((cls, ordered, why[0]))
            return None
    return ordered


def _format_only(metric: dict) -> bool:
    """Whether a ``CocoMetric`` / ``LVISMetric`` config has ``format_only=True`` (a test-dev submission): mmdet 3.3's
    ``compute_metrics`` writes the results file (each result under its ``img_id``) and returns before any metric is
    computed, so neither its recall nor its per-class APs are read."""
    return bool(metric.get('format_only'))


#: A metric config's arguments a probe does not pass on (it sets its own file, metric and outputs).
_PROBE_SKIPPED = ('type', '_scope_', 'ann_file', 'metric', 'classwise', 'prefix', 'outfile_prefix', 'format_only',
                  'metric_items', 'proposal_nums', 'backend_args', 'collect_device', 'collect_dir',
                  'file_client_args')


def probe_metric(cls: type, **arguments: Any) -> Any:
    """``cls(**arguments)``: the metric class of the user's a probe runs, constructed unless its construction may
    reach the network (:func:`~automl_mm.engine.preflight_metric_build._remote_arguments`: a remote file named,
    given or by default, a remote ``backend_args``, a subclass of mmdet's ``CocoOccludedSeparatedMetric`` whose
    constructor may pass its own files): every probe that constructs a metric does it here.

    Raises:
        RemoteMetricFiles: where it may, naming the class and those arguments (the probe's warning names it).
    """
    from .preflight_metric_build import remote_construction_refused

    remote_construction_refused(cls, arguments)
    return cls(**arguments)


def _run_probe(coco: dict, run: Any) -> tuple[Any, Exception | None]:
    """``run(path)`` with the COCO file ``coco`` written at ``path`` (a temporary folder, removed after:
    :func:`~automl_mm.engine.preflight_probe_folder.probe_folder`), mmengine's current logger above WARNING and
    pycocotools' prints kept from stdout: ``(its value, None)``, or ``(None, the exception it raised)`` (a metric
    class of the user's may fail in any way here; a :class:`~automl_mm.engine.preflight_probe_folder.
    ProbeFolderError` where no temporary folder can be written: the probe is not run)."""
    import contextlib
    import io

    from mmengine.logging import MMLogger

    from .preflight_probe_folder import probe_folder

    logger = MMLogger.get_current_instance()
    level = logger.level
    try:
        with probe_folder({'probe.json': coco}) as folder, contextlib.redirect_stdout(io.StringIO()):
            logger.setLevel(logging.ERROR)  # (mmdet logs its tables of the probe)
            return run(osp.join(folder, 'probe.json')), None
    except Exception as err:  # noqa: BLE001
        return None, err
    finally:
        logger.setLevel(level)


def _process_exact_boxes(metric: Any, coco: dict, image: int, label: int = 0) -> None:
    """``metric.process`` of one image of ``coco`` whose predictions are its ground-truth boxes (x1, y1, x2, y2),
    score 1, class ``label``."""
    import torch

    boxes = torch.tensor([[x, y, x + w, y + h] for a in coco['annotations'] if a['image_id'] == image
                          for x, y, w, h in [a['bbox']]], dtype=torch.float32).reshape(-1, 4)
    metric.process({}, [dict(img_id=image, ori_shape=(64, 64), pred_instances=dict(
        bboxes=boxes, scores=torch.ones(len(boxes)), labels=torch.full((len(boxes), ), label, dtype=torch.long)))])


#: The file :func:`_probe_pairs_by_position` evaluates a metric on: three images of one box each, at other places.
_ORDER_PROBE_COCO = dict(
    images=[dict(id=i, file_name=f'{i}.png', height=64, width=64) for i in (1, 2, 3)],
    annotations=[dict(id=i, image_id=i, category_id=1, bbox=box, area=box[2] * box[3], iscrowd=0)
                 for i, box in zip((1, 2, 3), ([2, 2, 10, 10], [30, 30, 12, 12], [40, 5, 20, 8]))],
    categories=[dict(id=1, name='a')])


def _probe_pairs_by_position(cls: type, metric: dict, why: list | None = None) -> bool | None:
    """Whether the COCO metric class ``cls`` (built with ``metric``'s other arguments and
    ``metric='proposal_fast'`` on :data:`_ORDER_PROBE_COCO`) pairs results with images by position: given each
    image's exact box, read in the order [3, 1, 2], its ``AR@1`` is 0.0 (mmdet 3.3's ``fast_eval_recall``), 1.0
    where it pairs by ``img_id``; ``None`` where it cannot be built or evaluated here, or reports neither (then
    ``why``, a list, gets what the probe met: the error, or the ``AR@1`` it gave)."""
    def run(path: str) -> Any:
        probe = probe_metric(cls, ann_file=path, metric='proposal_fast', proposal_nums=(1, ),
                             **{k: v for k, v in metric.items() if k not in _PROBE_SKIPPED})
        probe.dataset_meta = dict(classes=('a', ))
        for image in (3, 1, 2):
            _process_exact_boxes(probe, _ORDER_PROBE_COCO, image)
        return probe.compute_metrics(probe.results)

    values, err = _run_probe(_ORDER_PROBE_COCO, run)
    recall = values.get('AR@1') if isinstance(values, dict) else None
    found = None if not isinstance(recall, (int, float)) else True if round(float(recall), 6) == 0 else \
        False if round(float(recall), 6) == 1 else None
    if found is None and why is not None:
        shown = f'{float(recall):g}' if isinstance(recall, (int, float)) else repr(recall)  # (not np.float64(0.5))
        why.append(_probe_error(err) or f'its AR@1 was {shown}, neither 0 (by position) nor 1 (by img_id)')
    return found


def _probe_error(err: Exception | None) -> str:
    """How a warning names the error a probe met (``"KeyError: 'palette'"``; a file of the probe's temporary folder
    without its random part, so that one cause reads the same in every probe:
    :func:`~automl_mm.engine.preflight_probe_folder.probe_error`); ``''`` for none."""
    from .preflight_probe_folder import probe_error

    return probe_error(err)


def check_metric_order(cfg: Any, scope: str | None, test_only: bool = False, split: str = 'test') -> None:
    """Refuse a val / test loader whose sampler shuffles (mmengine's ``DefaultSampler`` without ``shuffle=False``:
    its default is ``True``) where its evaluator has a metric that pairs results with images by order
    (:func:`ordered_metric`). ``test_only``, ``split``: check only ``{split}_dataloader`` (as
    :func:`automl_mm.engine.preflight.check_config`). A user's metric class the probe gives no answer for is warned
    of once a call, naming every evaluator key it is in (:func:`keep_warning`).

    Raises:
        ConfigCheckError: naming ``{split}_dataloader.sampler.shuffle``, the metric's config key, its type and
            ``metric``.
    """
    pending: Warnings = {}
    try:
        for scored in (split, ) if test_only else SPLITS:
            _check_split_order(cfg, scope, scored, pending)
    finally:
        say_warnings(pending)


def _evaluated_loaders(wheres: list[str]) -> list[str]:
    """The ``{split}_dataloader`` keys of evaluator keys ``wheres`` (``val_evaluator``, ``test_evaluator[1]``), in
    their order, each once."""
    return list(dict.fromkeys(f"{where.split('_evaluator')[0]}_dataloader" for where in wheres))


def _unprobed_order_message(type_name: str, kind: str, cls: type, why: str, wheres: list[str]) -> str:
    """The warning of :func:`check_metric_order` about a user's metric class its probe gave no answer for."""
    keys, s = _keys(wheres)
    samplers = [f'{loader}.sampler' for loader in _evaluated_loaders(wheres)]
    return (f'{keys} ({type_name}, metric={kind!r}) {"was" if s else "were"} not checked against '
            f'{" and ".join(samplers)}, which shuffle{"s" if len(samplers) == 1 else ""}: whether it pairs the i-th '
            "result with the i-th image of its ann_file (mmdet's fast_eval_recall does) could not be found here: "
            f'{cls.__name__}, probed on three images read in another order, gave no answer ({why}). '
            "Where it pairs by position, each image's proposals are scored against another image's boxes, "
            f'silently. Set {samplers[0] + "=" if len(samplers) == 1 else " and ".join(samplers) + " to "}'
            "dict(type='DefaultSampler', shuffle=False) to be sure")


def _check_split_order(cfg: Any, scope: str | None, scored: str, pending: Warnings) -> None:
    """:func:`check_metric_order` of split ``scored``; its warnings kept in ``pending`` (:func:`keep_warning`)."""
    loader_key, evaluator_key = f'{scored}_dataloader', f'{scored}_evaluator'
    loader = cfg.get(loader_key)
    sampler = loader.get('sampler') if isinstance(loader, dict) else None
    if not isinstance(sampler, dict) or config_type_name(sampler) != 'DefaultSampler' \
            or sampler.get('shuffle', True) is False:
        return
    evaluator = cfg.get(evaluator_key)
    metrics = evaluator_metrics(evaluator)
    listed = isinstance(evaluator, (list, tuple)) or (isinstance(evaluator, dict) and 'metrics' in evaluator)
    for j, metric in enumerate(metrics):
        where = f'{evaluator_key}[{j}]' if listed else evaluator_key
        unprobed: list[tuple] = []
        ordered = ordered_metric(metric, scope, unprobed)
        for cls, kind, why in unprobed:
            said = ('order', config_type_name(metric), kind, cls, why)
            keep_warning(pending, said, where, functools.partial(_unprobed_order_message, *said[1:]))
        if ordered is None:
            continue
        given = (f'shuffle={sampler["shuffle"]!r}' if 'shuffle' in sampler
                 else 'no shuffle (DefaultSampler shuffles by default)')
        raise ConfigCheckError(
            f'{loader_key}.sampler.shuffle: {loader_key}.sampler is DefaultSampler with {given}, but {where} '
            f"({config_type_name(metric)}, metric={ordered!r}) pairs the i-th result with the i-th image of its "
            f"ann_file (mmdet's fast_eval_recall): read in a shuffled order, each image's proposals would be "
            f"scored against another image's boxes, a silently wrong recall. Set {loader_key}.sampler="
            "dict(type='DefaultSampler', shuffle=False)")


def _metric_class(metric: dict, scope: str | None) -> type | None:
    """The class metric config ``metric`` builds (its ``type`` a class or a name registered in ``scope``, or in its
    own ``_scope_``), ``None`` where no registry holds it."""
    from automl_mm.registry import METRICS, registered_class

    kind = metric.get('type')
    try:
        return kind if isinstance(kind, type) else registered_class(METRICS, kind, metric.get('_scope_') or scope)
    except KeyError:
        return None


def _per_class_by_position(metric: Any, scope: str | None) -> str | None:
    """What of mmdet's metric config ``metric`` reads per-class APs by the annotation file's category order:
    ``'classwise=True'`` for mmdet's ``CocoMetric`` (or a subclass) with bbox / segm, ``'base_ap / novel_ap'`` for
    ``OVCocoMetric`` (or a subclass), else ``None`` (automl_mm's ``UnroundedCocoMetric`` and its subclasses read
    each class's own, :func:`automl_mm.evaluation.coco._in_given_order`; so does mmdet's ``LVISMetric``: lvis-api's
    ``LVISEval`` keeps ``params.cat_ids`` in the order mmdet gives them, unsorted, in ``evaluate`` and
    ``accumulate``); ``None`` too with ``sort_categories=True`` (mmdet's ``CocoMetric`` sorts the file's categories
    by id before taking its ``cat_ids``, as ``Objects365V1Dataset`` does: their positions are COCOeval's order)."""
    if not isinstance(metric, dict) or not isinstance(metric.get('ann_file'), str) or metric.get('sort_categories') \
            or _format_only(metric):
        return None
    cls = _metric_class(metric, scope)
    try:
        from mmdet.evaluation.metrics import CocoMetric, LVISMetric
        from mmdet.evaluation.metrics.ov_coco_metric import OVCocoMetric
    except ImportError:
        return None
    from automl_mm.evaluation.coco import UnroundedCocoMetric

    if not isinstance(cls, type) or not issubclass(cls, CocoMetric) or issubclass(cls, (UnroundedCocoMetric,
                                                                                         LVISMetric)):
        return None
    kinds = metric.get('metric', 'bbox')
    kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
    if not {'bbox', 'segm'} & set(kinds):
        return None
    if issubclass(cls, OVCocoMetric):
        return 'base_ap / novel_ap' + (' and classwise=True' if metric.get('classwise') else '')
    return 'classwise=True' if metric.get('classwise') else None


def _loader_classes(loader: Any, scope: str | None = None) -> tuple | None:
    """The class names a loader config's dataset gives its metric (mmengine's ``dataset_meta``: the built
    dataset's ``metainfo['classes']``), through wrappers (``RepeatDataset``, ``ClassBalancedDataset``, mmdet's
    ``MultiImageMixDataset``: their inner dataset's; a ``ConcatDataset``: its first's, as mmengine keeps them):
    ``metainfo.classes`` where given (a list, a tuple, a file of names), else the type's ``METAINFO['classes']``
    (mmdet's ``CocoDataset``: COCO's 80) (:func:`~automl_mm.engine.preflight_classes._built_classes`); ``None``
    where they are not known here."""
    from .preflight_classes import _built_classes

    dataset = loader.get('dataset') if isinstance(loader, dict) else None
    found = _built_classes(dataset, 'dataset', scope)
    return tuple(found[0]) if found is not None and isinstance(found[0], (list, tuple)) else None


#: The file :func:`_probe_class_aps` evaluates a metric on: one image, categories listed [2: 'b', 1: 'a'] (not by
#: ascending id), one box of each.
_PROBE_COCO = dict(images=[dict(id=1, file_name='1.png', height=64, width=64)],
                   annotations=[dict(id=1, image_id=1, category_id=1, bbox=[2, 2, 20, 20], area=400, iscrowd=0),
                                dict(id=2, image_id=1, category_id=2, bbox=[30, 30, 20, 20], area=400, iscrowd=0)],
                   categories=[dict(id=2, name='b'), dict(id=1, name='a')])


def _probe_class_aps(cls: type, metric: dict, why: list | None = None) -> tuple[float, float] | None:
    """``(a_precision, b_precision)`` the COCO metric class ``cls`` (built with ``metric``'s other arguments and
    ``classwise=True`` on :data:`_PROBE_COCO`) reports for the exact box of 'a' alone (label 1: mmdet's
    ``CocoDataset`` labels the file's categories in the file's order, as the metric's ``cat_ids`` do): each
    class's own AP is (1.0, 0.0); read by position (mmdet 3.3's ``CocoMetric``) (0.0, 1.0). ``None`` where it
    cannot be built or evaluated here, or reports no such keys (a metric of its own making; then ``why``, a list,
    gets what the probe met)."""

    def run(path: str) -> Any:
        probe = probe_metric(cls, ann_file=path, metric='bbox', classwise=True,
                             **{k: v for k, v in metric.items() if k not in _PROBE_SKIPPED})
        probe.dataset_meta = dict(classes=('b', 'a'))
        _process_exact_boxes(probe, {'annotations': [_PROBE_COCO['annotations'][0]]}, 1, label=1)  # a's box
        return probe.compute_metrics(probe.results)

    values, err = _run_probe(_PROBE_COCO, run)
    a, b = (values.get('a_precision'), values.get('b_precision')) if isinstance(values, dict) else (None, None)
    if not all(isinstance(v, (int, float)) for v in (a, b)):
        if why is not None:
            why.append(_probe_error(err) or f'it reported a_precision={a!r} and b_precision={b!r}')
        return None
    return round(float(a), 6), round(float(b), 6)  # (COCOeval's mean of 101 ones: 0.9999999999999998)


def _listed(named: list) -> str:
    """How a message lists ``(category id, name)`` pairs: ``3: 'rectangle', 1: 'ellipse'``."""
    return ', '.join(f'{i}: {n!r}' for i, n in named)


def _unjudged_categories_message(type_name: str, reads: str, ann_file: str, listed: str, unjudged: str,
                                 wheres: list[str]) -> str:
    """The warning of :func:`check_category_order` about a user's metric class its probe gave no answer for."""
    keys, s = _keys(wheres)
    return (f"{keys} ({type_name}, {reads}) {'was' if s else 'were'} not checked for reading per-class APs by the "
            f"position of {ann_file}'s categories, which are not listed by ascending id ({listed}): "
            f"{unjudged}. Where it reads them by position, as mmdet's CocoMetric does, each class is reported with "
            "another class's AP, silently")


def _unknown_classes_message(type_name: str, reads: str, ann_file: str, listed: str, wheres: list[str]) -> str:
    """The warning of :func:`check_category_order` about a metric whose loader's classes are not known here."""
    keys, s = _keys(wheres)
    loaders = _evaluated_loaders(wheres)
    one = len(loaders) == 1
    types = [f'{where}.type' for where in wheres]
    owners = ' and '.join(f"{loader}'s" for loader in loaders)
    return (f"{keys} ({type_name}, {reads}) read{s} per-class APs by the position of {ann_file}'s categories, which "
            f"are not listed by ascending id ({listed}), and {owners} "
            f"classes (the categories {'it scores' if one else 'they score'}) are not known here: if two scored "
            "classes are out of id order, each would be reported with another class's AP. Set "
            f"{' and '.join(types)}{'=' if len(types) == 1 else ' to '}'automl_mm.UnroundedCocoMetric' to be sure")


def check_category_order(cfg: Any, scope: str | None, categories: dict[str, list[tuple[Any, Any]]],
                         test_only: bool = False, split: str = 'test') -> None:
    """Refuse mmdet's own per-class COCO values (:func:`_per_class_by_position`) in ``val_evaluator`` /
    ``test_evaluator`` where the categories of its ``ann_file`` that the loader's classes name
    (:func:`_loader_classes`, through dataset wrappers) are not listed by ascending id (see the module docstring).
    OHL rewards and NAS scores are not refused: they read each class's own AP
    (:func:`automl_mm.evaluation.coco.unrounded_coco_metrics`).

    A metric class defined outside mmdet (a user's ``CocoMetric`` subclass, which may fix the order) is evaluated on
    a 1-image file of categories listed ``[2: 'b', 1: 'a']`` with a's exact box (:func:`_probe_class_aps`) and
    refused unless it reports a 1.0 and b 0.0; where that cannot be run, it is refused only if it keeps mmdet's
    ``compute_metrics``, and one of its own is warned of (its key, type and the probe's error), not judged. Where the
    loader's classes are not known here (a dataset type not registered, no ``metainfo``), the file's categories
    cannot be narrowed to the ones scored: a warning, not a refusal. Each warning is said once a call, naming every
    key of the same cause (``test_evaluator = val_evaluator``: both; :func:`keep_warning`).

    Args:
        categories: ``{ann_file: [(category id, name), ...]}`` in the file's order (the files
            :func:`~automl_mm.engine.preflight.check_config` loaded); a file not in it is not checked.
        test_only, split: check only ``{split}_evaluator`` (as :func:`~automl_mm.engine.preflight.check_config`).

    Raises:
        ConfigCheckError: naming the evaluator's key, what it reads by position, the file, its category ids and
            names in the file's order, and the metric to use instead.
    """
    pending: Warnings = {}
    try:
        for scored in (split, ) if test_only else SPLITS:
            _check_split_categories(cfg, scope, categories, scored, pending)
    finally:
        say_warnings(pending)


def _check_split_categories(cfg: Any, scope: str | None, categories: dict[str, list[tuple[Any, Any]]], scored: str,
                            pending: Warnings) -> None:
    """:func:`check_category_order` of split ``scored``; its warnings kept in ``pending`` (:func:`keep_warning`)."""
    evaluator_key = f'{scored}_evaluator'
    evaluator = cfg.get(evaluator_key)
    metrics = evaluator_metrics(evaluator)
    listed = isinstance(evaluator, (list, tuple)) or (isinstance(evaluator, dict) and 'metrics' in evaluator)
    classes = _loader_classes(cfg.get(f'{scored}_dataloader'), scope)
    for j, metric in enumerate(metrics):
        reads = _per_class_by_position(metric, scope)
        listing = categories.get(metric['ann_file']) if reads else None
        if not listing:
            continue
        named = [(i, n) for i, n in listing if classes is None or n in classes]
        ids = [i for i, _ in named]
        if not all(isinstance(i, int) for i in ids) or ids == sorted(ids):
            continue
        where = f'{evaluator_key}[{j}]' if listed else evaluator_key
        cls = _metric_class(metric, scope)
        probed = ''
        if not cls.__module__.startswith('mmdet.'):  # a metric of the user's: does it give each class its own?
            why: list[str] = []
            aps = _probe_class_aps(cls, metric, why) if reads == 'classwise=True' else None  # (not OV's)
            if aps is None and not cls.compute_metrics.__module__.startswith('mmdet.'):
                unjudged = (f"{cls.__name__}, probed on a file of categories listed [2: 'b', 1: 'a'] for whether "
                            f"it reports each class's own AP, gave no answer ({why[0]})" if why else
                            f"{cls.__name__}'s base_ap / novel_ap are not probed here")
                said = ('categories', config_type_name(metric), reads, metric['ann_file'], _listed(named), unjudged)
                keep_warning(pending, said, where, functools.partial(_unjudged_categories_message, *said[1:]))
            if aps == (1, 0) or (aps is None and not cls.compute_metrics.__module__.startswith('mmdet.')):
                continue
            probed = '' if aps is None else (
                f" ({cls.__name__}, evaluated on a file of categories listed [2: 'b', 1: 'a'] with a's exact box "
                f'alone, reported a_precision={aps[0]:g} and b_precision={aps[1]:g}, not 1 and 0)')
        if classes is None:
            said = ('classes', config_type_name(metric), reads, metric['ann_file'], _listed(named))
            keep_warning(pending, said, where, functools.partial(_unknown_classes_message, *said[1:]))
            continue
        fix = ("list the file's categories by ascending id" if reads.startswith('base_ap') else
               f"set {where}.type='automl_mm.UnroundedCocoMetric' (mmdet's CocoMetric with each class's own AP, "
               "at full precision), or list the file's categories by ascending id")
        raise ConfigCheckError(
            f"{where} ({config_type_name(metric)}, {reads}) reads per-class APs of {metric['ann_file']}, whose "
            f"categories are not listed by ascending id ({_listed(named)}): mmdet "
            "indexes COCOeval's precisions, sorted by category id, by the file's order, so each class would be "
            f"reported with another class's AP, silently{probed}. To fix it, {fix}")
