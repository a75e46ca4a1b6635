"""The ``Examples:`` blocks of the dataset and metric modules run as written (the noisy-label one printed numpy 2's
``np.True_`` where it showed ``True``)."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ('automl_mm.datasets.digits', 'automl_mm.datasets.noisy_labels', 'automl_mm.datasets.splits',
           'automl_mm.datasets.synthetic_coco', 'automl_mm.datasets.coco_split', 'automl_mm.datasets.transforms',
           'automl_mm.datasets.torchvision_augment', 'automl_mm.evaluation.accuracy')


@pytest.mark.parametrize('name', MODULES)
def test_examples_run_as_written(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
