"""The channel order of the images OHLAutoAugment transforms: mmcv loads BGR (the default), some datasets give RGB
(mmpretrain's CIFAR-10, torchvision's), and the luminance of Contrast and ColorAdjust depends on it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from automl_mm.augment import FixedAutoAugment, OHLAutoAugment

_ELEMENTS = [('ColorAdjust', 0.3), ('Contrast', 1.9)]


def _rgb_image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)


def _pil(rgb: np.ndarray, pair_index: int) -> np.ndarray:
    im = Image.fromarray(rgb)
    for name, factor in (_ELEMENTS[pair_index // 2], _ELEMENTS[pair_index % 2]):
        im = (ImageEnhance.Color if name == 'ColorAdjust' else ImageEnhance.Contrast)(im).enhance(factor)
    return np.asarray(im)


@pytest.mark.parametrize('pair', range(4))
def test_rgb_images_get_pils_colour_ops_with_bgr_false(pair):
    """OHLAutoAugment had no ``bgr``: on RGB images its colour elements weighed red as blue (ColorAdjust(0.3) of a
    pure red RGB pixel gave (96, 20, 20) where PIL gives (129, 53, 53)), unless each element was a dict with bgr."""
    probs = np.eye(4)[pair]
    t = FixedAutoAugment(elements=_ELEMENTS, probs=probs.tolist(), bgr=False)
    rgb = _rgb_image()
    np.testing.assert_array_equal(t({'img': rgb.copy()})['img'], _pil(rgb, pair))
    bgr = FixedAutoAugment(elements=_ELEMENTS, probs=probs.tolist())  # the default: BGR, as mmcv loads
    np.testing.assert_array_equal(bgr({'img': rgb[..., ::-1].copy()})['img'][..., ::-1], _pil(rgb, pair))


def test_the_channel_order_is_exported_and_must_be_a_bool():
    cfg = OHLAutoAugment(elements=_ELEMENTS, bgr=False).export_cfg([0.25] * 4)
    assert cfg['bgr'] is False and FixedAutoAugment(**{k: v for k, v in cfg.items() if k != 'type'}).elements[0].bgr \
        is False
    assert 'bgr' not in OHLAutoAugment(elements=_ELEMENTS).export_cfg([0.25] * 4)  # the default stays implicit
    with pytest.raises(ValueError, match='bgr must be True or False'):
        OHLAutoAugment(elements=_ELEMENTS, bgr='rgb')
