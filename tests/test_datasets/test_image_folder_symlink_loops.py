"""ImageFolderDataset follows symlinked folders, but not one that leads back to a folder it is in or above it."""
import collections
import os

import cv2
import numpy as np

from automl_mm.datasets import ImageFolderDataset


def test_a_symlink_back_up_the_tree_adds_no_images(tmp_path):
    """cat/up -> .. made 'cat' 81 images out of 2: its own image 41 times and dog's 40 times labelled cat."""
    for cls, name in (('cat', 'a.png'), ('dog', 'b.png')):
        os.makedirs(tmp_path / 'train' / cls)
        cv2.imwrite(str(tmp_path / 'train' / cls / name), np.zeros((2, 2, 3), np.uint8))
    elsewhere = tmp_path / 'more_cats'
    elsewhere.mkdir()
    cv2.imwrite(str(elsewhere / 'c.png'), np.zeros((2, 2, 3), np.uint8))
    (tmp_path / 'train' / 'cat' / 'up').symlink_to('..', target_is_directory=True)
    (tmp_path / 'train' / 'cat' / 'self').symlink_to('.', target_is_directory=True)
    (tmp_path / 'train' / 'cat' / 'more').symlink_to(elsewhere, target_is_directory=True)  # followed
    (elsewhere / 'back').symlink_to(elsewhere, target_is_directory=True)  # a loop inside the linked folder
    dataset = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert collections.Counter(info['gt_label'] for info in infos) == {0: 2, 1: 1}
    assert sorted(os.path.relpath(info['img_path'], tmp_path / 'train') for info in infos) == \
        ['cat/a.png', 'cat/more/c.png', 'dog/b.png']
