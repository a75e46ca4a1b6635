"""A metric whose recall stops on images of unequal box counts is refused at the start (:func:`check_recall_metrics`,
part of :func:`automl_mm.engine.preflight.check_config`).

mmdet 3.3's ``eval_recalls`` (``CocoMetric`` / ``LVISMetric`` ``proposal_fast``, ``VOCMetric`` ``recall``) stacks one
IoU matrix per image with ``np.array``, which numpy >= 1.24 refuses for images of unequal box counts
(:mod:`automl_mm.evaluation.recall`): the run stopped at its first validation, after training up to it. Where the
annotation file was read at the start (:func:`recall_box_counts`), a file of unequal ground-truth counts is refused
naming two of its images, one of equal counts warned of (the proposal counts are the model's). A user's metric class
(defined outside mmdet) is judged by running it on two images of 1 and 2 boxes (:func:`_probe_recall_stops`, with
the probe helpers of :mod:`automl_mm.engine.preflight_metric_order`, whose ``keep_warning`` / ``say_warnings``
group this check's warnings too).
"""
from __future__ import annotations

import functools
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_metric_order import (
    _PROBE_SKIPPED,
    Warnings,
    _format_only,
    _keys,
    _metric_class,
    _probe_error,
    _process_exact_boxes,
    _run_probe,
    keep_warning,
    probe_metric,
    say_warnings,
)
from .preflight_walk import SPLITS, ConfigCheckError


def _mmdet_recall(metric: Any, scope: str | None, unprobed: list | None = None) -> tuple[str, bool] | None:
    """``(metric name, whether automl_mm's UnroundedCocoMetric computes it)`` where ``metric`` runs mmdet's own
    ``eval_recalls``: ``proposal_fast`` of mmdet's ``CocoMetric`` or a subclass other than automl_mm's
    ``UnroundedCocoMetric`` (``LVISMetric``), ``recall`` of mmdet's ``VOCMetric``; else ``None``. A ``CocoMetric``
    class of the user's (defined outside mmdet, which may compute the recall its own way) counts only where it
    stops on two images of 1 and 2 boxes (:func:`_probe_recall_stops`; where that cannot be run, where it keeps
    mmdet's ``fast_eval_recall``; one of its own is then not judged, and ``(class, why)`` appended to ``unprobed``,
    where given); a ``VOCMetric`` subclass of its own ``compute_metrics`` does not count."""
    if not isinstance(metric, dict) or _format_only(metric):
        return None
    cls = _metric_class(metric, scope)
    try:
        from mmdet.evaluation.metrics import CocoMetric, VOCMetric
    except ImportError:
        return None
    from automl_mm.evaluation.coco import UnroundedCocoMetric

    if not isinstance(cls, type):
        return None
    kinds = metric.get('metric', 'bbox' if issubclass(cls, CocoMetric) else 'mAP')
    kinds = [kinds] if isinstance(kinds, str) else list(kinds) if isinstance(kinds, (list, tuple)) else []
    own = not cls.__module__.startswith('mmdet.')  # a metric class of the user's
    if issubclass(cls, CocoMetric) and not issubclass(cls, UnroundedCocoMetric) and 'proposal_fast' in kinds:
        why: list[str] = []
        stops = _probe_recall_stops(cls, metric, why) if own else True
        if stops is False or (stops is None and not cls.fast_eval_recall.__module__.startswith('mmdet.')):
            if stops is None and unprobed is not None:
                unprobed.append((cls, why[0]))
            return None
        return 'proposal_fast', cls.compute_metrics is CocoMetric.compute_metrics
    if issubclass(cls, VOCMetric) and 'recall' in kinds and cls.compute_metrics.__module__.startswith('mmdet.'):
        return 'recall', False
    return None


#: The file :func:`_probe_recall_stops` evaluates a metric on: two images of 1 and 2 boxes.
_RECALL_PROBE_COCO = dict(
    images=[dict(id=i, file_name=f'{i}.png', height=64, width=64) for i in (1, 2)],
    annotations=[dict(id=i, image_id=image, category_id=1, bbox=box, area=box[2] * box[3], iscrowd=0)
                 for i, (image, box) in enumerate([(1, [2, 2, 20, 20]), (2, [2, 2, 20, 20]), (2, [30, 30, 20, 20])])],
    categories=[dict(id=1, name='a')])


