"""A model constructor holding a collective of its copy (mmengine's ``load_from_http``: the copy's lead downloads,
then a barrier; CopyRunner builds the model inside ``copy_local_collectives``) whose copy's lead fails before it
(the download): the copy-mate waited in the barrier until the copy group's timeout, and the other copies (and the
lead) in the world's agreement after the build, which timed out first: ranks 0 and 1 stopped with gloo's bare
'Timed out waiting 8000ms for recv operation', ranks 2 and 3 with 'the ranks could not agree on a failure', after
the timeout (4 gloo ranks in 2 copies of 2, 8 s timeout: 27 s). Now the failing rank closes its copy group's
connections before the agreement: its copy-mate's barrier raises gloo's 'Connection closed by peer' at once, and
every rank names rank 2's error. Real gloo groups, forked; ``build_model`` of a runner whose start reached the
model."""
from __future__ import annotations

import json
import os.path as osp

import pytest
from _forked_ranks import fork_ranks, join_gloo, recording
from mmengine.model import BaseModel

TIMEOUT_S = 20
PROMPT_S = 10
PLANTED = 'ConnectionError: planted: downloading https://download.example/pretrained.pth failed'


class _Net(BaseModel):
    """Built as mmengine's ``load_from_http`` loads: the lead of its copy downloads (``fail``: that fails), then a
    barrier over the world, which is the copy's inside the build."""

    def __init__(self, fail: bool = False) -> None:
        import torch
        import torch.distributed as torch_dist

        super().__init__()
        if fail:
            raise ConnectionError(PLANTED.split(': ', 1)[1])
        torch_dist.barrier()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return []


def _rank(rank: int, tmp: str) -> None:
    import torch.distributed as torch_dist

    from automl_mm.ohl import copies

    join_gloo(rank, 4, osp.join(tmp, 'init'), timeout=TIMEOUT_S)
    runner = copies.CopyRunner.__new__(copies.CopyRunner)  # mmengine's start over, the model next (as in __init__)
    runner._copy_counts, runner._dist_timeout, runner._pending_agreement = (2, 2), TIMEOUT_S, 'groups'
    out: dict = {}
    with recording(out):
        runner.build_model(dict(type=_Net, fail=rank == 2))  # copy 1's lead
    # a second runner in the same processes (a test, a notebook), as its start reaches the model: every rank must
    # create the copies' groups again, or none (their creation is collective over the world)
    retry: dict = {}
    runner._pending_agreement = 'groups'
    with recording(retry):
        runner.build_model(dict(type=_Net))
    out['retry'] = retry.get('error')
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)
    copies.reset_copy_layout()
    torch_dist.destroy_process_group()


@pytest.fixture(scope='module')
def outs(tmp_path_factory) -> list[dict]:
    """What each of the 4 ranks raised in the failing build, and in a second build after it (one fork of 4 ranks
    for both tests)."""
    tmp_path = tmp_path_factory.mktemp('copy_model_collective_failure')
    fork_ranks(_rank, (str(tmp_path),), nprocs=4, timeout=120)
    return [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(4)]


def test_a_copy_lead_failing_before_its_constructors_barrier_stops_every_rank_at_once(outs):
    assert outs[2]['error'] == PLANTED, outs
    for rank in (0, 1, 3):
        assert outs[rank]['error'].startswith(f'RankFailure: CopyRunner: building the model failed on rank 2 '
                                              f'({PLANTED})'), outs
    assert all(out['seconds'] < PROMPT_S for out in outs), outs  # not after the 20 s timeout


def test_a_second_runner_after_the_failure_builds_on_every_rank(outs):
    """The failing copy's ranks forgot their layout (its group destroyed, to let the copy-mate go), the other copy's
    kept theirs: a second runner's build made ranks 2 and 3 create the copies' groups (collectives over the world)
    while ranks 0 and 1 reused their layout, and the ranks' collectives no longer matched. Every rank that leaves
    the model's agreement with an error now forgets its layout."""
    assert [out['retry'] for out in outs] == [None] * 4, outs
