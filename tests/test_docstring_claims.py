"""The concrete claims of public docstrings (``Raises``, shapes, defaults, formulas), checked by running the code.

Each case is one sentence of a docstring: a change that breaks it goes red here.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_mm.datasets.splits import check_counts
from automl_mm.registry import DATASETS, METRICS, MODELS, TRANSFORMS

# --- "Raises: ValueError ... not an int >= 1" of the widths of backbones and heads ------------------------------
# Each of these was accepted (0: failed at the first forward; True: a 1-wide layer) or failed inside torch naming
# no key (2.5, 'x').
WIDTH_CASES = [
    ('SimpleConvNet', {}, 'in_channels'),
    ('WideResNet', dict(depth=10, widen_factor=1), 'in_channels'),
    ('CRResNet', dict(depth=18), 'in_channels'),
    ('CRResNet', dict(depth=18), 'base_channels'),
    ('CRResNet', dict(depth=18), 'stem_channels'),
    ('LinearClsHead', dict(num_classes=3, in_channels=4), 'in_channels'),
    ('CosineLinearClsHead', dict(num_classes=3, in_channels=4), 'in_channels'),
    ('LinearClsHead', dict(num_classes=3, in_channels=4), 'num_classes'),
]


@pytest.mark.parametrize('value', [0, True, 2.5, 'x'])
@pytest.mark.parametrize('type_, base, key', WIDTH_CASES)
def test_widths_are_refused_naming_the_key(type_, base, key, value):
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type=type_, **{**base, key: value}))


@pytest.mark.parametrize('type_, key, value', [
    ('WideResNet', 'depth', 28.0), ('WideResNet', 'depth', '28'),
    ('CRResNet', 'num_stages', 2.5), ('CRResNet', 'num_stages', True),
    ('CRMobileNetV2', 'widen_factor', -1), ('CRMobileNetV2', 'widen_factor', 0),
    ('CRMobileNetV2', 'widen_factor', float('nan')),
    ('LinearClsHead', 'dropout', 'x'),
])
def test_structure_arguments_are_refused_naming_the_key(type_, key, value):
    base = dict(WideResNet=dict(depth=10, widen_factor=1), CRResNet=dict(depth=18), CRMobileNetV2={},
                LinearClsHead=dict(num_classes=3, in_channels=4))[type_]
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type=type_, **{**base, key: value}))


def test_documented_backbone_output_shapes():
    # SimpleConvNet: (N, channels[-1], H // 2**S, W // 2**S); WideResNet: (N, 64k, ceil(H / 4), ceil(W / 4))
    x = torch.zeros(1, 3, 15, 17)
    assert MODELS.build(dict(type='SimpleConvNet', channels=(8, 16, 4)))(x)[0].shape == (1, 4, 1, 2)
    assert MODELS.build(dict(type='WideResNet', depth=10, widen_factor=2))(x)[0].shape == (1, 128, 4, 5)


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


def test_random_resized_crop_fallback_is_the_central_square():
    crop = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=3, crop_ratio_range=(1.0, 1.0),
                                 aspect_ratio_range=(4.0, 4.0), max_attempts=1))
    img = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6)
    assert crop._crop_box(4, 6) == (0, 1, 4, 4)  # no 4:1 crop of the whole area fits: central 4 x 4
    assert crop.transform(dict(img=img))['img_shape'] == (3, 3)


def test_resize_short_edge_rounds_the_long_side():
    out = TRANSFORMS.build(dict(type='ResizeShortEdge', size=4)).transform(dict(img=np.zeros((6, 9), np.uint8)))
    assert out['img'].shape == (4, 6) and out['img_shape'] == (4, 6)


# --- losses, metrics, dataset counts: "Raises ValueError naming the key" -----------------------------------------
@pytest.mark.parametrize('key, value', [
    ('num_intervals', 'x'), ('num_intervals', float('nan')), ('num_intervals', 0), ('num_intervals', 2.5),
    ('parametrisation', 'linear'), ('theta', [0.0] * 5), ('theta', [float('nan')] * 14),
    ('scale', 0.0), ('scale', float('inf')), ('eps', 0.0), ('eps', 1.0), ('loss_weight', -1.0),
])
def test_am_lfs_loss_raises_as_documented(key, value):
    # num_intervals 'x' / NaN: int() raised "invalid literal" / "cannot convert float NaN", naming no key
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type='AMLFSLoss', **{key: value}))


@pytest.mark.parametrize('topk', [2.5, None, 'x', (), (1, 0), (True, )])
def test_accuracy_topk_raises_as_documented(topk):
    # 2.5 and None failed in tuple(), naming no key
    with pytest.raises(ValueError, match='topk'):
        METRICS.build(dict(type='Accuracy', topk=topk))


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -1, 2.5, True, 'x'])
def test_dataset_counts_raise_naming_the_key(value):
    # NaN / inf: int() raised its own error ("cannot convert float NaN to integer"), naming no key
    with pytest.raises(ValueError, match='reward_size'):
        check_counts(reward_size=value)
    with pytest.raises(ValueError, match='reward_size'):
        DATASETS.build(dict(type='FashionMNISTDataset', reward_size=value))
