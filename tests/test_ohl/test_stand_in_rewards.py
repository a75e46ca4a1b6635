"""Stand-in rewards are no readings. A diverged copy's reward, and a metric-less copy's where its 0 would rank it
first (a loss under 'less': a reward worse than every reading in its place), stand in for rewards nobody measured;
a metric-less copy's 0 that is no better than the readings (an AP of no detection) is its reading. The controller's
baseline and the reported means leave the stand-ins out (the baseline averaged every stand-in in); a metric-less
copy's stand-in is computed from the readings alone, and a diverged copy's is worse than every valid copy's (the raw
0 of a metric-less copy under 'less' widened its spread)."""
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


def test_a_diverged_copy_ranks_below_a_copy_that_detected_nothing():
    """Copy 2 read no metrics (no detection): its AP of 0 is kept as its reading, and the diverged copy 3 ranks
    below it, by the valid rewards' spread."""
    trunk = dict(rewards=[0.30, 0.32, 0.0, 0.0], valid=[True, True, True, False], empty=[False, False, True, False],
                 stale={}, stats={})
    rewards, _, best = settle_rewards(trunk, [], _scorer(), None, 0, 4)
    assert rewards[:3] == [0.30, 0.32, 0.0] and best == 1
    assert rewards[3] == pytest.approx(-0.32)
    # a configured worst_reward above the copy that detected nothing is replaced: a diverged copy ranked above a
    # valid one would have its choices learned toward
    rewards, _, _ = settle_rewards(dict(trunk), [], _scorer(), 0.1, 0, 4)
    assert rewards[3] == pytest.approx(-0.32)
    rewards, _, _ = settle_rewards(dict(trunk), [], _scorer(), -0.5, 0, 4)
    assert rewards[3] == -0.5


def test_under_less_the_metric_less_stand_in_comes_from_the_readings_and_the_diverged_copy_ranks_below_it():
    """Losses 0.5 and 0.3: a metric-less copy's 0 would rank it first, so it gets 0.7 (the readings' worst less
    their spread, not counting the 0 nobody read), and the diverged copy is worse than that stand-in too."""
    trunk = dict(rewards=[0.5, 0.3, 0.0, 0.0], valid=[True, True, True, False], empty=[False, False, True, False],
                 stale={}, stats={})
    rewards, _, best = settle_rewards(trunk, [], _scorer('less'), None, 0, 4)
    assert best == 1 and rewards[2] == pytest.approx(0.7)
    assert rewards[3] == pytest.approx(1.1)  # above every valid copy's, the stand-in 0.7 included
    rewards, _, _ = settle_rewards(dict(trunk), [], _scorer('less'), 0.6, 0, 4)  # not worse than the stand-in
    assert rewards[3] == pytest.approx(1.1)


def test_only_a_replaced_zero_is_no_reading_in_the_progress_line():
    ap = dict(trunk=2, rewards=[0.5, 0.3, 0.0], valid=[True] * 3, empty_metrics=[False, False, True], best=0,
              distributions={})
    assert read_flags(ap) == [True, True, True]  # an AP of no detection is a reading
    loss = dict(ap, rewards=[0.5, 0.3, 0.7], reward_rule='less', best=1)
    assert read_flags(loss) == [True, True, False]
    assert 'mean 0.4000 of the 2 copies that read a reward (copy 2 read no metrics) |' in progress_line(loss, 9, 1, 1)


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
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', return_value=rows), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'):
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    record = hook.history[-1]
    assert record['rewards'][2] < 80.0 and record['valid'] == [True, True, False]
    assert record['controller']['lr']['baseline'] == pytest.approx(80.625)
    assert record['controller']['lr']['reward_mean'] == pytest.approx(80.625)
