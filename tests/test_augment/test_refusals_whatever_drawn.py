"""A sample that some element of the policy cannot transform is refused at the first sample, whatever pair is drawn.

A 4-channel image (or ``img2``) was refused only when Contrast or ColorAdjust was drawn, an image of zero height or
width crashed AutoContrast (a floating-point exception that killed the dataloader worker) and failed the geometric
elements, Sharpness and Invert only when drawn, and an image of more channels than cv2 takes (128) failed every
element but Identity: a run failed mid-training, at the first sample whose pair held such an element. The policy
now asks every element of its set (``BaseAugmentOp.image_refusal``) on every sample, and names the key and the
elements; what every element of the set transforms is not refused (an ``img2`` of another size than ``img`` under
photometric elements only, which transform each image by itself).
"""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.augment import FixedAutoAugment
from automl_mm.augment.elements import build_elements


def _only_pair(elements, first, second):
    """A policy over ``elements`` that draws the pair (``first``, ``second``) (element indices) with the test's
    generators, every other pair drawable (probability 1e-12 each: an element no pair of positive probability
    holds is never drawn, and is not asked)."""
    num = len(elements)
    probs = np.full(num * num, 1e-12)
    probs[first * num + second] = 1
    return FixedAutoAugment(elements=elements, key='aa', probs=probs.tolist())


def _img(shape):
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize('key', ['img', 'img2'])
def test_four_channels_are_refused_when_neither_luminance_element_is_drawn(key):
    policy = _only_pair([('Invert', None), ('Contrast', 1.3), ('ColorAdjust', 0.3)], 0, 0)
    results = dict(img=_img((8, 8, 3)), img2=_img((8, 8, 3)))
    results[key] = _img((8, 8, 4))
    with pytest.raises(ValueError, match=rf"FixedAutoAugment\(key='aa'\): results\['{key}'\] \(shape \(8, 8, 4\)\) "
                                         r'.*Contrast\(1.3\), ColorAdjust\(0.3\).*1 or 3 channels'):
        policy.transform_with(results, np.random.default_rng(0))


@pytest.mark.parametrize('shape', [(8, 8, 4), (8, 8, 2), (8, 8), (8, 8, 1), (1, 1, 3)])
def test_what_every_element_of_the_set_transforms_is_not_refused(shape):
    policy = _only_pair([('Invert', None), ('Rotate', 10), ('Posterize', 4)], 0, 1)
    out = policy.transform_with(dict(img=_img(shape), img2=_img(shape)), np.random.default_rng(0))
    assert out['img'].shape == shape and out['img2'].shape == shape


@pytest.mark.parametrize('shape', [(0, 8, 3), (8, 0)])
def test_an_empty_image_is_refused_before_an_element_that_cannot_take_it_is_drawn(shape):
    policy = _only_pair([('Posterize', 4), ('AutoContrast', None), ('Rotate', 10)], 0, 0)
    with pytest.raises(ValueError, match=r"results\['img'\] \(shape \(\d, \d(, 3)?\)\).*AutoContrast, Rotate\(10\)"
                                         r".*zero height or width"):
        policy.transform_with(dict(img=_img(shape)), np.random.default_rng(0))
    out = _only_pair([('Posterize', 4), ('Identity', None)], 0, 1).transform_with(
        dict(img=_img(shape)), np.random.default_rng(0))
    assert out['img'].shape == shape


def test_more_channels_than_cv2_takes_are_refused_unless_only_identity_could_be_drawn():
    policy = _only_pair([('Identity', None), ('Invert', None)], 0, 0)
    with pytest.raises(ValueError, match=r"results\['img'\] \(shape \(4, 4, 129\)\).*Invert.*at most 128") as err:
        policy.transform_with(dict(img=_img((4, 4, 129))), np.random.default_rng(0))
    assert 'Identity' not in str(err.value)  # it calls no cv2 function


def test_an_img2_of_another_size_is_refused_only_beside_a_geometric_element():
    results = dict(img=_img((8, 8, 3)), img2=_img((6, 8, 3)))
    photometric = _only_pair([('Invert', None), ('Posterize', 4)], 0, 1)
    out = photometric.transform_with(dict(results), np.random.default_rng(0))
    np.testing.assert_array_equal(out['img2'], (255 - results['img2']) & 0xF0)  # each image by itself
    mixed = _only_pair([('Invert', None), ('Rotate', 10), ('VerticalShear', 0.1)], 0, 0)
    with pytest.raises(ValueError, match=r"results\['img2'\] \(shape \(6, 8, 3\)\).*Rotate\(10\), "
                                         r'VerticalShear\(0.1\).*6 x 8 but the image is 8 x 8') as err:
        mixed.transform_with(dict(results), np.random.default_rng(0))
    assert 'Invert' not in str(err.value)


@pytest.mark.parametrize('shape', [(5, 7), (5, 7, 1), (5, 7, 2), (5, 7, 4), (0, 7, 3), (5, 0), (1, 1), (2, 3, 128),
                                   (2, 3, 129)])
def test_an_image_no_element_refuses_is_transformed_by_every_element(shape):
    """``image_refusal`` of every built-in element against the element itself: an image it does not refuse, it
    transforms (as ``img`` and as ``img2``) into one of the same shape and dtype."""
    for op in build_elements('ohl+randaugment') + build_elements([('Identity', None)]):
        if op.image_refusal(shape) is not None:
            continue
        out = op.apply(dict(img=_img(shape), img2=_img(shape)), np.random.default_rng(0))
        assert out['img'].shape == shape and out['img'].dtype == np.uint8, op.name
        assert out['img2'].shape == shape, op.name


def test_an_element_no_pair_of_positive_probability_holds_is_not_asked():
    """A replayed policy (``FixedAutoAugment``) whose ``probs`` give every pair holding Contrast 0 never applies it:
    a 4-channel image it transformed before is not refused for Contrast (the elements that can be drawn are
    asked)."""
    elements = [('Invert', None), ('Posterize', 4), ('Contrast', 1.3)]
    probs = np.zeros((3, 3))
    probs[:2, :2] = 0.25
    policy = FixedAutoAugment(elements=elements, key='aa', probs=probs.ravel().tolist())
    out = policy.transform_with(dict(img=_img((8, 8, 4))), np.random.default_rng(0))
    assert out['img'].shape == (8, 8, 4)
    for pair in ((2, 0), (0, 2)):  # Contrast drawable as the first element, or as the second only
        drawable = probs.copy()
        drawable[pair] = 0.25
        policy = FixedAutoAugment(elements=elements, key='aa', probs=drawable.ravel().tolist())
        with pytest.raises(ValueError, match=r'Contrast\(1.3\): it takes images of 1 or 3 channels'):
            policy.transform_with(dict(img=_img((8, 8, 4))), np.random.default_rng(0))


def test_the_channel_limit_is_the_installed_opencv_s():
    """The limit was written as OpenCV 5's 128; OpenCV 4's bindings take 512 (``CV_CN_MAX``), so images of 129-512
    channels that worked there would have been refused. It is probed: cv2 takes an image of that many channels and
    not one more."""
    import cv2

    from automl_mm.augment.op_base import BaseAugmentOp, cv2_max_channels

    limit = cv2_max_channels()
    assert BaseAugmentOp.max_channels == limit
    cv2.flip(np.zeros((2, 2, limit), np.uint8), 0)
    with pytest.raises(cv2.error):
        cv2.flip(np.zeros((2, 2, limit + 1), np.uint8), 0)
