"""A resumed search whose phase lengths do not fit the checkpoint's position is refused.

Killed in the middle of PC-NAS stage 2's scoring (iteration 8 = warm-up 4 + 2 stages x 2), a run resumed with
``stage_iters=3`` trained the supernet two more iterations in the middle of the step and ranked the candidates
scored before against those scored after; resumed from the end of stage 1's training (iteration 6) with
``stage_iters=1`` it scored stage 1 at once and trained stage 2 for one iteration. Real mmengine Runners on the
digits PC-NAS config (tiny sizes).
"""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas._resume import (
    CR_SEARCH,
    checkpointed_every_iteration,
    last_checkpoint,
    resuming,
    trained_iterations,
)
from test_nas.test_pc_nas_loop import TINY, _cfg, kill_after_scores


def _kill_after_candidates(monkeypatch, candidates: int, cfg, checkpoint: str) -> None:
    """Run the tiny PC-NAS search ``cfg``, killed once ``candidates`` more candidates are scored (each on
    ``TINY['num_samples']`` completions); its ``last_checkpoint`` then names ``checkpoint``."""
    kill_after_scores(monkeypatch, candidates * TINY['num_samples'], lambda: Runner.from_cfg(cfg).train())
    assert checkpoint in last_checkpoint(cfg.work_dir)


def _cr_checkpoint_after_the_stage_search(tmp_path) -> str:
    """Run the tiny CR-NAS search (stage_iters=2, spatial_iters=2) to its end, checkpointed after every iteration;
    return its iter_3.pth (the operation supernet's training, after the stage search at iteration 2)."""
    work = str(tmp_path / 'run')
    Runner.from_cfg(checkpointed_every_iteration(digits_cr_cfg(work, **CR_SEARCH), keep=5)).train()
    return osp.join(work, 'iter_3.pth')


def test_other_stage_lengths_after_a_kill_in_a_scoring_step_are_refused(tmp_path, monkeypatch):
    work = str(tmp_path / 'killed')
    # killed after stage 1's 3 candidates and 2 of stage 2 were scored
    _kill_after_candidates(monkeypatch, 3 + 2, _cfg(work), 'search_stage2_partial_iter_8')
    trained = trained_iterations(monkeypatch)
    cfg = resuming(_cfg(work, stage_iters=3))
    with pytest.raises(ValueError, match=r'stopped at iteration 8 with the search step after the stage 2 training '
                                         r'begun, but this run\'s train_cfg\.warmup_iters=4, train_cfg\.stage_iters=3 '
                                         r'end that training at iteration 10'):
        Runner.from_cfg(cfg).train()
    assert trained == []
    cfg = resuming(_cfg(work))  # the checkpoint's settings resume
    Runner.from_cfg(cfg).train()
    assert trained == list(range(8, 12))


def test_a_stage_the_checkpoint_trained_past_is_refused(tmp_path, monkeypatch):
    work = str(tmp_path / 'run')
    cfg = _cfg(work)
    cfg.default_hooks.checkpoint.update(interval=6, max_keep_ckpts=5)
    Runner.from_cfg(cfg).train()
    trained = trained_iterations(monkeypatch)
    # stage 1 trained, not scored
    cfg = resuming(_cfg(str(tmp_path / 'short'), stage_iters=1), osp.join(work, 'iter_6.pth'))
    with pytest.raises(ValueError, match=r'checkpoint trained to iteration 6, past iteration 5, where this run\'s '
                                         r'train_cfg\.warmup_iters=4, train_cfg\.stage_iters=1 end the stage 1 '
                                         r'training'):
        Runner.from_cfg(cfg).train()
    assert trained == []


def test_a_cr_nas_stage_supernet_lengthened_after_its_search_is_refused(tmp_path, monkeypatch):
    """Resumed from iteration 3 (operation supernet training, after the stage search at 2) with stage_iters=4, the
    stage supernet trained again, sampling allocations, after the allocation had been chosen."""
    checkpoint = _cr_checkpoint_after_the_stage_search(tmp_path)
    trained = trained_iterations(monkeypatch)
    cfg = resuming(digits_cr_cfg(str(tmp_path / 'longer'), **CR_SEARCH, stage_iters=4), checkpoint)
    with pytest.raises(ValueError, match=r'stopped at iteration 3 with the search step after the stage supernet '
                                         r'training begun, but this run\'s train_cfg\.stage_iters=4, '
                                         r'train_cfg\.spatial_iters=2 end that training at iteration 4'):
        Runner.from_cfg(cfg).train()
    assert trained == []
    # the checkpoint's settings resume
    cfg = resuming(digits_cr_cfg(str(tmp_path / 'same'), **CR_SEARCH), checkpoint)
    Runner.from_cfg(cfg).train()
    assert trained == [3]


def test_other_phase_lengths_that_move_a_scored_step_are_refused(tmp_path, monkeypatch):
    """check_resumed_phase looked at the current step only. Killed in stage 1's scoring (iteration 6 = warm-up 4 +
    stage 2), a resume with warmup_iters=3 (stage 1 ends at 5) finished the step at 6; killed after stage 1's step,
    a resume with stage_iters=3 (stage 1 ends at 7) trained stage 2 from 6 to 10, 4 iterations for 3, on a pool
    scored 1 iteration early. Both are refused, naming the step and both iterations."""
    work = str(tmp_path / 'killed')
    # killed after the first of stage 1's 3 candidates was scored (its round checkpointed)
    _kill_after_candidates(monkeypatch, 1, _cfg(work), 'search_stage1_partial_iter_6')
    trained = trained_iterations(monkeypatch)
    cfg = resuming(_cfg(work, warmup_iters=3))
    with pytest.raises(ValueError, match=r'stopped at iteration 6 in the stage 1 step, but this run\'s '
                                         r'train_cfg\.warmup_iters=3, train_cfg\.stage_iters=2 end the training '
                                         r'before that step at iteration 5'):
        Runner.from_cfg(cfg).train()
    # the checkpoint's settings: killed again once stage 1's step is done
    _kill_after_candidates(monkeypatch, 2, resuming(_cfg(work)), 'search_stage1_iter_6')
    assert trained == [6, 7]  # stage 2's training, before the kill in its scoring
    cfg = resuming(_cfg(work, stage_iters=3))
    with pytest.raises(ValueError, match=r'scored its stage 1 step at iteration 6, but this run\'s '
                                         r'train_cfg\.warmup_iters=4, train_cfg\.stage_iters=3 end the training before '
                                         r'that step at iteration 7: .* 1 iteration\(s\) longer than configured'):
        Runner.from_cfg(cfg).train()
    assert trained == [6, 7]


def test_a_cr_nas_stage_supernet_shortened_after_its_search_is_refused(tmp_path, monkeypatch):
    """Resumed from iteration 3 (operation supernet training, after the stage search at 2) with stage_iters=1, the
    operation supernet's phase ended at 3: the spatial search scored it after 1 of its spatial_iters=2 iterations."""
    checkpoint = _cr_checkpoint_after_the_stage_search(tmp_path)
    trained = trained_iterations(monkeypatch)
    cfg = resuming(digits_cr_cfg(str(tmp_path / 'shorter'), **CR_SEARCH, stage_iters=1), checkpoint)
    with pytest.raises(ValueError, match=r'scored its stage search step at iteration 2, but this run\'s '
                                         r'train_cfg\.stage_iters=1, train_cfg\.spatial_iters=2 end the training '
                                         r'before that step at iteration 1: .* 1 iteration\(s\) shorter'):
        Runner.from_cfg(cfg).train()
    assert trained == []
