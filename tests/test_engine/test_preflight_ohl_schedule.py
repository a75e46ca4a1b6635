"""``OHLHook.before_train``'s checks of the run's schedule and setup, made on the config in the launching process
(``check_config`` / ``build_check``, :mod:`automl_mm.engine.preflight_ohl`): a checkpoint or validation interval
inside a trunk, a trunk longer than the run, gradient accumulation across a trunk end, ``trunk_epochs`` under an
iteration loop, a sampler that is not copy-aware, a model wrapper that is not ``CopyDataParallel``, SyncBN across
copies. They ran only in the workers, after the launch (about 20 s), once per worker; the stand-in runner must give
the verdict the real runner gives (checked against mmengine Runners built from the same configs)."""
from __future__ import annotations

import copy

import pytest

from automl_mm.engine.preflight import build_check, check_config
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.ohl import CopyLayout, reset_copy_layout
from automl_mm.ohl.checks import (
    check_accumulation,
    check_checkpoint_schedule,
    check_train_setup,
    check_trunk_fits,
    check_val_schedule,
)
from automl_mm.registry import RUNNERS

from conftest import tiny_ohl_cfg


def _cfg(tmp_path, num_copies=2, train_cfg=None, checkpoint=None, val_interval=None, accumulate=None, **hook):
    """The tiny digits OHL config (4 iterations per epoch, 3 epochs) with ``num_copies`` copies."""
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), **hook)
    cfg.custom_hooks[0].num_copies = num_copies
    if train_cfg is not None:
        cfg.train_cfg = train_cfg
        if train_cfg.get('type') == 'IterBasedTrainLoop':
            cfg.log_processor = dict(by_epoch=False)
    if checkpoint is not None:
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', **checkpoint)
    if val_interval is not None:
        cfg.train_cfg.val_interval = val_interval
        cfg.val_dataloader = copy.deepcopy(cfg.reward_dataloader)
        cfg.val_cfg = dict(type='ValLoop')
        cfg.val_evaluator = dict(type='Accuracy', topk=(1,))
    if accumulate is not None:
        cfg.optim_wrapper.accumulative_counts = accumulate
    return cfg


EPOCHS4 = dict(type='EpochBasedTrainLoop', max_epochs=4, val_interval=100)
ITERS12 = dict(type='IterBasedTrainLoop', max_iters=12, val_interval=100)

#: (config, what the refusal says or None): checks whose verdict needs the iterations per epoch are marked
SCHEDULES = {
    'checkpoint every epoch, 2-epoch trunks': (
        dict(train_cfg=EPOCHS4, trunk_epochs=2, checkpoint=dict(interval=1)),
        r'default_hooks.checkpoint \(interval=1, save_begin=0, by_epoch=True\) would save after epoch 1, inside an '
        r'OHL trunk \(OHLHook trunk_epochs=2, 8 iterations\)'),
    'mmengine default checkpoint (interval=1) when the config leaves it out': (
        dict(train_cfg=EPOCHS4, trunk_epochs=2, checkpoint='absent'),
        r'default_hooks.checkpoint \(interval=1, .* would save after epoch 1'),
    'validation every epoch, 2-epoch trunks': (
        dict(train_cfg=EPOCHS4, trunk_epochs=2, checkpoint=dict(interval=2), val_interval=1),
        r'train_cfg.val_interval=1 \(val_begin=1\) would validate after epoch 1, inside an OHL trunk'),
    'epoch checkpoints, 3-iteration trunks (epoch length counted)': (
        dict(train_cfg=EPOCHS4, trunk_iters=3, checkpoint=dict(interval=1)),
        r'would save after epoch 1, inside an OHL trunk \(OHLHook trunk_iters=3, 3 iterations\)'),
    'epoch checkpoints, trunks of one epoch in iterations': (
        dict(train_cfg=EPOCHS4, trunk_iters=4, checkpoint=dict(interval=1)), None),
    'iteration checkpoints inside an epoch': (
        dict(train_cfg=EPOCHS4, trunk_iters=2, checkpoint=dict(interval=2, by_epoch=False)),
        r'would save after iteration 2, inside epoch 1 \(4 iterations each\)'),
    'iteration loop, checkpoint inside a trunk': (
        dict(train_cfg=ITERS12, trunk_iters=4, checkpoint=dict(interval=6, by_epoch=False)),
        r'would save after iteration 6, inside an OHL trunk'),
    'iteration loop, checkpoints at trunk ends': (
        dict(train_cfg=ITERS12, trunk_iters=4, checkpoint=dict(interval=8, by_epoch=False)), None),
    'accumulation across a trunk end (epoch length counted)': (
        dict(train_cfg=EPOCHS4, trunk_epochs=1, checkpoint=dict(interval=1), accumulate=3),
        r'trunks of 4 iterations, not a multiple of optim_wrapper.accumulative_counts=3'),
    'trunk longer than the run': (
        dict(train_cfg=EPOCHS4, trunk_epochs=5, checkpoint=dict(interval=-1)),
        r'OHLHook\(trunk_epochs=5\) gives trunks of 20 iterations but the run has 16'),
    'trunk_epochs under an iteration loop': (
        dict(train_cfg=ITERS12, trunk_epochs=1, checkpoint=dict(interval=-1)),
        r'OHLHook\(trunk_epochs=1\) needs an epoch-based loop, but train_cfg.type is IterBasedTrainLoop'),
    'two broadcasts apart, checkpoint every trunk': (
        dict(train_cfg=EPOCHS4, trunk_epochs=1, broadcast_interval=2, checkpoint=dict(interval=1)),
        r'would save after epoch 1, between two OHL broadcasts'),
}


