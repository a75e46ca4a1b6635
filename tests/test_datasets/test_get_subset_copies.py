"""mmengine's ``BaseDataset.get_subset`` deep-copies the dataset with ``memo=dict()``, one dict for every call in the
process: two subsets of one dataset shared their pipeline and metainfo. Each subset of automl_mm's classification
datasets is now a copy of its own."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from test_fashion_mnist import write_fashion

from automl_mm.datasets import CIFAR10Dataset, DigitsDataset, FashionMNISTDataset, ImageFolderDataset

from conftest import write_cifar

PIPELINE = [dict(type='RandomFlip', prob=0.5)]


def _folders(root) -> str:
    for cls in ('a', 'b'):
        os.makedirs(root / cls)
        for i in range(3):
            cv2.imwrite(str(root / cls / f'{i}.png'), np.zeros((4, 4, 3), np.uint8))
    return str(root)


BUILDERS = {
    'digits': lambda tmp: DigitsDataset(split='reward', img_size=8, max_samples=6, pipeline=PIPELINE),
    'fashion_mnist': lambda tmp: FashionMNISTDataset(split='train', data_root=write_fashion(tmp / 'fm'),
                                                     reward_size=10, pipeline=PIPELINE),
    'cifar': lambda tmp: CIFAR10Dataset(data_root=write_cifar(str(tmp / 'c')), split='test', pipeline=PIPELINE),
    'image_folder': lambda tmp: ImageFolderDataset(data_root=_folders(tmp / 'f'), pipeline=PIPELINE),
}


@pytest.mark.parametrize('name', sorted(BUILDERS))
def test_two_subsets_of_one_dataset_share_no_pipeline(tmp_path, name):
    ds = BUILDERS[name](tmp_path)
    first, second = ds.get_subset([0, 1]), ds.get_subset([2, 3])
    assert [first.get_data_info(i)['gt_label'] for i in range(2)] == [ds.get_data_info(i)['gt_label'] for i in (0, 1)]
    assert [second.get_data_info(i)['gt_label'] for i in range(2)] == \
        [ds.get_data_info(i)['gt_label'] for i in (2, 3)]
    first.pipeline.transforms[0].prob = 0.9  # e.g. a hook writing the searched flip's prob into one subset
    assert second.pipeline.transforms[0].prob == 0.5  # was 0.9: one RandomFlip object in both subsets
    assert ds.pipeline.transforms[0].prob == 0.5
    assert second._metainfo is not first._metainfo


def test_a_fashion_mnist_subset_shares_the_read_only_part_instead_of_copying_it(tmp_path):
    ds = BUILDERS['fashion_mnist'](tmp_path)
    subset = ds.get_subset(3)
    assert subset._part_images is ds._part_images  # the cache's read-only array, not a deep copy
    assert subset.item_source() == ds.item_source()
    assert [subset.get_data_info(i)['source_idx'] for i in range(3)] == [ds.get_data_info(i)['source_idx']
                                                                        for i in range(3)]
