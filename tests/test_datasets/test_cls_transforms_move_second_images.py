"""The classification transforms move a sample's second images as they move its image.

A sample with a second image and no labels (mmseg's change-detection ``img2`` of an unlabelled pair, pretraining
on pairs; the keys of mmcv 1.x's ``img_fields``) went through ``RandomCrop``, ``RandomResizedCrop``,
``ResizeShortEdge`` and ``TorchvisionAugment`` with ``img`` cropped, flipped or resized and ``img2`` left as it was:
the pair no longer lined up (or was of another size), silently. Each now gives every second image
(:func:`automl_mm.augment.op_base.extra_image_keys`) the crop, resize or torchvision draws ``img`` took, and refuses
one that cannot follow (another size, not uint8), naming its key. The oracle: an ``img2`` equal to ``img`` before is
equal to it after; a different one ends as it would alone under the same draws.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2  # noqa: F401  (imported at collection: its import sets TORCHINDUCTOR_CACHE_DIR)

from automl_mm.datasets.torchvision_augment import TorchvisionAugment
from automl_mm.datasets.transforms import RandomCrop, RandomResizedCrop, ResizeShortEdge

HEIGHT, WIDTH = 40, 56

TRANSFORMS = {
    'RandomCrop': lambda: RandomCrop(32, padding=4),
    'RandomResizedCrop': lambda: RandomResizedCrop(24),
    'ResizeShortEdge': lambda: ResizeShortEdge(20),
    'TorchvisionAugment': lambda: TorchvisionAugment('TrivialAugmentWide'),
    'TorchvisionAugment-AugMix': lambda: TorchvisionAugment('AugMix'),
}


def _image(seed: int, shape=(HEIGHT, WIDTH, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _seeded(seed: int) -> None:
    """The generators the transforms draw from: numpy's (the crops) and torch's (torchvision)."""
    np.random.seed(seed)
    torch.manual_seed(seed)


@pytest.mark.parametrize('name', list(TRANSFORMS))
@pytest.mark.parametrize('shape', [(HEIGHT, WIDTH, 3), (HEIGHT, WIDTH)], ids=['colour', 'grey'])
def test_an_img2_equal_to_img_stays_equal(name, shape):
    transform = TRANSFORMS[name]()
    for seed in range(4):
        img = _image(seed, shape)
        _seeded(seed)
        out = transform(dict(img=img, img2=img.copy()))
        np.testing.assert_array_equal(out['img2'], out['img'], err_msg=f'{name}, seed {seed}')


@pytest.mark.parametrize('name', list(TRANSFORMS))
def test_a_different_img2_takes_the_draws_img_took(name):
    """Same crop box, same torchvision ops and magnitudes: ``img2`` ends as it would alone with the same seed; the
    generators are left where one image leaves them."""
    transform = TRANSFORMS[name]()
    img, img2 = _image(1), _image(2)
    _seeded(7)
    out = transform(dict(img=img.copy(), img2=img2.copy()))
    after = np.random.random(), float(torch.rand(()))
    for key, source in (('img', img), ('img2', img2)):
        _seeded(7)
        alone = transform(dict(img=source.copy()))['img']
        np.testing.assert_array_equal(out[key], alone, err_msg=key)
    assert (np.random.random(), float(torch.rand(()))) == after


@pytest.mark.parametrize('name', list(TRANSFORMS))
def test_the_images_img_fields_lists_move_too(name):
    img = _image(3)
    _seeded(0)
    out = TRANSFORMS[name]()(dict(img=img, img_b=img.copy(), img_fields=['img', 'img_b']))
    np.testing.assert_array_equal(out['img_b'], out['img'])


@pytest.mark.parametrize('name', list(TRANSFORMS))
@pytest.mark.parametrize('bad, says', [
    (np.zeros((HEIGHT, WIDTH + 2, 3), np.uint8), r"results\['img2'\] is 40 x 58 but the image is 40 x 56"),
    ([np.zeros((HEIGHT, WIDTH, 3), np.uint8)], r"results\['img2'\].* must be an? (uint8 )?\(H, W\) or \(H, W, C\) "
                                               r'array.*got list'),
], ids=['size', 'list'])
def test_a_second_image_that_cannot_follow_is_refused_naming_it(name, bad, says):
    with pytest.raises(ValueError, match=says):
        TRANSFORMS[name]()(dict(img=_image(4), img2=bad))


@pytest.mark.parametrize('name', list(TRANSFORMS))
def test_a_sample_without_a_second_image_is_unchanged(name):
    """The draws and the output of a classification sample are what they were."""
    img = _image(5)
    _seeded(3)
    out = TRANSFORMS[name]()(dict(img=img.copy()))
    _seeded(3)
    again = TRANSFORMS[name]()(dict(img=img.copy(), img2=None))
    np.testing.assert_array_equal(out['img'], again['img'])
    assert again['img2'] is None


def test_a_float_img2_is_cropped_along_but_refused_by_torchvision():
    """The crops and resizes take any dtype (as for ``img``); torchvision's policies take uint8 images only."""
    img = _image(6)
    _seeded(0)
    out = RandomResizedCrop(24)(dict(img=img, img2=img.astype(np.float32)))
    np.testing.assert_allclose(out['img2'], out['img'], atol=1)  # cv2 rounds uint8, not float32
    with pytest.raises(ValueError, match=r"TorchvisionAugment\('RandAugment'\): results\['img2'\] must be a uint8"):
        TorchvisionAugment('RandAugment')(dict(img=img, img2=img.astype(np.float32)))


@pytest.mark.parametrize('name', TRANSFORMS)
def test_in_a_broadcaster_over_the_pair_the_outer_img2_is_left_to_its_own_view(name):
    """mmcv's ``TransformBroadcaster(mapping=dict(img=['img', 'img2']))`` gives each view the outer ``img2`` beside
    its ``img`` and takes back each view's ``img`` only: that ``img2`` is the other view, not a second image of this
    one (``op_base.second_image_keys`` reads the enclosing wrapper), so a pair of two sizes (a low / high-resolution
    pair) is not refused, and each image comes back as the transform makes it alone."""
    from mmcv.transforms import TransformBroadcaster

    img, img2 = _image(0), _image(1, (HEIGHT + 4, WIDTH + 4, 3))
    alone = [TRANSFORMS[name]()(dict(img=image.copy()))['img'].shape for image in (img, img2)]
    wrapper = TransformBroadcaster(transforms=[TRANSFORMS[name]()], mapping=dict(img=['img', 'img2']),
                                   auto_remap=True, share_random_params=True)
    _seeded(0)
    out = wrapper(dict(img=img, img2=img2))
    assert [out['img'].shape, out['img2'].shape] == alone
