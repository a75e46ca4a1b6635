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


def test_the_class_names_of_a_coco_dataset_inside_an_mmdet_scoped_wrapper_are_checked():
    """The COCO walk finds mmdet's CocoDataset inside ``RepeatDataset(_scope_='mmdet')`` of an automl_mm config, but
    the class-name check then resolved it again in its own ``_scope_`` or ``default_scope`` ('automl_mm': no
    CocoDataset there) and skipped it: names in another order than the file's categories passed."""
    from automl_mm.engine.preflight_classes import _check_coco_classes

    leaf = dict(type='CocoDataset', data_root='/data/', ann_file='train.json', metainfo=dict(classes=('b', 'a')))
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(
        dataset=dict(type='RepeatDataset', _scope_='mmdet', times=2, dataset=leaf))))
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.dataset\.metainfo\.classes gives 2 class '
                                               r"names, .*another order than the file's categories"):
        _check_coco_classes(cfg, {'/data/train.json': ['a', 'b']}, test_only=False)


def test_the_filter_of_a_coco_dataset_inside_an_mmdet_scoped_wrapper_is_checked():
    """As above, the kept-images check resolved the wrapped CocoDataset again without the wrapper's ``_scope_`` and
    skipped it: a min_size above every image's shorter side (mmdet keeps no image) passed."""
    from automl_mm.engine.preflight_coco import CocoSummary, check_images_kept

    coco = dict(images=[dict(id=1, file_name='a.jpg', width=20, height=10)], categories=[dict(id=1, name='a')],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 5, 5], area=25, iscrowd=0)])
    leaf = dict(type='CocoDataset', data_root='/data/', ann_file='train.json', metainfo=dict(classes=('a', )),
                filter_cfg=dict(filter_empty_gt=True, min_size=32))
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(
        dataset=dict(type='RepeatDataset', _scope_='mmdet', times=2, dataset=leaf))))
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.dataset\.filter_cfg'):
        check_images_kept(cfg, {'/data/train.json': CocoSummary(coco, False)}, test_only=False)


def test_label_noise_inside_a_wrapper_of_automl_mms_scope_in_a_scored_loader_is_refused():
    """A wrapper's ``_scope_`` is the scope of what it wraps: automl_mm's ``NoisyLabelDataset`` inside
    ``RepeatDataset(_scope_='automl_mm')`` of an mmdet config (mmdet's registry holds no NoisyLabelDataset) was
    resolved in its own ``_scope_`` or 'mmdet' only, no class, and the scored loader's noise passed."""
    from automl_mm.engine.preflight_splits import check_noise_on_training_only

    noisy = dict(type='NoisyLabelDataset', noise_ratio=0.2, dataset=dict(type='CocoDataset', ann_file='val.json'))
    cfg = Config(dict(default_scope='mmdet', val_dataloader=dict(
        dataset=dict(type='RepeatDataset', _scope_='automl_mm', times=1, dataset=noisy))))
    with pytest.raises(ConfigCheckError, match=r'val_dataloader\.dataset\.dataset is a NoisyLabelDataset'):
        check_noise_on_training_only(cfg, 'mmdet', False)


def test_the_default_class_names_of_a_dataset_inside_an_mmdet_scoped_wrapper_are_known():
    """The class-count and label checks read a wrapped dataset's class names (``_dataset_classes``,
    ``_built_classes``) resolving it in the scope given for the loader, not its wrapper's: mmdet's CocoDataset
    without metainfo.classes inside ``RepeatDataset(_scope_='mmdet')`` of an automl_mm config had no names (its 80
    COCO names unknown), and the checks of the loader's class count skipped it."""
    from mmdet.datasets import CocoDataset

    from automl_mm.engine.preflight_classes import _built_classes, _dataset_classes

    wrapper = dict(type='RepeatDataset', _scope_='mmdet', times=2, dataset=dict(type='CocoDataset', ann_file='a.json'))
    names = CocoDataset.METAINFO['classes']
    assert [found[0] for found in _dataset_classes(wrapper, 'train_dataloader.dataset', 'automl_mm')] == [names]
    assert _built_classes(wrapper, 'train_dataloader.dataset', 'automl_mm')[0] == names
