"""A resume in the middle of a scoring step compares the search split and its metrics as resolved, whatever key
names them: ``train_cfg.search_dataloader``, or a top-level ``search_dataloader`` / ``reward_dataloader`` (and
``train_cfg.search_evaluator`` or ``search_evaluator`` / ``reward_evaluator`` / ``val_evaluator``)."""
from __future__ import annotations

import copy

import pytest
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg


def _partly_scored(work: str, move: str | None = None, change=None):
    cfg = _cfg(work)
    if move == 'loader':  # the split moved from the top-level reward_dataloader to train_cfg.search_dataloader
        loader = copy.deepcopy(cfg.reward_dataloader)
        if change:
            change(loader)
        cfg.train_cfg.search_dataloader = loader
        cfg.reward_dataloader = None
    elif move == 'metrics':  # from train_cfg.search_evaluator to a top-level search_evaluator
        metrics = copy.deepcopy(cfg.train_cfg.search_evaluator)
        if change:
            change(metrics)
        cfg.search_evaluator = metrics
        cfg.train_cfg.search_evaluator = None
    loop = Runner.from_cfg(cfg).train_loop
    loop.pool.record(loop.pool.candidates()[0], 0.5)  # a step partly scored
    return loop


def test_a_split_moved_to_another_key_is_compared(tmp_path):
    saved = _partly_scored(str(tmp_path / 'a')).scoring_settings()
    assert 'reward_dataloader' in saved and 'train_cfg.search_evaluator' in saved
    # the same split under train_cfg.search_dataloader resumes
    _partly_scored(str(tmp_path / 'b'), 'loader').check_resumed_scoring(saved)
    _partly_scored(str(tmp_path / 'c'), 'metrics').check_resumed_scoring(saved)

    def other_batches(loader):
        loader['batch_size'] = 4

    moved = _partly_scored(str(tmp_path / 'd'), 'loader', other_batches)
    with pytest.raises(ValueError, match=r"scored with reward_dataloader \(as the checkpoint's run named it\)=.*"
                                         r"'batch_size': 16.*this run sets train_cfg.search_dataloader=.*"
                                         r"'batch_size': 4"):
        moved.check_resumed_scoring(saved)
    # and the reverse: a checkpoint that read train_cfg.search_dataloader, resumed with reward_dataloader
    with pytest.raises(ValueError, match=r"scored with train_cfg.search_dataloader \(as the checkpoint's run named "
                                         r"it\)=.*'batch_size': 4.*this run sets reward_dataloader="):
        _partly_scored(str(tmp_path / 'e')).check_resumed_scoring(moved.scoring_settings())

    def other_metric(metrics):
        metrics['topk'] = (1, 2)

    with pytest.raises(ValueError, match=r"scored with train_cfg.search_evaluator \(as the checkpoint's run named "
                                         r"it\)=.*this run sets search_evaluator="):
        _partly_scored(str(tmp_path / 'f'), 'metrics', other_metric).check_resumed_scoring(saved)
