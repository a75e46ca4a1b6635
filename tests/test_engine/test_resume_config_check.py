"""A resume under another config than the checkpoint's run (checkpoint['meta']['cfg']) is named in one warning.

mmengine's resume restores the optimiser's param_groups (lr, momentum, weight_decay ...) and the schedulers' state
over what the edited config built, while other edited keys (the pipeline, ...) take effect: both silently. Real
mmengine Runners on the tiny digits config (conftest), an OHL CopyRunner and a PC-NAS loop; the claim that the
checkpoint's value is used is asserted on the resumed optimiser and scheduler.
"""
from __future__ import annotations

import logging
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from automl_mm.engine import safe_torch_load
from automl_mm.engine.resume_config import (
    MAX_KEYS,
    config_differences,
    difference_warning,
    parse_config_text,
    restored_keys,
)

from conftest import resumed_runner, tiny_digits_cfg, tiny_ohl_cfg, train_copy_runner


def _cfg(work_dir: str, max_epochs: int = 2) -> Config:
    cfg = tiny_digits_cfg(work_dir, max_epochs)
    cfg.train_cfg.val_interval = 100
    return cfg


@pytest.fixture(scope='module')
def saved(tmp_path_factory) -> str:
    """The first of two epochs of the tiny digits run (SGD lr 0.05, cosine schedule): its checkpoint."""
    work = str(tmp_path_factory.mktemp('digits'))
    Runner.from_cfg(_cfg(work)).train()
    return osp.join(work, 'epoch_1.pth')


@pytest.fixture
def warned(monkeypatch) -> list[str]:
    """The warnings the config comparison logs."""
    from automl_mm.engine import resume_config

    messages: list[str] = []
    monkeypatch.setattr(resume_config, 'print_log', lambda msg, **kw: messages.append(msg)
                        if kw.get('level', logging.INFO) >= logging.WARNING else None)
    return messages


class _RecordLr(Hook):
    """The optimiser's first group as training starts (after the resume loaded the checkpoint)."""

    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        self.group = dict(runner.optim_wrapper.param_groups[0], params=None)


def test_an_identical_resume_reports_nothing(saved, tmp_path, warned):
    runner = resumed_runner(_cfg(str(tmp_path)), saved)
    runner.train()
    assert runner.epoch == 2 and warned == []


def test_another_lr_is_named_and_the_checkpoints_lr_is_the_one_used(saved, tmp_path, warned):
    cfg = _cfg(str(tmp_path))
    cfg.optim_wrapper.optimizer.lr = 0.01
    runner = resumed_runner(cfg, saved)
    record = _RecordLr()
    runner.register_hook(record)
    runner.train()
    assert warned == [
        f'resuming {saved}: this run\'s config differs from the checkpoint\'s run in 1 key (checkpoint\'s -> this '
        'run\'s). The checkpoint\'s value is used: the optimiser state was resumed (to use the new value start a new '
        'run with load_from): optim_wrapper.optimizer.lr: 0.05 -> 0.01.']
    # the claim: mmengine's resume replaced the configured lr by the checkpoint's param_groups
    saved_group = safe_torch_load(saved)['optimizer']['param_groups'][0]
    assert record.group['lr'] == saved_group['lr'] and record.group['initial_lr'] == 0.05
    assert runner.param_schedulers[0].base_values == [0.05]


def test_a_schedulers_setting_is_named_with_the_schedulers_state(saved, tmp_path, warned):
    cfg = _cfg(str(tmp_path))
    cfg.param_scheduler[0].eta_min = 0.001
    cfg.optim_wrapper.optimizer.weight_decay = 0.0
    runner = resumed_runner(cfg, saved)
    runner.train()
    assert len(warned) == 1
    assert 'The checkpoint\'s value is used: the optimiser state and the parameter schedulers\' state were ' \
           'resumed' in warned[0]
    assert 'optim_wrapper.optimizer.weight_decay: 0.0005 -> 0.0' in warned[0]
    assert 'param_scheduler.0.eta_min: (unset) -> 0.001' in warned[0]
    assert runner.param_schedulers[0].eta_min == 0.0  # the claim: the saved scheduler's
    assert runner.optim_wrapper.param_groups[0]['weight_decay'] == 0.0005


