"""The entries of a COCO annotation file against what mmdet 3.3's ``CocoDataset``, pycocotools and ``COCOeval``
do with them: the annotations refused (misread without a word, or failed on deep inside) or warned of (dropped by
mmdet as it means to), the first annotation ``COCOeval`` fails on (:func:`first_cocoeval_problem`) and the first
polygon pycocotools cannot rasterise (:func:`first_polygon_problem`). Ids compare as pycocotools keys its index.

Split from :mod:`automl_mm.datasets.coco_split`, whose
:func:`~automl_mm.datasets.coco_split.check_coco_annotation_file` runs them and which still serves the public names
here and those read elsewhere (``_is_number``, ``_refuse_bad_entries``), not the helpers only this module calls.
The warnings of :func:`_refuse_bad_entries` name the line that called ``check_coco_annotation_file``
(``stacklevel=3``: through that function only).
"""
from __future__ import annotations

import math
import warnings
from typing import Any


def _entry_ids(entries: list, ann_file: str, key: str) -> set:
    """The ``id`` of every entry of the list ``coco[key]`` (``'images'``, ``'categories'``), refusing an entry that
    is no dict or has no ``id`` (pycocotools' index failed with a bare ``KeyError: 'id'``)."""
    ids = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or 'id' not in entry:
            raise ValueError(f"COCO annotation file {ann_file!r}: {key}[{i}] has no 'id' ({entry!r})")
        try:
            ids.add(entry['id'])
        except TypeError:  # a list or a dict: no dict key pycocotools could index it by
            raise ValueError(f'COCO annotation file {ann_file!r}: {key}[{i}] has id {entry["id"]!r}, not a '
                             'number or a string') from None
    return ids


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: How many annotation ids a warning of annotations mmdet drops gives per reason.
DROPPED_EXAMPLES = 3
#: Why mmdet's ``CocoDataset.parse_data_info`` drops an annotation (:func:`_dropped_by_mmdet`), in its order, worded
#: for the warning.
DROPPED_REASONS = {
    'ignore': "'ignore' set (an ignore region)",
    'empty': 'a width or height <= 0',
    'outside': "no overlap with its image (the image's width x height)",
    'area': "an 'area' <= 0",
    'small': 'a width or height under 1 pixel',
}


