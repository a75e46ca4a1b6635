"""The trunk-end broadcast copies the *whole* training state of the best copy, over a real gloo process group."""
from __future__ import annotations

import os.path as osp
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, outcome
from torch.distributed import all_reduce as bound_all_reduce  # bound at import, as a third-party module may
from torch.distributed import get_world_size as bound_get_world_size


def _state(runner, ema_hook) -> dict:
    ow = runner.optim_wrapper
    return {
        'model': {k: v.clone() for k, v in runner.model.state_dict().items()},
        'momentum': [ow.optimizer.state[p]['momentum_buffer'].clone() for p in runner.model.parameters()],
        'lr': [g['lr'] for g in ow.optimizer.param_groups],
        'scheduler': {k: v for k, v in runner.param_schedulers[0].state_dict().items() if k != 'optimizer'},
        'ema': {k: v.clone() for k, v in ema_hook.ema_model.state_dict().items()},
        'loss_scale': float(ow.loss_scaler.get_scale()),
        'optim_wrapper_keys': sorted(ow.state_dict()),
    }


class _PositivesHead(torch.nn.Module):
    """A training step that normalises by the positives as mmdet's dense heads do (``reduce_mean``)."""

    def train_step(self, data: float, optim_wrapper) -> torch.Tensor:
        from mmdet.utils import reduce_mean

        return reduce_mean(torch.tensor(data))


_BOUND_IN_STEP = []  # torch.distributed.all_reduce as a module imported inside a copy's step binds it


class _RankAtBuild(torch.nn.Module):
    """Keeps the rank and world size it is built in, as mmdet's ``BatchSyncRandomResize`` (YOLOX, RTMDet) does to
    decide which rank draws the next input size; its training step broadcasts the size from rank 0 (mmdet.models
    takes seconds to import in each process)."""

    def __init__(self) -> None:
        from mmengine.dist import get_dist_info

        super().__init__()
        self.rank, self.world_size = get_dist_info()


