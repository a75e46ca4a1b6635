"""Attribute paths into tuples (Adam's ``betas.0``, Rprop's ``etas`` / ``step_sizes``): writing an element replaces
the tuple in its parent; the scheduler and paramwise checks name the group's parameter, not the element's index."""
from __future__ import annotations

import copy
import json
import os.path as osp
import re
from collections import namedtuple
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from mmengine.optim.scheduler import CosineAnnealingMomentum
from mmengine.runner import Runner

from automl_mm.ohl.attributes import get_attribute, set_attribute
from automl_mm.ohl.ownership import check_owned_attribute
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
from automl_mm.registry import HOOKS
from automl_mm.testing.contracts import check_ohl_space, toy_runner

from conftest import tiny_digits_cfg, tiny_ohl_cfg, train_copy_runner

BETA1 = 'optim_wrapper.optimizer.param_groups.0.betas.0'
BETA1_ALL = 'optim_wrapper.optimizer.param_groups.*.betas.0'


def _runner(optimizer_type=torch.optim.Adam, groups: int = 1, schedulers=(), **kwargs) -> SimpleNamespace:
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3)) for _ in range(groups)]
    optimizer = optimizer_type([{'params': [p]} for p in params], **kwargs)
    return SimpleNamespace(optim_wrapper=OptimWrapper(optimizer), param_schedulers=list(schedulers),
                           model=SimpleNamespace())


def _steps(optimizer: torch.optim.Optimizer, n: int = 3) -> list[torch.Tensor]:
    """``n`` steps on fixed, different gradients; the parameters after them."""
    for k in range(n):
        for group in optimizer.param_groups:
            for p in group['params']:
                p.grad = torch.full_like(p, float(k + 1)) * torch.tensor([1.0, -2.0, 0.5])
        optimizer.step()
    return [p.detach().clone() for group in optimizer.param_groups for p in group['params']]


def test_writing_adams_beta1_replaces_the_tuple_and_the_step_uses_it():
    runner = _runner(lr=0.1)
    set_attribute(runner, BETA1, 0.8)
    group = runner.optim_wrapper.optimizer.param_groups[0]
    assert group['betas'] == (0.8, 0.999) and type(group['betas']) is tuple
    assert get_attribute(runner, BETA1) == [0.8]
    trained = _steps(runner.optim_wrapper.optimizer)
    expected = _runner(lr=0.1, betas=(0.8, 0.999))
    default = _runner(lr=0.1)
    assert torch.equal(trained[0], _steps(expected.optim_wrapper.optimizer)[0])
    assert not torch.equal(trained[0], _steps(default.optim_wrapper.optimizer)[0])  # beta1 matters here


@pytest.mark.parametrize('optimizer_type, path, value, key, expected', [
    (torch.optim.AdamW, 'betas.1', 0.99, 'betas', (0.9, 0.99)),
    (torch.optim.Adam, 'betas.-2', 0.5, 'betas', (0.5, 0.999)),
    (torch.optim.Rprop, 'etas.1', 1.5, 'etas', (0.5, 1.5)),
    (torch.optim.Rprop, 'step_sizes.0', 1e-5, 'step_sizes', (1e-5, 50)),
])
def test_other_optimiser_tuples(optimizer_type, path, value, key, expected):
    runner = _runner(optimizer_type, groups=2)
    set_attribute(runner, f'optim_wrapper.optimizer.param_groups.*.{path}', value)
    for group in runner.optim_wrapper.optimizer.param_groups:
        assert group[key] == expected and type(group[key]) is tuple
    _steps(runner.optim_wrapper.optimizer, 1)  # the optimiser still steps with what was written


def test_a_fan_out_keeps_each_groups_other_elements():
    runner = _runner(groups=2)
    runner.optim_wrapper.optimizer.param_groups[1]['betas'] = (0.9, 0.99)
    set_attribute(runner, BETA1_ALL, 0.8)
    assert [g['betas'] for g in runner.optim_wrapper.optimizer.param_groups] == [(0.8, 0.999), (0.8, 0.99)]
    assert get_attribute(runner, BETA1_ALL) == [0.8, 0.8]


def test_tuples_in_objects_lists_and_nested_tuples_keep_their_type():
    Pair = namedtuple('Pair', 'a b')
    runner = SimpleNamespace(obj=SimpleNamespace(t=(1, 2), pair=Pair(1, 2), size=torch.Size([3, 4])),
                             items=[(1, 2), {'t': ((1, 2), 3)}], nested=((1, 2), (3, 4)))
    set_attribute(runner, 'obj.t.1', 9)
    set_attribute(runner, 'obj.pair.0', 9)
    set_attribute(runner, 'obj.size.0', 5)
    set_attribute(runner, 'items.0.0', 9)
    set_attribute(runner, 'items.1.t.0.1', 9)
    set_attribute(runner, 'nested.*.0', 7)
    assert runner.obj.t == (1, 9)
    assert runner.obj.pair == Pair(9, 2) and type(runner.obj.pair) is Pair
    assert runner.obj.size == torch.Size([5, 4]) and type(runner.obj.size) is torch.Size
    assert runner.items == [(9, 2), {'t': ((1, 9), 3)}]
    assert runner.nested == ((7, 2), (7, 4))
    assert get_attribute(runner, 'nested.*.0') == [7, 7]


