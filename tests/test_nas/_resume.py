"""What the NAS resume tests share: the tiny CR-NAS search they resume, a config checkpointing after every iteration,
the config that resumes a checkpoint, and the supernet iterations a resumed run trains (each was written out in every
resume test)."""
from __future__ import annotations

import os.path as osp

from mmengine.config import Config

#: the tiny CR-NAS search of the resume tests, on :func:`test_nas._cr_digits.digits_cr_cfg`: dilations 1 and 2,
#: pools of 2 allocations and 2 dilation paths, one completion of one arch-val batch per spatial candidate
CR_SEARCH = dict(dilation_choices=(1, 2), stage_pool_size=2, pool_size=2, num_samples=1, batches_per_sample=1)


def checkpointed_every_iteration(cfg: Config, keep: int) -> Config:
    """``cfg`` with its ``CheckpointHook`` saving after every iteration (``iter_1.pth``, ``iter_2.pth``, ...), the last
    ``keep`` kept. Returns ``cfg``."""
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=keep)
    return cfg


def resuming(cfg: Config, checkpoint: str | None = None) -> Config:
    """``cfg`` resuming ``checkpoint`` (``load_from`` and ``resume=True``, as ``tools/train.py --resume FILE`` sets
    them); ``None``: ``resume=True`` alone, the checkpoint named by ``cfg.work_dir``'s ``last_checkpoint`` (``--resume``
    without a file). Returns ``cfg``."""
    if checkpoint is not None:
        cfg.load_from = checkpoint
    cfg.resume = True
    return cfg


def last_checkpoint(work_dir: str) -> str:
    """The path ``work_dir``'s ``last_checkpoint`` file names (the checkpoint a resume without a file loads)."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read()


def trained_iterations(monkeypatch) -> list[int]:
    """The iterations (``loop._iter`` before each) a search loop trains the supernet at from now on, in order:
    :meth:`SearchLoopBase.run_iter` wrapped for the rest of the test."""
    from automl_mm.nas.loop import SearchLoopBase

    trained = []
    original = SearchLoopBase.run_iter

    def counting(self, data_batch):
        trained.append(self._iter)
        return original(self, data_batch)

    monkeypatch.setattr(SearchLoopBase, 'run_iter', counting)
    return trained
