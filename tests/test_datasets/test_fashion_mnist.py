from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

from automl_mm.datasets import FashionMNISTDataset, read_idx
from automl_mm.datasets import fashion_mnist as fm
from automl_mm.registry import DATASETS

SYSTEM_ROOT = '/usr/share/datasets/fashion-mnist'


def _idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f'>{array.ndim}I', *array.shape) + array.tobytes()


def _write(path, array: np.ndarray, compress: bool) -> None:
    data = _idx_bytes(array)
    if compress:
        with gzip.open(str(path) + '.gz', 'wb') as f:
            f.write(data)
    else:
        with open(path, 'wb') as f:
            f.write(data)


def write_fashion(root, n_train_per_class=6, n_test=7, compress=True):
    """A tiny Fashion-MNIST folder: image i is filled with value i % 256, and pixel (0, 1) holds its label."""
    os.makedirs(root, exist_ok=True)
    for part, n in (('train', 10 * n_train_per_class), ('t10k', n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.repeat((np.arange(n) % 256).astype(np.uint8)[:, None, None], 28, 1).repeat(28, 2)
        images[:, 0, 1] = labels
        _write(os.path.join(root, f'{part}-images-idx3-ubyte'), images, compress)
        _write(os.path.join(root, f'{part}-labels-idx1-ubyte'), labels, compress)
    return str(root)


@pytest.mark.parametrize('compress', [True, False])
def test_read_idx_parses_header_and_row_major_bytes(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write(tmp_path / 'a', array, compress)
    got = read_idx(str(tmp_path / ('a.gz' if compress else 'a')), ndim=3)
    assert got.shape == (2, 3, 4) and got.dtype == np.uint8
    assert got[1, 2, 3] == 23 and got[0, 1, 0] == 4


def test_read_idx_errors_name_the_file(tmp_path):
    good = _idx_bytes(np.zeros((2, 28, 28), np.uint8))
    cases = {'truncated': good[:-5], 'magic': b'\x00\x00\x0d\x03' + good[4:], 'header': good[:9]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match=r'truncated: 1579 bytes, its header \(2, 28, 28\) needs 1584'):
        read_idx(str(tmp_path / 'truncated'))
    with pytest.raises(ValueError, match='magic 00000d03'):
        read_idx(str(tmp_path / 'magic'))
    with pytest.raises(ValueError, match='header'):
        read_idx(str(tmp_path / 'header'))
    with pytest.raises(ValueError, match='expected 1 dimensions'):
        (tmp_path / 'ok').write_bytes(good)
        read_idx(str(tmp_path / 'ok'), ndim=1)
    # Sizes whose product passes 2**64 (2**31 x 2**31 x 4) wrapped to 0 in int64: a header-only file passed the
    # length check and numpy's reshape error named no file.
    (tmp_path / 'huge').write_bytes(bytes([0, 0, 8, 3]) + struct.pack('>3I', 2**31, 2**31, 4))
    with pytest.raises(ValueError, match=r'huge is truncated: 16 bytes, its header \(2147483648, 2147483648, 4\) '
                                         r'needs 18446744073709551632'):
        read_idx(str(tmp_path / 'huge'))
    # A gzip stream cut short is reported as such, with its path.
    with gzip.open(tmp_path / 'cut.gz', 'wb') as f:
        f.write(good)
    (tmp_path / 'cut.gz').write_bytes((tmp_path / 'cut.gz').read_bytes()[:30])
    with pytest.raises(ValueError, match='cut.gz'):
        read_idx(str(tmp_path / 'cut.gz'))


def test_splits_are_seeded_disjoint_stratified_and_read_the_right_pixels(tmp_path):
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, n_test=7)
    kw = dict(data_root=root, reward_size=20, seed=3, pipeline=[])
    train, reward, test = (FashionMNISTDataset(split=s, **kw) for s in ('train', 'reward', 'test'))
    assert (len(train), len(reward), len(test)) == (40, 20, 7)
    src = {name: [ds.get_data_info(i)['source_idx'] for i in range(len(ds))]
           for name, ds in (('train', train), ('reward', reward))}
    assert not set(src['train']) & set(src['reward'])
    assert sorted(src['train'] + src['reward']) == list(range(60))
    assert np.bincount([ds_label % 10 for ds_label in src['reward']], minlength=10).tolist() == [2] * 10
    item = test[5]
    assert item['img'].shape == (28, 28, 3) and item['img'].dtype == np.uint8
    assert item['gt_label'] == 5 and item['img'][3, 3, 2] == 5 and item['img'][0, 1, 0] == 5
    again = FashionMNISTDataset(split='reward', **kw)
    assert [again.get_data_info(i)['source_idx'] for i in range(len(again))] == src['reward']
    other = FashionMNISTDataset(split='reward', **dict(kw, seed=4))
    assert [other.get_data_info(i)['source_idx'] for i in range(len(other))] != src['reward']


def test_per_class_subset_and_max_samples(tmp_path):
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=False)
    ds = FashionMNISTDataset(split='train', data_root=root, reward_size=10, samples_per_class=3, pipeline=[])
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert np.bincount(labels, minlength=10).tolist() == [3] * 10
    assert all(ds.get_data_info(i)['source_idx'] % 10 == labels[i] for i in range(len(ds)))
    assert len(FashionMNISTDataset(split='test', data_root=root, max_samples=4, pipeline=[])) == 4
    # whole floats pass the count check: they used to crash later (slice indices, a per-class count)
    assert len(FashionMNISTDataset(split='test', data_root=root, max_samples=4.0, pipeline=[])) == 4
    assert len(FashionMNISTDataset(split='train', data_root=root, reward_size=10.0, samples_per_class=3.0,
                                   pipeline=[])) == 30
    with pytest.raises(ValueError, match='samples_per_class=6 but class 0 has only 5'):
        FashionMNISTDataset(split='train', data_root=root, reward_size=10, samples_per_class=6, pipeline=[])


def test_the_arrays_load_fashion_mnist_shares_cannot_be_written(tmp_path):
    """load_fashion_mnist returns the arrays it keeps for every later call: a caller that wrote a label in place (label
    noise added to the array it was given) changed the labels of every FashionMNISTDataset built after it."""
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=False)
    images, labels = fm.load_fashion_mnist(root, 'train')
    with pytest.raises(ValueError, match='read-only'):
        labels[0] = 9
    with pytest.raises(ValueError, match='read-only'):
        images[0, 0, 0] = 9
    ds = FashionMNISTDataset(split='train', data_root=root, reward_size=10, pipeline=[])
    assert all(ds.get_data_info(i)['gt_label'] == ds.get_data_info(i)['source_idx'] % 10 for i in range(len(ds)))


