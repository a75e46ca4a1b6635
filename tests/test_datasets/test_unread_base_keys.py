"""The datasets that build their items themselves (no annotation file) refuse the mmengine ``BaseDataset`` keys
they never read (they were accepted and changed nothing), and keep the ones they read."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from test_fashion_mnist import write_fashion

from automl_mm.datasets import CIFAR10Dataset, DigitsDataset, FashionMNISTDataset, ImageFolderDataset
from automl_mm.registry import DATASETS

from conftest import write_cifar

UNREAD = [('ann_file', 'annotations/train.json'), ('data_prefix', dict(img_path='train')),
          ('filter_cfg', dict(filter_empty_gt=True))]


@pytest.mark.parametrize('key,value', UNREAD + [('data_root', 'data/digits')])
def test_digits_refuses_base_keys_it_never_reads(key, value):
    with pytest.raises(ValueError, match=rf'DigitsDataset.*\b{key}\b'):
        DATASETS.build(dict(type='DigitsDataset', split='reward', img_size=8, max_samples=4, **{key: value}))


def test_digits_keeps_the_base_defaults_and_the_keys_it_reads():
    ds = DigitsDataset(split='reward', img_size=8, max_samples=4, data_root='', ann_file='', filter_cfg=None,
                       data_prefix=dict(img_path=''), indices=2, metainfo=None, test_mode=True)
    assert len(ds) == 2
    assert len(DigitsDataset(split='reward', img_size=8, max_samples=4, data_root=None)) == 4


@pytest.mark.parametrize('key,value', UNREAD)
def test_fashion_mnist_refuses_base_keys_it_never_reads(tmp_path, key, value):
    root = write_fashion(tmp_path / 'fashion')
    with pytest.raises(ValueError, match=rf'FashionMNISTDataset.*\b{key}\b'):
        FashionMNISTDataset(split='test', data_root=root, **{key: value})
    assert len(FashionMNISTDataset(split='test', data_root=root, reward_size=10)) == 7  # reward_size: shared dict


@pytest.mark.parametrize('key,value', UNREAD)
def test_cifar_refuses_base_keys_it_never_reads(tmp_path, key, value):
    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))
    with pytest.raises(ValueError, match=rf'CIFAR10Dataset.*\b{key}\b'):
        CIFAR10Dataset(root, split='test', **{key: value})


@pytest.mark.parametrize('key,value', [UNREAD[0], UNREAD[2], ('data_prefix', dict(img_path='train', seg='masks'))])
def test_image_folder_refuses_base_keys_it_never_reads(tmp_path, key, value):
    os.makedirs(tmp_path / 'train' / 'cat')
    cv2.imwrite(str(tmp_path / 'train' / 'cat' / '0.png'), np.zeros((4, 4, 3), np.uint8))
    kwargs = {'data_prefix': dict(img_path='train'), key: value}
    with pytest.raises(ValueError, match=rf'ImageFolderDataset.*\b{key}\b'):
        ImageFolderDataset(str(tmp_path), **kwargs)
    assert len(ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))) == 1
