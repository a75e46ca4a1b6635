"""A split dataset carved with other arguments than the training split (the two shared images, silently) fails
at start, in :func:`check_config`, naming both keys: Digits, Fashion-MNIST, CIFAR-10 and image-folder splits, one
source under two roots or copied (compared by content), other pixels or labels under the same names (other data),
a held-out loader of the training split, and ``OHLHook.bn_recalibration_dataloader`` carved with another seed."""
from __future__ import annotations

import copy
import gzip
import os
import os.path as osp
import pickle
import re
import shutil
import sys

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import ConfigCheckError, check_config, reads_test_split
from automl_mm.registry import DATASETS

from conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_datasets'))
from test_fmnist_det import write_fake_fashion  # noqa: E402

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _source_idx(dataset: dict) -> set[int]:
    with DefaultScope.overwrite_default_scope('automl_mm'):
        built = DATASETS.build(copy.deepcopy(dataset))
        return {built.get_data_info(i)['source_idx'] for i in range(len(built))}  # also serialised (CIFAR)


def test_a_digits_training_split_of_another_seed_fails_naming_both_keys():
    """The reward and test splits are disjoint from the training split only when carved with the same seed and
    split_sizes (a child config or --cfg-options train_dataloader.dataset.seed=1 changed one of them)."""
    cfg = Config.fromfile(DIGITS)
    check_config(cfg)
    cfg.train_dataloader.dataset.seed = 1
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    with pytest.raises(ConfigCheckError, match=re.escape(
            "val_dataloader.dataset (DigitsDataset, split='test') and train_dataloader.dataset (split='train') carve "
            "their splits from the same data with other seed: 0 and 1: the two splits share images, so "
            "val_dataloader would score the model on images it trained on. Give both the same seed")):
        check_config(cfg)
    cfg = Config.fromfile(DIGITS)
    cfg.reward_dataloader.dataset.split_sizes = [0.7, 0.15, 0.15]
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(DigitsDataset, split='reward'\) and "
                                               r"train_dataloader\.dataset .* other split_sizes: \(0\.7, 0\.15, "
                                               r"0\.15\) and \(0\.6, 0\.2, 0\.2\)"):
        check_config(cfg)
    cfg.reward_dataloader.dataset.split_sizes = [0.6, 0.2, 0.2]  # a list of the same values
    check_config(cfg)


def test_a_held_out_loader_of_the_training_split_fails():
    cfg = Config.fromfile(DIGITS)
    cfg.reward_dataloader.dataset.split = 'train'
    with pytest.raises(ConfigCheckError, match=re.escape(
            "reward_dataloader.dataset (DigitsDataset, split='train') reads the images train_dataloader.dataset "
            "trains on (split='train'): rewards and search scores must come from a split held out of training")):
        check_config(cfg)
    cfg = Config.fromfile(DIGITS)
    cfg.val_dataloader = dict(cfg.val_dataloader, dataset=dict(cfg.val_dataloader.dataset, split='train'))
    check_config(cfg)  # training accuracy, on purpose


def test_fashion_mnist_and_cifar_test_splits_do_not_depend_on_the_seed():
    cfg = Config.fromfile(DIGITS)
    for kind, extra in (('FashionMNISTDataset', {}), ('CIFAR10Dataset', dict(data_root='data/cifar'))):
        for key, split, seed in (('train', 'train', 1), ('val', 'test', 0), ('reward', 'reward', 1)):
            cfg[f'{key}_dataloader'].dataset = dict(type=kind, split=split, seed=seed, pipeline=[], **extra)
        cfg.test_dataloader = cfg.val_dataloader  # (digits' test set beside them is refused: other class names)
        check_config(cfg)  # the official test set; reward carved as train
        cfg.reward_dataloader.dataset.reward_size = 500
        with pytest.raises(ConfigCheckError, match=rf"reward_dataloader\.dataset \({kind}, split='reward'\) .* "
                                                   r'other reward_size: 500 and 5000'):
            check_config(cfg)


