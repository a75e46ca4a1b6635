"""Sizes that mmcv's / mmdet's constructors accept but the first image or forward cannot use are refused by
``check_config`` (every run, before the data loads), naming the key: a transform's ``scale`` / ``scales`` /
``size`` / ``crop_size`` and an anchor generator's ``ratios`` / ``scales`` / ``strides``
(:mod:`automl_mm.engine.preflight_sizes`)."""
import re

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_sizes import check_anchor_generators, check_transform_sizes
from automl_mm.engine.preflight_walk import ConfigCheckError

FASTER_RCNN = 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py'


def _pipeline_cfg(*transforms, loader='train_dataloader'):
    return Config({'default_scope': 'mmdet', loader: dict(dataset=dict(type='CocoDataset', pipeline=[
        dict(type='LoadImageFromFile'), *transforms]))})


def _first_image(transform):
    """Run mmdet's build of ``transform`` on a 60 x 80 image (the premise: built, then fails or works here)."""
    from mmdet.registry import TRANSFORMS

    with DefaultScope.overwrite_default_scope('mmdet'):
        built = TRANSFORMS.build(dict(transform))
        return built(dict(img=np.zeros((60, 80, 3), np.uint8), img_shape=(60, 80), ori_shape=(60, 80)))


# (transform, argument refused, words of the message): each built by mmcv / mmdet and failing at the first image
REFUSED = [
    (dict(type='Resize', scale=[1, 2, 3]), 'scale=[1, 2, 3]', 'no (width, height) pair'),
    (dict(type='Resize', scale=[1, 2, 3], keep_ratio=True), 'scale=[1, 2, 3]', 'no (width, height) pair'),
    (dict(type='Resize', scale=[128, 128], keep_ratio=True), 'scale=[128, 128]', 'is a list'),
    (dict(type='Resize', scale=(128.5, 100)), 'scale=(128.5, 100)', 'no whole number'),
    (dict(type='Resize', scale=128.0), 'scale=128.0', 'is a float'),
    (dict(type='Resize', scale=0), 'scale=0', 'below 1 pixel'),
    (dict(type='Resize', scale=(0, 128), keep_ratio=True), 'scale=(0, 128)', 'no number above 0'),
    (dict(type='Resize', scale_factor=0.0), 'scale_factor=0.0', 'above 0'),
    (dict(type='RandomResize', scale=[(100, 100), (200, 200), (300, 300)]), 'scale=[', 'neither form'),
    (dict(type='RandomResize', scale=[100, 200]), 'scale=[100, 200]', 'neither form'),
    (dict(type='RandomResize', scale=[(100, ), (200, )]), 'scale=[(100,), (200,)]', 'neither form'),
    (dict(type='RandomResize', scale=(100, 200)), 'ratio_range=None', 'ratio_range=(low, high)'),
    (dict(type='RandomResize', scale=(100, 200), ratio_range=(2.0, 0.5)), 'ratio_range=(2.0, 0.5)', 'low <= high'),
    (dict(type='RandomResize', scale=(100, 200), ratio_range=(0.001, 0.002)), 'ratio_range=(0.001, 0.002)',
     'edge of 0 pixels'),
    (dict(type='RandomChoiceResize', scales=[]), 'scales=[]', 'no scale to choose'),
    (dict(type='RandomChoiceResize', scales=[100, 200]), 'scales.0=100', 'is an int'),
    (dict(type='RandomChoiceResize', scales=[(100, 100, 3)]), 'scales.0=(100, 100, 3)', 'no (width, height) pair'),
    (dict(type='Pad', size=100), 'size=100', 'no (width, height) pair'),
    (dict(type='Pad', size=(100, )), 'size=(100,)', 'no (width, height) pair'),
    (dict(type='Pad', size_divisor=0), 'size_divisor=0', 'at least 1'),
    (dict(type='Pad', size_divisor=32.5), 'size_divisor=32.5', 'at least 1'),
]


@pytest.mark.parametrize('transform, argument, words', REFUSED)
def test_a_size_the_constructor_accepts_but_the_first_image_cannot_use_is_named(transform, argument, words):
    with pytest.raises(Exception):  # noqa: B017,PT011 - the premise: OpenCV's, numpy's, mmcv's own errors
        _first_image(transform)
    at = f'val_dataloader.dataset.pipeline.1 ({transform["type"]}).'
    with pytest.raises(ConfigCheckError, match=re.escape(at + argument) + '.*' + re.escape(words)):
        check_transform_sizes(_pipeline_cfg(transform, loader='val_dataloader'), 'mmdet')


