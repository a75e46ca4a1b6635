"""The OHL engine's invariants at trunk boundaries: trunk lengths and ends, checkpoints and validations
inside trunks, gradient accumulation, seeds (issue #11; helpers in ``_invariants.py``).
"""
from __future__ import annotations

import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.runner import IterBasedTrainLoop

from automl_mm.ohl import (
    CopySampler,
    OHLHook,
)
from automl_mm.ohl.checks import check_checkpoint_schedule, check_train_setup, validates_after
from tests.test_ohl._invariants import (  # noqa: F401  (_fresh_layout: autouse)
    _cfg,
    _fresh_layout,
    _layout,
    _schedule_runner,
    _setup_runner,
    _Tiny,
    _train,
)


def test_the_hook_seed_defaults_to_the_runs_seed(tmp_path):
    """OHLHook(seed) defaulted to 0: runs that differed only in randomness.seed drew the same augmentation choices
    and global random streams after every segment start, so "3 seeds" were correlated where they mattered."""
    draws = {}
    for seed in (1, 2):
        cfg = _cfg(tmp_path / str(seed))
        cfg.custom_hooks[0].pop('seed', None)
        cfg.randomness = dict(seed=seed)
        cfg.train_cfg.max_epochs = 1
        runner, history = _train(cfg)
        hook = next(h for h in runner.hooks if type(h).__name__ == 'OHLHook')
        assert hook.seed == runner.seed == seed
        draws[seed] = history[0]['samples']
    explicit = _cfg(tmp_path / 'explicit', seed=5)
    explicit.randomness = dict(seed=1)
    explicit.train_cfg.max_epochs = 1
    runner, _ = _train(explicit)
    assert next(h for h in runner.hooks if type(h).__name__ == 'OHLHook').seed == 5


def test_a_trunk_that_ends_with_an_epoch_leaves_the_epoch_checkpoint_at_a_trunk_end(tmp_path):
    """trunk_iters equal to the epoch length in an epoch loop: the next trunk began inside the epoch's last
    after_train_iter, so the epoch checkpoint recorded a trunk in progress and a resume from it warned that
    copy 0's weights were taken and statistics dropped, although nothing of the new trunk had run."""
    cfg = _cfg(tmp_path, trunk_iters=4)  # 4 iterations per epoch
    cfg.train_cfg.max_epochs = 2
    runner, history = _train(cfg)
    assert [(h['trunk'], h['iter']) for h in history] == [(0, 4), (1, 8)]
    # epochs completed, as trunk_epochs records count them (they read 0 and 1)
    assert [h['epoch'] for h in history] == [1, 2]
    # the per-trunk probabilities are a record written without plots too (the tiny config sets plot=False)
    assert not runner.hooks[[type(h).__name__ for h in runner.hooks].index('OHLHook')].plot
    with np.load(osp.join(cfg.work_dir, 'ohl', 'probs_aug.npz')) as probs:
        assert probs['trunks'].tolist() == [0, 1] and probs['probs'].shape[0] == 2
    state = torch.load(osp.join(cfg.work_dir, 'epoch_1.pth'), map_location='cpu', weights_only=False)['ohl']
    assert state['trunk'] == 1 and not state['in_trunk'] and not state['copies_apart']


def test_gradient_accumulation_must_not_straddle_a_trunk_end():
    """A trunk ending inside an accumulation window left each losing copy its own pending gradient, which the
    broadcast does not carry: added to the best copy's weights at the next step, the copies drifted apart."""
    from mmengine.optim import OptimWrapper, OptimWrapperDict

    from automl_mm.ohl.checks import check_accumulation

    layout = _layout(2, 1)
    runner = _setup_runner(CopySampler(_Tiny(), seed=0))
    assert len(runner.train_dataloader) == 6  # iterations per epoch
    params = torch.nn.Linear(2, 2).parameters()
    runner.optim_wrapper = OptimWrapper(torch.optim.SGD(params, lr=0.1), accumulative_counts=4)
    with pytest.raises(ValueError, match=r'trunk_iters=3\) gives trunks of 3 iterations, not a multiple of '
                                         r'optim_wrapper.accumulative_counts=4'):
        check_accumulation(runner, layout, None, 3)
    with pytest.raises(ValueError, match=r'trunk_epochs=1\) gives trunks of 6 iterations'):
        check_accumulation(runner, layout, 1, None)
    check_accumulation(runner, layout, None, 8)
    check_accumulation(runner, layout, 2, None)  # 12 iterations
    check_accumulation(runner, _layout(1, 1), None, 3)  # one copy: nothing to mix
    layout = _layout(2, 1)
    runner.optim_wrapper = OptimWrapperDict(a=OptimWrapper(torch.optim.SGD(torch.nn.Linear(2, 2).parameters(),
                                                                           lr=0.1), accumulative_counts=8))
    with pytest.raises(ValueError, match='accumulative_counts=8'):
        check_accumulation(runner, layout, 2, None)


