"""A Fashion-MNIST idx file present both plain and as .gz: both copies must hold the same data."""
from __future__ import annotations

import os

import numpy as np
import pytest
from test_fashion_mnist import _write, write_fashion

from automl_mm.datasets import FashionMNISTDataset


def test_a_plain_file_and_its_gz_that_differ_are_refused_naming_both(tmp_path):
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=True)
    # a stale plain labels file beside the download (other labels, the same count): it was read, the .gz ignored
    _write(os.path.join(root, 't10k-labels-idx1-ubyte'), (np.arange(7)[::-1] % 10).astype(np.uint8), compress=False)
    with pytest.raises(ValueError, match=r't10k-labels-idx1-ubyte \(7,\) and .*t10k-labels-idx1-ubyte\.gz \(7,\) '
                                         'hold different data'):
        FashionMNISTDataset(split='test', data_root=root, pipeline=[])


def test_a_plain_copy_of_the_gz_reads_as_before(tmp_path):
    root = write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=True)
    gz = [d['gt_label'] for d in FashionMNISTDataset(split='test', data_root=root, pipeline=[]).data_list]
    write_fashion(tmp_path / 'fm', n_train_per_class=6, compress=False)  # gunzip -k: both copies, the same data
    both = [d['gt_label'] for d in FashionMNISTDataset(split='test', data_root=root, pipeline=[]).data_list]
    assert both == gz == [i % 10 for i in range(7)]
