"""Two replay hooks (``SetAttributesHook``, ``TrunkScheduleHook``) of one run writing one value with other values are
refused in ``before_run``, naming both config entries, both paths and both values.

Input that showed the fault: a retrain config holding a search's ``final_policy.py`` (``SetAttributesHook`` of
``optim_wrapper.optimizer.lr = 0.05``) and its ``schedule_policy.py`` (``TrunkScheduleHook`` of the same path,
``[0.2, 0.3]`` per one-epoch trunk) trained its 4 iterations at 0.2, 0.2, 0.3, 0.3: the fixed value, written after
the schedule's in ``before_train``, was written over at the first epoch's start and never trained with, silently.
Real mmengine Runners (4 two-value samples, batches of 2, 2 epochs).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch import nn

from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook, check_replay_hooks_apart
from tests._tiny_runner import FourSamples, LinearNet, inductor_cache  # noqa: F401  (autouse)

LR = 'optim_wrapper.optimizer.lr'
GROUP0 = 'optim_wrapper.optimizer.param_groups.0.lr'
SLOPE = 'model.act.negative_slope'
FIXED = dict(type='automl_mm.SetAttributesHook', values={LR: 0.05})  # final_policy.py


def _schedule(values):  # schedule_policy.py
    return dict(type='automl_mm.TrunkScheduleHook', values={LR: values}, trunk_epochs=1)


class _Net(LinearNet):
    def __init__(self):
        super().__init__(nn.LeakyReLU(0.01))


_Samples = FourSamples


class _LrProbe(Hook):
    """The lr each iteration trained with."""

    priority = 'LOWEST'

    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.optimizer.param_groups[0]['lr'])


def _runner(tmp_path, custom_hooks, **kwargs) -> Runner:
    loader = dict(dataset=_Samples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    return Runner(model=_Net(), work_dir=str(tmp_path), train_dataloader=loader,
                  train_cfg=dict(by_epoch=True, max_epochs=2),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), custom_hooks=custom_hooks,
                  default_hooks=dict(checkpoint=None), **kwargs,
                  cfg=dict(custom_hooks=custom_hooks[:-1]))  # as Runner.from_cfg keeps them (the probe last)


def test_a_fixed_value_and_a_schedule_of_one_path_are_refused_before_any_write(tmp_path):
    probe = _LrProbe()
    runner = _runner(tmp_path, [FIXED, _schedule([0.2, 0.3]), probe])
    with pytest.raises(ValueError) as refused:
        runner.train()
    assert str(refused.value).startswith(
        f"custom_hooks[1] (TrunkScheduleHook) writes '{LR}' = [0.2, 0.3] per trunk of 1 epochs and custom_hooks[0] "
        f"(SetAttributesHook) writes '{LR}' = 0.05, which reach one value: ")
    assert probe.lrs == [] and runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 0.1


def test_the_same_values_in_both_are_accepted(tmp_path):
    """The schedule of one value (repeated) and the same fixed value: trained with it all run."""
    probe = _LrProbe()
    runner = _runner(tmp_path, [FIXED, _schedule([0.05, 0.05]), probe])
    runner.train()
    assert probe.lrs == [0.05] * 4


def _namespace_runner(*hooks, custom_hooks=()):
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    sgd = torch.optim.SGD([{'params': model[0].parameters()}, {'params': model[1].parameters()}], lr=0.1)
    from mmengine.optim import OptimWrapper

    return SimpleNamespace(model=model, optim_wrapper=OptimWrapper(sgd), param_schedulers=[], hooks=list(hooks),
                           cfg=dict(default_scope='automl_mm', custom_hooks=list(custom_hooks)),
                           _train_loop=SimpleNamespace(epoch=0, iter=0))


ALL = 'optim_wrapper.param_groups.*.lr'


@pytest.mark.parametrize('first, second, accepted', [
    (ALL, GROUP0, True),  # a covering path first: the narrower wins, as final_policy.py lists overlapping spaces
    (LR, GROUP0, True),  # the base form writes every group's lr, group 0's among them
    (GROUP0, ALL, False),  # the narrower first: the covering one wrote over it
    (GROUP0, LR, False),
    ('optim_wrapper.param_groups.0.lr', GROUP0, False),  # two spellings of one value
    (LR, ALL, False),  # each covers the other
])
def test_two_fixed_values_reaching_one_value(first, second, accepted):
    """Two SetAttributesHook entries (two searches' final_policy.py merged): the one registered last won; a covering
    path listed first is the order the replay of overlapping spaces writes in (one hook or one per space)."""
    entries = [dict(type='SetAttributesHook', values={first: 0.2}), dict(type='SetAttributesHook',
                                                                           values={second: 0.5})]
    runner = _namespace_runner(SetAttributesHook({first: 0.2}), SetAttributesHook({second: 0.5}),
                               custom_hooks=entries)
    if accepted:
        check_replay_hooks_apart(runner)
        return
    with pytest.raises(ValueError, match=rf"^custom_hooks\[0\] \(SetAttributesHook\) writes '{first}' = 0.2 and "
                                         rf"custom_hooks\[1\] \(SetAttributesHook\) writes '{second}' = 0.5, which "
                                         'reach one value'):
        check_replay_hooks_apart(runner)


class _GroupsProbe(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append([group['lr'] for group in runner.optim_wrapper.optimizer.param_groups])


def test_a_final_policy_of_two_overlapping_spaces_replays_the_searchs_values(tmp_path):
    """final_policy.py of a search whose space 'all' searched every group's lr and a later space 'g0' group 0's
    (the search wrote them in that order): one SetAttributesHook per space, in space order; the retrain trains group
    0 at g0's value and group 1 at all's, as the search's best copy did."""
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper

    from automl_mm.ohl.report import final_policy_text

    text = final_policy_text([(name, f"custom_hooks = [dict(type='automl_mm.SetAttributesHook', "
                                     f"values={{'{path}': {value}}})]\n")
                              for name, path, value in (('all', ALL, 0.2), ('g0', GROUP0, 0.5))])
    hooks = Config.fromstring(text, file_format='.py').to_dict()['custom_hooks']
    assert [h['values'] for h in hooks] == [{ALL: 0.2}, {GROUP0: 0.5}]
    probe = _GroupsProbe()
    net = _Net()
    optimizer = torch.optim.SGD([{'params': [net.fc.weight]}, {'params': [net.fc.bias]}], lr=0.1)
    loader = dict(dataset=_Samples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    Runner(model=net, work_dir=str(tmp_path), train_dataloader=loader, train_cfg=dict(by_epoch=True, max_epochs=2),
           optim_wrapper=OptimWrapper(optimizer), custom_hooks=[*hooks, probe], default_hooks=dict(checkpoint=None),
           cfg=dict(custom_hooks=hooks)).train()
    assert probe.lrs == [[0.5, 0.2]] * 4


def test_other_values_of_other_groups_and_other_trunk_lengths():
    """Group 1's lr beside group 0's: accepted; one per-trunk schedule at two trunk lengths: refused."""
    check_replay_hooks_apart(_namespace_runner(SetAttributesHook({GROUP0: 0.2}),
                                               SetAttributesHook({'optim_wrapper.param_groups.1.lr': 0.5})))
    with pytest.raises(ValueError, match=r"\[0.2, 0.3\] per trunk of 2 iterations and .* \[0.2, 0.3\] per trunk of "
                                         r"4 iterations, which reach one value"):
        check_replay_hooks_apart(_namespace_runner(TrunkScheduleHook({GROUP0: [0.2, 0.3]}, trunk_iters=2),
                                                   TrunkScheduleHook({GROUP0: [0.2, 0.3]}, trunk_iters=4)))


def test_a_test_only_run_compares_the_model_paths_and_reads_no_training_path():
    """Runner.test / Runner.val alone (tools/test.py): both hooks set the model's paths before the test, the later
    one won; the optimiser's paths are not compared (reading a data path would build the training loader)."""
    runner = _namespace_runner(SetAttributesHook({SLOPE: 0.3, LR: 0.2}),
                               TrunkScheduleHook({SLOPE: [0.3], LR: [0.5]}, trunk_epochs=1))
    runner.model.act = nn.LeakyReLU(0.01)
    runner._train_loop = dict(type='EpochBasedTrainLoop')  # not built: not training
    check_replay_hooks_apart(runner)  # the same slope; the lrs differ but are not compared
    runner.hooks[1] = TrunkScheduleHook({SLOPE: [0.1, 0.2]}, trunk_epochs=1)
    with pytest.raises(ValueError, match=rf"writes '{SLOPE}' = 0.3 and TrunkScheduleHook \(TrunkScheduleHook\) "
                                         rf"writes '{SLOPE}' = \[0.1, 0.2\] per trunk of 1 epochs"):
        check_replay_hooks_apart(runner)
