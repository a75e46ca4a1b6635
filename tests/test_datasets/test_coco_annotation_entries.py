"""``check_coco_annotation_file`` (the config check of every COCO file a config reads) checked the top-level keys
only: an annotation whose ``image_id`` names no image, whose ``category_id`` names no category, or whose ``bbox`` is
not 4 finite numbers with w, h >= 0 was dropped by mmdet's ``CocoDataset`` without a word (the run trained on fewer
objects) or failed deep inside it (``not enough values to unpack``). Each is refused naming the file, the
annotation's id and the key."""
from __future__ import annotations

import contextlib
import io
import json

import pytest

from automl_mm.datasets.coco_split import check_coco_annotation_file


def _coco(**ann) -> dict:
    base = {'id': 7, 'image_id': 1, 'category_id': 1, 'bbox': [2, 3, 10, 12], 'area': 120.0, 'iscrowd': 0}
    base.update(ann)
    return {'images': [{'id': 1, 'file_name': '1.png', 'width': 64, 'height': 64},
                       {'id': 2, 'file_name': '2.png', 'width': 64, 'height': 64}],
            'annotations': [{'id': 6, 'image_id': 2, 'category_id': 1, 'bbox': [0, 0, 5, 5], 'area': 25.0,
                             'iscrowd': 0}, {k: v for k, v in base.items() if v is not None}],
            'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}]}


def _write(tmp_path, coco) -> str:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(coco))
    return str(path)


@pytest.mark.parametrize('ann, match', [
    (dict(image_id='1'), r"annotation id 7 \(annotations\[1\]\): image_id '1' is not the id of an image"),
    (dict(image_id=None), r"annotation id 7 \(annotations\[1\]\) has no 'image_id'"),
    (dict(category_id=3), r"annotation id 7 \(annotations\[1\]\): category_id 3 is not the id of a category"),
    (dict(category_id=None), r"annotation id 7 \(annotations\[1\]\) has no 'category_id'"),
    (dict(bbox=None), r"annotation id 7 \(annotations\[1\]\) has no 'bbox'"),
    (dict(bbox=[1, 2, 3]), r"annotation id 7 \(annotations\[1\]\): bbox \[1, 2, 3\] is not 4 numbers"),
    (dict(bbox=[1, 2, '3', 4]), r"annotation id 7 \(annotations\[1\]\): bbox \[1, 2, '3', 4\] is not 4 numbers"),
    (dict(bbox=[1, 2, True, 4]), r"bbox \[1, 2, True, 4\] is not 4 numbers"),
    (dict(bbox=[1, 2, float('nan'), 4]), r"bbox \[1, 2, nan, 4\] is not 4 .*finite"),
    (dict(id=None), r"annotations\[1\] has no 'id'"),
    (dict(area=None), r"annotation id 7 \(annotations\[1\]\) has no 'area'"),
    (dict(area='120'), r"annotation id 7 \(annotations\[1\]\): area '120' is not a number"),
])
def test_a_bad_annotation_is_refused_naming_file_id_and_key(tmp_path, ann, match):
    path = _write(tmp_path, _coco(**ann))
    with pytest.raises(ValueError, match=match) as info:
        check_coco_annotation_file(path)
    assert path in str(info.value)


def test_good_annotations_pass_a_crowd_and_a_whole_float_id_too(tmp_path, recwarn):
    """A crowd box (mmdet keeps it as an ignored instance) and ids pycocotools reads as the int ones (``1.0`` is the
    dict key ``1``; mmdet loads it) pass, without a warning."""
    coco = _coco(image_id=1.0, category_id=2.0)
    coco['annotations'].append({'id': 8, 'image_id': 1, 'category_id': 1, 'bbox': [0.5, 1.5, 3.25, 4],
                                'area': 12.0, 'iscrowd': 1})
    check_coco_annotation_file(_write(tmp_path, coco))
    assert not [w for w in recwarn if 'annotation' in str(w.message)]


@pytest.mark.parametrize('ann', [dict(image_id='1'), dict(category_id=3)])
def test_mmdet_drops_each_such_annotation_without_a_word(tmp_path, ann):
    """Why they are refused: mmdet's ``CocoDataset`` loads the file and drops the annotation."""
    from mmdet.datasets import CocoDataset

    path = _write(tmp_path, _coco(**ann))
    ds = CocoDataset(ann_file=path, data_prefix=dict(img=str(tmp_path)), metainfo=dict(classes=('a', 'b')),
                     pipeline=[], filter_cfg=None)
    assert sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds))) == 1  # annotation 6 only


