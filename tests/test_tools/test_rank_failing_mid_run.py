"""A user's hook (a search space, a transform) that raises on one rank during an iteration: the other ranks were in
their next collective (DDP's gradient all-reduce) and failed with gloo's bare ``RuntimeError: ... Connection closed
by peer`` (over NCCL they waited until the process group's timeout); torchrun then reported the failed rank's exit
signal (``Signal 6 (SIGABRT)``), and the error that named the cause was a hundred lines up. Now the rank that failed
first records its error in the process group's store, and every rank that fails after it raises a ``RankFailure``
naming that rank and its error, each also written where torchrun's summary reads it (2 gloo ranks of
``tools/train.py --launcher pytorch``; rank 1's hook raises)."""
from __future__ import annotations

import importlib.util
import json
import os
import os.path as osp
import sys

import pytest
from _forked_ranks import fork_ranks, outcome
from torch.distributed.elastic.utils.distributed import get_free_port

from conftest import REPO_ROOT

PLUGIN = '''
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, MODELS
from torch.utils.data import Dataset


@MODELS.register_module(force=True)
class MidRunModel(BaseModel):
    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=self.linear(torch.stack(inputs)).pow(2).mean())


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

CONFIG = '''
custom_imports = dict(imports=['mid_run_plugin'], allow_failed_imports=False)
default_scope = 'mmengine'
model = dict(type='MidRunModel')
train_dataloader = dict(dataset=dict(type='MidRunData'), sampler=dict(type='DefaultSampler', shuffle=False),
                        batch_size=2, num_workers=0)
train_cfg = dict(by_epoch=True, max_epochs=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
custom_hooks = [dict(type='RaiseOnRankOne')]
env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=60))
'''


def _rank(rank: int, tmp: str, port: int) -> None:
    sys.path.insert(0, tmp)
    spec = importlib.util.spec_from_file_location('_tool_train_mid_run', osp.join(REPO_ROOT, 'tools/train.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE='2', LOCAL_WORLD_SIZE='2',  # as torchrun sets them, with the file of its summary
                      TORCHELASTIC_ERROR_FILE=osp.join(tmp, f'error{rank}.json'))
    found = outcome(lambda: tool.main([osp.join(tmp, 'cfg.py'), '--work-dir', osp.join(tmp, 'work'),
                                       '--launcher', 'pytorch']))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    # a process that leaves with its process group still up may abort at exit (gloo's threads): as the rank of a
    # failed run exits, whatever its exit status
    os._exit(0)


@pytest.mark.slow  # two gloo ranks of tools/train.py (about 20 s on 2 shared cores: the tool's imports in each rank)
def test_every_rank_names_the_rank_whose_hook_raised(tmp_path, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    (tmp_path / 'mid_run_plugin.py').write_text(PLUGIN)
    (tmp_path / 'cfg.py').write_text(CONFIG)
    fork_ranks(_rank, (str(tmp_path), get_free_port()), timeout=180)
    found = [json.loads((tmp_path / f'rank{rank}.json').read_text()) for rank in range(2)]
    cause = 'ValueError: RaiseOnRankOne: a value out of range at iteration 2'
    assert found[1] == cause, found[1]
    # rank 0 was in DDP's all-reduce when rank 1 left: its error names rank 1's, not only the backend's
    assert found[0] is not None and found[0].startswith(f'RankFailure: tools/train.py: the run failed on rank 1 '
                                                        f'({cause}); this rank stopped with it ('), found[0]
    # torchrun's summary ("Root Cause") shows the error file of the rank it saw fail first: rank 1's error there (it
    # named the exit status alone), rank 0's names it too
    recorded = [json.loads((tmp_path / f'error{rank}.json').read_text())['message']['message'] for rank in range(2)]
    assert recorded == [found[0], cause], recorded
