"""A rank whose ``CopyRunner`` start raises alone (after mmengine's start-up collectives: its logger, its model, its
hooks) or whose copy's process group cannot be created: every rank stops at once, the failing rank with its own
error and the others with a ``RankFailure`` naming it. The others used to wait in ``new_group``'s connection, or in
their next collective, until gloo's bare 'Connection closed by peer' or the process group's timeout (here 30 s).
Real gloo groups, forked."""
from __future__ import annotations

import json
import os.path as osp

import pytest
from _forked_ranks import fork_ranks, join_gloo, recording
from mmengine.hooks import Hook
from mmengine.model import BaseModel

TIMEOUT_S = 30
PROMPT_S = 20  # a runner's start took 14 s on 2 cores under a load of 7
SPACES = [dict(type='PipelineChoiceSpace', key='aug', distribution=dict(type='Categorical', num_choices=2))]


def _leave(tmp: str, rank: int, out: dict) -> None:
    """Write what this rank recorded to ``<tmp>/rank<rank>.json``, then forget the copy layout and the group."""
    import torch.distributed as torch_dist

    from automl_mm.ohl import copies

    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(out, f)
    copies.reset_copy_layout()
    torch_dist.destroy_process_group()


def _layout_outcome(tmp: str, rank: int, timeout: float) -> None:
    """Create the layout of 2 copies of 2 ranks, recording its error and time (:func:`_leave` writes them)."""
    from automl_mm.ohl import copies

    out: dict = {}
    with recording(out):
        copies.init_copy_layout(2, 2, timeout)
    _leave(tmp, rank, out)


def _outcomes(tmp_path, nprocs: int) -> list[dict]:
    """Each rank's record, by rank."""
    return [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(nprocs)]


class _Net(BaseModel):
    """A linear model that cannot be built on rank ``fail_rank`` (its ``init_cfg`` checkpoint missing there), nor
    moved to the device on rank ``fail_to_rank`` (mmengine's ``wrap_model`` moves it)."""

    def __init__(self, fail_rank: int = -1, fail_to_rank: int = -1) -> None:
        import torch
        import torch.distributed as torch_dist

        super().__init__()
        if torch_dist.get_rank() == fail_rank:
            raise FileNotFoundError('planted: checkpoint not found: /data/pretrained.pth')
        self.linear = torch.nn.Linear(2, 1)
        self.fail_to_rank = fail_to_rank

    def to(self, *args, **kwargs):
        import torch.distributed as torch_dist

        if torch_dist.get_rank() == self.fail_to_rank:
            raise RuntimeError('planted: CUDA error: out of memory')
        return super().to(*args, **kwargs)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return []


class _Hook(Hook):
    """A hook that cannot be built on rank ``fail_rank``."""

    def __init__(self, fail_rank: int = -1) -> None:
        import torch.distributed as torch_dist

        if torch_dist.get_rank() == fail_rank:
            raise KeyError('planted: no such metric on this node')


def _rank(rank: int, tmp: str, where: str) -> None:
    from mmengine.runner import Runner

    from automl_mm.ohl import copies

    join_gloo(rank, 2, osp.join(tmp, 'init'), timeout=TIMEOUT_S)
    if where == 'logger' and rank == 1:
        def refuse(self, *args, **kwargs):
            raise PermissionError(f"planted: [Errno 13] Permission denied: '{self.log_dir}'")
        Runner.build_logger = refuse
    hooks = [dict(type='OHLHook', spaces=SPACES, num_copies=1, ranks_per_copy=2, reward_key='accuracy/top1',
                  trunk_epochs=1)]
    if where == 'hook':
        hooks.append(dict(type=_Hook, fail_rank=1))
    out: dict = {}
    with recording(out):
        copies.CopyRunner(model=dict(type=_Net, fail_rank=1 if where == 'model' else -1,
                                     fail_to_rank=1 if where == 'wrapper' else -1),
                          work_dir=osp.join(tmp, 'work'), custom_hooks=hooks, default_scope='automl_mm',
                          launcher='pytorch',
                          cfg=dict(model_wrapper_cfg=dict(type='automl_mm.CopyDataParallel')),
                          env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=TIMEOUT_S)))
    _leave(tmp, rank, out)


