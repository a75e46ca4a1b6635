"""A ``pathlib.Path`` ``data_root`` (which mmengine's ``BaseDataset`` joins as it joins a string) is the same root
to automl_mm's checks as its string: it was taken for no root, so the resume fingerprint of an image folder made
its paths relative to the class folders' parent instead (another fingerprint for the same data: the resume was
refused), the held-out split check skipped the dataset (a reward loader reading the training split passed), and
the COCO image checks found no image folder."""
from __future__ import annotations

import os
import os.path as osp
import re
from pathlib import Path

import pytest
from mmengine.config import Config

from automl_mm.engine.data_fingerprint import dataset_fingerprint
from automl_mm.engine.preflight_coco import image_folder
from automl_mm.engine.preflight_splits import check_held_out_splits
from automl_mm.engine.preflight_walk import ConfigCheckError
from tests.test_datasets.test_fashion_mnist import write_fashion


def test_an_image_folder_fingerprint_is_the_same_under_a_path_data_root(tmp_path):
    from automl_mm.datasets.image_folder import ImageFolderDataset

    for cls in ('cat', 'dog'):
        os.makedirs(tmp_path / 'train' / cls)
        for i in range(4):
            open(tmp_path / 'train' / cls / f'{i}.png', 'wb').close()

    def folder(root):
        return ImageFolderDataset(data_root=root, data_prefix=dict(img_path='train'), split='train', pipeline=[],
                                  reward_ratio=0.25)

    assert dataset_fingerprint(folder(tmp_path)) == dataset_fingerprint(folder(str(tmp_path)))


def test_a_reward_loader_of_the_training_split_under_a_path_data_root_is_refused(tmp_path):
    root = write_fashion(tmp_path / 'fm')

    def loader(split, data_root):
        return dict(batch_size=2, dataset=dict(type='FashionMNISTDataset', split=split, data_root=data_root,
                                               pipeline=[]))

    cfg = Config(dict(train_dataloader=loader('train', root), reward_dataloader=loader('train', Path(root))))
    with pytest.raises(ConfigCheckError, match=re.escape(
            "reward_dataloader.dataset (FashionMNISTDataset, split='train') reads the images "
            "train_dataloader.dataset trains on (split='train')")):
        check_held_out_splits(cfg, 'automl_mm', False)


def test_the_image_folder_of_a_coco_dataset_under_a_path_data_root(tmp_path):
    dataset = dict(data_root=tmp_path, data_prefix=dict(img='train2017/'))
    assert image_folder(dataset) == osp.join(str(tmp_path), 'train2017/')


def test_the_class_folders_of_an_image_folder_under_a_path_data_root(tmp_path):
    """The class-name checks (every scored loader reads the training loader's names) skipped an image folder whose
    ``data_root`` is a ``pathlib.Path``: its class folders were taken for unknown."""
    from automl_mm.engine.preflight_classes import _image_folder_classes

    for cls in ('cat', 'dog'):
        os.makedirs(tmp_path / 'train' / cls)
    dataset = dict(type='ImageFolderDataset', data_root=tmp_path, data_prefix=dict(img_path='train'))
    assert _image_folder_classes(dataset, 'automl_mm') == (('cat', 'dog'), osp.join(str(tmp_path), 'train'))


def test_a_pathlib_data_root_is_the_same_setting_as_its_string_for_a_resume(tmp_path):
    """A resumed search compares the reward / search loaders' settings with the checkpoint's
    (:func:`automl_mm.utils.checks.same_config`): a ``data_root`` given as a ``pathlib.Path`` (a Runner built in
    Python) was no root there, so its relative ``ann_file`` / ``data_prefix`` were resolved from the working
    directory and the Path compared unequal to its own string: the same data read as another setting."""
    from automl_mm.utils.checks import resolve_config_paths, same_config

    (tmp_path / 'ann.json').write_text('{}')
    as_str = dict(type='X', data_root=str(tmp_path), ann_file='ann.json', data_prefix=dict(img='imgs'))
    as_path = dict(type='X', data_root=tmp_path, ann_file='ann.json', data_prefix=dict(img=Path('imgs')))
    resolved = resolve_config_paths(as_path)
    assert resolved['ann_file'] == str(tmp_path / 'ann.json') and resolved['data_root'] == str(tmp_path)
    assert resolved['data_prefix'] == {'img': str(tmp_path / 'imgs')}
    assert same_config(as_str, as_path)