class _WorldHead(torch.nn.Module):
    """A training step that reaches the world every way but ``torch.distributed.<f>(..., group=None)``: each value is
    the rank's own (``data``, 1, 0) when the step sees its copy of one rank as the world."""

    def __init__(self, built: _RankAtBuild) -> None:
        super().__init__()
        self.built = built

    def train_step(self, data: float, optim_wrapper) -> dict:
        import mmengine.dist as mm_dist
        from torch.distributed import all_reduce

        _BOUND_IN_STEP.append(all_reduce)
        out = {}
        x = torch.tensor(data)
        torch_dist.all_reduce(x, group=torch_dist.group.WORLD)
        out['group_world'] = float(x)
        x = torch.tensor(data)
        mm_dist.all_reduce(x, 'mean')  # mmengine passes the default group, the world, explicitly
        out['mmengine_mean'] = float(x)
        out['mmengine_info'] = (mm_dist.get_world_size(), mm_dist.get_rank(), mm_dist.get_dist_info())
        x = torch.tensor(data)
        bound_all_reduce(x)
        out['bound_at_import'] = (float(x), bound_get_world_size())
        out['built'] = (self.built.rank, self.built.world_size)
        return out


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from mmengine.hooks import EMAHook
    from mmengine.model import ExponentialMovingAverage
    from mmengine.optim import AmpOptimWrapper, MultiStepLR

    from automl_mm.ohl.copies import CopyDataParallel, CopyLayout, CopyRunner, init_copy_layout
    from automl_mm.ohl.sync import broadcast_copy_state, fingerprint, gather_copy_values, gather_rows, verify_copies

    join_gloo(rank, 2, init_file)
    torch.manual_seed(rank)  # every piece of state differs between the two ranks
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1 * (rank + 1), momentum=0.9)
    with mock.patch('mmengine.optim.optimizer.amp_optimizer_wrapper.is_cuda_available', return_value=True):
        ow = AmpOptimWrapper(optimizer=optimizer)
    ow.loss_scaler = torch.amp.GradScaler('cpu', init_scale=2.0 ** (rank + 4))  # a working scaler on CPU
    scheduler = MultiStepLR(ow, milestones=[2, 4])
    ema_hook = EMAHook()
    ema_hook.ema_model = ExponentialMovingAverage(model, momentum=0.5)
    for _ in range(rank + 1):
        model(torch.randn(8, 3)).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        ema_hook.ema_model.update_parameters(model)
    runner = SimpleNamespace(model=model, optim_wrapper=ow, param_schedulers=[scheduler], hooks=[ema_hook])
    before = _state(runner, ema_hook)
    fingerprint_before = fingerprint(model)
    broadcast_copy_state(runner, src=1)
    # verify_sync's check over the real gather, copy 1 the best: both ranks now hold rank 1's weights
    theta = torch.tensor([0.25, -0.5], dtype=torch.float64)
    space = SimpleNamespace(distribution=SimpleNamespace(parameters=lambda: [theta]))
    sync_checks = verify_copies([space], model, fingerprint_before, 1, True, CopyLayout(2, 1, rank, 2), trunk=0)
    # the trunk end's gathers: rank r's row / copy c's applied values at index r / c on every rank
    gathered = gather_rows(torch.tensor([10.0 * rank + 1, rank]))
    space = SimpleNamespace(name='p', applied_values=lambda: {'model.p': 0.1 * (rank + 1)})
    copy_values = gather_copy_values([space], CopyLayout(2, 1, rank, 2))
    # the same two processes as 2 copies of one rank: mmdet's reduce_mean of a loss's positives (rank + 1 of them)
    # in a copy's training step is the copy's own count (it was the mean over the copies, 1.5, on both)
    init_copy_layout(2, 1)
    num_pos = float(CopyDataParallel(_PositivesHead()).train_step(float(rank + 1), ow))
    # the model built as CopyRunner builds it
    copy_runner = CopyRunner.__new__(CopyRunner)
    copy_runner._copy_counts = (2, 1)
    world = CopyDataParallel(_WorldHead(copy_runner.build_model(dict(type=_RankAtBuild)))).train_step(
        float(rank + 1), ow)
    x = torch.tensor(float(rank + 1))
    _BOUND_IN_STEP[0](x)  # bound inside the step, called after it: the world's again
    world['bound_in_step_after'] = float(x)
    # verify_sync's layout check over the real gather: rank 1 runs a later automl_mm (layout version 3, fingerprints
    # of 16 numbers); its rows' all_gather aborted rank 0 in gloo's C++ ('Received data size doesn't match expected
    # size'), naming neither size
    from automl_mm.ohl import copy_verification
    copy_verification.ROW_LAYOUT_VERSION += rank
    layouts = outcome(lambda: copy_verification.check_row_layouts(2, 12, 12 + 4 * rank, trunk=4))
    copy_verification.ROW_LAYOUT_VERSION -= rank
    torch.save({'before': before, 'after': _state(runner, ema_hook), 'num_pos': num_pos, 'world': world,
                'gathered': gathered, 'copy_values': copy_values, 'sync_checks': sync_checks,
                'fingerprints': (fingerprint_before, fingerprint(model)), 'layouts': layouts},
               osp.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


@pytest.fixture(scope='module')
def gloo_ranks(tmp_path_factory) -> tuple[dict, dict]:
    """What each of the two gloo processes of :func:`_worker` saved (one start for the tests of this file).

    The ranks are forked from this process with what they use imported here once (2 spawned processes, each
    importing torch, mmengine, mmdet and automl_mm, took about 7 s idle and 24 s on 2 busy cores). A forked rank
    holds this module as imported here: ``bound_all_reduce`` is the function bound at import that the copy-local
    collectives must find in ``sys.modules``, as in a spawned rank."""
    import mmdet.utils  # noqa: F401  (the positives head's reduce_mean)
    import mmengine.hooks  # noqa: F401
    import mmengine.optim  # noqa: F401

    import automl_mm.ohl.copies  # noqa: F401
    import automl_mm.ohl.sync  # noqa: F401

    tmp_path = tmp_path_factory.mktemp('gloo')
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)))
    return tuple(torch.load(str(tmp_path / f'rank{r}.pth'), weights_only=False) for r in range(2))