def test_an_image_folder_reward_split_of_other_arguments_or_all_images_fails(tmp_path):
    for cls in ('a', 'b'):
        os.makedirs(tmp_path / 'train' / cls)
    folder = dict(type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path='train'),
                  pipeline=[])
    cfg = Config.fromfile(DIGITS)
    cfg.model.head.num_classes = 2
    cfg.train_dataloader.dataset = dict(folder, split='train')
    cfg.val_dataloader.dataset = dict(folder, data_prefix=dict(img_path='val'))  # another folder
    cfg.test_dataloader = cfg.val_dataloader
    os.makedirs(tmp_path / 'val' / 'a')
    os.makedirs(tmp_path / 'val' / 'b')
    cfg.reward_dataloader.dataset = dict(folder, split='reward')
    check_config(cfg)
    cfg.reward_dataloader.dataset.reward_ratio = 0.1
    with pytest.raises(ConfigCheckError, match=r'other reward_ratio: 0\.1 and 0\.02'):
        check_config(cfg)
    cfg.reward_dataloader.dataset = dict(folder, split='all')
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(ImageFolderDataset, split='all'\) "
                                               r'reads the images train_dataloader\.dataset trains on'):
        check_config(cfg)


def test_fashion_mnist_splits_of_one_data_under_two_roots_are_compared(tmp_path, monkeypatch):
    """``data_root=None`` and the folder it resolves to, or two copies of the same idx files, are one source: a
    training split of ``seed=1`` beside a reward split of ``seed=0`` shared images there, and the check compared
    only the configured paths (``None`` against the folder), so it passed. Files of the same images under other
    labels are refused whatever the seeds: their splits are carved from other labels."""
    first, copy_, other = (write_fake_fashion(str(tmp_path / name)) for name in ('a', 'b', 'c'))
    labels = osp.join(other, 'train-labels-idx1-ubyte.gz')
    with gzip.open(labels) as f:
        raw = bytearray(f.read())
    raw[8:] = raw[8:][::-1]  # the same classes in another order: another data set
    with gzip.open(labels, 'wb') as f:
        f.write(bytes(raw))
    monkeypatch.setattr('automl_mm.datasets.fashion_mnist.DEFAULT_ROOTS', (first, ))
    cfg = Config.fromfile(DIGITS)
    for key, split, seed in (('train', 'train', 1), ('val', 'test', 0), ('reward', 'reward', 1)):
        cfg[f'{key}_dataloader'].dataset = dict(type='FashionMNISTDataset', split=split, seed=seed, pipeline=[],
                                                data_root=None, reward_size=20)
    cfg.test_dataloader = cfg.val_dataloader
    check_config(cfg)
    for train_root, reward_root in ((None, first), (first, None), (first, copy_)):
        cfg.train_dataloader.dataset.data_root = train_root
        cfg.reward_dataloader.dataset.update(data_root=reward_root, seed=0)
        assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
        with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(FashionMNISTDataset, "
                                                   r"split='reward'\) .* other seed: 0 and 1"):
            check_config(cfg)
    # the same images under other labels (a relabelled copy): the splits are carved from other labels and share
    # images whatever their seeds (told apart by their label digests, this passed)
    cfg.reward_dataloader.dataset.data_root = other
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    for seed in (0, 1):
        cfg.reward_dataloader.dataset.seed = seed
        with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(FashionMNISTDataset, "
                                                   r"split='reward', data_root=.*\) .* carve their splits from the "
                                                   r'same images under other labels'):
            check_config(cfg)


def test_cifar_splits_of_two_copies_of_the_batches_are_compared(tmp_path):
    """The same CIFAR-10 batches in two folders are one source (compared by a digest of the training images and
    labels); batches of other images are another; the same images under other labels are refused whatever the
    seeds."""
    from conftest import write_cifar

    first, other = write_cifar(str(tmp_path / 'a')), write_cifar(str(tmp_path / 'c'), seed=1)
    copy_ = str(shutil.copytree(first, tmp_path / 'b'))
    cfg = Config.fromfile(DIGITS)
    for key, split, root in (('train', 'train', first), ('val', 'test', first), ('reward', 'reward', copy_)):
        cfg[f'{key}_dataloader'].dataset = dict(type='CIFAR10Dataset', split=split, data_root=root, pipeline=[],
                                                reward_size=20, seed=1 if key == 'train' else 0)
    cfg.test_dataloader = cfg.val_dataloader
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(CIFAR10Dataset, split='reward'\) .* "
                                               r'other seed: 0 and 1'):
        check_config(cfg)
    cfg.reward_dataloader.dataset.data_root = other
    check_config(cfg)  # other images (and labels): another source
    relabelled = str(shutil.copytree(first, tmp_path / 'relabelled'))  # the same images under other labels
    for i in range(1, 6):
        with open(osp.join(relabelled, f'data_batch_{i}'), 'rb') as f:
            entry = pickle.load(f, encoding='bytes')
        entry[b'labels'] = [(label + 1) % 10 for label in entry[b'labels']]
        with open(osp.join(relabelled, f'data_batch_{i}'), 'wb') as f:
            pickle.dump(entry, f, protocol=2)
    cfg.reward_dataloader.dataset.update(data_root=relabelled, seed=1)  # carved as the training split, other labels
    assert _source_idx(cfg.train_dataloader.dataset) & _source_idx(cfg.reward_dataloader.dataset)  # shared
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(CIFAR10Dataset, split='reward', "
                                               r'data_root=.*carve their splits from the same images under other '
                                               r'labels'):
        check_config(cfg)


