"""Under ``metric_rule='greater'`` a search refuses an evaluation with no metrics beside a negative reading (its 0
would rank above them, :class:`~automl_mm.nas.scoring.PathEvaluator`). What it had read lived in the evaluator alone:
a search killed in the middle of a step after an empty evaluation, resumed, read negative values for the step's other
candidates and ranked the empty candidate's 0 first, without a word. The readings are in the search state now. A
real tiny PC-NAS search; the search split's readings are patched (an empty one, then a negative log-likelihood)."""
from __future__ import annotations

import os.path as osp

import pytest
import torch
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import TINY, _cfg, kill_after_scores

from automl_mm.engine.evaluate import HeldOutEvaluator


def test_an_empty_evaluation_before_the_checkpoint_is_remembered_after_a_resume(tmp_path, monkeypatch):
    work = str(tmp_path / 'killed')
    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (0.0, True))
    # stage 1's first candidate read nothing in both its completions, its round checkpointed, then the kill
    kill_after_scores(monkeypatch, TINY['num_samples'], lambda: Runner.from_cfg(_cfg(work)).train())
    with open(osp.join(work, 'last_checkpoint')) as f:
        checkpoint = torch.load(f.read(), weights_only=False)
    assert checkpoint['nas_search']['readings'] == {'LayerwiseSpace': {'lowest': float('inf'), 'empty': True,
                                                                       'nan': [], 'read': []}}

    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (-0.5, False))
    cfg = _cfg(work)
    cfg.resume = True
    with pytest.raises(RuntimeError, match=r'accuracy/top1 reads negative values \(lowest -0\.5\) and an evaluation '
                                           r'gave no metrics'):
        Runner.from_cfg(cfg).train()



def test_a_partial_checkpoint_is_saved_after_the_ranks_shared_their_readings(monkeypatch):
    """Rank 0 writes the checkpoint: in a search of several ranks the readings it saves in the middle of a step must
    hold the other ranks' (an empty evaluation of rank 1's), so the ranks share them before every partial checkpoint,
    not only at the step's end (a resume from there forgot the others'). The world size is patched where the loop
    reads it (the sharing itself, over gloo ranks: tests/test_nas/test_score_step_ranks.py)."""
    import math
    from types import SimpleNamespace

    from torch import nn

    from automl_mm.nas import LayerwiseSpace, PartialArchitecturePool, search_step
    from automl_mm.nas import loop as loop_module

    events = []
    evaluate = SimpleNamespace(evaluations=0, empty_evaluations=0, share_readings=lambda: events.append('share'))
    monkeypatch.setattr(search_step, 'get_world_size', lambda: 2)
    monkeypatch.setattr(search_step, 'share_rank0_statistics', lambda model: None)
    monkeypatch.setattr(search_step, 'broadcast_object_list', lambda due, src: None)
    loop = SimpleNamespace(runner=SimpleNamespace(model=nn.Identity(), cfg={}), metric_key='log_likelihood/mean',
                           checkpoint_interval_s=0, _last_save=-math.inf, _iter=0,
                           save_search_checkpoint=lambda tag: events.append(tag))

    def score(candidate):
        evaluate.evaluations += 1
        return 0.1 * candidate[0]

    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]]), pool_size=1)
    loop_module.SearchLoopBase.run_step(loop, 'stage1', pool, score, str, evaluate)
    assert events == ['share', 'stage1_partial', 'share', 'stage1_partial', 'share', 'stage1']


def test_readings_of_another_metric_key_are_not_restored(tmp_path, monkeypatch):
    """Between steps a resume may change train_cfg.metric_key (check_resumed_scoring): what the old key read says
    nothing of the new one. Stage 1's first evaluation read no metrics of accuracy/top1; resumed after stage 1 on
    accuracy/top5, stage 2's first negative reading was refused as 'accuracy/top5 reads negative values ... and an
    evaluation gave no metrics', though no evaluation of top5 gave none (before the readings were saved a resume
    started afresh)."""
    work = str(tmp_path / 'killed')
    read = []

    def first_empty(self, model, batches=None, group=None):
        read.append(self.metric_key)
        return (0.0, True) if len(read) == 1 else (0.5, False)

    monkeypatch.setattr(HeldOutEvaluator, 'score', first_empty)
    # stage 1 (3 candidates, 2 completions each) finished, a kill at stage 2's first score: between steps
    kill_after_scores(monkeypatch, 3 * TINY['num_samples'], lambda: Runner.from_cfg(_cfg(work)).train())
    with open(osp.join(work, 'last_checkpoint')) as f:
        checkpoint = torch.load(f.read(), weights_only=False)
    # stage 1's candidates read search batches 0 and 1 (one per completion)
    assert checkpoint['nas_search']['readings'] == {'LayerwiseSpace': {'lowest': 0.5, 'empty': True, 'nan': [],
                                                                       'read': [[0, 1], [1, 1]]}}
    assert checkpoint['nas_search']['scoring']['train_cfg.metric_key'] == 'accuracy/top1'

    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (-0.5, False))
    cfg = _cfg(work, metric_key='accuracy/top5', search_evaluator=dict(type='Accuracy', topk=(1, 5)))
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    # stage 2's first two scores read, then a kill; was: at the first, RuntimeError 'accuracy/top5 reads negative
    # values (lowest -0.5) and an evaluation gave no metrics'
    kill_after_scores(monkeypatch, 2, runner.train)
    assert runner.train_loop.readings == {'LayerwiseSpace': {'lowest': -0.5, 'empty': False, 'nan': [],
                                                             'read': [[2, 1], [3, 1]]}}


