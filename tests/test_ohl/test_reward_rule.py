"""OHLHook's ``reward_rule``: a lower-is-better reward (a loss, an error, a distance) is minimised. Before the rule
existed, ``reward_key='loss/...'`` was maximised: the controller learned toward the choices of the HIGHEST loss and
the copy of the highest loss was broadcast as the best. OHLHook's trunk end runs here on rank 0 of two copies, the
collectives replaced by their results (as in ``test_hook_trunk_end.py``); the controller is the real REINFORCE."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
import torch

from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.hook import OHLHook

LOSS = {0: 1.0, 1: 0.1}  # the planted optimum: choice 1 has the LOWEST loss


def _hook(reward_key: str, **kwargs) -> OHLHook:
    return OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key=reward_key, trunk_epochs=1, seed=0, verify_sync=False,
                   controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.2, betas=(0.5, 0.999))),
                   **kwargs)


def _trunks(hook: OHLHook, trunks: int, choices=(0, 1)) -> list[list[float]]:
    """End ``trunks`` trunks; copy c takes choice ``choices[c]`` and reads reward ``LOSS[choice]``. Returns the
    rewards the controller got per trunk."""
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer.score = lambda model: (LOSS[choices[0]], False)
    hook._report = mock.Mock()
    controller, seen = hook.controllers[0], []

    def step(stats, rewards):
        seen.append(list(rewards))
        return controller.step(stats, rewards)

    hook.controllers[0] = SimpleNamespace(step=step)
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=10**6)
    for _ in range(trunks):
        hook.spaces[0].record(torch.tensor([choices[0]]))
        hook._in_trunk, hook._trunk_iters = True, 4
        rows = [[LOSS[ch], 1, 0, 0, -1, *(1.0 if i == ch else 0.0 for i in range(2))] for ch in choices]
        with mock.patch('automl_mm.ohl.trunk_end.gather_rows', return_value=torch.tensor(rows, dtype=torch.float64)), \
                mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'):
            hook._end_trunk(runner, epoch=1, iters=4 * (hook.trunk + 1), partial=False)
    hook.controllers[0] = controller
    return seen


def _p_optimum(hook: OHLHook) -> float:
    return float(torch.softmax(hook.spaces[0].distribution.parameters()[0].detach(), 0)[1])


@pytest.mark.parametrize('kwargs', [dict(reward_key='loss/mean'), dict(reward_key='top1_error'),
                                    dict(reward_key='score', reward_rule='less')],
                         ids=['inferred-loss', 'inferred-error', 'explicit-less'])
def test_a_lower_is_better_reward_teaches_the_controller_the_lowest_loss_choice(kwargs):
    """Red before the rule: reward_key='loss/mean' was maximised, θ moved toward choice 0 (loss 1.0)."""
    hook = _hook(**kwargs)
    before = _p_optimum(hook)
    seen = _trunks(hook, trunks=8)
    assert _p_optimum(hook) > before + 0.3  # toward the planted optimum
    assert seen[0] == pytest.approx([-1.0, -0.1])  # the controller ascends -loss
    assert hook.reward_rule == 'less' and hook.history[-1]['rewards'] == pytest.approx([1.0, 0.1])


def test_under_greater_the_same_rewards_move_theta_away_from_it():
    """The mechanism can fail: rule 'greater' reads the loss as a reward and moves θ toward the highest loss."""
    hook = _hook('loss/mean', reward_rule='greater')
    before = _p_optimum(hook)
    seen = _trunks(hook, trunks=8)
    assert seen[0] == pytest.approx([1.0, 0.1])
    assert _p_optimum(hook) < before - 0.3


def test_the_best_copy_is_the_lowest_and_the_history_keeps_the_loss_as_measured():
    """Red before the rule: copy 0 (loss 1.0) was the best copy and was broadcast to every rank."""
    hook = _hook('loss/mean')
    with mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state') as broadcast:
        hook.layout = CopyLayout(2, 1, 0, 2)
        hook.scorer.score = lambda model: (1.0, False)
        hook._report = mock.Mock()
        hook.spaces[0].record(torch.tensor([0]))
        hook._in_trunk, hook._trunk_iters = True, 4
        rows = torch.tensor([[1.0, 1, 0, 0, -1, 1, 0], [0.1, 1, 0, 0, -1, 0, 1]], dtype=torch.float64)
        runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100)
        with mock.patch('automl_mm.ohl.trunk_end.gather_rows', return_value=rows):
            hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    record = hook.history[-1]
    assert record['best'] == 1 and [c.kwargs['src'] for c in broadcast.call_args_list] == [1]
    assert record['rewards'] == pytest.approx([1.0, 0.1]) and record['reward_rule'] == 'less'
    assert 'lower is better' in runner.logger.info.call_args.args[0]


def test_a_diverged_or_metric_less_copy_is_worse_than_every_valid_one_under_less():
    """A diverged copy's reward is above the valid losses (below them it would be the best loss); an empty copy's
    0 would be a perfect loss: both get a loss above the others, and neither is the best copy."""
    from automl_mm.ohl.reward import settle_rewards

    scorer = SimpleNamespace(rule='less', sign=-1.0, reward_key='loss', metric_names=lambda: ['loss'])
    trunk = dict(rewards=[0.5, 0.0, 0.0, 0.3], valid=[True, False, True, True], empty=[False, False, True, False],
                 stale={}, stats={})
    rewards, _, best = settle_rewards(trunk, [], scorer, None, 0, 4)
    assert best == 3 and rewards[0] == 0.5 and rewards[3] == 0.3
    assert rewards[1] > 0.5 and rewards[2] > 0.5
    # a user worst_reward below a valid loss would be learned toward: replaced by the default
    rewards, _, _ = settle_rewards(dict(trunk, empty=[False] * 4), [], scorer, 0.4, 0, 4)
    assert rewards[1] > 0.5


def test_a_metric_less_copy_is_not_the_best_of_negative_higher_is_better_rewards():
    """Under 'greater' an empty copy read 0 (no metrics: mmdet's CocoMetric without a box, an AP of 0). Where the
    rewards are negative (``log_likelihood/mean``, minus a loss) that 0 ranked the copy that read nothing above
    every copy that read one: it was the best copy, broadcast to every copy, and the controller learned toward its
    choices. It gets a reward below the readings there; an AP's 0, no better than the readings, stays 0."""
    from automl_mm.ohl.reward import settle_rewards

    scorer = SimpleNamespace(rule='greater', sign=1.0, reward_key='log_likelihood/mean',
                             metric_names=lambda: ['LogLikelihood'])
    trunk = dict(rewards=[-2.0, 0.0, -1.0, 0.0], valid=[True, True, True, False], empty=[False, True, False, False],
                 stale={}, stats={})
    rewards, _, best = settle_rewards(trunk, [], scorer, None, 0, 4)
    assert best == 2 and rewards[0] == -2.0 and rewards[2] == -1.0
    assert rewards[1] < -2.0 and rewards[3] < -2.0  # below every reading, as a diverged copy
    # an AP: 0 is no better than the copies' readings, the copy's honest reward
    rewards, _, best = settle_rewards(dict(trunk, rewards=[0.3, 0.0, 0.9, 0.0]), [], scorer, None, 0, 4)
    assert best == 2 and rewards[:3] == [0.3, 0.0, 0.9] and rewards[3] < 0.0


def test_existing_higher_is_better_keys_behave_as_before():
    for key in ('accuracy/top1', 'coco/bbox_mAP', 'log_likelihood/mean', 'acc'):
        assert _hook(key).reward_rule == 'greater'


def test_an_invalid_rule_is_refused_at_start_naming_the_key():
    with pytest.raises(ValueError, match=r"OHLHook\.reward_rule must be 'greater'.*got 'lower' for "
                                         r"reward_key='loss/mean'"):
        _hook('loss/mean', reward_rule='lower')


def test_a_resume_under_another_rule_is_refused(tmp_path):
    """A real Runner: a search of accuracy/top1 (greater) resumed with reward_rule='less' would ascend the other
    way on the same baselines; refused, naming the key and both rules."""
    from tests.test_ohl.test_controller import _ohl_run

    def less(cfg):
        cfg.custom_hooks[0]['reward_rule'] = 'less'

    _ohl_run(tmp_path, epochs=2, controller_lr=0.5)
    with pytest.raises(ValueError, match=r"rewards were read with custom_hooks\[0\]\.reward_rule='greater', this run "
                                         r"sets custom_hooks\[0\]\.reward_rule='less'"):
        _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True, edit=less)


