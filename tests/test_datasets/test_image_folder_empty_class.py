"""ImageFolderDataset refuses a class folder without images, as torchvision's ImageFolder does (allow_empty=False)."""
import os

import cv2
import numpy as np
import pytest

from automl_mm.datasets import ImageFolderDataset


def _tree(root):
    for cls in ('ant', 'bee'):
        os.makedirs(root / 'train' / cls)
        cv2.imwrite(str(root / 'train' / cls / f'{cls}.png'), np.zeros((4, 4, 3), np.uint8))
    os.makedirs(root / 'train' / '__MACOSX')  # unzipped from a Mac: only AppleDouble files, hidden
    (root / 'train' / '__MACOSX' / '._ant.png').write_bytes(b'\x00\x05\x16\x07')
    os.makedirs(root / 'train' / 'cat')
    (root / 'train' / 'cat' / 'cat.gif').write_bytes(b'GIF89a')  # not an image extension torchvision reads


def test_a_class_folder_without_images_is_refused_as_by_torchvision(tmp_path):
    """Folders ``__MACOSX, ant, bee, cat`` with images in ``ant`` and ``bee`` only: 4 labels, 2 of them without an
    image (and ``ant``, ``bee`` moved from 0, 1 to 1, 2), built without a word; torchvision raises."""
    _tree(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'no image in the class folders __MACOSX, cat \(2 of 4;.*\.png.*'
                                                r'allow_empty=True'):
        ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))


def test_allow_empty_keeps_the_labels_as_torchvision(tmp_path):
    _tree(tmp_path)
    dataset = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), allow_empty=True)
    assert dataset.metainfo['classes'] == ('__MACOSX', 'ant', 'bee', 'cat')
    assert [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))] == [1, 2]
    with pytest.raises(ValueError, match='allow_empty must be True or False'):
        ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), allow_empty='False')
