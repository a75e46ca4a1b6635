"""The concrete claims of public docstrings of data transforms, the augment ops and the choice transforms (``Raises``,
shapes, defaults, formulas), checked by running the code. Each case is one sentence of a docstring: a change that
breaks it goes red here.
"""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.registry import (
    AUGMENT_OPS,
    SEARCH_SPACES,
    TRANSFORMS,
)


# --- transforms ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('pad_val', [-1, 256, 2.5, None, 'x', True])
def test_random_crop_pad_val_is_a_grey_level(pad_val):
    # was accepted: -1 / 256 saturated silently, None / 'x' failed in cv2 at the first image
    with pytest.raises(ValueError, match='pad_val'):
        TRANSFORMS.build(dict(type='RandomCrop', crop_size=4, padding=1, pad_val=pad_val))


def test_random_crop_pads_with_pad_val_and_sets_img_shape():
    crop = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(4, 5), padding=2, pad_val=7))
    out = crop.transform(dict(img=np.full((1, 1, 3), 200, np.uint8)))
    assert out['img'].shape == (4, 5, 3) and out['img_shape'] == (4, 5)
    assert set(np.unique(out['img']).tolist()) <= {7, 200}


def test_random_resized_crop_fallback_is_torchvisions_central_crop():
    crop = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=3, crop_ratio_range=(1.0, 1.0),
                                 aspect_ratio_range=(4.0, 4.0), max_attempts=1))
    img = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
    # no 4:1 crop of the whole area fits: the full width, height round(6 / 4) = 2, centred (torchvision's)
    assert crop._crop_box(4, 6) == (1, 0, 2, 6)
    # a ratio range far above the image's: at least one row
    wide = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=3, aspect_ratio_range=(50.0, 60.0)))
    assert wide._crop_box(4, 6) == (1, 0, 1, 6)
    assert crop.transform(dict(img=img))['img_shape'] == (3, 3)


def test_resize_short_edge_floors_the_long_side():
    out = TRANSFORMS.build(dict(type='ResizeShortEdge', size=4)).transform(dict(img=np.zeros((6, 10), np.uint8)))
    assert out['img'].shape == (4, 6) and out['img_shape'] == (4, 6)  # 10 * 4 / 6 = 6.67 -> 6


@pytest.mark.parametrize('img', [np.zeros((2, 2), np.float32), np.zeros((2, 2, 2, 1), np.uint8)])
def test_augment_ops_refuse_images_as_documented(img):
    with pytest.raises(ValueError, match='uint8'):
        AUGMENT_OPS.build(dict(type='Invert')).apply(dict(img=img), np.random.default_rng(0))
    with pytest.raises(ValueError, match='1- or 3-channel'):
        AUGMENT_OPS.build(dict(type='Contrast', magnitude=1.3)).apply(dict(img=np.zeros((2, 2, 4), np.uint8)),
                                                                     np.random.default_rng(0))


@pytest.mark.parametrize('cfg, text', [
    (dict(type='OHLRandomChoice', transforms=[[]]), 'at least 2'),
    (dict(type='OHLRandomChoice', transforms=[[], []], probs=[1.5, -0.5]), 'probs'),
    (dict(type='OHLAutoAugment', elements='nope'), 'nope'),
    (dict(type='OHLAutoAugment', probs=[1.0]), 'probs'),
    (dict(type='OHLAutoAugment', fill=300), 'fill'),
    (dict(type='OHLAutoAugment', bgr='rgb'), 'bgr'),
    (dict(type='TorchvisionAugment', policy='randaugment'), 'policy'),
    (dict(type='TorchvisionAugment', policy='RandAugment', bgr='no'), 'bgr'),
])
def test_choice_transforms_raise_as_documented(cfg, text):
    with pytest.raises(ValueError, match=text):
        TRANSFORMS.build(cfg)


def test_random_choice_transforms_must_be_a_list():
    # a bare config was iterated by its keys: "transform must be a callable object or dict, but got <class 'str'>"
    with pytest.raises(ValueError, match='transforms must be a list'):
        TRANSFORMS.build(dict(type='OHLRandomChoice', transforms=dict(type='RandomCrop', crop_size=4)))


# --- behaviour stated in docstrings ------------------------------------------------------------------------------
def test_auto_augment_pair_index_is_first_then_second():
    # "pair i applies element i // E then element i % E": pair 5 of 3 elements is Solarize(100) then Brightness(1.3)
    transform = TRANSFORMS.build(dict(type='OHLAutoAugment', elements=[('Invert', None), ('Solarize', 100),
                                                                       ('Brightness', 1.3)],
                                      probs=[0.0] * 5 + [1.0] + [0.0] * 3))
    out = transform(dict(img=np.array([[50, 150]], np.uint8)))
    assert out['ohl_choice']['autoaug'] == 5
    assert out['img'].tolist() == [[65, 136]]  # 150 -> 255 - 150 = 105 -> int(1.3 * 105) = 136


@pytest.mark.parametrize('kwargs, error, text', [
    (dict(policy_size=0), ValueError, 'policy_size'),
    (dict(distribution=dict(type='DiagGaussian', mean=[0.0], std=1.0)), ValueError, 'categorical'),
    (dict(distribution=5), TypeError, 'distribution'),
])
def test_pipeline_choice_space_raises_as_documented(kwargs, error, text):
    with pytest.raises(error, match=text):
        SEARCH_SPACES.build(dict(type='PipelineChoiceSpace', **kwargs))
