"""The per-class subset (``samples_per_class``) and ``max_samples`` never give fewer classes or items silently."""
from __future__ import annotations

import numpy as np
import pytest
from test_fashion_mnist import write_fashion

from automl_mm.datasets import DigitsDataset, FashionMNISTDataset


def test_a_class_the_split_lacks_is_refused_not_skipped(tmp_path):
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=False)
    # a 5-image reward split holds 5 of the 10 classes: 1 per class used to give those 5 images, no word of the rest
    reward = FashionMNISTDataset(split='reward', data_root=root, reward_size=5, pipeline=[])
    assert len(set(reward.get_data_info(i)['gt_label'] for i in range(len(reward)))) == 5
    with pytest.raises(ValueError, match=r'samples_per_class=1 but class \d has only 0 images in the reward split'):
        FashionMNISTDataset(split='reward', data_root=root, reward_size=5, samples_per_class=1, pipeline=[])
    # every class present: one image of each
    ds = FashionMNISTDataset(split='reward', data_root=root, reward_size=10, samples_per_class=1, pipeline=[])
    assert np.bincount([ds.get_data_info(i)['gt_label'] for i in range(len(ds))], minlength=10).tolist() == [1] * 10


@pytest.mark.parametrize('key', ['samples_per_class', 'max_samples'])
def test_a_count_of_zero_is_refused_not_an_empty_split(tmp_path, key):
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=False)
    with pytest.raises(ValueError, match=f'FashionMNISTDataset: {key}=0 leaves the split empty'):
        FashionMNISTDataset(split='train', data_root=root, reward_size=10, pipeline=[], **{key: 0})


def test_digits_max_samples_of_zero_is_refused():
    with pytest.raises(ValueError, match='DigitsDataset: max_samples=0 leaves the split empty'):
        DigitsDataset(split='reward', img_size=8, max_samples=0)
