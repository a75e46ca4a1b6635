from __future__ import annotations

import os

import numpy as np
import pytest
from mmengine.logging import MMLogger

from automl_mm.datasets import CIFAR10Dataset, DigitsDataset
from automl_mm.datasets.noisy_labels import NoisyLabelDataset
from automl_mm.registry import DATASETS

from conftest import write_cifar

PACK = [dict(type='PackClsInputs')]


def _digits(split='train', pipeline=None, **kwargs):
    return DigitsDataset(split=split, img_size=8, max_samples=100, pipeline=pipeline or [], **kwargs)


def _labels(ds):
    return np.asarray([ds.get_data_info(i)['gt_label'] for i in range(len(ds))])


@pytest.mark.parametrize('ratio, expected', [(0.0, 0), (0.2, 20), (0.375, 38), (0.99, 99)])
def test_flips_exactly_round_ratio_n_labels_each_to_another_class(ratio, expected):
    clean = _labels(_digits())
    ds = NoisyLabelDataset(_digits(), noise_ratio=ratio, seed=1)
    noisy = _labels(ds)
    assert len(ds) == 100 and ds.metainfo['classes'] == tuple(str(i) for i in range(10))
    assert np.array_equal(ds.clean_labels, clean)
    assert len(ds.noisy_indices) == expected and np.array_equal(ds.noisy_indices, np.sort(ds.noisy_indices))
    assert np.array_equal(np.flatnonzero(noisy != clean), ds.noisy_indices)  # flipped = changed, nothing else
    assert noisy.min() >= 0 and noisy.max() < 10


def test_noise_is_symmetric_over_the_other_classes():
    ds = NoisyLabelDataset(DigitsDataset(split='train', img_size=8, pipeline=[]), noise_ratio=0.9, seed=0)
    clean, noisy = ds.clean_labels[ds.noisy_indices], _labels(ds)[ds.noisy_indices]
    offsets = (noisy - clean) % 10
    counts = np.bincount(offsets, minlength=10)
    assert counts[0] == 0 and len(offsets) == round(0.9 * len(ds))
    # ~970 flips over 9 offsets: each about 108; a uniform draw stays within +-40 with overwhelming probability
    assert np.all(np.abs(counts[1:] - len(offsets) / 9) < 40)


def test_same_seed_same_flips_other_seed_other_flips():
    a = NoisyLabelDataset(_digits(), noise_ratio=0.3, seed=5)
    b = NoisyLabelDataset(_digits(), noise_ratio=0.3, seed=5)
    c = NoisyLabelDataset(_digits(), noise_ratio=0.3, seed=6)
    assert np.array_equal(a.noisy_indices, b.noisy_indices) and np.array_equal(_labels(a), _labels(b))
    assert not np.array_equal(a.noisy_indices, c.noisy_indices)
    assert not np.array_equal(_labels(a), _labels(c))


@pytest.mark.parametrize('split', ['reward', 'test'])
def test_reward_and_test_splits_are_refused(split):
    with pytest.raises(ValueError, match=split):
        NoisyLabelDataset(_digits(split=split), noise_ratio=0.1)
    with pytest.raises(ValueError, match=split):
        NoisyLabelDataset(dict(type='DigitsDataset', split=split, img_size=8, pipeline=[]), noise_ratio=0.1)


@pytest.mark.parametrize('ratio', [-0.1, 1.0, float('nan')])
def test_bad_noise_ratio_is_refused(ratio):
    with pytest.raises(ValueError, match='noise_ratio'):
        NoisyLabelDataset(_digits(), noise_ratio=ratio)


def test_bad_labels_and_wrapped_types_are_refused():
    with pytest.raises(ValueError, match=r'NoisyLabelDataset.num_classes=5, but the wrapped DigitsDataset has 10 '
                                         r'classes'):
        NoisyLabelDataset(_digits(), noise_ratio=0.1, num_classes=5)
    with pytest.raises(ValueError, match=r'num_classes=100, but .* has 10 classes'):  # flipped labels to 10..99
        NoisyLabelDataset(_digits(), noise_ratio=0.1, num_classes=100)
    with pytest.raises(ValueError, match='num_classes'):
        NoisyLabelDataset(_digits(), noise_ratio=0.1, num_classes=1)
    with pytest.raises(TypeError, match='BaseDataset'):
        NoisyLabelDataset([1, 2, 3], noise_ratio=0.1)


def test_pipeline_sees_the_noisy_label_and_flips_are_logged(monkeypatch):
    messages = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'info', lambda msg, *a, **k: messages.append(msg))
    ds = DATASETS.build(dict(type='NoisyLabelDataset', noise_ratio=0.25, seed=3,
                             dataset=dict(type='DigitsDataset', split='train', img_size=8, max_samples=40,
                                          pipeline=PACK)))
    assert any('flipped 10 of 40' in m and 'seed=3' in m for m in messages)
    for idx in ds.noisy_indices.tolist():
        out = ds[idx]
        label = out['data_samples'].gt_label.item()
        assert label == ds.get_data_info(idx)['gt_label'] != ds.clean_labels[idx]
        assert out['inputs'].shape == (3, 8, 8)


def test_the_log_counts_the_labels_of_a_serialised_dataset(monkeypatch):
    """Re-serialising emptied the list the log line counted: 'flipped 20 of 0 labels' for CIFAR's default."""
    messages = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'info', lambda msg, *a, **k: messages.append(msg))
    NoisyLabelDataset(_digits(serialize_data=True), noise_ratio=0.2, seed=0)
    assert any('flipped 20 of 100 labels' in m for m in messages), messages


