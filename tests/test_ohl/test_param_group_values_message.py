"""The refusal of one value over optimiser groups that ``paramwise_cfg`` made differ summarises many groups.

Input that showed it: a Faster R-CNN (ResNet-18) under ``paramwise_cfg=dict(norm_decay_mult=0.)`` has 90 groups
(mmengine makes one per parameter); an ``AttributeSpace`` over ``...param_groups.*.weight_decay`` was refused with
all 90 values listed."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from automl_mm.ohl.ownership import check_owned_attribute

PATH = 'optim_wrapper.optimizer.param_groups.*.weight_decay'


def _runner(values):
    groups = [{'weight_decay': v} for v in values]
    return SimpleNamespace(optim_wrapper=SimpleNamespace(optimizer=SimpleNamespace(param_groups=groups)),
                           param_schedulers=[])


def test_many_groups_are_counted_by_value():
    with pytest.raises(ValueError, match=r'hold different values \(90 groups: 0\.0001 in 54, 0\.0 in 36\) '
                                         r'\(paramwise_cfg') as err:
        check_owned_attribute(_runner([1e-4, 0.0, 0.0] * 18 + [1e-4] * 36), PATH, 'me')
    assert '0.0001, 0.0' not in str(err.value)


def test_a_few_groups_are_listed():
    with pytest.raises(ValueError, match=r'hold different values \[0\.0001, 0\.0\]'):
        check_owned_attribute(_runner([1e-4, 0.0]), PATH, 'me')
