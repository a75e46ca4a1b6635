"""A change-detection sample's second image moves and changes with its first.

mmseg's change-detection pipelines load two co-registered images of one place, ``img`` and ``img2``
(``LoadMultipleRSImageFromFile``), whose label map marks the pixels that changed between them; ``ConcatCDInput``
stacks them only at the end. A geometric element warped ``img`` and the label map and left ``img2`` as it was: the
pair no longer lined up, so the label marked pixels that differ because one image turned, silently. Every second
image (``img2``, and each key of mmcv 1.x's ``img_fields``, which mmseg 0.x and mmdet 2.x pipelines list their
images in) is now warped with the image's matrix and fill and transformed by a photometric element as the image
is (each image by itself, as mmcv's ``TransformBroadcaster(share_random_params=True)`` applies a transform to
each). The oracle is the tight geometry: an ``img2`` equal to ``img`` before is equal to it after, pixel for pixel.
"""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.augment.elements import build_elements
from automl_mm.augment.op_base import extra_image_keys
from automl_mm.augment.ops import BaseAugmentOp, Rotate
from automl_mm.augment.policy import FixedAutoAugment, OHLAutoAugment
from tests.test_augment._signs import MINUS, PLUS

ELEMENTS = build_elements('ohl+randaugment')
GEOMETRIC = [op for op in ELEMENTS if op.geometric] + [Rotate(90)]
PHOTOMETRIC = [op for op in ELEMENTS if not op.geometric]
HEIGHT, WIDTH = 24, 32


def _pair(channels: int | None = 3, seed: int = 0) -> dict:
    """An mmseg change-detection sample: ``img2`` a copy of ``img``, a change label map."""
    shape = (HEIGHT, WIDTH) if channels is None else (HEIGHT, WIDTH, channels)
    img = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return dict(img=img, img2=img.copy(), gt_seg_map=(img.reshape(HEIGHT, WIDTH, -1)[..., 0] > 127).astype(np.uint8),
                seg_fields=['gt_seg_map'])


@pytest.mark.parametrize('rng', [PLUS, MINUS], ids=['plus', 'minus'])
@pytest.mark.parametrize('op', GEOMETRIC, ids=[op.name for op in GEOMETRIC])
def test_a_geometric_element_warps_img2_as_it_warps_img(op, rng):
    out = op.apply(_pair(), rng)
    assert (out['img'] == 128).any()  # the op moved the image: something was uncovered
    np.testing.assert_array_equal(out['img2'], out['img'])
    assert out['img2'].dtype == np.uint8 and out['img2'].shape == out['img'].shape


@pytest.mark.parametrize('channels', [1, None, 4, 6])  # cv2's layouts: warped as is, or in groups of 4 planes
def test_img2_of_every_channel_layout_is_warped_as_img(channels):
    for op in (Rotate(30), GEOMETRIC[0]):
        for rng in (PLUS, MINUS):
            out = op.apply(_pair(channels), rng)
            np.testing.assert_array_equal(out['img2'], out['img'], err_msg=op.name)


@pytest.mark.parametrize('op', PHOTOMETRIC, ids=[op.name for op in PHOTOMETRIC])
def test_a_photometric_element_changes_img2_as_it_changes_img(op):
    results = _pair()
    before = results['img'].copy()
    out = op.apply(results, np.random.default_rng(0))
    np.testing.assert_array_equal(out['img2'], out['img'])
    if op.name not in ('Identity', ) and not np.array_equal(out['img'], before):
        assert not np.array_equal(out['img2'], before)


def test_a_different_img2_takes_the_same_warp_as_img():
    """Same matrix, not merely the same kind of op: ``img2`` ends as it would as the image under the same sign."""
    results = _pair()
    other = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    results['img2'] = other.copy()
    for op in GEOMETRIC:
        for rng in (PLUS, MINUS):
            out = op.apply(dict(results), rng)
            alone = op.apply(dict(img=other.copy()), rng)['img']
            np.testing.assert_array_equal(out['img2'], alone, err_msg=op.name)


