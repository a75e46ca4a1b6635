"""tools/train.py --cfg-options train_cfg.max_iters=N on a PC-NAS or CR-NAS search config.

A search loop derives its length from its phases (PC-NAS: warmup_iters + layers x stage_iters; CR-NAS: stage_iters
+ spatial_iters) and passes it to mmengine's loop itself, so ``train_cfg.max_iters`` (the way to shorten an
mmengine / mmdet iteration-based run) passed the config check as an argument the loop forwards to its base and then
stopped the run at the loop's build with ``TypeError: SearchLoopBase.__init__() got multiple values for keyword
argument 'max_iters'``, naming neither the config key nor the keys that set the length. Refused now, naming them
and the derived length; a max_iters equal to it is harmless and passes."""
from __future__ import annotations

import argparse
import importlib.util
import os.path as osp

import pytest

from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

PC_NAS = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


def _train_tool():
    spec = importlib.util.spec_from_file_location('_tool_train_search_length', osp.join(REPO_ROOT, 'tools/train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pc_nas_loop(tmp_path, options):
    """The PC-NAS digits search's train loop as tools/train.py builds it under ``--cfg-options options``."""
    from mmengine.runner import Runner

    train = _train_tool()
    args = argparse.Namespace(config=PC_NAS, work_dir=str(tmp_path), resume=None, amp=False, auto_scale_lr=False,
                              cfg_options=options, launcher='none', local_rank=0)
    cfg = train.build_config(args)
    return Runner.from_cfg(cfg).build_train_loop(cfg.train_cfg)


def test_pc_nas_max_iters_is_refused_naming_the_keys_that_set_the_length(tmp_path):
    """The digits search: 4 mixed layers, warmup_iters=600, stage_iters=300: 1800 iterations."""
    with pytest.raises(ValueError, match=r'train_cfg\.max_iters=100: PCNASLoop runs the iterations its phases add '
                                         r'up to, warmup_iters=600 \+ 4 layers x stage_iters=300 = 1800; set '
                                         r'train_cfg\.warmup_iters / train_cfg\.stage_iters to change it'):
        _pc_nas_loop(tmp_path, {'train_cfg.max_iters': 100})


def test_pc_nas_max_iters_equal_to_the_derived_length_passes(tmp_path):
    loop = _pc_nas_loop(tmp_path, {'train_cfg.max_iters': 60, 'train_cfg.warmup_iters': 20,
                                   'train_cfg.stage_iters': 10})
    assert loop.max_iters == 60


def test_cr_nas_max_iters_is_refused_naming_the_keys_that_set_the_length():
    """Refused before the loop reads its runner (the CR-NAS configs need generated COCO data to build one)."""
    from automl_mm.nas.cr_nas import CRNASLoop

    with pytest.raises(ValueError, match=r'train_cfg\.max_iters=100: CRNASLoop runs the iterations its phases add '
                                         r'up to, stage_iters=250 \+ spatial_iters=250 = 500; set '
                                         r'train_cfg\.stage_iters / train_cfg\.spatial_iters to change it'):
        CRNASLoop(None, None, stage_iters=250, spatial_iters=250, stage_space={}, max_iters=100)
