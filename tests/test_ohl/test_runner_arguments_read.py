"""OHL reads what its runner runs, not only its ``cfg``: mmengine's ``Runner(...)`` runs its ``optim_wrapper`` and
``train_dataloader`` arguments and keeps its ``cfg`` argument (which may describe it in part) only to dump it
(:func:`~automl_mm.engine.runner_checks.checked_config`).

Inputs that showed the faults: ``Runner(..., optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1,
weight_decay=1e-4), paramwise_cfg=dict(custom_keys={'fc.bias': dict(weight_decay=5e-3)})), cfg=dict(seed=0))``: the
base form ``optim_wrapper.optimizer.weight_decay`` took the bias group's rule as its ratio to the base (x 50: a written
base of 2e-4 set 1e-2) where the constructor sets it outright (5e-3 whatever the base), the config's ``optim_wrapper``
being read from the ``cfg`` (none); ``OHLHook(bn_recalibration_batches=2)`` on a runner given its
``train_dataloader`` was refused for want of one ("bn_recalibration_batches > 0 needs clean training images"); a
write of ``param_groups.0.lr`` into the one-group-per-parameter optimiser of an ``optim_wrapper`` argument with a
``paramwise_cfg``, and of ``param_schedulers.0.T_max`` of a ``param_scheduler`` argument given in epochs with
``convert_to_iter_based=True`` (built in iterations), were not refused; the reward settings a resume compares left
out the ``val_evaluator`` argument the reward falls back to."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from torch import nn

from tests._tiny_runner import FourSamples, LinearNet, inductor_cache  # noqa: F401  (autouse)

_LOADER = dict(dataset=dict(type='DigitsDataset', split='train', pipeline=[dict(type='RandomFlip')]), batch_size=2)


def _runner(tmp_path, **given) -> Runner:
    arguments = dict(model=LinearNet(), work_dir=str(tmp_path), train_dataloader=_LOADER,
                     train_cfg=dict(by_epoch=True, max_epochs=1),
                     optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), default_hooks=dict(checkpoint=None))
    arguments.update(given)
    return Runner(**arguments, cfg=dict(seed=0))


def test_the_base_rules_are_those_of_the_optim_wrapper_given(tmp_path):
    from automl_mm.ohl.optimizer_base import group_rules

    optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
                         paramwise_cfg=dict(custom_keys={'fc.bias': dict(weight_decay=5e-3)}))
    runner = _runner(tmp_path, optim_wrapper=optim_wrapper)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)  # (as train() builds it)
    optimizer = runner.optim_wrapper.optimizer
    rules = group_rules(optimizer, 'weight_decay', 'optim_wrapper.optimizer.weight_decay', runner)
    by_name = {name: rules[i] for i, group in enumerate(optimizer.param_groups)
               for name, p in runner.model.named_parameters() if any(p is q for q in group['params'])}
    assert by_name == {'fc.weight': {'mult': 1.0, 'scale': 1.0}, 'fc.bias': {'fixed': 5e-3, 'scale': 1.0}}


def test_the_clean_batches_are_read_from_the_train_dataloader_given(tmp_path, monkeypatch):
    from automl_mm.ohl import reward as reward_module
    from automl_mm.ohl.reward import RewardScorer

    built = []
    monkeypatch.setattr(reward_module, 'build_local_loader', lambda cfg, key, *args: built.append((cfg, key)))
    monkeypatch.setattr(reward_module, 'fixed_batches', lambda loader, n, seed: ['batch'] * n)
    runner = _runner(tmp_path, model=nn.Sequential(nn.BatchNorm1d(2)))
    runner.cfg.test_pipeline = [dict(type='PackInputs')]  # (no Runner argument: the cfg's)
    scorer = RewardScorer('accuracy/top1', bn_recalibration_batches=2)
    monkeypatch.setattr(scorer.held_out, 'build', lambda runner: None)
    scorer.build(runner, ranks_per_copy=1, seed=0)
    assert built == [(dict(_LOADER, dataset=dict(_LOADER['dataset'], pipeline=[dict(type='PackInputs')])),
                      'train_dataloader (with test_pipeline)')] and scorer.bn_batches == ['batch', 'batch']


def test_a_group_index_into_the_groups_of_a_paramwise_cfg_given_is_refused(tmp_path):
    from automl_mm.ohl.ownership import check_owned_attribute

    optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4), paramwise_cfg=dict(bias_decay_mult=0.))
    runner = _runner(tmp_path, optim_wrapper=optim_wrapper)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)  # (as train() builds it)
    with pytest.raises(ValueError, match=r'group 0 of 2, which holds one parameter \(fc\.weight\)'):
        check_owned_attribute(runner, 'optim_wrapper.optimizer.param_groups.0.lr', 'me')


def test_a_step_count_of_a_converted_scheduler_given_is_refused(tmp_path):
    from automl_mm.ohl.ownership import check_owned_attribute

    loader = dict(dataset=FourSamples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    runner = _runner(tmp_path, train_dataloader=loader, param_scheduler=[
        dict(type='CosineAnnealingLR', T_max=3, by_epoch=True, convert_to_iter_based=True)])
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)  # (as train() builds them)
    runner.param_schedulers = runner.build_param_scheduler(runner.param_schedulers)
    with pytest.raises(ValueError, match=r'me writes param_schedulers\.0\.T_max, but param_scheduler\[0\] '
                                         r'\(CosineAnnealingLR\) is given in epochs with convert_to_iter_based=True'):
        check_owned_attribute(runner, 'param_schedulers.0.T_max', 'me')


def test_the_reward_settings_hold_the_val_evaluator_given(tmp_path):
    from automl_mm.ohl.hook import OHLHook

    hook = OHLHook(spaces=[dict(type='AttributeSpace', target='x', choices=[1, 2], name='lr',
                                distribution=dict(type='Categorical', num_choices=2))],
                   num_copies=2, reward_key='accuracy/top1', trunk_epochs=1, seed=0, verify_sync=False,
                   controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.2, betas=(0.5, 0.999))))
    runner = Runner(model=LinearNet(), work_dir=str(tmp_path), val_dataloader=_LOADER, val_cfg=dict(),
                    val_evaluator=dict(type='automl_mm.Accuracy', topk=(1, )), cfg=dict(reward_dataloader=_LOADER))
    settings, keys, _ = hook.reward_settings(runner)
    assert settings['reward_evaluator'] == dict(type='automl_mm.Accuracy', topk=[1])  # (plain_config: lists)
    assert keys['reward_evaluator'] == 'val_evaluator'
