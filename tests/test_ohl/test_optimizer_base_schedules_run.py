"""OHL optimiser spaces inside real mmengine runs (one copy of the digits config, CPU, in process) composed with
what mmengine itself does to each parameter group's lr / weight decay / momentum, checked at every iteration and
across a resume: ``param_scheduler`` (a per-iteration ``LinearLR`` warm-up, a per-epoch ``MultiStepLR``, a
``LinearMomentum`` converted to iterations), ``auto_scale_lr`` (batches of 16, two accumulated per step, against
``base_batch_size=64``: each group's lr × 0.5, mmengine's ``Runner.scale_lr`` over the effective batch, patch 19),
``paramwise_cfg`` (``norm_decay_mult``, ``bias_lr_mult``, ``bias_decay_mult``, a ``custom_keys`` entry's ``lr_mult`` /
``decay_mult``) and gradient accumulation.

What each group must train with, before each iteration (mmengine's documented rules; the scheduler's factor in its
chained form is compared to 1e-12):

* lr = scheduler factor × base (the config's, or the base lr a space wrote) × the group's ``lr_mult`` × 0.5;
* weight decay = the base a space wrote × the group's ``decay_mult``;
* momentum = the value a space wrote (every group), or the momentum scheduler's factor × the config's 0.9.

The resumed runs start from a checkpoint inside a trunk of two epochs (epoch 1), at a trunk start (epoch 2), or
inside a trunk of 4 iterations of an iteration loop (iteration 6, under a per-iteration warm-up then cosine) and
must train the remaining iterations with exactly the uninterrupted run's values. A space of one's own writing the
base lr (no ``targets``, so the hooks' ``before_run`` does not read its rules before the checkpoint is loaded)
reads the rules at its first write after the resume: they must keep the ``auto_scale_lr`` factor read from the built
optimiser and stored in the checkpoint's groups (read from the checkpoint's values after a trunk that wrote 0.08,
the factor became 0.5 × 0.08 / 0.05 = 0.8: a base of 0.08 trained at 0.064 instead of 0.04)."""
from __future__ import annotations

import math
import os.path as osp

import pytest
from _equivalence import record_run
from mmengine.hooks import Hook

from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.base import PerCopySpace
from automl_mm.registry import HOOKS, SEARCH_SPACES

from conftest import tiny_ohl_cfg

LR, WD = 'optim_wrapper.optimizer.lr', 'optim_wrapper.optimizer.weight_decay'
MOMENTUM = 'optim_wrapper.optimizer.param_groups.*.momentum'
# the digits schedule's SGD; auto_scale_lr's ratio of the effective batch (16 × accumulative_counts 2) to 64
CONFIG_LR, CONFIG_MOMENTUM, SCALE = 0.05, 0.9, 16 * 2 / 64
PARAMWISE = dict(norm_decay_mult=0.0, bias_lr_mult=2.0, bias_decay_mult=0.5,
                 custom_keys={'head.fc.weight': dict(lr_mult=0.1, decay_mult=3.0)})
#: (lr_mult, decay_mult) of each parameter of the digits ConvNet under PARAMWISE, as mmengine's docs give them
MULTS = {'backbone.layers.0.weight': (1, 1), 'backbone.layers.4.weight': (1, 1),
         'backbone.layers.1.weight': (1, 0), 'backbone.layers.1.bias': (1, 0),
         'backbone.layers.5.weight': (1, 0), 'backbone.layers.5.bias': (1, 0),
         'head.fc.weight': (0.1, 3), 'head.fc.bias': (2, 0.5)}
ITERS_PER_EPOCH = 4


@HOOKS.register_module(force=True)
class GroupValueRecorder(Hook):
    """Each parameter's group lr / weight_decay / momentum before every training iteration, by parameter name."""

    priority = 'LOWEST'  # after the OHL hook's trunk-start writes

    rows: list = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        names = {id(p): n for n, p in model.named_parameters()}
        groups = {names[id(p)]: g for g in runner.optim_wrapper.optimizer.param_groups for p in g['params']}
        GroupValueRecorder.rows.append(dict(iter=runner.iter, epoch=runner.epoch, **{
            key: {n: g[key] for n, g in groups.items()} for key in ('lr', 'weight_decay', 'momentum')}))


