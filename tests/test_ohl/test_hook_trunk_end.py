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

_TAKEN: list = []  # (the hook's controllers?, their updates) at each take_rank0_controllers


def _end_trunk(rows: list[list[float]]):
    """End trunk 0 of copy 0 (rank 0, reward -2 read by its scorer) given every rank's gathered row
    ``[reward, valid, empty, stale count, fresh count (-1: none), stats of the 2-choice space]``; returns
    ``(rewards the controller got, broadcast sources, history record)``."""
    hook = OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='loss', trunk_epochs=1, seed=0, verify_sync=False, reward_rule='greater')
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer = SimpleNamespace(score=lambda model: (-2.0, False), metric_names=lambda: ['loss'], reward_key='loss',
                                  rule='greater', sign=1.0)  # rewards are minus a loss, explicitly higher-is-better
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters = True, 4
    controller, seen = hook.controllers[0], []

    def step(stats, rewards):
        seen.append(list(rewards))
        return controller.step(stats, rewards)

    hook.controllers[0] = SimpleNamespace(step=step)
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100)
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', return_value=torch.tensor(rows, dtype=torch.float64)), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state') as broadcast, \
            mock.patch('automl_mm.ohl.trunk_end.take_rank0_controllers',
                       side_effect=lambda spaces, controllers: _TAKEN.append(
                           (spaces is hook.spaces and controllers is hook.controllers, len(seen)))):
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    return seen[0], [call.kwargs['src'] for call in broadcast.call_args_list], hook.history[-1]


def test_the_controller_learns_from_the_settled_rewards_not_the_gathered_ones():
    """Rewards are minus a loss: copy 1 diverged and its row carries reward 0 (trunk_row), above copy 0's -2; the
    controller must see it below -2, or it learns toward the choices that diverged."""
    rewards, sources, record = _end_trunk([[-2.0, 1, 0, 0, -1, 1, 0], [0.0, 0, 0, 0, -1, 0, 1]])
    assert rewards == record['rewards'] and rewards[1] < -2.0
    assert record['best'] == 0 and sources == [0]


def test_every_rank_takes_rank_0s_controllers_after_the_update():
    """θ is rank 0's on every rank once the controllers stepped (another CPU rounds the update otherwise:
    tests/test_ohl/test_theta_rank0_on_every_rank.py)"""
    _TAKEN.clear()
    _end_trunk([[-2.0, 1, 0, 0, -1, 1, 0], [-1.0, 1, 0, 0, -1, 0, 1]])
    assert _TAKEN == [(True, 1)]  # once, with the hook's controllers, after their one step


def test_the_best_copy_is_broadcast():
    """Copy 1 has the higher reward: every rank takes copy 1's state (its lead rank is the source)."""
    rewards, sources, record = _end_trunk([[-2.0, 1, 0, 0, -1, 1, 0], [-1.0, 1, 0, 0, -1, 0, 1]])
    assert rewards == pytest.approx([-2.0, -1.0])
    assert record['best'] == 1 and record['broadcast'] and sources == [1]


def test_every_copy_takes_the_best_copys_searched_model_attributes_with_its_weights():
    """The broadcast carries parameters, buffers and the optimiser state, not a module's plain attributes: copy 0
    kept its own sampled loss weight (1) next to copy 1's weights, so the validation after the trunk and the
    model left after the last trunk ran with it (red without ``adopt_model_values``). Other paths are left alone."""
    hook = OHLHook(spaces=[dict(type='AttributeSpace', target=['model.loss_weight', 'x'], choices=[1.0, 2.0],
                                name='w', distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='loss', trunk_epochs=1, seed=0, verify_sync=False, reward_rule='greater')
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer = SimpleNamespace(score=lambda model: (-2.0, False), metric_names=lambda: ['loss'], reward_key='loss',
                                  rule='greater', sign=1.0)
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters = True, 4
    model = torch.nn.Linear(2, 2)
    model.loss_weight = 1.0  # copy 0's sample
    runner = SimpleNamespace(model=model, x=1.0, logger=mock.Mock(), max_iters=100)
    values = {'w': [{'model.loss_weight': 1.0, 'x': 1.0}, {'model.loss_weight': 2.0, 'x': 2.0}]}
    rows = torch.tensor([[-2.0, 1, 0, 0, -1, 1, 0], [-1.0, 1, 0, 0, -1, 0, 1]], dtype=torch.float64)  # copy 1 is best
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', return_value=rows), \
            mock.patch('automl_mm.ohl.trunk_end.gather_copy_values', return_value=values), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state'):
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    assert hook.history[-1]['best'] == 1 and hook.history[-1]['broadcast']
    assert model.loss_weight == 2.0 and runner.x == 1.0


def _hook(**kwargs) -> OHLHook:
    return OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='loss', trunk_epochs=1, seed=0, **kwargs)


