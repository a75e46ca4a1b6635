"""A CIFAR-10 ``reward_size`` its training set cannot hold is refused when the dataset is built, ``lazy_init`` too
(it failed first when the runner loaded the data), naming ``reward_size``, the number asked and the number there."""
from __future__ import annotations

import pytest

from automl_mm.datasets import CIFAR10Dataset

from conftest import write_cifar


@pytest.mark.parametrize('split', ['train', 'reward'])
@pytest.mark.parametrize('reward_size', [50000, 60000])
def test_a_reward_size_of_the_whole_training_set_is_refused_at_a_lazy_build(tmp_path, split, reward_size):
    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))
    with pytest.raises(ValueError, match=rf'reward_size={reward_size}.*50,000 training images') as info:
        CIFAR10Dataset(root, split=split, reward_size=reward_size, lazy_init=True)
    assert getattr(info.value, 'config_argument', None) == 'reward_size'
    CIFAR10Dataset(root, split='test', reward_size=reward_size, lazy_init=True)  # the test split reads none


def test_a_reward_size_over_a_smaller_set_is_named_at_loading(tmp_path):
    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))  # 100 training images
    with pytest.raises(ValueError, match=r'reward_size=100 .*100 training images') as info:
        CIFAR10Dataset(root, split='train', reward_size=100)
    assert getattr(info.value, 'config_argument', None) == 'reward_size'
