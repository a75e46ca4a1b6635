"""Replaying a learned schedule: ``schedule`` in the OHL history, ``schedule_policy.py``, ``TrunkScheduleHook``."""
from __future__ import annotations

import copy
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.hooks import Hook
from mmengine.runner import Runner

from automl_mm.ohl import TrunkScheduleHook, reset_copy_layout
from automl_mm.ohl.report import schedule_fragment
from automl_mm.registry import HOOKS, RUNNERS
from tests.conftest import tiny_digits_cfg, tiny_ohl_cfg

LR = 'optim_wrapper.optimizer.param_groups.*.lr'


@HOOKS.register_module(force=True)
class _ProbeLR(Hook):
    """Records the learning rate every iteration trains with (after the HIGH-priority schedule hook set it)."""

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
    history = [dict(trunk=0, schedule={'lr': {LR: 0.1}}), dict(trunk=1, schedule={'lr': {LR: 0.05}})]
    text = schedule_fragment(history, dict(trunk_epochs=2, trunk_iters=None))
    scope: dict = {}
    exec(text, scope)
    assert scope['custom_hooks'] == [dict(type='TrunkScheduleHook', values={LR: [0.1, 0.05]}, trunk_epochs=2)]
    assert schedule_fragment([dict(trunk=0, schedule={})], dict(trunk_epochs=1)) == ''


def test_an_ohl_run_records_each_trunks_mode_and_its_export_replays_it(tmp_path):
    """One copy learning the learning rate over 4 one-epoch trunks (a moving-average baseline moves θ); the
    recorded schedule is the mode of θ *during* each trunk, and the exported fragment reproduces it in a run
    without OHL at every trunk boundary."""
    choices = [0.02, 0.05, 0.1]
    cfg = tiny_ohl_cfg(str(tmp_path / 'ohl'))
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]  # the learning rate is the only space
    cfg.train_cfg.max_epochs = 4
    cfg.custom_hooks = [dict(
        type='OHLHook', num_copies=1, trunk_epochs=1, seed=3, plot=False,
        spaces=[dict(type='AttributeSpace', name='lr', target=LR, choices=choices,
                     distribution=dict(type='Categorical', num_choices=3, logits=[0.01, 0.0, 0.0]))],
        controller=dict(type='REINFORCE', baseline='moving_average', optimizer=dict(type='Adam', lr=1.0)),
        reward_evaluator=dict(type='Accuracy', topk=(1,)), reward_key='accuracy/top1')]
    reset_copy_layout()
    try:
        RUNNERS.build(copy.deepcopy(cfg)).train()  # the CopyRunner of runner_type
    finally:
        reset_copy_layout()
    with open(osp.join(cfg.work_dir, 'ohl', 'history.json')) as f:
        history = json.load(f)
    recorded = [h['schedule']['lr'][LR] for h in history]
    # θ during trunk k: the initial logits for k = 0, else θ after trunk k - 1's update
    thetas = [[0.01, 0.0, 0.0]] + [h['theta']['lr'][0] for h in history[:-1]]
    assert len(set(recorded)) > 1  # the mode moved (seed 3): the schedule is not a constant
    assert recorded == [choices[int(np.argmax(t))] for t in thetas]

    scope: dict = {}
    exec(open(osp.join(cfg.work_dir, 'ohl', 'schedule_policy.py')).read(), scope)
    assert scope['custom_hooks'][0]['trunk_epochs'] == 1
    seen = _replay(tmp_path, 'replay', scope['custom_hooks'], epochs=4)
    assert seen[::4] == recorded  # the first iteration of every trunk (4 iterations per epoch)
    assert seen == [v for v in recorded for _ in range(4)]
