"""An item of a held-out split (``'reward'``, ``'test'``) whose pipeline gives ``None`` was replaced by mmengine's
``BaseDataset.__getitem__`` (outside ``test_mode``) with a random other item: the reward / test score read another
image at that position. It is refused, naming the item."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from automl_mm.datasets import DigitsDataset, ImageFolderDataset


def _drop(source_idx: int):
    return lambda data: None if data['source_idx'] == source_idx else data


def test_a_reward_item_the_pipeline_drops_is_refused_not_replaced():
    plain = DigitsDataset(split='reward', img_size=8, max_samples=10)
    dropped = plain.get_data_info(3)['source_idx']
    ds = DigitsDataset(split='reward', img_size=8, max_samples=10, pipeline=[_drop(dropped)])
    assert [ds[i]['source_idx'] for i in (0, 1, 2, 4)] == [plain.get_data_info(i)['source_idx'] for i in (0, 1, 2, 4)]
    with pytest.raises(ValueError, match=rf'^DigitsDataset \(split=.reward.\): the pipeline gave None for item 3 '
                                         rf'\(source_idx={dropped}\); .* random other item'):
        ds[3]  # was another item of the split
    train = DigitsDataset(split='train', img_size=8, max_samples=10)
    dropped = train.get_data_info(3)['source_idx']
    train = DigitsDataset(split='train', img_size=8, max_samples=10, pipeline=[_drop(dropped)])
    assert train[3]['source_idx'] != dropped  # training keeps mmengine's refetch (a random augmentation may drop)


def test_an_image_folder_reward_item_the_pipeline_drops_is_refused(tmp_path):
    for cls in ('a', 'b'):
        os.makedirs(tmp_path / cls)
        for i in range(5):
            cv2.imwrite(str(tmp_path / cls / f'{i}.png'), np.zeros((4, 4, 3), np.uint8))
    ds = ImageFolderDataset(data_root=str(tmp_path), split='reward', reward_ratio=0.4,
                            pipeline=[lambda data: None if data['img_path'].endswith('.png') else data])
    with pytest.raises(ValueError, match=r"^ImageFolderDataset \(split='reward'\): .* item 0 \(img_path='.*\.png'\)"):
        ds[0]
