"""A head whose class count is not the data's fails at start, naming both keys: a classifier's ``num_classes``
against a data set's class names or an ``ImageFolderDataset``'s class folders, a detector's bbox head against each
loader's classes, and every inner dataset of a ``ConcatDataset``."""
from __future__ import annotations

import os.path as osp
import re

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, _check_num_classes, check_config

from conftest import REPO_ROOT, synthcoco_detector_cfg

FMNIST_OHL = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py')


@pytest.mark.parametrize('num_classes', [11, 9])
def test_a_head_with_another_class_count_than_the_data_fails_at_start(num_classes):
    """An 11-output head on Fashion-MNIST's 10 classes trained silently (one output never a label); 9 outputs
    failed only inside the loss, in every copy, after the data was read."""
    cfg = Config.fromfile(FMNIST_OHL)
    check_config(cfg)
    cfg.model.head.num_classes = num_classes
    with pytest.raises(ConfigCheckError, match=rf"model\.head\.num_classes={num_classes} \(LinearClsHead\), but "
                                               r"train_dataloader\.dataset \(FashionMNISTDataset's classes\) names 10 "
                                               rf"classes: set num_classes=10, or give the data set the {num_classes} "
                                               "class names"):
        check_config(cfg)


IMAGENET_OHL = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_resnet50_4x8_120e_imagenet.py')


def test_an_image_folder_heads_count_is_checked_against_its_class_folders(tmp_path):
    """An ImageFolderDataset without metainfo.classes has a class per sub-folder, and was left unchecked: the
    ImageNet config's 1000-output head on a folder of 4 classes trained silently. The folders are counted as the
    dataset counts them (hidden folders skipped; an empty folder and a symlinked one are classes); a folder that
    does not exist yet, or has no class folders, is left to the dataset's own error."""
    from automl_mm.datasets import ImageFolderDataset

    cfg = Config.fromfile(IMAGENET_OHL)
    root = tmp_path / 'imagenet'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        cfg[key].dataset.data_root = str(root)
    check_config(cfg)  # no folder yet: the dataset says so when it is built
    (root / 'train').mkdir(parents=True)
    check_config(cfg)  # no class folders: the dataset's FileNotFoundError, not a second error
    elsewhere = tmp_path / 'dog_images'
    for folder in (root / 'train/ant', root / 'train/bee', root / 'train/.ipynb_checkpoints', elsewhere):
        folder.mkdir()
        (folder / 'a.jpg').write_bytes(b'')
    (root / 'train/cat').mkdir()  # empty: a class all the same (its label is taken)
    (root / 'train/dog').symlink_to(elsewhere, target_is_directory=True)
    (root / 'train/notes.txt').write_text('not a class')
    labelled = ImageFolderDataset(data_root=str(root), data_prefix=dict(img_path='train'),
                                  allow_empty=True).metainfo['classes']  # building refuses cat without it
    assert labelled == ('ant', 'bee', 'cat', 'dog')
    with pytest.raises(ConfigCheckError, match=r'model\.head\.num_classes=1000 \(LinearClsHead\), but '
                                               r'train_dataloader\.dataset \(ImageFolderDataset without metainfo\.'
                                               rf'classes\) reads 4 class folders in {re.escape(str(root))}/train '
                                               r'\(ant, bee, cat, dog; .*set num_classes=4, or give that folder the '
                                               r'1000 class folders'):
        check_config(cfg)
    cfg.model.head.num_classes = 4
    check_config(cfg)  # val does not exist yet
    for name in ('ant', 'bee', 'cat'):
        (root / 'val' / name).mkdir(parents=True)
    with pytest.raises(ConfigCheckError, match=r'num_classes=4 .*val_dataloader\.dataset .* reads 3 class folders '
                                               rf'in {re.escape(str(root))}/val '):
        check_config(cfg)
    (root / 'val/dog').mkdir()
    check_config(cfg)
    cfg.train_dataloader.dataset.data_prefix = dict(img_path=str(root / 'val'))  # an absolute prefix: data_root unread
    cfg.test_dataloader.dataset.data_prefix = dict(img_path='test')  # (training on the test split is refused)
    check_config(cfg)
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=cfg.train_dataloader.dataset)
    (root / 'val/eel').mkdir()  # wrapped: the inner folder set is counted
    with pytest.raises(ConfigCheckError, match=r'train_dataloader\.dataset\.dataset \(ImageFolderDataset without '
                                               r'metainfo\.classes\) reads 5 class folders'):
        check_config(cfg)


