"""Dataset arguments of the wrong type are refused by name when the dataset is built."""
from __future__ import annotations

import pytest
from mmengine.dataset import BaseDataset

from automl_mm.datasets import CIFAR10Dataset, DigitsDataset, NoisyLabelDataset


class _ThreeLabels(BaseDataset):
    """12 items of labels 0, 1, 2 and no class names (NoisyLabelDataset needs num_classes)."""

    def load_data_list(self) -> list[dict]:
        return [{'gt_label': i % 3} for i in range(12)]


def test_cifar_data_root_none_is_named():
    # failed in os.path.join: "expected str, bytes or os.PathLike object, not NoneType"
    with pytest.raises(ValueError, match='CIFAR10Dataset.data_root must be the extracted "cifar-10-batches-py" '
                                         'folder, got None'):
        CIFAR10Dataset(data_root=None)


@pytest.mark.parametrize('ratio', ['0.2', None])
def test_noise_ratio_that_is_no_number_is_named(ratio):
    with pytest.raises(ValueError, match=f'noise_ratio must be a number in \\[0, 1\\), got {ratio!r}'):
        NoisyLabelDataset(DigitsDataset(img_size=8, max_samples=10), noise_ratio=ratio)


def test_a_fractional_num_classes_is_refused_not_truncated():
    # 3.5 classes flipped labels among int(3.5) = 3, silently
    with pytest.raises(ValueError, match=r'NoisyLabelDataset\.num_classes must be an int >= 0, got 3\.5'):
        NoisyLabelDataset(_ThreeLabels(), noise_ratio=0.5, num_classes=3.5)
    assert NoisyLabelDataset(_ThreeLabels(), noise_ratio=0.5, num_classes=3).num_classes == 3
