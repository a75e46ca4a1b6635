"""The run-time checks resolve a runner's config entries in the scope the runner built them in: its own
(``runner.default_scope.scope_name``, the ``Runner(default_scope=...)`` argument), not its ``cfg``'s.

Input that showed the fault: ``Runner(model=..., default_scope='automl_mm', custom_hooks=[SetAttributesHook,
TrunkScheduleHook], cfg=dict(custom_hooks=[...]))`` (no ``default_scope`` in ``cfg``), two replay hooks of one value:
the refusal named the hooks by their classes (``TrunkScheduleHook (TrunkScheduleHook) writes ...``) instead of their
config keys, the checks having resolved the entries in mmengine's scope (``cfg``'s, without the key), which holds
none of automl_mm's hooks. Likewise the hook-order check, the replay-hook-beside-a-space check, the optimiser probe
of the base form (built in the current default scope, another runner's) and the held-out loader's check (an OHL
choice transform in the scored pipeline passed)."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch import nn

from tests._tiny_runner import FourSamples, LinearNet, inductor_cache  # noqa: F401  (autouse)

LR = 'optim_wrapper.optimizer.lr'


_Net, _Samples = LinearNet, FourSamples


def _scope(name: str) -> SimpleNamespace:
    """What a runner's ``default_scope`` attribute holds (mmengine's ``DefaultScope``: its ``scope_name``)."""
    return SimpleNamespace(scope_name=name)


def test_replay_hooks_of_a_runner_built_in_automl_mm_scope_are_named_by_their_keys(tmp_path):
    hooks = [dict(type='SetAttributesHook', values={LR: 0.05}),
             dict(type='TrunkScheduleHook', values={LR: [0.2, 0.3]}, trunk_epochs=1)]
    loader = dict(dataset=_Samples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    runner = Runner(model=_Net(), work_dir=str(tmp_path), train_dataloader=loader,
                    train_cfg=dict(by_epoch=True, max_epochs=2), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    custom_hooks=copy.deepcopy(hooks), default_hooks=dict(checkpoint=None), default_scope='automl_mm',
                    cfg=dict(custom_hooks=hooks))
    with pytest.raises(ValueError) as refused:
        runner.train()
    assert str(refused.value).startswith(
        f"custom_hooks[1] (TrunkScheduleHook) writes '{LR}' = [0.2, 0.3] per trunk of 1 epochs and custom_hooks[0] "
        f"(SetAttributesHook) writes '{LR}' = 0.05, which reach one value: ")


def test_the_hook_order_check_names_the_key_in_the_runners_scope():
    from mmengine.hooks import CheckpointHook

    from automl_mm.ohl.checks import check_hook_order
    from automl_mm.ohl.copies import CopyLayout
    from automl_mm.ohl.hook import OHLHook
    from automl_mm.ohl.progress import OHLProgressHook

    custom = [dict(type='OHLProgressHook', priority='NORMAL'), dict(type='OHLHook')]
    runner = SimpleNamespace(_hooks=[], cfg=dict(custom_hooks=custom), default_scope=_scope('automl_mm'))
    Runner.register_hook(runner, CheckpointHook(interval=1))
    Runner.register_hook(runner, OHLProgressHook(), priority='NORMAL')
    Runner.register_hook(runner, OHLHook.__new__(OHLHook))
    runner.hooks = runner._hooks
    with pytest.raises(ValueError, match=r'^custom_hooks\[0\] \(OHLProgressHook, priority \d+\) runs before OHLHook'):
        check_hook_order(runner, CopyLayout(1, 1, rank=0, world_size=1))


def test_a_replay_hook_beside_a_space_is_named_by_its_key_in_the_runners_scope():
    from mmengine.optim import OptimWrapper

    from automl_mm.ohl.attribute_space import AttributeSpace
    from automl_mm.ohl.replay_hooks import SetAttributesHook
    from automl_mm.ohl.write_order import check_replay_hooks

    model = nn.Linear(2, 1)
    path = 'optim_wrapper.optimizer.param_groups.0.lr'
    runner = SimpleNamespace(model=model, optim_wrapper=OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)),
                             param_schedulers=[], epoch=0, iter=0, max_iters=10, train_loop=SimpleNamespace(),
                             train_dataloader=None, hooks=[SetAttributesHook({path: 0.5})],
                             cfg=dict(custom_hooks=[dict(type='SetAttributesHook', values={path: 0.5})]),
                             default_scope=_scope('automl_mm'))
    space = AttributeSpace(dict(type='Categorical'), target=path, choices=[0.01, 0.2], name='lr')
    with pytest.raises(ValueError, match=r'^custom_hooks\[0\] \(SetAttributesHook\) writes'):
        check_replay_hooks(runner, [space])


def test_the_base_forms_probe_builds_the_constructor_in_the_runners_scope():
    """The runner built its optimiser with mmdet's unprefixed constructor in its own scope ('mmdet'); the probe
    built it in the current default scope (another runner's, 'mmengine' here) and failed."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    from automl_mm.ohl.attributes import set_attribute

    class ConvNeXtStandIn(nn.Module):  # named as mmdet's layer-wise decay constructor looks for
        def __init__(self):
            super().__init__()
            self.downsample_layers = nn.ModuleList(nn.Sequential(nn.Conv2d(3, 4, 1)) for _ in range(4))
            self.stages = nn.ModuleList(nn.Sequential(nn.Conv2d(4, 4, 1)) for _ in range(4))

    optim = dict(constructor='LearningRateDecayOptimizerConstructor', type='OptimWrapper',
                 optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
                 paramwise_cfg=dict(decay_rate=0.65, decay_type='layer_wise', num_layers=6))
    model = nn.Module()
    model.backbone, model.head = ConvNeXtStandIn(), nn.Linear(4, 2)
    with DefaultScope.overwrite_default_scope('mmdet'):
        wrapper = build_optim_wrapper(model, copy.deepcopy(optim))
    runner = SimpleNamespace(model=model, optim_wrapper=wrapper, param_schedulers=[], default_scope=_scope('mmdet'),
                             cfg=Config(dict(optim_wrapper=optim)))
    before = [group['lr'] for group in wrapper.optimizer.param_groups]
    with DefaultScope.overwrite_default_scope('mmengine'):
        set_attribute(runner, LR, 2e-4)
    assert [group['lr'] for group in wrapper.optimizer.param_groups] == pytest.approx([2 * lr for lr in before])


def test_the_held_out_loader_is_checked_in_the_runners_scope(tmp_path):
    from mmengine.evaluator import Evaluator

    from automl_mm.engine.evaluate import HeldOutEvaluator
    from automl_mm.engine.preflight_walk import ConfigCheckError

    from conftest import tiny_ohl_cfg

    loader = copy.deepcopy(tiny_ohl_cfg(str(tmp_path)).reward_dataloader)
    loader.dataset.pipeline = [dict(type='FixedAutoAugment'), *loader.dataset.pipeline]
    held = HeldOutEvaluator('reward', 'accuracy/top1', 'OHLHook', loader, dict(type='Accuracy', topk=(1,)),
                            'custom_hooks[0].reward_dataloader', 'custom_hooks[0].reward_evaluator')
    runner = SimpleNamespace(cfg={}, default_scope=_scope('automl_mm'), build_evaluator=Evaluator)
    with DefaultScope.overwrite_default_scope('mmengine'), \
            pytest.raises(ConfigCheckError, match=r'custom_hooks\[0\].reward_dataloader.dataset.pipeline\[0\] is '
                                                  'FixedAutoAugment'):
        held.build(runner)