def test_a_panoptic_file_passes(tmp_path):
    """A COCO panoptic file (``panoptic_train2017.json``, read by mmdet's ``CocoPanopticDataset``) gives one
    annotation entry per image: ``image_id``, ``file_name`` and ``segments_info`` (the segments carry the ``id``,
    ``category_id`` and ``bbox``). The instance rules refused every such file ("annotations[0] has no 'id'")."""
    segments = [dict(id=3, category_id=1, area=100, bbox=[0, 0, 10, 10], iscrowd=0)]
    coco = dict(images=[dict(id=i, file_name=f'{i}.jpg', width=40, height=40) for i in (1, 2)],
                annotations=[dict(image_id=i, file_name=f'{i}.png', segments_info=segments) for i in (1, 2)],
                categories=[dict(id=1, name='a', isthing=1), dict(id=2, name='b', isthing=0)])
    check_coco_annotation_file(_write(tmp_path, coco))


@pytest.mark.parametrize('ann', [dict(category_id=0), dict(image_id=9), dict(bbox=[1, 2, 3])])
def test_an_ignored_annotation_is_not_read_past_its_keys(tmp_path, ann):
    """mmdet's ``CocoDataset.parse_data_info`` skips an annotation with ``ignore`` set before it reads its box or
    its category (ignore regions: some conversions give them a category of their own): the check refused such a
    region of category 0 or of an image not in the file, which mmdet reads as meant. The keys pycocotools indexes
    every annotation by (``id``, ``image_id``, ``category_id``) are still required."""
    from mmdet.datasets import CocoDataset

    path = _write(tmp_path, _coco(ignore=1, **ann))
    warned = (r'1 annotation\(s\) \(ids such as \[7\]\) name an image_id that no entry' if 'image_id' in ann else
              r"drops 1 of its 2 annotations .*: 1 with 'ignore' set .*\(ids 7\)")  # (of no listed image: never read)
    with pytest.warns(UserWarning, match=warned):
        check_coco_annotation_file(path)
    ds = CocoDataset(ann_file=path, data_prefix=dict(img=str(tmp_path)), metainfo=dict(classes=('a', 'b')),
                     pipeline=[], filter_cfg=None)
    assert sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds))) == 1  # annotation 6 only
    path = _write(tmp_path, _coco(ignore=1, category_id=None))
    with pytest.raises(ValueError, match=r"annotation id 7 \(annotations\[1\]\) has no 'category_id'"):
        check_coco_annotation_file(path)


def test_mmdet_fails_on_an_annotation_without_area_naming_no_file(tmp_path):
    """Why a missing ``area`` is refused: ``CocoDataset.parse_data_info`` reads it of every box that meets its image
    (``KeyError: 'area'``, naming no file; ``COCOeval`` reads it of every box it scores)."""
    from mmdet.datasets import CocoDataset

    path = _write(tmp_path, _coco(area=None))
    with pytest.raises(KeyError, match='area'):
        CocoDataset(ann_file=path, data_prefix=dict(img=str(tmp_path)), metainfo=dict(classes=('a', 'b')),
                    pipeline=[], filter_cfg=None)


@pytest.mark.parametrize('image_id', [9, 9.0])
def test_an_annotation_of_an_unlisted_image_is_warned_of_not_refused(tmp_path, image_id):
    """An annotation whose ``image_id`` no image entry has belongs to no image the file lists: mmdet's
    ``CocoDataset`` reads each listed image's annotations and ``COCOeval`` the listed images' ground truth, so it is
    read by neither (a subset file made by deleting image entries holds such annotations, and mmdet trains on it
    correctly). It was refused; now one warning names the file and the count. ``'1'`` beside image 1 (another type
    of a listed id, which mmdet drops from image 1) stays refused, above."""
    path = _write(tmp_path, _coco(image_id=image_id, bbox=[1, 2, 3]))  # a bad box too: never read
    with pytest.warns(UserWarning, match=r"1 annotation\(s\) \(ids such as \[7\]\) name an image_id that no entry"):
        check_coco_annotation_file(path)


