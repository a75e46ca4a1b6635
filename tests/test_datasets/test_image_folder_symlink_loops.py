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


def test_a_symlink_loop_of_two_folders_outside_the_class_adds_no_images(tmp_path):
    """cat/x -> /p/x1, whose y -> /p/x2, whose z -> /p/x1 again: only the link back to the folder just walked or to
    the class folder was checked, so the walk went cat/x/y/z/y/z/... and listed x1's image 20 times labelled cat
    (and x2's 20 times) until the path grew too long to resolve. Each of the two linked folders counts once."""
    os.makedirs(tmp_path / 'train' / 'cat')
    cv2.imwrite(str(tmp_path / 'train' / 'cat' / 'a.png'), np.zeros((2, 2, 3), np.uint8))
    x1, x2 = tmp_path / 'x1', tmp_path / 'x2'
    x1.mkdir()
    x2.mkdir()
    cv2.imwrite(str(x1 / 'b.png'), np.zeros((2, 2, 3), np.uint8))
    cv2.imwrite(str(x2 / 'c.png'), np.zeros((2, 2, 3), np.uint8))
    (tmp_path / 'train' / 'cat' / 'x').symlink_to(x1, target_is_directory=True)
    (x1 / 'y').symlink_to(x2, target_is_directory=True)
    (x2 / 'z').symlink_to(x1, target_is_directory=True)
    dataset = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))
    assert sorted(os.path.relpath(dataset.get_data_info(i)['img_path'], tmp_path / 'train')
                  for i in range(len(dataset))) == ['cat/a.png', 'cat/x/b.png', 'cat/x/y/c.png']


def _two_classes(root, per_class: int = 20):
    for cls in ('cat', 'dog'):
        os.makedirs(root / 'train' / cls / 'sub')
        for i in range(per_class):
            (root / 'train' / cls / 'sub' / f'{i:02d}.png').touch()  # never read


def test_an_image_reached_through_two_linked_paths_is_one_item_and_the_splits_stay_apart(tmp_path):
    """``cat/more -> sub`` beside ``cat/sub`` listed each cat image twice, as two items: the seeded split by path
    dealt the two copies apart, so with ``reward_ratio=0.2`` and seed 0 8 of the 12 reward images (of 60 items)
    were also training items. Each image is now one item, under its first path."""
    _two_classes(tmp_path)
    (tmp_path / 'train' / 'cat' / 'more').symlink_to('sub', target_is_directory=True)

    def real_images(split):
        dataset = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), split=split,
                                     reward_ratio=0.2, seed=0)
        return [os.path.realpath(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]

    every = real_images('all')
    assert len(every) == 40 and len(set(every)) == 40
    train, reward = real_images('train'), real_images('reward')
    assert (len(train), len(reward)) == (32, 8) and not set(train) & set(reward)
    assert sorted(train + reward) == sorted(every)


def test_a_class_folder_linking_into_another_class_is_refused(tmp_path):
    """``cat/dogs -> ../dog`` labelled each dog image both cat and dog: two items of contradictory classes."""
    import pytest

    _two_classes(tmp_path, per_class=2)
    (tmp_path / 'train' / 'cat' / 'dogs').symlink_to('../dog', target_is_directory=True)
    with pytest.raises(ValueError, match=r'train: the image .*dog/sub/00\.png is in two classes, cat \(as .*cat/dogs/'
                                         r'sub/00\.png\) and dog \(as .*dog/sub/00\.png\), through a linked folder'):
        ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))
