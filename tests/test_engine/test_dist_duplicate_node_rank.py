"""Two torchrun nodes given the same NODE_RANK (3 nodes started as 0, 1, 1, under TORCH_ELASTIC_WORKER_IDENTICAL=1,
where torchrun's agents skip their rank exchange and start the workers): two workers held each of ranks 1's global
ranks and nobody node index 2's, and the process group waited for them until its timeout, naming nothing. Each
worker now counts itself under its RANK in the agent's store before the process group starts
(``automl_mm.engine.dist.check_distinct_ranks``) and every worker is refused at once, naming the duplicated ranks,
their hosts and NODE_RANK. Here the test process hosts the agent's store and forks one worker per "node"."""
from __future__ import annotations

import datetime
import socket
import time

import pytest
from _forked_ranks import agent_store, fork_ranks

from automl_mm.engine.dist import check_distinct_ranks, init_dist_pytorch_cpu_aware


def _worker(index: int, workers: list[dict[str, str]], port: int, out: str, timeout_s: float) -> None:
    """Worker ``index`` of a group torchrun started: its variables ``workers[index]`` (``RANK``, ``WORLD_SIZE``,
    ``TORCHELASTIC_RESTART_COUNT``, ...) beside those of the agent's store at ``port``; writes the seconds its check
    took and ``'passed'`` or its error to ``out.<index>``."""
    import os

    os.environ.update(TORCHELASTIC_USE_AGENT_STORE='True', TORCHELASTIC_RUN_ID='run', MASTER_ADDR='127.0.0.1',
                      MASTER_PORT=str(port), LOCAL_RANK='0', **workers[index])
    start = time.monotonic()
    try:
        check_distinct_ranks(datetime.timedelta(seconds=timeout_s))
        result = 'passed'
    except RuntimeError as err:
        result = str(err)
    with open(f'{out}.{index}', 'w') as f:
        f.write(f'{time.monotonic() - start:.1f}\n{result}')


def _variables(rank: int, world_size: int, restart: int, **more: str) -> dict[str, str]:
    """The variables torchrun gives the worker of ``rank`` (one a node) of a group of ``world_size``."""
    return dict(RANK=str(rank), GROUP_RANK=str(rank), WORLD_SIZE=str(world_size),
                TORCHELASTIC_RESTART_COUNT=str(restart), **more)


def _run(tmp_path, node_ranks: list[int], restarts: int = 1) -> tuple[list[tuple[float, str]], int]:
    """Each worker's (seconds in the check, 'passed' or its error) of the last of ``restarts`` worker groups that
    torchrun started on one agent store, and the store's port."""
    agent, port = agent_store()  # noqa: F841 (served while the workers run)
    out = str(tmp_path / 'result')
    for restart in range(restarts):
        workers = [_variables(rank, len(node_ranks), restart) for rank in node_ranks]
        fork_ranks(_worker, (workers, port, out, 60), nprocs=len(node_ranks))
    results = []
    for i in range(len(node_ranks)):
        seconds, text = (tmp_path / f'result.{i}').read_text().split('\n', 1)
        results.append((float(seconds), text))
    return results, port


def test_every_worker_is_refused_at_once_naming_the_rank_held_twice(tmp_path):
    host = socket.gethostname()
    results, port = _run(tmp_path, [0, 1, 1])
    expected = (f'--launcher pytorch: 1 global rank(s) of 3 are held by several workers (RANK 1 by {host} '
                f'(NODE_RANK=1, LOCAL_RANK=0) and {host} (NODE_RANK=1, LOCAL_RANK=0)), so the process group would '
                'wait for the ranks nobody holds until its timeout: two nodes were started with the same NODE_RANK '
                '(torchrun --node_rank); give every node its own index, 0 to NNODES - 1. (Or this node joined the '
                f'rendezvous of another torchrun job at 127.0.0.1:{port}: give each job its own PORT)')
    assert [text for _, text in results] == [expected] * 3
    assert max(seconds for seconds, _ in results) < 30  # not the 60 s timeout


def test_distinct_ranks_pass_and_a_restarted_group_counts_afresh(tmp_path):
    assert [text for _, text in _run(tmp_path, [0, 1, 2], restarts=2)[0]] == ['passed'] * 3


def test_outside_torchrun_nothing_is_checked(monkeypatch):
    monkeypatch.delenv('TORCHELASTIC_USE_AGENT_STORE', raising=False)
    check_distinct_ranks(datetime.timedelta(seconds=1))  # no store, no RANK: returns at once


def test_the_pytorch_launcher_checks_before_the_process_group(monkeypatch):
    monkeypatch.setattr('automl_mm.engine.dist.check_distinct_ranks', lambda timeout: (_ for _ in ()).throw(
        RuntimeError(f'checked with {timeout}')))
    with pytest.raises(RuntimeError, match=r'checked with 0:00:07'):
        init_dist_pytorch_cpu_aware('gloo', timeout=datetime.timedelta(seconds=7))


def _rounds(tmp_path, rounds: list[list[tuple[int, int, int]]], max_restarts: int) -> list[str]:
    """Each worker's result in the last of ``rounds`` (worker groups that torchrun's dynamic rendezvous started one
    after another on its one shared store: the store outlives the rounds); a worker of a round is (RANK,
    WORLD_SIZE, TORCHELASTIC_RESTART_COUNT)."""
    agent, port = agent_store()  # noqa: F841 (served while the workers run)
    out = str(tmp_path / 'round')
    for groups in rounds:
        workers = [_variables(*worker, TORCHELASTIC_MAX_RESTARTS=str(max_restarts)) for worker in groups]
        fork_ranks(_worker, (workers, port, out, 5), nprocs=len(groups))
    return [(tmp_path / f'round.{i}').read_text().split('\n', 1)[1] for i in range(len(rounds[-1]))]


def test_a_dynamic_restart_whose_nodes_count_restarts_differently_passes(tmp_path):
    """torchrun --rdzv-backend=c10d --max-restarts=3 on 2 nodes: node 0's worker fails, its agent restarts it
    (TORCHELASTIC_RESTART_COUNT 1) and the healthy node 1 restarts its own as a membership change, which torch
    does not count (still 0; torch issue 135712): node 1's worker met its own previous round's keys (RANK 1 held
    twice, refused at once) and node 0's waited for a second worker under restart 1 until the timeout."""
    assert _rounds(tmp_path, [[(0, 2, 0), (1, 2, 0)], [(0, 2, 1), (1, 2, 0)]], max_restarts=3) == ['passed'] * 2


def test_a_dynamic_scale_up_without_restarts_passes(tmp_path):
    """torchrun --nnodes=2:3 --max-restarts=0: a third node joins, both running nodes restart their workers as a
    membership change (restart count 0 each time) in a world of 3."""
    assert _rounds(tmp_path, [[(0, 2, 0), (1, 2, 0)], [(0, 3, 0), (1, 3, 0), (2, 3, 0)]], max_restarts=0) == \
        ['passed'] * 3
