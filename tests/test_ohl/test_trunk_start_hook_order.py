"""A trunk's values are in force for every hook of its iterations, whichever loop runs it and wherever its boundary
falls: mmengine's ``ParamSchedulerHook`` (``'LOW'``, after ``OHLHook``) steps after each iteration with the values of
that iteration's trunk, and ``RuntimeInfoHook`` logs the lr each iteration trains with.

Found wrong (forty-seventh session): in an epoch-based loop, ``OHLHook(trunk_iters=...)`` began a trunk that starts
inside an epoch in its own ``after_train_iter``, before the scheduler hook stepped for the last iteration of the trunk
before it, so a searched ``param_schedulers.0.gamma`` of an ``ExponentialLR`` multiplied the lr with the next trunk's
gamma there (at epoch ends, in iteration loops and in the exported ``TrunkScheduleHook`` with the ending trunk's).
"""
from __future__ import annotations

import pytest
from mmengine.hooks import Hook

from automl_mm.ohl.hook import OHLHook
from automl_mm.registry import HOOKS

from conftest import tiny_ohl_cfg, train_copy_runner


@HOOKS.register_module(force=True)
class _TrainedLR(Hook):
    """The lr each iteration trains with (read before it, after every hook that sets it)."""

    priority = 'NORMAL'

    def __init__(self):
        self.seen: list[float] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append(runner.optim_wrapper.optimizer.param_groups[0]['lr'])


def _searched_gamma_run(tmp_path, loop: str) -> dict:
    """One copy of the digits search (4 iterations an epoch, 12 iterations), 2-iteration trunks, an ExponentialLR
    whose gamma is searched: the lr of every iteration, each trunk's gamma and end iteration, and how many
    ``LateTrunkStart`` hooks the runner holds."""
    cfg = tiny_ohl_cfg(str(tmp_path / loop), trunk_iters=2, seed=0)
    if loop == 'iteration':
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=12, val_interval=1000)
        cfg.log_processor = dict(by_epoch=False)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=4)
    cfg.param_scheduler = [dict(type='ExponentialLR', gamma=0.9, by_epoch=False)]
    cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='gamma', target='param_schedulers.0.gamma',
                                       choices=[0.5, 0.8], distribution=dict(type='Categorical'))]
    cfg.custom_hooks.append(dict(type='_TrainedLR'))
    out = {}

    def keep(runner):
        out['lr'] = next(h for h in runner.hooks if isinstance(h, _TrainedLR)).seen
        history = next(h for h in runner.hooks if isinstance(h, OHLHook)).history
        out['gamma'] = [h['copy_values']['gamma'][0]['param_schedulers.0.gamma'] for h in history]
        out['ends'] = [h['iter'] for h in history]
        out['late'] = [type(h).__name__ for h in runner.hooks].count('LateTrunkStart')

    train_copy_runner(cfg, keep)
    return out


def test_the_scheduler_steps_each_iteration_with_its_own_trunks_searched_gamma(tmp_path):
    """Trunks of 2 iterations, 4 iterations an epoch: every other boundary (after iterations 2, 6, 10) is inside an
    epoch. With seed 0 trunk 3 (iterations 6 and 7) draws gamma 0.5 and the others 0.8: the step after iteration 5
    (trunk 2's last) multiplied the lr by 0.5 in the epoch loop, by 0.8 in the iteration loop."""
    results = {loop: _searched_gamma_run(tmp_path, loop) for loop in ('epoch', 'iteration')}
    lr, gammas, ends = (results['epoch'][k] for k in ('lr', 'gamma', 'ends'))
    assert ends == [2, 4, 6, 8, 10, 12]
    assert (results['iteration']['gamma'], results['iteration']['ends']) == (gammas, ends)  # the same draws
    assert len(set(gammas)) == 2  # the case needs trunks of different gammas
    for t in range(len(lr) - 1):
        trunk = t // 2  # the trunk iteration t trained in
        assert lr[t + 1] == pytest.approx(lr[t] * gammas[trunk], rel=1e-12), (t, lr)
    assert lr == results['iteration']['lr']
    # the epoch loop's mid-epoch trunk starts go through the one hook OHLHook registers; an iteration loop needs none
    assert (results['epoch']['late'], results['iteration']['late']) == (1, 0)


@pytest.mark.parametrize('loop', ['epoch', 'iteration'])
def test_the_logged_lr_of_a_replayed_schedule_is_the_lr_each_iteration_trains_with(tmp_path, loop):
    """The exported ``TrunkScheduleHook(trunk_iters=2)`` of a searched lr: mmengine's ``RuntimeInfoHook``
    (``'VERY_HIGH'``) records the lr that ``LoggerHook`` logs before each iteration; the replay hook (then ``'HIGH'``)
    set each trunk's lr after it, so the first iteration of every trunk was logged with the trunk before's lr
    (iteration 3 trained with 0.01 and its line said 0.1)."""
    from mmengine.runner import Runner

    from conftest import tiny_digits_cfg

    cfg = tiny_digits_cfg(str(tmp_path / loop), max_epochs=2)
    cfg.train_dataloader.batch_size = 16  # 4 iterations an epoch
    cfg.param_scheduler = []
    if loop == 'iteration':
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=6, val_interval=1000)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000, by_epoch=False)
        cfg.log_processor = dict(by_epoch=False)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.experiment_name = f'{tmp_path.name}_{loop}'  # its own MessageHub (one per name and second otherwise)
    cfg.custom_hooks = [dict(type='TrunkScheduleHook', trunk_iters=2,
                             values={'optim_wrapper.optimizer.param_groups.*.lr': [0.1, 0.01, 0.001]}),
                        dict(type='_TrainedLR')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    trained = next(h for h in runner.hooks if isinstance(h, _TrainedLR)).seen
    logged = runner.message_hub.get_scalar('train/lr').data[0].tolist()  # what LoggerHook's lines read
    assert trained[:6] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert logged == trained
