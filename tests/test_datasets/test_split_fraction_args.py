"""Split fractions (DigitsDataset.split_sizes, ImageFolderDataset.reward_ratio) are checked when the dataset is
built, lazily or not, and the error names the key."""
from __future__ import annotations

import pytest

from automl_mm.datasets import DigitsDataset, ImageFolderDataset


@pytest.mark.parametrize('sizes', [(0.5, 0.5, 0), (0.6, 0.2, 0.3), 'abc', None, (0.6, 0.2, '0.2'), (0.5, 0.5)])
def test_digits_split_sizes_are_refused_at_build_naming_the_key(sizes):
    # with lazy_init (how a config check builds) (0.5, 0.5, 0) passed and failed later without the key; 'abc'
    # failed in numpy, None in len(); a string fraction was converted silently
    with pytest.raises(ValueError, match=r'DigitsDataset\.split_sizes .*must be 3 positive fractions summing to 1'):
        DigitsDataset(split_sizes=sizes, lazy_init=True)


def test_digits_split_sizes_as_a_list_still_build():
    assert len(DigitsDataset(split='test', img_size=8, split_sizes=[0.6, 0.2, 0.2])) == 357


@pytest.mark.parametrize('ratio', ['0.1', True, None])
def test_image_folder_reward_ratio_must_be_a_number(tmp_path, ratio):
    with pytest.raises(ValueError, match=f'ImageFolderDataset.reward_ratio must be a number in \\(0, 1\\), got '
                                         f'{ratio!r}'):
        ImageFolderDataset(data_root=str(tmp_path), split='train', reward_ratio=ratio)


@pytest.mark.parametrize('dataset', ['FashionMNISTDataset', 'CIFAR10Dataset'])
@pytest.mark.parametrize('split', ['train', 'reward'])
def test_a_reward_size_of_none_is_refused_at_build_naming_the_key(tmp_path, dataset, split):
    """reward_size=None passed check_counts (None is 'keep all' for max_samples) and failed at loading in a comparison
    or int() that named nothing: "'>=' not supported between instances of 'NoneType' and 'int'"."""
    from automl_mm.datasets import CIFAR10Dataset, FashionMNISTDataset

    cls = {'FashionMNISTDataset': FashionMNISTDataset, 'CIFAR10Dataset': CIFAR10Dataset}[dataset]
    with pytest.raises(ValueError, match=rf'^{dataset}\.reward_size must be a non-negative integer \(0: no reward '
                                         r'split\), got None'):
        cls(data_root=str(tmp_path), split=split, reward_size=None, lazy_init=True)


def test_a_fashion_mnist_reward_split_of_reward_size_0_is_refused_at_build(tmp_path):
    """With lazy_init (how the start-up check builds a dataset) split='reward', reward_size=0 was built, passed the
    check of its files and failed only when the runner loaded it (CIFAR10Dataset refused it when built)."""
    from automl_mm.datasets import FashionMNISTDataset

    with pytest.raises(ValueError, match=r'^FashionMNISTDataset: split="reward" needs reward_size > 0'):
        FashionMNISTDataset(data_root=str(tmp_path), split='reward', reward_size=0, lazy_init=True)
    assert FashionMNISTDataset(data_root=str(tmp_path), split='train', reward_size=0, lazy_init=True).reward_size == 0
