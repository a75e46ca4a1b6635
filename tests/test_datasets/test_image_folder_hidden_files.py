"""ImageFolderDataset skips hidden files and folders inside class folders (macOS AppleDouble, notebook caches)."""
import os

import cv2
import numpy as np
import pytest

from automl_mm.datasets import ImageFolderDataset


def test_hidden_files_and_folders_in_a_class_folder_are_not_images(tmp_path):
    folder = tmp_path / 'train' / 'cat'
    os.makedirs(folder / 'sub')
    os.makedirs(folder / '.ipynb_checkpoints')
    cv2.imwrite(str(folder / 'a.JPG'), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(folder / 'sub' / 'b.png'), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(folder / '.ipynb_checkpoints' / 'a.JPG'), np.zeros((4, 4, 3), np.uint8))  # a copy
    (folder / '._a.JPG').write_bytes(b'\x00\x05\x16\x07 AppleDouble')  # what a Mac leaves beside a.JPG
    (folder / '.DS_Store').write_bytes(b'\x00')
    dataset = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))
    paths = [os.path.relpath(dataset.get_data_info(i)['img_path'], folder) for i in range(len(dataset))]
    assert paths == ['a.JPG', os.path.join('sub', 'b.png')]
    for i in range(len(dataset)):  # every listed file decodes (the AppleDouble file stopped the run mid-epoch)
        assert cv2.imread(dataset.get_data_info(i)['img_path']) is not None


def test_a_sub_folder_that_cannot_be_listed_is_named_not_skipped(tmp_path, monkeypatch):
    """os.walk skips a folder it cannot list (no read permission, a stale network mount): cat/more's image was left
    out of the class without a word, 1 cat image where there are 2."""
    for path in ('train/cat/a.png', 'train/cat/more/b.png', 'train/dog/c.png'):
        os.makedirs((tmp_path / path).parent, exist_ok=True)
        cv2.imwrite(str(tmp_path / path), np.zeros((2, 2, 3), np.uint8))
    locked, scandir = str(tmp_path / 'train' / 'cat' / 'more'), os.scandir

    def refusing(path='.'):  # chmod 000 does not stop root, who runs these tests in containers
        if os.fspath(path) == locked:
            raise PermissionError(13, 'Permission denied', locked)
        return scandir(path)

    monkeypatch.setattr(os, 'scandir', refusing)
    with pytest.raises(PermissionError, match=r'cannot list the image folder .*/train/cat/more \(Permission denied\)'):
        ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))
