"""Counts a user configures are ints: a float is refused naming its key, never truncated by ``int()``."""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.utils.checks import as_count


def test_as_count_takes_integers_at_or_above_the_minimum():
    assert as_count(np.int64(3), 'k') == 3 and as_count(0, 'k') == 0 and as_count(5, 'k', 5) == 5
    for bad, minimum in ((2.7, 0), (2.0, 0), (True, 0), ('3', 0), (None, 0), (-1, 0), (4, 5)):
        with pytest.raises(ValueError, match=rf'^k must be an int >= {minimum}, got'):
            as_count(bad, 'k', minimum)


def test_fractional_counts_are_refused_where_they_were_truncated():
    """Each was read through int(): FiniteLossHook(interval=1.5) checked every iteration, RandomCrop(padding=2.5)
    padded 2 pixels, DigitsDataset(img_size=30.5) made 30-pixel images, a (16, 1.5, 1) supernet stage had one
    layer, UniformPathSampler(max_tries=2.5) tried twice."""
    from automl_mm.datasets.digits import DigitsDataset
    from automl_mm.datasets.transforms import RandomCrop
    from automl_mm.engine.hooks import FiniteLossHook, StrictCheckpointHook
    from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
    from automl_mm.nas.samplers import UniformPathSampler

    cases = [
        (lambda: FiniteLossHook(interval=1.5), 'FiniteLossHook.interval must be an int >= 1'),
        (lambda: StrictCheckpointHook(max_keys=2.5), 'StrictCheckpointHook.max_keys must be an int >= 1'),
        (lambda: RandomCrop(crop_size=28, padding=2.5), 'RandomCrop.padding must be an int >= 0'),
        (lambda: RandomCrop(crop_size=28, padding=-1), 'RandomCrop.padding must be an int >= 0'),
        (lambda: DigitsDataset(img_size=30.5, lazy_init=True), 'DigitsDataset.img_size must be an int >= 8'),
        (lambda: MBConvSupernet(space='digits', stages=[(16, 1.5, 1)]),
         r'stages\[0\]\[1\] \(num_layers\) must be an int >= 1'),
        (lambda: MBConvSupernet(space='digits', stages=[(16, 1, 3)]), r'stages\[0\] must be .*first_stride 1 or 2'),
        (lambda: UniformPathSampler(max_tries=2.5), 'UniformPathSampler.max_tries must be an int >= 1'),
        (lambda: UniformPathSampler(enumerate_limit=-1), 'UniformPathSampler.enumerate_limit must be an int >= 0'),
    ]
    for build, match in cases:
        with pytest.raises(ValueError, match=match):
            build()
    assert RandomCrop(crop_size=28, padding=np.int64(2)).padding == 2
    assert FiniteLossHook(interval=2).interval == 2