def test_a_run_that_ends_inside_a_trunk_ends_it_before_the_last_checkpoint(tmp_path):
    """Item 1: trunk_epochs=2, max_epochs=3: trunk 1 covers epoch 3 only; it is ended, and marked partial."""
    cfg = _cfg(tmp_path, trunk_epochs=2)
    runner, history = _train(cfg)
    assert [(h['trunk'], h['epoch'], h['iter'], h['partial'], h['iters_in_trunk']) for h in history] == [
        (0, 2, 8, False, 8), (1, 3, 12, True, 4)]
    assert history[1]['samples']['aug'] == [64.0]  # one epoch of choices counted in the partial trunk
    # the last checkpoint is written after the partial trunk's update: it holds the final θ
    ckpt = torch.load(osp.join(cfg.work_dir, 'epoch_3.pth'), weights_only=False)
    assert ckpt['ohl']['trunk'] == 2 and not ckpt['ohl']['in_trunk']
    assert len(ckpt['ohl']['history']) == 2


def test_iteration_trunks_record_the_iterations_completed(tmp_path):
    """Item 2: trunk_iters=4 in an iteration loop of 10: trunks end after iterations 4, 8 and (partial) 10."""
    cfg = _cfg(tmp_path, trunk_iters=4)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=10, val_interval=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=5, by_epoch=False)
    cfg.log_processor = dict(by_epoch=False)
    _, history = _train(cfg)
    assert [(h['iter'], h['partial']) for h in history] == [(4, False), (8, False), (10, True)]


def test_trunk_epochs_under_an_iteration_loop_is_refused(tmp_path):
    loop = object.__new__(IterBasedTrainLoop)
    runner = SimpleNamespace(train_loop=loop)
    with pytest.raises(ValueError, match=r'trunk_epochs=1.*train_cfg.type is IterBasedTrainLoop.*trunk_iters'):
        check_train_setup(runner, _layout(1, 1), trunk_epochs=1)


@pytest.mark.parametrize('checkpoint, trunk, bad', [
    (dict(interval=1), dict(trunk_epochs=2), 'epoch 1'),
    (dict(interval=2, save_begin=1), dict(trunk_epochs=2), 'epoch 1'),
    (dict(interval=1), dict(trunk_iters=4), 'epoch 1'),  # epoch ends at iterations 6, 12, 18 vs trunks of 4
    (dict(interval=6, by_epoch=False), dict(trunk_iters=4), 'iteration 6'),  # an epoch end inside a trunk
    (dict(interval=6, by_epoch=False), dict(trunk_iters=10), 'iteration 6'),
    # (iteration checkpoints with trunk_epochs, or inside an epoch: refused earlier, see the test below)
])
def test_a_checkpoint_inside_a_trunk_is_refused_with_several_copies(checkpoint, trunk, bad):
    """Item 8: only rank 0 saves, so a checkpoint inside a trunk would hold copy 0 only and resume inexactly."""
    runner = _schedule_runner(checkpoint)
    with pytest.raises(ValueError, match=rf'default_hooks.checkpoint .* would save after {bad}, inside an OHL '
                                         r'trunk .*Make default_hooks.checkpoint.interval'):
        check_checkpoint_schedule(runner, _layout(2, 1), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))
    # one copy holds everything: any schedule is exact
    check_checkpoint_schedule(runner, _layout(1, 2), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))


def test_every_checkpoint_hook_is_checked_not_only_the_first():
    """Only the runner's first CheckpointHook was checked: a second one (in custom_hooks, beside
    default_hooks.checkpoint) saving inside a trunk wrote copy 0 alone, silently. Each is checked, the error names
    its config key."""
    from mmengine.config import ConfigDict
    from mmengine.hooks import CheckpointHook

    runner = _schedule_runner(dict(interval=2))  # epochs 2, 4: trunk ends
    runner.hooks.append(CheckpointHook(interval=1, by_epoch=True))
    check = (runner, _layout(2, 1), 2, None)
    with pytest.raises(ValueError, match=r'CheckpointHook\(interval=1\) \(interval=1, save_begin=0, by_epoch=True\) '
                                         r'would save after epoch 1, inside an OHL trunk'):
        check_checkpoint_schedule(*check)
    runner.cfg = ConfigDict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2)),
                            custom_hooks=[dict(type='OHLHook'), dict(type='mmengine.CheckpointHook', interval=1)])
    with pytest.raises(ValueError, match=r'custom_hooks\[1\] \(interval=1, save_begin=0, by_epoch=True\) would save '
                                         r'after epoch 1, .*Make custom_hooks\[1\]\.interval'):
        check_checkpoint_schedule(*check)
    runner.hooks.reverse()  # a custom hook of higher priority comes first: the same
    with pytest.raises(ValueError, match=r'custom_hooks\[1\] \(interval=1'):
        check_checkpoint_schedule(*check)
    runner.hooks[0].interval = runner.cfg.custom_hooks[1].interval = 4
    check_checkpoint_schedule(*check)


