"""The OHL engine's invariants, each with the smallest input that broke it (issue #11).

In-process runs use one copy (no process group); the multi-copy checks are in ``test_ohl_runs.py``.
"""
from __future__ import annotations

import copy
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import BaseMetric
from mmengine.hooks import CheckpointHook
from mmengine.runner import IterBasedTrainLoop
from mmengine.structures import BaseDataElement
from torch.utils.data import DataLoader, Dataset

from automl_mm.ohl import (
    CopyLayout,
    CopySampler,
    FactorisedCategorical,
    LivePolicy,
    OHLHook,
    OHLRandomChoice,
    PipelineChoiceSpace,
    reset_copy_layout,
)
from automl_mm.ohl import copies as copies_module
from automl_mm.ohl.checks import check_checkpoint_schedule, check_train_setup, validates_after
from automl_mm.ohl.report import choice_label
from automl_mm.ohl.reward import combine_copy_rows, copy_is_valid, settle_rewards
from automl_mm.ohl.segments import segment_seeds
from automl_mm.ohl.spaces import AttributeSpace
from automl_mm.ohl.sync import same
from automl_mm.registry import METRICS, RUNNERS, TRANSFORMS
from tests.conftest import tiny_ohl_cfg

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'


@METRICS.register_module(force=True)
class EmptyMetric(BaseMetric):
    """Computes nothing, like ``CocoMetric(format_only=True)``."""

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return {}


@TRANSFORMS.register_module(force=True)
class PackWithoutMeta(BaseTransform):
    """A packing transform with no meta_keys at all: the choice cannot reach the hook."""

    def transform(self, results):
        img = torch.from_numpy(np.ascontiguousarray(results['img'].transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={})
        sample.gt_label = torch.tensor([results['gt_label']])
        return {'inputs': img, 'data_samples': sample}


@pytest.fixture(autouse=True)
def _fresh_layout():
    reset_copy_layout()
    yield
    reset_copy_layout()


def _layout(num_copies, ranks_per_copy, rank=0, group=None):
    layout = CopyLayout(num_copies, ranks_per_copy, rank, num_copies * ranks_per_copy, group)
    copies_module._LAYOUT = layout
    return layout


# ------------------------------------------------------------------------------------------ in-process runs
def _cfg(tmp_path, **hook):
    return tiny_ohl_cfg(str(tmp_path / 'work'), **hook)


def _train(cfg):
    runner = RUNNERS.build(copy.deepcopy(cfg))  # runner_type CopyRunner (configs/_base_/ohl_copies.py)
    runner.train()
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        return runner, json.load(f)


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


def test_a_trunk_that_counted_no_choices_is_an_error(tmp_path):
    """Item 5: a packing transform that drops the choice: the trunk end names the space and its key."""
    cfg = _cfg(tmp_path, trunk_iters=2)
    cfg.train_dataloader.dataset.pipeline = [cfg.train_pipeline[0], dict(type='PackWithoutMeta')]
    with pytest.raises(RuntimeError, match=r"space 'aug' counted no choices in 2 iterations.*"
                                           r"\['ohl_choice'\]\['aug'\]"):
        _train(cfg)


def test_packing_transforms_are_made_to_carry_the_choice():
    """Item 5: mmdet's PackDetInputs keeps only its default meta_keys; the space adds ohl_choice to them."""
    from mmdet.datasets.transforms import PackDetInputs

    pack = PackDetInputs()
    assert 'ohl_choice' not in pack.meta_keys
    choice = OHLRandomChoice(transforms=[[], []], key='aug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(
        pipeline=SimpleNamespace(transforms=[choice, pack]))))
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=2), key='aug')
    space.setup(runner, _layout(1, 1), seed=0)
    space.begin_trunk(runner, 0, torch.Generator())
    out = pack(choice({'img': np.zeros((8, 8, 3), np.uint8), 'img_id': 0, 'img_shape': (8, 8),
                       'ori_shape': (8, 8), 'scale_factor': (1.0, 1.0), 'img_path': '', 'flip': False,
                       'flip_direction': None}))
    space.after_train_iter(runner, {'data_samples': [out['data_samples']]})
    assert space.trunk_stats().sum() == 1