def test_missing_and_bad_files_name_the_path(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match='dataset-fashion-mnist'):
        FashionMNISTDataset(data_root=str(tmp_path / 'nowhere'))
    root = write_fashion(tmp_path / 'fm')
    os.remove(os.path.join(root, 't10k-labels-idx1-ubyte.gz'))
    with pytest.raises(FileNotFoundError, match=r't10k-labels-idx1-ubyte\[\.gz\]'):
        FashionMNISTDataset(split='test', data_root=root)
    labels = os.path.join(root, 'train-labels-idx1-ubyte.gz')
    with gzip.open(labels, 'wb') as f:
        f.write(_idx_bytes(np.zeros(59, np.uint8)))
    with pytest.raises(ValueError, match='holds 60 images but .*train-labels-idx1-ubyte.gz holds 59 labels'):
        FashionMNISTDataset(split='train', data_root=root, reward_size=10)
    monkeypatch.setattr(fm, 'DEFAULT_ROOTS', (str(tmp_path / 'a'), str(tmp_path / 'b')))
    with pytest.raises(FileNotFoundError, match=f'{tmp_path}/a or {tmp_path}/b'):
        FashionMNISTDataset()
    with pytest.raises(ValueError, match='split must be one of'):
        FashionMNISTDataset(split='val', data_root=root)


def test_default_root_prefers_the_repository_data_folder(tmp_path, monkeypatch):
    local = write_fashion(tmp_path / 'data' / 'fashion-mnist')
    monkeypatch.setattr(fm, 'DEFAULT_ROOTS', (local, SYSTEM_ROOT))
    ds = DATASETS.build(dict(type='FashionMNISTDataset', split='test', pipeline=[]))
    assert ds.data_root == local and len(ds) == 7


@pytest.mark.skipif(not os.path.isdir(SYSTEM_ROOT), reason='the Debian package dataset-fashion-mnist is not installed')
def test_the_installed_files_have_the_official_sizes():
    train = FashionMNISTDataset(split='train', data_root=SYSTEM_ROOT, samples_per_class=2, pipeline=[])
    test = FashionMNISTDataset(split='test', data_root=SYSTEM_ROOT, pipeline=[])
    images, labels = fm.load_fashion_mnist(SYSTEM_ROOT, 'train')
    assert images.shape == (60000, 28, 28) and np.bincount(labels).tolist() == [6000] * 10
    assert len(train) == 20 and len(test) == 10000
    assert int(labels[0]) == 9  # the first training image of Fashion-MNIST is an ankle boot


