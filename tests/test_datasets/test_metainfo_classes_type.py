"""Class names given as a config list (``metainfo=dict(classes=[...])``) are kept as a tuple, the type of the
default names: mmengine's ``ConcatDataset`` refused a part naming the classes beside one with the defaults ("The
type <class 'list'> of classes in the 2-th dataset should be the same with the first dataset <class 'tuple'>")."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from test_fashion_mnist import write_fashion

from automl_mm.datasets import CIFAR10Dataset, DigitsDataset, FashionMNISTDataset, ImageFolderDataset

from conftest import write_cifar


def _folders(root) -> str:
    for cls in ('a', 'b'):
        os.makedirs(root / cls)
        for i in range(2):
            cv2.imwrite(str(root / cls / f'{i}.png'), np.zeros((4, 4, 3), np.uint8))
    return str(root)


BUILDERS = {
    'digits': lambda tmp: lambda **kw: DigitsDataset(split='reward', img_size=8, max_samples=3, **kw),
    'fashion_mnist': lambda tmp: (lambda root: lambda **kw: FashionMNISTDataset(split='test', data_root=root, **kw))(
        write_fashion(tmp / 'fm')),
    'cifar': lambda tmp: (lambda root: lambda **kw: CIFAR10Dataset(data_root=root, split='test', **kw))(
        write_cifar(str(tmp / 'c'))),
    'image_folder': lambda tmp: (lambda root: lambda **kw: ImageFolderDataset(data_root=root, **kw))(
        _folders(tmp / 'f')),
}


@pytest.mark.parametrize('name', sorted(BUILDERS))
@pytest.mark.parametrize('lazy', [False, True])
def test_a_part_naming_its_classes_as_a_list_concatenates_with_one_of_default_names(tmp_path, name, lazy):
    build = BUILDERS[name](tmp_path)
    default = build()
    names = list(default.metainfo['classes'])
    named = build(metainfo=dict(classes=names), lazy_init=lazy)
    assert named.metainfo['classes'] == tuple(names)  # was the list
    concat = ConcatDataset([default, named])
    assert len(concat) == 2 * len(default) and concat.metainfo['classes'] == tuple(names)
    renamed = build(metainfo=dict(classes=[f'c{i}' for i in range(len(names))])) if name != 'image_folder' else None
    if renamed is not None:  # other names are still other metainfo
        assert renamed.metainfo['classes'] == tuple(f'c{i}' for i in range(len(names)))
        with pytest.raises(ValueError, match='meta information of the 2-th dataset does not match'):
            ConcatDataset([default, renamed])
