"""The generators' whole-number arguments (image counts, sizes, threshold) are ints, or refused by name."""
from __future__ import annotations

import pytest

from automl_mm.datasets import generate_coco, generate_fmnist_det


@pytest.mark.parametrize('kwargs, key', [
    (dict(num_train=1.5), 'num_train'),  # failed inside numpy: "'float' object cannot be interpreted as an integer"
    (dict(img_size=64.5), 'img_size'),
    (dict(max_objects=2.5), 'max_objects'),  # drew up to 3 objects an image while the settings file said 2
    (dict(num_val=True), 'num_val'),  # a bool made one image
])
def test_generate_coco_refuses_counts_that_are_not_ints(tmp_path, kwargs, key):
    with pytest.raises(ValueError, match=f'{key} must be an int >= '):
        generate_coco(str(tmp_path / 'set'), **{**dict(num_train=2, num_val=1, img_size=64), **kwargs})
    assert not (tmp_path / 'set').exists()


@pytest.mark.parametrize('kwargs, key', [
    (dict(img_size=150.5), 'img_size'),  # generated a 150-px set without a word
    (dict(threshold=16.5), 'threshold'),  # used 16
    (dict(num_test=True), 'num_test'),
    (dict(max_objects=2.5), 'max_objects'),
])
def test_generate_fmnist_det_refuses_counts_that_are_not_ints(tmp_path, kwargs, key):
    # refused before the Fashion-MNIST files are looked for (this data_root does not exist)
    with pytest.raises(ValueError, match=f'{key} must be an int >= '):
        generate_fmnist_det(str(tmp_path / 'set'), **{**dict(num_train=1, num_reward=1, num_val=1, num_test=1,
                                                           img_size=128, data_root=str(tmp_path / 'none')), **kwargs})
