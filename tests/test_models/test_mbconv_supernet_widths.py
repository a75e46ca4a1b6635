"""MBConvSupernet's widths are whole numbers, named when they are not (a 2.5-wide stem failed inside torch)."""
from __future__ import annotations

import pytest

from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet


@pytest.mark.parametrize('key, value', [('stem_channels', 2.5), ('stem_channels', -3), ('in_channels', 1.5),
                                        ('out_channels', 64.5), ('out_channels', True)])
def test_a_width_that_is_no_count_is_named(key, value):
    with pytest.raises(ValueError, match=rf'MBConvSupernet.{key} must be'):
        MBConvSupernet(space='digits', **{key: value})


def test_out_channels_0_still_drops_the_presets_final_convolution():
    assert MBConvSupernet(space='digits', out_channels=0).out_channels[-1] != 64
