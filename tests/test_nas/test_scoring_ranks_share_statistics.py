"""Candidates scored on several ranks are scored with one supernet: rank 0's, the one the checkpoints hold.

mmengine wraps the supernet in ``MMDistributedDataParallel(broadcast_buffers=False)``: the parameters agree across
ranks, but each rank's BatchNorm running statistics are those of its own shard of the training batches. A search
step deals its candidates across the ranks (:func:`~automl_mm.nas.beam.score_step`), so without BN re-estimation a
candidate's score depended on which rank scored it, and the final validation of the chosen path scored each rank's
shard of the validation split with that rank's statistics, while ``search_final_iter_N.pth`` holds rank 0's.
"""
from __future__ import annotations

import os.path as osp
import time
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo
from torch import nn


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from automl_mm.nas import LayerwiseSpace
    from automl_mm.nas.beam import PartialArchitecturePool
    from automl_mm.nas.loop import SearchLoopBase

    join_gloo(rank, 2, init_file)
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[1].running_mean.fill_(10.0 * rank)  # each rank trained its statistics on its own shard
    validated = []
    loop = SimpleNamespace(runner=SimpleNamespace(model=model, val_loop=SimpleNamespace(
        run=lambda: validated.append(float(model[1].running_mean[0])))), metric_key='accuracy/top1',
        checkpoint_interval_s=1e9, _last_save=time.time(), bn_recalibration_batches=0,
        save_search_checkpoint=lambda tag: None, architecture_calls=lambda: [], _iter=0)
    pool = PartialArchitecturePool(LayerwiseSpace([[0, 1]]), pool_size=1)
    # candidate c scores c + the supernet's running mean; rank 0 scores (0,), rank 1 scores (1,)
    kept = SearchLoopBase.run_step(loop, 'stage1', pool, lambda c: c[0] + float(model[1].running_mean[0]),
                                   lambda c: str(c))
    scores = [[list(c), s] for c, s in pool.history[-1]['candidates']]
    with torch.no_grad():
        model[1].running_mean.fill_(10.0 * rank)  # the supernet trained on after the step
    SearchLoopBase.finish(loop, lambda: None)
    torch.save({'kept': kept, 'scores': scores, 'validated': validated}, osp.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


@pytest.mark.slow  # two gloo processes (forked: spawned, each imported mmengine, ~20 s on 2 shared cores)
def test_every_rank_scores_and_validates_with_rank_0s_statistics(tmp_path):
    """Hand-computed: rank 0's running mean is 0, rank 1's 10. Candidate (1,), scored on rank 1, scored 11 and was
    kept over (0,) (0); with rank 0's statistics on both ranks it scores 1, and the final validation reads 0 on
    both ranks (it read 10 on rank 1)."""
    # the 2 ranks are forked from this process, with what they use imported here once (spawned, each imported
    # torch, mmengine and automl_mm itself: seconds of CPU per rank)
    import automl_mm.nas  # noqa: F401
    import automl_mm.nas.beam  # noqa: F401
    import automl_mm.nas.loop  # noqa: F401
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)))
    for rank in range(2):
        out = torch.load(str(tmp_path / f'rank{rank}.pth'), weights_only=False)
        assert out['scores'] == [[[1], 1.0], [[0], 0.0]], rank
        assert out['kept'] == [(1,)]
        assert out['validated'] == [0.0], rank
