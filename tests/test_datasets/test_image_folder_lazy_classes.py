"""An ``ImageFolderDataset`` built with ``lazy_init=True`` (mmengine's advice before a dataloader; the config
check's build) had no ``metainfo['classes']`` until ``full_init``: ``NoisyLabelDataset`` refused it ("num_classes is
needed: ImageFolderDataset has no metainfo["classes"]") and mmengine's ``ConcatDataset`` refused it beside the same
folder built without ``lazy_init``. Its class folders are listed when it is built (names only, not the images)."""
from __future__ import annotations

import os

import cv2
import numpy as np
from mmengine.dataset import ConcatDataset

from automl_mm.datasets import ImageFolderDataset, NoisyLabelDataset


def _folders(root) -> str:
    for cls in ('ant', 'bee', 'cat'):
        os.makedirs(root / cls)
        for i in range(4):
            cv2.imwrite(str(root / cls / f'{i}.png'), np.zeros((4, 4, 3), np.uint8))
    return str(root)


def test_a_lazily_built_image_folder_names_its_classes(tmp_path):
    root = _folders(tmp_path / 'train')
    lazy = ImageFolderDataset(data_root=root, lazy_init=True)
    assert not lazy._fully_initialized
    assert lazy.metainfo['classes'] == ('ant', 'bee', 'cat')  # was no 'classes' key
    lazy.full_init()
    assert len(lazy) == 12 and lazy.metainfo['classes'] == ('ant', 'bee', 'cat')


def test_label_noise_and_concatenation_take_a_lazily_built_image_folder(tmp_path):
    root = _folders(tmp_path / 'train')
    noisy = NoisyLabelDataset(dataset=dict(type='automl_mm.ImageFolderDataset', data_root=root, lazy_init=True),
                              noise_ratio=0.5)
    assert noisy.num_classes == 3 and len(noisy) == 12 and len(noisy.noisy_indices) == 6
    concat = ConcatDataset([ImageFolderDataset(data_root=root), ImageFolderDataset(data_root=root, lazy_init=True)])
    assert len(concat) == 24 and concat.metainfo['classes'] == ('ant', 'bee', 'cat')
