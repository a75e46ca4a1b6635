"""A ``ReduceOnPlateauLR`` (mmengine steps it on the validation metrics) on a config whose ``val_dataloader`` is the
test split: the lr schedule was tuned on the test images that ``tools/test.py`` then reports, without the warning
``save_best`` and ``EarlyStoppingHook`` get. ``check_config`` warns, naming the scheduler's key and monitor."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

import automl_mm.engine.preflight_evaluators as module
from automl_mm.engine.preflight import check_config

from conftest import REPO_ROOT

BASELINE = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
PLATEAU = dict(type='ReduceOnPlateauLR', monitor='accuracy/top1', rule='greater', patience=2, by_epoch=True)


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: messages.append(msg))
    return messages


@pytest.mark.parametrize('schedule, key', [
    ([PLATEAU], "param_scheduler.0 (ReduceOnPlateauLR, monitor='accuracy/top1')"),
    (dict(PLATEAU, type='mmengine.ReduceOnPlateauMomentum'), 'param_scheduler (ReduceOnPlateauMomentum'),
])
def test_a_plateau_scheduler_on_the_test_split_is_warned_about(logged, schedule, key):
    cfg = Config.fromfile(BASELINE)
    cfg.param_scheduler = schedule
    check_config(cfg)
    assert any(key in m and 'val_dataloader reads the test split' in m for m in logged), logged


def test_no_warning_for_other_schedulers_or_on_a_held_out_split(logged):
    cfg = Config.fromfile(BASELINE)
    check_config(cfg)  # its own (a step schedule)
    cfg.param_scheduler = [PLATEAU]
    cfg.val_dataloader = cfg.reward_dataloader  # a held-out split
    check_config(cfg)
    assert not any('test split' in m for m in logged), logged
