"""A config's own setting that the run's length leaves behind, held by ``tools/train.py``'s start-up check
(:func:`~automl_mm.engine.preflight_ohl_build.check_own_lengths`, with the relations of
:mod:`automl_mm.ohl.constructor_relations` that OHL's written values are held to): an ``EMAHook`` whose
``begin_epoch`` is past ``max_epochs`` is refused before the runner is built (mmengine asserted it only in
``before_train``, after the datasets and the model, with a raw ``AssertionError``); a scheduler's ``begin``, a loop's
``val_begin`` past the run, which the run silently never reaches, are warned of in one warning naming each key,
with the spans a ``--cfg-options`` run length leaves behind (one warning per run)."""
from __future__ import annotations

import logging
import os.path as osp
import sys

import pytest
from _tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from automl_mm.engine.tool_errors import TRACEBACK_VARIABLE, exit_on_refusal

from conftest import REPO_ROOT

BASELINE = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _train(tmp_path, monkeypatch, body: str, *options: str):
    """tools/train.py (one process) on ``BASELINE`` with ``body`` added, in this process; its run stubbed out.
    Returns (the runs started, the warnings of the start-up check, the exit code or None)."""
    import automl_mm.engine.preflight_schedule_span as module

    path = tmp_path / 'own.py'
    path.write_text(f'_base_ = {BASELINE!r}\n{body}')
    tool = load_tool('train', '_tool_train_own_lengths')
    started, warned = [], []
    monkeypatch.setattr(tool, 'run', lambda cfg: started.append(cfg))
    monkeypatch.setattr(module, 'print_log', lambda msg, logger=None, level=None: warned.append(msg)
                        if level == logging.WARNING else None)
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    argv = ['tools/train.py', str(path), '--work-dir', str(tmp_path / 'w')]
    monkeypatch.setattr(sys, 'argv', argv + (['--cfg-options', *options] if options else []))
    code = None
    try:
        exit_on_refusal(tool.main, 'tools/train.py')
    except SystemExit as stopped:
        code = stopped.code
    return started, warned, code


@pytest.mark.parametrize('body, options, expected', [
    # the config's own begin_epoch, the length from --cfg-options (a smoke run)
    ("custom_hooks = [dict(type='EMAHook', begin_epoch=5)]\n", ('train_cfg.max_epochs=2',),
     'custom_hooks[0].begin_epoch=5 and train_cfg.max_epochs=2 break begin_epoch <= max_epochs'),
    ("custom_hooks = [dict(type='EMAHook', begin_iter=50)]\n"
     "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20, val_interval=10)\n"
     "param_scheduler = []\n", (),
     'custom_hooks[0].begin_iter=50 and train_cfg.max_iters=20 break begin_iter <= max_iters'),
    # mmengine's ProfilerHook raises ValueError in before_run
    ("custom_hooks = [dict(type='ProfilerHook', by_epoch=False, profile_times=50)]\n"
     "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20, val_interval=10)\n"
     "param_scheduler = []\n", (),
     'custom_hooks[0].profile_times=50 and train_cfg.max_iters=20 break profile_times <= max_iters'),
], ids=['begin_epoch', 'begin_iter', 'profile_times'])
def test_what_mmengine_refuses_at_start_is_refused_before_the_runner_is_built(tmp_path, monkeypatch, capsys, body,
                                                                             options, expected):
    started, _, code = _train(tmp_path, monkeypatch, body, *options)
    err = capsys.readouterr().err
    assert code == 1, err[-3000:]
    assert started == [], 'the run started'
    assert 'Traceback' not in err and f'tools/train.py: error: {expected}' in err, err[-3000:]
    if 'EMA' in body:
        assert "(EMAHook, mmengine.EMAHook): the EMA would never start" in err and \
            "; mmengine's EMAHook asserts it in before_train" in err, err[-3000:]
    else:
        assert "(ProfilerHook, mmengine.ProfilerHook): the profiler would never stop (the run ends first), silently; " \
            "mmengine's ProfilerHook raises ValueError in before_run" in err, err[-3000:]


