"""Keys of config dicts that mmengine reads by name (env_cfg, auto_scale_lr, optim_wrapper.paramwise_cfg, the
CheckpointHook's arguments): a misspelled one was ignored without a word, or stopped the run at its first save."""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp

import pytest

from automl_mm.engine.preflight import ConfigCheckError, check_config

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


def _build_config(tmp_path, options: dict):
    spec = importlib.util.spec_from_file_location('_tool_train_read_keys', osp.join(REPO_ROOT, 'tools/train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    return train.build_config(argparse.Namespace(config=DIGITS, work_dir=str(tmp_path), resume=None, amp=False,
                                                 cfg_options=options, launcher='none', local_rank=0))


@pytest.mark.parametrize('options, match', [
    ({'auto_scale_lr.enabled': True, 'auto_scale_lr.base_batch_size': 16},
     r"auto_scale_lr\.enabled: mmengine's Runner\.scale_lr reads only base_batch_size, enable there.*did you mean "
     r"auto_scale_lr\.enable\?"),  # trained at the unscaled lr
    ({'env_cfg.cudnn_benchmrk': True}, r'env_cfg\.cudnn_benchmrk: .*did you mean env_cfg\.cudnn_benchmark\?'),
    ({'optim_wrapper.paramwise_cfg.norm_decay_mul': 0.0},  # decayed the norm layers' weights
     r"optim_wrapper\.paramwise_cfg\.norm_decay_mul: mmengine's DefaultOptimWrapperConstructor .*"
     r'norm_decay_mult\?'),
    ({'default_hooks.checkpoint.intervl': 2},  # a TypeError at the first save, after a whole epoch
     r"default_hooks\.checkpoint\.intervl: mmengine's CheckpointHook reads only .*interval\?"),
    ({'auto_scale_lr.enable': True}, r'auto_scale_lr\.enable=True needs auto_scale_lr\.base_batch_size.*'
                                     r"auto_scale_lr is \{'enable': True\}"),  # mmengine: an assert in every worker
])
def test_an_option_mmengine_would_ignore_is_refused(tmp_path, options, match):
    with pytest.raises(ConfigCheckError, match=match):
        _build_config(tmp_path, options)


def test_the_keys_mmengine_reads_pass(tmp_path):
    cfg = _build_config(tmp_path, {'auto_scale_lr.enable': True, 'auto_scale_lr.base_batch_size': 16,
                                   'env_cfg.resource_limit': 4096, 'optim_wrapper.paramwise_cfg.norm_decay_mult': 0.0,
                                   'default_hooks.checkpoint.save_best': 'auto',
                                   # Runner.register_hook takes a hook dict's priority before building it
                                   'default_hooks.checkpoint.priority': 'LOWEST'})
    assert cfg.auto_scale_lr.enable and cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0.0


def test_testing_checks_env_cfg_only(tmp_path):
    from mmengine.config import Config

    cfg = Config.fromfile(DIGITS)
    cfg.auto_scale_lr = dict(enabled=True)  # not read by a test
    check_config(cfg, test_only=True)
    cfg.env_cfg.cudnn_benchmrk = True
    with pytest.raises(ConfigCheckError, match=r'env_cfg\.cudnn_benchmrk'):
        check_config(cfg, test_only=True)
