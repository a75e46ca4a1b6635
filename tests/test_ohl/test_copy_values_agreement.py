"""``sync.gather_copy_values`` where a space plugin's ``applied_values`` answers ``None`` on one rank and values on
the other: every rank refuses at once, naming the space and the ranks. The rank that listed nothing used to skip the
``all_gather_object`` the other ran, leaving it there until the process group's timeout (here 15 s). Real 2-rank
gloo groups, forked."""
from __future__ import annotations

import os.path as osp
from types import SimpleNamespace

import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, recording

from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.sync import gather_copy_values

TIMEOUT_S = 15
PROMPT_S = 8


def _worker(rank: int, tmp: str, none_on: int | None) -> None:
    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=TIMEOUT_S)
    space = SimpleNamespace(name='lr', applied_values=lambda: None if rank == none_on else {'model.p': rank + 1})
    out: dict = {}
    with recording(out):  # what each rank raised is the result
        out['values'] = gather_copy_values([space], CopyLayout(2, 1, rank, 2))
    torch.save(out, osp.join(tmp, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


def _run(tmp_path, none_on: int | None) -> list[dict]:
    fork_ranks(_worker, (str(tmp_path), none_on))
    return [torch.load(str(tmp_path / f'rank{r}.pth')) for r in range(2)]


def test_a_space_listing_values_on_some_ranks_only_is_refused_on_every_rank_naming_it(tmp_path):
    outs = _run(tmp_path, none_on=1)
    for out in outs:
        assert out.get('error') == (
            "RuntimeError: OHL: space 'lr' (SimpleNamespace) returned applied values on ranks [0] but None on ranks "
            '[1]: its applied_values() must return None on every rank or values on every rank'), out
        assert out['seconds'] < PROMPT_S, out


def test_every_copys_values_travel_when_the_ranks_agree(tmp_path):
    assert [out.get('values') for out in _run(tmp_path, none_on=None)] == [{'lr': [{'model.p': 1}, {'model.p': 2}]}] * 2
