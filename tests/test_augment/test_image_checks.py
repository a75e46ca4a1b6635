"""What the elements say about an image they cannot transform (a float image from mmdet's PhotoMetricDistortion or
LoadImageFromFile(to_float32=True)): the element, the transform and the fix, at the first image."""
from __future__ import annotations

import numpy as np
import pytest
from mmdet.datasets.transforms import PhotoMetricDistortion

from automl_mm.augment import FixedAutoAugment
from automl_mm.augment.ops import Posterize, Rotate


@pytest.mark.parametrize('op', [Rotate(10), Posterize(4.4)], ids=['geometric', 'photometric'])
def test_a_float_image_is_refused_naming_the_element_and_the_fix(op):
    img = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=rf'{type(op).__name__}\(.*uint8.*float32.*before'):
        op.apply(dict(img=img), np.random.default_rng(0))


def test_after_photometric_distortion_the_message_says_where_the_transform_goes():
    """The old message, "results['img'] must be a uint8 (H, W) or (H, W, C) array, got float32 array of shape
    (8, 8, 3)", named neither the transform nor why the image was float."""
    np.random.seed(0)
    results = PhotoMetricDistortion()(dict(img=np.full((8, 8, 3), 100, np.uint8)))
    with pytest.raises(ValueError, match='PhotoMetricDistortion'):
        FixedAutoAugment(elements=[('Rotate', 10), ('Invert', None)])(results)
