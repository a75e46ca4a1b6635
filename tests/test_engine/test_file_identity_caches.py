"""Caches of what was read from a file are keyed by :func:`automl_mm.utils.file_identity.file_identity`: they were
keyed by path, size and mtime, and a file replaced by another of the same size and mtime (``cp -p`` rewrites it in
place and sets the mtime back; ``rsync -t`` renames a new file over it) was served from the cache: the old metafile,
Fashion-MNIST labels or CIFAR-10 batches, silently."""
from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pytest

from automl_mm.datasets import cifar
from automl_mm.datasets import fashion_mnist as fm
from automl_mm.engine.config_metafiles import memoised_metafile_load
from automl_mm.utils.file_identity import file_identity

from conftest import write_cifar

HOW = ['in_place', 'renamed_over']  # cp -p / tar x over an existing file, rsync -t / os.replace


def _replace_keeping_size_and_mtime(path, data: bytes, how: str) -> None:
    """Put ``data`` (as long as the file) at ``path`` with the file's mtime (to the ns) kept."""
    before = os.stat(path)
    assert len(data) == before.st_size
    if how == 'in_place':
        with open(path, 'r+b') as f:
            f.write(data)
        target = path
    else:
        target = f'{path}.new'
        with open(target, 'wb') as f:
            f.write(data)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    for _ in range(100):  # the kernel stamps ctime from a coarse clock: set the mtime again until it has ticked
        if os.stat(target).st_ctime_ns != before.st_ctime_ns:
            break
        time.sleep(0.002)
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    if how != 'in_place':
        os.replace(target, path)
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


@pytest.mark.parametrize('how', HOW)
def test_the_identity_changes_when_the_file_is_replaced_and_not_otherwise(tmp_path, how):
    path = tmp_path / 'a.txt'
    path.write_bytes(b'one')
    first = file_identity(path)
    assert file_identity(str(path)) == first == file_identity(tmp_path / '.' / 'a.txt')
    os.symlink(path, tmp_path / 'link')
    assert file_identity(tmp_path / 'link') == first  # one file however reached
    _replace_keeping_size_and_mtime(path, b'two', how)
    assert file_identity(path) != first
    with pytest.raises(FileNotFoundError):
        file_identity(tmp_path / 'missing')


def test_the_identity_is_one_stat_without_resolving_the_path(tmp_path, monkeypatch):
    """The identity held the path's ``os.path.realpath``, which ``lstat``-s each of its components: the metafile
    cache's warm look-up of mmdet's 102 metafiles took 37 ms instead of 5 (device and inode already name the file)."""
    path = tmp_path / 'a.txt'
    path.write_bytes(b'one')
    (stat, stats), (realpath, resolved) = (os.stat, []), (os.path.realpath, [])
    monkeypatch.setattr(os, 'stat', lambda p, *a, **k: stats.append(p) or stat(p, *a, **k))
    monkeypatch.setattr(os.path, 'realpath', lambda p, *a, **k: resolved.append(p) or realpath(p, *a, **k))
    identity = file_identity(path)
    monkeypatch.undo()
    assert identity.inode == os.stat(path).st_ino and len(stats) == 1 and resolved == []


@pytest.mark.parametrize('how', HOW)
def test_a_metafile_replaced_with_its_size_and_mtime_is_parsed_again(tmp_path, how):
    path = tmp_path / 'metafile.yml'
    path.write_text('a: 1\n')
    memoised = memoised_metafile_load(__import__('mmengine').fileio.load)
    assert memoised(str(path)) == {'a': 1} == memoised(str(path))
    _replace_keeping_size_and_mtime(path, b'a: 2\n', how)
    assert memoised(str(path)) == {'a': 2}


@pytest.mark.parametrize('how', HOW)
def test_fashion_mnist_labels_replaced_with_their_size_and_mtime_are_read_again(tmp_path, how):
    from test_datasets.test_fashion_mnist import _idx_bytes, write_fashion

    root = write_fashion(tmp_path / 'fm', n_train_per_class=1, n_test=1, compress=False)
    fm._load_part.cache_clear()
    labels = fm.load_fashion_mnist(root, 'train')[1]
    new = labels[::-1].astype(np.uint8)
    _replace_keeping_size_and_mtime(os.path.join(root, 'train-labels-idx1-ubyte'), _idx_bytes(new), how)
    assert fm.load_fashion_mnist(root, 'train')[1].tolist() == new.tolist() != labels.tolist()
    fm._load_part.cache_clear()


@pytest.mark.parametrize('how', HOW)
def test_cifar_batches_replaced_with_their_size_and_mtime_are_read_again(tmp_path, how, monkeypatch):
    root = write_cifar(str(tmp_path / 'c'), n_per_batch=10)
    path = os.path.join(root, 'data_batch_1')
    with open(path, 'rb') as f:
        batch = pickle.load(f, encoding='bytes')
    batch[b'labels'] = [(label + 1) % 10 for label in batch[b'labels']]  # other labels, as many bytes
    digests = cifar._training_digests(root)
    reads = []
    read = cifar.read_cifar_batch
    monkeypatch.setattr(cifar, 'read_cifar_batch', lambda p: reads.append(p) or read(p))
    dataset = cifar.CIFAR10Dataset(root, split='train', reward_size=10, lazy_init=True)
    dataset.check_sources()
    assert len(reads) == 5
    dataset.check_sources()
    assert len(reads) == 5  # (kept)
    _replace_keeping_size_and_mtime(path, pickle.dumps(batch, protocol=2), how)
    dataset.check_sources()
    assert len(reads) == 10  # the start checks' labels: read again
    assert cifar._training_digests(root) != digests  # the data check's digests: computed again