@pytest.mark.parametrize('transform', [
    dict(type='Resize', scale=128), dict(type='Resize', scale=128, keep_ratio=True),
    dict(type='Resize', scale=[128, 96]), dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='Resize', scale=0.5, keep_ratio=True),  # a scale factor under keep_ratio (mmcv's rescale_size)
    dict(type='Resize', scale_factor=2.0), dict(type='Resize', scale_factor=(2.0, 1.0)),
    dict(type='Resize', scale=(), scale_factor=0.5),  # an empty scale is falsy: mmcv reads scale_factor
    dict(type='RandomResize', scale=[(100, 100), (200, 200)], keep_ratio=True),
    dict(type='RandomResize', scale=(100, 200), ratio_range=(0.5, 2.0)),
    dict(type='RandomChoiceResize', scales=[(100, 100), (200, 150)], keep_ratio=True),
    dict(type='RandomChoiceResize', scales=(100, 200)),  # one scale, wrapped in a list by mmcv
    dict(type='Pad', size=(100, 100)), dict(type='Pad', size=[100, 100]), dict(type='Pad', size_divisor=32),
    dict(type='Pad', pad_to_square=True), dict(type='RandomCrop', crop_size=(30, 30)),
])
def test_what_mmcv_and_mmdet_use_as_documented_passes(transform):
    _first_image(transform)  # the premise: it works
    check_transform_sizes(_pipeline_cfg(transform), 'mmdet')


def test_mmdets_random_crop_is_named_for_a_crop_size_its_constructor_indexes():
    """Its constructor raised TypeError "'int' object is not subscriptable", named at the dataset only."""
    with pytest.raises(ConfigCheckError, match=r'pipeline\.1\.transforms\.0 \(RandomCrop\)\.crop_size=30 is no'):
        check_transform_sizes(_pipeline_cfg(dict(type='RandomApply', transforms=[
            dict(type='RandomCrop', crop_size=30)])), 'mmdet')


def test_a_shipped_config_stops_at_check_config_and_a_test_run_reads_only_its_split():
    cfg = Config.fromfile(FASTER_RCNN)
    cfg.merge_from_dict({'train_dataloader.dataset.pipeline.2.scale': [1, 2, 3]})
    with pytest.raises(ConfigCheckError, match=re.escape(
            'train_dataloader.dataset.pipeline.2 (Resize).scale=[1, 2, 3] is no (width, height) pair')):
        check_config(cfg)
    check_transform_sizes(cfg, 'mmdet', test_only=True)  # tools/test.py does not read the training pipeline


@pytest.mark.parametrize('change, match', [
    ({'ratios': []}, r'model\.rpn_head\.anchor_generator \(AnchorGenerator\)\.ratios=\[\] gives no anchor'),
    ({'scales': []}, r'anchor_generator \(AnchorGenerator\)\.scales=\[\] gives no anchor'),
    ({'ratios': [0.0, 1.0]}, r'\.ratios=\[0\.0, 1\.0\]: each must be a number above 0'),
    ({'strides': [4, 8, 16, 32]}, r'\.strides=\[4, 8, 16, 32\] gives 4 levels of priors, but model\.neck\.num_outs=5'),
    ({'strides': [4, 8, 16, 32, 64, 128]}, r'gives 6 levels of priors, but model\.neck\.num_outs=5'),
    ({'strides': [0, 8, 16, 32, 64]}, r'\.strides=\[0, 8, 16, 32, 64\]: each stride must be above 0'),
    ({'scales': None, 'octave_base_scale': 4, 'scales_per_octave': 0}, r'scales_per_octave=0 gives no anchor'),
])
def test_an_anchor_generator_the_first_forward_cannot_use_stops_at_check_config(change, match):
    """Built by mmdet; the RPN's first forward failed: a 0-channel convolution, grid_priors' bare assert, a division
    by zero (checked against mmdet's Faster R-CNN when written), or anchors of 0 / infinite size, silently."""
    cfg = Config.fromfile(FASTER_RCNN)
    cfg.model.rpn_head.anchor_generator.update(change)
    with pytest.raises(ConfigCheckError, match=match):
        check_config(cfg)


def test_the_neck_named_is_the_one_whose_count_changed_and_the_shipped_generators_pass():
    cfg = Config.fromfile(FASTER_RCNN)
    check_anchor_generators(cfg)
    cfg.model.neck.num_outs = 4
    with pytest.raises(ConfigCheckError, match=r'gives 5 levels of priors, but model\.neck\.num_outs=4.*set '
                                               r'model\.neck\.num_outs=5'):
        check_anchor_generators(cfg)


def test_the_premise_mmdet_builds_those_generators_and_fails_at_the_first_forward():
    """An RPN head with ``ratios=[]`` builds and fails on its first feature map; a generator of 4 strides builds and
    asserts on the 5 maps of an FPN with ``num_outs=5``."""
    import torch
    from mmdet.registry import MODELS, TASK_UTILS

    generator = dict(type='AnchorGenerator', scales=[4], ratios=[], strides=[4, 8, 16, 32, 64])
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(dict(type='RPNHead', in_channels=4, feat_channels=4, anchor_generator=generator))
        with pytest.raises(RuntimeError, match='expected weight to be at least 1'):
            head([torch.zeros(1, 4, 8, 8)])
        four = TASK_UTILS.build(dict(generator, ratios=[1.0], strides=[4, 8, 16, 32]))
        with pytest.raises(AssertionError):
            four.grid_priors([(8, 8)] * 5)
