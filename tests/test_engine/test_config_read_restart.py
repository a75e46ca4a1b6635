"""``reading_config_together`` across a torchrun restart: torchrun's agent store outlives its worker groups (the
rendezvous shares one TCPStore server over its rounds), and ``TORCHELASTIC_RESTART_COUNT`` counts only the restarts a
node's own worker caused (torch issue 108158), so after one node's worker failed the ranks of a multi-node group read
different counts. Keyed by that count, the rank whose node counted no restart took the earlier group's words (every
rank had read its config) and went on, and the rank whose node did waited for a word under its own count until the
store's timeout (30 minutes without a config). Now the words are keyed by a token rank 0 gives each rank of its group
(``rank_agreement._group_token``)."""
from __future__ import annotations

import datetime
import json
import os
import os.path as osp
import time

import pytest
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, outcome
from torch.distributed.elastic.utils.distributed import get_free_port

from automl_mm.engine.rank_agreement import CONFIG_READ_KEY, reading_config_together

HELLO = f'{CONFIG_READ_KEY}/run/hello'  # where rank 1 says it is there (torchrun's run id: 'run')


def _read(missing: bool):
    if missing:
        raise FileNotFoundError('config file not found: cfg.py')
    return dict(env_cfg=dict(dist_cfg=dict(timeout=60)))


def _after_rank_1(port: int, earlier_hello: bytes) -> None:
    """Once rank 1 of this group is in the store (its hello replaced the earlier group's), and a while after: rank 1
    then finds the earlier group's answer there first, which it must not take."""
    store = torch_dist.TCPStore('127.0.0.1', port, is_master=False, timeout=datetime.timedelta(seconds=30))
    deadline = time.monotonic() + 10  # then on anyway (a reading that writes no hello)
    while (not store.check([f'{HELLO}/1']) or store.get(f'{HELLO}/1') == earlier_hello) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)


def _worker(rank: int, tmp: str, port: int, group: int, restarts: list[int], missing: list[bool],
            earlier_hello: bytes | None = None) -> None:
    """A worker of torchrun's group ``group`` on the agent's store at ``port``; its node counted ``restarts[rank]``;
    with ``earlier_hello``, rank 0 reaches the store after rank 1."""
    if rank == 0 and earlier_hello is not None:
        _after_rank_1(port, earlier_hello)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK='0',
                      WORLD_SIZE='2', TORCHELASTIC_USE_AGENT_STORE='True', TORCHELASTIC_RUN_ID='run',
                      TORCHELASTIC_RESTART_COUNT=str(restarts[rank]))
    found = outcome(lambda: reading_config_together(lambda: _read(missing[rank]), 'pytorch',
                                                    'tools/train.py: reading the config file'))
    with open(osp.join(tmp, f'group{group}_rank{rank}.json'), 'w') as f:
        json.dump(found, f)


@pytest.mark.slow  # two groups of 2 forked ranks (about 5 s on 2 shared cores)
def test_a_group_after_a_restart_counted_on_one_node_agrees_on_its_own_reading(tmp_path, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    port = get_free_port()
    agent_store = torch_dist.TCPStore('127.0.0.1', port, is_master=True, wait_for_workers=False,
                                     timeout=datetime.timedelta(seconds=30))
    fork_ranks(_worker, (str(tmp_path), port, 0, [0, 0], [False, False]), timeout=60)
    earlier = agent_store.get(f'{HELLO}/1') if agent_store.check([f'{HELLO}/1']) else b''
    # rank 0's node had a worker fail mid-run: its agent counts 1 restart, rank 1's none; rank 0 lacks its config
    # now and reaches the store last
    fork_ranks(_worker, (str(tmp_path), port, 1, [1, 0], [True, False], earlier), timeout=60)
    found = [json.loads((tmp_path / f'group1_rank{rank}.json').read_text()) for rank in range(2)]
    assert found[0] == 'FileNotFoundError: config file not found: cfg.py', found
    assert found[1] is not None and found[1].startswith(
        'RankFailure: tools/train.py: reading the config file failed on rank 0 (on '), found