def test_empty_metrics_warn_and_fail_when_every_copy_has_none(tmp_path):
    """Item 10: a reward evaluator that returns nothing is not a reward of 0 for everyone."""
    cfg = _cfg(tmp_path, trunk_iters=2)
    cfg.custom_hooks[0].reward_evaluator = dict(type='EmptyMetric')
    with pytest.raises(RuntimeError, match=r'reward evaluator \(EmptyMetric\) returned no metrics for any copy'):
        _train(cfg)


# ------------------------------------------------------------------------------------------ statistics of copies
def _stats_space(per_item, name):
    if per_item:
        return PipelineChoiceSpace(dict(type='Categorical', num_choices=3), key=name)
    return AttributeSpace(dict(type='Categorical', num_choices=3), target='x', choices=[1, 2, 3], name=name)


def test_statistics_of_a_copys_ranks_are_summed():
    """Item 3: 1 copy x 2 ranks, 150 images each: the controller gets the 300 choices, not the lead's 150."""
    spaces = [_stats_space(True, 'aug'), _stats_space(False, 'lr')]
    layout = _layout(2, 2)
    rows = torch.tensor([
        # reward, valid, empty, stale(aug), stale(lr), aug histogram, lr sample
        [70., 1, 0, 2, 0, 100, 50, 0, 0, 1, 0],
        [np.nan, 1, 0, 1, 0, 60, 90, 0, 0, 1, 0],
        [80., 1, 0, 0, 0, 150, 0, 0, 1, 0, 0],
        [np.nan, 0, 0, 0, 0, 0, 0, 150, 1, 0, 0],
    ], dtype=torch.float64)
    out = combine_copy_rows(rows, layout, spaces)
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


# ------------------------------------------------------------------------------------------ setup checks
class _Tiny(Dataset):

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return i


def _setup_runner(sampler, model=None):
    loader = DataLoader(_Tiny(), sampler=sampler, batch_size=2)
    return SimpleNamespace(train_loop=object(), train_dataloader=loader, model=model or torch.nn.Linear(2, 2))


def test_several_copies_need_a_copy_aware_sampler():
    """Item 4: DefaultSampler would give each of 2 copies a disjoint half of the data."""
    layout = _layout(2, 1)
    with pytest.raises(ValueError, match=r'num_copies=2 needs a copy-aware train_dataloader.sampler, got '
                                         r'DefaultSampler'):
        check_train_setup(_setup_runner(DefaultSampler(_Tiny())), layout, trunk_epochs=1)
    check_train_setup(_setup_runner(CopySampler(_Tiny(), seed=0)), layout, trunk_epochs=1)

    class MySampler(DefaultSampler):
        copy_aware = True  # the documented opt-out

    check_train_setup(_setup_runner(MySampler(_Tiny())), layout, trunk_epochs=1)
    check_train_setup(_setup_runner(DefaultSampler(_Tiny())), _layout(1, 1), trunk_epochs=1)  # one copy: fine


def _schedule_runner(checkpoint, iteration_loop=False, max_iters=24):
    """12 images in batches of 2: 6 iterations per epoch; 4 epochs (24 iterations) unless given."""
    loader = DataLoader(_Tiny(), batch_size=2)
    loop = object.__new__(IterBasedTrainLoop) if iteration_loop else SimpleNamespace()
    return SimpleNamespace(train_loop=loop, train_dataloader=loader, hooks=[CheckpointHook(**checkpoint)],
                           max_iters=max_iters)


@pytest.mark.parametrize('checkpoint, trunk, bad', [
    (dict(interval=1), dict(trunk_epochs=2), 'epoch 1'),
    (dict(interval=2, save_begin=1), dict(trunk_epochs=2), 'epoch 1'),
    (dict(interval=1), dict(trunk_iters=4), 'epoch 1'),  # epoch ends at iterations 6, 12, 18 vs trunks of 4
    (dict(interval=9, by_epoch=False), dict(trunk_epochs=1), 'iteration 9'),
    (dict(interval=5, by_epoch=False), dict(trunk_iters=10), 'iteration 5'),
])
def test_a_checkpoint_inside_a_trunk_is_refused_with_several_copies(checkpoint, trunk, bad):
    """Item 8: only rank 0 saves, so a checkpoint inside a trunk would hold copy 0 only and resume inexactly."""
    runner = _schedule_runner(checkpoint)
    with pytest.raises(ValueError, match=rf'default_hooks.checkpoint .* would save after {bad}, inside an OHL '
                                         r'trunk .*Make default_hooks.checkpoint.interval'):
        check_checkpoint_schedule(runner, _layout(2, 1), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))
    # one copy holds everything: any schedule is exact
    check_checkpoint_schedule(runner, _layout(1, 2), trunk.get('trunk_epochs'), trunk.get('trunk_iters'))