def _refuse_bad_entries(coco: dict, ann_file: str, polygons: bool = True) -> None:
    """``ValueError`` naming ``ann_file``, the annotation (``annotation id 7 (annotations[1])``) and the key, for the
    first annotation mmdet's ``CocoDataset`` would misread without a word or fail on deep inside
    (:func:`~automl_mm.datasets.coco_split.check_coco_annotation_file`); one warning counting the annotations it
    drops as its ``parse_data_info`` means to (:func:`_dropped_by_mmdet`), with the first ids of each reason.
    Cost: about 3.6 µs of CPU per annotation, 2.1 µs before the reasons of the fifty-eighth session (measured side
    by side on a synthetic file of 100,000 on a loaded 2-core machine; COCO train2017 holds 860,001: about 3 s),
    beside the longer parse of the JSON. ``polygons=False``: the ``segmentation`` polygons are not judged
    (:func:`first_polygon_problem` judges them apart)."""
    image_ids = _entry_ids(coco['images'], ann_file, 'images')
    category_ids = _entry_ids(coco['categories'], ann_file, 'categories')
    image_id_texts = {str(i) for i in image_ids}
    sizes = {image['id']: (image['width'], image['height']) for image in coco['images']
             if _is_number(image.get('width')) and _is_number(image.get('height'))}
    orphans = []
    dropped: dict[str, list] = {}
    scored = 0  # of the dropped ones, those COCOeval scores as objects to detect
    for i, ann in enumerate(coco.get('annotations') or []):
        if isinstance(ann, dict) and 'segments_info' in ann:
            # a COCO panoptic entry (one per image; its segments carry the ids and boxes), read by mmdet's
            # CocoPanopticDataset in its own way: the instance rules below refused every panoptic file
            continue
        if _of_no_listed_image(ann, image_ids, image_id_texts):
            orphans.append(ann['id'])
            continue
        problem = _annotation_problem(ann, image_ids, category_ids)
        if problem is None and polygons and isinstance(ann.get('segmentation'), list):
            problem = _polygon_problem(ann['segmentation'], sizes.get(ann['image_id']))
        if problem is None:
            reason = _dropped_by_mmdet(ann, sizes)
            if reason is not None:
                dropped.setdefault(reason, []).append(ann['id'])
                # COCOeval takes 'iscrowd' alone for its ignore flag and skips a box of area < 0 only
                scored += not ann.get('iscrowd', False) and ann['area'] >= 0
            continue
        if not isinstance(ann, dict):
            raise ValueError(f'COCO annotation file {ann_file!r}: annotations[{i}] is not an annotation entry (a '
                             f'dict): {ann!r}')
        if 'id' not in ann:
            raise ValueError(f"COCO annotation file {ann_file!r}: annotations[{i}] has no 'id' ({ann!r})")
        raise ValueError(f'COCO annotation file {ann_file!r}: annotation id {ann["id"]!r} (annotations[{i}])'
                         f'{problem}')
    if orphans:
        warnings.warn(f'COCO annotation file {ann_file!r}: {len(orphans)} annotation(s) (ids such as {orphans[:3]!r}) '
                      'name an image_id that no entry of its images list has; mmdet and COCOeval never read them (a '
                      'subset file made by deleting image entries gives such annotations). If images are missing '
                      'from the list, add them', stacklevel=3)
    if dropped:
        count = sum(len(ids) for ids in dropped.values())
        reasons = '; '.join(f'{len(ids)} with {DROPPED_REASONS[key]} (ids {_first(ids)})'
                            for key in DROPPED_REASONS if (ids := dropped.get(key)))
        warnings.warn(f'COCO annotation file {ann_file!r}: mmdet\'s CocoDataset drops {count} of its '
                      f'{len(coco.get("annotations") or [])} annotations when it loads the file (parse_data_info): '
                      f'{reasons}. Training and the dataset\'s items go without them, but where the file is a '
                      f'CocoMetric\'s ann_file, COCOeval scores {scored} of them as objects to detect (it reads '
                      '\'iscrowd\', not \'ignore\', and skips only an area < 0), which the model cannot match: AP '
                      'and recall are lowered; fix the boxes that are meant to be objects and drop the others from '
                      'the file (or mark ignore regions iscrowd=1)', stacklevel=3)


def first_cocoeval_problem(coco: dict) -> tuple[int, Any, str] | None:
    """``(index, annotation id, what)`` of the first annotation of the parsed COCO file ``coco`` that pycocotools'
    ``COCOeval`` fails on when a ``CocoMetric`` scores boxes against the file (its ``ann_file``), though mmdet's
    ``CocoDataset`` reads it: no ``iscrowd`` (``computeIoU`` reads ``int(gt['iscrowd'])`` of every box of an image
    with a detection: ``KeyError: 'iscrowd'`` at the first evaluation, a whole epoch in), or, ``ignore`` set (which
    the dataset skips unread, and ``COCOeval`` does not), a ``bbox`` that is not 4 finite numbers or an ``area``
    that is no number. ``None`` where it scores every annotation; a panoptic file's entries are not judged, nor an
    annotation of an image the file does not list (:func:`_of_no_listed_image`: ``COCOeval`` reads the ground truth
    of its ``imgIds`` alone, the listed images, and ran on such a file unharmed)."""
    image_ids = {image.get('id') for image in coco.get('images') or []
                 if isinstance(image, dict) and isinstance(image.get('id'), (int, float, str))}
    image_id_texts = {str(i) for i in image_ids}
    for i, ann in enumerate(coco.get('annotations') or []):
        if not isinstance(ann, dict) or 'segments_info' in ann or _of_no_listed_image(ann, image_ids, image_id_texts):
            continue
        if 'iscrowd' not in ann:
            return i, ann.get('id'), "has no 'iscrowd' (0 for an object, 1 for a crowd region)"
        if ann.get('ignore', False):
            box = ann.get('bbox')
            if not isinstance(box, (list, tuple)) or len(box) != 4 or not all(_is_number(v) for v in box):
                return i, ann.get('id'), f"is an 'ignore' one with bbox {box!r}, not 4 numbers [x, y, w, h]"
            if not _is_number(ann.get('area')):
                return i, ann.get('id'), f"is an 'ignore' one with area {ann.get('area')!r}, not a number"
    return None


