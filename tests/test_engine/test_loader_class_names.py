"""Every scored loader reads the training loader's class names in its order (labels are positions in them)."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

IMAGENET_OHL = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_resnet50_4x8_120e_imagenet.py')


def _folders(root, names):
    for name in names:
        (root / name).mkdir(parents=True)


def test_a_val_image_folder_with_other_class_folders_of_the_same_count_is_refused(tmp_path):
    """Training folders 10, 2, cat, empty beside val folders 2, cat, dog, empty: 4 of each, so the heads' count
    check passed, and val labelled its '2' images 0 (training's '10'): a run reported 33 % val accuracy for a model
    that classified every val image right, silently."""
    cfg = Config.fromfile(IMAGENET_OHL)
    root = tmp_path / 'imagenet'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        cfg[key].dataset.data_root = str(root)
    cfg.model.head.num_classes = 4
    _folders(root / 'train', ('10', '2', 'cat', 'empty'))
    _folders(root / 'val', ('2', 'cat', 'dog', 'empty'))
    with pytest.raises(ConfigCheckError, match=r"val_dataloader\.dataset has the class names \('2', 'cat', 'dog', "
                                               r"'empty'\) \(its class folders in .*/val\), but train_dataloader\."
                                               r"dataset has \('10', '2', 'cat', 'empty'\) .*label 0 is '2' here "
                                               r"and '10' in training"):
        check_config(cfg)
    (root / 'val' / 'dog').rename(root / 'val' / '10')
    check_config(cfg)  # the same folders: the same labels
    check_config(cfg, test_only=True)  # tools/test.py compares the test set with the checkpoint's classes instead


def test_a_val_set_named_in_another_order_is_refused():
    """Class names in another order are other labels (a COCO set's names follow its own file's order)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py'))
    check_config(cfg)
    names = [str(i) for i in range(10)]
    cfg.val_dataloader.dataset.metainfo = dict(classes=names[1:] + names[:1])
    with pytest.raises(ConfigCheckError, match=r"val_dataloader\.dataset has the class names .*label 0 is '1' here "
                                               r"and '0' in training"):
        check_config(cfg)