def test_fashion_mnist_and_cifar_sources_of_other_pixels_under_the_same_labels_are_other_data(tmp_path):
    """The sources of the split checks were told by a digest of their training labels only: files of other images
    in the same label order (here: the pixels inverted) counted as the same data, so a training split of ``seed=1``
    beside a reward split of ``seed=0`` read from them was refused as overlapping, and a reward loader whose split
    is the one test_dataloader reads from the other files was refused as reading the test split. Both share no
    image and pass; a copy of the files still is the same data (both refusals fire)."""
    from conftest import write_cifar

    def inverted(path: str, header: int) -> None:
        with gzip.open(path) if path.endswith('.gz') else open(path, 'rb') as f:
            raw = bytearray(f.read())
        raw[header:] = bytes(255 - b for b in raw[header:])
        with gzip.open(path, 'wb') if path.endswith('.gz') else open(path, 'wb') as f:
            f.write(bytes(raw))

    fashion = write_fake_fashion(str(tmp_path / 'fashion'))
    shutil.copytree(fashion, tmp_path / 'fashion_copy')
    shutil.copytree(fashion, tmp_path / 'fashion_other')
    inverted(str(tmp_path / 'fashion_other' / 'train-images-idx3-ubyte.gz'), 16)
    cifar = write_cifar(str(tmp_path / 'cifar'))
    shutil.copytree(cifar, tmp_path / 'cifar_copy')
    other_cifar = str(shutil.copytree(cifar, tmp_path / 'cifar_other'))
    for i in range(1, 6):
        batch = osp.join(other_cifar, f'data_batch_{i}')
        with open(batch, 'rb') as f:
            entry = pickle.load(f, encoding='bytes')
        entry[b'data'] = 255 - entry[b'data']
        with open(batch, 'wb') as f:
            pickle.dump(entry, f, protocol=2)
    for kind, root, size in (('FashionMNISTDataset', fashion, 20), ('CIFAR10Dataset', cifar, 20)):
        base = dict(type=kind, pipeline=[], reward_size=size)
        cfg = Config.fromfile(DIGITS)
        cfg.train_dataloader.dataset = dict(base, split='train', data_root=root, seed=1)
        cfg.val_dataloader.dataset = dict(base, split='test', data_root=root)
        cfg.test_dataloader = cfg.val_dataloader
        for reward_root, same in ((f'{root}_copy', True), (f'{root}_other', False)):
            cfg.reward_dataloader.dataset = dict(base, split='reward', data_root=reward_root, seed=0)
            if same:
                with pytest.raises(ConfigCheckError, match=rf"reward_dataloader\.dataset \({kind}, "
                                                           r"split='reward'\) .* other seed: 0 and 1"):
                    check_config(cfg)
            else:
                check_config(cfg)  # other images: no split of them is a part of the training split
        # a held-out loader against test_dataloader (here the reward split of the original files)
        test_loader = dict(dataset=dict(base, split='reward', data_root=root))
        for reward_root, same in ((f'{root}_copy', True), (f'{root}_other', False)):
            assert reads_test_split(dict(dataset=dict(base, split='reward', data_root=reward_root)), test_loader) \
                is same


def test_a_fashion_mnist_held_out_loader_of_the_default_root_is_compared_with_the_test_loader(tmp_path, monkeypatch):
    """The test-split check told Fashion-MNIST's places apart by path: ``data_root=None`` (the default location)
    and the folder it resolves to were two, so a reward loader of the one reading the split test_dataloader reads
    of the other passed. Both are the same images now; so is a relabelled copy of the files (its reward split
    shares images with the test loader's), while files of other images are not."""
    root = write_fake_fashion(str(tmp_path / 'first'))
    relabelled = str(shutil.copytree(root, tmp_path / 'relabelled'))
    labels = osp.join(relabelled, 'train-labels-idx1-ubyte.gz')
    with gzip.open(labels) as f:
        raw = bytearray(f.read())
    raw[8:] = raw[8:][::-1]
    with gzip.open(labels, 'wb') as f:
        f.write(bytes(raw))
    other = write_fake_fashion(str(tmp_path / 'other'))
    with gzip.open(osp.join(other, 'train-images-idx3-ubyte.gz')) as f:
        raw = bytearray(f.read())
    raw[16:] = bytes(255 - b for b in raw[16:])
    with gzip.open(osp.join(other, 'train-images-idx3-ubyte.gz'), 'wb') as f:
        f.write(bytes(raw))
    monkeypatch.setattr('automl_mm.datasets.fashion_mnist.DEFAULT_ROOTS', (root, ))

    def loader(data_root):
        return dict(dataset=dict(type='FashionMNISTDataset', split='reward', data_root=data_root, reward_size=20))

    for held_out, test, shared in ((None, root, True), (root, None, True), (relabelled, None, True),
                                   (other, None, False)):
        assert reads_test_split(loader(held_out), loader(test)) is shared, (held_out, test)