@pytest.mark.parametrize('reward_size', [5, 15, 23, 49])
def test_reward_size_is_met_exactly_when_classes_cannot_share_it_evenly(tmp_path, reward_size):
    """Per-class rounding used to give 10 classes asking for 5 reward images none (every class's 0.5 went to
    train), and 15 gave 10; the split is still stratified: each class's share is its quota rounded down or up.
    (59, beside 5, 15 and 23 until the fifty-seventh session, gave 9 classes all 6 of their images as reward images
    and is now refused: test_class_without_training_image.)"""
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6)
    kw = dict(data_root=root, reward_size=reward_size, seed=0, pipeline=[])
    train, reward = (FashionMNISTDataset(split=s, **kw) for s in ('train', 'reward'))
    assert (len(train), len(reward)) == (60 - reward_size, reward_size)
    per_class = np.bincount([reward.get_data_info(i)['gt_label'] for i in range(len(reward))], minlength=10)
    quota = reward_size / 10
    assert all(np.floor(quota) <= n <= np.ceil(quota) for n in per_class), per_class


def test_a_label_outside_the_classes_is_refused(tmp_path):
    """A label 200 was kept (an evaluation counted it as a wrong prediction, silently)."""
    root = write_fashion(tmp_path / 'fm', compress=False)
    labels = (np.arange(60) % 10).astype(np.uint8)
    labels[3] = 200
    _write(os.path.join(root, 'train-labels-idx1-ubyte'), labels, compress=False)
    with pytest.raises(ValueError, match=r'train-labels-idx1-ubyte: label 200 outside the 10 Fashion-MNIST classes'):
        FashionMNISTDataset(data_root=root, split='train', reward_size=10)


@pytest.mark.parametrize('classes, match', [
    (('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag'),
     r'metainfo\.classes gives 9 class names, but Fashion-MNIST \(the idx files of .*fm\) has 10 classes'),
    (tuple('abcdefghijk'), r'metainfo\.classes gives 11 class names, but .* has 10 classes'),
    ('Trouser', r'metainfo\.classes must be a list or tuple of class names'),
    (tuple('abcdefghia'), r"metainfo\.classes names 'a' more than once"),
])
def test_metainfo_classes_that_do_not_name_the_ten_labels_are_refused_before_reading(tmp_path, monkeypatch,
                                                                                      classes, match):
    """metainfo=dict(classes=<9 names>) was read and never checked: label 9 had no name, and the class names
    exported with the metrics (and a NoisyLabelDataset sized by them) were wrong, silently."""
    root = write_fashion(tmp_path / 'fm', compress=False)
    monkeypatch.setattr(fm, 'read_idx', lambda *a, **k: pytest.fail('the data was read'))
    for lazy in (True, False):  # the preflight build is lazy
        with pytest.raises(ValueError, match=match):
            FashionMNISTDataset(data_root=root, split='train', reward_size=10, metainfo=dict(classes=classes),
                                lazy_init=lazy)


def test_metainfo_classes_renaming_the_ten_labels_still_builds(tmp_path):
    root = write_fashion(tmp_path / 'fm', compress=False)
    names = tuple(f'class {i}' for i in range(10))
    ds = DATASETS.build(dict(type='FashionMNISTDataset', data_root=root, split='test', metainfo=dict(classes=names)))
    assert ds.metainfo['classes'] == names and len(ds) == 7


def test_a_data_root_that_is_no_folder_is_named_before_the_install_hint(tmp_path):
    """A user's own wrong path was answered with the install hint alone (install the package, or use
    data/fashion-mnist): it says the given folder is wrong and how to fall back to the installed files."""
    from automl_mm.datasets.fashion_mnist import find_data_root

    with pytest.raises(FileNotFoundError, match=r"data_root is not a folder: .*nowhere\. Give the folder holding the "
                                                r"four idx files, or data_root=None to read "):
        find_data_root(str(tmp_path / 'nowhere'))


def test_item_source_hashes_the_loaded_images_without_reading_the_files_again(tmp_path, monkeypatch):
    """item_source() read the idx part again for every dataset whose part the two-part cache had let go (a third
    part read in between): here every call after a cache eviction read the two training files again. Now the
    array the dataset loaded is hashed, once per array in the process; the digest is the images' and survives a
    pickle (a spawned worker), without the array."""
    import pickle

    from automl_mm.datasets.content import array_digest

    reads = []
    original = fm._read_copies
    monkeypatch.setattr(fm, '_read_copies', lambda paths, ndim: reads.append(paths[0]) or original(paths, ndim))
    fm._load_part.cache_clear()
    root = write_fashion(tmp_path / 'fm')
    train = FashionMNISTDataset(split='train', data_root=root, reward_size=20, pipeline=[])
    reward = FashionMNISTDataset(split='reward', data_root=root, reward_size=20, pipeline=[])
    assert len(reads) == 2  # the training images and labels, once for both splits
    expected = array_digest(fm.load_fashion_mnist(root, 'train')[0])
    fm._load_part.cache_clear()  # as a third and fourth part read in between do
    del reads[:]
    assert train.item_source() == reward.item_source() == expected
    assert reads == []
    copied = pickle.loads(pickle.dumps(reward))
    assert '_part_images' not in vars(copied) and copied.item_source() == expected and reads == []
