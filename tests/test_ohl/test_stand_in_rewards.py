"""Stand-in rewards are no readings. A diverged copy's reward and a metric-less copy's (its 0, or the reward worse
than every reading in its place) stand in for rewards nobody measured: the stand-in of a diverged copy, the
controller's baseline and the reported means are computed from the readings alone. A metric-less copy's 0 was
counted as a reading: beside readings 0.30 and 0.32 it gave a diverged copy -0.32 (not 0.28), and the controller's
baseline averaged every stand-in in."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
import torch

from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.distributions import Categorical
from automl_mm.ohl.hook import OHLHook
from automl_mm.ohl.progress import progress_line, read_flags
from automl_mm.ohl.reward import settle_rewards


def _scorer(rule: str = 'greater') -> SimpleNamespace:
    return SimpleNamespace(rule=rule, sign=1.0 if rule == 'greater' else -1.0, reward_key='coco/bbox_mAP',
                           metric_names=lambda: ['CocoMetric'])


def test_a_diverged_copys_stand_in_is_computed_from_the_readings_only():
    # copy 2 read no metrics (its 0 is kept: no better than the readings), copy 3 diverged
    trunk = dict(rewards=[0.30, 0.32, 0.0, 0.0], valid=[True, True, True, False], empty=[False, False, True, False],
                 stale={}, stats={})
    rewards, _, best = settle_rewards(trunk, [], _scorer(), None, 0, 4)
    assert rewards[:3] == [0.30, 0.32, 0.0] and best == 1
    assert rewards[3] == pytest.approx(0.28)  # 0.30 less the readings' spread 0.02 (was -0.32: spread to the 0)
    # the same readings without the metric-less copy give the diverged copy the same stand-in
    alone, _, _ = settle_rewards(dict(trunk, rewards=[0.30, 0.32, 0.0], valid=[True, True, False],
                                      empty=[False] * 3), [], _scorer(), None, 0, 4)
    assert alone[2] == pytest.approx(rewards[3])


def test_under_less_both_stand_ins_come_from_the_readings():
    trunk = dict(rewards=[0.5, 0.3, 0.0, 0.0], valid=[True, True, True, False], empty=[False, False, True, False],
                 stale={}, stats={})
    rewards, _, best = settle_rewards(trunk, [], _scorer('less'), None, 0, 4)
    assert best == 1 and rewards[2] == pytest.approx(0.7) and rewards[3] == pytest.approx(0.7)  # was 1.0


def test_a_configured_worst_reward_is_compared_with_the_worst_reading():
    """worst_reward=0.1 is below both readings (0.30, 0.32): kept. It was replaced by the default because a
    metric-less copy's 0 was taken for the worst valid reward."""
    trunk = dict(rewards=[0.30, 0.32, 0.0, 0.0], valid=[True, True, True, False], empty=[False, False, True, False],
                 stale={}, stats={})
    rewards, _, _ = settle_rewards(trunk, [], _scorer(), 0.1, 0, 4)
    assert rewards[3] == 0.1


def test_a_metric_less_copys_kept_zero_is_no_reading_in_the_progress_line():
    record = dict(trunk=2, rewards=[0.5, 0.3, 0.0], valid=[True] * 3, empty_metrics=[False, False, True], best=0,
                  distributions={})
    assert read_flags(record) == [True, True, False]
    assert 'mean 0.4000 of the 2 copies that read a reward (copy 2 read no metrics) |' in progress_line(record, 9, 1, 1)


def test_reinforce_baselines_average_the_readings_only():
    dist = Categorical(2)
    stats = [dist.sufficient_stats(torch.tensor([c])) for c in (0, 1, 0)]
    logs = REINFORCE(Categorical(2)).step(stats, [80.0, 81.25, 78.75], measured=[True, True, False])
    assert logs['baseline'] == pytest.approx(80.625) and logs['reward_mean'] == pytest.approx(80.625)
    assert logs['reward_max'] == 81.25 and logs['reward_std'] == pytest.approx(torch.tensor(
        [80.0, 81.25, 78.75], dtype=torch.float64).std(correction=0).item())  # every reward: the normaliser
    moving = REINFORCE(Categorical(2), baseline='moving_average', momentum=0.5)
    moving.step(stats, [80.0, 81.25, 78.75], measured=[True, True, False])
    assert moving.baseline == pytest.approx(80.625)
    moving.step(stats, [82.0, 82.0, 70.0], measured=[True, True, False])
    assert moving.baseline == pytest.approx(0.5 * 80.625 + 0.5 * 82.0)
    # without the flags (a caller of before): every reward is a reading
    assert REINFORCE(Categorical(2)).step(stats, [80.0, 81.25, 78.75])['baseline'] == pytest.approx(80.0)
    with pytest.raises(ValueError, match='measured must have one entry per copy'):
        REINFORCE(Categorical(2)).step(stats, [80.0, 81.25, 78.75], measured=[True])


def test_the_hook_gives_the_controller_the_copies_that_read_a_reward():
    """A trunk of three copies (copy 2 diverged): the controller's baseline, in history.json, is the mean of the two
    readings (it was the mean with the diverged copy's stand-in, 80.0)."""
    hook = OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=3, reward_key='accuracy/top1', trunk_epochs=1, seed=0, verify_sync=False,
                   controller=dict(type='REINFORCE'))
    hook.layout = CopyLayout(3, 1, 0, 3)
    hook.scorer.score = lambda model: (80.0, False)
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters = True, 4
    rows = torch.tensor([[80.0, 1, 0, 0, -1, 1, 0], [81.25, 1, 0, 0, -1, 0, 1], [0.0, 0, 0, 0, -1, 1, 0]],
                        dtype=torch.float64)
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100)
    with mock.patch('automl_mm.ohl.hook.gather_rows', return_value=rows), \
            mock.patch('automl_mm.ohl.hook.broadcast_copy_state'):
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    record = hook.history[-1]
    assert record['rewards'][2] < 80.0 and record['valid'] == [True, True, False]
    assert record['controller']['lr']['baseline'] == pytest.approx(80.625)
    assert record['controller']['lr']['reward_mean'] == pytest.approx(80.625)