def _spec(name):
    kwargs, expected = SCHEDULES[name]
    kwargs = dict(kwargs)
    absent = kwargs.get('checkpoint') == 'absent'
    if absent:
        kwargs.pop('checkpoint')
    return kwargs, absent, expected


def _built(tmp_path, name, num_copies):
    kwargs, absent, _ = _spec(name)
    cfg = _cfg(tmp_path, num_copies=num_copies, **kwargs)
    if absent:
        del cfg.default_hooks['checkpoint']
    return cfg


@pytest.mark.parametrize('name', list(SCHEDULES))
def test_the_launching_process_refuses_what_the_hook_refuses_naming_the_keys(tmp_path, name):
    expected = _spec(name)[2]
    cfg = _built(tmp_path, name, num_copies=2)
    if expected is None:
        check_config(cfg)
        return
    with pytest.raises(ConfigCheckError, match=r'^custom_hooks\[0\] \(OHLHook\): .*' + expected):
        check_config(cfg)


def _runner_verdict(cfg):
    """What ``OHLHook.before_train``'s checks say of ``cfg``'s real runner with 2 copies of one rank (built with 1
    copy: one process holds no 2-copy process group; the checks read only the layout's counts)."""
    reset_copy_layout()
    try:
        runner = RUNNERS.build(copy.deepcopy(cfg))
        runner._train_loop = runner.build_train_loop(runner._train_loop)
        runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
        hook = next(h for h in runner.hooks if type(h).__name__ == 'OHLHook')
        layout = CopyLayout(2, 1, 0, 2)
        try:
            check_train_setup(runner, layout, hook.trunk_epochs)
            check_accumulation(runner, layout, hook.trunk_epochs, hook.trunk_iters)
            check_trunk_fits(runner, hook.trunk_epochs, hook.trunk_iters)
            check_checkpoint_schedule(runner, layout, hook.trunk_epochs, hook.trunk_iters, hook.broadcast_interval)
            check_val_schedule(runner, layout, hook.trunk_epochs, hook.trunk_iters)
        except ValueError as err:
            return str(err)
        return None
    finally:
        reset_copy_layout()


@pytest.mark.parametrize('name', list(SCHEDULES))
def test_the_stand_in_gives_the_real_runners_verdict_and_message(tmp_path, name):
    """The launching process's stand-in runner (loop, epoch length, default checkpoint hook, validation) against
    mmengine's Runner built from the same config: the same refusal, word for word, or none."""
    real = _runner_verdict(_built(tmp_path, name, num_copies=1))
    try:
        check_config(_built(tmp_path, name, num_copies=2))
        static = None
    except ConfigCheckError as err:
        static = str(err).split('(OHLHook): ', 1)[1]
    assert static == real


