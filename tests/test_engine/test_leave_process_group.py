"""``tools/train.py`` and ``tools/test.py`` end a distributed run's process group together: without it,
``tools/dist_test.sh`` aborted on a rank at interpreter shutdown ("terminate called without an active exception",
exit -6) about one run in ten after printing its metrics (tests/test_tools/test_dist_test_prints_once.py)."""
import ast
from pathlib import Path

import pytest
import torch.distributed as torch_dist

from automl_mm.engine.rank_agreement import leave_process_group


def test_leave_process_group_destroys_a_started_group_and_is_a_no_op_without_one(tmp_path):
    leave_process_group()  # none started: nothing to do
    torch_dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    assert torch_dist.is_initialized()
    leave_process_group()
    assert not torch_dist.is_initialized()


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_both_tools_leave_the_process_group_after_their_run(tool):
    calls = {node.func.id for node in ast.walk(ast.parse(Path(tool).read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert 'leave_process_group' in calls