@pytest.mark.parametrize('path, part', [('betas.2', 'index 2 out of range'), ('betas.x', "'x' cannot index a tuple"),
                                        ('betas.0.1', "float has no attribute '1'"), ('betas.*', 'cannot end with')])
def test_bad_tuple_paths_name_the_path_and_write_nothing(path, part):
    runner = _runner()
    full = f'optim_wrapper.optimizer.param_groups.0.{path}'
    with pytest.raises(ValueError, match=re.escape(f'attribute path {full!r}')) as err:
        set_attribute(runner, full, 0.5)
    assert part in str(err.value)
    assert runner.optim_wrapper.optimizer.param_groups[0]['betas'] == (0.9, 0.999)


def _momentum_runner(groups: int = 1) -> SimpleNamespace:
    runner = _runner(groups=groups)
    runner.param_schedulers = [CosineAnnealingMomentum(runner.optim_wrapper, T_max=10, eta_min=0.8, by_epoch=False)]
    return runner


@pytest.mark.parametrize('path', [BETA1, BETA1_ALL, 'optim_wrapper.optimizer.param_groups.0.betas.-2',
                                  'optim_wrapper.optimizer.param_groups.0.betas'])
def test_beta1_under_a_momentum_scheduler_is_refused(path):
    """mmengine's momentum schedulers of an Adam-type optimiser (use_betas) write betas[0] at every step."""
    with pytest.raises(ValueError, match=re.escape(f"owner writes {path} but param_scheduler[0] "
                                                   "(CosineAnnealingMomentum) schedules 'betas'")):
        check_owned_attribute(_momentum_runner(2), path, 'owner')


def test_beta2_under_a_momentum_scheduler_is_kept():
    """The scheduler writes (momentum, current betas[1]): a written betas[1] stays."""
    runner = _momentum_runner()
    path = 'optim_wrapper.optimizer.param_groups.0.betas.1'
    check_owned_attribute(runner, path, 'owner')
    set_attribute(runner, path, 0.99)
    runner.param_schedulers[0].step()
    assert runner.optim_wrapper.optimizer.param_groups[0]['betas'][1] == 0.99


def test_a_scheduler_of_the_whole_tuple_refuses_each_element():
    """The parameter is the key after param_groups.<i|*>; a path that stops at a group writes all of them."""
    runner = _runner(schedulers=[SimpleNamespace(param_name='betas')])
    for path in (BETA1, 'optim_wrapper.optimizer.param_groups.*.betas.1', 'optim_wrapper.optimizer.param_groups.0'):
        with pytest.raises(ValueError, match=r"param_scheduler\[0\] \(SimpleNamespace\) schedules 'betas'"):
            check_owned_attribute(runner, path, 'owner')
    check_owned_attribute(runner, 'optim_wrapper.optimizer.param_groups.0.lr', 'owner')


def test_a_fan_out_over_groups_with_different_beta1_is_refused_naming_the_element():
    runner = _runner(groups=2)
    runner.optim_wrapper.optimizer.param_groups[1]['betas'] = (0.5, 0.999)
    with pytest.raises(ValueError, match=r'groups hold different values \[0.9, 0.5\].*'
                                         r'\(param_groups\.0\.betas\.0, \.\.\.\)'):
        check_owned_attribute(runner, BETA1_ALL, 'owner')
    check_owned_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.betas.1', 'owner')  # equal there


def test_the_hooks_refuse_beta1_under_a_momentum_scheduler():
    runner = _momentum_runner()
    for hook in (SetAttributesHook({BETA1: 0.8}), TrunkScheduleHook({BETA1: [0.8]}, trunk_iters=1)):
        with pytest.raises(ValueError, match=rf"{type(hook).__name__} writes {BETA1} .* schedules 'betas'"):
            hook.before_train(SimpleNamespace(**vars(runner), train_loop=None, epoch=0, iter=0))


@HOOKS.register_module(force=True)
class _ProbeBetas(Hook):
    """Records the betas of the first group every iteration trains with (after the HIGH-priority hooks set them)."""

    priority = 'NORMAL'

    def __init__(self):
        self.seen: list = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append(runner.optim_wrapper.optimizer.param_groups[0]['betas'])


