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


def test_exact_total_split_meets_every_part_size_within_each_class_quota():
    """exact_total: parts sized by the rounding of sizes x N over all items, each class's share within one of its
    quota; where per-class rounding already meets the sizes (55,000 / 5,000 of Fashion-MNIST) nothing changes."""
    rng = np.random.default_rng(0)
    for case in range(300):
        counts = rng.integers(1, 40, size=rng.integers(1, 12))
        labels = np.repeat(np.arange(len(counts)), counts)
        sizes = rng.dirichlet(np.ones(rng.integers(2, 4)))
        parts = stratified_split(labels, sizes, case, exact_total=True)
        exact = sizes * len(labels)
        assert all(np.floor(e) <= len(p) <= np.ceil(e) for e, p in zip(exact, parts))
        assert sum(map(len, parts)) == len(labels) and len(np.unique(np.concatenate(parts))) == len(labels)
        for j, part in enumerate(parts):
            per_class = np.bincount(labels[part], minlength=len(counts))
            assert np.all(np.floor(sizes[j] * counts) <= per_class) and np.all(per_class <= np.ceil(sizes[j] * counts))
    labels = np.repeat(np.arange(10), 6000)
    plain, exact = (stratified_split(labels, (11 / 12, 1 / 12), 0, exact_total=e) for e in (False, True))
    assert all(np.array_equal(a, b) for a, b in zip(plain, exact)) and len(exact[1]) == 5000
    assert [len(p) for p in stratified_split(np.repeat(np.arange(10), 100), (0.995, 0.005), 0, exact_total=True)] \
        == [995, 5]


@pytest.mark.parametrize('classes, match', [
    (tuple('012345678'), r"DigitsDataset: metainfo\.classes gives 9 class names, but scikit-learn's digits has 10 "
                         r'classes \(labels 0\.\.9\)'),
    (tuple('0123456789') + ('ten', ), r'metainfo\.classes gives 11 class names, but .* has 10 classes'),
])
def test_digits_metainfo_classes_of_another_count_are_refused(classes, match):
    """9 names for the 10 digits were accepted: label 9 had no name and exported class names were wrong."""
    with pytest.raises(ValueError, match=match):
        DigitsDataset(split='test', img_size=8, metainfo=dict(classes=classes), lazy_init=True)


def test_digits_metainfo_classes_naming_the_ten_digits_still_builds():
    names = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
    ds = DigitsDataset(split='test', img_size=8, max_samples=4, metainfo=dict(classes=names))
    assert ds.metainfo['classes'] == names and len(ds) == 4
