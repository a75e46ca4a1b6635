"""A copy whose ranks train across nodes that also hold another copy is named at start (torchrun --nnodes 2
--nproc_per_node 3 with 3 copies of 2 ranks: copy 1 was ranks 2 on node 0 and 3 on node 1, its DDP all-reduce
crossed the network at every step while copies 0 and 2 stayed inside their nodes, with no word)."""
from __future__ import annotations

from unittest import mock

import pytest
from mmengine.logging import MMLogger

from automl_mm.ohl import copies
from automl_mm.ohl.copies import copies_split_across_nodes, init_copy_layout, reset_copy_layout


@pytest.mark.parametrize('nodes, ranks_per_copy, split', [
    ([0, 0, 0, 1, 1, 1], 2, {1: [0, 1]}),  # 2 nodes of 3, copies of 2
    ([0, 0, 0, 1], 2, {1: [0, 1]}),  # uneven nodes (3 + 1)
    ([0, 0, 1, 1], 2, {}),  # one copy per node
    ([0, 0, 0, 0, 1, 1, 1, 1], 2, {}),  # two copies per node
    ([0] * 8 + [1] * 8 + [2] * 8 + [3] * 8, 16, {}),  # copies of 16 ranks on whole nodes of 8
    ([0] * 8 + [1] * 8 + [2] * 8, 12, {0: [0, 1], 1: [1, 2]}),  # 12-rank copies on nodes of 8: node 1 shared
    ([('a', ''), ('a', ''), ('b', ''), ('b', '')], 1, {}),  # one rank per copy never spans nodes
    ([0, 1, 0, 1], 2, {0: [0, 1], 1: [0, 1]}),  # srun --distribution=cyclic: 2 nodes of 2, every copy split
])
def test_split_copies(nodes, ranks_per_copy, split):
    assert copies_split_across_nodes(nodes, ranks_per_copy) == split


def _layout_on_rank0(nodes, num_copies, ranks_per_copy, caplog) -> str:
    """init_copy_layout on rank 0 of len(nodes) ranks, the collectives faked: nodes is what every rank reports."""
    reset_copy_layout()
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        with mock.patch.object(copies, 'get_dist_info', return_value=(0, len(nodes))), \
                mock.patch.object(copies, 'is_distributed', return_value=True, create=True), \
                mock.patch.object(copies.torch_dist, 'new_group', return_value=object()), \
                mock.patch.object(copies, 'all_gather_object', return_value=nodes, create=True):
            init_copy_layout(num_copies, ranks_per_copy)
    finally:
        logger.removeHandler(caplog.handler)
        reset_copy_layout()
    return caplog.text


def test_the_layout_names_ranks_per_copy_and_the_split_copies(caplog):
    nodes = [('host', '0')] * 3 + [('host', '1')] * 3  # torchrun on one host name: GROUP_RANK tells the nodes
    text = _layout_on_rank0(nodes, 3, 2, caplog)
    assert 'ranks_per_copy=2 does not fit the processes per node [3, 3]: copy 1 (ranks 2-3) on nodes [0, 1]' in text


def test_a_cyclic_placement_is_named_with_the_copies_and_block_distribution(caplog):
    """SRUN_ARGS=--distribution=cyclic after tools/slurm_train.sh's block: 2 copies of 2 ranks on 2 nodes of 2 put
    ranks 0, 2 on node 0 and 1, 3 on node 1. The warning said ranks_per_copy=2 "does not fit the processes per node
    [2, 2]" and told the user to give every node a multiple of 2 processes, which each node had."""
    nodes = [('n1', '0'), ('n2', '1'), ('n1', '0'), ('n2', '1')]
    text = _layout_on_rank0(nodes, 2, 2, caplog)
    assert ('the launcher placed ranks that are not consecutive on one node (node 0 holds ranks [0, 2]; node 1 '
            'holds ranks [1, 3]; a cyclic placement, e.g. srun --distribution=cyclic from SRUN_ARGS or '
            'SLURM_DISTRIBUTION), so copy 0 (ranks 0-1) on nodes [0, 1]; copy 1 (ranks 2-3) on nodes [0, 1], '
            'sharing a node with another copy.') in text
    assert 'srun --distribution=block' in text and 'does not fit' not in text


def test_a_layout_that_fits_the_nodes_says_nothing(caplog):
    assert 'OHL copy layout' not in _layout_on_rank0([('a', '0')] * 2 + [('b', '1')] * 2, 2, 2, caplog)


def test_the_node_key_is_the_host_and_the_launchers_node_index(monkeypatch):
    monkeypatch.delenv('SLURM_NODEID', raising=False)
    monkeypatch.setenv('GROUP_RANK', '1')
    with mock.patch.object(copies, 'all_gather_object', side_effect=lambda obj: [obj], create=True):
        assert copies.node_of_ranks()[0][1] == '1'
    monkeypatch.delenv('GROUP_RANK')
    monkeypatch.setenv('SLURM_NODEID', '3')
    with mock.patch.object(copies, 'all_gather_object', side_effect=lambda obj: [obj], create=True):
        assert copies.node_of_ranks()[0][1] == '3'