def test_broadcast_copies_weights_optimiser_scheduler_ema_and_loss_scaler(gloo_ranks):
    """Also: a copy's training step reduces over its own ranks (test_copy_local_collectives.py)."""
    r0, r1 = gloo_ranks
    assert 'loss_scaler' in r1['before']['optim_wrapper_keys']
    for key in ('model', 'momentum', 'lr', 'scheduler', 'ema', 'loss_scale'):
        assert not _equal(r0['before'][key], r1['before'][key]), key  # they differed before the broadcast
        assert _equal(r0['after'][key], r1['before'][key]), key  # rank 0 now holds the source's state
        assert _equal(r1['after'][key], r1['before'][key]), key  # and the source kept its own
    assert (r0['num_pos'], r1['num_pos']) == (1.0, 2.0)


def test_a_copys_step_sees_its_copy_as_the_world_however_it_reaches_it(gloo_ranks):
    """2 copies of one rank over gloo, copy c holding the value c + 1. Inside a copy's step, calls that reached the
    world by another way than ``group=None`` summed or averaged over both copies (3 and 1.5 on both) and said world
    size 2: ``group=group.WORLD`` named explicitly, mmengine's ``mmengine.dist`` functions (``all_reduce``,
    ``get_world_size``, ``get_rank``, ``get_dist_info``: they pass the default group explicitly), functions bound at
    import (``from torch.distributed import all_reduce``). A function bound inside a step stayed the copy's for the
    rest of the process (an evaluation or hook calling it reduced over one copy). A module that keeps
    ``get_dist_info()`` when ``CopyRunner`` builds the model, as mmdet's ``BatchSyncRandomResize`` does, kept the
    world's (rank 1 on copy 1, where the copy's broadcast of the next input size from its rank 0 then sent an
    uninitialised tensor: sizes such as (139958222265664, 94904757054112), seen with mmdet's own)."""
    for copy_id, rank in enumerate(gloo_ranks):
        own, world = float(copy_id + 1), rank['world']
        assert world['group_world'] == own
        assert world['mmengine_mean'] == own
        assert world['mmengine_info'] == (1, 0, (0, 1))
        assert world['bound_at_import'] == (own, 1)
        assert world['bound_in_step_after'] == 3.0  # after the step: the world's sum
        assert world['built'] == (0, 1)  # each copy's lead draws (copy 1's did not: rank 1)


def test_the_trunk_end_gathers_hold_each_rank_and_copy_at_its_index(gloo_ranks):
    """Rank r sent the row (10 r + 1, r) and, as copy r, the applied value 0.1 (r + 1): both ranks hold rank 0's row
    first and copy 0's value first. Red when the gathered rows or the copies' values are put in another order
    (copy 1's reward credited to copy 0's sample; every copy adopting another copy's value than the best's)."""
    for rank in gloo_ranks:
        torch.testing.assert_close(rank['gathered'], torch.tensor([[1.0, 0.0], [11.0, 1.0]], dtype=torch.float64))
        assert rank['copy_values'] == {'p': [{'model.p': 0.1}, {'model.p': 0.2}]}


def test_two_ranks_holding_the_same_weights_agree_on_their_fingerprints(gloo_ranks):
    """Two gloo processes whose models (a Linear and a BatchNorm1d, its int64 num_batches_tracked included)
    differed before the broadcast hold rank 1's weights after it: the same fingerprint on both, and verify_copies
    over the real gather passes every check."""
    (before0, after0), (before1, after1) = (rank['fingerprints'] for rank in gloo_ranks)
    assert not torch.equal(before0, before1) and torch.equal(after0, after1) and torch.equal(after1, before1)
    for rank in gloo_ranks:
        assert rank['sync_checks'] == dict(theta_identical=True, copies_identical=True, copies_equal_best=True,
                                           ranks_in_copy_identical=True)