def test_a_sampler_that_is_not_copy_aware_is_refused_at_start(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\] \(OHLHook\): OHLHook with num_copies=2 needs a '
                                               r'copy-aware train_dataloader.sampler, got DefaultSampler'):
        check_config(cfg)
    cfg.custom_hooks[0].num_copies = 1  # one copy sees all the data with any sampler
    check_config(cfg)


def test_a_model_wrapper_that_syncs_across_copies_is_refused_at_start(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel')
    with pytest.raises(ConfigCheckError, match=r"model_wrapper_cfg.type='MMDistributedDataParallel', which would "
                                               r'synchronise gradients across the copies'):
        check_config(cfg)


def test_bn_recalibration_without_clean_images_is_refused_at_start(tmp_path):
    cfg = _cfg(tmp_path, bn_recalibration_batches=2)
    cfg.test_pipeline = None
    with pytest.raises(ConfigCheckError, match=r'bn_recalibration_batches > 0 needs clean training images'):
        check_config(cfg)


def _resnet_with(cfg, norm):
    cfg.model.backbone = dict(type='ResNet', depth=18, stem='cifar', out_indices=(3,), in_channels=1,
                              norm_cfg=dict(type=norm))
    cfg.model.head.in_channels = 512
    return cfg


def test_syncbn_across_copies_is_refused_when_the_model_is_built_at_start(tmp_path):
    """SyncBN with one rank per copy averages statistics across the copies; with several ranks per copy and
    bn_recalibration the copy's lead rank would hang re-estimating them alone."""
    cfg = _resnet_with(_cfg(tmp_path), 'SyncBN')
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\] \(OHLHook\): model.backbone.\S+ is a '
                                               r'SyncBatchNorm: with one rank per copy'):
        build_check(cfg)
    cfg.custom_hooks[0].update(ranks_per_copy=2, bn_recalibration_batches=1)
    with pytest.raises(ConfigCheckError, match=r'bn_recalibration_batches > 0 with ranks_per_copy=2: '
                                               r'model.backbone.\S+ is a SyncBatchNorm'):
        build_check(cfg)
    build_check(_resnet_with(_cfg(tmp_path), 'BN'))


def test_a_clean_images_loader_whose_dataset_does_not_build_is_refused_at_start(tmp_path):
    """bn_recalibration_dataloader was built only in the hook's before_train, in every worker."""
    cfg = _cfg(tmp_path, bn_recalibration_batches=2)
    cfg.custom_hooks[0].bn_recalibration_dataloader = dict(
        batch_size=16, dataset=dict(type='DigitsDataset', split='train', max_samples=64, img_size=16, pipeline=[],
                                    no_such_argument=1))
    with pytest.raises(ConfigCheckError, match=r'^custom_hooks\[0\]\.bn_recalibration_dataloader: '
                                               r"building its dataset failed: TypeError: .*no_such_argument"):
        build_check(cfg)
    del cfg.custom_hooks[0].bn_recalibration_dataloader.dataset['no_such_argument']
    build_check(cfg)


@pytest.mark.parametrize('where', ['custom_hooks', 'default_hooks'])
def test_a_hook_that_averages_buffers_over_the_copies_is_refused_at_start(tmp_path, where):
    """mmengine's SyncBuffersHook all-reduces the BN statistics over the world at each epoch end, before OHLHook
    (a lower priority) reads the rewards: every copy was rewarded with the mean statistics of all copies."""
    cfg = _cfg(tmp_path)
    if where == 'custom_hooks':
        cfg.custom_hooks.append(dict(type='SyncBuffersHook'))
    else:
        cfg.default_hooks.sync_buffers = dict(type='SyncBuffersHook')
    key = r'custom_hooks\[1\]' if where == 'custom_hooks' else r'default_hooks.sync_buffers'
    with pytest.raises(ConfigCheckError, match=rf'custom_hooks\[0\] \(OHLHook\): {key}: a SyncBuffersHook with 2 OHL '
                                               r'copies averages the buffers'):
        check_config(cfg)
    cfg.custom_hooks[0].num_copies = 1  # one copy: the world is the copy
    check_config(cfg)