def test_a_detector_head_is_checked_against_the_classes_each_loader_reads(coco_root):
    """mmdet's NumClassCheckHook, which no config enables: the bbox head's count against every loader's classes;
    the RPN head's one class ("object") is not a class count; a subset of the file's classes with a head of that
    size is consistent; tools/test.py checks its split only."""
    cfg = synthcoco_detector_cfg(coco_root)
    check_config(cfg)  # rpn_head.num_classes=1 beside 3 classes passes
    cfg.model.roi_head.bbox_head.num_classes = 4
    with pytest.raises(ConfigCheckError, match=r'model\.roi_head\.bbox_head\.num_classes=4 \(Shared2FCBBoxHead\), '
                                               r'but train_dataloader\.dataset\.metainfo\.classes names 3 classes'):
        check_config(cfg)
    cfg = synthcoco_detector_cfg(coco_root)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.metainfo = dict(classes=('rectangle', 'triangle'))
    cfg.model.roi_head.bbox_head.num_classes = 2
    check_config(cfg)  # two of the file's three categories, two outputs
    cfg.val_dataloader.dataset.metainfo = dict(classes=('rectangle', 'ellipse', 'triangle'))
    with pytest.raises(ConfigCheckError, match=r'bbox_head\.num_classes=2 .*val_dataloader\.dataset\.metainfo\.'
                                               r'classes names 3 classes'):
        check_config(cfg)
    check_config(cfg, test_only=True)  # the test split's classes match the head


@pytest.mark.parametrize('wrap', ['ConcatDataset', 'mmdet.ConcatDataset', 'RepeatDataset', 'ClassBalancedDataset'])
def test_every_inner_dataset_of_a_concat_dataset_is_checked_against_the_heads(tmp_path, wrap):
    """Only the first inner dataset of a ConcatDataset whose classes were known was compared with the heads: a
    second one of another class count (Fashion-MNIST + a folder of 3 classes; two folders) trained silently under
    mmdet's or mmengine's ConcatDataset with ignore_keys='classes' (without it, other names are refused:
    test_preflight_late.py). Each is checked, the error names its key; also inside RepeatDataset /
    ClassBalancedDataset."""
    cfg = Config.fromfile(FMNIST_OHL)
    fmnist = cfg.train_dataloader.dataset
    folders = []
    for name, classes in (('three', ('ant', 'bee', 'cat')), ('ten', tuple('abcdefghij'))):
        for c in classes:
            (tmp_path / name / c).mkdir(parents=True)
        folders.append(dict(type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path=name),
                            pipeline=fmnist.pipeline))
    concat = dict(type='mmdet.ConcatDataset' if wrap == 'mmdet.ConcatDataset' else 'ConcatDataset',
                  datasets=[fmnist, folders[1], folders[0]], ignore_keys=['classes'])
    where = 'train_dataloader.dataset'
    if wrap in ('RepeatDataset', 'ClassBalancedDataset'):
        concat = dict(type=wrap, dataset=concat, **({'times': 2} if wrap == 'RepeatDataset' else
                                                    {'oversample_thr': 0.1}))
        where += '.dataset'
    cfg.train_dataloader.dataset = concat
    with pytest.raises(ConfigCheckError, match=rf'model\.head\.num_classes=10 \(LinearClsHead\), but '
                                               rf'{re.escape(where)}\.datasets\.2 \(ImageFolderDataset without '
                                               rf'metainfo\.classes\) reads 3 class folders in '
                                               rf'{re.escape(str(tmp_path / "three"))} \(ant, bee, cat;'):
        check_config(cfg)
    (tmp_path / 'three/dog').mkdir()
    with pytest.raises(ConfigCheckError, match=rf'{re.escape(where)}\.datasets\.2 .* reads 4 class folders'):
        check_config(cfg)
    for c in 'efghij':
        (tmp_path / 'three' / c).mkdir()
    check_config(cfg)  # three datasets of 10 classes each


def test_an_image_folder_with_metainfo_classes_none_is_checked_against_its_class_folders(tmp_path):
    """metainfo=dict(classes=None) names no classes: ImageFolderDataset labels its class folders as without it,
    but the check took the key for names and left the folders uncounted (a 10-output head on 3 folders passed)."""
    from automl_mm.datasets import ImageFolderDataset

    for name in ('ant', 'bee', 'cat'):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'a.jpg').write_bytes(b'')
    dataset = dict(type='ImageFolderDataset', data_root=str(tmp_path), metainfo=dict(classes=None))
    assert ImageFolderDataset(**{k: v for k, v in dataset.items() if k != 'type'}).metainfo['classes'] == \
        ('ant', 'bee', 'cat')
    cfg = Config(dict(default_scope='automl_mm', train_dataloader=dict(dataset=dataset),
                      model=dict(type='ImageClassifier', head=dict(type='LinearClsHead', num_classes=10))))
    with pytest.raises(ConfigCheckError, match=r'model\.head\.num_classes=10 \(LinearClsHead\), but '
                                               r'train_dataloader\.dataset \(ImageFolderDataset without metainfo\.'
                                               r'classes\) reads 3 class folders'):
        _check_num_classes(cfg, test_only=False)
    cfg.model.head.num_classes = 3
    _check_num_classes(cfg, test_only=False)
