"""A COCO file annotated on an EXIF-rotated image's stored pixels, read by a loader that turns the image (mmcv's
default), is refused at start naming the image and the color_type to use."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from automl_mm.engine.preflight_coco import CocoSummary
from automl_mm.engine.preflight_walk import ConfigCheckError


def _set(root, box):
    (root / 'img').mkdir(parents=True)
    stored = Image.fromarray(np.zeros((32, 64, 3), np.uint8))  # 64 wide, 32 high as stored
    exif = stored.getexif()
    exif[0x0112] = 6  # shown turned by 90 degrees: 32 wide, 64 high
    stored.save(root / 'img' / 'a.jpg', exif=exif)
    coco = dict(images=[dict(id=1, file_name='a.jpg', width=64, height=32)],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=box, area=400, iscrowd=0)],
                categories=[dict(id=1, name='a')])
    (root / 'a.json').write_text(json.dumps(coco))
    return coco


def check_exif_orientation(*args, **kwargs):
    from automl_mm.engine.preflight_orientation import check_exif_orientation as check
    return check(*args, **kwargs)


def _cfg(root, color_type=None):
    load = dict(type='LoadImageFromFile', **({} if color_type is None else dict(color_type=color_type)))
    return dict(default_scope='mmdet', train_dataloader=dict(dataset=dict(
        type='CocoDataset', data_root=str(root), ann_file='a.json', data_prefix=dict(img='img/'),
        pipeline=[load, dict(type='LoadAnnotations', with_bbox=True), dict(type='PackDetInputs')])))


def test_boxes_on_the_stored_grid_of_a_turned_image_are_refused(tmp_path):
    """The box reaches x = 60 of the stored 64x32 image; mmcv's 'color' decodes it as 32x64 and mmdet moved no box:
    it trained and was scored off its object (Resize clipped the overhang), silently."""
    coco = _set(tmp_path, [40, 4, 20, 20])
    files = {str(tmp_path / 'a.json'): CocoSummary(coco, whole=False)}
    with pytest.raises(ConfigCheckError, match=r"train_dataloader\.dataset: .*a\.jpg has an EXIF orientation .*"
                                               r"color_type='color'\) decodes it turned, 32x64 .* fit only the "
                                               r"stored 64x32 image.*color_type='color_ignore_orientation'"):
        check_exif_orientation(_cfg(tmp_path), files, test_only=False)
    check_exif_orientation(_cfg(tmp_path, 'color_ignore_orientation'), files, test_only=False)  # as stored
    with pytest.raises(ConfigCheckError, match=r"grayscale_ignore_orientation"):
        check_exif_orientation(_cfg(tmp_path, 'grayscale'), files, test_only=False)


def test_boxes_on_the_turned_grid_pass_with_the_default_and_are_refused_as_stored(tmp_path):
    coco = _set(tmp_path, [4, 40, 20, 20])  # y up to 60: only the turned 32x64 image has it
    files = {str(tmp_path / 'a.json'): CocoSummary(coco, whole=False)}
    check_exif_orientation(_cfg(tmp_path), files, test_only=False)
    with pytest.raises(ConfigCheckError, match=r"decodes it as stored, 64x32 .* fit only the turned 32x64 image.*"
                                               r"color_type='color'"):
        check_exif_orientation(_cfg(tmp_path, 'unchanged'), files, test_only=False)


def test_the_config_check_of_tools_train_refuses_it(tmp_path):
    from mmengine.config import Config

    from automl_mm.engine.preflight import check_config

    from conftest import REPO_ROOT

    coco = _set(tmp_path, [40, 4, 20, 20])
    coco['categories'] = [dict(id=i + 1, name=n) for i, n in enumerate(('rectangle', 'ellipse', 'triangle'))]
    (tmp_path / 'a.json').write_text(json.dumps(coco))
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.update(data_root=str(tmp_path), ann_file='a.json', data_prefix=dict(img='img/'))
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = str(tmp_path / 'a.json')
    for key in [k for k in ('reward_dataloader', 'reward_evaluator') if k in cfg]:
        cfg.pop(key)
    with pytest.raises(ConfigCheckError, match=r"train_dataloader\.dataset: .*fit only the stored 64x32 image"):
        check_config(cfg)