@pytest.mark.parametrize('checkpoint, trunk, loop', [
    (dict(interval=2), dict(trunk_epochs=2), 'epoch'),
    (dict(interval=4, save_begin=2), dict(trunk_epochs=2), 'epoch'),
    (dict(interval=2), dict(trunk_iters=4), 'epoch'),  # epochs 2, 4 end at iterations 12, 24
    (dict(interval=4), dict(trunk_epochs=3), 'epoch'),  # epoch 4 is the last: saved after its partial trunk
    (dict(interval=12, by_epoch=False), dict(trunk_epochs=2), 'epoch'),
    (dict(interval=10, by_epoch=False), dict(trunk_iters=5), 'iter'),
    (dict(interval=7, by_epoch=False), dict(trunk_iters=5), 'short'),  # the only save is the final one
    (dict(interval=-1), dict(trunk_epochs=2), 'epoch'),  # no periodic saves
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


def test_syncbn_is_refused_across_copies_and_restricted_inside_one():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.SyncBatchNorm(4))
    layout = _layout(2, 1)
    with pytest.raises(ValueError, match=r'model.1 is a SyncBatchNorm.*average batch statistics across the OHL '
                                         r'copies'):
        check_train_setup(_setup_runner(CopySampler(_Tiny(), seed=0), model), layout, trunk_epochs=1)
    group = object()
    layout = _layout(2, 2, group=group)
    check_train_setup(_setup_runner(CopySampler(_Tiny(), seed=0), model), layout, 1)
    assert model[1].process_group is group


# ------------------------------------------------------------------------------------------ divergence
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


def _settle(rewards, valid, empty=None, counts=(5.0, 5.0, 5.0, 5.0), worst=None, iters=3):
    from automl_mm.ohl import Categorical
    space = SimpleNamespace(name='aug', key='aug', per_item=True, distribution=Categorical(num_choices=2))
    trunk = dict(rewards=rewards, valid=valid, empty=empty or [False] * len(rewards),
                 stats={'aug': [torch.tensor([c, 0.0], dtype=torch.float64) for c in counts]})
    scorer = SimpleNamespace(metric_names=lambda: ['accuracy/top1'], reward_key='accuracy/top1')
    return settle_rewards(trunk, [space], scorer, worst, 7, iters)


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


# ------------------------------------------------------------------------------------------ RNG streams
def test_no_two_random_streams_of_a_small_run_are_equal():
    """Item 7: 4 copies x 4 epochs: 16 distinct sampler orders (seed + copy + epoch gave 14 repeated pairs); choice
    streams of every (copy, rank, trunk, segment, worker) differ."""
    orders = []
    for copy_id in range(4):
        _layout(4, 1, rank=copy_id)
        sampler = CopySampler(_Tiny(), seed=0)
        for epoch in range(4):
            sampler.set_epoch(epoch)
            orders.append(tuple(sampler))
    assert len(set(orders)) == 16

    # the trainer's Python / numpy / torch streams: 2 copies x 2 ranks x 2 trunks of 2 epochs of 4 iterations
    seeds = [segment_seeds(0, c, r, epoch // 2, epoch, it) for c in range(2) for r in range(2) for epoch in range(4)
             for it in range(epoch * 4, epoch * 4 + 4)]
    for kind in ('python', 'numpy', 'torch'):
        assert len({s[kind] for s in seeds}) == len(seeds)

    transform = OHLRandomChoice(transforms=[[]] * 1000, key='aug')
    live, streams = LivePolicy(1000), set()
    for copy_id in range(2):
        for rank in range(2):
            transform.bind(live, seed=0, copy_id=copy_id, rank_in_copy=rank)
            for trunk in range(2):
                for segment in (0, 4, 8):
                    live.publish(torch.full((1000,), 1e-3), trunk, segment)
                    streams.add(tuple(transform({})['ohl_choice']['aug'] for _ in range(8)))
    assert len(streams) == 2 * 2 * 2 * 3


def test_shared_order_gives_every_copy_the_same_order_and_each_epoch_a_new_one():
    """``shared_order=True``: common random numbers across copies (one order per epoch for all, ranks of a copy
    interleaved shards of it); the default keeps one order per (copy, epoch)."""
    def orders(shared, ranks_per_copy=1):
        out = {}
        for copy_id in range(3):
            for rank in range(ranks_per_copy):
                _layout(3, ranks_per_copy, rank=copy_id * ranks_per_copy + rank)
                sampler = CopySampler(_Tiny(), seed=0, shared_order=shared)
                for epoch in range(3):
                    sampler.set_epoch(epoch)
                    out[copy_id, rank, epoch] = list(sampler)
        return out

    shared = orders(True)
    for epoch in range(3):
        assert shared[0, 0, epoch] == shared[1, 0, epoch] == shared[2, 0, epoch]
    assert len({tuple(shared[0, 0, e]) for e in range(3)}) == 3
    assert sorted(shared[0, 0, 0]) == list(range(len(_Tiny())))
    assert len({tuple(v) for v in orders(False).values()}) == 9
    two_ranks = orders(True, ranks_per_copy=2)
    for copy_id in range(3):  # the two ranks' shards interleave back into the copy-independent order
        merged = [i for pair in zip(two_ranks[copy_id, 0, 1], two_ranks[copy_id, 1, 1]) for i in pair]
        assert merged == shared[0, 0, 1][:len(merged)]
    with pytest.raises(TypeError, match='shared_order must be a bool'):
        CopySampler(_Tiny(), seed=0, shared_order='yes')


class _Choices(Dataset):

    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return self.transform({})['ohl_choice']['aug']


def test_epochs_of_one_trunk_do_not_replay_with_non_persistent_workers():
    """Item 7: each epoch starts fresh workers; their draws depend on the segment (epoch start) too."""
    transform = OHLRandomChoice(transforms=[[]] * 100, key='aug')
    live = LivePolicy(100)
    transform.bind(live, seed=0, copy_id=0, rank_in_copy=0)
    loader = DataLoader(_Choices(transform), batch_size=4, num_workers=1, persistent_workers=False)
    epochs = []
    for segment in (0, 4):  # the hook publishes the iteration at each epoch start
        live.publish(torch.full((100,), 0.01), version=0, segment=segment)
        epochs.append(torch.cat(list(loader)).tolist())
    assert epochs[0] != epochs[1]


# ------------------------------------------------------------------------------------------ policy versions
def test_choices_drawn_from_the_previous_theta_are_not_counted():
    """Item 6: batches prefetched by workers before the trunk started carry the old version and are dropped."""
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=3), key='aug')
    transform = OHLRandomChoice(transforms=[[], [], []], key='aug')
    transform.bind(space.live, seed=0, copy_id=0, rank_in_copy=0)
    space.transforms = [transform]

    class Samples(Dataset):

        def __len__(self):
            return 64

        def __getitem__(self, i):
            return BaseDataElement(metainfo={'ohl_choice': transform({})['ohl_choice']})

    loader = DataLoader(Samples(), batch_size=4, num_workers=2, prefetch_factor=4,
                        collate_fn=lambda b: {'data_samples': b})
    space.distribution.load_state_dict({'logits': torch.tensor([30.0, 0.0, 0.0])})
    space.begin_trunk(None, 0, torch.Generator())  # θ of trunk 0 picks choice 0
    it = iter(loader)
    first = next(it)
    space.after_train_iter(None, first)
    space.reset_stats()
    space.distribution.load_state_dict({'logits': torch.tensor([0.0, 0.0, 30.0])})
    space.begin_trunk(None, 1, torch.Generator())  # θ of trunk 1 picks choice 2; batches already in flight don't
    for batch in it:
        space.after_train_iter(None, batch)
    stats = space.trunk_stats()
    assert stats[0] == 0 and stats[1] == 0  # nothing drawn from trunk 0's θ is counted as trunk 1's
    assert stats[2] + space.stale_count() == 60


