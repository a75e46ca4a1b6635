"""Replaying a learned schedule: ``copy_values`` / ``schedule`` in the OHL history, their lineage,
``schedule_policy.py``, ``TrunkScheduleHook``."""
from __future__ import annotations

import copy
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from automl_mm.ohl import TrunkScheduleHook, reset_copy_layout
from automl_mm.ohl.report import OHLReport, final_policy_text, lineage, schedule_fragment
from automl_mm.registry import HOOKS, RUNNERS

from conftest import tiny_digits_cfg, tiny_ohl_cfg, train_copy_runner

LR = 'optim_wrapper.optimizer.param_groups.*.lr'


@HOOKS.register_module(force=True)
class _ProbeLR(Hook):
    """Records the learning rate every iteration trains with (after the schedule hook set it)."""

    priority = 'NORMAL'

    def __init__(self):
        self.seen: list[float] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append(runner.optim_wrapper.optimizer.param_groups[0]['lr'])


def _probe(runner) -> _ProbeLR:
    return next(h for h in runner.hooks if isinstance(h, _ProbeLR))


def _replay(tmp_path, name: str, fragment_hooks: list[dict], epochs: int = 1, iters: int | None = None):
    """A plain digits run (no OHLHook, no copies) with the fragment's hooks, 4 iterations per epoch."""
    cfg = tiny_digits_cfg(str(tmp_path / name), max_epochs=epochs)
    cfg.train_dataloader.batch_size = 16
    cfg.param_scheduler = []
    if iters is not None:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=1000)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000, by_epoch=False)
        cfg.log_processor = dict(by_epoch=False)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = [*fragment_hooks, dict(type='_ProbeLR')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    return _probe(runner).seen


def test_the_hook_sets_each_trunks_value_at_its_first_iteration(tmp_path):
    seen = _replay(tmp_path, 'epochs', [dict(type='TrunkScheduleHook', trunk_epochs=1, values={LR: [0.3, 0.1]})],
                   epochs=3)
    assert seen == [0.3] * 4 + [0.1] * 4 + [0.1] * 4  # 4 iterations per epoch; the last value stays
    seen = _replay(tmp_path, 'iters', [dict(type='TrunkScheduleHook', trunk_iters=3, values={LR: [0.3, 0.2, 0.1]})],
                   iters=8)
    assert seen == [0.3] * 3 + [0.2] * 3 + [0.1] * 2


def test_an_epoch_schedule_in_an_iteration_loop_is_refused(tmp_path):
    """mmengine's IterBasedTrainLoop runs every iteration in epoch 0: an exported epoch schedule replayed in an
    iteration-based retrain config set its first value all run (12 iterations of 0.3 for [0.3, 0.2, 0.1])."""
    with pytest.raises(ValueError, match=r'TrunkScheduleHook\(trunk_epochs=1\) needs an epoch-based loop, but '
                                         r'train_cfg.type is IterBasedTrainLoop'):
        _replay(tmp_path, 'mixed', [dict(type='TrunkScheduleHook', trunk_epochs=1, values={LR: [0.3, 0.2, 0.1]})],
                iters=12)


def test_the_hook_refuses_bad_arguments():
    with pytest.raises(ValueError, match='exactly one positive trunk_epochs / trunk_iters'):
        TrunkScheduleHook({LR: [0.1]}, trunk_epochs=1, trunk_iters=2)
    with pytest.raises(ValueError, match='non-empty list of per-trunk values'):
        TrunkScheduleHook({LR: []}, trunk_epochs=1)


def test_a_resumed_replay_sets_the_value_of_the_trunk_it_resumes_in():
    hook = TrunkScheduleHook({LR: [0.3, 0.2, 0.1]}, trunk_iters=3)
    assert [hook.trunk_of(0, i) for i in (0, 2, 3, 5, 7)] == [0, 0, 1, 1, 2]
    hook = TrunkScheduleHook({LR: [0.3, 0.2]}, trunk_epochs=2)
    assert [hook.trunk_of(e, 0) for e in (0, 1, 2, 3)] == [0, 0, 1, 1]


def test_the_fragment_lists_each_paths_values_trunk_by_trunk():
    # histories written before copy_values were recorded replay their per-trunk mode (schedule)
    history = [dict(trunk=0, schedule={'lr': {LR: 0.1}}), dict(trunk=1, schedule={'lr': {LR: 0.05}})]
    text = schedule_fragment(history, dict(trunk_epochs=2, trunk_iters=None))
    scope: dict = {}
    exec(text, scope)
    assert scope['custom_hooks'] == [dict(type='automl_mm.TrunkScheduleHook', values={LR: [0.1, 0.05]}, trunk_epochs=2)]
    assert schedule_fragment([dict(trunk=0, schedule={})], dict(trunk_epochs=1)) == ''


def _trunk(k: int, best: int, broadcast: bool, lrs: list[float], mode: float = 9.0) -> dict:
    return dict(trunk=k, best=best, broadcast=broadcast, schedule={'lr': {LR: mode}},
                copy_values={'lr': [{LR: v} for v in lrs]})


def test_the_lineage_follows_the_copy_the_final_model_descends_from():
    """broadcast_interval 2 over 4 trunks of 3 copies: the final model is trunk 3's best copy (2), which trained
    trunk 2 as itself (no broadcast after trunk 2) and descends from trunk 1's best copy (0), which trained trunk
    0 as itself. Copy c's value in trunk k is 10 k + c, so the lineage must read [0, 10, 22, 32]."""
    lrs = [[10.0 * k + c for c in range(3)] for k in range(4)]
    history = [_trunk(0, best=1, broadcast=False, lrs=lrs[0]), _trunk(1, best=0, broadcast=True, lrs=lrs[1]),
               _trunk(2, best=1, broadcast=False, lrs=lrs[2]), _trunk(3, best=2, broadcast=True, lrs=lrs[3])]
    assert [t['lr'][LR] for t in lineage(history)] == [0.0, 10.0, 22.0, 32.0]
    # every trunk broadcasting: each trunk's own best copy
    every = [dict(h, broadcast=True) for h in history]
    assert [t['lr'][LR] for t in lineage(every)] == [1.0, 10.0, 21.0, 32.0]
    # a run read after a trunk that did not broadcast yet (after_train broadcasts its best copy): that copy
    assert [t['lr'][LR] for t in lineage(history[:3])] == [0.0, 10.0, 21.0]
    # an older entry without copy_values contributes its mode; the fragment lists the lineage
    old = [dict(trunk=0, best=1, broadcast=True, schedule={'lr': {LR: 9.0}}), *history[1:]]
    assert [t['lr'][LR] for t in lineage(old)] == [9.0, 10.0, 22.0, 32.0]
    scope: dict = {}
    exec(schedule_fragment(history, dict(trunk_epochs=1)), scope)
    assert scope['custom_hooks'][0]['values'] == {LR: [0.0, 10.0, 22.0, 32.0]}


def test_an_ohl_run_records_what_each_trunk_trained_with_and_its_export_replays_it(tmp_path):
    """One copy learning the learning rate over 4 one-epoch trunks from uniform θ (a moving-average baseline moves
    θ). The history records the mode of θ during each trunk (``schedule``) and the value the copy applied
    (``copy_values``); the exported fragment replays what the copy trained with, at every iteration, in a run
    without OHL. At trunk 0 θ is uniform, so its mode is the first choice whatever was drawn: seed 0 draws
    another, and a replay of the modes would train that trunk on a value the search never used."""
    choices = [0.02, 0.05, 0.1]
    cfg = tiny_ohl_cfg(str(tmp_path / 'ohl'))
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]  # the learning rate is the only space
    cfg.train_cfg.max_epochs = 4
    cfg.custom_hooks = [dict(
        type='OHLHook', num_copies=1, trunk_epochs=1, seed=0, plot=False,
        spaces=[dict(type='AttributeSpace', name='lr', target=LR, choices=choices,
                     distribution=dict(type='Categorical', num_choices=3))],
        controller=dict(type='REINFORCE', baseline='moving_average', optimizer=dict(type='Adam', lr=1.0)),
        reward_evaluator=dict(type='Accuracy', topk=(1,)), reward_key='accuracy/top1'), dict(type='_ProbeLR')]
    runner = train_copy_runner(cfg)
    trained = _probe(runner).seen
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        history = json.load(f)
    applied = [h['copy_values']['lr'][0][LR] for h in history]
    assert trained == [v for v in applied for _ in range(4)]  # 4 iterations per epoch
    modes = [h['schedule']['lr'][LR] for h in history]
    # θ during trunk k: uniform for k = 0, else θ after trunk k - 1's update
    thetas = [[0.0, 0.0, 0.0]] + [h['theta']['lr'][0] for h in history[:-1]]
    assert modes == [choices[int(np.argmax(t))] for t in thetas]
    assert modes[0] == choices[0] != applied[0]  # the tie at trunk 0: not what the copy trained with

    scope: dict = {}
    exec(open(osp.join(cfg.work_dir, 'ohl', 'schedule_policy.py')).read(), scope)
    assert scope['custom_hooks'][0]['trunk_epochs'] == 1
    seen = _replay(tmp_path, 'replay', scope['custom_hooks'], epochs=4)
    assert seen == trained