def test_a_run_stopped_after_a_trunk_that_did_not_broadcast_ends_with_that_trunks_best_copy():
    """broadcast_interval 2, stopped early (e.g. EarlyStoppingHook) after trunk 0, whose best copy was 1: every
    rank must end with copy 1 (red when ``after_train`` broadcasts copy 0)."""
    hook = _hook(broadcast_interval=2)
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.history = [dict(trunk=0, best=1, broadcast=False,
                         copy_values={'lr': [{'model.p': 1.0}, {'model.p': 2.0}]})]
    hook.trunk, hook._report = 1, mock.Mock()
    runner = SimpleNamespace(logger=mock.Mock(), model=SimpleNamespace(p=1.0))
    with mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state') as broadcast:
        hook.after_train(runner)
    assert [call.kwargs['src'] for call in broadcast.call_args_list] == [1] and hook.history[-1]['broadcast']
    assert runner.model.p == 2.0  # copy 1's searched model attribute with its weights


class _Space(SimpleNamespace):
    def resolve(self, runner):
        pass

    def setup(self, runner, layout, seed):
        pass


@pytest.mark.parametrize('trunk, sources', [(0, [0]), (3, [])], ids=['start', 'resumed'])
def test_the_copies_start_from_copy_0s_state_and_a_resumed_run_keeps_its_own(trunk, sources):
    """Copies start from identical weights, copy 0's (METHODS.md §1, step 3), whatever each rank initialised
    (red when ``before_train`` skips that broadcast: with ``randomness.diff_rank_seed`` or per-rank initialisation
    the copies would start apart); a resumed run has its checkpoint's state and broadcasts nothing."""
    hook = _hook()
    hook.spaces, hook.trunk = [_Space(name='lr')], trunk
    hook.scorer = SimpleNamespace(build=lambda *args: None, held_out=SimpleNamespace(dataloader_cfg=None))
    runner = SimpleNamespace(copy_layout=CopyLayout(2, 1, 1, 2), model=torch.nn.Linear(2, 2), train_loop=object(),
                             optim_wrapper=None, logger=mock.Mock())
    checks = ('check_train_setup', 'check_accumulation', 'check_trunk_fits', 'check_checkpoint_schedule',
              'check_val_schedule', 'check_plugin_returns', 'OHLReport')
    patches = [mock.patch(f'automl_mm.ohl.hook.{name}') for name in checks]
    for patch in patches:
        patch.start()
    try:
        with mock.patch('automl_mm.ohl.hook.broadcast_copy_state') as broadcast:
            hook.before_train(runner)
    finally:
        for patch in patches:
            patch.stop()
    assert [call.kwargs['src'] for call in broadcast.call_args_list] == sources


def test_broadcast_interval_2_broadcasts_after_every_second_trunk():
    """broadcast_interval 2 over trunks 0-3 of 100 iterations, no validation, copy 1 the best each time: the copies
    train apart after trunk 0 and 2 and take copy 1's state after trunks 1 and 3 (the 2nd and the 4th). Red when the
    interval counts from trunk 0 (broadcasts after trunks 0 and 2): only a slow run checked the schedule."""
    hook = _hook(broadcast_interval=2, verify_sync=False)
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer = SimpleNamespace(score=lambda model: (-2.0, False), metric_names=lambda: ['loss'], reward_key='loss',
                                  rule='greater', sign=1.0)
    hook._report = mock.Mock()
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100,
                             train_loop=SimpleNamespace(), val_loop=None)
    rows = torch.tensor([[-2.0, 1, 0, 0, -1, 1, 0], [-1.0, 1, 0, 0, -1, 0, 1]], dtype=torch.float64)
    sources = []
    for trunk in range(4):
        hook.spaces[0].record(torch.tensor([0]))
        hook._in_trunk, hook._trunk_iters = True, 4
        with mock.patch('automl_mm.ohl.trunk_end.gather_rows', return_value=rows), \
                mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state') as broadcast:
            hook._end_trunk(runner, epoch=trunk + 1, iters=4 * (trunk + 1), partial=False)
        sources.append([call.kwargs['src'] for call in broadcast.call_args_list])
    assert sources == [[], [1], [], [1]]
    assert [h['broadcast'] for h in hook.history] == [False, True, False, True]
    assert [h['best'] for h in hook.history] == [1, 1, 1, 1]