def _adam_run(tmp_path, name: str, hooks: list[dict], iters: int = 4) -> list:
    cfg = tiny_digits_cfg(str(tmp_path / name))
    cfg.train_dataloader.batch_size = 16
    cfg.optim_wrapper.optimizer = dict(type='Adam', lr=1e-3)
    cfg.param_scheduler = []
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=1000)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000, by_epoch=False)
    cfg.log_processor = dict(by_epoch=False)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = [*hooks, dict(type='_ProbeBetas')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    return next(h for h in runner.hooks if isinstance(h, _ProbeBetas)).seen


def test_set_attributes_and_trunk_schedule_hooks_replay_beta1_in_a_runner(tmp_path):
    seen = _adam_run(tmp_path, 'fixed', [dict(type='SetAttributesHook', values={BETA1_ALL: 0.8})], iters=2)
    assert seen == [(0.8, 0.999)] * 2
    seen = _adam_run(tmp_path, 'trunks', [dict(type='TrunkScheduleHook', trunk_iters=2,
                                               values={BETA1_ALL: [0.8, 0.7]})])
    assert seen == [(0.8, 0.999)] * 2 + [(0.7, 0.999)] * 2


def test_an_attribute_space_over_beta1_meets_the_space_contract():
    model = torch.nn.Linear(4, 2)
    runner = toy_runner(model=model, optim_wrapper=OptimWrapper(torch.optim.Adam(model.parameters())))
    space = check_ohl_space(dict(type='AttributeSpace', target=BETA1_ALL, choices=[0.5, 0.8, 0.9],
                                 distribution=dict(type='Categorical')), runner)
    assert runner.optim_wrapper.optimizer.param_groups[0]['betas'] == (space.current, 0.999)


def test_an_ohl_run_searches_beta1_and_its_exports_replay_it(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'ohl'))
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]  # beta1 is the only space
    cfg.train_cfg.max_epochs = 2
    cfg.optim_wrapper.optimizer = dict(type='Adam', lr=1e-3)
    cfg.custom_hooks = [dict(
        type='OHLHook', num_copies=1, trunk_epochs=1, seed=0, plot=False,
        spaces=[dict(type='AttributeSpace', name='beta1', target=BETA1_ALL, choices=[0.5, 0.8],
                     distribution=dict(type='Categorical'))],
        reward_evaluator=dict(type='Accuracy', topk=(1,)), reward_key='accuracy/top1'), dict(type='_ProbeBetas')]
    runner = train_copy_runner(cfg)
    trained = next(h for h in runner.hooks if isinstance(h, _ProbeBetas)).seen
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        applied = [h['copy_values']['beta1'][0][BETA1_ALL] for h in json.load(f)]
    assert trained == [(v, 0.999) for v in applied for _ in range(4)]  # 4 iterations per epoch
    for name in ('final_policy.py', 'schedule_policy.py'):
        scope: dict = {}
        exec(open(osp.join(cfg.work_dir, 'ohl', name)).read(), scope)
        values = scope['custom_hooks'][0]['values']
        assert list(values) == [BETA1_ALL]
        if name == 'schedule_policy.py':
            assert values[BETA1_ALL] == applied


@pytest.mark.parametrize('optimizer_type, kwargs, path, target', [
    (torch.optim.Adam, {}, 'param_groups.*.momentum', 'param_groups.*.betas.0'),
    (torch.optim.AdamW, {}, 'param_groups.0.momentum', 'param_groups.0.betas.0'),
    (torch.optim.Adam, {}, 'momentum', 'param_groups.*.betas.0'),  # the base form
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9), 'param_groups.*.betas.0', 'param_groups.*.momentum'),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9), 'param_groups.0.betas', 'param_groups.0.momentum'),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9), 'betas.0', 'param_groups.*.momentum'),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9), 'betas', 'param_groups.*.momentum')])
def test_the_other_optimiser_familys_momentum_names_the_key_to_target(optimizer_type, kwargs, path, target):
    """An AttributeSpace or writer on ``param_groups.*.momentum`` of Adam stopped with "key 'momentum' not found":
    Adam's momentum is beta1, ``betas.0``; SGD's ``betas.0`` is its ``momentum``. The message names the path to
    target, which resolves; nothing is written."""
    runner = _runner(optimizer_type, **kwargs)
    before = copy.deepcopy(runner.optim_wrapper.optimizer.param_groups[0])
    full = f'optim_wrapper.optimizer.{path}'
    for act in (lambda: set_attribute(runner, full, 0.5), lambda: get_attribute(runner, full)):
        with pytest.raises(ValueError, match=re.escape(f'attribute path {full!r}')) as err:
            act()
        assert f'target optim_wrapper.optimizer.{target}' in str(err.value)
        assert ('betas.0' in str(err.value)) and ('momentum' in str(err.value))
    get_attribute(runner, f'optim_wrapper.optimizer.{target}')
    assert {k: v for k, v in runner.optim_wrapper.optimizer.param_groups[0].items() if k != 'params'} == \
        {k: v for k, v in before.items() if k != 'params'}