def test_a_nan_where_the_checkpoints_run_read_a_value_is_refused_after_a_resume(tmp_path, monkeypatch):
    """The search batches read a value before the kill: a candidate reading NaN on them after the resume is a fault of
    the candidate, not a key without ground truth there (which every candidate reads NaN), as before the kill."""
    work = str(tmp_path / 'killed')
    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (0.5, False))
    kill_after_scores(monkeypatch, TINY['num_samples'], lambda: Runner.from_cfg(_cfg(work)).train())
    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (float('nan'), False))
    cfg = _cfg(work)
    cfg.resume = True
    with pytest.raises(ValueError, match=r'accuracy/top1 is NaN on 1 search batch\(es\) from batch 0, where another '
                                         r'candidate read a value'):
        Runner.from_cfg(cfg).train()


def test_the_batches_read_are_forgotten_by_a_resume_under_other_scoring_settings(tmp_path, monkeypatch):
    """Between steps a resume may change the search split's batch size: batch 0 is other images then, so what the
    checkpoint's run read there (a value) says nothing of a NaN there now; the lowest reading is kept."""
    work = str(tmp_path / 'killed')
    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (0.5, False))
    kill_after_scores(monkeypatch, 3 * TINY['num_samples'], lambda: Runner.from_cfg(_cfg(work)).train())
    with open(osp.join(work, 'last_checkpoint')) as f:
        between_steps = f.read()
    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (0.7, False))
    for batch_size, read in ((16, [[0, 1], [1, 1], [2, 1], [3, 1]]), (8, [[2, 1], [3, 1]])):
        cfg = _cfg(work)
        cfg.reward_dataloader.batch_size = batch_size
        cfg.resume, cfg.load_from = True, between_steps
        runner = Runner.from_cfg(cfg)
        kill_after_scores(monkeypatch, 2, runner.train)  # stage 2's first candidate: batches 2 and 3
        assert runner.train_loop.readings == {'LayerwiseSpace': {'lowest': 0.5, 'empty': False, 'nan': [],
                                                                 'read': read}}


def test_a_value_after_a_mid_step_resume_on_another_world_size_beside_the_checkpoints_nan_is_refused(tmp_path,
                                                                                                   monkeypatch):
    """A resume in the middle of a step on another number of ranks passes where the BN slice holds the whole training
    set on both (135 × 8 items of the digits' 1078, on 1 rank and on 2): the search batches are the same images, and
    the step's finished candidates rank against its remaining ones. Their NaN / value memory was forgotten all the
    same (restored only under the checkpoint's very scoring settings, the world size among them): the first
    candidate's NaN on batches 0 and 1 (scored 0, the best under metric_rule='less') and the next ones' values there
    ranked together, without a word, where one run refuses it."""
    from automl_mm.nas import loop as loop_module
    from automl_mm.nas import scoring_setup, search_step

    def sliced(work: str):
        cfg = _cfg(work)
        cfg.train_dataloader.num_batch_per_epoch = 135
        return cfg

    work = str(tmp_path / 'killed')
    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (float('nan'), False))
    kill_after_scores(monkeypatch, TINY['num_samples'], lambda: Runner.from_cfg(sliced(work)).train())
    with open(osp.join(work, 'last_checkpoint')) as f:
        checkpoint = torch.load(f.read(), weights_only=False)
    assert checkpoint['nas_search']['readings']['LayerwiseSpace']['nan'] == [[0, 1], [1, 1]]

    # the resume check passes it (test_..._bn_pool_ranks); set where SearchLoopBase's methods read it
    for module in (loop_module, scoring_setup, search_step):
        monkeypatch.setattr(module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(HeldOutEvaluator, 'score', lambda self, model, batches=None, group=None: (0.5, False))
    cfg = sliced(work)
    cfg.resume = True
    with pytest.raises(ValueError, match=r'accuracy/top1 reads 0\.5 on 1 search batch\(es\) from batch 0, where '
                                         r'another candidate read NaN'):
        Runner.from_cfg(cfg).train()
