"""ImageFolderDataset's reward split keeps its images when files are added to or removed from the folders."""
import os

import cv2
import numpy as np

from automl_mm.datasets import ImageFolderDataset


def _parts(root):
    parts = {}
    for split in ('train', 'reward'):
        dataset = ImageFolderDataset(str(root), data_prefix=dict(img_path='train'), split=split, reward_ratio=0.1,
                                     seed=3)
        parts[split] = {dataset.get_data_info(i)['img_path'] for i in range(len(dataset))}
    return parts


def _write(path):
    cv2.imwrite(str(path), np.zeros((2, 2, 3), np.uint8))


def test_adding_or_removing_an_image_moves_at_most_the_images_at_the_cuts(tmp_path):
    """A seeded permutation of each class's count re-dealt the split when one image was added: a run resumed
    after it trained on nearly every image it had been rewarded on (and was rewarded on images it had trained on)."""
    for c in range(4):
        os.makedirs(tmp_path / 'train' / f'c{c}')
        for i in range(50):
            _write(tmp_path / 'train' / f'c{c}' / f'{i:03d}.png')
    before = _parts(tmp_path)
    assert len(before['reward']) == 20 and not before['train'] & before['reward']
    _write(tmp_path / 'train' / 'c0' / '0.png')  # sorts first
    added = _parts(tmp_path)
    os.remove(tmp_path / 'train' / 'c1' / '007.png')
    os.remove(tmp_path / 'train' / 'c1' / '011.png')
    removed = _parts(tmp_path)
    for after in (added, removed):
        assert not after['train'] & after['reward']
        assert len(before['reward'] & after['train']) <= 2  # the cuts of c0 (and one other class) moved
        assert len(before['train'] & after['reward']) <= 2
    assert _parts(tmp_path) == removed  # the same files split alike
