"""The OHL engine's invariants of rewards and statistics: diverged and empty copies, summed statistics of a
copy's ranks, trunks with nothing to learn from (issue #11; helpers in ``_invariants.py``).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from automl_mm.ohl import (
    OHLHook,
)
from automl_mm.ohl.reward import combine_copy_rows, copy_is_valid, settle_rewards
from automl_mm.ohl.sync import same
from tests.test_ohl._invariants import (  # noqa: F401  (_fresh_layout: autouse)
    EmptyMetric,
    PackWithoutMeta,
    _cfg,
    _fresh_layout,
    _layout,
    _settle,
    _stats_space,
    _train,
)


def test_a_trunk_that_counted_no_choices_is_an_error(tmp_path):
    """Item 5: a packing transform that drops the choice: the trunk end names the space and its key."""
    cfg = _cfg(tmp_path, trunk_iters=2)
    cfg.train_dataloader.dataset.pipeline = [cfg.train_pipeline[0], dict(type='PackWithoutMeta')]
    with pytest.raises(RuntimeError, match=r"space 'aug' counted no choices in 2 iterations.*"
                                           r"\['ohl_choice'\]\['aug'\]"):
        _train(cfg)


def test_empty_metrics_warn_and_fail_when_every_copy_has_none(tmp_path):
    """Item 10: a reward evaluator that returns nothing is not a reward of 0 for everyone."""
    cfg = _cfg(tmp_path, trunk_iters=2)
    cfg.custom_hooks[0].reward_evaluator = dict(type='EmptyMetric')
    with pytest.raises(RuntimeError, match=r'reward evaluator \(EmptyMetric\) returned no metrics for any copy'):
        _train(cfg)


def test_statistics_of_a_copys_ranks_are_summed():
    """Item 3: 1 copy x 2 ranks, 150 images each: the controller gets the 300 choices, not the lead's 150."""
    spaces = [_stats_space(True, 'aug'), _stats_space(False, 'lr')]
    layout = _layout(2, 2)
    rows = torch.tensor([
        # reward, valid, empty, stale(aug), stale(lr), fresh(aug), fresh(lr), aug histogram, lr sample
        [70., 1, 0, 2, 0, -1, -1, 100, 50, 0, 0, 1, 0],
        [np.nan, 1, 0, 1, 0, -1, -1, 60, 90, 0, 0, 1, 0],
        [80., 1, 0, 0, 0, -1, -1, 150, 0, 0, 1, 0, 0],
        [np.nan, 0, 0, 0, 0, -1, -1, 0, 0, 150, 1, 0, 0],
    ], dtype=torch.float64)
    out = combine_copy_rows(rows, layout, spaces)
    assert out['fresh'] == {'aug': None, 'lr': None}  # neither counts fresh items
    assert out['rewards'] == [70.0, 80.0]  # the lead's
    assert out['valid'] == [True, False]  # a copy is valid only when all its ranks are
    assert [s.tolist() for s in out['stats']['aug']] == [[160, 140, 0], [150, 0, 150]]
    assert [s.sum().item() for s in out['stats']['aug']] == [300, 300]
    assert [s.tolist() for s in out['stats']['lr']] == [[0, 1, 0], [1, 0, 0]]  # per copy, not per rank
    assert out['stale']['aug'] == [3, 0]
    rows[1, -2] = 0  # the second rank of copy 0 sampled another per-copy value
    rows[1, -3] = 1
    with pytest.raises(RuntimeError, match="ranks of a copy sampled different values for the per-copy space 'lr'"):
        combine_copy_rows(rows, layout, spaces)


