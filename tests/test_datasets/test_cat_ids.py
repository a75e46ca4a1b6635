"""``get_cat_ids`` of the classification datasets, as mmengine's ``ClassBalancedDataset`` reads it."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from mmengine.dataset import ClassBalancedDataset
from test_fashion_mnist import write_fashion

from automl_mm.datasets import (
    CIFAR10Dataset,
    DigitsDataset,
    FashionMNISTDataset,
    ImageFolderDataset,
    NoisyLabelDataset,
)

from conftest import write_cifar


def _folders(root) -> str:
    for cls, count in (('a', 1), ('b', 4)):
        os.makedirs(root / cls)
        for i in range(count):
            cv2.imwrite(str(root / cls / f'{i}.png'), np.zeros((4, 4, 3), np.uint8))
    return str(root)


BUILDERS = {
    'digits': lambda tmp: DigitsDataset(split='reward', img_size=8, max_samples=30),
    'fashion_mnist': lambda tmp: FashionMNISTDataset(split='test', data_root=write_fashion(tmp / 'fm'), pipeline=[]),
    'cifar': lambda tmp: CIFAR10Dataset(data_root=write_cifar(str(tmp / 'c')), split='test', pipeline=[]),
    'image_folder': lambda tmp: ImageFolderDataset(data_root=_folders(tmp / 'f')),
}


@pytest.mark.parametrize('name', sorted(BUILDERS))
def test_get_cat_ids_is_the_label_and_class_balancing_works(tmp_path, name):
    ds = BUILDERS[name](tmp_path)
    assert [ds.get_cat_ids(i) for i in range(len(ds))] == [[int(ds.get_data_info(i)['gt_label'])]
                                                          for i in range(len(ds))]
    # mmengine's wrapper used to fail: "<class ...> must implement `get_cat_ids` method"
    balanced = ClassBalancedDataset(ds, oversample_thr=0.5)
    assert len(balanced) >= len(ds)
    if name == 'image_folder':  # class a (1 image of 5, frequency 0.2) repeats ceil(sqrt(0.5 / 0.2)) = 2 times
        assert [balanced.get_cat_ids(i) for i in range(len(balanced))].count([0]) == 2


def test_noisy_label_dataset_reports_the_noisy_class():
    ds = NoisyLabelDataset(DigitsDataset(split='train', img_size=8, max_samples=40), noise_ratio=0.5)
    flipped = int(ds.noisy_indices[0])
    assert ds.get_cat_ids(flipped) == [ds[flipped]['gt_label']] != [int(ds.clean_labels[flipped])]
