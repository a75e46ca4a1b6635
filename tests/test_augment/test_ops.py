"""The 14 OHL-Auto-Aug ops on images: PIL agreement, the geometry of pixels, random signs, fill, written magnitudes
(the geometric ops on boxes, masks, maps and the homography: test_op_annotations.py; the element sets and building
them: test_elements.py)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from automl_mm.augment.elements import DEFAULT_ELEMENTS, build_elements
from automl_mm.augment.ops import (
    ColorAdjust,
    Contrast,
    HorizontalShear,
    HorizontalTranslate,
    Posterize,
    Rotate,
    VerticalShear,
    VerticalTranslate,
)
from tests.test_augment._signs import MINUS, PLUS

_PIL = {
    'Equalize': lambda im, m: ImageOps.equalize(im),
    'AutoContrast': lambda im, m: ImageOps.autocontrast(im),
    'Invert': lambda im, m: ImageOps.invert(im),
    'Posterize': lambda im, m: ImageOps.posterize(im, {4.4: 4, 5.6: 6, 6.8: 7}[m]),  # the documented rounding
    'Solarize': lambda im, m: ImageOps.solarize(im, m),
    'Contrast': lambda im, m: ImageEnhance.Contrast(im).enhance(m),
    'Brightness': lambda im, m: ImageEnhance.Brightness(im).enhance(m),
    'Sharpness': lambda im, m: ImageEnhance.Sharpness(im).enhance(m),
    'ColorAdjust': lambda im, m: ImageEnhance.Color(im).enhance(m),
}
PHOTOMETRIC = [(name, m) for name, m in DEFAULT_ELEMENTS if name in _PIL]


def _images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    low = rng.integers(100, 104, (37, 29, 3), dtype=np.uint8)  # 4 grey levels: AutoContrast/Equalize edge cases
    low[0, 0] = (250, 3, 101)  # lone outliers, and one channel whose histogram has a single big last bin
    two = (rng.integers(0, 2, (37, 29, 3)) * 5 + 60).astype(np.uint8)  # two values per channel
    flat = np.full((6, 7, 3), 77, np.uint8)  # constant: AutoContrast/Equalize leave it unchanged
    return dict(random=rng.integers(0, 256, (37, 29, 3), dtype=np.uint8), low=low, two=two, flat=flat)


IMAGES = _images()


@pytest.mark.parametrize('image', list(IMAGES))
@pytest.mark.parametrize('name,magnitude', PHOTOMETRIC)
def test_photometric_ops_equal_pil_exactly(name, magnitude, image):
    """Bit-exact agreement (not just +-1) with PIL on RGB, given the BGR image our ops expect."""
    rgb = IMAGES[image]
    expected = np.asarray(_PIL[name](Image.fromarray(rgb), magnitude))
    op = build_elements([(name, magnitude)])[0]
    results = dict(img=np.ascontiguousarray(rgb[..., ::-1]))
    out = op.apply(results, np.random.default_rng(0))
    assert out is results and out['img'].dtype == np.uint8
    np.testing.assert_array_equal(out['img'][..., ::-1], expected)
    # bgr=False reads the same pixels as RGB
    rgb_op = build_elements([(name, magnitude)], bgr=False)[0]
    np.testing.assert_array_equal(rgb_op.apply(dict(img=rgb.copy()), None)['img'], expected)


@pytest.mark.parametrize('shape', ['hw', 'hw1'])
@pytest.mark.parametrize('name,magnitude', PHOTOMETRIC)
def test_photometric_ops_equal_pil_on_grey_images(name, magnitude, shape):
    """One-channel images behave like PIL's 'L' mode, exactly; the shape is kept."""
    grey = IMAGES['random'][..., 1].copy()
    expected = np.asarray(_PIL[name](Image.fromarray(grey), magnitude))
    img = grey if shape == 'hw' else grey[..., None].copy()
    out = build_elements([(name, magnitude)])[0].apply(dict(img=img), None)['img']
    assert out.shape == img.shape
    np.testing.assert_array_equal(out.reshape(grey.shape), expected)


def test_luminance_ops_use_the_channel_order():
    rgb = IMAGES['random']
    for op_cls, magnitude in ((Contrast, 1.9), (ColorAdjust, 0.3)):
        as_bgr = op_cls(magnitude).apply(dict(img=rgb.copy()), None)['img']  # RGB pixels read as BGR
        as_rgb = op_cls(magnitude, bgr=False).apply(dict(img=rgb.copy()), None)['img']
        assert not np.array_equal(as_bgr, as_rgb)
    with pytest.raises(ValueError, match='Contrast needs a 1- or 3-channel image'):
        Contrast(1.3).apply(dict(img=np.zeros((4, 4, 4), np.uint8)), None)


@pytest.mark.parametrize('magnitude,bits', [(4.4, 4), (5.6, 6), (6.8, 7), (4.5, 5), (0.5, 1), (8.0, 8)])
def test_posterize_rounds_half_up(magnitude, bits):
    op = Posterize(magnitude)
    assert op.bits == bits
    img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(op.apply(dict(img=img), None)['img'],
                                  np.asarray(ImageOps.posterize(Image.fromarray(img), bits)))


# --- geometric ops --------------------------------------------------------------------------------------------------
def _dot(height=20, width=40, x=10, y=5, channels=3) -> np.ndarray:
    img = np.zeros((height, width, channels), np.uint8)
    img[y, x] = 255
    return img


