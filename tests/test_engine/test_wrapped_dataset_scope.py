"""A dataset inside a wrapper is built in the wrapper's scope: mmengine's ``build_from_cfg`` pops the wrapper's
``_scope_`` and keeps it as the default scope while ``RepeatDataset`` / ``ConcatDataset`` build what they wrap.
The COCO-file walk (:func:`~automl_mm.engine.preflight_walk.loader_coco_files`, behind the annotation-file checks)
and the data-file check resolved a wrapped dataset in its own ``_scope_`` or ``default_scope`` only, so mmdet's
``CocoDataset`` inside ``RepeatDataset(_scope_='mmdet')`` of an automl_mm config was no COCO dataset (its file not
checked) and a user's dataset inside a wrapper of the user's scope had its missing ``ann_file`` passed."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight_loading import check_data_files
from automl_mm.engine.preflight_walk import ConfigCheckError, loader_coco_files
from tests.test_engine._user_scope_kinds import USER_SCOPE


def test_a_coco_dataset_inside_an_mmdet_scoped_wrapper_is_a_coco_dataset(tmp_path):
    leaf = dict(type='CocoDataset', data_root=str(tmp_path), ann_file='ann.json')
    loader = dict(dataset=dict(type='RepeatDataset', _scope_='mmdet', times=2, dataset=leaf))
    assert loader_coco_files(loader, 'automl_mm') == [osp.realpath(tmp_path / 'ann.json')]


def test_a_users_wrapped_datasets_missing_annotation_file_is_refused(tmp_path):
    leaf = dict(type='UserItems', data_root=str(tmp_path), ann_file='missing.json')
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(
        dataset=dict(type='RepeatDataset', _scope_=USER_SCOPE, times=2, dataset=leaf))))
    with pytest.raises(ConfigCheckError, match=r"train_dataloader\.dataset\.dataset\.ann_file='missing\.json': the "
                                               r'annotation file .* of UserItems does not exist'):
        check_data_files(cfg, 'automl_mm', False)
