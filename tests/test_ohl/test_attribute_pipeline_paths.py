"""A path into a dataset's pipeline that indexes the ``Compose`` itself is refused with the path that reaches it.

Input that showed it (end to end, tools/train.py): an ``AttributeSpace`` on an OHL-Auto-Aug element's magnitude
written as the config spells the pipeline, ``train_dataloader.dataset.pipeline.1.elements.0.magnitude``, stopped at
start with ``Compose has no attribute '1'`` and no way forward (and ``BaseAugmentOp.magnitude``'s docstring named
``pipeline.<i>.ops.<j>.magnitude``, a path no transform has): mmengine's / mmcv's ``Compose`` keeps its transforms
in ``.transforms``, so the path is ``...pipeline.transforms.1.elements.0.magnitude``."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmengine.dataset import Compose

from automl_mm.augment.policy import OHLAutoAugment
from automl_mm.ohl.attributes import get_attribute, set_attribute


def _runner():
    pipeline = Compose([dict(type='mmcv.RandomFlip', prob=0.5),
                        OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Identity',)])])
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=pipeline)))


@pytest.mark.parametrize('part', ['1', '*'])
def test_an_index_into_a_compose_is_refused_naming_the_transforms_path(part):
    path = f'train_dataloader.dataset.pipeline.{part}.elements.0.magnitude'
    fixed = f'train_dataloader.dataset.pipeline.transforms.{part}.elements.0.magnitude'
    with pytest.raises(ValueError, match=re.escape(f"Compose keeps its transforms in .transforms: target {fixed}")):
        set_attribute(_runner(), path, 30)


def test_the_transforms_path_writes_the_element_magnitude():
    runner = _runner()
    set_attribute(runner, 'train_dataloader.dataset.pipeline.transforms.1.elements.0.magnitude', 30)
    assert get_attribute(runner, 'train_dataloader.dataset.pipeline.transforms.1.elements.0.magnitude') == [30]
    assert runner.train_dataloader.dataset.pipeline.transforms[1].elements[0].name == 'Rotate(30)'


def test_a_path_ending_in_an_index_into_a_compose_names_the_transforms_path_too():
    with pytest.raises(ValueError, match=re.escape('target train_dataloader.dataset.pipeline.transforms.0')):
        set_attribute(_runner(), 'train_dataloader.dataset.pipeline.0', None)
