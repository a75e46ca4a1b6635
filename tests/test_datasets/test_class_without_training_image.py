"""A class whose every image the reward split takes (a 1-image class at a high ``reward_ratio``, a ``reward_size``
close to the whole set) is refused: the class kept its label and no training image, silently (the head never
trained on it)."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from automl_mm.datasets import ImageFolderDataset


def _folder(root, counts: dict) -> str:
    for cls, n in counts.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for i in range(n):
            cv2.imwrite(os.path.join(root, cls, f'{i}.png'), np.full((4, 4, 3), i, np.uint8))
    return str(root)


@pytest.mark.parametrize('split', ['train', 'reward'])
def test_a_class_left_without_a_training_image_is_refused_naming_it(tmp_path, split):
    # 4 images at 0.75: 3 reward images, so at least two 1-image classes lose their only image to it
    root = _folder(tmp_path / 'imgs', {'ant': 1, 'bee': 1, 'cat': 2})
    with pytest.raises(ValueError, match=r'reward_ratio=0\.75.*no training image.*\((ant|bee): 1 image') as info:
        ImageFolderDataset(str(root), split=split, reward_ratio=0.75)
    assert getattr(info.value, 'config_argument', None) == 'reward_ratio'


def test_every_class_keeping_a_training_image_builds(tmp_path):
    root = _folder(tmp_path / 'imgs', {'ant': 2, 'bee': 3})
    for seed in range(5):
        ds = ImageFolderDataset(str(root), split='train', reward_ratio=0.4, seed=seed)
        assert {ds.get_data_info(i)['gt_label'] for i in range(len(ds))} == {0, 1}


def test_a_fashion_mnist_reward_size_taking_a_whole_class_is_refused(tmp_path):
    from test_fashion_mnist import write_fashion

    from automl_mm.datasets import CIFAR10Dataset, FashionMNISTDataset

    from conftest import write_cifar

    root = write_fashion(tmp_path / 'fm')  # 6 training images per class
    with pytest.raises(ValueError, match=r'reward_size=55 .*no training image') as info:
        FashionMNISTDataset(split='train', data_root=root, reward_size=55)
    assert getattr(info.value, 'config_argument', None) == 'reward_size'
    assert len(FashionMNISTDataset(split='train', data_root=root, reward_size=50)) == 10
    cifar = write_cifar(str(tmp_path / 'cifar-10-batches-py'))  # 100 training images
    with pytest.raises(ValueError, match=r'reward_size=99 .*no training image'):
        CIFAR10Dataset(cifar, split='reward', reward_size=99)


def test_the_start_check_of_a_lazy_fashion_mnist_build_refuses_it(tmp_path):
    """A ``lazy_init`` build (the runner's start check, ``check_sources``) refused a ``reward_size`` of all the
    training images but passed one that takes a whole class, refused only when the runner first loaded the data;
    it reads the labels file (60 KB for the official set) to refuse it up front, marked alike."""
    from test_fashion_mnist import write_fashion

    from automl_mm.datasets import FashionMNISTDataset

    root = write_fashion(tmp_path / 'fm')  # 6 training images per class
    for split in ('train', 'reward'):
        ds = FashionMNISTDataset(split=split, data_root=root, reward_size=55, lazy_init=True)
        with pytest.raises(ValueError, match=r'reward_size=55 .*no training image') as info:
            ds.check_sources()
        assert getattr(info.value, 'config_argument', None) == 'reward_size'
    FashionMNISTDataset(split='train', data_root=root, reward_size=50, lazy_init=True).check_sources()
    FashionMNISTDataset(split='test', data_root=root, reward_size=55, lazy_init=True).check_sources()


def test_the_start_check_of_a_lazy_cifar_build_refuses_a_class_without_a_training_image(tmp_path):
    """``CIFAR10Dataset.check_sources`` (the runner's start check of a ``lazy_init`` build) looked only for the
    batch files: a ``reward_size`` that takes a whole class (or all the images of a smaller set than CIFAR-10's)
    was refused when the runner first loaded the batches. It now reads the training labels and refuses it up
    front, as Fashion-MNIST's does, marked alike."""
    from automl_mm.datasets import CIFAR10Dataset

    from conftest import write_cifar

    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))  # 100 training images
    for split in ('train', 'reward'):
        for size, match in ((99, r'reward_size=99 .*no training image'),
                            (100, r'reward_size=100 must be smaller than the 100 training images')):
            ds = CIFAR10Dataset(root, split=split, reward_size=size, lazy_init=True)
            with pytest.raises(ValueError, match=match) as info:
                ds.check_sources()
            assert getattr(info.value, 'config_argument', None) == 'reward_size'
    CIFAR10Dataset(root, split='train', reward_size=50, lazy_init=True).check_sources()
    CIFAR10Dataset(root, split='test', reward_size=99, lazy_init=True).check_sources()  # reads the test batch


def test_the_cifar_start_checks_of_a_start_read_the_batches_once(tmp_path, monkeypatch):
    """The train and reward datasets' start checks read the five training batches once between them (150 MB for
    CIFAR-10, 3.5 s here, each); a batch rewritten since is read again."""
    import automl_mm.datasets.cifar as cifar
    from automl_mm.datasets import CIFAR10Dataset

    from conftest import write_cifar

    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))
    reads = []
    monkeypatch.setattr(cifar, 'read_cifar_batch', lambda path, read=cifar.read_cifar_batch: reads.append(path)
                        or read(path))
    for split in ('train', 'reward'):
        CIFAR10Dataset(root, split=split, reward_size=50, lazy_init=True).check_sources()
    assert len(reads) == 5
    os.utime(os.path.join(root, 'data_batch_1'), ns=(1, 1))  # (another mtime: a rewritten file)
    CIFAR10Dataset(root, split='train', reward_size=50, lazy_init=True).check_sources()
    assert len(reads) == 10


