"""A user's hook (a search space, a transform) that raises on one rank during an iteration: the other ranks were in
their next collective (DDP's gradient all-reduce) and failed with gloo's bare ``RuntimeError: ... Connection closed
by peer`` (over NCCL they waited until the process group's timeout); torchrun then reported the failed rank's exit
signal (``Signal 6 (SIGABRT)``), and the error that named the cause was a hundred lines up. Now the rank that failed
first records its error in the process group's store, and every rank that fails after it raises a ``RankFailure``
naming that rank and its error, each also written where torchrun's summary reads it (2 gloo ranks of
``tools/train.py --launcher pytorch``; rank 1's hook raises)."""
from __future__ import annotations

import pytest
from _forked_ranks import (
    RANK_MODEL_PLUGIN,
    RANK_RUN_CONFIG,
    fork_ranks,
    rank_outcomes,
    tool_rank,
    torchrun_error_file,
)
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
from torch.distributed.elastic.utils.distributed import get_free_port

PLUGIN = RANK_MODEL_PLUGIN + '''
from mmengine.hooks import Hook
from mmengine.registry import DATASETS, HOOKS
from torch.utils.data import Dataset


@DATASETS.register_module(force=True)
class MidRunData(Dataset):
    metainfo = {}

    def __len__(self):
        return 16

    def __getitem__(self, index):
        return dict(inputs=torch.tensor([index / 16, 1.0]))


@HOOKS.register_module(force=True)
class RaiseOnRankOne(Hook):
    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.rank == 1 and runner.iter == 2:
            raise ValueError('RaiseOnRankOne: a value out of range at iteration 2')
'''

CONFIG = RANK_RUN_CONFIG.format(plugin='mid_run_plugin', dataset="dict(type='MidRunData')", timeout=60) + \
    "custom_hooks = [dict(type='RaiseOnRankOne')]\n"


@pytest.mark.slow  # two gloo ranks of tools/train.py (about 20 s on 2 shared cores: the tool's imports in each rank)
def test_every_rank_names_the_rank_whose_hook_raised(tmp_path, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    (tmp_path / 'mid_run_plugin.py').write_text(PLUGIN)
    (tmp_path / 'cfg.py').write_text(CONFIG)
    # each rank as torchrun starts it, with the file of its summary; a rank leaves at once after its record (a process
    # that leaves with its process group still up may abort at exit: as the rank of a failed run exits)
    argv = [str(tmp_path / 'cfg.py'), '--work-dir', str(tmp_path / 'work'), '--launcher', 'pytorch']
    fork_ranks(tool_rank, ('train', str(tmp_path), get_free_port(), argv, None, True, True), timeout=180)
    found = rank_outcomes(tmp_path)
    cause = 'ValueError: RaiseOnRankOne: a value out of range at iteration 2'
    assert found[1] == cause, found[1]
    # rank 0 was in DDP's all-reduce when rank 1 left: its error names rank 1's, not only the backend's
    assert found[0] is not None and found[0].startswith(f'RankFailure: tools/train.py: the run failed on rank 1 '
                                                        f'({cause}); this rank stopped with it ('), found[0]
    # torchrun's summary ("Root Cause") shows the error file of the rank whose own code failed: rank 1's error there
    # (it named the exit status alone), rank 0's names it too, and is a second later (its agent names the earliest,
    # or on a tie the lower local rank where it saw both exit in one poll)
    failures = {rank: ProcessFailure(local_rank=rank, pid=0, exitcode=1, error_file=torchrun_error_file(tmp_path, rank))
                for rank in range(2)}
    assert [failures[rank].message['message'] for rank in range(2)] == [found[0], cause]
    assert ChildFailedError('tools/train.py', failures).get_first_failure()[0] == 1, failures
