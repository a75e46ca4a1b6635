"""Fashion-MNIST files of another image shape, and a ``reward_size`` the training set cannot hold, are refused when
the dataset is built (``lazy_init``: at the runner's start check, ``check_sources``), naming the file / key."""
from __future__ import annotations

import os

import numpy as np
import pytest
from test_fashion_mnist import _write, write_fashion

from automl_mm.datasets import FashionMNISTDataset
from automl_mm.datasets import fashion_mnist as fm


def _other_shape(root, compress: bool, size: int = 32) -> str:
    """The training images of ``root`` rewritten as ``size`` x ``size`` images (another MNIST-format set)."""
    n = 60
    images = np.zeros((n, size, size), np.uint8)
    for name in ('train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz'):
        if os.path.exists(os.path.join(root, name)):
            os.remove(os.path.join(root, name))
    path = os.path.join(root, 'train-images-idx3-ubyte')
    _write(path, images, compress)
    return path + ('.gz' if compress else '')


@pytest.mark.parametrize('compress', [True, False])
def test_images_of_another_shape_are_refused_at_build_naming_file_and_shape(tmp_path, compress):
    root = write_fashion(tmp_path / 'fm', compress=compress)
    path = _other_shape(root, compress)
    fm._load_part.cache_clear()
    with pytest.raises(ValueError, match=r'train-images-idx3-ubyte.*\(60, 32, 32\).*28 x 28') as info:
        FashionMNISTDataset(split='train', data_root=root, reward_size=10)
    assert path in str(info.value)


def test_images_of_another_shape_are_refused_by_the_start_check_of_a_lazy_build(tmp_path):
    root = write_fashion(tmp_path / 'fm')
    path = _other_shape(root, True)
    ds = FashionMNISTDataset(split='train', data_root=root, reward_size=10, lazy_init=True)
    with pytest.raises(ValueError, match=r'\(60, 32, 32\).*28 x 28') as info:
        ds.check_sources()
    assert path in str(info.value)
    assert getattr(info.value, 'config_argument', None) == 'data_root'


@pytest.mark.parametrize('split', ['train', 'reward'])
@pytest.mark.parametrize('reward_size', [60, 61])
def test_a_reward_size_the_training_set_cannot_hold_is_refused_at_the_start_check(tmp_path, split, reward_size):
    root = write_fashion(tmp_path / 'fm')  # 60 training images
    ds = FashionMNISTDataset(split=split, data_root=root, reward_size=reward_size, lazy_init=True)
    with pytest.raises(ValueError, match=rf'reward_size={reward_size}.* 60 training images') as info:
        ds.check_sources()
    assert getattr(info.value, 'config_argument', None) == 'reward_size'
    # and a full build says the same, marked the same
    with pytest.raises(ValueError, match=rf'reward_size={reward_size}.* 60 training images') as info:
        FashionMNISTDataset(split=split, data_root=root, reward_size=reward_size)
    assert getattr(info.value, 'config_argument', None) == 'reward_size'


def test_the_start_check_passes_a_reward_size_that_fits_and_the_test_split(tmp_path):
    root = write_fashion(tmp_path / 'fm')
    # (59 of 60 fits the count but takes a whole class: refused, test_class_without_training_image)
    FashionMNISTDataset(split='train', data_root=root, reward_size=50, lazy_init=True).check_sources()
    FashionMNISTDataset(split='test', data_root=root, reward_size=600, lazy_init=True).check_sources()


def test_the_config_check_names_reward_size_at_its_key(tmp_path):
    """The runner's start check (``check_data_sources``, a ``lazy_init`` build then ``check_sources``) names the key:
    the run used to start and fail at the reward loader's first load."""
    import os.path as osp

    from mmengine.config import Config

    from automl_mm.engine.preflight import check_data_sources

    from conftest import REPO_ROOT

    root = write_fashion(tmp_path / 'fm')  # 60 training images
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        if cfg.get(key):
            cfg[key]['dataset'].update(data_root=root, reward_size=100)
            cfg[key]['dataset'].pop('samples_per_class', None)
            cfg[key]['dataset'].pop('max_samples', None)
    with pytest.raises(ValueError, match=r'^\w+_dataloader\.dataset\.reward_size: reward_size=100 .*60 training'):
        check_data_sources(cfg)