def _attribute_space(name: str, target: str, choices: list, best: int):
    from automl_mm.ohl.spaces import AttributeSpace

    space = AttributeSpace(dict(type='Categorical'), target=target, choices=choices, name=name)
    logits = [0.0] * len(choices)
    logits[best] = 3.0
    space.distribution.logits.data.copy_(torch.tensor(logits))
    return space


def test_final_policy_keeps_every_attribute_spaces_value():
    """configs/ohl/ohl-lr-wd_*: two AttributeSpaces, each fragment sets custom_hooks; loaded as one config the last
    assignment used to win, so the learned learning rate was silently not replayed."""
    from mmengine.config import Config

    wd_path = 'optim_wrapper.optimizer.param_groups.*.weight_decay'
    spaces = [_attribute_space('lr', LR, [0.003, 0.01, 0.1], best=2),
              _attribute_space('weight_decay', wd_path, [0.0, 1e-4, 1e-3], best=1)]
    text = final_policy_text([(s.name, s.export_fragment()) for s in spaces], header='# test\n')
    cfg = Config.fromstring(text, file_format='.py')
    replayed = {p: v for h in cfg.custom_hooks for p, v in h['values'].items()}
    assert replayed == {LR: 0.1, wd_path: 1e-4}
    # one space: the fragment as it is
    assert final_policy_text([('lr', spaces[0].export_fragment())]) == spaces[0].export_fragment()


