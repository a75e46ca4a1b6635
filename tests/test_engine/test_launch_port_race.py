"""Two local launches started at once on one node (two benchmark seeds side by side, each ``tools/train.py`` of an
OHL config) each need a rendezvous port. ``launch_local`` asked the OS for a free one
(``torch.distributed.elastic.utils.distributed.get_free_port``: bind port 0, read it, close it) and handed it to its
workers, whose rank 0 bound it seconds later, after its start-up: in between the port was free for anyone, and two
launches that were handed the same one collided: one's rank 0 stopped with ``EADDRINUSE`` (or its rank 1 joined the
other launch's store). The launcher now holds the store on a port the OS chose until its workers end, and the
workers join it as clients, as torchrun's agent store serves its workers."""
from __future__ import annotations

import os
import os.path as osp
import socket

import pytest
from _forked_ranks import fork_ranks


def _main(cfg_path: str) -> None:
    """A launched worker: join the process group as ``tools/train.py`` does (mmengine's ``init_dist('pytorch')``
    with automl_mm's start-up installed), then record the world it found."""
    import torch
    import torch.distributed as torch_dist
    from mmengine.dist import init_dist

    from automl_mm.engine.patches import install

    install()
    init_dist('pytorch', backend='gloo', timeout=30)
    launch = int(osp.basename(osp.dirname(cfg_path))[len('launch'):])
    total = torch.tensor([launch * 10 + torch_dist.get_rank()])
    torch_dist.all_reduce(total)  # the ranks of one launch only: 20 + 21 = 41 for launch 2
    with open(f'{cfg_path}.rank{torch_dist.get_rank()}', 'w') as f:
        f.write(f'{torch_dist.get_world_size()} {int(total)}')
    torch_dist.barrier()
    torch_dist.destroy_process_group()


def _launcher(index: int, tmp: str, port: int) -> None:
    from mmengine.config import Config
    from torch.distributed.elastic.utils import distributed

    from automl_mm.engine import launch

    launch.start_method = lambda: 'fork'  # the workers forked from this process (no fork server: cheap)
    launch.prestart_workers = lambda: None
    # the OS handed both launches the same free port: they asked at the same moment (or it was freed in between)
    launch.get_free_port = distributed.get_free_port = lambda: port
    cfg = Config(dict(work_dir=osp.join(tmp, f'launch{index + 1}')))
    launch.launch_local(cfg, 2, _main)


@pytest.mark.slow  # two launchers of two gloo workers each (about 8 s on 2 shared cores, most of it the fork server)
def test_two_launches_at_once_on_one_node_each_rendezvous_with_their_own_workers(tmp_path, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    fork_ranks(_launcher, (str(tmp_path), port), nprocs=2, timeout=120)
    for launch in (1, 2):
        seen = [(tmp_path / f'launch{launch}' / f'launched_config.py.rank{rank}').read_text() for rank in range(2)]
        assert seen == [f'2 {launch * 20 + 1}'] * 2, (launch, seen)
    assert not os.environ.get('TORCHELASTIC_USE_AGENT_STORE')  # the launcher's own environment is left as it was
