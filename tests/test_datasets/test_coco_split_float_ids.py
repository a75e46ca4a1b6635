"""``split_coco`` refuses a float id such as ``1.0`` (COCO ids are integers; the split writes the ids back as read),
and says what to do: pycocotools keys its index by the id, where ``1.0`` is the key ``1``, so mmdet reads the file,
and the annotation of ``image_id`` ``3.0`` is image 3's (it was said to name no image)."""
from __future__ import annotations

import json

import pytest

from automl_mm.datasets.coco_split import split_coco


@pytest.mark.parametrize('coco, match', [
    ({'images': [{'id': 1.0}, {'id': 2.0}]},
     r"images\[0\] has id 1\.0: COCO ids are integers, write it as 1 \(pycocotools reads 1\.0 as the id 1"),
    ({'images': [{'id': 1}, {'id': 2.5}]}, r"images\[1\] has id 2\.5: an image id is an int or a str"),
    ({'images': [{'id': 1}, {'id': 3}], 'annotations': [{'id': 5, 'image_id': 3.0}]},
     r"annotations\[0\] has image_id 3\.0: COCO ids are integers, write it as 3 \(pycocotools reads 3\.0 as the id "
     r"3, the image of id 3"),
])
def test_a_float_id_is_refused_saying_to_write_the_integer(tmp_path, coco, match):
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=match) as info:
        split_coco(str(path), str(tmp_path / 'out'), val_images=1)
    assert str(path) in str(info.value)


def test_pycocotools_reads_a_whole_float_id_as_the_int():
    """The behaviour the message describes."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {'images': [{'id': 3}], 'annotations': [{'id': 5, 'image_id': 3.0, 'category_id': 1.0}],
                    'categories': [{'id': 1}]}
    coco.createIndex()
    assert coco.getAnnIds(imgIds=[3]) == [5] and coco.getImgIds(catIds=[1]) == [3.0]