class OwnBaseLrSpace(PerCopySpace):
    """A user's space writing the base lr through ``set_attribute``, with no ``targets`` attribute."""

    def __init__(self, choices, name='own_lr'):
        super().__init__(dict(type='Categorical', num_choices=len(choices)), name=name)
        self.choices, self.current = list(choices), None

    def apply(self, sample, runner):
        self.current = self.choices[int(sample)]
        set_attribute(runner, LR, self.current)

    def scheduled_values(self):
        return {LR: self.choices[int(self.distribution.mode())]}

    def applied_values(self):
        return None if self.current is None else {LR: self.current}

    def export_fragment(self):
        return ''


@pytest.fixture
def own_space():
    SEARCH_SPACES.register_module(name='OwnBaseLrSpace', force=True, module=OwnBaseLrSpace)
    yield
    SEARCH_SPACES._module_dict.pop('OwnBaseLrSpace', None)  # the contract tests check every registered space


def _space(name, target, choices):
    return dict(type='AttributeSpace', name=name, target=target, choices=choices,
                distribution=dict(type='Categorical'))


def _warm_up_and_steps(cfg):
    """The lr warmed up over iterations then stepped per epoch; spaces on the base weight decay and on momentum; the
    trunks two epochs long, so epoch 1's checkpoint is inside a trunk."""
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
                           dict(type='MultiStepLR', milestones=[1, 2], gamma=0.5, by_epoch=True)]
    cfg.custom_hooks[0].update(trunk_epochs=2, spaces=[_space('wd', WD, [2e-3, 5e-2]),
                                                       _space('momentum', MOMENTUM, [0.8, 0.95])])


def _lr_space_under_momentum_schedule(cfg):
    """The base lr searched (no lr scheduler) while a momentum warm-up, per epoch, runs converted to iterations."""
    cfg.param_scheduler = [dict(type='LinearMomentum', start_factor=0.5, by_epoch=True, begin=0, end=2,
                                convert_to_iter_based=True)]
    cfg.custom_hooks[0].update(trunk_epochs=1, spaces=[_space('lr', LR, [0.02, 0.08])])


def _iteration_loop(cfg):
    """An iteration loop of 10 in trunks of 4, a warm-up then a cosine per iteration, spaces on the base weight decay
    and on momentum; a checkpoint every 3 iterations (iteration 6 is inside trunk 1)."""
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=10, val_interval=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=3, by_epoch=False)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
                           dict(type='CosineAnnealingLR', T_max=7, by_epoch=False, begin=3, end=10)]
    cfg.custom_hooks[0].pop('trunk_epochs')
    cfg.custom_hooks[0].update(trunk_iters=4, spaces=[_space('wd', WD, [2e-3, 5e-2]),
                                                      _space('momentum', MOMENTUM, [0.8, 0.95])])


def _own_lr_space(cfg):
    cfg.custom_hooks[0].update(trunk_epochs=1, spaces=[dict(type='OwnBaseLrSpace', choices=[0.02, 0.08])])


def _cfg(work_dir, setting):
    cfg = tiny_ohl_cfg(work_dir)
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
    cfg.optim_wrapper.optimizer.weight_decay = 1e-3
    cfg.optim_wrapper.paramwise_cfg = PARAMWISE
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=64)
    cfg.custom_hooks.append(dict(type='GroupValueRecorder'))
    setting(cfg)
    return cfg


def _run(cfg):
    GroupValueRecorder.rows = []
    record_run(cfg)
    return GroupValueRecorder.rows


