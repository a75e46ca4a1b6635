"""A NAS search resumed from a checkpoint written between two optimiser steps (iteration 3 under
``optim_wrapper.accumulative_counts=2``) lost the pending gradient of iteration 3's path (not saved in the
checkpoint; mmengine only warns "the gradient of some iterations is lost"), and the resumed search's first update
averaged one path where an uninterrupted one averaged two: refused, naming the iteration and the count. The
iteration-based checkpoint interval that writes such checkpoints is refused when the loop is built."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.runner import Runner
from test_nas._resume import resuming, trained_iterations
from test_nas.test_pc_nas_loop import _cfg


def test_a_checkpoint_interval_the_accumulation_does_not_divide_is_refused(tmp_path):
    cfg = _cfg(str(tmp_path / 'bad'))  # checkpoint every 3 iterations
    cfg.optim_wrapper.accumulative_counts = 2
    with pytest.raises(ValueError, match=r'^default_hooks\.checkpoint\.interval=3 is not a multiple of '
                                         r'optim_wrapper\.accumulative_counts=2'):
        _ = Runner.from_cfg(cfg).train_loop


def test_a_resume_between_two_optimiser_steps_is_refused(tmp_path, monkeypatch):
    work = str(tmp_path / 'run')
    cfg = _cfg(work)  # without accumulation, a checkpoint every 3 iterations: iter_3.pth
    cfg.default_hooks.checkpoint.max_keep_ckpts = 5
    Runner.from_cfg(cfg).train()
    checkpoint = osp.join(work, 'iter_3.pth')
    assert osp.isfile(checkpoint)
    trained = trained_iterations(monkeypatch)
    cfg = resuming(_cfg(str(tmp_path / 'resumed')), checkpoint)
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.default_hooks.checkpoint.interval = 2
    with pytest.raises(ValueError, match=rf'^the resumed checkpoint {checkpoint} was saved at iteration 3, which '
                                         r'optim_wrapper\.accumulative_counts=2 does not divide: the gradients of '
                                         r'its last 1 iteration\(s\) were pending'):
        Runner.from_cfg(cfg).train()
    assert trained == []
    cfg.load_from = osp.join(work, 'iter_6.pth')  # at an optimiser step: resumes
    Runner.from_cfg(cfg).train()
    assert trained == list(range(6, 12))
