"""The base value a fragment (and a replay's refusal under a ``param_scheduler``) tells to set in place of a write to
every group (``optim_wrapper.optimizer.param_groups.*.lr``) trains every group with the written value, under
``auto_scale_lr`` too.

Input that showed it: the digits config with ``auto_scale_lr=dict(enable=True, base_batch_size=<half the batch>)``
(mmengine's ``scale_lr`` doubles every group's lr), an ``AttributeSpace`` over ``param_groups.*.lr`` whose mode is
0.3: ``final_policy.py`` said "set the base value optim_wrapper.optimizer.lr=0.3 instead of this hook"; a config with
that base trained every group with 0.6, the search's best copy with 0.3. Real ``Runner`` on CPU, as ``train()``
builds its optimiser (``build_optim_wrapper`` then ``scale_lr``)."""
from __future__ import annotations

import re

import pytest
import torch
from mmengine.runner import Runner

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.ownership import check_owned_attribute

from conftest import tiny_digits_cfg

GROUPS = 'optim_wrapper.optimizer.param_groups.*.lr'


def _runner(tmp_path, name: str, lr: float | None = None) -> Runner:
    """The tiny digits runner with every group's lr doubled by auto_scale_lr, its optimiser built as train() does."""
    cfg = tiny_digits_cfg(str(tmp_path / name))
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=cfg.train_dataloader.batch_size // 2)
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    runner = Runner.from_cfg(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    return runner


def _lrs(runner) -> list[float]:
    return [group['lr'] for group in runner.optim_wrapper.optimizer.param_groups]


def test_the_fragments_base_value_trains_every_group_with_the_searched_value(tmp_path):
    search = _runner(tmp_path, 'search')
    base = search.cfg.optim_wrapper.optimizer.lr
    assert _lrs(search) == [base * 2] * len(_lrs(search))  # the factor this test is about
    space = AttributeSpace(dict(type='Categorical'), target=GROUPS, choices=[0.1, 0.3], name='lr')
    space.setup(search, CopyLayout(num_copies=1, ranks_per_copy=1, rank=0, world_size=1), 0)
    space.distribution.logits.data.copy_(torch.tensor([0.0, 2.0]))
    space.apply(1, search)  # what the best copy trained with
    assert _lrs(search) == [0.3] * len(_lrs(search))
    note = re.search(r'set the base value optim_wrapper\.optimizer\.lr=([0-9.e-]+)', space.export_fragment())
    assert note is not None and float(note.group(1)) == 0.15  # before: 0.3
    # the note followed: a retrain config with that base trains every group as the search's copy did
    assert _lrs(_runner(tmp_path, 'retrain', lr=float(note.group(1)))) == _lrs(search)


def test_a_replays_refusal_under_a_scheduler_names_the_base_that_gives_the_replayed_value(tmp_path):
    runner = _runner(tmp_path, 'replay')
    runner.param_schedulers = runner.build_param_scheduler(
        [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=2)])
    with pytest.raises(ValueError, match=r'set the base value instead, optim_wrapper\.optimizer\.lr=0\.15 \(× 2 in '
                                         r'every group'):
        check_owned_attribute(runner, GROUPS, 'SetAttributesHook', fixed_value=0.3)