PLANTED = {'logger': ("CopyRunner: building the runner (before the copies' process groups)",
                      'PermissionError: planted: [Errno 13] Permission denied:'),
           'model': ('CopyRunner: building the model',
                     'FileNotFoundError: planted: checkpoint not found: /data/pretrained.pth'),
           # the model moved to the device in mmengine's wrap_model, before CopyDataParallel (no collective) wraps it:
           # the other rank waited in the end's agreement until the timeout
           'wrapper': ("CopyRunner: building the runner (the model's wrapper, the hooks)",
                       'RuntimeError: planted: CUDA error: out of memory'),
           'hook': ("CopyRunner: building the runner (the model's wrapper, the hooks)",
                    "KeyError: 'planted: no such metric on this node'")}


@pytest.mark.parametrize('where', list(PLANTED))
def test_a_rank_whose_copy_runner_start_fails_stops_every_rank(tmp_path, where):
    fork_ranks(_rank, (str(tmp_path), where), timeout=120)
    outs = _outcomes(tmp_path, 2)
    what, cause = PLANTED[where]
    assert outs[1]['error'].startswith(cause), outs
    assert outs[0]['error'].startswith(f'RankFailure: {what} failed on rank 1 ({cause}'), outs
    assert all(out['seconds'] < PROMPT_S for out in outs), outs  # not after the 30 s timeout


def _groups_rank(rank: int, tmp: str) -> None:
    import torch.distributed as torch_dist


    join_gloo(rank, 4, osp.join(tmp, 'init'), timeout=TIMEOUT_S)
    if rank >= 2:  # copy 1's ranks cannot connect their group
        def new_group(ranks, **kwargs):
            if ranks == [2, 3]:
                raise RuntimeError(f'planted: gloo connectFullMesh failed on rank {rank}')
            return real(ranks, **kwargs)
        real, torch_dist.new_group = torch_dist.new_group, new_group
    _layout_outcome(tmp, rank, TIMEOUT_S)


def test_a_copy_group_that_cannot_be_created_stops_every_rank(tmp_path):
    fork_ranks(_groups_rank, (str(tmp_path),), nprocs=4, timeout=120)
    outs = _outcomes(tmp_path, 4)
    for r in (2, 3):
        assert outs[r]['error'] == f'RuntimeError: planted: gloo connectFullMesh failed on rank {r}', outs
    for r in (0, 1):
        assert outs[r]['error'].startswith(
            "RankFailure: CopyRunner: creating the copies' process groups (num_copies=2 x ranks_per_copy=2) failed on "
            'rank 2 (RuntimeError: planted: gloo connectFullMesh failed on rank 2)'), outs
    assert all(out['seconds'] < PROMPT_S for out in outs), outs


#: Where one rank's creation of the copies' groups fails, alone: ``'inside'``, rank 1 in ``new_group`` of its own
#: copy's group ``[0, 1]`` (before it connects); ``'between'``, rank 2 after ``new_group([0, 1])`` returned and before
#: ``new_group([2, 3])`` (an error while building the next rank list). Its copy's other rank waited in its group's
#: gloo connection until the group's timeout (then raised a bare timeout naming nothing), the other copy in the
#: world's agreement until then.
ONE_RANK = {'inside': (1, 'RuntimeError: planted: new_group([0, 1]) refused on rank 1'),
            'between': (2, 'IndexError: planted: rank list of copy 1 on rank 2')}
ONE_RANK_TIMEOUT_S = 10


def _one_rank_groups_rank(rank: int, tmp: str, where: str) -> None:
    import torch.distributed as torch_dist


    join_gloo(rank, 4, osp.join(tmp, 'init'), timeout=ONE_RANK_TIMEOUT_S)
    failing, cause = ONE_RANK[where]
    if rank == failing:
        def new_group(ranks, **kwargs):
            if where == 'inside' and ranks == [0, 1]:
                raise RuntimeError(cause.partition(': ')[2])
            group = real(ranks, **kwargs)
            if where == 'between' and ranks == [0, 1]:
                raise IndexError(cause.partition(': ')[2])
            return group
        real, torch_dist.new_group = torch_dist.new_group, new_group
    _layout_outcome(tmp, rank, ONE_RANK_TIMEOUT_S)