# ------------------------------------------------------------------------------------------ readable labels
def test_factorised_pair_spaces_get_readable_pair_names():
    """Item 11: the flat pair names of OHLAutoAugment were assigned as per-factor labels (single characters)."""
    from automl_mm.augment import OHLAutoAugment

    transform = OHLAutoAugment(key='autoaug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(
        pipeline=SimpleNamespace(transforms=[transform]))))
    space = PipelineChoiceSpace(dict(type='FactorisedCategorical', factor_sizes=(36, 36)), key='autoaug')
    space.setup(runner, _layout(1, 1), seed=0)
    names = transform.choice_names()
    top = space.distribution.summary(top_k=3)['top']
    assert [t['choice'] for t in top] == names[:3] and ' + ' in top[0]['choice']
    # per-factor labels given in the config stay, and read as pairs in plots
    dist = FactorisedCategorical([2, 2], labels=[['a', 'b'], ['c', 'd']])
    dist.set_choice_names(['1', '2', '3', '4'], overwrite=False)
    assert dist.summary(top_k=1)['top'][0]['choice'] == ['a', 'c'] and choice_label(['a', 'c']) == 'a + c'


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


@pytest.mark.parametrize('persistent', [True, False])
def test_an_iteration_loop_with_workers_draws_from_theta(tmp_path, persistent):
    """mmengine's IterBasedTrainLoop starts its dataloader workers when it is built, before OHLHook.before_train
    binds the choice transforms: the workers' unbound copies drew uniform pairs for the whole run (125 distinct
    pairs of 128 images under a theta with all its mass on pair 0), recorded no policy version, and were counted
    as theta's samples."""
    from mmengine.config import Config
    from mmengine.hooks import Hook

    from conftest import REPO_ROOT

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py'))
    hook = cfg.custom_hooks[0]
    logits = [-30.0] * 1296
    logits[0] = 30.0
    hook.update(num_copies=1, plot=False, trunk_iters=6)  # longer than the 4 batches the workers prefetch
    hook.pop('trunk_epochs')
    hook.spaces[0].distribution = dict(type='Categorical', num_choices=1296, logits=logits)
    cfg.custom_hooks = [hook]
    cfg.model.backbone.channels = (8, 16)
    cfg.model.head.in_channels = 16
    cfg.train_dataloader.update(num_workers=2, persistent_workers=persistent, batch_size=16)
    cfg.train_dataloader.dataset.max_samples = 64
    cfg.reward_dataloader.dataset.max_samples = 32
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=12, val_interval=1000)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000, by_epoch=False)
    cfg.log_processor = dict(by_epoch=False)
    cfg.param_scheduler = []
    cfg.reward_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.work_dir = str(tmp_path)
    seen = []

    class _Spy(Hook):
        priority = 'VERY_LOW'

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.extend(dict(s.metainfo['ohl_choice']) for s in data_batch['data_samples'])

    runner = RUNNERS.build(cfg)
    runner.register_hook(_Spy())
    runner.train()
    assert len(seen) == 192 and all('autoaug@version' in r for r in seen)
    assert all(r['autoaug'] == 0 for r in seen)  # theta's pair, not uniform draws
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert all(h['samples']['autoaug'][0] > 0 for h in history)


def test_settings_that_learn_nothing_or_something_else_are_refused_when_built():
    """Each was accepted: theta never moved (controller lr 0), a run was one partial trunk, a seed of 1.7 was read as
    1, 'False' in a config file switched a check on, NaN fixed probabilities drew choice 0 for every image, and
    an element listed twice got two probabilities and twice the uniform mass."""
    from automl_mm.augment import FixedAutoAugment, OHLRandomChoice
    from automl_mm.augment.elements import build_elements
    from automl_mm.ohl import OHLHook
    from automl_mm.ohl.checks import check_trunk_fits
    from automl_mm.ohl.controllers import REINFORCE
    from automl_mm.ohl.distributions import Categorical

    space = [dict(type='PipelineChoiceSpace', key='aug')]
    for kwargs, match in ((dict(reward_key=None), 'reward_key must be a metric name'),
                          (dict(worst_reward=float('nan')), 'worst_reward must be None or a finite number'),
                          (dict(seed=1.7), 'seed must be None or an int'),
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