def test_settings_the_run_never_reaches_are_warned_of_naming_each_key(tmp_path, monkeypatch, capsys):
    # the config's own values (no --cfg-options): a scheduler starting after the 2 epochs (converted to iterations,
    # as YOLOX's last-epochs one; by epoch as mmengine's default), one starting at the last epoch's end, a val_begin
    # after them
    body = ("param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, convert_to_iter_based=True),\n"
            "                   dict(type='CosineAnnealingLR', begin=5, end=7, T_max=2, convert_to_iter_based=True),\n"
            "                   dict(type='ConstantLR', begin=2, end=3, factor=1.0)]\n"
            'train_cfg = dict(max_epochs=2, val_begin=3)\n')
    started, warned, code = _train(tmp_path, monkeypatch, body)
    assert code is None and len(started) == 1, capsys.readouterr().err[-3000:]
    assert len(warned) == 1, warned
    assert warned[0].startswith('the run never reaches these settings of the config: ')
    assert 'param_scheduler.1.begin=5 and train_cfg.max_epochs=2 break begin < max_epochs (a scheduler by epoch) ' \
        '(CosineAnnealingLR, mmengine._ParamScheduler): the scheduler would never set a value' in warned[0]
    assert 'train_cfg.val_begin=3 and train_cfg.max_epochs=2 break val_begin <= max_epochs (EpochBasedTrainLoop, ' \
        'mmengine.EpochBasedTrainLoop): the run would never validate' in warned[0]
    assert 'param_scheduler.2.begin=2 and train_cfg.max_epochs=2 break begin < max_epochs' in warned[0]
    assert 'param_scheduler.0' not in warned[0]


def test_a_smoke_runs_length_gives_one_warning_with_the_spans_it_leaves(tmp_path, monkeypatch, capsys):
    # --cfg-options train_cfg.max_epochs=2 over a config of 12 epochs (as YOLOX's): the cosine cut part-way and the
    # scheduler of the last epochs, which never starts, named in one warning (not its T_max / end again)
    body = ("param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, end=10),\n"
            "                   dict(type='ConstantLR', begin=10, end=12, factor=1.0)]\n"
            'train_cfg = dict(max_epochs=12)\n')
    started, warned, code = _train(tmp_path, monkeypatch, body, 'train_cfg.max_epochs=2')
    assert code is None and len(started) == 1, capsys.readouterr().err[-3000:]
    assert len(warned) == 1, warned
    assert warned[0].startswith("--cfg-options train_cfg.max_epochs=2 changes the run's length but not its "
                                'param_scheduler, which mmengine follows as written: param_scheduler.0.T_max=10 ends '
                                'after the run'), warned
    assert '. The run never reaches these settings of the config: param_scheduler.1.begin=10 and ' \
        'train_cfg.max_epochs=2 break begin < max_epochs' in warned[0]
    assert 'param_scheduler.1.end' not in warned[0] and "param_scheduler.1.begin=10 is not before" not in warned[0]


def test_settings_within_the_run_say_nothing(tmp_path, monkeypatch, capsys):
    body = ("custom_hooks = [dict(type='EMAHook', begin_epoch=2)]\n"
            "param_scheduler = [dict(type='CosineAnnealingLR', begin=1, end=2, T_max=1, by_epoch=True)]\n"
            'train_cfg = dict(max_epochs=2, val_begin=2)\n')
    started, warned, code = _train(tmp_path, monkeypatch, body)
    assert code is None and len(started) == 1 and warned == [], (warned, capsys.readouterr().err[-3000:])


def test_mmdet_hooks_past_the_run_are_warned_of_by_the_same_table(monkeypatch):
    # the other hooks of the kind, held by the check on the built hooks (no tool run: the classes are mmdet's)
    from mmdet.engine.hooks import CheckInvalidLossHook, MeanTeacherHook, PipelineSwitchHook
    from mmengine.config import Config

    import automl_mm.engine.preflight_ohl_build as module

    monkeypatch.setattr('automl_mm.engine.preflight_schedule_span.print_log', lambda *args, **kwargs: None)
    by_epoch = Config(dict(train_cfg=dict(max_epochs=2)))
    found = module.check_own_lengths(by_epoch, [PipelineSwitchHook(switch_epoch=2, switch_pipeline=[])], [],
                                     module._loop(by_epoch, 'mmdet'))
    assert found == ['custom_hooks[0].switch_epoch=2 and train_cfg.max_epochs=2 break switch_epoch < max_epochs '
                     '(PipelineSwitchHook, mmdet.PipelineSwitchHook): the pipeline would never switch (the run ends '
                     'first), silently']
    by_iter = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=20)))
    hooks = [MeanTeacherHook(interval=21), CheckInvalidLossHook(interval=20)]
    found = module.check_own_lengths(by_iter, hooks, [], module._loop(by_iter, 'mmdet'))
    assert [m.split(' break ')[0] for m in found] == ['custom_hooks[0].interval=21 and train_cfg.max_iters=20']


