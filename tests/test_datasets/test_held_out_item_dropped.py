"""An item of a held-out split (``'reward'``, ``'test'``) whose pipeline gives ``None`` was replaced by mmengine's
``BaseDataset.__getitem__`` (outside ``test_mode``) with a random other item: the reward / test score read another
image at that position. It is refused, naming the item."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from automl_mm.datasets import DigitsDataset, ImageFolderDataset


def _drop(source_idx: int):
    return lambda data: None if data['source_idx'] == source_idx else data


def test_a_reward_item_the_pipeline_drops_is_refused_not_replaced():
    plain = DigitsDataset(split='reward', img_size=8, max_samples=10)
    dropped = plain.get_data_info(3)['source_idx']
    ds = DigitsDataset(split='reward', img_size=8, max_samples=10, pipeline=[_drop(dropped)])
    assert [ds[i]['source_idx'] for i in (0, 1, 2, 4)] == [plain.get_data_info(i)['source_idx'] for i in (0, 1, 2, 4)]
    with pytest.raises(ValueError, match=rf'^DigitsDataset \(split=.reward.\): the pipeline gave None for item 3 '
                                         rf'\(source_idx={dropped}\); .* random other item'):
        ds[3]  # was another item of the split
    train = DigitsDataset(split='train', img_size=8, max_samples=10)
    dropped = train.get_data_info(3)['source_idx']
    train = DigitsDataset(split='train', img_size=8, max_samples=10, pipeline=[_drop(dropped)])
    assert train[3]['source_idx'] != dropped  # training keeps mmengine's refetch (a random augmentation may drop)


def test_an_image_folder_reward_item_the_pipeline_drops_is_refused(tmp_path):
    for cls in ('a', 'b'):
        os.makedirs(tmp_path / cls)
        for i in range(5):
            cv2.imwrite(str(tmp_path / cls / f'{i}.png'), np.zeros((4, 4, 3), np.uint8))
    ds = ImageFolderDataset(data_root=str(tmp_path), split='reward', reward_ratio=0.4,
                            pipeline=[lambda data: None if data['img_path'].endswith('.png') else data])
    with pytest.raises(ValueError, match=r"^ImageFolderDataset \(split='reward'\): .* item 0 \(img_path='.*\.png'\)"):
        ds[0]


def _image_folder_eval_loaders():
    """``(config, loader key)`` of every val / test loader of the configs that reads an ``ImageFolderDataset``."""
    import glob
    import os.path as osp

    from mmengine.config import Config

    from conftest import REPO_ROOT

    found = []
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)):
        with open(path) as f:
            if 'imagenet' not in f.read():
                continue
        cfg = Config.fromfile(path)
        for key in ('val_dataloader', 'test_dataloader'):
            dataset = (cfg.get(key) or {}).get('dataset') or {}
            if dataset.get('type') == 'ImageFolderDataset':
                found.append((osp.relpath(path, REPO_ROOT), key, dataset))
    return found


def test_the_image_folder_evaluation_loaders_of_the_configs_set_test_mode():
    """An image-folder val / test set has ``split='all'`` as a training folder has, so SingleLabelMixin cannot tell it
    is read whole: outside ``test_mode`` an item whose pipeline gives ``None`` (mmcv's ``LoadImageFromFile(
    ignore_empty=True)`` on an empty file) was replaced by a random other val image (val/b/1.png read as val/a/1.png,
    one image scored twice), silently. With ``test_mode=True`` mmengine refuses the ``None``."""
    loaders = _image_folder_eval_loaders()
    assert loaders  # configs/_base_/datasets/imagenet.py and the configs built on it
    assert [(path, key) for path, key, dataset in loaders if dataset.get('test_mode') is not True] == []


def test_an_image_folder_val_item_the_pipeline_drops_is_refused_in_test_mode(tmp_path):
    for cls in ('a', 'b'):
        os.makedirs(tmp_path / 'val' / cls)
        for i in range(3):
            cv2.imwrite(str(tmp_path / 'val' / cls / f'{i}.png'), np.full((4, 4, 3), i, np.uint8))
    (tmp_path / 'val' / 'b' / '1.png').write_bytes(b'')  # a failed copy
    _, _, dataset = _image_folder_eval_loaders()[0]
    dataset = {k: v for k, v in dataset.items() if k != 'type'}
    ds = ImageFolderDataset(**dict(dataset, data_root=str(tmp_path), pipeline=[
        dict(type='mmcv.LoadImageFromFile', ignore_empty=True)]))
    assert ds[3]['img_path'].endswith(os.path.join('b', '0.png'))
    with pytest.raises(Exception, match='should not get `None`'):
        ds[4]  # was another val image in its place


def _folder_loaders(pipeline, test_mode=None, split='all', key='val_dataloader'):
    from mmengine.config import Config

    dataset = dict(type='ImageFolderDataset', data_root='data/imagenet', data_prefix=dict(img_path='val'), split=split,
                   pipeline=pipeline)
    if test_mode is not None:
        dataset['test_mode'] = test_mode
    return Config({key: dict(batch_size=2, dataset=dataset)})


IGNORE_EMPTY = [dict(type='mmcv.LoadImageFromFile', ignore_empty=True), dict(type='PackClsInputs')]


@pytest.mark.parametrize('key', ['val_dataloader', 'test_dataloader', 'reward_dataloader'])
def test_a_scored_folder_loader_whose_pipeline_can_drop_an_image_outside_test_mode_is_refused_at_start(key):
    """A user's image-folder val / test loader (mmpretrain's configs set no test_mode for val) with mmcv's
    LoadImageFromFile(ignore_empty=True): split='all' is no held-out split to the dataset, so outside test_mode an
    unreadable image was replaced by a random other one of the set and scored, silently. Refused at start, naming
    the transform, the dataset and test_mode."""
    from automl_mm.engine.preflight import ConfigCheckError
    from automl_mm.engine.preflight_splits import check_replaced_evaluation_items

    with pytest.raises(ConfigCheckError, match=rf'^{key}\.dataset\.pipeline\[0\] \(LoadImageFromFile, ignore_empty='
                                               rf'True\) gives None .* {key}\.dataset \(ImageFolderDataset, '
                                               rf"split='all'\) is outside test_mode: .* Set {key}\.dataset\."
                                               r'test_mode=True'):
        check_replaced_evaluation_items(_folder_loaders(IGNORE_EMPTY, key=key), 'automl_mm', False)


def test_what_cannot_replace_an_evaluation_item_passes():
    from automl_mm.engine.preflight_splits import check_replaced_evaluation_items

    plain = [dict(type='mmcv.LoadImageFromFile'), dict(type='PackClsInputs')]
    for cfg in (_folder_loaders(plain),  # mmpretrain's form: an unreadable image stops the run, naming it
                _folder_loaders(IGNORE_EMPTY, test_mode=True),  # mmengine refuses the None
                _folder_loaders(IGNORE_EMPTY, split='reward', key='reward_dataloader'),  # SingleLabelMixin refuses it
                _folder_loaders(IGNORE_EMPTY, key='train_dataloader')):  # training keeps mmengine's refetch
        check_replaced_evaluation_items(cfg, 'automl_mm', False)
    # tools/test.py (test_only) reads no val loader
    check_replaced_evaluation_items(_folder_loaders(IGNORE_EMPTY), 'automl_mm', True)


def test_a_wrapped_or_detection_evaluation_item_that_can_be_replaced_is_refused():
    from mmengine.config import Config

    from automl_mm.engine.preflight import ConfigCheckError
    from automl_mm.engine.preflight_splits import check_replaced_evaluation_items

    inner = _folder_loaders(IGNORE_EMPTY).val_dataloader.dataset.to_dict()
    cfg = Config(dict(val_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
        dict(inner, test_mode=True), inner]))))
    with pytest.raises(ConfigCheckError, match=r'^val_dataloader\.dataset\.datasets\.1\.pipeline\[0\] '):
        check_replaced_evaluation_items(cfg, 'automl_mm', False)
    # mmdet's FilterAnnotations (keep_empty=True, its default) gives None for an image left without boxes
    coco = dict(type='CocoDataset', ann_file='a.json', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='FilterAnnotations', min_gt_bbox_wh=(4, 4)), dict(type='PackDetInputs')])
    with pytest.raises(ConfigCheckError, match=r'^test_dataloader\.dataset\.pipeline\[2\] \(FilterAnnotations, '
                                               r'keep_empty=True\) gives None'):
        check_replaced_evaluation_items(Config(dict(test_dataloader=dict(dataset=coco))), 'mmdet', False)
    check_replaced_evaluation_items(Config(dict(test_dataloader=dict(dataset=dict(coco, test_mode=True)))), 'mmdet',
                                    False)


def test_the_config_check_refuses_a_replaceable_image_folder_val_item(tmp_path):
    """check_config (tools/train.py's start check) runs the check: a digits baseline validated on an image folder of
    its ten classes passes as mmpretrain writes it (no test_mode), and is refused with ignore_empty=True."""
    from mmengine.config import Config

    from automl_mm.engine.preflight import ConfigCheckError, check_config

    from conftest import REPO_ROOT

    for cls in range(10):
        os.makedirs(tmp_path / str(cls))
        cv2.imwrite(str(tmp_path / str(cls) / '0.png'), np.zeros((8, 8, 3), np.uint8))
    cfg = Config.fromfile(os.path.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py'))
    cfg.val_dataloader.dataset = dict(type='ImageFolderDataset', data_root=str(tmp_path), split='all', pipeline=[
        dict(type='mmcv.LoadImageFromFile'), dict(type='PackClsInputs')])
    check_config(cfg)
    cfg.val_dataloader.dataset.pipeline[0].ignore_empty = True
    with pytest.raises(ConfigCheckError, match=r'^val_dataloader\.dataset\.pipeline\[0\] \(LoadImageFromFile, '
                                               r'ignore_empty=True\) gives None'):
        check_config(cfg)