def test_merging_fragments_keeps_the_order_of_each_hooks_values():
    """The merged custom_hooks line keeps each hook's keys in the order written (it was written with pprint's sorted
    keys). The hooks no longer depend on that order where two paths reach one value (a covering path is written
    first: tests/test_ohl/test_replay_write_order.py); the file reads as the spaces wrote it."""
    from mmengine.config import Config

    one = LR.replace('*', '0')
    ordered = ("custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)\n"
               f"custom_hooks = [dict(type='automl_mm.SetAttributesHook', values={{{one!r}: 0.5, {LR!r}: 0.1}})]\n")
    other = ("custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)\n"
             "custom_hooks = [dict(type='automl_mm.SetAttributesHook', values={'model.x': 1.0})]\n")
    cfg = Config.fromstring(final_policy_text([('mine', ordered), ('other', other)]), file_format='.py')
    assert list(cfg.custom_hooks[0]['values']) == [one, LR]
    assert list(cfg.custom_hooks[0]) == ['type', 'values']

def test_spaces_whose_fragments_collide_are_refused_before_the_first_trunk():
    clash = "model = dict(head=dict(loss=dict(type='AMLFSLoss', theta=[0.0])))\n"
    with pytest.raises(ValueError, match="OHL spaces 'a' and 'b' both export 'model'"):
        final_policy_text([('a', clash), ('b', clash)])
    imports = "custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)\n"
    final_policy_text([('a', imports + 'ohl_fixed_a = 1\n'), ('b', imports + 'ohl_fixed_b = 2\n')])  # shared imports
    space = SimpleNamespace(name='a', export_fragment=lambda: clash)
    with pytest.raises(ValueError, match="both export 'model'"):
        OHLReport.check_spaces([space, SimpleNamespace(name='b', export_fragment=lambda: clash)])


@pytest.mark.parametrize('who', ['space', 'replay', 'fixed'])
def test_a_scheduled_learning_rate_cannot_also_be_searched_or_replayed(tmp_path, who):
    """mmengine's schedulers step the value they find (LinearLR's first step runs when it is built): a searched or
    replayed lr of 0.1 under a start_factor=0.001 warm-up trained at 25, 50, 100, and every trunk start wiped the
    decay so far. Refused at start, naming the scheduler."""
    warmup = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=5)]
    if who == 'space':
        cfg = tiny_ohl_cfg(str(tmp_path / 'ohl'))
        cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='lr', target=LR, choices=[0.05, 0.1],
                                           distribution=dict(type='Categorical', num_choices=2))]
        match = r"OHL space 'lr' writes .*lr but param_scheduler\[0\] \(LinearLR\) schedules 'lr'"
    else:
        cfg = tiny_digits_cfg(str(tmp_path / 'replay'))
        cfg.custom_hooks = [dict(type='TrunkScheduleHook', values={LR: [0.1]}, trunk_epochs=1) if who == 'replay'
                            else dict(type='SetAttributesHook', values={LR: 0.1})]
        match = r"(TrunkSchedule|SetAttributes)Hook writes .*lr but param_scheduler\[0\] \(LinearLR\)"
        if who == 'fixed':  # a final_policy.py pasted into a scheduled config: the base key and value to set instead
            match += (r".*drop SetAttributesHook's entry for optim_wrapper\.optimizer\.param_groups\.\*\.lr and set "
                      r"the base value instead, optim_wrapper\.optimizer\.lr=0\.1 \(the scheduler then scales it\)")
    cfg.param_scheduler = warmup
    reset_copy_layout()
    try:
        with pytest.raises(ValueError, match=match):
            RUNNERS.build(copy.deepcopy(cfg)).train() if who == 'space' else Runner.from_cfg(cfg).train()
    finally:
        reset_copy_layout()


