"""Two single-node torchrun jobs on one machine: tools/dist_train.sh / dist_test.sh without PORT or MASTER_PORT
rendezvoused on 29500, so the second job (4 GPUs each on an 8-GPU node) stopped with EADDRINUSE until one set
PORT. Without a port they now use torchrun's --standalone rendezvous, on a free port."""
from __future__ import annotations

import os
import os.path as osp
import socket
import subprocess
import sys

from conftest import REPO_ROOT

WORKER = """import os, sys, torch.distributed as d
d.init_process_group('gloo')
with open(os.path.join(sys.argv[1], f'rank{d.get_rank()}'), 'w') as f:
    f.write(f"{d.get_world_size()} {os.environ['MASTER_PORT']}")
d.barrier()
d.destroy_process_group()
"""


def test_a_second_job_on_the_node_rendezvous_while_29500_is_taken(tmp_path):
    (tmp_path / 'worker.py').write_text(WORKER)
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # another job's rendezvous on the default port
    try:
        try:
            held.bind(('', 29500))
            held.listen()
        except OSError:  # taken already: the situation this test sets up
            pass
        env = {k: v for k, v in os.environ.items() if k not in ('PORT', 'MASTER_PORT', 'NNODES', 'MASTER_ADDR')}
        env.update(PYTHON=sys.executable, OMP_NUM_THREADS='1', ROOT=REPO_ROOT, GPUS='2')
        script = (f'source {osp.join(REPO_ROOT, "tools/_torchrun.sh")} && '
                  f'torchrun_run {tmp_path / "worker.py"} {tmp_path}')
        proc = subprocess.run(['bash', '-c', script], env=env, capture_output=True, text=True, timeout=300)
    finally:
        held.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = [(tmp_path / f'rank{r}').read_text().split() for r in range(2)]  # (world size, MASTER_PORT) per rank
    assert seen[0] == seen[1] and seen[0][0] == '2' and seen[0][1] != '29500'
