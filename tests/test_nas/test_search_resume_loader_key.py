"""A resume in the middle of a scoring step compares the search split and its metrics as resolved, whatever key
names them: ``train_cfg.search_dataloader``, or a top-level ``search_dataloader`` / ``reward_dataloader`` (and
``train_cfg.search_evaluator`` or ``search_evaluator`` / ``reward_evaluator`` / ``val_evaluator``)."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg

from automl_mm.engine.evaluate import HeldOutEvaluator
from automl_mm.nas.loop import SearchLoopBase


def test_a_split_moved_to_another_key_is_compared(tmp_path):
    """A real PC-NAS loop on digits reading the top-level reward_dataloader, resumed from a checkpoint whose run read
    the split from train_cfg.search_dataloader: the same split resumes, one of another batch size is refused."""
    loop = Runner.from_cfg(_cfg(str(tmp_path))).train_loop
    loop.pool.record(loop.pool.candidates()[0], 0.5)  # a step partly scored
    now = loop.scoring_settings()
    assert 'reward_dataloader' in now and 'train_cfg.search_dataloader' not in now
    saved = {key if key != 'reward_dataloader' else 'train_cfg.search_dataloader': copy.deepcopy(value)
             for key, value in now.items()}
    loop.check_resumed_scoring(saved)
    saved['train_cfg.search_dataloader']['batch_size'] = 4
    with pytest.raises(ValueError, match=r"scored with train_cfg.search_dataloader \(as the checkpoint's run named "
                                         r"it\)=.*'batch_size': 4.*this run sets reward_dataloader=.*'batch_size': 16"):
        loop.check_resumed_scoring(saved)


def _stand_in(now: dict):
    """A partly scored loop whose scoring settings are ``now``, with the search loops' held-out keys."""
    held_out = HeldOutEvaluator('search', 'accuracy/top1', 'PCNASLoop', None, None, 'train_cfg.search_dataloader',
                                'train_cfg.search_evaluator', 'train_cfg.metric_key')
    pool = SimpleNamespace(scores={(0, ): 0.5})
    return SimpleNamespace(search_pools=lambda: [pool], runner=SimpleNamespace(cfg={}), held_out=held_out,
                           scoring_settings=lambda: now)


LOADER = {'batch_size': 16, 'dataset': {'type': 'DigitsDataset', 'split': 'reward'}}
METRICS = {'type': 'Accuracy', 'topk': [1]}


@pytest.mark.parametrize('saved_keys, now_keys', [
    (('reward_dataloader', 'train_cfg.search_evaluator'), ('train_cfg.search_dataloader', 'search_evaluator')),
    (('search_dataloader', 'val_evaluator'), ('reward_dataloader', 'reward_evaluator'))])
def test_the_same_split_and_metrics_under_other_keys_resume_and_others_are_refused(saved_keys, now_keys):
    saved = {'train_cfg.metric_key': 'accuracy/top1', saved_keys[0]: LOADER, saved_keys[1]: METRICS}
    now = {'train_cfg.metric_key': 'accuracy/top1', now_keys[0]: LOADER, now_keys[1]: METRICS}
    SearchLoopBase.check_resumed_scoring(_stand_in(now), saved)
    other = dict(now, **{now_keys[1]: {'type': 'Accuracy', 'topk': [1, 2]}})
    with pytest.raises(ValueError, match=rf"scored with {saved_keys[1]} \(as the checkpoint's run named it\)=.*"
                                         rf"this run sets {now_keys[1]}="):
        SearchLoopBase.check_resumed_scoring(_stand_in(other), saved)
    other = dict(now, **{now_keys[0]: dict(LOADER, batch_size=4)})
    with pytest.raises(ValueError, match=rf"scored with {saved_keys[0]} \(as the checkpoint's run named it\)="):
        SearchLoopBase.check_resumed_scoring(_stand_in(other), saved)
