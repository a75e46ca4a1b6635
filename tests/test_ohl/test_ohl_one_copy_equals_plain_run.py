"""One OHL copy whose spaces cannot change what is trained (two sub-pipelines that change nothing, an empty one and
mmcv's ``ToTensor(keys=[])``, distinct configs: one listed twice is refused under a learning controller; a
weight-decay space whose θ puts all its mass on the configured value, under ``FrozenController``) trains exactly as
the plain mmengine run without the hook: the lr and weight decay of every group at every iteration (warm-up,
per-iteration and per-epoch schedulers: trunk ends add or skip no scheduler step), losses, parameters and BN
statistics after every iteration (the reward's evaluation and BN re-estimation leave training alone), gradient
clipping and accumulation, validation and checkpoint iterations, and the final weights, bit for bit; epoch loops with
trunks of epochs or of iterations inside epochs, and an iteration loop whose last trunk is partial.

Documented differences kept out: the copy's data order (``CopySampler`` draws from ``SeedSequence([seed, copy,
epoch])``, so both runs read in order here) and the re-derived random streams (the pipelines draw nothing)."""
from __future__ import annotations

import pytest
from _equivalence import differences, plain_counterpart, record_run

from automl_mm.ohl import OHLHook

from conftest import tiny_ohl_cfg

NO_OP_CHOICES = [dict(type='OHLRandomChoice', key='aug', transforms=[[], [dict(type='mmcv.ToTensor', keys=[])]]),
                 dict(type='PackClsInputs')]


def _with_val(cfg) -> None:
    cfg.val_dataloader = dict(cfg.reward_dataloader)
    cfg.val_cfg = dict(type='ValLoop')
    cfg.val_evaluator = dict(type='Accuracy', topk=(1,))


def _epoch_trunks(cfg) -> None:
    """Trunks of one epoch; per-iteration warm-up, then a per-epoch cosine converted to iterations; clipping;
    the reward read with re-estimated BN statistics; validation and a checkpoint every epoch."""
    _with_val(cfg)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
                           dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, convert_to_iter_based=True)]
    cfg.optim_wrapper.clip_grad = dict(max_norm=1.0)
    cfg.custom_hooks[0].update(trunk_epochs=1, bn_recalibration_batches=2)
    cfg.test_pipeline = [dict(type='PackClsInputs')]


def _iteration_trunks_in_epochs(cfg) -> None:
    """Trunks of 2 iterations in epochs of 4; a per-epoch step scheduler (not converted); accumulation over 2;
    paramwise multipliers and a weight-decay space whose θ is all on the configured value."""
    _with_val(cfg)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
                           dict(type='MultiStepLR', milestones=[1, 2], gamma=0.5, by_epoch=True)]
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.optim_wrapper.optimizer.weight_decay = 1e-3
    cfg.optim_wrapper.paramwise_cfg = dict(norm_decay_mult=0.0, bias_decay_mult=0.5)
    cfg.custom_hooks[0].pop('trunk_epochs')
    cfg.custom_hooks[0].trunk_iters = 2
    cfg.custom_hooks[0].controller = dict(type='FrozenController')
    cfg.custom_hooks[0].spaces.append(dict(
        type='AttributeSpace', target='optim_wrapper.optimizer.weight_decay', name='wd', choices=[1e-3, 1e-1],
        distribution=dict(type='Categorical', num_choices=2, logits=[0.0, -1e4])))


def _iteration_loop(cfg) -> None:
    """An IterBasedTrainLoop of 10 iterations in trunks of 4 (the last one partial); per-iteration schedulers;
    accumulation over 2; checkpoints at trunk ends, validation every 4 iterations."""
    _with_val(cfg)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=10, val_interval=4)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
                           dict(type='CosineAnnealingLR', T_max=7, by_epoch=False, begin=3)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=4, by_epoch=False)
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.optim_wrapper.clip_grad = dict(max_norm=0.5)
    cfg.custom_hooks[0].pop('trunk_epochs')
    cfg.custom_hooks[0].trunk_iters = 4


SETTINGS = dict(epoch_trunks=_epoch_trunks, iteration_trunks_in_epochs=_iteration_trunks_in_epochs,
                iteration_loop=_iteration_loop)


def _pair(tmp_path, setting):
    """(OHL config, plain config) of ``setting``."""
    ohl = tiny_ohl_cfg(str(tmp_path / 'ohl'))
    ohl.train_dataloader.dataset.pipeline = NO_OP_CHOICES
    ohl.custom_hooks[0].spaces = [dict(type='PipelineChoiceSpace', key='aug',
                                       distribution=dict(type='Categorical', num_choices=2))]
    SETTINGS[setting](ohl)
    ohl.train_dataloader.sampler = dict(type='CopySampler', shuffle=False)
    plain = plain_counterpart(ohl, str(tmp_path / 'plain'))
    return ohl, plain


@pytest.mark.parametrize('setting', sorted(SETTINGS))
def test_one_copy_trains_as_the_plain_run(tmp_path, setting):
    ohl_cfg, plain_cfg = _pair(tmp_path, setting)
    ohl, plain = record_run(ohl_cfg), record_run(plain_cfg)
    assert len(plain['loss']) in (10, 12) and plain['checkpoint_at'] and plain['val_at']
    assert differences(ohl, plain) == []


def test_the_comparison_sees_one_extra_scheduler_step_per_trunk(tmp_path, monkeypatch):
    """The check above can fail: a trunk end that steps the schedulers once more shifts the lr from trunk 1 on."""
    ohl_cfg, plain_cfg = _pair(tmp_path, 'iteration_loop')
    end_trunk = OHLHook._end_trunk

    def end_trunk_and_step(self, runner, *args, **kwargs):
        end_trunk(self, runner, *args, **kwargs)
        for scheduler in runner.param_schedulers:
            scheduler.step()

    monkeypatch.setattr(OHLHook, '_end_trunk', end_trunk_and_step)
    found = differences(record_run(ohl_cfg), record_run(plain_cfg))
    assert found and found[0].startswith('lr: first differs at 4')
