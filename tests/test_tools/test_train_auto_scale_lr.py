"""tools/train.py --auto-scale-lr (mmdet's): turns on mmengine's linear lr scaling where the config says the batch
its lr is for (auto_scale_lr.base_batch_size); refused, naming that key, where it does not."""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp
import sys

import pytest

from automl_mm.engine.preflight import ConfigCheckError
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _train_tool():
    spec = importlib.util.spec_from_file_location('_tool_train_auto_scale_lr', osp.join(REPO_ROOT, 'tools/train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(config: str, work_dir: str, options=None, auto_scale_lr=True) -> argparse.Namespace:
    return argparse.Namespace(config=config, work_dir=work_dir, resume=None, amp=False, auto_scale_lr=auto_scale_lr,
                              cfg_options=options, launcher='none', local_rank=0)


def test_the_flag_is_parsed(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['train.py', DIGITS, '--auto-scale-lr'])
    assert _train_tool().parse_args().auto_scale_lr is True


def test_it_enables_the_configs_scaling(tmp_path):
    base = {'auto_scale_lr.base_batch_size': 16}
    cfg = _train_tool().build_config(_args(DIGITS, str(tmp_path), base))
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)
    cfg = _train_tool().build_config(_args(DIGITS, str(tmp_path), base, auto_scale_lr=False))
    assert not cfg.auto_scale_lr.get('enable')


@pytest.mark.parametrize('options, found', [
    (None, 'the config has no auto_scale_lr'),
    ({'auto_scale_lr.enable': True}, "auto_scale_lr is {'enable': True}"),
    ({'auto_scale_lr.base_batch_size': 0}, "auto_scale_lr is {'base_batch_size': 0}"),
])
def test_without_a_base_batch_size_it_is_refused_naming_the_key(tmp_path, options, found):
    """mmdet: a RuntimeError (and without it mmengine's assert, in every worker) that named no value."""
    with pytest.raises(ConfigCheckError, match=rf'--auto-scale-lr needs auto_scale_lr\.base_batch_size.*'
                                               rf'{found}'):
        _train_tool().build_config(_args(DIGITS, str(tmp_path), options))


def test_an_option_that_turns_it_off_again_is_refused(tmp_path):
    with pytest.raises(ConfigCheckError, match=r'auto_scale_lr\.enable=False would be replaced by --auto-scale-lr'):
        _train_tool().build_config(_args(DIGITS, str(tmp_path), {'auto_scale_lr.enable': False,
                                                                 'auto_scale_lr.base_batch_size': 16}))


def test_the_runner_scales_the_lr_by_the_real_batch(tmp_path):
    """Digits trains batches of 32 at lr 0.1 (its config); the lr given for batch 16 is doubled."""
    from mmengine.runner import Runner

    train = _train_tool()
    cfg = train.build_config(_args(DIGITS, str(tmp_path), {'auto_scale_lr.base_batch_size': 16}))
    runner = Runner.from_cfg(cfg)
    wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    configured = wrapper.param_groups[0]['lr']
    runner.scale_lr(wrapper, runner.auto_scale_lr)
    ratio = cfg.train_dataloader.batch_size / 16
    assert wrapper.param_groups[0]['lr'] == pytest.approx(configured * ratio) and ratio != 1


LR_WD = osp.join(REPO_ROOT, 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py')


def test_a_hook_writing_the_groups_lr_is_refused_with_the_scaling(tmp_path):
    """ohl-lr-wd's space writes optim_wrapper.optimizer.param_groups.*.lr at every trunk start: mmengine's scaling
    of the groups' lr (once, when the optimiser is built) was replaced by the choice as given, so --auto-scale-lr
    trained the searched learning rates unscaled, silently. Refused, naming the base form, which carries the factor
    (tests/test_ohl/test_optimizer_base_lr_run.py); that target passes."""
    base = {'auto_scale_lr.base_batch_size': 128}
    with pytest.raises(ConfigCheckError, match=r'--auto-scale-lr\) scales .* but custom_hooks\.0\.spaces\.0 writes '
                                               r'optim_wrapper\.optimizer\.param_groups\.\*\.lr with its sample at '
                                               r'every trunk start as given.*Target the base form '
                                               r'optim_wrapper\.optimizer\.lr instead'):
        _train_tool().build_config(_args(LR_WD, str(tmp_path), base))
    cfg = _train_tool().build_config(_args(LR_WD, str(tmp_path), {
        **base, 'custom_hooks.0.spaces.0.target': 'optim_wrapper.optimizer.lr'}))
    assert cfg.auto_scale_lr.enable and cfg.custom_hooks[0].spaces[0].target == 'optim_wrapper.optimizer.lr'
    assert _train_tool().build_config(_args(LR_WD, str(tmp_path), base, auto_scale_lr=False))  # no scaling: as before


def test_the_help_says_the_batch_counts_gradient_accumulation():
    text = ' '.join(_train_tool().build_parser().format_help().split())
    assert 'world size x train_dataloader.batch_size x optim_wrapper.accumulative_counts' in text