#: Annotations of image 1 (64 x 48) that mmdet 3.3's parse_data_info drops, by the reason the warning gives.
DROPPED = {
    "'ignore' set": [dict(ignore=1), dict(ignore=True, bbox=[1, 2, -3, 4])],
    'a width or height <= 0': [dict(bbox=[1, 2, -3, 4]), dict(bbox=[1, 2, 3, -0.5]), dict(bbox=[1, 2, 0, 4]),
                               dict(bbox=[1, 2, 5, 0], area=0.0)],
    'no overlap with its image': [dict(bbox=[64, 2, 5, 5]), dict(bbox=[-10, 2, 10, 5]), dict(bbox=[3, 48.0, 5, 5])],
    "an 'area' <= 0": [dict(area=0), dict(area=-2.5)],
    'a width or height under 1 pixel': [dict(bbox=[1, 2, 0.5, 4]), dict(bbox=[1, 2, 3, 0.999]),
                                        dict(bbox=[1, 2, 3, 0.5], iscrowd=1)],  # (COCOeval ignores a crowd box)
}
#: Annotations it keeps: a crowd box (as an ignored instance), a box partly outside the image, 1 x 1.
KEPT = [dict(iscrowd=1), dict(bbox=[-3, -3, 5, 5]), dict(bbox=[60, 40, 10, 10]), dict(bbox=[1, 2, 1, 1]),
        dict(ignore=0), dict(bbox=[63, 47, 1, 1])]


def test_what_mmdet_drops_is_warned_of_with_counts_and_first_ids_not_refused(tmp_path):
    """A large set with a few negative-size boxes could not be trained through automl_mm: the check refused what
    mmdet's ``CocoDataset.parse_data_info`` drops as it means to. Every such annotation now passes with one warning
    per file, counting each reason (in mmdet's order) with its first ids; mmdet, loading the file, keeps exactly
    the others."""
    from mmdet.datasets import CocoDataset

    anns, next_id = [], 100
    for ann in [a for group in DROPPED.values() for a in group] + KEPT:
        base = {'id': next_id, 'image_id': 1, 'category_id': 1, 'bbox': [2, 3, 10, 12], 'area': 120.0,
                'iscrowd': 0}
        anns.append({**base, **ann})
        next_id += 1
    coco = {'images': [{'id': 1, 'file_name': '1.png', 'width': 64, 'height': 48}], 'annotations': anns,
            'categories': [{'id': 1, 'name': 'a'}]}
    path = _write(tmp_path, coco)
    with pytest.warns(UserWarning) as caught:
        check_coco_annotation_file(path)
    messages = [str(w.message) for w in caught if 'drops' in str(w.message)]
    assert messages == [
        f"COCO annotation file {path!r}: mmdet's CocoDataset drops 14 of its 20 annotations when it loads the file "
        "(parse_data_info): 2 with 'ignore' set (an ignore region) (ids 100, 101); 4 with a width or height <= 0 "
        "(ids 102, 103, 104, ...); 3 with no overlap with its image (the image's width x height) (ids 106, 107, "
        "108); 2 with an 'area' <= 0 (ids 109, 110); 3 with a width or height under 1 pixel (ids 111, 112, 113). "
        "Training and the dataset's items go without them, but where the file is a CocoMetric's ann_file, COCOeval "
        "scores 12 of them as objects to detect (it reads 'iscrowd', not 'ignore', and skips only an area < 0), "
        "which the model cannot match: AP and recall are lowered; fix the boxes that are meant to be objects and "
        "drop the others from the file (or mark ignore regions iscrowd=1)"]
    ds = CocoDataset(ann_file=path, data_prefix=dict(img=str(tmp_path)), metainfo=dict(classes=('a', )),
                     pipeline=[], filter_cfg=None)
    assert len(ds.get_data_info(0)['instances']) == len(KEPT)
    # what mmdet's CocoMetric (ann_file given) scores: COCOeval's ground truth of the 'all' area range
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(path)
        evaluation = COCOeval(gt, gt.loadRes([dict(image_id=1, category_id=1, bbox=[2, 3, 10, 12], score=1.0)]), 'bbox')
        evaluation.evaluate()
    scored = [e for e in evaluation.evalImgs if e is not None and e['aRng'] == [0, 1e10]][0]
    dropped_ids = set(range(100, 114))
    assert sum(i in dropped_ids and not ignored for i, ignored in zip(scored['gtIds'], scored['gtIgnore'])) == 12
