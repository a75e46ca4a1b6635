from __future__ import annotations

import numpy as np
import pytest

from automl_mm.datasets import DigitsDataset, stratified_split


def test_stratified_split_partitions_and_is_seeded():
    labels = np.repeat(np.arange(5), [10, 11, 12, 13, 14])
    a = stratified_split(labels, (0.6, 0.2, 0.2), seed=3)
    b = stratified_split(labels, (0.6, 0.2, 0.2), seed=3)
    c = stratified_split(labels, (0.6, 0.2, 0.2), seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    merged = np.sort(np.concatenate(a))
    assert np.array_equal(merged, np.arange(len(labels)))
    # every class keeps its proportions up to rounding
    for cls in range(5):
        count = (labels == cls).sum()
        assert abs((labels[a[0]] == cls).sum() - 0.6 * count) <= 1


@pytest.mark.parametrize('sizes', [(0.5, 0.6), (0.0, 1.0), (1.2, -0.2)])
def test_stratified_split_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match='split sizes'):
        stratified_split([0, 1], sizes, seed=0)


def test_digits_splits_are_disjoint_and_cover_all_images():
    parts = {s: DigitsDataset(split=s, img_size=8) for s in ('train', 'reward', 'test')}
    ids = {s: {d['source_idx'] for d in ds.data_list} for s, ds in parts.items()}
    assert not ids['train'] & ids['reward'] and not ids['train'] & ids['test'] and not ids['reward'] & ids['test']
    assert len(ids['train'] | ids['reward'] | ids['test']) == 1797
    assert len(parts['train']) == pytest.approx(0.6 * 1797, abs=10)


def test_digits_images_are_uint8_hwc_upsampled():
    ds = DigitsDataset(split='test', img_size=24, max_samples=5, pipeline=[])
    item = ds[0]
    assert item['img'].shape == (24, 24, 3) and item['img'].dtype == np.uint8
    assert item['img'].max() > 200 and item['img'].min() == 0  # strokes reach near-white, background is 0
    assert np.array_equal(item['img'][..., 0], item['img'][..., 2])
    assert item['img_shape'] == (24, 24) and 0 <= item['gt_label'] <= 9
    assert len(ds) == 5


def test_digits_same_seed_same_split_other_seed_differs():
    a = [d['source_idx'] for d in DigitsDataset(split='reward', img_size=8, seed=1).data_list]
    b = [d['source_idx'] for d in DigitsDataset(split='reward', img_size=8, seed=1).data_list]
    c = [d['source_idx'] for d in DigitsDataset(split='reward', img_size=8, seed=2).data_list]
    assert a == b and a != c


@pytest.mark.parametrize('kwargs,match', [(dict(split='val'), 'split'), (dict(img_size=4), 'img_size'),
                                          (dict(split_sizes=(0.5, 0.5)), 'split_sizes')])
def test_digits_bad_arguments_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DigitsDataset(**kwargs)
