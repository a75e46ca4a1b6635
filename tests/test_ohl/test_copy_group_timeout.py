"""A copy's process group waits as long as the config's ``env_cfg.dist_cfg.timeout``, the world's: it was created
with torch's default (30 minutes under gloo) whatever the config said, so a copy whose rank crashed or stopped left
its other ranks in the copy's DDP all-reduce for 30 minutes under ``dist_cfg=dict(timeout=300)``."""
from __future__ import annotations

import datetime
import os.path as osp
from unittest import mock

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo
from mmengine.config import Config

from automl_mm.ohl import copies
from automl_mm.ohl.copies import init_copy_layout, reset_copy_layout
from automl_mm.registry import RUNNERS

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'


def _group_timeout(group) -> datetime.timedelta:
    return group._get_backend(torch.device('cpu')).options._timeout


def _worker(rank: int, tmp: str) -> None:
    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=42)
    try:
        # one copy of two ranks: a process group of its own. Both ranks' groups are up before either leaves
        # (init_copy_layout ends with a collective over the world, its agreement on a failure; join_gloo's barrier
        # covers init_process_group): without, a rank could tear its groups down while the other was still
        # connecting (gloo's 'Connection closed by peer' in its init_process_group or new_group, 2 runs of 47 beside a
        # busy core)
        layout = init_copy_layout(1, 2, 42)
        torch.save(_group_timeout(layout.group).total_seconds(), osp.join(tmp, f'rank{rank}.pth'))
    finally:
        reset_copy_layout()
        torch_dist.destroy_process_group()


def test_a_copy_group_gets_the_timeout_it_is_given(tmp_path):
    # the 2 ranks are forked from this process, with what they use imported here once (spawned, each imported
    # torch, mmengine and automl_mm itself: seconds of CPU per rank)
    fork_ranks(_worker, (str(tmp_path),))
    for r in range(2):
        assert torch.load(str(tmp_path / f'rank{r}.pth')) == 42.0  # torch's default: 1800.0


def test_the_copy_runner_passes_the_configs_dist_timeout(tmp_path):
    cfg = Config.fromfile(OHL)
    cfg.work_dir, cfg.launcher = str(tmp_path), 'none'
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.custom_hooks[0].num_copies = 1
    cfg.env_cfg.dist_cfg.timeout = 123
    reset_copy_layout()
    try:
        with mock.patch.object(copies, 'init_copy_layout', wraps=copies.init_copy_layout) as init:
            RUNNERS.build(cfg)
        assert init.call_args.args == (1, 1, 123)
    finally:
        reset_copy_layout()


@pytest.mark.parametrize('timeout', ['300', True])
def test_a_timeout_that_is_not_seconds_is_named(timeout):
    with pytest.raises(TypeError, match=r'env_cfg\.dist_cfg\.timeout must be a number of seconds'):
        init_copy_layout(1, 1, timeout)


#: The copy group's timeout in the test below (the world's is longer), in seconds.
PAIR_TIMEOUT_S = 3


def _late_pair_worker(rank: int, tmp: str) -> None:
    import json
    import os

    from _forked_ranks import recording

    join_gloo(rank, 4, osp.join(tmp, 'init'), timeout=30)
    layout = init_copy_layout(1, 4, PAIR_TIMEOUT_S)  # one copy of 4 ranks
    torch_dist.barrier()
    if rank >= 2:
        os._exit(0)  # ranks 2 and 3 die: their peers' next collective over the copy must see it at once
    out: dict = {}
    with recording(out):  # rank 0 waits for rank 2, rank 1 for rank 3 (their part of a broadcast, an all-reduce)
        torch_dist.recv(torch.zeros(1), src=rank + 2, group=layout.group)
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)
    os._exit(0)  # the group's collective failed: no teardown to wait for


def test_every_pair_of_a_copy_is_connected_at_the_start(tmp_path):
    """Under gloo the copies' groups are created unconnected (a rank failing alone in ``new_group`` held its copy to
    the timeout), then connected: by one all-reduce, a ring, which connected each rank with its two neighbours only.
    With 4 ranks a copy, ranks 0 and 2 (1 and 3) had never met: rank 0 waiting for rank 2, which had died, raised
    gloo's 'Connect timeout' after 5 x the group's timeout (15 s here), not the 'Connection closed by peer' of a
    connected pair at once; a hung rank 2 likewise held rank 0 for 5 x the timeout. Which side of a pair connects is
    drawn by its ports: the side that connects saw a dead peer at once even so, so each pair fails this test in one
    run of 2 and the two pairs in 3 of 4 (4 runs with the all-to-all taken out: 3 red)."""
    import json

    fork_ranks(_late_pair_worker, (str(tmp_path),), nprocs=4, timeout=90)
    outs = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert all(out.get('error') for out in outs), outs  # ranks 2 and 3 are gone
    assert all(out['seconds'] < PAIR_TIMEOUT_S / 2 for out in outs), outs  # seen at once, not at (5 x) the timeout
