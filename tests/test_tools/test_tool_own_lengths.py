"""A config's own setting that the run's length leaves behind, held by ``tools/train.py``'s start-up check
(:func:`~automl_mm.engine.preflight_ohl_build.check_own_lengths`, with the relations of
:mod:`automl_mm.ohl.constructor_relations` that OHL's written values are held to): an ``EMAHook`` whose
``begin_epoch`` is past ``max_epochs`` is refused before the runner is built (mmengine asserted it only in
``before_train``, after the datasets and the model, with a raw ``AssertionError``); a scheduler's ``begin``, a loop's
``val_begin`` past the run, which the run silently never reaches, are warned of in one warning naming each key."""
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
    import automl_mm.engine.preflight_ohl_build as module

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
], ids=['begin_epoch', 'begin_iter'])
def test_an_ema_starting_after_the_run_is_refused_before_the_runner_is_built(tmp_path, monkeypatch, capsys, body,
                                                                            options, expected):
    started, _, code = _train(tmp_path, monkeypatch, body, *options)
    err = capsys.readouterr().err
    assert code == 1, err[-3000:]
    assert started == [], 'the run started'
    assert 'Traceback' not in err and f'tools/train.py: error: {expected} (EMAHook, mmengine.EMAHook): the EMA ' \
        'would never start' in err and "mmengine's EMAHook asserts it in before_train" in err, err[-3000:]


def test_settings_the_run_never_reaches_are_warned_of_naming_each_key(tmp_path, monkeypatch, capsys):
    # the config's own values (no --cfg-options): a scheduler starting after the 2 epochs (converted to iterations,
    # as YOLOX's last-epochs one), a val_begin after them
    body = ("param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, convert_to_iter_based=True),\n"
            "                   dict(type='CosineAnnealingLR', begin=5, end=7, T_max=2, by_epoch=True,\n"
            "                        convert_to_iter_based=True)]\n"
            'train_cfg = dict(max_epochs=2, val_begin=3)\n')
    started, warned, code = _train(tmp_path, monkeypatch, body)
    assert code is None and len(started) == 1, capsys.readouterr().err[-3000:]
    assert len(warned) == 1, warned
    assert warned[0].startswith('the run never reaches these settings of the config: ')
    assert 'param_scheduler.1.begin=5 and train_cfg.max_epochs=2 break begin < max_epochs (a scheduler by epoch) ' \
        '(CosineAnnealingLR, mmengine._ParamScheduler): the scheduler would never set a value' in warned[0]
    assert 'train_cfg.val_begin=3 and train_cfg.max_epochs=2 break val_begin <= max_epochs (EpochBasedTrainLoop, ' \
        'mmengine.EpochBasedTrainLoop): the run would never validate' in warned[0]
    assert 'param_scheduler.0' not in warned[0]


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

    monkeypatch.setattr(module, 'print_log', lambda *args, **kwargs: None)
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