def _probe_recall_stops(cls: type, metric: dict, why: list | None = None) -> bool | None:
    """Whether the COCO metric class ``cls`` (built with ``metric``'s other arguments and
    ``metric='proposal_fast'`` on :data:`_RECALL_PROBE_COCO`) stops on its two images of 1 and 2 boxes given their
    exact boxes as proposals (mmdet 3.3's ``eval_recalls`` under numpy >= 1.24: ``ValueError``, 'inhomogeneous
    shape'); ``None`` where it cannot be built or fails otherwise here (then ``why``, a list, gets the error)."""

    def run(path: str) -> Any:
        probe = probe_metric(cls, ann_file=path, metric='proposal_fast',
                             **{k: v for k, v in metric.items() if k not in _PROBE_SKIPPED})
        probe.dataset_meta = dict(classes=('a', ))
        for image in (1, 2):
            _process_exact_boxes(probe, _RECALL_PROBE_COCO, image)
        return probe.compute_metrics(probe.results)

    values, err = _run_probe(_RECALL_PROBE_COCO, run)
    if isinstance(err, ValueError) and ('inhomogeneous' in str(err) or 'with a sequence' in str(err)):
        return True
    if err is not None and why is not None:
        why.append(_probe_error(err))
    return None if err is not None else False


def recall_box_counts(coco: dict, every_box: bool = False) -> tuple[tuple[Any, int], ...] | None:
    """The ground-truth box counts mmdet 3.3's ``fast_eval_recall`` (``proposal_fast`` with an ``ann_file``) gives
    ``eval_recalls`` for a loaded COCO / LVIS file ``coco``: per image, in the file's order (``get_img_ids()``), its
    annotations neither ``ignore`` nor ``iscrowd`` (``CocoMetric``), or every one (``every_box``: ``LVISMetric``).

    Returns:
        ``((first image id, its count), (id of the first image of another count, its count))`` where two images
        differ, ``((first image id, the count of every image), )`` where all are equal, ``()`` for no image,
        ``None`` where an image id is not a number or a string (not known here).
    """
    images = [image.get('id') for image in coco.get('images') or [] if isinstance(image, dict)]
    if not all(isinstance(i, (int, str)) for i in images):
        return None  # ids JSON cannot key (a list): mmdet's COCO fails on them itself; nothing known here
    counts = dict.fromkeys(images, 0)
    for ann in coco.get('annotations') or []:
        if isinstance(ann, dict) and isinstance(ann.get('image_id'), (int, str)) and ann['image_id'] in counts and \
                (every_box or not (ann.get('ignore', False) or ann.get('iscrowd'))):
            counts[ann['image_id']] += 1
    if not images:
        return ()
    first = (images[0], counts[images[0]])
    other = next(((i, counts[i]) for i in images if counts[i] != first[1]), None)
    return (first, ) if other is None else (first, other)


def check_recall_metrics(cfg: Any, scope: str | None, test_only: bool = False, split: str = 'test',
                         box_counts: dict[str, tuple] | None = None) -> None:
    """Refuse a metric that runs mmdet's own ``eval_recalls`` (:func:`_mmdet_recall`) where that stops on images
    of unequal box counts (:func:`automl_mm.evaluation.recall.mmdet_recalls_fail_on_unequal_counts`: mmdet 3.3
    under numpy >= 1.24), in ``val_evaluator`` / ``test_evaluator`` (``{split}_evaluator`` alone when
    ``test_only``), and a ``VOCMetric`` ``recall`` in an OHL reward / NAS search evaluator too (a COCO metric there
    is read through :func:`automl_mm.evaluation.coco.unrounded_coco_metrics`, which computes the recall for any
    counts).

    mmdet stacks one IoU matrix per image, (ground-truth boxes) x (proposals, at most ``max(proposal_nums)``), so
    it stops wherever two images differ in either count. A ``CocoMetric`` ``proposal_fast`` with an ``ann_file``
    in ``box_counts`` (``{ann_file: (recall_box_counts(file), recall_box_counts(file, every_box=True))}``, the files
    :func:`~automl_mm.engine.preflight.check_config` loaded) is refused only where two of its images have
    different ground-truth counts; where all are equal it is warned (the proposal counts are the model's, known
    only at evaluation). Elsewhere the ground-truth counts are the dataset's boxes as loaded (``VOCMetric``, a
    ``CocoMetric`` without ``ann_file``), not read at the start: refused, saying so. Each warning is said once a
    call, naming every key of the same cause (``test_evaluator = val_evaluator``: both; :func:`keep_warning`).

    Raises:
        ConfigCheckError: naming the evaluator's key, the metric, the images of unequal counts (or why the counts
            are not known at the start) and what to use instead.
    """
    from automl_mm.evaluation.recall import mmdet_recalls_fail_on_unequal_counts

    from .preflight_walk import _evaluator_cfgs, outside_split

    found, unjudged = [], []
    for metric, key in _evaluator_cfgs(cfg):
        held_out = not key.startswith(tuple(f'{s}_' for s in SPLITS))  # reward / search: read by automl_mm
        if (test_only and outside_split(key, test_only, split)) or (held_out and test_only):
            continue
        unprobed: list[tuple] = []
        recall = _mmdet_recall(metric, scope, unprobed)
        unjudged += [(key, metric, cls, why) for cls, why in unprobed if not held_out]
        if recall is not None and not (held_out and recall[0] == 'proposal_fast'):
            found.append((key, metric, recall))
    if not mmdet_recalls_fail_on_unequal_counts():
        return
    pending: Warnings = {}
    for key, metric, cls, why in unjudged:
        said = ('recall', config_type_name(metric), cls, why)
        keep_warning(pending, said, key, functools.partial(_unjudged_recall_message, *said[1:]))
    try:
        _check_recalls(found, scope, box_counts, pending)
    finally:
        say_warnings(pending)