def test_another_pipeline_is_named_as_taking_effect(saved, tmp_path, warned):
    cfg = _cfg(str(tmp_path))
    cfg.train_dataloader.dataset.pipeline.insert(0, dict(type='RandomFlip', prob=0.5))
    cfg.train_dataloader.batch_size = 16
    resumed_runner(cfg, saved).train()
    assert len(warned) == 1
    assert 'checkpoint\'s value is used' not in warned[0]
    assert warned[0].endswith(
        'in 2 keys (checkpoint\'s -> this run\'s). This run\'s value is used from the resume on: '
        'train_dataloader.batch_size: 32 -> 16; train_dataloader.dataset.pipeline: [{\'type\': \'PackClsInputs\'}] '
        '-> [{\'prob\': 0.5, \'type\': \'RandomFlip\'}, {\'type\': \'PackClsInputs\'}].')


def test_load_from_and_a_checkpoint_without_its_config_are_not_compared(saved, tmp_path, warned):
    cfg = _cfg(str(tmp_path))
    cfg.optim_wrapper.optimizer.lr = 0.01
    cfg.load_from = saved  # a new run from the checkpoint's weights: its config is its own
    Runner.from_cfg(cfg).train()
    old = safe_torch_load(saved)
    del old['meta']['cfg']
    path = str(tmp_path / 'old.pth')
    torch.save(old, path)
    resumed_runner(_cfg(str(tmp_path / 'resumed')), path).train()
    assert warned == []


# --- the parts ------------------------------------------------------------------------------------------------------
def test_the_config_text_is_read_without_running_it(tmp_path):
    marker = tmp_path / 'ran'
    text = f"a = dict(b=[dict(c=1), 2], d=(0.5, -1))\ne = open({str(marker)!r}, 'w')\nf = float('inf')\n"
    parsed = parse_config_text(text)
    assert parsed['a'] == {'b': [{'c': 1}, 2], 'd': (0.5, -1)}
    assert repr(parsed['e']) == f"open({str(marker)!r}, 'w')" and not marker.exists()
    assert parse_config_text('import os') is None and parse_config_text('a = (') is None


def test_differences_are_dotted_and_the_warning_names_at_most_max_keys():
    before = {'p': [dict(type='A', x=1), dict(type='B')], 'q': [1, 2], 'lr': 0.1}
    now = {'p': [dict(type='A', x=2), dict(type='B')], 'q': [1, 3], 'new': 'x'}
    found = config_differences(before, now)
    assert [k for k, _, _ in found] == ['p.0.x', 'q', 'lr', 'new']
    assert config_differences({'p': [dict(a=1)]}, {'p': [dict(a=1), dict(b=2)]})[0][0] == 'p'  # another length
    many = [(f'k{i:02d}', i, i + 1) for i in range(MAX_KEYS + 3)]
    message = difference_warning('c.pth', many, {})
    assert 'k09: 9 -> 10; and 3 more.' in message and 'k10' not in message


def test_restored_keys_follow_the_checkpoints_state():
    checkpoint = {'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1, 'betas': (0.9, 0.99), 'params': [0]}]},
                  'param_schedulers': [{'milestones': [3], 'gamma': 0.1}]}
    assert restored_keys(checkpoint) == {
        'optim_wrapper.optimizer.lr': 'optimiser', 'optim_wrapper.optimizer.betas': 'optimiser',
        'optim_wrapper.paramwise_cfg': 'optimiser', 'auto_scale_lr': 'optimiser',
        'param_scheduler.0.milestones': 'scheduler', 'param_scheduler.0.gamma': 'scheduler'}
    assert restored_keys({'meta': {}}) == {}  # saved without optimiser or schedulers: the new values take effect
    two = {'optimizer': {'generator': {'param_groups': [{'lr': 1}]}}}
    assert 'optim_wrapper.generator.optimizer.lr' in restored_keys(two)


