"""Grey images (LoadImageFromFile color_type='grayscale') under a data preprocessor that swaps colour channels are
refused at start, naming both keys (mmengine stopped at the first batch with an IndexError naming none)."""
from __future__ import annotations

import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import ImgDataPreprocessor

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

IMAGENET_OHL = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_resnet50_4x8_120e_imagenet.py')


def test_the_swap_fails_unnamed_in_mmengine():
    pre = ImgDataPreprocessor(mean=[0.0] * 3, std=[1.0] * 3, bgr_to_rgb=True)
    with pytest.raises(IndexError):
        pre(dict(inputs=[torch.zeros(1, 4, 4, dtype=torch.uint8)]))


def test_grey_images_under_bgr_to_rgb_are_refused_naming_both_keys(tmp_path):
    cfg = Config.fromfile(IMAGENET_OHL)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        cfg[key].dataset.data_root = str(tmp_path)  # no folders yet: the dataset's own error, later
    check_config(cfg)
    cfg.val_dataloader.dataset.pipeline[0]['color_type'] = 'grayscale'
    with pytest.raises(ConfigCheckError, match=r"val_dataloader\.dataset\.pipeline\.0\.color_type='grayscale' loads "
                                               r"one-channel images, but model\.data_preprocessor\.bgr_to_rgb=True"):
        check_config(cfg)
    cfg.model.data_preprocessor.bgr_to_rgb = False
    check_config(cfg)