def test_copies_equal_best_is_false_while_a_copy_differs_from_the_best():
    """After a trunk that did not broadcast (broadcast_interval > 1) the history recorded copies_equal_best=True
    whenever copy 0 was the best, while copy 1 held other weights (copies_identical False in the same record): only
    rank 0 was compared with the best copy."""
    from automl_mm.ohl.copies import CopyLayout
    from automl_mm.ohl.sync import fingerprint, verify_copies

    torch.manual_seed(0)
    copy0, copy1 = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    theta = torch.zeros(3, dtype=torch.float64)
    space = SimpleNamespace(distribution=SimpleNamespace(parameters=lambda: [theta]))
    fp0, fp1 = fingerprint(copy0), fingerprint(copy1)

    def check(best, after1, broadcasted):
        rows = torch.stack([torch.cat([theta, fp0, fp0]), torch.cat([theta, fp1, after1])])
        with mock.patch('automl_mm.ohl.copy_verification.gather_rows', return_value=rows):
            return verify_copies([space], copy0, fp0, best, broadcasted, CopyLayout(2, 1, 0, 2), trunk=2)

    apart = check(best=0, after1=fp1, broadcasted=False)  # copy 1 kept its own weights
    assert not apart['copies_identical'] and not apart['copies_equal_best']
    assert not check(best=1, after1=fp1, broadcasted=False)['copies_equal_best']
    assert check(best=0, after1=fp0, broadcasted=True)['copies_equal_best']  # broadcast from copy 0


def test_weight_fingerprints_do_not_depend_on_the_order_of_the_reduction(monkeypatch):
    """verify_sync compares the fingerprints each rank computes of its own weights: a float64 sum of the values
    rounds by the order of its reduction, which another GPU, CPU (AVX2 or AVX-512 kernels) or torch build changes
    (1, 1e16, -1e16 summed forward give 0, backward 1), and a mixed cluster's copies holding the same bits failed the
    check ('copies identical: False'). Here the sums run backward, as another build's might: the same fingerprint."""
    from automl_mm.ohl.sync import fingerprint

    model = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight[:] = torch.tensor([[1.0, 1e16, -1e16]])
    forward = fingerprint(model)
    tensor_sum = torch.Tensor.sum
    monkeypatch.setattr(torch.Tensor, 'sum', lambda self, *args, **kwargs: tensor_sum(
        self.flatten().flip(0) if not args and not kwargs else self, *args, **kwargs))
    assert torch.equal(fingerprint(model), forward)
    with torch.no_grad():
        model.weight[0, 0] = torch.nextafter(model.weight[0, 0], torch.tensor(2.0))  # one bit apart: another one
    assert not torch.equal(fingerprint(model), forward)


def test_ranks_of_different_fingerprints_both_refuse_naming_both_layouts(gloo_ranks):
    """Over the real gloo group, rank 1 at layout version 3 with a fingerprint of 16 numbers: both ranks raise the
    same RuntimeError before the rows' gather, naming the trunk, both layouts and the fix."""
    errors = [rank['layouts'] for rank in gloo_ranks]
    assert errors[0] == errors[1], errors
    error = errors[0]
    assert error.startswith("RuntimeError: OHL trunk 4: verify_sync cannot compare the ranks' weights"), error
    assert 'ranks [0]: layout version 2, theta 2 numbers, fingerprints 12 + 12 numbers (a row of 26)' in error
    assert 'ranks [1]: layout version 3, theta 2 numbers, fingerprints 12 + 16 numbers (a row of 30)' in error
    assert 'install the same automl_mm on every node' in error
