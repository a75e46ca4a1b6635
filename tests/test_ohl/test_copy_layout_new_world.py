"""A second run in one process whose default process group was destroyed and created again gets a new copy layout
(``init_copy_layout``), not the first run's with its destroyed process groups, over real gloo processes."""
from __future__ import annotations

import os.path as osp

import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo


def _worker(rank: int, tmp: str) -> None:
    from automl_mm.ohl.copies import init_copy_layout

    sums, layouts = [], []
    for run in range(2):  # two runners in one process, each with its own default group
        join_gloo(rank, 2, osp.join(tmp, f'init{run}'))
        layout = init_copy_layout(1, 2)  # one copy of two ranks: a process group of its own
        x = torch.tensor(float(rank + 1))
        torch_dist.all_reduce(x, group=layout.group)
        # the copy's rank and size in its group, as DDP over the copy's group and mmengine.dist ask for them
        sums.append((float(x), torch_dist.get_rank(layout.group), torch_dist.get_world_size(layout.group)))
        layouts.append(layout)
        assert init_copy_layout(1, 2) is layout  # inside one default group the layout is reused
        torch_dist.destroy_process_group()
    torch.save({'sums': sums, 'new_group': layouts[1].group is not layouts[0].group},
               osp.join(tmp, f'rank{rank}.pth'))


def test_a_layout_after_the_default_group_is_created_again_has_live_groups(tmp_path):
    # the 2 ranks are forked from this process, with what they use imported here once (spawned, each imported
    # torch, mmengine and automl_mm itself: seconds of CPU per rank)
    import automl_mm.ohl.copies  # noqa: F401
    fork_ranks(_worker, (str(tmp_path),))
    for r in range(2):
        assert torch.load(str(tmp_path / f'rank{r}.pth')) == {'sums': [(3.0, r, 2)] * 2, 'new_group': True}
