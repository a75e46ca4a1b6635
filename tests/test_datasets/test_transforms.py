from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_mm.datasets import PackClsInputs, RandomCrop, RandomResizedCrop, ResizeShortEdge


def test_pack_cls_inputs_layout_and_meta():
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    out = PackClsInputs()({'img': img, 'gt_label': 7, 'sample_idx': 3, 'ohl_choice': {'aug': 42}, 'other': 1})
    assert out['inputs'].shape == (3, 4, 5) and out['inputs'].dtype == torch.uint8
    assert torch.equal(out['inputs'][:, 1, 2], torch.from_numpy(img[1, 2]))
    assert out['data_samples'].gt_label.tolist() == [7]
    assert out['data_samples'].metainfo == {'sample_idx': 3, 'ohl_choice': {'aug': 42}}


def test_random_crop_with_padding_keeps_content_and_size():
    np.random.seed(0)
    img = np.full((8, 8, 3), 255, np.uint8)
    out = RandomCrop(crop_size=8, padding=2)({'img': img})['img']
    assert out.shape == (8, 8, 3)
    # a crop from the padded image holds a 6x6 (at least) block of original pixels and zeros elsewhere
    assert (out == 255).all(axis=2).sum() >= 36 and set(np.unique(out)) <= {0, 255}
    with pytest.raises(ValueError, match='crop_size'):
        RandomCrop(crop_size=20)({'img': img})


def test_sizes_and_ranges_are_checked_and_padding_fills_every_channel():
    """RandomCrop(0) returned a (0, 0, 3) image, (28, -1) a (28, 0, 3) one, ResizeShortEdge(size=0) a 1 x 1 image,
    crop_ratio_range=(2, 3) always fell back to the central square, and a 4-channel image was padded with
    pad_val on 3 channels and 0 on the fourth."""
    for kwargs, key in ((dict(crop_size=0), 'crop_size'), (dict(crop_size=(28, -1)), 'crop_size'),
                        (dict(crop_size=(8, 8, 8)), 'crop_size'), (dict(crop_size=2.5), 'crop_size')):
        with pytest.raises(ValueError, match=key):
            RandomCrop(**kwargs)
    for size in (0, -5, 1.5):
        with pytest.raises(ValueError, match='size must be an int >= 1'):
            ResizeShortEdge(size=size)
    for kwargs, key in ((dict(scale=0), 'scale'), (dict(crop_ratio_range=(2, 3)), 'crop_ratio_range'),
                        (dict(crop_ratio_range=(0.5, 0.1)), 'crop_ratio_range'),
                        (dict(aspect_ratio_range=(0, 1)), 'aspect_ratio_range'),
                        (dict(crop_ratio_range=0.5), 'crop_ratio_range')):
        with pytest.raises(ValueError, match=key):
            RandomResizedCrop(**{'scale': 8, **kwargs})
    np.random.seed(0)
    img = np.full((6, 6, 4), 200, np.uint8)
    out = RandomCrop(crop_size=10, padding=2, pad_val=50)({'img': img})['img']
    assert out.shape == (10, 10, 4) and out[0, 0].tolist() == [50, 50, 50, 50]


def test_random_resized_crop_and_short_edge():
    np.random.seed(0)
    img = np.random.randint(0, 255, (40, 60, 3), np.uint8)
    assert RandomResizedCrop(scale=16)({'img': img})['img'].shape == (16, 16, 3)
    res = ResizeShortEdge(size=20)({'img': img})
    assert res['img'].shape == (20, 30, 3) and res['img_shape'] == (20, 30)


def test_torchvision_augment_applies_the_torchvision_policy_to_hwc_images():
    import torch
    from torchvision.transforms import v2

    from automl_mm.datasets import TorchvisionAugment

    img = np.random.default_rng(0).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    t = TorchvisionAugment('RandAugment', bgr=False, num_ops=2, magnitude=9, fill=0)
    torch.manual_seed(3)
    out = t(dict(img=img.copy()))['img']
    torch.manual_seed(3)
    expected = v2.RandAugment(num_ops=2, magnitude=9, fill=0)(torch.from_numpy(img.transpose(2, 0, 1).copy()))
    assert out.shape == (28, 28, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected.permute(1, 2, 0).numpy())
    # a BGR image (the default) is given to torchvision as RGB: contrast weighs red 0.299 and blue 0.114, so the
    # image as it was stored gave another result (max difference 9 for contrast, 23 for saturation)
    for policy in ('TrivialAugmentWide', 'AugMix'):
        for seed in range(5):
            torch.manual_seed(seed)
            out = TorchvisionAugment(policy)(dict(img=img[:, :, ::-1].copy()))['img']
            torch.manual_seed(seed)
            rgb = getattr(v2, policy)()(torch.from_numpy(img.transpose(2, 0, 1).copy())).permute(1, 2, 0).numpy()
            np.testing.assert_array_equal(out, rgb[:, :, ::-1])
    with pytest.raises(ValueError, match='bgr must be True or False'):
        TorchvisionAugment('RandAugment', bgr='rgb')
    assert TorchvisionAugment('TrivialAugmentWide')(dict(img=img[:, :, 0].copy()))['img'].shape == (28, 28)
    with pytest.raises(ValueError, match="policy must be one of"):
        TorchvisionAugment('ColorJitter')


@pytest.mark.parametrize('shape', [(20, 30), (20, 30, 1), (20, 30, 3)], ids=['hw', 'hw1', 'hw3'])
@pytest.mark.parametrize('make,size', [(lambda: RandomCrop(8, padding=2, pad_val=9), (8, 8)),
                                       (lambda: RandomCrop(8), (8, 8)), (lambda: RandomResizedCrop(8), (8, 8)),
                                       (lambda: ResizeShortEdge(8), (8, 12))],
                         ids=['crop-padded', 'crop', 'resized-crop', 'short-edge'])
def test_image_transforms_keep_the_image_layout(make, size, shape):
    """A grey (H, W) image stays (H, W) and an (H, W, 1) one keeps its channel axis (cv2.resize and
    copyMakeBorder drop it; the padded crop used to add one to (H, W) images, the resizes to drop it)."""
    np.random.seed(0)
    img = np.random.randint(0, 256, shape, dtype=np.uint8)
    out = make()(dict(img=img))['img']
    assert out.shape == (*size, *shape[2:]) and out.dtype == np.uint8
