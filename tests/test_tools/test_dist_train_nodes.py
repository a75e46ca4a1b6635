"""tools/dist_train.sh / dist_test.sh on several nodes need MASTER_ADDR: without it every node rendezvoused on
127.0.0.1, its own address, so node 1 (NNODES=2 NODE_RANK=1) waited for a node 0 that was not there until
torchrun's store timed out, minutes later, instead of stopping at once naming the variable.

Two nodes started together with the same NODE_RANK hang in torchrun's own rendezvous, before any worker (or
collective) runs: node 0 hosts its store on its own machine, and the agents wait for every node index until
torchrun's timeout (workers that do start are refused by automl_mm.engine.dist.check_distinct_ranks). The scripts
refuse what one node can see: NODE_RANK left unset on a machine that does not hold MASTER_ADDR (warned where
NODE_RANK=0 is given: node 0 may reach it through a NAT or a service address), and a NODE_RANK outside
0 .. NNODES - 1."""
from __future__ import annotations

import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from conftest import REPO_ROOT


def _run(tmp_path, script: str, **env) -> subprocess.CompletedProcess:
    fake = tmp_path / 'python'
    # prints the torchrun command line instead of running it; runs the scripts' own checks (python -c)
    fake.write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then exec {sys.executable} "$@"; fi\necho "$@"\n')
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items()
            if k not in ('NNODES', 'NODE_RANK', 'MASTER_ADDR', 'PORT', 'MASTER_PORT')}
    args = ['cfg.py', '2'] if script == 'dist_train.sh' else ['cfg.py', 'ckpt.pth', '2']
    return subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args], capture_output=True, text=True,
                          env=dict(base, PYTHON=str(fake), **env))


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
def test_several_nodes_without_master_addr_are_refused_naming_it(tmp_path, script):
    proc = _run(tmp_path, script, NNODES='2', NODE_RANK='1')
    assert proc.returncode == 2 and proc.stdout == ''
    assert 'NNODES=2 needs MASTER_ADDR, the address of node 0' in proc.stderr


@pytest.mark.parametrize('env, addr', [({'PORT': '29611'}, '127.0.0.1'),
                                       ({'NNODES': '1', 'PORT': '29611'}, '127.0.0.1'),
                                       ({'NNODES': '2', 'NODE_RANK': '1', 'MASTER_ADDR': '10.0.0.1'}, '10.0.0.1')])
def test_one_node_keeps_the_local_default_and_several_take_the_given_address(tmp_path, env, addr):
    proc = _run(tmp_path, 'dist_train.sh', **env)
    assert proc.returncode == 0 and f'--master_addr={addr}' in proc.stdout


def _an_address_of_this_machine() -> str:
    """A non-loopback address this machine holds (the source address of a route out), or skip."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(('198.51.100.1', 9))  # no packet is sent
            address = s.getsockname()[0]
    except OSError:
        address = '127.0.0.1'
    if address.startswith('127.'):
        pytest.skip('this machine has no non-loopback address')
    return address


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
def test_node_rank_unset_on_a_machine_without_master_addr_is_refused(tmp_path, script):
    """The second node started without NODE_RANK: it hosted a second rendezvous at home, and both waited for
    node 1 until torchrun's timeout. 198.51.100.7 (TEST-NET-2) is no machine's."""
    proc = _run(tmp_path, script, NNODES='2', MASTER_ADDR='198.51.100.7')
    assert proc.returncode == 2 and proc.stdout == ''  # torchrun did not start
    assert (f'NODE_RANK is unset (so 0) on {socket.gethostname()}, which does not hold MASTER_ADDR=198.51.100.7: '
            'node 0 hosts the rendezvous at MASTER_ADDR, so this node would host a second one') in proc.stderr
    assert "Set NODE_RANK to this node's index (1 to 1) here; on node 0 itself, set NODE_RANK=0" in proc.stderr


@pytest.mark.parametrize('script', ['dist_train.sh', 'dist_test.sh'])
def test_node_rank_0_given_on_a_machine_without_master_addr_is_warned_and_starts(tmp_path, script):
    """Node 0 behind a NAT, a container bridge or a Kubernetes service address does not hold MASTER_ADDR and still
    hosts the rendezvous (torchrun's store listens on every address): a given NODE_RANK=0 starts torchrun, with a
    warning for the node that was given node 0's command by mistake."""
    proc = _run(tmp_path, script, NNODES='2', NODE_RANK='0', MASTER_ADDR='198.51.100.7')
    assert proc.returncode == 0, proc.stderr
    assert '--nnodes=2 --node_rank=0 --master_addr=198.51.100.7 --master_port=29500' in proc.stdout
    assert (f'warning: NODE_RANK=0 on {socket.gethostname()}, which does not hold MASTER_ADDR=198.51.100.7: right '
            'for node 0 behind a NAT or a service address; on any other node set NODE_RANK to its index (1 to 1)'
            ) in proc.stderr


def test_node_0_on_the_machine_of_master_addr_starts_torchrun(tmp_path):
    address = _an_address_of_this_machine()
    proc = _run(tmp_path, 'dist_train.sh', NNODES='2', NODE_RANK='0', MASTER_ADDR=address)
    assert proc.returncode == 0, proc.stderr
    assert f'--nnodes=2 --node_rank=0 --master_addr={address} --master_port=29500' in proc.stdout


@pytest.mark.parametrize('env, told', [
    ({'NNODES': '2', 'NODE_RANK': '2'},
     "NODE_RANK, this node's index, must be a whole number from 0 to NNODES - 1 = 1, got '2'"),
    ({'NNODES': '3', 'NODE_RANK': 'one'}, "from 0 to NNODES - 1 = 2, got 'one'"),
    ({'NNODES': 'two', 'NODE_RANK': '1'}, "NNODES, the number of nodes, must be a positive whole number, got 'two'"),
])
def test_a_node_rank_outside_the_nodes_is_refused(tmp_path, env, told):
    """NODE_RANK=2 with NNODES=2 (counted from 1): node 0 waited for node index 1 until torchrun's timeout."""
    proc = _run(tmp_path, 'dist_train.sh', MASTER_ADDR='10.0.0.1', **env)
    assert proc.returncode == 2 and proc.stdout == '' and told in proc.stderr
