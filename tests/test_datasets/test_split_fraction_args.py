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
