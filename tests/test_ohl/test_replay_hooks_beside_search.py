"""A replay hook (``SetAttributesHook``, ``TrunkScheduleHook``) beside an OHL search that writes a path a space
searches: a ``SetAttributesHook``'s value was replaced by every trunk's samples (the config's value never trained),
and under an iteration loop a ``TrunkScheduleHook`` wrote its value in ``before_train_iter``, after ``OHLHook`` had
applied the trunk's samples: the copies trained with the schedule's lr while the history and the rewards credited
the samples, silently. Refused before the first trunk, naming the hook, both paths and the space."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmengine.optim import OptimWrapper
from torch import nn, optim

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import set_attribute
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
from automl_mm.ohl.write_order import check_replay_hooks

GROUP0 = 'optim_wrapper.optimizer.param_groups.0.lr'


def _runner(*hooks, custom_hooks=()):
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    sgd = optim.SGD([{'params': model[0].parameters()}, {'params': model[1].parameters()}], lr=0.1,
                    momentum=0.9, weight_decay=1e-4)
    cfg = dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9,
                                                                      weight_decay=1e-4)),
               custom_hooks=list(custom_hooks), default_scope='automl_mm')  # (as automl_mm's configs set it)
    return SimpleNamespace(model=model, optim_wrapper=OptimWrapper(sgd), param_schedulers=[], cfg=cfg, epoch=0,
                           iter=0, max_iters=10, train_loop=SimpleNamespace(), train_dataloader=None,
                           hooks=list(hooks))


def _space(path='optim_wrapper.param_groups.*.lr'):
    return AttributeSpace(dict(type='Categorical'), target=path, choices=[0.01, 0.2], name='lr')


def test_a_schedule_writing_after_the_samples_trains_its_value_and_is_refused():
    schedule = TrunkScheduleHook(values={GROUP0: [0.5]}, trunk_iters=2)
    runner = _runner(schedule, custom_hooks=[dict(type='TrunkScheduleHook', values={GROUP0: [0.5]}, trunk_iters=2)])
    # what an iteration loop did: OHLHook applied the trunk's sample at the batch load, the schedule's
    # before_train_iter then wrote over it
    set_attribute(runner, 'optim_wrapper.param_groups.*.lr', 0.2)
    schedule.before_train_iter(runner, 0)
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 0.5  # trained with, while 0.2 was credited
    with pytest.raises(ValueError, match=r"custom_hooks\[0\] \(TrunkScheduleHook\) writes "
                                         r"'optim_wrapper.optimizer.param_groups.0.lr', which OHL space 'lr' searches "
                                         r"\('optim_wrapper.param_groups.\*.lr'\)"):
        check_replay_hooks(runner, [_space()])


@pytest.mark.parametrize('path', [GROUP0, 'optim_wrapper.param_groups.*.lr', 'optim_wrapper.optimizer.lr'])
def test_a_fixed_value_of_a_searched_path_is_refused(path):
    runner = _runner(SetAttributesHook({path: 0.5}))
    with pytest.raises(ValueError, match=r'SetAttributesHook \(SetAttributesHook\) writes .*which OHL space \'lr\''):
        check_replay_hooks(runner, [_space(GROUP0)])


def test_a_replay_hook_of_other_paths_is_accepted():
    runner = _runner(SetAttributesHook({'optim_wrapper.optimizer.weight_decay': 0.0}),
                     TrunkScheduleHook(values={'optim_wrapper.optimizer.param_groups.1.lr': [0.3]}, trunk_iters=2))
    check_replay_hooks(runner, [_space(GROUP0)])
    check_replay_hooks(_runner(), [_space(GROUP0)])


def test_the_ohl_hook_refuses_it_before_the_first_trunk(tmp_path):
    """End to end: OHLHook.before_train makes the check (a SetAttributesHook's lr beside a searched lr)."""
    from automl_mm.registry import RUNNERS

    from conftest import tiny_ohl_cfg

    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    cfg.custom_hooks[0].spaces.append(dict(type='AttributeSpace', name='lr', target='optim_wrapper.optimizer.lr',
                                           choices=[0.01, 0.1], distribution=dict(type='Categorical')))
    cfg.custom_hooks.append(dict(type='SetAttributesHook', values={GROUP0: 0.05}))
    runner = RUNNERS.build(cfg)
    with pytest.raises(ValueError, match=r"custom_hooks\[\d\] \(SetAttributesHook\) writes "
                                         r"'optim_wrapper.optimizer.param_groups.0.lr', which OHL space 'lr' searches"):
        runner.train()
    assert runner.iter == 0