def test_a_checkpoint_from_before_the_rule_resumes_only_as_greater():
    """A checkpoint without a saved rule maximised its reward: resuming it under an inferred 'less' is refused."""
    from automl_mm.ohl.resume import check_reward_settings

    hook = _hook('loss/mean')
    runner = SimpleNamespace(cfg={}, logger=mock.Mock(), hooks=[hook])
    saved = dict(hook.reward_settings(runner)[0])
    saved.pop('reward_rule')
    with pytest.raises(ValueError, match=r"reward_rule='greater', this run sets .*reward_rule='less' "
                                         r"\(as set, or inferred from reward_key's name"):
        check_reward_settings(hook, runner, saved, 3)
    check_reward_settings(_hook('accuracy/top1'), runner, dict(saved, reward_key='accuracy/top1'), 3)


def test_under_less_the_controller_scalars_in_the_history_are_in_the_measured_units():
    """The controller ascends -loss, so its logged ``reward_mean`` / ``baseline`` were the negated mean loss and its
    ``reward_max`` minus the lowest loss: history.json's ``controller`` and TensorBoard's ``ohl/<space>/reward_mean``
    read -0.55 next to ``ohl/reward_mean`` 0.55 for losses 1.0 and 0.1. They are reported as measured: the mean loss,
    the baseline in loss units and ``reward_min``, the lowest (best) loss; under 'greater' nothing changes."""
    hook = _hook('loss/mean')
    _trunks(hook, trunks=2)
    logs = hook.history[-1]['controller']['lr']
    assert logs['reward_mean'] == pytest.approx(0.55) and logs['baseline'] == pytest.approx(0.55)
    assert logs['reward_min'] == pytest.approx(0.1) and 'reward_max' not in logs
    assert logs['reward_std'] == pytest.approx(0.45) and logs['advantage_abs_mean'] == pytest.approx(0.45)
    greater = _hook('loss/mean', reward_rule='greater')
    _trunks(greater, trunks=1)
    logs = greater.history[-1]['controller']['lr']
    assert logs['reward_mean'] == pytest.approx(0.55) and logs['reward_max'] == pytest.approx(1.0)
    assert 'reward_min' not in logs


def _log_line(rows) -> tuple[dict, str]:
    """End one trunk of ``_hook('loss/mean')`` whose gathered rows are ``rows``: (its record, its log line)."""
    hook = _hook('loss/mean')
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer.score = lambda model: (1.0, False)
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters = True, 4
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100)
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', return_value=torch.tensor(rows, dtype=torch.float64)), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'):
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    return hook.history[-1], runner.logger.info.call_args.args[0]


def test_the_trunk_log_line_names_a_diverged_copy_and_its_stand_in_reward():
    """The line read ``rewards (...) [0.101, 0.1], best copy 1`` for a copy that diverged: its stand-in reward
    looked like a measured loss and nothing in the log said a copy diverged."""
    record, line = _log_line([[float('nan'), 0, 0, 0, -1, 1, 0], [0.1, 1, 0, 0, -1, 0, 1]])
    assert record['valid'] == [False, True] and record['best'] == 1
    assert f'copy 0 diverged (stand-in reward {round(record["rewards"][0], 4)}, not measured)' in line
    assert 'diverged' not in _log_line([[1.0, 1, 0, 0, -1, 1, 0], [0.1, 1, 0, 0, -1, 0, 1]])[1]
