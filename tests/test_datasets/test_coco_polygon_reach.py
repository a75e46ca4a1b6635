"""A polygon vertex far outside its image (1e9, a corrupt annotation) or no finite number passed the COCO file check,
and pycocotools, which walks the whole outline at 5 points a pixel before it keeps the image's part, asked for some
80 GB in training (mmdet's ``LoadAnnotations(poly2mask=True)``) and in ``COCOeval`` for a ``segm`` metric (a NaN
crashed it). The file check refuses such a polygon naming the file, the annotation and the polygon."""
from __future__ import annotations

import json

import pytest

from automl_mm.datasets.coco_split import check_coco_annotation_file


def _file(tmp_path, segmentation) -> str:
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({
        'images': [{'id': 1, 'file_name': '1.png', 'width': 64, 'height': 48}],
        'annotations': [{'id': 7, 'image_id': 1, 'category_id': 1, 'bbox': [2, 3, 10, 12], 'area': 120.0,
                         'iscrowd': 0, 'segmentation': segmentation}],
        'categories': [{'id': 1, 'name': 'a'}]}))
    return str(path)


@pytest.mark.parametrize('polygon, match', [
    ([2, 3, 1e9, 3, 2, 15], r'segmentation\[1\] reaches 1e\+09 px, more than 8 image sizes outside its 64 x 48'),
    ([2, 3, 12, -1e4, 2, 15], r'segmentation\[1\] reaches 10000 px'),
    ([2, 3, float('nan'), 3, 2, 15], r'segmentation\[1\] holds a coordinate that is no finite number'),
    ([2, 3, '12', 3, 2, 15], r'segmentation\[1\] holds a coordinate that is no finite number'),
])
def test_a_polygon_pycocotools_cannot_rasterise_is_refused(tmp_path, polygon, match):
    with pytest.raises(ValueError, match=r"ann\.json'?: annotation id 7 \(annotations\[0\]\): " + match):
        check_coco_annotation_file(_file(tmp_path, [[2, 3, 12, 3, 2, 15], polygon]))


def test_a_polygon_within_8_image_sizes_is_read(tmp_path):
    check_coco_annotation_file(_file(tmp_path, [[-8 * 64, 3, 9 * 64, 3, 2, 15], [1, 2, 3, 4]]))  # (and a 2-point one)