def test_a_seed_of_none_is_refused():
    """default_rng(None) draws OS entropy: the train and reward splits of one config overlapped (210 digits images,
    4,587 Fashion-MNIST ones) and each rank flipped other labels."""
    from automl_mm.datasets.splits import stratified_split

    with pytest.raises(ValueError, match='NoisyLabelDataset.seed must be a non-negative int'):
        NoisyLabelDataset(_digits(), noise_ratio=0.2, seed=None)
    with pytest.raises(ValueError, match='DigitsDataset.seed must be a non-negative int'):
        _digits(seed=None)
    with pytest.raises(ValueError, match='seed must be a non-negative int'):
        stratified_split([0, 1, 0, 1], (0.5, 0.5), None)
    assert [len(p) for p in stratified_split([0, 1, 0, 1], (0.5, 0.5), np.int64(3))] == [2, 2]


def test_lazy_init_defers_the_flips():
    ds = NoisyLabelDataset(_digits(pipeline=PACK), noise_ratio=0.5, lazy_init=True)
    assert len(ds.noisy_indices) == 0 and not ds._fully_initialized
    assert len(ds) == 100 and len(ds.noisy_indices) == 50


@pytest.mark.parametrize('serialize_data', [True, False])
def test_cifar_serialized_and_plain_data_lists(tmp_path, serialize_data):
    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))
    cfg = dict(type='CIFAR10Dataset', data_root=root, split='train', reward_size=10, pipeline=PACK,
               serialize_data=serialize_data)
    clean = CIFAR10Dataset(**{k: v for k, v in cfg.items() if k != 'type'})
    ds = NoisyLabelDataset(cfg, noise_ratio=0.3, seed=0)
    assert ds.dataset.serialize_data is serialize_data and len(ds) == 90 and len(ds.noisy_indices) == 27
    assert np.array_equal(ds.clean_labels, _labels(clean))
    noisy = np.asarray([ds[i]['data_samples'].gt_label.item() for i in range(len(ds))])
    assert np.array_equal(np.flatnonzero(noisy != ds.clean_labels), ds.noisy_indices)
    # everything else in the data infos is untouched (the images, the source indices)
    for i in (0, int(ds.noisy_indices[0]), 89):
        a, b = ds.get_data_info(i), clean.get_data_info(i)
        assert np.array_equal(a['img'], b['img']) and a['source_idx'] == b['source_idx'] and a['sample_idx'] == i


@pytest.mark.parametrize('ratio', [0.2, 0.4])
def test_pairflip_sends_each_flipped_class_to_the_next(ratio):
    ds = NoisyLabelDataset(_digits(), noise_ratio=ratio, seed=3, noise_type='pairflip')
    noisy = _labels(ds)
    assert len(ds.noisy_indices) == round(ratio * 100)
    assert np.array_equal(np.flatnonzero(noisy != ds.clean_labels), ds.noisy_indices)
    assert np.array_equal(noisy[ds.noisy_indices], (ds.clean_labels[ds.noisy_indices] + 1) % 10)
    # the same seed chooses the same items as symmetric noise; only the new labels differ
    sym = NoisyLabelDataset(_digits(), noise_ratio=ratio, seed=3)
    assert np.array_equal(sym.noisy_indices, ds.noisy_indices)
    assert not np.array_equal(_labels(sym), noisy)


def test_bad_noise_type_is_refused():
    with pytest.raises(ValueError, match='noise_type'):
        NoisyLabelDataset(_digits(), noise_ratio=0.1, noise_type='asym')


FASHION = '/usr/share/datasets/fashion-mnist'


@pytest.mark.skipif(not os.path.isdir(FASHION), reason=f'Fashion-MNIST not installed in {FASHION}')
@pytest.mark.parametrize('noise_type', ['symmetric', 'pairflip'])
def test_noisy_fashion_mnist_train_split_only(noise_type):
    from automl_mm.datasets.fashion_mnist import FashionMNISTDataset

    cfg = dict(type='FashionMNISTDataset', split='train', samples_per_class=20, pipeline=[])
    ds = DATASETS.build(dict(type='NoisyLabelDataset', dataset=cfg, noise_ratio=0.4, seed=0, noise_type=noise_type))
    assert len(ds) == 200 and len(ds.noisy_indices) == 80
    noisy = _labels(ds)
    assert np.array_equal(np.flatnonzero(noisy != ds.clean_labels), ds.noisy_indices)
    if noise_type == 'pairflip':
        assert np.array_equal(noisy[ds.noisy_indices], (ds.clean_labels[ds.noisy_indices] + 1) % 10)
    for split in ('reward', 'test'):
        with pytest.raises(ValueError, match=split):
            NoisyLabelDataset(FashionMNISTDataset(split=split, max_samples=10, pipeline=[]), noise_ratio=0.4)


def test_an_evaluation_set_is_refused(tmp_path):
    """An image-folder val set has split='all' as a training one does: built with test_mode=True and wrapped, its
    labels were flipped and a model that classified every image right scored 1 - noise_ratio."""
    import cv2

    from automl_mm.datasets import ImageFolderDataset

    for cls in ('ant', 'bee'):
        os.makedirs(tmp_path / 'val' / cls)
        cv2.imwrite(str(tmp_path / 'val' / cls / 'a.png'), np.zeros((2, 2, 3), np.uint8))
    val = dict(type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path='val'))
    with pytest.raises(ValueError, match=r'ImageFolderDataset has test_mode=True \(an evaluation set\)'):
        NoisyLabelDataset(dict(val, test_mode=True), noise_ratio=0.5)
    assert len(NoisyLabelDataset(ImageFolderDataset(**{k: v for k, v in val.items() if k != 'type'}),
                                 noise_ratio=0.5).noisy_indices) == 1  # training data: flipped
