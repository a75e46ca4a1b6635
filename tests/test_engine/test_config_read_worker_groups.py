"""``reading_config_together`` across torchrun's worker groups: torchrun's agent store outlives its groups (the
restarts of ``--max-restarts``, a node joining an elastic ``--nnodes=MIN:MAX`` run), and the ranks' words were keyed
by ``TORCHELASTIC_RUN_ID`` / ``TORCHELASTIC_RESTART_COUNT``, which torch counts only on the node whose worker failed
(a healthy node restarts its workers as a membership change, still at the same count: torch issue 135712). A rank
of a later group then read the words of the group before: it refused its config for an earlier group's failure, or
went on without waiting for a rank of its own group, while that rank's node waited under another count until
``env_cfg.dist_cfg.timeout``. Here the test process serves the agent's store and forks one worker per node, group
after group, as ``automl_mm.engine.dist.check_distinct_ranks``'s tests do."""
from __future__ import annotations

import os
import os.path as osp
import time

from _forked_ranks import agent_store, fork_ranks, outcome

#: The config's ``env_cfg.dist_cfg.timeout`` (seconds): how long a rank waits for the others' words.
TIMEOUT_S = 5


def _reader(rank: int, workers: list[tuple[int, int, float | None]], max_restarts: int, port: int,
            out: str) -> None:
    """Worker ``rank`` of a group of ``len(workers)``: ``workers[rank]`` is its ``TORCHELASTIC_RESTART_COUNT``,
    whether its reading fails and after how many seconds it ends (``None``: it reads the config at once); writes its
    :func:`outcome` (``'None'``: it read the config) to ``out.<rank>``."""
    from mmengine.config import Config

    from automl_mm.engine.rank_agreement import reading_config_together

    restart, fails, after = workers[rank]
    os.environ.update(TORCHELASTIC_USE_AGENT_STORE='True', TORCHELASTIC_RUN_ID='run', MASTER_ADDR='127.0.0.1',
                      MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK='0', GROUP_RANK=str(rank),
                      WORLD_SIZE=str(len(workers)), TORCHELASTIC_RESTART_COUNT=str(restart),
                      TORCHELASTIC_MAX_RESTARTS=str(max_restarts))

    def read() -> Config:
        time.sleep(after or 0)
        if fails:
            raise FileNotFoundError('config file not found: cfg.py')
        return Config(dict(env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=TIMEOUT_S))))

    found = outcome(lambda: reading_config_together(read, 'pytorch', 'tools/train.py: reading the config file'))
    with open(f'{out}.{rank}', 'w') as f:
        f.write(str(found))


def _groups(tmp_path, groups: list[list[tuple[int, int, float | None]]], max_restarts: int) -> list[str]:
    """Each worker's outcome in the last of ``groups`` (worker groups torchrun started one after another on its one
    store)."""
    agent, port = agent_store()  # noqa: F841 (served while the workers run)
    out = osp.join(tmp_path, 'read')
    for workers in groups:
        fork_ranks(_reader, (workers, max_restarts, port, out), nprocs=len(workers), timeout=120)
    return [(tmp_path / f'read.{rank}').read_text() for rank in range(len(groups[-1]))]


def test_a_restart_reads_no_word_of_the_group_before(tmp_path):
    """torchrun --max-restarts=3 on 2 nodes: node 1's worker could not read the config (a file system not mounted
    yet) and its agent restarted it (count 1); node 0's was restarted with it, still at count 0. Both read it now:
    node 0's worker refused it for the earlier group's failure on rank 1, node 1's waited for node 0's word under
    count 1 until the timeout (DistStoreError)."""
    groups = [[(0, False, None), (0, True, None)], [(0, False, None), (1, False, None)]]
    assert _groups(tmp_path, groups, max_restarts=3) == ['None', 'None']


def test_a_node_joining_reads_no_word_of_the_group_before(tmp_path):
    """torchrun --nnodes=2:3 --max-restarts=0: a third node joins, and both running nodes restart their workers at
    count 0 in a world of 3. Rank 1 fails to read its config (after its peers wrote their words): ranks 0 and 2 took
    the earlier group's word of rank 1 for its own and went on (to wait for it in the process group's rendezvous)."""
    groups = [[(0, False, None), (0, False, None)], [(0, False, None), (0, True, 1.0), (0, False, None)]]
    found = _groups(tmp_path, groups, max_restarts=0)
    assert found[1] == 'FileNotFoundError: config file not found: cfg.py', found[1]
    for rank in (0, 2):
        assert found[rank].startswith('RankFailure: tools/train.py: reading the config file failed on rank 1 (on '), \
            found[rank]