def test_image_folder_splits_of_a_copied_folder_are_compared_by_content(tmp_path):
    """A copy of the class folders under another root is one source with the original: a reward split of seed 0
    read from the copy beside a training split of seed 1 (or a reward loader of every image of the copy, also once
    images were added to and removed from it) shared images, and the check compared the two paths, so it passed. A
    folder of other images of the same names and sizes stays another source."""
    rng = np.random.default_rng(0)
    for cls in ('a', 'b'):
        os.makedirs(tmp_path / 'orig' / 'train' / cls)
        for i in range(10):
            (tmp_path / 'orig' / 'train' / cls / f'{i}.png').write_bytes(rng.bytes(64))
    shutil.copytree(tmp_path / 'orig', tmp_path / 'copy')
    shutil.copytree(tmp_path / 'orig', tmp_path / 'other')
    for path in sorted((tmp_path / 'other' / 'train').rglob('*.png')):
        path.write_bytes(rng.bytes(64))  # other images: the same names and sizes
    folder = dict(type='ImageFolderDataset', data_prefix=dict(img_path='train'), pipeline=[], reward_ratio=0.2)
    cfg = Config.fromfile(DIGITS)
    cfg.model.head.num_classes = 2
    cfg.train_dataloader.dataset = dict(folder, data_root=str(tmp_path / 'orig'), split='train', seed=1)
    cfg.val_dataloader.dataset = dict(folder, data_root=str(tmp_path / 'other'), split='all')
    cfg.test_dataloader = cfg.val_dataloader
    cfg.reward_dataloader.dataset = dict(folder, data_root=str(tmp_path / 'copy'), split='reward', seed=0)
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(ImageFolderDataset, split='reward'\) "
                                               r"and train_dataloader\.dataset .* other seed: 0 and 1"):
        check_config(cfg)
    cfg.reward_dataloader.dataset.split = 'all'
    (tmp_path / 'copy' / 'train' / 'a' / '0.png').unlink()  # a copy in part: images removed and added since
    (tmp_path / 'copy' / 'train' / 'b' / 'new.png').write_bytes(rng.bytes(64))
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(ImageFolderDataset, split='all'\) "
                                               r'reads the images train_dataloader\.dataset trains on'):
        check_config(cfg)
    cfg.reward_dataloader.dataset.data_root = str(tmp_path / 'other')
    check_config(cfg)  # other images: another source (also for the val loader of every image)


def test_bn_recalibration_images_carved_with_another_seed_fail_naming_the_key():
    """OHLHook.bn_recalibration_dataloader's training split carved with another seed than train_dataloader's holds
    reward and test images (their BN statistics were in every reward, silently); carved as the training split, it
    passes."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py'))
    clean = dict(cfg.train_dataloader, dataset=dict(cfg.train_dataloader.dataset, pipeline=cfg.test_pipeline))
    hook = cfg.custom_hooks[0]
    hook.update(bn_recalibration_batches=2, bn_recalibration_dataloader=clean)
    check_config(cfg)
    hook.bn_recalibration_dataloader = dict(clean, dataset=dict(clean['dataset'], seed=1))
    assert _source_idx(hook.bn_recalibration_dataloader['dataset']) & _source_idx(cfg.reward_dataloader.dataset)
    with pytest.raises(ConfigCheckError, match=re.escape(
            "custom_hooks[0].bn_recalibration_dataloader.dataset (DigitsDataset, split='train') and "
            "train_dataloader.dataset (split='train') carve their splits from the same data with other seed: 1 and "
            "0: the two splits share images, so custom_hooks[0].bn_recalibration_dataloader would re-estimate BN "
            "statistics on images of the reward and test splits. Give both the same seed")):
        check_config(cfg)