def _scheduler(**kwargs):
    import torch
    from mmengine.optim import ConstantLR

    return ConstantLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), **kwargs)


def test_each_scheduler_is_held_to_the_length_of_its_own_unit():
    from automl_mm.ohl.constructor_relations import own_length_problems

    lengths = {'max_epochs': 40, 'max_iters': 20}  # a loop giving both: begin=30 is within the epochs only
    assert own_length_problems(_scheduler(begin=30, end=35), 'p.', lengths) == []
    found = own_length_problems(_scheduler(begin=30, end=35, by_epoch=False), 'p.', lengths)
    assert [m.split(' break ')[0] for _, m in found] == ['p.begin=30 and train_cfg.max_iters=20']
    assert own_length_problems(_scheduler(begin=30, end=35), 'p.', {'max_epochs': 0}) == []  # not a length: not held


def test_a_dict_of_schedulers_is_named_by_its_optimisers_key(monkeypatch):
    # mmengine's param_scheduler keyed by the optimisers' names (an OptimWrapperDict); a loop check_own_lengths
    # cannot read (found_loop None) still warns of the option's spans
    from mmengine.config import Config

    import automl_mm.engine.preflight_ohl_build as module

    monkeypatch.setattr('automl_mm.engine.preflight_schedule_span.print_log', lambda *args, **kwargs: None)
    cfg = Config(dict(train_cfg=dict(max_epochs=2),
                      param_scheduler=dict(gen=[dict(type='ConstantLR', begin=5, end=7)])))
    found = module.check_own_lengths(cfg, [], {'gen': [_scheduler(begin=5, end=7)]}, module._loop(cfg, 'mmengine'))
    assert [m.split(' break ')[0] for m in found] == ['param_scheduler.gen.0.begin=5 and train_cfg.max_epochs=2']
    cfg = Config(dict(train_cfg=dict(max_epochs=2), param_scheduler=[dict(type='CosineAnnealingLR', T_max=12)]))
    found = module.check_own_lengths(cfg, [], [], None, {'train_cfg.max_epochs': 2})
    assert found == ['param_scheduler.0.T_max=12 ends after the run (the cosine stops part-way) (CosineAnnealingLR, '
                     'in epochs)']


def test_a_setting_a_hook_of_the_run_writes_is_held_on_the_written_value(tmp_path, monkeypatch, capsys):
    # the SetAttributesHook (priority HIGH) writes begin_epoch=1 before the EMAHook's before_train asserts it: the
    # config's 5 is never trained with, so mmengine does not refuse it (the written value is held, as ever); the
    # same for the loop's val_begin (a path the start-up check's stand-in runner does not hold)
    body = ("custom_hooks = [dict(type='EMAHook', begin_epoch=5),\n"
            "                dict(type='SetAttributesHook', values={'hooks.6.begin_epoch': 1,\n"
            "                                                       'train_loop.val_begin': 1})]\n"
            'train_cfg = dict(max_epochs=2, val_begin=3)\n')
    started, warned, code = _train(tmp_path, monkeypatch, body)
    assert code is None and len(started) == 1 and warned == [], (warned, capsys.readouterr().err[-3000:])


@pytest.mark.parametrize('body, expected', [
    # an EMAHook of priority VERY_HIGH asserts its begin_epoch=5 before the SetAttributesHook (HIGH) writes 1
    ("custom_hooks = [dict(type='EMAHook', begin_epoch=5, priority='VERY_HIGH'),\n"
     "                dict(type='SetAttributesHook', values={'hooks.1.begin_epoch': 1})]\n"
     'train_cfg = dict(max_epochs=2)\n', 'custom_hooks[0].begin_epoch=5 and train_cfg.max_epochs=2 break'),
    # a ProfilerHook checks its profile_times in before_run, before any before_train write
    ("custom_hooks = [dict(type='ProfilerHook', by_epoch=False, profile_times=50),\n"
     "                dict(type='SetAttributesHook', values={'hooks.9.profile_times': 10})]\n"
     "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20, val_interval=10)\n"
     'param_scheduler = []\n', 'custom_hooks[0].profile_times=50 and train_cfg.max_iters=20 break'),
], ids=['ema_first', 'before_run'])
def test_a_write_after_the_classs_own_start_check_does_not_excuse_the_configs_value(tmp_path, monkeypatch, capsys,
                                                                                   body, expected):
    started, _, code = _train(tmp_path, monkeypatch, body)
    err = capsys.readouterr().err
    assert code == 1 and started == [], err[-3000:]
    assert f'tools/train.py: error: {expected}' in err, err[-3000:]
