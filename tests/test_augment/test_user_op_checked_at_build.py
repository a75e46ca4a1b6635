"""An augmentation op of one's own (``AUGMENT_OPS``) that breaks :meth:`BaseAugmentOp.apply`'s contract is refused
when ``OHLAutoAugment`` / ``FixedAutoAugment`` builds its elements, naming the element and the op. Before, a
``transform_img(self, img)`` without ``rng`` or one returning a float image built fine and failed in a dataloader
worker in the first training iteration, after every OHL copy had started (``TypeError: MyInvert.transform_img()
takes 2 positional arguments but 3 were given``)."""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.augment.op_base import BaseAugmentOp
from automl_mm.augment.policy import FixedAutoAugment, OHLAutoAugment


class _NoRng(BaseAugmentOp):
    magnitude_range = None

    def transform_img(self, img):  # the contract is transform_img(img, rng)
        return 255 - img


class _FloatImage(BaseAugmentOp):
    magnitude_range = None

    def transform_img(self, img, rng):
        return img.astype(np.float32) / 255


class _NoneFromApply(BaseAugmentOp):
    magnitude_range = None

    def apply(self, results, rng):
        results['img'] = 255 - results['img']  # forgot to return results


class _Good(BaseAugmentOp):
    magnitude_range = None

    def transform_img(self, img, rng):
        return 255 - img


@pytest.mark.parametrize('op, message', [
    (_NoRng, r'elements\[1\] _NoRng: apply\(results, rng\) failed .*TypeError'),
    (_FloatImage, r"elements\[1\] _FloatImage: apply\(results, rng\) must return .*got a dict with float32"),
    (_NoneFromApply, r'elements\[1\] _NoneFromApply: apply\(results, rng\) must return .*got NoneType'),
])
@pytest.mark.parametrize('transform', [OHLAutoAugment, FixedAutoAugment])
def test_a_broken_op_of_ones_own_is_refused_when_built(op, message, transform):
    with pytest.raises(ValueError, match=message):
        transform(elements=[('Identity', None), dict(type=op)], key='aa')


def test_a_good_op_of_ones_own_builds_and_applies():
    t = OHLAutoAugment(elements=[('Identity', None), dict(type=_Good)], key='aa')
    out = t(dict(img=np.zeros((8, 8, 3), np.uint8)))
    assert out['img'].dtype == np.uint8 and out['img'].shape == (8, 8, 3)
