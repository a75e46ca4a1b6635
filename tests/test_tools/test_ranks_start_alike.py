"""Every rank of a torchrun / srun job starts from the same checkpoint. Each process resolves ``--resume`` in its
own view of work_dir; with a work_dir on each node's own disk (2 nodes x 2 ranks, an OHL search resumed at epoch
2, ``--resume``) node 0 resumed and node 1 started from scratch, and the run hung until
``env_cfg.dist_cfg.timeout``, then blamed a crashed or hung rank ("OHL trunk 2: rank 1 could not meet the other
copies"). Now it stops before training, naming what each rank starts from and that work_dir must be shared."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, load_tool
from mmengine.config import Config

from automl_mm.engine.resume import check_ranks_start_alike


def test_train_stops_before_training_when_another_rank_resumes_nothing(tmp_path):
    tool = load_tool('train')
    cfg = Config(dict(work_dir=str(tmp_path), resume=True, load_from=str(tmp_path / 'epoch_2.pth')))
    runner = SimpleNamespace(model=torch.nn.Linear(2, 2), train=lambda: pytest.fail('trained'))
    seen = [(True, cfg.load_from), (True, cfg.load_from), (False, None), (False, None)]  # node 1: its own disk
    with mock.patch.object(tool, 'build_runner', return_value=runner), \
            mock.patch.object(tool, 'register_all_modules'), \
            mock.patch('mmengine.dist.is_distributed', return_value=True), \
            mock.patch('mmengine.dist.all_gather_object',  # every rank runs this one's config and code
                       side_effect=lambda record: [dict(record, start=start) for start in seen]):
        with pytest.raises(RuntimeError, match=r'ranks do not start alike: ranks \[0, 1\] resume .*epoch_2\.pth; '
                                               r'ranks \[2, 3\] start from scratch\. .*work_dir must be one folder '
                                               'shared by every node'):
            tool.run(cfg)


CASES = [  # (rank 0's start, rank 1's start), what each rank says
    (((True, '/w/epoch_2.pth'), (True, '/w/epoch_2.pth')), 'passed'),
    (((True, '/w/epoch_2.pth'), (False, None)), 'ranks [0] resume /w/epoch_2.pth; ranks [1] start from scratch'),
    (((False, '/w/pretrained.pth'), (False, '/x/pretrained.pth')),
     'ranks [0] load /w/pretrained.pth; ranks [1] load /x/pretrained.pth'),
]


def _worker(rank: int, init_file: str, out: str) -> None:
    join_gloo(rank, 2, init_file)
    results = []
    for starts, _ in CASES:
        try:
            check_ranks_start_alike(*starts[rank], work_dir='/shared')
            results.append('passed')
        except RuntimeError as err:
            results.append(str(err))
    with open(f'{out}.{rank}', 'w') as f:
        f.write('\n'.join(results))
    torch_dist.destroy_process_group()


def test_two_gloo_ranks_compare_their_starts(tmp_path):
    out = str(tmp_path / 'result')
    fork_ranks(_worker, (str(tmp_path / 'init'), out))
    for rank in range(2):
        with open(f'{out}.{rank}') as f:
            results = f.read().split('\n')
        for (_, expected), result in zip(CASES, results, strict=True):
            assert expected in result  # every rank raises the same error
