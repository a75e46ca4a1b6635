"""Counts of copies and ranks: a world size that is not ``num_copies x ranks_per_copy`` is refused, and a bool is
not a count for OHLHook."""
from __future__ import annotations

import pytest

from automl_mm.ohl import init_copy_layout
from tests.test_ohl._spaces import _fresh_layout  # noqa: F401  (autouse)


def test_layout_rejects_a_world_size_that_does_not_fit():
    with pytest.raises(ValueError, match=r'world size 1 does not fit .*num_copies \(4\) x ranks_per_copy \(1\)'):
        init_copy_layout(4, 1)
    with pytest.raises(ValueError, match='ranks_per_copy must be a positive integer'):
        init_copy_layout(1, 0)
    layout = init_copy_layout(1, 1)
    assert (layout.copy_id, layout.rank_in_copy, layout.is_lead) == (0, 0, True)


@pytest.mark.parametrize('key', ['num_copies', 'trunk_epochs', 'broadcast_interval', 'bn_recalibration_batches'])
def test_a_bool_is_not_a_count(key):
    from automl_mm.ohl import OHLHook

    cfg = dict(spaces=[dict(type='PipelineChoiceSpace', key='aug')], num_copies=2, reward_key='acc', trunk_epochs=1)
    with pytest.raises(ValueError, match=rf'{key} must be a (non-negative|positive) integer.*got True'):
        OHLHook(**{**cfg, key: True})
