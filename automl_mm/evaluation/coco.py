"""COCO box / mask AP at full precision, for the values that rank things (OHL rewards, NAS scores).

mmdet's ``CocoMetric`` (3.x, ``compute_metrics``) rounds every value it reports to 3 decimals. That is fine for
a results table but wrong for a ranking: two candidates that differ by less than 0.001 AP tie, and the tie is broken
by their order. Measured on the Fashion-MNIST detection set after 250 CR-NAS supernet iterations: the top 5 of 19
allocations all scored 0.067 (seed 0) or 0.057 (seed 1), so the chosen allocation was the first of the tied ones in
enumeration order. With 4 OHL copies rewarded by ``coco/bbox_mAP`` early in a detector's training, rounded rewards
tie as well and the REINFORCE advantages become 0.

:func:`unrounded_coco_metrics` computes a ``CocoMetric``'s results as mmdet does and then replaces each reported
value by COCOeval's own ``stats`` entry (pycocotools, float64), and each per-class AP (``classwise=True``) by its
unrounded mean, so keys, logging and every other behaviour stay mmdet's (the per-class table, printed by mmdet,
takes each class's own precisions: :func:`_in_given_order`; an ``AR@<n>`` key is the recall at ``n`` detections, which
mmdet's is only at its default ``proposal_nums``: :func:`coco_value`; without ``ann_file`` the ground truth mmdet
writes gives an object with a mask its mask's area, as the annotation file does: :func:`gt_json_with_mask_areas`).
:func:`automl_mm.engine.evaluate.evaluate_locally`, which computes every OHL reward and NAS score, uses it for every
``CocoMetric``; :class:`UnroundedCocoMetric` is the same as a metric type for any evaluator.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import mmdet.evaluation.metrics.coco_metric as _mmdet_coco
from mmdet.evaluation import CocoMetric
from mmdet.evaluation.functional import eval_recalls as _mmdet_eval_recalls

from automl_mm.engine.preflight import COCO_AP_ITEMS, COCO_AR_ITEMS
from automl_mm.registry import METRICS

from .accuracy import RankAgreedMetric
from .recall import eval_recalls

_STATS_INDEX = {name: i for i, name in enumerate(COCO_AP_ITEMS + COCO_AR_ITEMS)}

#: The recorders of the calls of :func:`unrounded_coco_metrics` in progress (nested calls: each gets every summary).
_ACTIVE: list[list] = []


def _recording(base: type) -> type:
    """A module-level subclass of pycocotools' evaluator that hands itself to the active recorders after
    ``summarize`` (module level, so mmdet's ``use_mp_eval`` can pickle it; a local class could not be), and whose
    accumulated arrays keep the categories in the order they were given (:func:`_in_given_order`)."""

    def evaluate(self) -> None:
        given = [int(c) for c in self.params.catIds] if self.params.useCats else []
        base.evaluate(self)  # sorts params.catIds
        self._given_cat_ids = given

    def accumulate(self, p: Any = None) -> None:
        base.accumulate(self, p)
        _in_given_order(self, getattr(self, '_given_cat_ids', []))

    def summarize(self) -> None:
        base.summarize(self)
        for recorder in _ACTIVE:
            recorder.append(self)

    return type(f'Recording{base.__name__}', (base, ), {
        'evaluate': evaluate, 'accumulate': accumulate, 'summarize': summarize, '__module__': __name__})


def _in_given_order(coco_eval: Any, given: list[int]) -> None:
    """Put the class axis of an accumulated COCOeval's ``eval['precision']`` (T, R, K, A, M), ``eval['scores']``
    (same) and ``eval['recall']`` (T, K, A, M) and its ``params.catIds`` back in the order ``given`` (the ids as the
    metric set them; ``COCOeval.evaluate`` sorts them).

    mmdet's ``CocoMetric`` (``classwise=True``, mmdet 3.3 ``compute_metrics``) and ``OVCocoMetric`` index those
    arrays by each class's position in ``metric.cat_ids``, the annotation file's order of its categories: with
    categories listed as ``[{id: 2, 'b'}, {id: 1, 'a'}]`` its per-class table printed b's AP as a's and a's as b's.
    In the given order their table, values and base / novel APs are each class's own. The summary (``stats``) is a
    mean over every class, the same in any order. Nothing changes where the ids were given sorted, repeated or
    not all evaluated."""
    evaluated = [int(c) for c in coco_eval.params.catIds]
    if not given or given == evaluated or len(set(given)) != len(given) or sorted(given) != evaluated:
        return
    order = [evaluated.index(c) for c in given]
    for key, axis in (('precision', 2), ('scores', 2), ('recall', 1)):
        if key in coco_eval.eval:
            coco_eval.eval[key] = coco_eval.eval[key].take(order, axis=axis)
    coco_eval.params.catIds = list(given)


RecordingCOCOeval = _recording(_mmdet_coco.COCOeval)
RecordingCOCOevalMP = _recording(_mmdet_coco.COCOevalMP)
_RECORDING = {'COCOeval': RecordingCOCOeval, 'COCOevalMP': RecordingCOCOevalMP}
#: pycocotools' evaluators as mmdet's modules import them (``mmdet.datasets.api_wrappers``), by name.
_BASES = {'COCOeval': _mmdet_coco.COCOeval, 'COCOevalMP': _mmdet_coco.COCOevalMP}


def _evaluator_modules(metric: CocoMetric, compute: Any) -> list:
    """The modules whose ``COCOeval`` / ``COCOevalMP`` names ``compute`` can run: mmdet's ``coco_metric``, the
    module of each class of ``metric``'s MRO and ``compute``'s own (mmdet's ``OVCocoMetric`` runs the evaluator its
    own module imported, which recording ``coco_metric``'s alone missed: its values stayed at 3 decimals)."""
    names = ['mmdet.evaluation.metrics.coco_metric', getattr(compute, '__module__', None),
             *(cls.__module__ for cls in type(metric).__mro__)]
    modules = []
    for name in dict.fromkeys(names):
        module = sys.modules.get(name) if name else None
        if module is not None and module not in modules:
            modules.append(module)
    return modules


def unrounded_coco_metrics(metric: CocoMetric, results: list, compute: Any = None) -> dict[str, float]:
    """``metric.compute_metrics(results)`` with every COCOeval value at full precision instead of 3 decimals.

    Args:
        metric: An mmdet ``CocoMetric`` (or subclass) that has processed ``results``.
        results: Its collected results (``metric.results``).
        compute: The unbound ``compute_metrics`` to run with its COCOeval values recorded; default: the metric's
            own (a subclass's runs as it is), or, for an :class:`UnroundedCocoMetric` (already unrounded), its
            ``compute_metrics`` called plainly.

    Returns:
        The same keys as mmdet's ``compute_metrics`` (without the ``coco/`` prefix), e.g. ``{'bbox_mAP':
        0.0671..., ...}``; with ``classwise=True`` each ``<class name>_precision`` is the class's AP at full
        precision too, and of that class (:func:`class_precisions`; mmdet rounded it to 3 decimals, so two copies
        rewarded on one class tied, and paired classes with other classes' APs where the annotation file does not
        list its categories by id); an ``OVCocoMetric``'s ``base_ap`` / ``novel_ap`` (``ap50``) average their own
        classes (:func:`split_precisions`); ``proposal_fast`` values stay as mmdet computes them (unrounded already),
        also over images of unequal box counts, where mmdet's ``eval_recalls`` stops under numpy >= 1.24
        (:func:`automl_mm.evaluation.recall.eval_recalls` runs in its place); each COCOeval ``AR@<n>`` /
        ``AR_<area>@<n>`` is the recall at the ``n`` detections it names, -1 where ``proposal_nums`` does not hold
        ``n`` (:func:`coco_value`; mmdet's took the recall at the first, second or third of the ``proposal_nums``);
        without ``ann_file`` (ground truth from the scored images' ``instances``) an object with a mask is ranged
        small / medium / large by its mask's area, as pycocotools on the annotation file ranges it (to within the
        pixels on a polygon's outline where the file gives a polygon its exact area, as COCO's does:
        :func:`gt_json_with_mask_areas`; mmdet's took its box's). Empty when mmdet's is (no prediction at all).
    """
    if compute is None:
        if isinstance(metric, UnroundedCocoMetric):
            # unrounded already; a subclass's own override (its keys and extras) runs as it is (it was skipped)
            return metric.compute_metrics(results)
        compute = type(metric).compute_metrics  # a CocoMetric subclass's own runs as it is
    recorded: list[Any] = []
    _ACTIVE.append(recorded)
    patched = []
    for module in _evaluator_modules(metric, compute):
        for name, recording in _RECORDING.items():
            # absent, another evaluator, or already recording (a nested call: every active call gets the summaries)
            if getattr(module, name, None) is _BASES[name]:
                patched.append((module, name, _BASES[name]))
                setattr(module, name, recording)
        # proposal_fast's recall over images of unequal box counts (mmdet's stops under numpy >= 1.24)
        if getattr(module, 'eval_recalls', None) is _mmdet_eval_recalls:
            patched.append((module, 'eval_recalls', _mmdet_eval_recalls))
            module.eval_recalls = eval_recalls
    try:
        with _mask_areas_in_own_ground_truth(metric):
            values = compute(metric, results)
    finally:
        for module, name, original in patched:
            setattr(module, name, original)
        _ACTIVE.pop()  # calls nest, so the last recorder is this call's (remove() would compare lists by value)
    # One COCOeval per metric in metric.metrics order, except 'proposal_fast' (no COCOeval); mmdet stops at the
    # first metric without predictions, so zip stops there too.
    metrics = list(metric.metrics)
    for kind, coco_eval in zip([m for m in metrics if m != 'proposal_fast'], recorded):
        default = COCO_AR_ITEMS if kind == 'proposal' else COCO_AP_ITEMS
        # a 'proposal_fast' after 'proposal' writes AR@<n> over proposal's (mmdet reports its recall, unrounded
        # already): those keys stay its values (proposal's COCOeval AR replaced them, 0.65 for mmdet's 0.75)
        later_fast = ({f'AR@{n}' for n in metric.proposal_nums}
                      if kind == 'proposal' and 'proposal_fast' in metrics[metrics.index(kind) + 1:] else set())
        for item in metric.metric_items or default:
            key = item if kind == 'proposal' else f'{kind}_{item}'
            if key in values and key not in later_fast:
                values[key] = coco_value(coco_eval, item)
        if kind != 'proposal' and metric.classwise:  # bbox / segm only; a later kind's values win, as in mmdet
            for key, value in class_precisions(metric, coco_eval).items():
                if key in values:
                    values[key] = value
        if kind != 'proposal' and hasattr(metric, 'base_cat_ids') and hasattr(metric, 'novel_cat_ids'):
            values.update({k: v for k, v in split_precisions(metric, coco_eval).items() if k in values})
    return values


def mask_area(segmentation: Any, height: int, width: int) -> float | None:
    """The area in pixels of a COCO ``segmentation`` as pycocotools computes it (``COCO.annToRLE``, then
    ``mask.area``): polygons (a list of ``[x1, y1, x2, y2, ...]``) rasterised on a ``height`` x ``width`` image, an
    uncompressed RLE (``counts`` a list) or a compressed one (``counts`` a str or bytes); ``None`` for anything else
    (no mask, an empty polygon list, a bitmap). A polygon of fewer than 3 points (``[x1, y1, x2, y2]``, ``[]``: no
    pixel; mmdet's ``LoadAnnotations`` calls it invalid) is left out (pycocotools stopped on it: a part of 4
    numbers is read as a box, TypeError, an empty one 'input type is not supported'); ``None`` where no polygon is
    left.

    A polygon is rasterised by pycocotools, which keeps only the image's pixels but first walks the whole outline
    at 5 points a pixel (some 40 bytes a pixel of outline, measured: 0.8 GB for a vertex at 1e7): a vertex at 1e9
    asked for some 80 GB (a segfault under a memory limit). A polygon with a vertex more than :data:`_REACH`
    widths / heights outside the image is therefore cut to that neighbourhood first (:func:`_cut_to`), so the work
    is bounded by the image size and the vertex count; its area is the image's pixels it covers (0.0 where none):
    pycocotools' own but for the pixels along a cut edge that crosses the image (the cut end is rounded to
    pycocotools' 1/5 px grid, which moves the edge's rasterised line by up to 1/10 px, flipping the pixels whose
    column or row it passes within that of its threshold: mostly none or one or two, at worst a run of an image row
    or column per cut edge, for an edge nearly along the pixel grid: 55 of 5,100 px on a 100 x 100 image measured;
    beyond 4e8 px pycocotools' own coordinates overflow). A polygon inside the neighbourhood goes to pycocotools as
    it is: its area is pycocotools' own.

    Raises:
        ValueError: a polygon holds a coordinate that is no finite number (NaN, inf, a str: pycocotools stopped or
            crashed on it), naming the polygon's position (:func:`gt_json_with_mask_areas` adds the annotation's
            and image's ids).
    """
    import numpy as np
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        polygons = []
        for i, polygon in enumerate(segmentation):
            if not (isinstance(polygon, (list, tuple)) and len(polygon) >= 6):
                continue
            try:
                points = np.asarray(polygon, dtype=np.float64)
            except (TypeError, ValueError):
                points = None
            if points is None or points.ndim != 1 or not np.isfinite(points).all():
                raise ValueError(f'segmentation polygon {i} holds a coordinate that is no finite number: '
                                 f'{_shortened(polygon)}')
            points = points[:len(points) // 2 * 2].reshape(-1, 2)  # (pycocotools reads pairs, an odd last dropped)
            bounds = (-_REACH * width, -_REACH * height, (_REACH + 1) * width, (_REACH + 1) * height)
            if (points < bounds[:2]).any() or (points > bounds[2:]).any():
                points = _cut_to(points, *bounds)
                if len(points) < 3:
                    continue  # nothing of it near the image: no pixel
            polygons.append(points.ravel().tolist())
        if not polygons:
            return None if not any(isinstance(p, (list, tuple)) and len(p) >= 6 for p in segmentation) else 0.0
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and 'counts' in segmentation and 'size' in segmentation:
        counts = segmentation['counts']
        if isinstance(counts, list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        elif isinstance(counts, (str, bytes)):
            rle = dict(segmentation, counts=counts.encode() if isinstance(counts, str) else counts)
        else:
            return None
    else:
        return None
    return float(mask_utils.area(rle))


#: How many image widths / heights outside the image a polygon's vertices may lie before :func:`mask_area` cuts it
#: to that neighbourhood (pycocotools then walks at most some 2 x 17 x (height + width) px of outline per cut edge).
_REACH = 8


def _shortened(values: Any, at_most: int = 8) -> str:
    """``repr`` of a polygon's first ``at_most`` values (and how many more), for a message."""
    values = list(values)
    more = f', ... ({len(values) - at_most} more)' if len(values) > at_most else ''
    return f'[{", ".join(repr(v) for v in values[:at_most])}{more}]'


def _cut_to(points: Any, x0: float, y0: float, x1: float, y1: float) -> Any:
    """The (K, 2) polygon ``points`` cut to the rectangle [x0, x1] x [y0, y1] (Sutherland-Hodgman: against each
    side in turn, a vertex outside replaced by where the edges through it cross that side), as (M, 2); M < 3 where
    nothing of it is inside. Where the border cuts a concave polygon apart the pieces stay one ring, joined along
    the border by edges that go there and back: pycocotools' even-odd fill draws no pixel for them, and inside the
    rectangle the ring crosses each line where the polygon did, so its pixels in the image are the polygon's.
    (shapely's ``clip_by_rect``, :func:`automl_mm.augment.annotations.clip_polygon`, first repairs a
    self-intersecting polygon, which changes the pixels pycocotools fills.)"""
    import numpy as np

    for axis, bound, below in ((0, x0, False), (0, x1, True), (1, y0, False), (1, y1, True)):
        if len(points) == 0:
            break
        inside = points[:, axis] <= bound if below else points[:, axis] >= bound
        kept = []
        for k in range(len(points)):
            p, q = points[k], points[(k + 1) % len(points)]
            if inside[k]:
                kept.append(p)
            if inside[k] != inside[(k + 1) % len(points)]:
                crossing = p + (bound - p[axis]) / (q[axis] - p[axis]) * (q - p)
                crossing[axis] = bound  # exactly on the side
                kept.append(crossing)
        points = np.array(kept, dtype=np.float64).reshape(-1, 2)
    return points


def gt_json_with_mask_areas(gt_to_coco_json: Callable[..., str], *args: Any, **kwargs: Any) -> str:
    """``gt_to_coco_json(*args, **kwargs)``, mmdet's ``CocoMetric.gt_to_coco_json`` (bound: the ground truth of a
    metric without ``ann_file``, written from the scored images' ``instances`` to a JSON file), with each annotation
    that has a ``segmentation`` given its mask's area (:func:`mask_area`) instead of its box's width x height.

    COCOeval ranges ground truth small / medium / large (``mAP_s`` / ``_m`` / ``_l``, ``AR_<area>@<n>``) by its
    ``area`` field, which an annotation file gives an instance-annotated object as its mask's area (automl_mm's
    generated sets, ``generate_coco`` and ``generate_fmnist_det``, and COCO's crowd RLEs: its pixels, exactly the
    value written here; COCO's polygons: the polygon's exact area, e.g. 702.106 for annotation 1768 of val2017,
    whose rasterised pixels written here are 703, so an object within its outline's pixels of 32² or 96² may be
    ranged on the other side); mmdet 3.3 writes the box's (the mask's is commented out there), so a 40 x 40 box
    around an object of 800 mask pixels, small in the file, was medium, and a reward or search score on
    ``coco/bbox_mAP_s`` without ``ann_file`` read other objects than pycocotools on the same file and detections.
    An object without a mask keeps its box's area (the file's, where it gives boxes only). Returns the file's
    path, rewritten in place.

    Raises:
        ValueError: a polygon coordinate pycocotools cannot read (:func:`mask_area`), naming the file, the
            annotation's id and its image's id.
    """
    from mmengine.fileio import dump, load, put_text

    path = gt_to_coco_json(*args, **kwargs)
    if not isinstance(path, str) or not path.endswith('.json'):
        return path  # a subclass's own writer of something else: left as it is
    coco_json = load(path)
    sizes = {image['id']: (image['height'], image['width']) for image in coco_json.get('images') or []}
    changed = False
    for annotation in coco_json.get('annotations') or []:
        if 'segmentation' not in annotation or annotation['image_id'] not in sizes:
            continue
        try:
            area = mask_area(annotation['segmentation'], *sizes[annotation['image_id']])
        except ValueError as err:
            raise ValueError(f'{path}: annotation {annotation.get("id")} (image {annotation["image_id"]}): {err} '
                             "(written from that image's instances: pycocotools cannot rasterise the mask)") from None
        if area is not None and area != annotation.get('area'):
            annotation['area'], changed = area, True
    if changed:
        # json.dumps (C encoder) to a string, not dump to the file (json.dump encodes in Python: 3 x slower, most
        # of this rewrite's cost on a 1,000-image split with polygons); the same backend, inferred from the path
        put_text(dump(coco_json, file_format='json'), path)
    return path


@contextlib.contextmanager
def _mask_areas_in_own_ground_truth(metric: Any) -> Iterator[None]:
    """Inside the block a metric without ground truth of its own yet (``_coco_api`` ``None``: no ``ann_file``)
    writes it with mask areas (:func:`gt_json_with_mask_areas`, set on the instance and removed after it); nothing
    changes for a metric that read its ``ann_file`` (its areas are the file's) or has no ``gt_to_coco_json``."""
    own = vars(metric).get('gt_to_coco_json')
    original = getattr(metric, 'gt_to_coco_json', None)
    if getattr(metric, '_coco_api', True) is not None or original is None:
        yield
        return
    metric.gt_to_coco_json = lambda *args, **kwargs: gt_json_with_mask_areas(original, *args, **kwargs)
    try:
        yield
    finally:
        if own is None:
            del metric.gt_to_coco_json
        else:
            metric.gt_to_coco_json = own


#: pycocotools' area range labels (``COCOeval.Params.areaRngLbl``) of mmdet's AR item names.
_AR_AREAS = {'AR': 'all', 'AR_s': 'small', 'AR_m': 'medium', 'AR_l': 'large'}


def coco_value(coco_eval: Any, item: str) -> float:
    """The value of mmdet's ``CocoMetric`` item ``item`` (``'mAP'``, ``'AR@100'``, ...) of a summarized COCOeval,
    at full precision: ``coco_eval.stats`` at mmdet's index for an AP item; for an AR item ``AR[_s|_m|_l]@<n>``,
    pycocotools' average recall (``summarize``'s ``_summarize(0, areaRng, maxDets=n)``: the mean of
    ``eval['recall'][:, :, area, m]`` over its entries > -1, ``m`` the position of ``n`` in ``params.maxDets``),
    -1 where ``n`` detections per image were not evaluated (pycocotools' value of what it did not compute).

    mmdet's ``CocoMetric`` (3.3) reads an AR item at ``stats[6..11]``, the recall at the first, second and third of
    the sorted ``maxDets``, which are its ``proposal_nums``: right at the default ``(100, 300, 1000)``, but with
    ``proposal_nums=(1, 10, 100)`` (pycocotools' own) ``'AR@100'`` was the recall of one detection per image (0.05
    where every object was found at 100: 1.0) and ``'AR@1000'`` that of 100. Here each AR item is the recall at the
    count it names; at the default counts it is ``stats`` as it is."""
    import numpy as np

    if not item.startswith('AR'):
        return float(coco_eval.stats[_STATS_INDEX[item]])
    area, count = item.split('@')
    params = coco_eval.params
    areas = [i for i, label in enumerate(params.areaRngLbl) if label == _AR_AREAS[area]]
    counts = [i for i, n in enumerate(params.maxDets) if int(n) == int(count)]
    recall = coco_eval.eval['recall'][:, :, areas][..., counts]  # (IoU thresholds, classes, areas, counts)
    recall = recall[recall > -1]
    return float(np.mean(recall)) if recall.size else -1.0


def _precision_column(coco_eval: Any, cat_id: int) -> int | None:
    """The position of category ``cat_id`` on the class axis of ``coco_eval.eval['precision']`` (the order of
    ``params.catIds``, which ``COCOeval.evaluate`` sorts), ``None`` where it was not evaluated."""
    order = [int(c) for c in coco_eval.params.catIds]
    return order.index(int(cat_id)) if int(cat_id) in order else None


def split_precisions(metric: Any, coco_eval: Any) -> dict[str, float]:
    """mmdet's ``OVCocoMetric`` values ``base_ap``, ``novel_ap``, ``base_ap50``, ``novel_ap50`` (the mean of
    ``eval['precision'][iou, :, classes, 0, -1]`` over its entries > -1, every IoU threshold or the first (0.5 of
    mmdet's default ``iou_thrs``; another first threshold is warned of and not read:
    :func:`automl_mm.engine.preflight_coco_settings.warn_ov_ap50_threshold`), of the
    classes of ``metric.base_cat_ids`` / ``novel_cat_ids``; -1 where none is > -1), each class at its own column
    (:func:`_precision_column`): mmdet took the classes' positions in ``metric.cat_ids`` (the annotation file's
    order), so with categories not listed by id the base AP averaged novel classes' precisions and back."""
    import numpy as np

    precisions = coco_eval.eval['precision']
    values = {}
    for split in ('base', 'novel'):
        columns = [c for c in (_precision_column(coco_eval, i) for i in getattr(metric, f'{split}_cat_ids'))
                   if c is not None]
        for suffix, rows in (('ap', slice(None)), ('ap50', slice(0, 1))):
            picked = precisions[rows][:, :, columns, 0, -1]
            picked = picked[picked > -1]
            values[f'{split}_{suffix}'] = float(np.mean(picked)) if picked.size else -1.0
    return values


def class_precisions(metric: CocoMetric, coco_eval: Any) -> dict[str, float]:
    """``{'<class name>_precision': AP}`` of an evaluated and accumulated COCOeval, as mmdet's ``CocoMetric``
    (``classwise=True``, mmdet 3.3 ``compute_metrics``, after detectron2) computes it, without its rounding to 3
    decimals: the mean of ``coco_eval.eval['precision'][:, :, k, 0, -1]`` (every IoU threshold and recall
    point, all areas, the last ``maxDets``) over its entries > -1, where ``k`` is the position of the class's
    category id in ``coco_eval.params.catIds``; NaN for a class without ground truth in the images scored (all
    entries -1), as mmdet reports it. That is pycocotools' AP of the class alone (``COCOeval`` with
    ``params.catIds=[its id]``).

    mmdet takes ``k`` as the class's position in ``metric.cat_ids`` (the annotation file's order of its
    categories), but ``COCOeval.evaluate`` sorts the ids: with categories listed as ``[{id: 2, 'b'}, {id: 1, 'a'}]``
    mmdet reported a's AP as ``b_precision`` and b's as ``a_precision`` (1.0 and 0.0 swapped), and a reward on one
    class read another's.

    Args:
        metric: The ``CocoMetric`` whose ``compute_metrics`` ran ``coco_eval`` (its ``cat_ids`` and ``_coco_api``).
        coco_eval: pycocotools' ``COCOeval`` after ``accumulate``; ``eval['precision']`` has the shape
            (IoU thresholds, recall points, classes in ``params.catIds`` order, area ranges, maxDets).
    """
    import numpy as np

    precisions = coco_eval.eval['precision']
    values = {}
    for cat_id in metric.cat_ids:
        name = metric._coco_api.loadCats(cat_id)[0]['name']
        column = _precision_column(coco_eval, cat_id)
        precision = precisions[:, :, column, 0, -1] if column is not None else np.empty(0)
        precision = precision[precision > -1]
        values[f'{name}_precision'] = float(np.mean(precision)) if precision.size else float('nan')
    return values


@METRICS.register_module()
class UnroundedCocoMetric(RankAgreedMetric, CocoMetric):
    """mmdet's ``CocoMetric`` reporting COCOeval's values at full precision instead of rounded to 3 decimals.

    Every argument, key and behaviour is ``CocoMetric``'s (``type='automl_mm.UnroundedCocoMetric'`` in an
    mmdet-scoped config), except that with ``classwise=True`` its logged per-class table and ``<class>_precision``
    values are each class's own where the annotation file does not list its categories by id (mmdet's paired them
    with other classes: :func:`_in_given_order`), and that each ``AR@<n>`` item is the recall at ``n`` detections
    (-1 where ``proposal_nums`` does not hold ``n``; mmdet's is so only at its default ``proposal_nums``:
    :func:`coco_value`), and that without ``ann_file`` an object with a mask is ranged small / medium / large by its
    mask's area, as in an annotation file (:func:`gt_json_with_mask_areas`). OHL rewards and NAS scores need no
    config change: they use full precision and mask areas for any ``CocoMetric`` (:func:`unrounded_coco_metrics`).
    On several ranks an error of one rank's ``process`` or of rank 0's ``compute_metrics`` (a mask pycocotools
    cannot rasterise, :func:`gt_json_with_mask_areas`) stops every rank at once
    (:class:`~automl_mm.evaluation.accuracy.RankAgreedMetric`), not rank 0 alone while the others wait in mmengine's
    broadcast.
    """

    def process_samples(self, data_samples: Sequence[dict]) -> None:
        """mmdet's ``CocoMetric.process`` (which reads no ``data_batch``), its error agreed on by every rank
        (:class:`~automl_mm.evaluation.accuracy.RankAgreedMetric`)."""
        CocoMetric.process(self, None, data_samples)

    def compute_metrics(self, results: list) -> dict[str, float]:
        """:meth:`compute_values`, its error agreed on by every rank (defined here: the preflight reads a metric's
        keys from the class owning its ``compute_metrics``)."""
        return super().compute_metrics(results)

    def compute_values(self, results: list) -> dict[str, float]:
        """mmdet's ``CocoMetric.compute_metrics`` at full precision (:func:`unrounded_coco_metrics`)."""
        return unrounded_coco_metrics(self, results, compute=CocoMetric.compute_metrics)
