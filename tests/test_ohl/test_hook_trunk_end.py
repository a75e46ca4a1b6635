"""OHLHook's trunk end on rank 0 of two copies, the collectives replaced by their results: the controller learns
from the settled rewards (a diverged copy's is the worst) and the best copy is broadcast. The end-to-end runs of
several copies (``test_ohl_runs.py``, slow) check the same in real process groups; these run in a second and were
shown red by mutation: the controller given the gathered rewards (a diverged copy's 0 above a valid -2), the
broadcast skipped, or made from copy 0 instead of the best."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
import torch

from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.hook import OHLHook


def _end_trunk(rows: list[list[float]]):
    """End trunk 0 of copy 0 (rank 0, reward -2 read by its scorer) given every rank's gathered row
    ``[reward, valid, empty, stale count, stats of the 2-choice space]``; returns ``(rewards the controller got,
    broadcast sources, history record)``."""
    hook = OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='loss', trunk_epochs=1, seed=0, verify_sync=False)
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer = SimpleNamespace(score=lambda model: (-2.0, False), metric_names=lambda: ['loss'], reward_key='loss')
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters = True, 4
    controller, seen = hook.controllers[0], []

    def step(stats, rewards):
        seen.append(list(rewards))
        return controller.step(stats, rewards)

    hook.controllers[0] = SimpleNamespace(step=step)
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100)
    with mock.patch('automl_mm.ohl.hook.gather_rows', return_value=torch.tensor(rows, dtype=torch.float64)), \
            mock.patch('automl_mm.ohl.hook.broadcast_copy_state') as broadcast:
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    return seen[0], [call.kwargs['src'] for call in broadcast.call_args_list], hook.history[-1]


def test_the_controller_learns_from_the_settled_rewards_not_the_gathered_ones():
    """Rewards are minus a loss: copy 1 diverged and its row carries reward 0 (trunk_row), above copy 0's -2; the
    controller must see it below -2, or it learns toward the choices that diverged."""
    rewards, sources, record = _end_trunk([[-2.0, 1, 0, 0, 1, 0], [0.0, 0, 0, 0, 0, 1]])
    assert rewards == record['rewards'] and rewards[1] < -2.0
    assert record['best'] == 0 and sources == [0]


def test_the_best_copy_is_broadcast():
    """Copy 1 has the higher reward: every rank takes copy 1's state (its lead rank is the source)."""
    rewards, sources, record = _end_trunk([[-2.0, 1, 0, 0, 1, 0], [-1.0, 1, 0, 0, 0, 1]])
    assert rewards == pytest.approx([-2.0, -1.0])
    assert record['best'] == 1 and record['broadcast'] and sources == [1]