def _first(ids: list) -> str:
    """The first :data:`DROPPED_EXAMPLES` of ``ids``, comma-separated, ``...`` after them where there are more."""
    return ', '.join(map(repr, ids[:DROPPED_EXAMPLES])) + (', ...' if len(ids) > DROPPED_EXAMPLES else '')


def _dropped_by_mmdet(ann: dict, sizes: dict) -> str | None:
    """Why mmdet 3.3's ``CocoDataset.parse_data_info`` drops the annotation ``ann`` (one :func:`_annotation_problem`
    passed) as it means to, a key of :data:`DROPPED_REASONS`, or ``None`` where it keeps it (a crowd box too, as
    an ignored instance). Its order: ``ignore`` set; a box ``[x, y, w, h]`` whose intersection with its image
    (``sizes``: image id -> ``(width, height)`` of the entries that give both as numbers; not judged for others) is
    empty, which a ``w`` or ``h`` <= 0 always gives; then ``area <= 0``, or ``w < 1`` or ``h < 1``."""
    if ann.get('ignore', False):
        return 'ignore'
    x, y, w, h = ann['bbox']
    if w <= 0 or h <= 0:
        return 'empty'
    size = sizes.get(ann['image_id'])
    if size is not None and max(0, min(x + w, size[0]) - max(x, 0)) * max(0, min(y + h, size[1]) - max(y, 0)) == 0:
        return 'outside'
    if ann['area'] <= 0:
        return 'area'
    if w < 1 or h < 1:
        return 'small'
    return None


def _of_no_listed_image(ann: object, image_ids: set, image_id_texts: set) -> bool:
    """Whether ``ann`` is a well-keyed annotation of an ``image_id`` that no image entry has and that is no listed id
    written as another type (``'1'`` beside image ``1``, which mmdet drops from image 1: refused as a bad entry).
    Such an annotation belongs to no image the file lists, so neither mmdet's ``CocoDataset`` (it reads the
    annotations of each listed image) nor ``COCOeval`` (the listed images' ground truth) reads it: warned of, not
    refused (a subset file made by deleting image entries is one)."""
    if not isinstance(ann, dict) or 'id' not in ann or 'image_id' not in ann:
        return False
    value = ann['image_id']
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value not in image_ids and str(int(value) if value == int(value) else value) not in image_id_texts


def _annotation_problem(ann: object, image_ids: set, category_ids: set) -> str | None:
    """What is wrong with the annotation entry ``ann``, worded to follow its name (``" has no 'bbox'"``,
    ``": bbox [1, 2, 3] is not 4 numbers ..."``), or ``None`` where mmdet's ``CocoDataset`` reads it as given."""
    if not isinstance(ann, dict) or 'id' not in ann:
        return ''
    keys = (('image_id', image_ids, 'image'), ('category_id', category_ids, 'category'))
    for key, _, _ in keys:  # pycocotools indexes every annotation by them, an ignored one too
        if key not in ann:
            return f' has no {key!r}'
    if ann.get('ignore', False):  # mmdet skips an ignored annotation before reading its category or box
        return None
    for key, ids, kind in keys:
        value = ann[key]
        try:
            known = not isinstance(value, bool) and value in ids
        except TypeError:  # unhashable: a list
            known = False
        if not known:
            return (f': {key} {value!r} is not the id of a{"n" if kind == "image" else ""} {kind} in the file '
                    f'({kind} ids such as {sorted(ids, key=repr)[:3]!r}): mmdet would drop the annotation without a '
                    f'word; fix its {key}')
    if 'bbox' not in ann:
        return " has no 'bbox' (mmdet reads [x, y, w, h] of every annotation)"
    box = ann['bbox']
    if not isinstance(box, (list, tuple)) or len(box) != 4 or not all(_is_number(v) for v in box):
        return f': bbox {box!r} is not 4 numbers [x, y, w, h] (finite, in pixels)'
    if 'area' not in ann:  # CocoDataset read it of every box that meets the image (KeyError), COCOeval of each
        return " has no 'area' (mmdet's CocoDataset and COCOeval read it, in pixels)"
    if not _is_number(ann['area']):
        return f": area {ann['area']!r} is not a number (finite, in pixels)"
    return None


