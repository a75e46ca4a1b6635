"""``default_hooks.checkpoint.save_best`` (or an ``EarlyStoppingHook``) on a config whose ``val_dataloader`` is the
test split (the digits, Fashion-MNIST, CIFAR-10 and ImageNet bases): the kept "best" checkpoint was chosen on the
test images that ``tools/test.py`` then reports, silently. ``check_config`` warns, naming the keys."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

import automl_mm.engine.preflight_evaluators as module
from automl_mm.engine.preflight import check_config

from conftest import REPO_ROOT

BASELINE = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


@pytest.fixture
def logged(monkeypatch):
    messages = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: messages.append(msg))
    return messages


def test_choosing_the_best_checkpoint_on_the_test_split_is_warned_about(logged):
    cfg = Config.fromfile(BASELINE)
    cfg.default_hooks.checkpoint.save_best = 'accuracy/top1'
    check_config(cfg)
    assert any("default_hooks.checkpoint.save_best='accuracy/top1'" in m and 'val_dataloader reads the test split'
               in m for m in logged), logged


def test_early_stopping_on_the_test_split_is_warned_about(logged):
    """Naming the hook's ``monitor``, as a scheduler's is named (it was not until the fifty-seventh session)."""
    cfg = Config.fromfile(BASELINE)
    cfg.custom_hooks = [dict(type='EarlyStoppingHook', monitor='accuracy/top1', patience=3)]
    check_config(cfg)
    assert any("custom_hooks[0] (EarlyStoppingHook, monitor='accuracy/top1')" in m for m in logged), logged


def test_no_warning_without_a_choice_or_on_a_held_out_split(logged):
    cfg = Config.fromfile(BASELINE)
    check_config(cfg)  # the test accuracy is only reported
    cfg.default_hooks.checkpoint.save_best = 'accuracy/top1'
    cfg.val_dataloader = cfg.reward_dataloader  # a held-out split
    check_config(cfg)
    assert not any('test split' in m for m in logged), logged


def test_the_warning_gives_the_option_that_validates_on_the_reward_split(logged):
    """It said 'e.g. the reward split' without saying how; the option it gives now is one the check accepts."""
    cfg = Config.fromfile(BASELINE)
    cfg.default_hooks.checkpoint.save_best = 'accuracy/top1'
    check_config(cfg)
    assert any(m.endswith('(e.g. the reward split: --cfg-options val_dataloader.dataset.split=reward)')
               for m in logged), logged
    logged.clear()
    cfg.val_dataloader.dataset.split = 'reward'  # as the option sets it
    check_config(cfg)
    assert not any('test split' in m for m in logged), logged


FASHION = osp.join(REPO_ROOT, 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py')


@pytest.mark.parametrize('config, dataset', [(BASELINE, 'DigitsDataset'), (FASHION, 'FashionMNISTDataset')],
                         ids=['digits', 'fashion-mnist'])
def test_save_best_auto_on_a_shipped_config_is_warned_about_once_naming_the_split(logged, config, dataset):
    """``save_best='auto'`` (mmengine's first reported key) on the shipped digits / Fashion-MNIST configs, whose
    ``val_dataloader`` is ``test_dataloader``: one warning naming the key, the leaf that reads the test split and
    why, and the option that validates on the reward split."""
    cfg = Config.fromfile(config)
    cfg.default_hooks.checkpoint.save_best = 'auto'
    check_config(cfg)
    warned = [m for m in logged if 'test split' in m]
    assert len(warned) == 1, logged
    assert "default_hooks.checkpoint.save_best='auto'" in warned[0]
    assert (f"val_dataloader reads the test split (val_dataloader.dataset ({dataset}, split='test') reads the test "
            "split: the data test_dataloader reports") in warned[0]
    assert warned[0].endswith('--cfg-options val_dataloader.dataset.split=reward)')


def test_another_data_sets_test_split_is_not_told_as_the_reported_one(logged):
    """A val loader on the Fashion-MNIST test split beside a digits test loader was told as 'the one
    test_dataloader reports' (and the test score optimistic): it is the test split Fashion-MNIST holds out."""
    cfg = Config.fromfile(BASELINE)
    fashion = Config.fromfile(FASHION)
    cfg.default_hooks.checkpoint.save_best = 'auto'
    cfg.val_dataloader = fashion.val_dataloader
    module.warn_selection_on_test(cfg)  # (check_config refuses its other class names first)
    warned = [m for m in logged if 'test split' in m]
    assert len(warned) == 1, logged
    assert "FashionMNISTDataset, split='test') reads the test split of FashionMNISTDataset" in warned[0]
    assert 'test_dataloader reports other data' in warned[0] and 'optimistic' not in warned[0]