@pytest.mark.parametrize('checkpoint, trunk, loop', [
    (dict(interval=2), dict(trunk_epochs=2), 'epoch'),
    (dict(interval=4, save_begin=2), dict(trunk_epochs=2), 'epoch'),
    (dict(interval=2), dict(trunk_iters=4), 'epoch'),  # epochs 2, 4 end at iterations 12, 24
    (dict(interval=4), dict(trunk_epochs=3), 'epoch'),  # epoch 4 is the last: saved after its partial trunk
    (dict(interval=12, by_epoch=False), dict(trunk_iters=6), 'epoch'),  # iterations 12, 24: epoch ends
    (dict(interval=10, by_epoch=False), dict(trunk_iters=5), 'iter'),
    (dict(interval=7, by_epoch=False), dict(trunk_iters=5), 'short'),  # the only save is the final one
    (dict(interval=-1), dict(trunk_epochs=2), 'epoch'),  # no periodic saves
    # by_epoch under an iteration loop: mmengine calls after_train_epoch once, at the end (it was refused as a
    # save after iteration 1)
    (dict(interval=1), dict(trunk_iters=5), 'iter'),
])
def test_checkpoints_at_trunk_ends_and_the_final_one_are_accepted(checkpoint, trunk, loop):
    runner = _schedule_runner(checkpoint, iteration_loop=loop != 'epoch', max_iters=7 if loop == 'short' else 24)
    check_checkpoint_schedule(runner, _layout(2, 1), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))


@pytest.mark.parametrize('checkpoint, trunk, bad', [
    (dict(interval=1), dict(trunk_epochs=1), 'epoch 1'),  # trunk 0 ends without a broadcast
    (dict(interval=2, save_begin=1), dict(trunk_epochs=1), 'epoch 1'),
    (dict(interval=6, by_epoch=False), dict(trunk_iters=6), 'iteration 6'),
    (dict(interval=None), dict(trunk_epochs=1), None),  # every 2 epochs: accepted
    (dict(interval=12, by_epoch=False), dict(trunk_iters=6), None),
])
def test_checkpoints_between_broadcasts_are_refused(checkpoint, trunk, bad):
    """broadcast_interval=2: the copies differ after trunk 0 too, so checkpoints must fall every 2 trunks."""
    checkpoint = checkpoint if checkpoint['interval'] is not None else dict(interval=2)
    runner = _schedule_runner(checkpoint)
    args = (runner, _layout(2, 1), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))
    if bad is None:
        check_checkpoint_schedule(*args, broadcast_interval=2)
        return
    with pytest.raises(ValueError, match=rf'would save after {bad}, between two OHL broadcasts .*broadcast_interval=2'
                                         r'.*multiple of the trunk length times broadcast_interval'):
        check_checkpoint_schedule(*args, broadcast_interval=2)
    check_checkpoint_schedule(*args)  # broadcasting every trunk, the same schedule is exact


@pytest.mark.parametrize('loop, iters, expected', [
    (dict(val_interval=2), 12, True),  # after epoch 2 (6 iterations per epoch)
    (dict(val_interval=2), 6, False),
    (dict(val_interval=2), 7, False),  # not an epoch end
    (dict(val_interval=3), 24, True),  # the last epoch always validates
    (dict(val_interval=1, val_begin=3), 12, False),
    (dict(val_interval=1, val_begin=3), 18, True),
    (dict(val_interval=10, iteration=True), 10, True),
    (dict(val_interval=10, iteration=True), 5, False),
    (dict(val_interval=100, iteration=True), 24, True),  # last iteration
    (dict(val_interval=2, dynamic_milestones=[0, 2], dynamic_intervals=[2, 1]), 18, True),  # interval 1 from 2
    (dict(val_interval=2, dynamic_milestones=[0, 5], dynamic_intervals=[2, 1]), 18, False),
    (dict(val_interval=1, no_val=True), 12, False),
])
def test_validates_after_mirrors_mmengine_train_loops(loop, iters, expected):
    """broadcast_interval > 1 broadcasts before every validation, so the loop's own condition must be mirrored."""
    iteration = loop.pop('iteration', False)
    no_val = loop.pop('no_val', False)
    runner = _schedule_runner(dict(interval=1), iteration_loop=iteration)
    for key, value in dict(dict(val_begin=1, dynamic_milestones=None), **loop).items():
        setattr(runner.train_loop, key, value)
    runner.val_loop = None if no_val else object()
    runner.max_epochs = 4
    assert validates_after(runner, iters) is expected