@pytest.mark.parametrize('where', list(ONE_RANK))
def test_one_rank_whose_copy_group_fails_alone_stops_every_rank_at_once(tmp_path, where):
    fork_ranks(_one_rank_groups_rank, (str(tmp_path), where), nprocs=4, timeout=60)  # a hang fails here
    outs = _outcomes(tmp_path, 4)
    failing, cause = ONE_RANK[where]
    assert outs[failing]['error'] == cause, outs
    for r in set(range(4)) - {failing}:  # its copy's other rank too, which waited in the group's connection
        assert outs[r]['error'].startswith(
            "RankFailure: CopyRunner: creating the copies' process groups (num_copies=2 x ranks_per_copy=2) failed on "
            f'rank {failing} ({cause})'), (r, outs)
    assert all(out['seconds'] < ONE_RANK_TIMEOUT_S / 2 for out in outs), outs  # not at the group's timeout


@pytest.mark.parametrize('before', [None, '0'])
def test_the_copy_groups_lazy_gloo_switch_is_put_back(monkeypatch, before):
    import os

    from automl_mm.ohl import copies

    if before is None:
        monkeypatch.delenv(copies.GLOO_LAZY_INIT, raising=False)
    else:
        monkeypatch.setenv(copies.GLOO_LAZY_INIT, before)
    with pytest.raises(KeyError), copies._connecting_later():
        assert os.environ[copies.GLOO_LAZY_INIT] == '1'
        raise KeyError('planted')
    assert os.environ.get(copies.GLOO_LAZY_INIT) == before


@pytest.mark.parametrize('cfg, starts_none', [
    (dict(type='automl_mm.CopyDataParallel'), True), (dict(type='CopyDataParallel', _scope_='automl_mm'), True),
    (None, False), (dict(type='MMDistributedDataParallel'), False),
    (dict(type='MMSeparateDistributedDataParallel'), False), (dict(type='NoSuchWrapper'), False)])
def test_only_copy_data_parallel_is_agreed_on_before_its_start(cfg, starts_none):
    """A wrapper whose start holds a collective over the world (a DDP's) cannot be agreed on before it starts: the
    others would wait in the agreement while the failing rank's peers wait in the DDP's start."""
    from automl_mm.ohl.copy_groups import _starts_no_collective

    assert _starts_no_collective(cfg) is starts_none


def _connect_rank(rank: int, tmp: str) -> None:

    from automl_mm.engine import rank_failures

    join_gloo(rank, 4, osp.join(tmp, 'init'), timeout=ONE_RANK_TIMEOUT_S)
    if rank >= 2:  # copy 1's ranks cannot connect their group (its first collective)
        def any_rank_failed(failure, group=None):
            if group is not None:
                raise RuntimeError(f'planted: gloo connectFullMesh failed on rank {rank}')
            return real(failure, group)
        real, rank_failures.any_rank_failed = rank_failures.any_rank_failed, any_rank_failed
    _layout_outcome(tmp, rank, ONE_RANK_TIMEOUT_S)


def test_a_copy_group_that_cannot_connect_stops_every_rank(tmp_path):
    fork_ranks(_connect_rank, (str(tmp_path),), nprocs=4, timeout=60)
    outs = _outcomes(tmp_path, 4)
    for r in (2, 3):
        assert outs[r]['error'] == f'RuntimeError: planted: gloo connectFullMesh failed on rank {r}', outs
    for r in (0, 1):
        assert outs[r]['error'].startswith(
            "RankFailure: CopyRunner: creating the copies' process groups (num_copies=2 x ranks_per_copy=2): "
            'connecting them failed on rank 2 (RuntimeError: planted: gloo connectFullMesh failed on rank 2)'), outs
    assert all(out['seconds'] < ONE_RANK_TIMEOUT_S / 2 for out in outs), outs