def test_a_nan_buffer_makes_a_copy_invalid():
    """Item 9: a NaN BN running statistic must not make the 'best' copy."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    assert copy_is_valid(model, 5, 0, uses_loss_scaler=False)
    model[1].running_var[0] = float('nan')
    assert not copy_is_valid(model, 5, 0, uses_loss_scaler=False)
    # the sync check does not treat NaN as equal to NaN
    nan = torch.tensor([float('nan'), 1.0])
    assert not same(nan, nan) and same(nan, nan, nan_equal=True)


def test_a_step_the_loss_scaler_skipped_is_not_a_divergence():
    model = torch.nn.Linear(2, 2)
    assert not copy_is_valid(model, 5, 1, uses_loss_scaler=False)  # without AMP a non-finite loss is a divergence
    assert copy_is_valid(model, 5, 1, uses_loss_scaler=True)  # AMP: the scaler skipped that step
    assert not copy_is_valid(model, 5, 5, uses_loss_scaler=True)  # every step non-finite: diverged


def test_a_diverged_copy_gets_less_than_every_valid_one_and_a_tie_goes_to_the_lowest_copy():
    rewards, counts, best = _settle([0.5, 0.0, 0.7, 0.7], [True, False, True, True])
    assert rewards == pytest.approx([0.5, 0.3, 0.7, 0.7])  # 0.5 minus the valid rewards' spread (0.2)
    assert best == 2 and counts == {'aug': [5.0] * 4}
    assert _settle([0.5, 0.9, 0.7, 0.7], [True, False, True, True], worst=-1.0)[0][1] == -1.0
    # a fixed worst_reward above a valid reward (rewards = minus a loss, worst_reward=0) gave the diverged copy a
    # positive advantage: the controller learned toward the choices that diverged
    rewards = _settle([-2.0, -1.0, 0.0], [True, True, False], counts=(5.0, 5.0, 5.0), worst=0.0)[0]
    assert rewards[2] < -2.0 and rewards[2] == pytest.approx(-3.0)
    assert _settle([0.9, 0.9], [False, True], counts=(5.0, 5.0))[2] == 1  # a diverged copy is never the best


def test_a_trunk_whose_draws_were_all_prefetched_says_so():
    """Every batch of a short trunk was prefetched by workers under the previous theta: the error blamed missing
    metainfo (meta_keys), not the trunk length."""
    from automl_mm.ohl import Categorical
    space = SimpleNamespace(name='aug', key='aug', per_item=True, distribution=Categorical(num_choices=2))
    trunk = dict(rewards=[0.5, 0.6], valid=[True, True], empty=[False, False], stale={'aug': [32, 32]},
                 stats={'aug': [torch.zeros(2, dtype=torch.float64)] * 2})
    scorer = SimpleNamespace(metric_names=lambda: ['accuracy/top1'], reward_key='accuracy/top1')
    with pytest.raises(RuntimeError, match=r'prefetched every batch of the trunk .*num_workers x prefetch_factor'):
        settle_rewards(trunk, [space], scorer, None, 3, 2)


@pytest.mark.parametrize('case, match', [
    (dict(rewards=[0.0, 0.0], valid=[False, False]), 'every copy diverged'),
    (dict(rewards=[0.0, 0.0], valid=[True, False], empty=[True, False]), 'no metrics for any copy'),
    (dict(rewards=[0.1, 0.2], valid=[True, True], counts=(4.0, 0.0)), "space 'aug' counted no choices"),
])
def test_a_trunk_with_nothing_to_learn_from_stops_naming_trunk_and_cause(case, match):
    with pytest.raises(RuntimeError, match=rf'OHL trunk 7: .*{match}'):
        _settle(**case)
    if 'counts' in case:
        _settle(**case, iters=0)  # a trunk that trained nothing counts nothing


def test_settings_that_learn_nothing_or_something_else_are_refused_when_built():
    """Each was accepted: theta never moved (controller lr 0), a run was one partial trunk, a seed of 1.7 was read as
    1, 'False' in a config file switched a check on, NaN fixed probabilities drew choice 0 for every image, and
    an element listed twice got two probabilities and twice the uniform mass."""
    from automl_mm.augment import FixedAutoAugment, OHLRandomChoice
    from automl_mm.augment.elements import build_elements
    from automl_mm.ohl.checks import check_trunk_fits
    from automl_mm.ohl.controllers import REINFORCE
    from automl_mm.ohl.distributions import Categorical

    space = [dict(type='PipelineChoiceSpace', key='aug')]
    for kwargs, match in ((dict(reward_key=None), 'reward_key must be a metric name'),
                          (dict(worst_reward=float('nan')), 'worst_reward must be None or a finite number'),
                          (dict(seed=1.7), 'seed must be None or a non-negative int'),
                          (dict(verify_sync='False'), 'verify_sync must be True or False'),
                          (dict(plot='no'), 'plot must be True or False')):
        with pytest.raises(ValueError, match=match):
            OHLHook(spaces=space, num_copies=1, trunk_epochs=1, **{'reward_key': 'acc', **kwargs})
    with pytest.raises(ValueError, match=r'optimizer.lr must be a finite number > 0'):
        REINFORCE(Categorical(2), optimizer=dict(type='Adam', lr=0.0))
    runner = SimpleNamespace(max_iters=4, train_dataloader=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r'trunk_epochs=5\) gives trunks of 20 iterations but the run has 4'):
        check_trunk_fits(runner, 5, None)
    check_trunk_fits(runner, 1, None)
    with pytest.raises(ValueError, match=r"lists \['Rotate\(10\)'\] more than once"):
        build_elements([('Rotate', 10), ('Invert', None), ('Rotate', 10)])
    for bad in ([float('nan'), 0.3, 0.3, 0.4], [float('inf'), 1, 1, 1]):
        with pytest.raises(ValueError, match='finite non-negative'):
            OHLRandomChoice([[], [], [], []], key='aug', probs=bad)
    with pytest.raises(ValueError, match='finite non-negative'):
        FixedAutoAugment(elements=[('Rotate', 10), ('Invert', None)], probs=[float('nan'), 1, 1, 1])

