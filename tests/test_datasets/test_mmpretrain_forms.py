"""mmpretrain's conventions a user carries over to automl_mm's classification datasets: supported as mmpretrain
reads them, or refused naming the key."""
from __future__ import annotations

import os.path as osp
import re

import pytest
from mmengine.config import Config

from automl_mm.datasets import ImageFolderDataset
from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

IMAGENET_OHL = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_resnet50_4x8_120e_imagenet.py')


def _folders(root):
    for cls, count in (('ant', 2), ('bee', 3)):
        (root / 'train' / cls).mkdir(parents=True)
        for i in range(count):
            (root / 'train' / cls / f'{i}.jpg').write_bytes(b'')
    return root


def test_image_folder_reads_mmpretrains_string_data_prefix_as_img_path(tmp_path):
    """mmpretrain's CustomDataset takes data_prefix='train' for dict(img_path='train'); the string's letters were
    taken for keys: "reads only data_prefix.img_path, got data_prefix='train': remove a, i, n, r, t"."""
    root = str(_folders(tmp_path))
    as_dict = ImageFolderDataset(data_root=root, data_prefix=dict(img_path='train'), split='train', reward_ratio=0.4)
    as_str = ImageFolderDataset(data_root=root, data_prefix='train', split='train', reward_ratio=0.4)
    assert as_str.data_prefix == {'img_path': osp.join(root, 'train')}
    assert [as_str.get_data_info(i) for i in range(len(as_str))] == \
        [as_dict.get_data_info(i) for i in range(len(as_dict))]
    assert len(as_str) == 3 and as_str.metainfo['classes'] == ('ant', 'bee')
    with pytest.raises(ValueError, match=r'ImageFolderDataset\.data_prefix must be dict\(img_path=.* got 3'):
        ImageFolderDataset(data_root=root, data_prefix=3)


def test_the_config_check_counts_the_class_folders_of_a_string_data_prefix(tmp_path):
    """The class-count check stopped with "AttributeError: 'str' object has no attribute 'get'" on it."""
    cfg = Config.fromfile(IMAGENET_OHL)
    root = _folders(tmp_path / 'imagenet')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        cfg[key].dataset.data_root = str(root)
    cfg.train_dataloader.dataset.data_prefix = 'train'
    with pytest.raises(ConfigCheckError, match=r'model\.head\.num_classes=1000 \(LinearClsHead\), but '
                                               r'train_dataloader\.dataset \(ImageFolderDataset without metainfo\.'
                                               rf'classes\) reads 2 class folders in {re.escape(str(root))}/train '):
        check_config(cfg)


def _builders(tmp_path):
    from test_fashion_mnist import write_fashion

    from automl_mm.datasets import CIFAR10Dataset, DigitsDataset, FashionMNISTDataset

    from conftest import write_cifar

    fm, cifar, folder = write_fashion(tmp_path / 'fm'), write_cifar(str(tmp_path / 'c')), str(_folders(tmp_path / 'f'))
    return {'DigitsDataset': lambda **kw: DigitsDataset(split='reward', img_size=8, max_samples=3, **kw),
            'FashionMNISTDataset': lambda **kw: FashionMNISTDataset(split='test', data_root=fm, **kw),
            'CIFAR10Dataset': lambda **kw: CIFAR10Dataset(data_root=cifar, split='test', **kw),
            'ImageFolderDataset': lambda **kw: ImageFolderDataset(data_root=folder, data_prefix='train', **kw)}


def test_mmpretrains_with_label_download_and_extensions_are_taken_or_refused_naming_the_key(tmp_path):
    """They stopped every dataset with "BaseDataset.__init__() got an unexpected keyword argument 'with_label'"."""
    for name, build in _builders(tmp_path).items():
        plain = build()
        labelled = build(with_label=True)  # what the dataset does anyway
        assert [labelled.get_data_info(i)['gt_label'] for i in range(len(labelled))] == \
            [plain.get_data_info(i)['gt_label'] for i in range(len(plain))]
        with pytest.raises(ValueError, match=rf"^{name} gives every item its class label \(gt_label\); "
                                             r'with_label=False .*remove with_label'):
            build(with_label=False)
        if name == 'ImageFolderDataset':
            assert len(build(extensions=('.JPG', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff',
                                         '.webp'))) == len(plain)
            with pytest.raises(ValueError, match=r"^ImageFolderDataset lists the image extensions .jpg, .*got "
                                                 r"extensions=\('.jpg',\) .*remove extensions"):
                build(extensions=('.jpg', ))
        else:
            assert len(build(download=False)) == len(plain)
            with pytest.raises(ValueError, match=rf'^{name} downloads nothing .*got download=True: put the files '
                                                 'under data_root and remove download'):
                build(download=True)
