"""Mutation audit (forty-eighth session): ``OHLHook._end_trunk`` with the validity all-reduce of a copy of several
ranks (``copy_all_valid``) left out kept every test green: ``test_sharded_reward_reading.py`` checks the function,
and the real 2 x 2 run has no invalid rank. Without it the lead of a copy whose other rank holds non-finite BN
statistics (plain DDP keeps each rank's own) started the collective reward reading alone, and its other rank did not
join it. Here rank 0 of 2 copies x 2 ranks, the collectives replaced by their results (as ``test_hook_trunk_end.py``):
its copy's other rank is invalid, so the all-reduce gives False and the lead reads nothing."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import torch

from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.hook import OHLHook


def _end_trunk_of_a_lead(copy_valid: bool):
    """End trunk 0 on rank 0 (copy 0's lead, its own weights finite) of 2 copies x 2 ranks, the copy's all-reduced
    validity ``copy_valid``; returns (copy_all_valid calls, scorer calls, this rank's gathered row, history record,
    broadcast sources)."""
    hook = OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='acc', trunk_epochs=1, seed=0, verify_sync=False, reward_rule='greater')
    group = object()  # the copy's process group
    hook.layout = CopyLayout(2, 2, 0, 4, group)
    scored = []
    hook.scorer = SimpleNamespace(score=lambda model, group=None: scored.append(group) or (0.5, False),
                                  metric_names=lambda: ['acc'], reward_key='acc', rule='greater', sign=1.0)
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters = True, 4
    reduced, own = [], []

    def copy_all_valid(valid, grp, failure=None, what=''):
        reduced.append((valid, grp))
        return copy_valid

    def gather_rows(row):
        own.append(row.tolist())
        other = [0.0, float(copy_valid), 0.0, 0.0, -1.0, 1.0, 0.0]  # the copy's other rank (same per-copy sample)
        return torch.tensor([row.tolist(), other, [0.25, 1, 0, 0, -1, 0, 1], [0.0, 1, 0, 0, -1, 0, 1]],
                            dtype=torch.float64)

    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100)
    with mock.patch('automl_mm.ohl.copy_collectives.copy_all_valid', side_effect=copy_all_valid), \
            mock.patch('automl_mm.ohl.trunk_end.gather_rows', side_effect=gather_rows), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state') as broadcast:
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    return reduced, scored, own[0], hook.history[-1], [c.kwargs['src'] for c in broadcast.call_args_list], group


def test_a_lead_whose_copy_has_an_invalid_rank_does_not_read_the_reward():
    reduced, scored, row, record, sources, group = _end_trunk_of_a_lead(copy_valid=False)
    assert scored == []  # the collective reading is not started
    assert row[:3] == [0.0, 0.0, 0.0]  # reward 0, invalid, not empty
    assert reduced == [(True, group)]  # its own copy valid, all-reduced over the copy's group
    assert record['valid'] == [False, True] and record['best'] == 1 and sources == [2]  # copy 1's lead


def test_a_lead_whose_copy_is_valid_reads_the_reward_with_its_copy():
    reduced, scored, row, record, sources, group = _end_trunk_of_a_lead(copy_valid=True)
    assert reduced == [(True, group)] and scored == [group]
    assert row[:3] == [0.5, 1.0, 0.0]
    assert record['rewards'] == [0.5, 0.25] and record['best'] == 0 and sources == [0]
