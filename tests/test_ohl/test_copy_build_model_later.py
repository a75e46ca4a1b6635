"""``CopyRunner.build_model`` called after the runner's start (a hook building a model on the main rank alone:
an export, a visualisation) holds no collective over the world: the start's failure agreement after the model
(``_agree_at('model')``) runs only inside ``__init__``. 61698a6 made every later call an all-reduce over the world,
which a call on one rank waited in until the process group's timeout (before it, the call held none: the copy
layout is kept). Real gloo group, forked."""
from __future__ import annotations

import json
import os.path as osp

from _forked_ranks import fork_ranks, join_gloo, recording
from mmengine.model import BaseModel

TIMEOUT_S = 10
PROMPT_S = 5


class _Net(BaseModel):
    def __init__(self) -> None:
        import torch

        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return []


def _rank(rank: int, tmp: str) -> None:
    import datetime

    import torch.distributed as torch_dist

    from automl_mm.ohl import copies

    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=TIMEOUT_S)
    copies.init_copy_layout(2, 1, TIMEOUT_S)
    runner = copies.CopyRunner.__new__(copies.CopyRunner)  # a started runner: no agreement pending
    runner._copy_counts = (2, 1)
    store = torch_dist.distributed_c10d._get_default_store()
    out: dict = {}
    if rank == 0:  # the main rank alone builds a model after the start
        try:
            with recording(out):
                runner.build_model(dict(type=_Net))
        finally:
            store.set('built', '1')
    else:
        store.wait(['built'], datetime.timedelta(seconds=60))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)
    copies.reset_copy_layout()
    torch_dist.destroy_process_group()


def test_a_model_built_on_one_rank_after_the_start_waits_for_no_other(tmp_path):
    fork_ranks(_rank, (str(tmp_path),), timeout=120)
    out = json.loads((tmp_path / 'rank0.json').read_text())
    assert 'error' not in out, out
    assert out['seconds'] < PROMPT_S, out  # not after the 10 s timeout