def test_every_pair_of_the_policy_keeps_the_two_images_equal():
    policy = FixedAutoAugment(key='cd')
    rng = np.random.default_rng(0)
    for _ in range(60):
        out = policy.transform_with(_pair(seed=int(rng.integers(1000))), rng)
        np.testing.assert_array_equal(out['img2'], out['img'])


def test_the_images_img_fields_lists_move_too():
    """mmcv 1.x's ``img_fields`` (mmseg 0.x, mmdet 2.x and change-detection code built on them) names a sample's
    images: each one moves with ``img``."""
    results = _pair()
    results['img_b'] = results.pop('img2')
    results['img_fields'] = ['img', 'img_b']
    out = Rotate(30).apply(results, PLUS)
    np.testing.assert_array_equal(out['img_b'], out['img'])


def test_a_second_image_of_another_size_is_refused_by_a_geometric_element_only():
    """A geometric element warps both with one matrix in the image's pixel frame; a photometric one transforms
    each image by itself, so it takes an ``img2`` of another size (it refused it, blaming "a geometric element")."""
    results = _pair()
    results['img2'] = np.zeros((HEIGHT, WIDTH + 1, 3), np.uint8)
    with pytest.raises(ValueError, match=r"results\['img2'\] is 24 x 33 but the image is 24 x 32"):
        Rotate(30).apply(dict(results), PLUS)
    out = build_elements([('Invert', None)])[0].apply(dict(results), PLUS)
    np.testing.assert_array_equal(out['img2'], np.full((HEIGHT, WIDTH + 1, 3), 255, np.uint8))


@pytest.mark.parametrize('bad, says', [
    (np.zeros((HEIGHT, WIDTH, 3), np.float32), r"results\['img2'\] must be a uint8 \(H, W\) or \(H, W, C\) array"),
    ([np.zeros((HEIGHT, WIDTH, 3), np.uint8)], r"results\['img2'\] must be a uint8 .* got list"),
])
@pytest.mark.parametrize('op', [Rotate(30), PHOTOMETRIC[0]], ids=['geometric', 'photometric'])
def test_a_second_image_that_cannot_follow_is_refused_naming_it(op, bad, says):
    results = _pair()
    results['img2'] = bad
    with pytest.raises(ValueError, match=says):
        op.apply(results, PLUS)


def test_the_policy_refuses_a_bad_img2_whichever_pair_is_drawn():
    """A photometric-only draw refuses it as a geometric one does: the error does not wait for a draw (a set
    without geometric elements takes it: tests/test_augment/test_refusals_whatever_drawn.py; Rotate drawable, as
    an element every pair of which has probability 0 is never drawn and not asked)."""
    policy = FixedAutoAugment(elements=[('Invert', None), ('Posterize', 4), ('Rotate', 30)], key='cd',
                              probs=[1e-12, 1] + [1e-12] * 7)
    results = _pair()
    results['img2'] = results['img2'][:-1]
    with pytest.raises(ValueError, match=r"FixedAutoAugment\(key='cd'\): results\['img2'\] \(shape \(23, 32, 3\)\) "
                                         r'.*Rotate\(30\).*23 x 32'):
        policy.transform_with(results, np.random.default_rng(0))


