"""A refusal of the loaded checkpoint on one rank stops every rank there (2 gloo ranks).

Every rank loads the checkpoint itself (``Runner.load_checkpoint``: a node-local copy, a relative path from its own
working directory), so a refusal in ``after_load_checkpoint`` can come from one rank alone. The NAS search's load
checks agree on it since 2c759e6 (``PathSamplingHook``, the search loop's state); these two did not:
``StrictCheckpointHook`` (``tools/test.py``, ``tools/train.py --resume``: weights, classes, schedule) and
``SearchedArchitectureHook`` (``tools/test.py`` and a stock runner's test of a search's final checkpoint). The
refusing rank raised while the others went on to the test's result collection or training's first collective and
waited there until the process group's timeout, naming nothing.
"""
from __future__ import annotations

import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo
from torch import nn


class _Supernet(nn.Module):
    """A supernet of one decision: ``set_arch`` takes ``['a']`` or ``['b']``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.arch = ['a']

    def set_arch(self, names: list) -> None:
        if any(name not in ('a', 'b') for name in names):
            raise ValueError(f'no candidate {names} (options a, b)')
        self.arch = list(names)


def _case(rank: int, which: str) -> tuple:
    """The hook and the checkpoint rank ``rank`` reads in case ``which``: rank 1 reads another file under the same
    name as rank 0's, with one weight more, or an architecture its supernet lacks (rank 0's a search's final
    checkpoint, or in the plain case one without a search's state)."""
    from automl_mm.engine import StrictCheckpointHook
    from automl_mm.nas import SearchedArchitectureHook

    state = dict(_Supernet().state_dict())
    if which == 'StrictCheckpointHook':
        if rank == 1:
            state['head.weight'] = state['fc.weight']
        return StrictCheckpointHook(checkpoint='search_final_iter_4.pth'), {'state_dict': state}
    checkpoint = {'state_dict': state, 'nas_search': {'architecture': [['set_arch', ['b' if rank == 0 else 'c']]]}}
    if rank == 0 and which.endswith('plain'):
        del checkpoint['nas_search']
    return SearchedArchitectureHook(), checkpoint


def _rank(rank: int, tmp: str) -> None:
    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=30)
    found = {}
    for which in CASES:
        runner = SimpleNamespace(model=_Supernet(), cfg={'load_from': 'search_final_iter_4.pth'}, _resume=False,
                                 _test_loop=None, _train_loop=None)
        hook, checkpoint = _case(rank, which)
        try:
            hook.after_load_checkpoint(runner, checkpoint)
            found[which] = None
        except Exception as err:  # noqa: BLE001 (recorded for the test to compare)
            found[which] = f'{type(err).__name__}: {err}'
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    torch_dist.destroy_process_group()


#: Each case: rank 1's own error.
CASES = {'StrictCheckpointHook': 'CheckpointMismatchError: ',
         'SearchedArchitectureHook': "ValueError: the search checkpoint's architecture (set_arch ['c'])",
         'SearchedArchitectureHook plain': "ValueError: the search checkpoint's architecture (set_arch ['c'])"}


@pytest.mark.slow  # two gloo ranks (about 5 s on 2 shared cores, most of it the ranks' start)
def test_a_checkpoint_refused_on_one_rank_stops_every_rank(tmp_path):
    fork_ranks(_rank, (str(tmp_path), ), timeout=180)
    found = [json.load(open(tmp_path / f'rank{rank}.json')) for rank in range(2)]
    for which, own in CASES.items():
        assert found[1][which] is not None and found[1][which].startswith(own), (which, found[1][which])
        # rank 0 accepted its checkpoint, and stops with rank 1 instead of waiting for it at the next collective
        assert found[0][which] is not None and found[0][which].startswith(f'RankFailure: {which.split()[0]}: '), \
            (which, found[0][which])
        assert f'failed on rank 1 ({own}' in found[0][which], (which, found[0][which])