def test_the_hook_refuses_a_built_sync_buffers_hook():
    from types import SimpleNamespace

    from mmengine.hooks import SyncBuffersHook

    from automl_mm.ohl.copies import CopySampler

    runner = SimpleNamespace(train_loop=object(), train_dataloader=SimpleNamespace(sampler=CopySampler.__new__(
        CopySampler)), model=__import__('torch').nn.Linear(1, 1), hooks=[SyncBuffersHook()])
    with pytest.raises(ValueError, match=r'default_hooks / custom_hooks: a SyncBuffersHook with 2 OHL copies'):
        check_train_setup(runner, CopyLayout(2, 1, rank=0, world_size=2), trunk_epochs=1)
    check_train_setup(runner, CopyLayout(1, 1, rank=0, world_size=1), trunk_epochs=1)


def test_an_optimiser_sharded_over_every_rank_is_refused_at_start(tmp_path):
    """ZeroRedundancyOptimizer shards over dist.group.WORLD: each rank steps its shard with its own gradients and
    broadcasts it to all ranks, so every copy's weights were pieced together from all the copies' updates."""
    cfg = _cfg(tmp_path)
    cfg.optim_wrapper.optimizer = dict(type='ZeroRedundancyOptimizer', optimizer_type='SGD', lr=0.1)
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\] \(OHLHook\): optim_wrapper.optimizer is a '
                                               r'ZeroRedundancyOptimizer: with 2 OHL copies it shards'):
        check_config(cfg)
    cfg.custom_hooks[0].num_copies = 1
    check_config(cfg)


def test_the_hook_refuses_a_built_zero_redundancy_optimizer():
    from types import SimpleNamespace

    import torch
    from mmengine.optim import OptimWrapper, ZeroRedundancyOptimizer

    from automl_mm.ohl.copies import CopySampler

    sharded = ZeroRedundancyOptimizer.__new__(ZeroRedundancyOptimizer)  # building one needs a process group
    runner = SimpleNamespace(train_loop=object(), train_dataloader=SimpleNamespace(sampler=CopySampler.__new__(
        CopySampler)), model=torch.nn.Linear(1, 1), hooks=[], optim_wrapper=SimpleNamespace(optimizer=sharded))
    with pytest.raises(ValueError, match=r'optim_wrapper.optimizer is a ZeroRedundancyOptimizer: with 2 OHL copies'):
        check_train_setup(runner, CopyLayout(2, 1, rank=0, world_size=2), trunk_epochs=1)
    runner.optim_wrapper = OptimWrapper(torch.optim.SGD(runner.model.parameters(), lr=0.1))
    check_train_setup(runner, CopyLayout(2, 1, rank=0, world_size=2), trunk_epochs=1)


def test_mmdet_sync_norm_hook_is_refused_with_several_copies(tmp_path):
    """mmdet's SyncNormHook (YOLOX's configs, bytetrack's and strongsort's) all-reduces every norm layer's state
    over the world before each validation: with several copies, each copy's BN statistics became the mean of all
    copies' in the middle of a trunk, as SyncBuffersHook's did."""
    from types import SimpleNamespace

    from mmdet.engine.hooks import SyncNormHook

    from automl_mm.ohl.copies import CopySampler

    cfg = _cfg(tmp_path)
    cfg.custom_hooks.append(dict(type='mmdet.SyncNormHook'))
    with pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\] \(OHLHook\): custom_hooks\[1\]: a SyncNormHook '
                                               r'with 2 OHL copies averages'):
        check_config(cfg)
    cfg.custom_hooks[0].num_copies = 1
    check_config(cfg)
    runner = SimpleNamespace(train_loop=object(), train_dataloader=SimpleNamespace(sampler=CopySampler.__new__(
        CopySampler)), model=__import__('torch').nn.Linear(1, 1), hooks=[SyncNormHook()])
    with pytest.raises(ValueError, match=r'a SyncNormHook with 2 OHL copies'):
        check_train_setup(runner, CopyLayout(2, 1, rank=0, world_size=2), trunk_epochs=1)