def test_an_op_of_ones_own_that_overrides_apply_is_refused_on_a_pair():
    """An op that overrides ``apply`` moves what it moves: on a sample with a second image the policy refuses it
    (naming the op and the key) rather than let it change ``img`` alone; one that declares
    ``handles_extra_images`` is trusted."""

    class Darken(BaseAugmentOp):
        magnitude_range = None

        def apply(self, results, rng):
            results['img'] = results['img'] // 2
            return results

    policy = OHLAutoAugment(elements=[(Darken, None), ('Invert', None)], key='cd')
    with pytest.raises(ValueError, match=r"Darken overrides apply.*results\['img2'\]"):
        policy.transform_with(_pair(), np.random.default_rng(0))
    policy.transform_with(dict(img=_pair()['img']), np.random.default_rng(0))  # no second image: as before

    class DarkenBoth(Darken):
        handles_extra_images = True

        def apply(self, results, rng):
            for key in ('img', *extra_image_keys(results, results['img'], self.name)):
                results[key] = results[key] // 2
            return results

    policy = OHLAutoAugment(elements=[(DarkenBoth, None), ('Invert', None)], key='cd')
    out = policy.transform_with(_pair(), np.random.default_rng(0))
    np.testing.assert_array_equal(out['img2'], out['img'])


def test_an_op_that_draws_from_rng_draws_the_same_for_img2():
    """A photometric op of one's own that draws its noise from ``rng`` gives ``img2`` the draws ``img`` took, and
    leaves ``rng`` where one image would (the pair's second element draws on from there)."""

    class Noise(BaseAugmentOp):
        magnitude_range = None

        def transform_img(self, img, rng):
            return (img + rng.integers(0, 4, img.shape)).astype(np.uint8)

    rng, alone = np.random.default_rng(5), np.random.default_rng(5)
    out = Noise().apply(_pair(), rng)
    np.testing.assert_array_equal(out['img2'], out['img'])
    Noise().apply(dict(img=_pair()['img']), alone)
    assert rng.random() == alone.random()


def test_inside_mmcvs_transform_broadcaster_the_views_still_agree():
    """``TransformBroadcaster(mapping=dict(img=['img', 'img2']), share_random_params=True)`` keeps the outer
    ``img2`` in each view, which the elements leave alone (the remapping takes back each view's ``img`` only:
    tests/test_augment/test_broadcaster_views.py counts the warps); the pair comes back moved alike. The change map
    is mapped from the first view (unmapped, it would come back unmoved: refused there)."""
    from mmcv.transforms import TransformBroadcaster
    wrapper = TransformBroadcaster(transforms=[FixedAutoAugment(elements=[('Rotate', 30), ('Invert', None)],
                                                                key='cd')],
                                   mapping=dict(img=['img', 'img2'], gt_seg_map=['gt_seg_map', ...]),
                                   auto_remap=True, share_random_params=True)
    for seed in range(4):
        out = wrapper(_pair(seed=seed))
        np.testing.assert_array_equal(out['img2'], out['img'])
        assert (out['img'] == 128).any() or (out['img'] != _pair(seed=seed)['img']).any()


@pytest.mark.parametrize('fields', ['img', {'img'}, ['img', 3], ''])
@pytest.mark.parametrize('with_img2', [False, True], ids=['no_img2', 'img2'])
def test_bad_img_fields_are_refused_with_or_without_img2(fields, with_img2):
    """``extra_image_keys`` returns early on a sample without a second image (it runs three times per image):
    ``img_fields`` that is not a list of keys is still refused, naming it, whether or not ``img2`` is there."""
    results = _pair() if with_img2 else dict(img=_pair()['img'])
    results['img_fields'] = fields
    with pytest.raises(ValueError, match=r"Rotate\(30\): results\['img_fields'\] must be a list of results keys"):
        Rotate(30).apply(results, PLUS)


def test_samples_without_a_second_image_have_none():
    """Classification, mmdet 3.x and mmseg 1.x samples (no ``img_fields``), and mmdet 2.x / mmseg 0.x ones, whose
    ``img_fields`` lists ``'img'`` alone: no second image, no refusal."""
    img = _pair()['img']
    for results in (dict(img=img), dict(img=img, img2=None), dict(img=img, img_fields=None),
                    dict(img=img, img_fields=['img']), dict(img=img, img_fields=('img', ), img2=None)):
        assert extra_image_keys(results, img, 'test') == [], results.keys()
    assert extra_image_keys(dict(img=img, img2=img.copy(), img_fields=None), img, 'test') == ['img2']