def _where(img: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(img.reshape(img.shape[0], img.shape[1], -1)[..., 0] == 255)
    assert len(xs) == 1
    return int(xs[0]), int(ys[0])


@pytest.mark.parametrize('op,rng,moved', [
    (HorizontalTranslate(0.15), PLUS, (16, 5)), (HorizontalTranslate(0.15), MINUS, (4, 5)),
    (HorizontalTranslate(0.45), PLUS, (28, 5)), (VerticalTranslate(0.3), PLUS, (10, 11)),
    (VerticalTranslate(0.15), MINUS, (10, 2)), (HorizontalShear(0.2), PLUS, (11, 5)),
    (HorizontalShear(0.2), MINUS, (9, 5)), (VerticalShear(0.3), PLUS, (10, 8)), (VerticalShear(0.3), MINUS, (10, 2)),
])
def test_geometric_ops_move_a_pixel(op, rng, moved):
    out = op.apply(dict(img=_dot()), rng)['img']
    assert out.shape == (20, 40, 3)
    assert _where(out) == moved


def test_translate_fills_the_uncovered_band_and_keeps_one_channel_shapes():
    img = np.zeros((20, 40), np.uint8)
    out = HorizontalTranslate(0.15, fill=7).apply(dict(img=img), PLUS)['img']
    assert out.shape == (20, 40)
    assert (out[:, :6] == 7).all() and (out[:, 6:] == 0).all()
    out = VerticalTranslate(0.3).apply(dict(img=np.zeros((20, 40, 1), np.uint8)), MINUS)['img']
    assert out.shape == (20, 40, 1)
    assert (out[-6:] == 128).all() and (out[:-6] == 0).all()


def test_rotate_matches_cv2_about_the_centre_and_rot90():
    img = IMAGES['random']
    for rng, angle in ((PLUS, 30), (MINUS, -30)):
        out = Rotate(30, fill=9).apply(dict(img=img.copy()), rng)['img']
        matrix = cv2.getRotationMatrix2D(((29 - 1) / 2, (37 - 1) / 2), angle, 1.0)
        expected = cv2.warpAffine(img, matrix, (29, 37), flags=cv2.INTER_NEAREST, borderValue=(9, 9, 9))
        np.testing.assert_array_equal(out, expected)
    square = IMAGES['random'][:29]
    np.testing.assert_array_equal(Rotate(90).apply(dict(img=square.copy()), PLUS)['img'], np.rot90(square))
    np.testing.assert_array_equal(Rotate(90).apply(dict(img=square.copy()), MINUS)['img'], np.rot90(square, -1))


def test_bgr_must_be_a_bool():
    """``bgr='False'`` was read as True (colour weights for the wrong channel order)."""
    for bad in ('False', 'rgb', None, 1):
        with pytest.raises(ValueError, match='bgr must be True or False'):
            Contrast(1.5, bgr=bad)


# --- randomness ---------------------------------------------------------------------------------------------------
def test_geometric_sign_is_random_and_seeded():
    op = HorizontalTranslate(0.15)
    positions = {_where(op.apply(dict(img=_dot()), rng)['img'])[0] for rng in
                 (np.random.default_rng(seed) for seed in range(40))}
    assert positions == {4, 16}
    img = IMAGES['random']
    for element in build_elements():
        first = element.apply(dict(img=img.copy()), np.random.default_rng(3))['img']
        again = element.apply(dict(img=img.copy()), np.random.default_rng(3))['img']
        np.testing.assert_array_equal(first, again)
    rng = np.random.default_rng(11)
    draws = [Rotate(30).apply(dict(img=img.copy()), rng)['img'] for _ in range(30)]
    assert any(not np.array_equal(draws[0], d) for d in draws[1:])


@pytest.mark.parametrize('channels', [2, 5])
def test_geometric_fill_reaches_every_channel(channels):
    out = HorizontalTranslate(0.15, fill=7).apply(dict(img=np.zeros((20, 40, channels), np.uint8)), PLUS)['img']
    assert (out[:, :6] == 7).all() and (out[:, 6:] == 0).all()


_MAGNITUDES: dict[str, list] = {}
for _name, _m in DEFAULT_ELEMENTS:
    if _m is not None:
        _MAGNITUDES.setdefault(_name, []).append(_m)


@pytest.mark.parametrize('name', sorted(_MAGNITUDES))
def test_a_written_magnitude_is_the_one_applied(name):
    """An op whose magnitude is written after it was built (an AttributeSpace on ``...elements.<j>.magnitude``) applies
    the new magnitude, exactly as one built with it: Posterize / Solarize / Contrast / ... rebuild their look-up
    tables (before, the table of the first magnitude stayed, so the write changed nothing)."""
    first, last = _MAGNITUDES[name][0], _MAGNITUDES[name][-1]
    written = build_elements([(name, first)])[0]
    written.magnitude = last
    built = build_elements([(name, last)])[0]
    assert written.name == built.name == f'{name}({last:g})'
    img = IMAGES['random']
    np.testing.assert_array_equal(written.apply(dict(img=img.copy()), PLUS)['img'],
                                  built.apply(dict(img=img.copy()), PLUS)['img'])


def test_a_bad_written_magnitude_is_refused_and_the_op_is_kept():
    op = Posterize(4.4)
    before = op.apply(dict(img=IMAGES['random'].copy()), None)['img']
    for bad in (9.0, float('nan'), None, True):
        with pytest.raises(ValueError, match='Posterize.*magnitude'):
            op.magnitude = bad
        assert op.magnitude == 4.4
        np.testing.assert_array_equal(op.apply(dict(img=IMAGES['random'].copy()), None)['img'], before)