def _unjudged_recall_message(type_name: str, cls: type, why: str, wheres: list[str]) -> str:
    """The warning of :func:`check_recall_metrics` about a user's metric class its probe gave no answer for."""
    keys, s = _keys(wheres)
    return (f"{keys} ({type_name}, metric='proposal_fast') {'was' if s else 'were'} not checked for images of "
            "unequal box counts, on which mmdet's eval_recalls stops (under numpy >= 1.24): "
            f'{cls.__name__} could not be evaluated here on two images of 1 and 2 boxes ({why}). Where its '
            "fast_eval_recall stacks them as mmdet's does, it stops at the first evaluation, after training up to it")


def _recall_fix(type_name: str, name: str, replaceable: bool, wheres: list[str]) -> str:
    """What a message of :func:`check_recall_metrics` says to do about metric ``name`` at config keys ``wheres``."""
    keys = ' and '.join(f'{key}.{"type" if replaceable else "metric"}' for key in wheres)
    if replaceable:
        return (f"set {keys}{'=' if len(wheres) == 1 else ' to '}'automl_mm.UnroundedCocoMetric' (mmdet's "
                'CocoMetric, whose proposal_fast recall takes any box counts)')
    return f"drop {name!r} from {keys} (automl_mm has no replacement for {type_name}'s)"


def _recall_stops(type_name: str, name: str, wheres: list[str]) -> str:
    """The head of a message of :func:`check_recall_metrics`: what metric ``name`` at ``wheres`` computes with."""
    keys, s = _keys(wheres)
    return (f"{keys} ({type_name}, metric={name!r}) compute{s} {'its' if s else 'their'} recall with mmdet's "
            'eval_recalls, which stops under this numpy wherever two images have different numbers of ground-truth '
            "boxes or proposals (np.array of their IoU matrices: 'inhomogeneous shape'), at the first evaluation")


def _equal_counts_message(type_name: str, name: str, replaceable: bool, ann_file: str, boxes: int, top: str,
                          wheres: list[str]) -> str:
    """The warning of :func:`check_recall_metrics` about ``proposal_fast`` on a file of equal box counts."""
    return (f'{_recall_stops(type_name, name, wheres)}. Every image of {ann_file} has {boxes} ground-truth boxes, so '
            f'it stops only where the model gives two images different numbers of proposals below {top} (max of '
            f'proposal_nums), which is known only at evaluation. To be safe, '
            f'{_recall_fix(type_name, name, replaceable, wheres)}')


def _check_recalls(found: list[tuple], scope: str | None, box_counts: dict[str, tuple] | None,
                   pending: Warnings) -> None:
    """The refusals of :func:`check_recall_metrics` of ``found``, ``(config key, metric config, (metric name,
    whether UnroundedCocoMetric computes it))``; the warnings kept in ``pending`` (:func:`keep_warning`)."""
    for key, metric, (name, replaceable) in found:
        fix = _recall_fix(config_type_name(metric), name, replaceable, [key])
        ann_file = metric.get('ann_file') if name == 'proposal_fast' else None
        counts = (box_counts or {}).get(ann_file) if isinstance(ann_file, str) else None
        if counts is not None:
            from mmdet.evaluation.metrics import LVISMetric

            cls = _metric_class(metric, scope)
            counts = counts[1 if isinstance(cls, type) and issubclass(cls, LVISMetric) else 0]
        if counts is not None and len(counts) < 2:
            nums = metric.get('proposal_nums', (100, 300, 1000))
            top = max(nums) if isinstance(nums, (list, tuple)) and nums else nums
            said = ('equal', config_type_name(metric), name, replaceable, ann_file, counts[0][1] if counts else 0,
                    str(top))
            keep_warning(pending, said, key, functools.partial(_equal_counts_message, *said[1:]))
            continue
        if counts is not None:
            (first, n), (other, m) = counts
            why = f': in {ann_file}, image {first!r} has {n} ground-truth boxes and image {other!r} {m}'
        else:
            why = (" (its ground-truth boxes are the dataset's as loaded, not read at the start" if ann_file is None
                   else f' ({ann_file} was not read at the start') + \
                ': images of equal box counts cannot be told from unequal ones before the first evaluation)'
        raise ConfigCheckError(f'{_recall_stops(config_type_name(metric), name, [key])}{why}. To fix it, {fix}')