@pytest.mark.parametrize('split', ['train', 'reward'])
def test_the_start_check_of_a_lazy_image_folder_build_refuses_a_class_without_a_training_image(tmp_path, split):
    """``ImageFolderDataset.check_sources`` walked each class folder to its first image only: a ``reward_ratio``
    whose reward split takes every image of a class, or no image at all, was refused when the runner first listed
    the images. A folder whose classes all hold enough images for the ratio is still not listed in full."""
    root = _folder(tmp_path / 'imgs', {'ant': 1, 'bee': 1, 'cat': 2})
    ds = ImageFolderDataset(root, split=split, reward_ratio=0.75, lazy_init=True)
    with pytest.raises(ValueError, match=r'reward_ratio=0\.75.*no training image.*\((ant|bee): 1 image') as info:
        ds.check_sources()
    assert getattr(info.value, 'config_argument', None) == 'reward_ratio'
    ds = ImageFolderDataset(root, split=split, reward_ratio=0.1, lazy_init=True)  # 0.4 of an image: none
    with pytest.raises(ValueError, match=r'reward_ratio=0\.1 of the 4 images .* leaves no reward image'):
        ds.check_sources()
    ImageFolderDataset(root, split='all', reward_ratio=0.75, lazy_init=True).check_sources()
    ImageFolderDataset(_folder(tmp_path / 'two', {'ant': 2, 'bee': 3}), split=split, reward_ratio=0.4,
                       lazy_init=True).check_sources()


def test_the_image_folder_start_check_lists_a_class_in_full_only_where_the_split_could_empty_it(tmp_path,
                                                                                               monkeypatch):
    """Cost: with enough images in every class for ``reward_ratio`` (ceil(n * ratio) < n, and a reward image in
    all), each class folder is walked to a few images, not listed (``_image_files``, what loading calls)."""
    import automl_mm.datasets.image_folder as image_folder

    root = _folder(tmp_path / 'imgs', {c: 6 for c in 'abcdefghij'})
    listed = []
    real = image_folder._image_files
    monkeypatch.setattr(image_folder, '_image_files', lambda folder, *a, **k: listed.append(folder) or
                        real(folder, *a, **k))
    for ratio in (0.2, 0.8):  # 6 images a class: at most 2 / 5 of each go to the reward split
        ImageFolderDataset(root, split='train', reward_ratio=ratio, lazy_init=True).check_sources()
    assert listed == []
    with pytest.raises(ValueError, match=r'reward_ratio=0\.9 .*leaves 4 classes no training image'):
        ImageFolderDataset(root, split='train', reward_ratio=0.9, lazy_init=True).check_sources()  # 54 of 60
    assert len(listed) == 10  # each class may lose all: the split is computed as loading computes it


def test_digits_split_sizes_that_leave_a_class_without_a_training_image_are_refused_at_the_start_check():
    """``DigitsDataset`` refused only an empty split, when the data loaded: ``split_sizes=(0.002, 0.499, 0.499)``
    gives a training split of 5 images of 5 classes, and the other 5 classes kept their labels with no training
    image, silently. It is refused (training and reward splits, as Fashion-MNIST's), and at the start check of a
    ``lazy_init`` build too (``check_sources``: the bundled digits split), with the empty split."""
    from automl_mm.datasets import DigitsDataset

    for split in ('train', 'reward'):
        with pytest.raises(ValueError, match=r'split_sizes=\(0\.002, 0\.499, 0\.499\) of .*leaves 5 classes no '
                                             r'training image') as info:
            DigitsDataset(split=split, img_size=8, split_sizes=(0.002, 0.499, 0.499))
        assert getattr(info.value, 'config_argument', None) == 'split_sizes'
        ds = DigitsDataset(split=split, img_size=8, split_sizes=(0.002, 0.499, 0.499), lazy_init=True)
        with pytest.raises(ValueError, match='leaves 5 classes no training image'):
            ds.check_sources()
    with pytest.raises(ValueError, match='leave the test split empty'):
        DigitsDataset(split='train', split_sizes=(0.996, 0.002, 0.002), lazy_init=True).check_sources()
    DigitsDataset(split='test', img_size=8, split_sizes=(0.002, 0.499, 0.499), lazy_init=True).check_sources()
    DigitsDataset(split='train', img_size=8, lazy_init=True).check_sources()
