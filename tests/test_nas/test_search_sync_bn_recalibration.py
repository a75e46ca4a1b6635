"""BN re-estimation per scored path is refused with SyncBN layers on several ranks: the ranks score different
candidates at once, so a SyncBN layer averaged the re-estimated statistics across their paths (or hung waiting for a
rank that scores none). The same check as OHL's (``automl_mm.ohl.checks.check_bn_recalibration``). A real runner
and loop; the world size is patched (mmengine reverts SyncBN to BN in one process)."""
from __future__ import annotations

import pytest
import torch
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg


def _build_loop(tmp_path, monkeypatch, world_size: int, **train_cfg):
    from automl_mm.nas import loop as loop_module

    runner = Runner.from_cfg(_cfg(str(tmp_path), **train_cfg))
    runner.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(runner.model)  # as mmengine's sync_bn on 2 GPUs
    monkeypatch.setattr(loop_module, 'get_world_size', lambda: world_size)
    return runner.build_train_loop(runner._train_loop)


def test_sync_bn_with_bn_re_estimation_on_several_ranks_is_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r'^train_cfg\.bn_recalibration_batches > 0 on 2 ranks, but '
                                         r'model\.backbone\.stem\.bn is a SyncBatchNorm'):
        _build_loop(tmp_path / 'two', monkeypatch, 2)


@pytest.mark.parametrize('world_size, batches', [(2, 0), (1, 1)])
def test_without_re_estimation_or_on_one_rank_it_is_accepted(tmp_path, monkeypatch, world_size, batches):
    loop = _build_loop(tmp_path / 'ok', monkeypatch, world_size, bn_recalibration_batches=batches)
    assert loop.bn_recalibration_batches == batches