# --- OHL and NAS ----------------------------------------------------------------------------------------------------
def test_an_ohl_resume_leaves_the_search_settings_to_the_ohl_check(tmp_path, warned):
    """An identical OHL resume reports nothing; a controller setting the OHL check itself warns about (REINFORCE's
    momentum may change) is not reported twice, a hook setting it does not compare is."""
    work = str(tmp_path / 'ohl')
    train_copy_runner(tiny_ohl_cfg(work, trunk_epochs=1))  # 3 epochs, a checkpoint each
    resumed = tiny_ohl_cfg(work, trunk_epochs=1)
    resumed.resume, resumed.load_from = True, osp.join(work, 'epoch_2.pth')
    assert train_copy_runner(resumed).epoch == 3 and warned == []
    resumed.custom_hooks[0].controller.momentum = 0.5
    resumed.custom_hooks[0].verify_sync = False
    train_copy_runner(resumed)
    assert len(warned) == 1 and 'controller' not in warned[0]
    assert warned[0].endswith('This run\'s value is used from the resume on: custom_hooks.0.verify_sync: (unset) -> '
                              'False.')


def test_an_identical_nas_resume_reports_nothing(tmp_path, warned):
    """A PC-NAS search resumed from its last checkpoint (the search loop's own resume path) with its config."""
    from test_nas.test_pc_nas_loop import _cfg as pc_nas_cfg

    work = str(tmp_path / 'nas')
    Runner.from_cfg(pc_nas_cfg(work)).train()
    with open(osp.join(work, 'last_checkpoint')) as f:
        last = shutil.copy(f.read().strip(), tmp_path / 'last.pth')  # the resumed runs save under its name
    resumed = pc_nas_cfg(work)
    resumed.resume, resumed.load_from = True, str(last)
    resumed.train_cfg.bn_recalibration_batches = 0
    Runner.from_cfg(resumed).train()
    assert len(warned) == 1 and warned[0].endswith(
        'This run\'s value is used from the resume on: train_cfg.bn_recalibration_batches: 1 -> 0.')
    warned.clear()
    resumed.train_cfg.bn_recalibration_batches = 1
    Runner.from_cfg(resumed).train()
    assert warned == []


@pytest.mark.parametrize('edit, dropped', [
    (dict(save_best='accuracy/top5'), True),  # another metric, same rule
    (dict(save_best='accuracy/top1', rule='less'), True),  # the same metric, read the other way
    (dict(save_best='accuracy/top1', rule='greater'), False),  # the rule the key implied: the same record
    (dict(), False),  # no best saved any more: nothing reads the record
])
def test_a_best_score_of_another_save_best_key_or_rule_is_not_compared(warned, tmp_path, edit, dropped):
    """mmengine's CheckpointHook keeps one best_score for a single save_best key, whatever the key: a run resumed
    with save_best='accuracy/top5' compared its top-5 with the best top-1 (under rule 'less', with a maximum as if a
    minimum), so its best checkpoint was saved against another metric's record, silently. The record is dropped
    from the checkpoint's message hub before the resume loads it, with a warning naming both keys."""
    from types import SimpleNamespace

    from automl_mm.engine.resume_config import ResumeConfigHook

    before = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                                            save_best='accuracy/top1'))))
    now = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, **edit))))
    runtime = {'best_score': 91.5, 'best_ckpt': 'run/best_accuracy_top1_epoch_3.pth', 'keep_ckpt_ids': [3]}
    checkpoint = {'meta': {'cfg': before.pretty_text}, 'message_hub': {'runtime_info': runtime}}
    runner = SimpleNamespace(model=None, _resume=True, _load_from='run/epoch_4.pth', cfg=now, hooks=[],
                             work_dir=str(tmp_path))
    ResumeConfigHook().after_load_checkpoint(runner, checkpoint)
    assert ('best_score' not in runtime and 'best_ckpt' not in runtime) is dropped
    assert runtime['keep_ckpt_ids'] == [3]
    found = [m for m in warned if 'save_best' in m and 'best score' in m]
    assert len(found) == int(dropped)
    if dropped:
        assert 'run/epoch_4.pth' in found[0] and "91.5 of accuracy/top1 (rule 'greater')" in found[0]


