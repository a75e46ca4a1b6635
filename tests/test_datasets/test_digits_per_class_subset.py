"""A class-balanced subset of the digits splits: ``max_samples`` keeps the first images of a split, so a reward subset
of it is not class-balanced (as ``FashionMNISTDataset``'s, where ``samples_per_class`` gives equal counts in any
split); ``DigitsDataset`` now takes ``samples_per_class`` too (default ``None``: every split as before)."""
from __future__ import annotations

import numpy as np
import pytest

from automl_mm.datasets import DigitsDataset


def _counts(ds) -> list[int]:
    return np.bincount([ds.get_data_info(i)['gt_label'] for i in range(len(ds))], minlength=10).tolist()


@pytest.mark.parametrize('split', ['train', 'reward'])
def test_samples_per_class_gives_equal_seeded_counts(split):
    ds = DigitsDataset(split=split, img_size=8, samples_per_class=7)
    assert _counts(ds) == [7] * 10
    again = DigitsDataset(split=split, img_size=8, samples_per_class=7)
    assert [d['source_idx'] for d in map(ds.get_data_info, range(70))] == \
        [d['source_idx'] for d in map(again.get_data_info, range(70))]
    # a subset of the split, never of another split
    whole = {ds_.get_data_info(i)['source_idx'] for ds_ in [DigitsDataset(split=split, img_size=8)]
             for i in range(len(ds_))}
    assert {ds.get_data_info(i)['source_idx'] for i in range(len(ds))} <= whole
    # then max_samples keeps the first of them
    assert len(DigitsDataset(split=split, img_size=8, samples_per_class=7, max_samples=20)) == 20


def test_defaults_unchanged_and_bad_counts_refused():
    assert len(DigitsDataset(split='reward', img_size=8)) == 362
    with pytest.raises(ValueError, match=r'samples_per_class=50 but class \d has only \d+ images in the reward'):
        DigitsDataset(split='reward', img_size=8, samples_per_class=50)
    with pytest.raises(ValueError, match='samples_per_class=0'):
        DigitsDataset(split='reward', img_size=8, samples_per_class=0)
    with pytest.raises(ValueError, match='samples_per_class must be a non-negative integer'):
        DigitsDataset(split='reward', img_size=8, samples_per_class=2.5)