def test_a_copy_with_a_non_finite_loss_in_its_trunk_is_diverged_though_its_weights_are_finite():
    """Copy 0 (this rank, no loss scaler) had a NaN loss at 1 of its 4 iterations, its weights stayed finite and its
    scorer reads 0.9, above copy 1's 0.5: it is still diverged (stand-in reward 0.5 - 1e-3 = 0.499), and copy 1 is
    the best and is broadcast. Red when the hook does not count the trunk's non-finite losses (the copy was then
    the best; ``copy_is_valid`` alone was tested, not the hook's count)."""
    hook = _hook(verify_sync=False)
    hook.layout = CopyLayout(2, 1, 0, 2)
    hook.scorer = SimpleNamespace(score=lambda model: (0.9, False), metric_names=lambda: ['acc'], reward_key='acc',
                                  rule='greater', sign=1.0)
    hook._report = mock.Mock()
    hook.spaces[0].record(torch.tensor([0]))
    hook._in_trunk, hook._trunk_iters, hook._nonfinite_losses = True, 0, 0
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), logger=mock.Mock(), max_iters=100, iter=0)
    for loss in (1.0, float('nan'), 1.0, 1.0):
        hook.after_train_iter(runner, 0, None, {'loss': torch.tensor(loss)})
    other = torch.tensor([0.5, 1, 0, 0, -1, 0, 1], dtype=torch.float64)  # copy 1: valid, reward 0.5, drew choice 1
    with mock.patch('automl_mm.ohl.trunk_end.gather_rows', side_effect=lambda row: torch.stack([row, other])), \
            mock.patch('automl_mm.ohl.trunk_end.broadcast_copy_state') as broadcast:
        hook._end_trunk(runner, epoch=1, iters=4, partial=False)
    record = hook.history[-1]
    assert record['valid'] == [False, True] and record['best'] == 1 and record['iters_in_trunk'] == 4
    assert record['rewards'] == pytest.approx([0.499, 0.5])
    assert [c.kwargs['src'] for c in broadcast.call_args_list] == [1]


def test_a_rank_that_cannot_meet_the_others_names_its_own_reading_error():
    """The trunk end's agreement times out (a peer hung) on a rank whose own reading had raised (the copy's gather
    of results timed out on that peer): its message gives this rank's error too, not only the backend's."""
    from automl_mm.ohl.trunk import meet_at_trunk_end

    timeout = RuntimeError('[gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting 1800000ms for recv')
    own = OSError('cannot identify image file data/reward/3.png')
    with mock.patch('automl_mm.ohl.trunk.any_rank_failed', side_effect=timeout), \
            pytest.raises(RuntimeError) as caught:
        meet_at_trunk_end(own, 3, 1, 'OHL trunk 3: the reward reading')
    assert str(caught.value) == (
        'OHL trunk 3: rank 1 could not meet the other copies at the trunk end: a rank crashed or hung longer than '
        'env_cfg.dist_cfg.timeout. Continue from the last checkpoint with `tools/train.py CONFIG --resume`. '
        f'({timeout}) This rank had failed first, in OHL trunk 3: the reward reading: OSError: cannot identify '
        'image file data/reward/3.png (its traceback, printed above this error\'s, is the cause of this error).')
    assert caught.value.__cause__ is own
    with mock.patch('automl_mm.ohl.trunk.any_rank_failed', side_effect=timeout), \
            pytest.raises(RuntimeError, match=r'--resume`\. \(.*for recv\)$') as caught:
        meet_at_trunk_end(None, 3, 1, 'OHL trunk 3: the reward reading')  # nothing of its own to add
    assert caught.value.__cause__ is timeout
