"""mmengine's ``BaseDataset._copy_without_annotation`` deep-copies with ``memo=dict()``, one dict for every call in
the process: two ``get_subset`` results of any ``BaseDataset`` (mmdet's ``CocoDataset`` here) shared one pipeline.
automl_mm's patch (engine/dataset_copy.py) gives each copy a memo of its own."""
from __future__ import annotations

import json

import pytest

import automl_mm  # noqa: F401  (installs the mmengine patches)
from automl_mm.engine.patches import PATCHES

PIPELINE = [dict(type='RandomFlip', prob=0.5)]


def _coco_json(path) -> str:
    images = [dict(id=i, file_name=f'{i}.jpg', width=8, height=8) for i in range(1, 5)]
    annotations = [dict(id=i, image_id=i, category_id=1, bbox=[1, 1, 4, 4], area=16, iscrowd=0) for i in range(1, 5)]
    path.write_text(json.dumps(dict(images=images, annotations=annotations, categories=[dict(id=1, name='a')])))
    return str(path)


@pytest.mark.parametrize('in_place', [False, True])
def test_two_subsets_of_a_coco_dataset_share_no_pipeline(tmp_path, in_place):
    from mmdet.datasets import CocoDataset
    ds = CocoDataset(ann_file=_coco_json(tmp_path / 'a.json'), data_prefix=dict(img=str(tmp_path)),
                     metainfo=dict(classes=('a',)), pipeline=PIPELINE)
    first, second = ds.get_subset([0, 1]), ds.get_subset([2, 3])
    assert [first.get_data_info(i)['img_id'] for i in range(2)] == [1, 2]
    assert [second.get_data_info(i)['img_id'] for i in range(2)] == [3, 4]
    first.pipeline.transforms[0].prob = 0.9  # e.g. a hook writing a searched flip's prob into one subset
    assert second.pipeline.transforms[0].prob == 0.5  # was 0.9: one RandomFlip object in both subsets
    assert ds.pipeline.transforms[0].prob == 0.5
    assert second._metainfo is not first._metainfo
    if in_place:  # get_subset_ copies nothing but the data list: the dataset keeps its own pipeline
        ds.get_subset_([1])
        assert [ds.get_data_info(0)['img_id']] == [2] and ds.pipeline.transforms[0].prob == 0.5


def test_a_memo_passed_by_a_subclass_is_used_as_given(tmp_path):
    from mmdet.datasets import CocoDataset
    ds = CocoDataset(ann_file=_coco_json(tmp_path / 'a.json'), data_prefix=dict(img=str(tmp_path)),
                     metainfo=dict(classes=('a',)), pipeline=PIPELINE)
    memo = {id(ds.pipeline): ds.pipeline}  # share the pipeline on purpose
    copy = ds._copy_without_annotation(memo)
    assert copy.pipeline is ds.pipeline and copy._metainfo is not ds._metainfo


def test_the_patch_is_listed():
    from mmengine.dataset import BaseDataset
    assert BaseDataset._copy_without_annotation.own_memo
    assert 'get_subset copies of a dataset share nothing (a memo per copy)' in PATCHES
