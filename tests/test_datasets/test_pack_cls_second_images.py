"""``PackClsInputs`` packs ``results['img']`` alone: a sample that still holds a second image (mmseg's
change-detection ``img2``, a key of mmcv 1.x's ``img_fields``; the classification transforms move it with ``img``)
reached the model as one image, the other dropped without a word. It is now refused, naming the key; a pair stacked
into ``img`` first (mmseg's ``ConcatCDInput`` pops ``img2``) packs as before."""
from __future__ import annotations

import numpy as np
import pytest
from mmcv.transforms import KeyMapper

from automl_mm.datasets.transforms import PackClsInputs

IMG = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


@pytest.mark.parametrize('sample, key', [(dict(img2=IMG.copy()), 'img2'),
                                         (dict(img_b=IMG.copy(), img_fields=['img', 'img_b']), 'img_b')])
def test_a_second_image_is_not_dropped_silently(sample, key):
    with pytest.raises(ValueError, match=rf"PackClsInputs packs results\['img'\] only, but the sample holds "
                                         rf"results\['{key}'\] \(a second image"):
        PackClsInputs()(dict(img=IMG.copy(), gt_label=1, **sample))


def test_a_sample_of_one_image_packs_as_before():
    out = PackClsInputs()(dict(img=IMG.copy(), gt_label=1, img2=None, img_fields=['img']))
    assert out['inputs'].shape == (3, 4, 6) and int(out['data_samples'].gt_label) == 1
    stacked = np.concatenate([IMG, IMG], axis=2)  # mmseg's ConcatCDInput: one 6-channel img, img2 popped
    assert PackClsInputs()(dict(img=stacked))['inputs'].shape == (6, 4, 6)


def test_inside_a_key_mapper_that_does_not_give_img2_back_it_packs():
    """A view whose img2 the wrapper throws away (it is not the packer's to keep): packed as one image."""
    out = KeyMapper(transforms=[PackClsInputs()], mapping=dict(img='img'), remapping=dict(inputs='inputs'),
                    auto_remap=False)(dict(img=IMG.copy(), img2=IMG.copy()))
    assert out['inputs'].shape == (3, 4, 6)