def _scheduled(setting, it, epoch):
    """(lr factor, momentum) the config's schedulers give at iteration ``it`` of ``epoch`` (mmengine's LinearLR /
    LinearMomentum reach end_factor at step ``end - begin - 1``)."""
    if setting is _warm_up_and_steps:
        return (0.1 + 0.9 * min(it, 2) / 2) * 0.5 ** sum(epoch >= m for m in (1, 2)), None
    if setting is _iteration_loop:  # the cosine from iteration 3, over 7 iterations
        return (0.1 + 0.9 * it / 2 if it < 3 else (1 + math.cos(math.pi * (it - 3) / 7)) / 2), None
    if setting is _lr_space_under_momentum_schedule:
        return 1.0, CONFIG_MOMENTUM * (0.5 + 0.5 * min(it, 7) / 7)
    return 1.0, None


def _expected(setting, row, values):
    """Each parameter's (lr, weight_decay, momentum) by the module docstring's rules, ``values`` the trunk's writes."""
    factor, momentum = _scheduled(setting, row['iter'], row['epoch'])
    lr = values.get(LR, CONFIG_LR)
    return {name: (factor * lr * lr_mult * SCALE, values.get(WD, 1e-3) * decay_mult,
                   values.get(MOMENTUM, momentum if momentum is not None else CONFIG_MOMENTUM))
            for name, (lr_mult, decay_mult) in MULTS.items()}


def _trunk_values(work_dir, it, trunk_iters):
    """The values the trunk holding iteration ``it`` wrote (trunks of ``trunk_iters``), from the run's history."""
    import json
    with open(osp.join(work_dir, 'ohl', 'history.json')) as f:
        history = json.load(f)
    trunk = history[it // trunk_iters]
    return {path: value for written in trunk['copy_values'].values() for path, value in written[0].items()}


def _check(setting, rows, work_dir, trunk_iters):
    assert rows and all(set(row['lr']) == set(MULTS) for row in rows)  # every parameter has its multipliers here
    for row in rows:
        expected = _expected(setting, row, _trunk_values(work_dir, row['iter'], trunk_iters))
        for name, (lr, wd, momentum) in expected.items():
            got = (row['lr'][name], row['weight_decay'][name], row['momentum'][name])
            assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=0) for a, b in zip(got, (lr, wd, momentum))), \
                (row['iter'], name, got, (lr, wd, momentum))


@pytest.mark.parametrize('setting,trunk_iters,checkpoint,resumed_at,iters', [
    (_warm_up_and_steps, 8, 'epoch_1.pth', 4, 12), (_lr_space_under_momentum_schedule, 4, 'epoch_2.pth', 8, 12),
    (_iteration_loop, 4, 'iter_6.pth', 6, 10)])
def test_every_group_trains_at_the_documented_value_through_a_resume(tmp_path, setting, trunk_iters, checkpoint,
                                                                     resumed_at, iters):
    full = str(tmp_path / 'full')
    rows = _run(_cfg(full, setting))
    assert [row['iter'] for row in rows] == list(range(iters))
    _check(setting, rows, full, trunk_iters)
    resumed_dir = str(tmp_path / 'resumed')
    cfg = _cfg(resumed_dir, setting)
    cfg.resume, cfg.load_from = True, osp.join(full, checkpoint)
    resumed = _run(cfg)
    assert resumed == rows[resumed_at:]  # bit for bit the uninterrupted run's
    _check(setting, resumed, resumed_dir, trunk_iters)


def test_a_space_of_ones_own_keeps_the_auto_scale_lr_factor_after_a_resume(tmp_path, own_space):
    full = str(tmp_path / 'full')
    rows = _run(_cfg(full, _own_lr_space))
    _check(_own_lr_space, rows, full, ITERS_PER_EPOCH)
    resumed_dir = str(tmp_path / 'resumed')
    cfg = _cfg(resumed_dir, _own_lr_space)
    cfg.resume, cfg.load_from = True, osp.join(full, 'epoch_2.pth')
    resumed = _run(cfg)
    values = [_trunk_values(full, ITERS_PER_EPOCH, ITERS_PER_EPOCH)[LR]]  # trunk 1's write, in epoch_2.pth
    assert values[0] != CONFIG_LR  # the checkpoint's groups hold another lr than the config's
    assert resumed == rows[2 * ITERS_PER_EPOCH:]
    _check(_own_lr_space, resumed, resumed_dir, ITERS_PER_EPOCH)