@pytest.fixture
def own_class():
    """``own_class(registry, name)``: a decorator registering a test's class for that test only (left registered,
    it reached the contract tests that check every registered implementation, in the same xdist worker)."""
    added = []

    def register(registry, name):
        def decorate(cls):
            registry.register_module(name=name, force=True, module=cls)
            added.append((registry, name))
            return cls
        return decorate

    yield register
    for registry, name in added:
        registry._module_dict.pop(name, None)


def test_a_space_without_a_signature_has_its_changed_arguments_named(tmp_path, warned, own_class):
    """A space of one's own (no ``signature()``, the default) resumed with its choices reordered loaded θ onto the
    other choices without a word: the OHL check compares only what a signature says, and the config comparison
    left the whole ``spaces`` entry to it. Its changed arguments are named now; its distribution stays the OHL
    check's (not reported twice)."""
    from automl_mm.ohl.attributes import set_attribute
    from automl_mm.ohl.base import PerCopySpace
    from automl_mm.registry import SEARCH_SPACES

    path = 'optim_wrapper.optimizer.weight_decay'

    @own_class(SEARCH_SPACES, 'HxUnsignedWdSpace')
    class _Space(PerCopySpace):
        def __init__(self, choices, name='wd'):
            super().__init__(dict(type='Categorical', num_choices=len(choices)), name=name)
            self.choices = list(choices)

        def apply(self, sample, runner):
            self.current = self.choices[int(sample)]
            set_attribute(runner, path, self.current)

        def scheduled_values(self):
            return {path: self.choices[int(self.distribution.mode())]}

        def applied_values(self):
            return {path: self.current} if hasattr(self, 'current') else None

        def export_fragment(self):
            return ''

    def cfg(choices):
        built = tiny_ohl_cfg(work, trunk_epochs=1)
        built.train_dataloader.dataset.pipeline = [dict(type='PackClsInputs')]
        built.custom_hooks[0].spaces = [dict(type='HxUnsignedWdSpace', choices=choices)]
        return built

    work = str(tmp_path / 'ohl')
    train_copy_runner(cfg([0.0, 1e-3]))
    resumed = cfg([1e-3, 0.0])
    resumed.resume, resumed.load_from = True, osp.join(work, 'epoch_2.pth')
    train_copy_runner(resumed)
    assert len(warned) == 1
    assert warned[0].endswith("This run's value is used from the resume on: custom_hooks.0.spaces.0.choices: "
                              '[0.0, 0.001] -> [0.001, 0.0].')


def test_an_own_controllers_argument_outside_its_settings_is_named(tmp_path, warned, own_class):
    """A controller of one's own whose argument its ``settings()`` does not list (here ``advantage_clip``) was
    claimed whole by the OHL check, which compares only ``settings()``: another value resumed without a word."""
    from automl_mm.ohl.controllers import REINFORCE
    from automl_mm.registry import CONTROLLERS

    @own_class(CONTROLLERS, 'HxClippedReinforce')
    class _Clipped(REINFORCE):
        def __init__(self, distribution, advantage_clip=1.0, **kwargs):
            super().__init__(distribution, **kwargs)
            self.advantage_clip = advantage_clip

    work = str(tmp_path / 'ohl')
    first = tiny_ohl_cfg(work, trunk_epochs=1, controller=dict(type='HxClippedReinforce', advantage_clip=1.0))
    # every checkpoint kept: a run in the same second as the test before shares its message hub (mmengine names it
    # by the time), whose kept-checkpoint ids made CheckpointHook delete this run's epoch_2.pth
    first.default_hooks.checkpoint.max_keep_ckpts = -1
    train_copy_runner(first)
    resumed = tiny_ohl_cfg(work, trunk_epochs=1, controller=dict(type='HxClippedReinforce', advantage_clip=0.5))
    resumed.default_hooks.checkpoint.max_keep_ckpts = -1
    resumed.resume, resumed.load_from = True, osp.join(work, 'epoch_2.pth')
    train_copy_runner(resumed)
    assert len(warned) == 1
    assert warned[0].endswith("This run's value is used from the resume on: custom_hooks.0.controller."
                              'advantage_clip: 1.0 -> 0.5.')