def test_the_hook_names_the_config_key_of_a_built_averaging_hook_or_sharded_optimiser():
    """OHLHook.before_train's backstop called every such hook 'default_hooks / custom_hooks' and every optimiser
    'optim_wrapper.optimizer', also an OptimWrapperDict's: it names the config key where the runner's config has it."""
    from types import SimpleNamespace

    from mmengine.config import Config
    from mmengine.hooks import SyncBuffersHook
    from mmengine.optim import OptimWrapperDict, ZeroRedundancyOptimizer

    from automl_mm.ohl.copies import CopySampler

    cfg = Config(dict(default_scope='automl_mm', custom_hooks=[dict(type='OHLHook'),
                                                               dict(type='SyncBuffersHook')]))
    runner = SimpleNamespace(train_loop=object(), train_dataloader=SimpleNamespace(sampler=CopySampler.__new__(
        CopySampler)), model=__import__('torch').nn.Linear(1, 1), hooks=[SyncBuffersHook()], cfg=cfg)
    with pytest.raises(ValueError, match=r'^custom_hooks\[1\]: a SyncBuffersHook with 2 OHL copies'):
        check_train_setup(runner, CopyLayout(2, 1, rank=0, world_size=2), trunk_epochs=1)
    sharded = SimpleNamespace(optimizer=ZeroRedundancyOptimizer.__new__(ZeroRedundancyOptimizer))
    runner.hooks, runner.optim_wrapper = [], OptimWrapperDict.__new__(OptimWrapperDict)
    runner.optim_wrapper.optim_wrappers = dict(generator=sharded)
    with pytest.raises(ValueError, match=r'^optim_wrapper.generator.optimizer is a ZeroRedundancyOptimizer'):
        check_train_setup(runner, CopyLayout(2, 1, rank=0, world_size=2), trunk_epochs=1)


@pytest.mark.parametrize('where, priority', [('default_hooks', 'NORMAL'), ('ohl', 'LOWEST'),
                                             ('custom_hooks', 'BELOW_NORMAL')])
def test_a_checkpoint_hook_called_before_the_ohl_hook_is_refused_at_start(tmp_path, where, priority):
    """A checkpoint hook mmengine calls before OHLHook saved copy 0's own weights before every trunk end's broadcast
    of the best copy (the final checkpoint too), silently."""
    cfg = _cfg(tmp_path)
    key = 'default_hooks.checkpoint'
    if where == 'default_hooks':
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, priority=priority)
    elif where == 'ohl':
        cfg.custom_hooks[0].priority = priority
    else:  # equal priorities: the one registered first runs first
        cfg.custom_hooks.insert(0, dict(type='CheckpointHook', interval=1, priority=priority))
        key = r'custom_hooks\[0\]'
    with pytest.raises(ConfigCheckError, match=rf'\(OHLHook\): {key} \(CheckpointHook, priority \d+\) runs before '
                                               r'OHLHook \(priority \d+\).*holds copy 0'):
        check_config(cfg)
    for hook in cfg.custom_hooks:
        if 'num_copies' in hook:
            hook['num_copies'] = 1  # one copy: copy 0 is the run's model
    check_config(cfg)


@pytest.mark.parametrize('num_copies', [1, 2])
@pytest.mark.parametrize('where', ['progress', 'ohl', 'listed_first'])
def test_a_progress_hook_called_before_the_ohl_hook_is_refused_at_start(tmp_path, where, num_copies):
    """OHLProgressHook called before OHLHook printed each trunk's line one trunk late, silently (with one copy
    too)."""
    cfg = _cfg(tmp_path)
    for hook in cfg.custom_hooks:
        if 'num_copies' in hook:
            hook['num_copies'] = num_copies
    at = len(cfg.custom_hooks)
    if where == 'progress':
        cfg.custom_hooks.append(dict(type='OHLProgressHook', priority='NORMAL'))
    elif where == 'ohl':
        cfg.custom_hooks.append(dict(type='OHLProgressHook'))
        cfg.custom_hooks[0].priority = 'LOW'  # equal: the OHL hook is listed first, it runs first
        check_config(cfg)
        cfg.custom_hooks[0].priority = 71
    else:  # equal priorities, the progress hook listed first
        cfg.custom_hooks.insert(0, dict(type='OHLProgressHook', priority='BELOW_NORMAL'))
        at = 0
    with pytest.raises(ConfigCheckError, match=rf'\(OHLHook\): custom_hooks\[{at}\] \(OHLProgressHook, priority \d+\) '
                                               r'runs before OHLHook \(priority \d+\): .*one trunk late'):
        check_config(cfg)
    if where == 'progress':
        cfg.custom_hooks[at]['priority'] = 'LOW'
        check_config(cfg)
