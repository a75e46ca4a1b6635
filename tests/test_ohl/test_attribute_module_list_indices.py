"""Integers index an ``nn.ModuleList`` / ``nn.Sequential`` in attribute paths as they index a list (the module
docstring: "integers index lists, tuples and those containers"), negative ones included: a Cascade R-CNN's last
stage is ``bbox_head.-1``; an index out of range names the range."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch import nn

from automl_mm.ohl import get_attribute, set_attribute


def _runner():
    return SimpleNamespace(model=SimpleNamespace(stages=nn.ModuleList([nn.Dropout(0.1), nn.Dropout(0.2)]),
                                                 seq=nn.Sequential(nn.Dropout(0.3), nn.Dropout(0.4))))


@pytest.mark.parametrize('container, values', [('stages', [0.1, 0.2]), ('seq', [0.3, 0.4])])
def test_a_negative_index_counts_from_the_end_as_in_a_list(container, values):
    """It was refused: "ModuleList has no attribute '-1'"."""
    runner = _runner()
    assert get_attribute(runner, f'model.{container}.-1.p') == [values[-1]]
    set_attribute(runner, f'model.{container}.-2.p', 0.9)
    assert get_attribute(runner, f'model.{container}.*.p') == [0.9, values[-1]]


def test_an_index_out_of_range_names_the_range():
    with pytest.raises(ValueError, match=r'index 5 at position 2 out of range for a ModuleList of 2'):
        get_attribute(_runner(), 'model.stages.5.p')