def test_broadcast_interval_must_be_a_positive_integer():
    space = dict(type='AttributeSpace', name='lr', target='optim_wrapper.optimizer.param_groups.*.lr',
                 choices=[0.1, 1.0], distribution=dict(type='Categorical', num_choices=2))
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match=rf'broadcast_interval must be a positive integer, got {bad}'):
            OHLHook(spaces=[space], num_copies=2, reward_key='accuracy/top1', trunk_epochs=1, broadcast_interval=bad)


@pytest.mark.parametrize('loop, trunk, bad', [
    (dict(val_interval=1), dict(trunk_epochs=2), 'epoch 1'),  # the helper's case: 2-epoch trunks, validate each
    (dict(val_interval=1, val_begin=3), dict(trunk_epochs=2), 'epoch 3'),
    (dict(val_interval=1), dict(trunk_iters=4), 'epoch 1'),  # epoch ends at iterations 6, 12, 18; trunks of 4
    (dict(val_interval=9, iteration=True), dict(trunk_epochs=1), 'iteration 9'),
    (dict(val_interval=5, iteration=True), dict(trunk_iters=10), 'iteration 5'),
    (dict(val_interval=2), dict(trunk_epochs=2), None),
    (dict(val_interval=3), dict(trunk_epochs=2), 'epoch 3'),
    (dict(val_interval=3), dict(trunk_epochs=3), None),  # epoch 4 is the last: validated after the last trunk
    (dict(val_interval=12, iteration=True), dict(trunk_iters=6), None),
    # mmengine takes the interval of epoch n + 1: interval 1 from epoch 1 on
    (dict(val_interval=2, dynamic_milestones=[0, 2], dynamic_intervals=[2, 1]), dict(trunk_epochs=2), 'epoch 1'),
    (dict(val_interval=1, no_val=True), dict(trunk_epochs=2), None),
])
def test_a_validation_inside_a_trunk_is_refused_with_several_copies(loop, trunk, bad):
    """mmengine splits the val set over the ranks, each scoring it with its own copy: inside a trunk the copies
    differ, so the logged metric (and save_best, early stopping) was a mixture of copies (2 copies, 2-epoch
    trunks, val_interval=1: 11.48 % logged, the copies 10.08 % and 12.32 %)."""
    from automl_mm.ohl.checks import check_val_schedule

    iteration = loop.pop('iteration', False)
    no_val = loop.pop('no_val', False)
    runner = _schedule_runner(dict(interval=-1), iteration_loop=iteration)
    for key, value in dict(dict(val_begin=1, dynamic_milestones=None), **loop).items():
        setattr(runner.train_loop, key, value)
    runner.val_loop = None if no_val else object()
    runner.max_epochs = 4
    args = (runner, _layout(2, 1), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))
    if bad is None:
        check_val_schedule(*args)
    else:
        with pytest.raises(ValueError, match=rf'train_cfg.val_interval=.* would validate after {bad}, inside an OHL '
                                             r'trunk .*mixture of the copies.*multiple of the trunk length'):
            check_val_schedule(*args)
    check_val_schedule(runner, _layout(1, 2), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))  # one copy



def test_iteration_checkpoints_an_epoch_loop_cannot_resume_or_that_miss_the_broadcast_are_refused():
    """(a) With trunk_epochs, CheckpointHook(by_epoch=False) saved in after_train_iter, before OHLHook ended the
    epoch's trunk: every checkpoint, the final one too, held copy 0 from before the broadcast. (b) A save inside an
    epoch: mmengine's epoch loop resumes it from the epoch's start, trained its first batches twice and ran past
    max_iters outside any trunk (the two ranks ended with different models)."""
    runner = _schedule_runner(dict(interval=12, by_epoch=False))  # 6 iterations per epoch
    with pytest.raises(ValueError, match=r'by_epoch=False\) in an epoch-based loop saves before '
                                         r'OHLHook\(trunk_epochs\) ends the epoch.*Use by_epoch=True'):
        check_checkpoint_schedule(runner, _layout(2, 1), 2, None)
    runner = _schedule_runner(dict(interval=4, by_epoch=False))
    with pytest.raises(ValueError, match=r'would save after iteration 4, inside epoch 1 \(6 iterations each\).*twice'):
        check_checkpoint_schedule(runner, _layout(2, 1), None, 4)
    check_checkpoint_schedule(runner, _layout(1, 1), None, 4)  # one copy: not an OHL copy layout's concern
