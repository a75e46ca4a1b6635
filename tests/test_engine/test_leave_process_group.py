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


def test_leaving_drops_the_copy_layouts_hold_on_the_groups(tmp_path):
    """The OHL copy layout (module globals of ``automl_mm.ohl.copies``, and the copy-local wrappers built on it) held
    its copy's group and the default group after ``destroy_process_group``, so their gloo objects were destroyed only
    at interpreter shutdown, where a 2-copy ``tools/dist_train.sh`` run's rank aborted after its last validation
    ("terminate called without an active exception"): leaving drops them and collects, while the interpreter runs."""
    import gc
    import weakref

    from automl_mm.ohl import copies, copy_collectives

    torch_dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    try:
        layout = copies.init_copy_layout(1)
        copies._HOOKED_LAYOUT = layout
        copy_collectives._WRAPPERS = ({}, layout, {})

        class Holder:  # stands for the group objects: pybind's ProcessGroup takes no weak reference
            pass

        held = Holder()
        held.cycle = held  # freed only by the collector, as a runner's object graph is
        object.__setattr__(layout, 'group', held)
        gone = weakref.ref(held)
        del layout, held
    except BaseException:
        torch_dist.destroy_process_group()
        raise
    leave_process_group()
    assert (copies._LAYOUT, copies._LAYOUT_WORLD, copies._HOOKED_LAYOUT, copy_collectives._WRAPPERS) == \
        (None, None, None, None)
    assert gone() is None  # collected inside leave_process_group, not at shutdown
    gc.collect()


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_both_tools_release_their_runner_before_leaving(tool):
    """The runner holds the copies' wrappers and layout (so their groups): released before the groups end."""
    text = Path(tool).read_text()
    assert text.index('del runner') < text.index('leave_process_group()  #')
