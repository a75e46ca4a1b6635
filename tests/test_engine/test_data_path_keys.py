"""A dataset path that is not there is named at the key that gives it: a new user's trial (fifty-second session)
ran the Fashion-MNIST AM-LFS config with a wrong ``data_root`` and got ``train_dataloader.dataset.dataset:
Fashion-MNIST data_root is not a folder: ...``, the dataset and the path but not the key to fix; CIFAR-10's missing
batch files and an image folder's missing directory likewise named the dataset only. Now
``train_dataloader.dataset.dataset.data_root: ...``; an image folder whose ``data_root`` is there but not its
``data_prefix.img_path`` names that key (COCO's ``ann_file`` / ``data_prefix.img`` were named already)."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_data_sources
from automl_mm.engine.preflight_walk import _datasets

from conftest import REPO_ROOT

FMNIST = osp.join(REPO_ROOT, 'configs/am_lfs/am-lfs_convnet_1x4_20e_fmnist-noise0.py')
CIFAR = osp.join(REPO_ROOT, 'configs/baselines/baseline_resnet18_1x1_200e_cifar10.py')
IMAGENET = osp.join(REPO_ROOT, 'configs/baselines/baseline_resnet50_8x1_120e_imagenet.py')


def _config(path: str, **leaf_args) -> Config:
    """The config at ``path`` with ``leaf_args`` set on every loader's innermost dataset."""
    cfg = Config.fromfile(path)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for node, _ in _datasets(cfg[key]['dataset'], ''):
            if not isinstance(node.get('dataset'), dict):
                node.update(leaf_args)
    return cfg


@pytest.mark.parametrize('config, key', [
    (FMNIST, r'train_dataloader\.dataset\.dataset\.data_root'),  # inside its NoisyLabelDataset
    (CIFAR, r'train_dataloader\.dataset\.data_root'),
    (IMAGENET, r'train_dataloader\.dataset\.data_root'),
])
def test_a_wrong_data_root_is_named_at_its_key(tmp_path, config, key):
    root = tmp_path / 'nowhere'
    with pytest.raises((FileNotFoundError, ValueError), match=rf'^{key}: .*{root}'):
        check_data_sources(_config(config, data_root=str(root)))


def test_an_image_folder_s_missing_prefix_is_named_at_its_key(tmp_path):
    message = rf'^train_dataloader\.dataset\.data_prefix\.img_path: image folder not found: {tmp_path}/trian '
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        check_data_sources(_config(IMAGENET, data_root=str(tmp_path), data_prefix=dict(img_path='trian')))


def test_the_multi_copy_start_names_the_key_alike(tmp_path):
    """The start-up build of a multi-copy run (:func:`~automl_mm.engine.preflight_build.build_check`) builds the
    wrapper, which builds the wrapped dataset: the refusal is located below it, and was worded
    ``train_dataloader.dataset.dataset (FashionMNISTDataset): Fashion-MNIST data_root is not a folder: ...``."""
    from automl_mm.engine.preflight import build_check

    root = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError, match=rf'^train_dataloader\.dataset\.dataset\.data_root: Fashion-MNIST '
                                                rf'data_root is not a folder: {root}'):
        build_check(_config(FMNIST, data_root=str(root)))


def test_a_fashion_mnist_folder_without_its_files_is_refused_at_start(tmp_path):
    """A ``data_root`` folder that is there but lacks the idx files was found only when the runner's loader loaded
    the data list: a multi-copy run started its four workers, which logged some 310 lines before each failed with
    a traceback. The dataset now says what its loading reads (``check_sources``), named at ``data_root``."""
    from automl_mm.engine.preflight import build_check

    cfg = _config(FMNIST, data_root=str(tmp_path))
    message = rf'^train_dataloader\.dataset\.dataset\.data_root: Fashion-MNIST file missing: {tmp_path}/train-images'
    with pytest.raises(ValueError, match=message):
        check_data_sources(cfg)
    with pytest.raises(ValueError, match=message):
        build_check(cfg)
