"""The trunk-end broadcast of the best copy's state (``sync.broadcast_copy_state``) where one rank raises: the source
cannot pickle a state it holds, a receiving rank cannot unpickle it (an optimiser's state, a module's plain
training state), or a receiving rank's ``load_state_dict`` refuses it. Every rank stops at once, the failing rank
with its own error and the others with a ``RankFailure`` naming it; the others used to wait in the next broadcast
until the process group's timeout (here 15 s; gloo answered 'Connection closed by peer', naming nothing, once the
failing rank left). Real 2-rank gloo groups, forked."""
from __future__ import annotations

import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, recording

from automl_mm.ohl.sync import broadcast_copy_state

TIMEOUT_S = 15
PROMPT_S = 8


class _Unreadable:
    """Unpickles on rank 0 only (a class a receiving rank cannot rebuild)."""

    def __init__(self) -> None:
        self.value = 1  # pickle calls __setstate__ for a non-empty state only

    def __setstate__(self, state: dict) -> None:
        if torch_dist.get_rank() == 1:
            raise ValueError('planted: this rank cannot rebuild _Unreadable')
        self.__dict__.update(state)


class _Wrapper:
    """An optimiser wrapper whose state holds ``extra`` and whose ``load_state_dict`` refuses on ``refuse_rank``."""

    def __init__(self, rank: int, extra, refuse_rank: int | None) -> None:
        self.rank, self.extra, self.refuse_rank = rank, extra, refuse_rank
        self.step = torch.tensor([float(rank)])

    def state_dict(self) -> dict:
        return {'step': self.step, 'extra': self.extra}

    def load_state_dict(self, state: dict) -> None:
        if self.rank == self.refuse_rank:
            raise KeyError('planted: loaded state has no param_groups')
        self.step = state['step']


class _Scheduler:
    def __init__(self, last_epoch: int) -> None:
        self.last_epoch = last_epoch

    def state_dict(self) -> dict:
        return {'last_epoch': self.last_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.last_epoch = state['last_epoch']


class _WithHistory(torch.nn.Linear):
    """A module with plain training state it declares (``ohl_copy_state``), carried pickled."""
    ohl_copy_state = ('history', )


def _worker(rank: int, tmp: str, case: str) -> None:
    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=TIMEOUT_S)
    extra = {'pickle': (lambda: 0) if rank == 0 else None,  # a local function: pickle refuses it
             'unpickle': _Unreadable() if rank == 0 else None}.get(case)
    torch.manual_seed(rank)  # each rank's weights differ
    model = _WithHistory(2, 2)
    model.history = _Unreadable() if case == 'attributes' and rank == 0 else [rank]
    if case == 'declared-on-rank-0' and rank == 1:  # rank 1's module declares no training state (its answer: none)
        model.ohl_copy_state = ()
    if case == 'missing' and rank == 1:  # a declared path this rank's module lacks (set during training elsewhere)
        del model.history
    runner = SimpleNamespace(model=model, hooks=[], param_schedulers=[_Scheduler(3 + rank)],
                             optim_wrapper=_Wrapper(rank, extra, 1 if case == 'load' else None))
    out: dict = {}
    with recording(out):  # what each rank raised is the result
        broadcast_copy_state(runner, src=0)
        out['state'] = dict(weight=model.weight.detach().clone(), history=model.history,
                            step=runner.optim_wrapper.step, last_epoch=runner.param_schedulers[0].last_epoch)
    torch.save(out, osp.join(tmp, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


CASES = {
    'pickle': (0, "AttributeError: Can't pickle local object '_worker.<locals>.<lambda>'"),
    'unpickle': (1, 'ValueError: planted: this rank cannot rebuild _Unreadable'),
    'load': (1, "KeyError: 'planted: loaded state has no param_groups'"),
    'attributes': (1, 'ValueError: planted: this rank cannot rebuild _Unreadable'),  # a module's ohl_copy_state
    # rank 1's module lacks a path it declares: it raised before the broadcast the others waited in
    'missing': (1, "AttributeError: _WithHistory.ohl_copy_state names 'history', which the module does not have: the "
                   'OHL broadcast cannot carry it'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_one_ranks_failure_in_the_broadcast_of_the_best_copy_stops_every_rank_naming_it(tmp_path, case):
    fork_ranks(_worker, (str(tmp_path), case))
    outs = [torch.load(str(tmp_path / f'rank{r}.pth')) for r in range(2)]
    failing, cause = CASES[case]
    assert outs[failing]['error'] == cause, outs
    other = outs[1 - failing]
    assert other.get('error', '').startswith('RankFailure: '), other
    assert f'failed on rank {failing} ({cause}); every rank stops here' in other['error'], other
    assert all(out['seconds'] < PROMPT_S for out in outs), outs


def test_the_state_still_travels_without_failures(tmp_path):
    """Rank 1 holds exactly rank 0's (the source's) state after the broadcast: its weights, its module's plain
    ``history``, its optimiser wrapper's ``step`` and its scheduler's ``last_epoch`` (3, rank 1's own was 4)."""
    fork_ranks(_worker, (str(tmp_path), 'none'))
    states = [torch.load(str(tmp_path / f'rank{r}.pth'))['state'] for r in range(2)]
    torch.manual_seed(0)
    source_weight = _WithHistory(2, 2).weight.detach()
    for state in states:
        assert torch.equal(state['weight'], source_weight)
        assert state['history'] == [0] and state['last_epoch'] == 3
        assert torch.equal(state['step'], torch.tensor([0.0]))


def test_training_state_travels_to_a_rank_whose_modules_declare_none(tmp_path):
    """Rank 1's module declares no training state, rank 0's declares ``history``: rank 1 skipped the broadcast
    rank 0 waited in (whether it ran was each rank's own answer); now it takes rank 0's ``history``."""
    fork_ranks(_worker, (str(tmp_path), 'declared-on-rank-0'))
    outs = [torch.load(str(tmp_path / f'rank{r}.pth')) for r in range(2)]
    assert [out.get('state', out)['history'] for out in outs] == [[0], [0]], outs
    assert all(out['seconds'] < PROMPT_S for out in outs), outs