def first_polygon_problem(coco: dict) -> tuple[int, Any, str] | None:
    """``(index, annotation id, what)`` of the first annotation of the parsed COCO file ``coco`` whose
    ``segmentation`` polygons pycocotools cannot rasterise (:func:`_polygon_problem`), ``what`` worded to follow
    ``annotation id 7 (annotations[0])``; ``None`` where it has none. Only mask reading rasterises them (mmdet's
    ``LoadAnnotations(with_mask=True)``, a ``segm`` metric): a box-only run reads the same file unharmed."""
    images = [image for image in coco.get('images') or [] if isinstance(image, dict)]
    sizes = {image.get('id'): (image['width'], image['height']) for image in images
             if _is_number(image.get('width')) and _is_number(image.get('height'))}
    image_ids = {image.get('id') for image in images if isinstance(image.get('id'), (int, float, str))}
    image_id_texts = {str(i) for i in image_ids}
    for i, ann in enumerate(coco.get('annotations') or []):
        if isinstance(ann, dict) and isinstance(ann.get('segmentation'), list) and \
                not _of_no_listed_image(ann, image_ids, image_id_texts):  # (read by neither mmdet nor COCOeval)
            try:
                size = sizes.get(ann.get('image_id'))
            except TypeError:  # an unhashable image_id: refused by the entry check
                continue
            problem = _polygon_problem(ann['segmentation'], size)
            if problem is not None:
                return i, ann.get('id'), problem
    return None


def _polygon_problem(segmentation: list, size: tuple | None) -> str | None:
    """What pycocotools cannot rasterise of the polygons ``segmentation`` (``[[x1, y1, x2, y2, ...], ...]``) of an
    image of ``size`` ``(width, height)`` (``None``: not judged by size), worded to follow the annotation's name, or
    ``None``. pycocotools' ``frPyObjects`` (mmdet's ``LoadAnnotations(poly2mask=True)`` in training, ``COCOeval`` for
    a ``segm`` metric, :func:`automl_mm.evaluation.coco.mask_area`) walks each outline at 5 points a pixel before it
    keeps the image's part: a coordinate of 1e9 asked for some 80 GB (a segfault under a memory limit), a NaN / inf
    crashed it. Refused: a coordinate that is no finite number, or one more than
    :data:`automl_mm.evaluation.coco._REACH` times its image's longer side outside it. Cost: about 3 us of CPU
    per polygon of 4 to 30 points (0.9 s for 300,000 in a 116 MB synthetic file, whose JSON parse took 4.6 s and
    whose other entry checks 1.0 s; measured side by side on a loaded 2-core machine)."""
    for j, polygon in enumerate(segmentation):
        if not isinstance(polygon, (list, tuple)) or len(polygon) < 6:
            continue  # (mmdet calls a polygon of fewer than 3 points invalid; a box-like part: not judged here)
        try:
            finite = math.isfinite(sum(polygon))
        except TypeError:  # a str, a nested list
            finite = False
        if not finite:
            return (f': segmentation[{j}] holds a coordinate that is no finite number ({polygon[:8]!r}'
                    f'{" ..." if len(polygon) > 8 else ""}); pycocotools cannot rasterise it (mmdet\'s '
                    'LoadAnnotations, COCOeval segm); fix or drop the polygon')
        if size is None:
            continue
        from automl_mm.evaluation.coco import _REACH

        width, height = size
        side = max(width, height)  # (x and y alike: one pass each for the least and the largest coordinate)
        if min(polygon) < -_REACH * side or max(polygon) > (_REACH + 1) * side:
            far = max(abs(v) for v in polygon)
            return (f': segmentation[{j}] reaches {far:g} px, more than {_REACH} image sizes outside its '
                    f'{width:g} x {height:g} image; pycocotools walks the whole outline at 5 points a pixel before '
                    "it keeps the image's part (mmdet's LoadAnnotations(poly2mask=True), COCOeval segm: some 40 "
                    'bytes a pixel, 80 GB at 1e9): fix the coordinate')
    return None
