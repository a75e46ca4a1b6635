"""``copy_collectives.copy_all_valid`` on a rank whose validity check raised, where the copy's all-reduce itself
fails (the copy's other rank died before it): the error names this rank's own failure, not only gloo's 'Connection
closed by peer' (which dropped it, as ``agree_on_failure`` did before ``keeping_own_failure``). Real 2-rank gloo
group, forked; rank 1 leaves the group instead of meeting rank 0."""
from __future__ import annotations

import os.path as osp

import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo

from automl_mm.ohl.copy_collectives import copy_all_valid

OWN = OSError('cannot identify image file data/reward/3.png')


def _worker(rank: int, tmp: str) -> None:
    # both ranks' gloo mesh is up before rank 1 leaves (join_gloo's barrier): else rank 1 could tear its group down
    # while rank 0 was still connecting in init_process_group ('Connection closed by peer' there, under a loaded CPU)
    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=15)
    out: dict = {}
    if rank == 0:
        try:
            copy_all_valid(False, None, OWN, 'OHL trunk 3: the reward reading: checking the copy is valid')
        except Exception as err:  # noqa: BLE001 (what rank 0 raised is the result)
            out = dict(error=f'{type(err).__name__}: {err}', cause=repr(err.__cause__))
    torch.save(out, osp.join(tmp, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()  # rank 1 leaves without meeting rank 0: its all-reduce fails


def test_a_failed_validity_agreement_keeps_this_ranks_own_error(tmp_path):
    fork_ranks(_worker, (str(tmp_path),))
    out = torch.load(str(tmp_path / 'rank0.pth'))
    assert out['error'].startswith(
        'KeptFailure: OHL trunk 3: the reward reading: checking the copy is valid: the ranks could not agree on a '
        'failure ('), out
    assert out['error'].endswith(
        '). This rank had failed first: OSError: cannot identify image file data/reward/3.png (its traceback, '
        "printed above this error's, is the cause of this error)"), out
    assert out['cause'] == repr(OWN)