def test_adam_betas_under_a_momentum_scheduler_cannot_be_written(tmp_path):
    """mmengine's momentum schedulers name the parameter 'momentum' but write an Adam group's betas[0]: a written
    (0.5, 0.999) trained with (0.8976, 0.999) after one step."""
    cfg = tiny_digits_cfg(str(tmp_path / 'betas'))
    cfg.optim_wrapper.optimizer = dict(type='Adam', lr=1e-3)
    cfg.param_scheduler = [dict(type='CosineAnnealingMomentum', T_max=10, eta_min=0.8, by_epoch=False)]
    cfg.custom_hooks = [dict(type='SetAttributesHook',
                             values={'optim_wrapper.optimizer.param_groups.*.betas': (0.5, 0.999)})]
    with pytest.raises(ValueError, match=r"writes .*betas but param_scheduler\[0\] \(CosineAnnealingMomentum\) "
                                         r"schedules 'betas'"):
        Runner.from_cfg(cfg).train()


def test_one_value_over_groups_with_paramwise_multipliers_is_refused(tmp_path):
    """norm_decay_mult=0 keeps BN parameters out of weight decay; '*' wrote the searched value into every group."""
    cfg = tiny_digits_cfg(str(tmp_path / 'wd'))
    cfg.optim_wrapper.paramwise_cfg = dict(norm_decay_mult=0.0)
    cfg.custom_hooks = [dict(type='SetAttributesHook',
                             values={'optim_wrapper.optimizer.param_groups.*.weight_decay': 1e-3})]
    with pytest.raises(ValueError, match=r'groups hold different values .*paramwise_cfg multipliers'):
        Runner.from_cfg(cfg).train()


def test_the_fragment_replays_overlapping_paths_in_the_order_ohl_wrote_them():
    """OHLHook applies the spaces in order, each writing its paths: a later space's write wins where two paths reach
    one value. The fragment's TrunkScheduleHook must set them in that order too. Its values used to be sorted by
    path ('optim_wrapper.optimizer...' before 'optim_wrapper.param_groups...'), so the head's own lr, written after
    the global one in the search, was set first in the replay and the global lr overwrote it; and two spaces
    writing one path interleaved their values into one list (trunk 0 replayed the earlier space's value)."""
    every, head = 'optim_wrapper.param_groups.*.lr', 'optim_wrapper.optimizer.param_groups.1.lr'
    history = [dict(trunk=k, best=0, broadcast=True,
                    copy_values={'all': [{every: 0.1 * (k + 1)}], 'head': [{head: 0.5 + k}],
                                 'again': [{'model.p': 7.0 + k}], 'p': [{'model.p': 3.0 + k}]})
               for k in range(2)]

    def runner():
        groups = [{'lr': 1.0}, {'lr': 1.0}]
        optim = SimpleNamespace(optimizer=SimpleNamespace(param_groups=groups), param_groups=groups)
        return SimpleNamespace(optim_wrapper=optim, model=SimpleNamespace(p=0.0))

    from mmengine.config import Config

    from automl_mm.ohl.attributes import set_attribute

    hook_cfg = Config.fromstring(schedule_fragment(history, dict(trunk_iters=2)), file_format='.py').custom_hooks[0]
    hook = HOOKS.build(dict(hook_cfg))
    for k, per_trunk in enumerate(lineage(history)):
        searched, replayed = runner(), runner()
        for per_space in per_trunk.values():  # what OHLHook did: space by space, path by path
            for path, value in per_space.items():
                set_attribute(searched, path, value)
        hook._apply(replayed, k)
        assert replayed.optim_wrapper.param_groups == searched.optim_wrapper.param_groups == \
            [{'lr': 0.1 * (k + 1)}, {'lr': 0.5 + k}]
        assert replayed.model.p == searched.model.p == 3.0 + k
