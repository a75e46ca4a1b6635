"""With ``train_dataloader.num_batch_per_epoch`` a search re-estimates BN on batches drawn from the part of the
training set training reads, ``num_batch_per_epoch × batch_size × world size`` items (mmengine's
``Runner.build_dataloader`` slices it so): on another number of ranks the batches hold other images. A search killed in
the middle of a scoring step and resumed on another number of ranks re-estimated the step's remaining candidates on
other images than its finished ones, and ranked them together, without a word: refused now, naming both world sizes.
A real tiny PC-NAS search; the resumed run's world size is patched where the loop reads it (the refusal comes as the
checkpoint is loaded, before any collective)."""
from __future__ import annotations

import os.path as osp

import pytest
import torch
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import TINY, _cfg, kill_after_scores


def _as_on_two_ranks(monkeypatch) -> None:
    """The world size 2 where ``SearchLoopBase``'s methods read it: loop.py's (the constructor's checks),
    scoring_setup.py's (the BN pool, the scoring settings the resume check compares), search_step.py's (``run_step``)
    and search_outputs.py's (``finish``: a resumed search run to its end ended as on 1 rank with loop.py's alone)."""
    from automl_mm.nas import loop as loop_module
    from automl_mm.nas import scoring_setup, search_step
    from automl_mm.nas import search_outputs as outputs_module

    for module in (loop_module, scoring_setup, search_step, outputs_module):
        monkeypatch.setattr(module, 'get_world_size', lambda: 2)


def _sliced(work: str):
    cfg = _cfg(work)
    cfg.train_dataloader.num_batch_per_epoch = 2  # 16 of the digits' training images per rank
    return cfg


def test_a_mid_step_resume_on_another_world_size_is_refused(tmp_path, monkeypatch):
    work = str(tmp_path / 'killed')
    kill_after_scores(monkeypatch, (3 + 1) * TINY['num_samples'], lambda: Runner.from_cfg(_sliced(work)).train())
    with open(osp.join(work, 'last_checkpoint')) as f:
        checkpoint = f.read()
    assert 'search_stage2_partial' in checkpoint
    assert torch.load(checkpoint, weights_only=False)['nas_search']['scoring']['world size'] == 1

    _as_on_two_ranks(monkeypatch)  # 32 images to draw from
    cfg = _sliced(work)
    cfg.resume = True
    with pytest.raises(ValueError, match=r'middle of a scoring step scored with world size=1, this run sets world '
                                         r'size=2 \(train_dataloader\.num_batch_per_epoch=2 keeps 2 × batch_size × '
                                         r'world size items .*BN re-estimation'):
        Runner.from_cfg(cfg).train()


def _killed_mid_step(tmp_path, monkeypatch, per_epoch: int) -> str:
    work = str(tmp_path / 'killed')

    def sliced():
        cfg = _cfg(work)
        cfg.train_dataloader.num_batch_per_epoch = per_epoch
        return cfg

    kill_after_scores(monkeypatch, (3 + 1) * TINY['num_samples'], lambda: Runner.from_cfg(sliced()).train())
    return work


def test_a_mid_step_resume_on_another_world_size_reading_the_whole_set_on_both_resumes(tmp_path, monkeypatch):
    """135 × 8 = 1080 items on 1 rank, 2160 on 2: both keep the digits' 1078 training images whole, so BN
    re-estimation draws its batches from the same images; the resume was refused all the same."""
    work = _killed_mid_step(tmp_path, monkeypatch, 135)
    _as_on_two_ranks(monkeypatch)
    cfg = _cfg(work)
    cfg.train_dataloader.num_batch_per_epoch = 135
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    assert osp.exists(osp.join(work, 'search', 'pc_nas_result.json'))


def test_a_mid_step_resume_onto_a_world_size_reading_the_whole_set_from_a_part_of_it_is_refused(tmp_path,
                                                                                                monkeypatch):
    """68 × 8 = 544 of the 1078 items on 1 rank, all of them on 2: other images."""
    work = _killed_mid_step(tmp_path, monkeypatch, 68)
    _as_on_two_ranks(monkeypatch)
    cfg = _cfg(work)
    cfg.train_dataloader.num_batch_per_epoch = 68
    cfg.resume = True
    with pytest.raises(ValueError, match=r'scored with world size=1, this run sets world size=2 .*544 of its 1078 '
                                         r'items, on 2 ranks all 1078; the images BN'):
        Runner.from_cfg(cfg).train()
