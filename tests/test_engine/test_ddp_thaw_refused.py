"""A parameter made trainable after its DDP wrapper was built is never all-reduced: the ranks' weights drift apart.

torch's ``DistributedDataParallel`` registers its reducer's hooks on the parameters that required a gradient when it
was built; a parameter thawed later (a user's hook 'unfreeze the backbone at epoch k') trains on each rank's own
gradient, under ``find_unused_parameters=True`` too, and in an OHL copy of several ranks (``CopyDataParallel``, whose
DDP is built at the first training step). Real 2-rank gloo runs of a tiny mmengine ``Runner`` whose custom hook sets
``requires_grad=True`` on a frozen layer at epoch 1: ``LearnedStateHook`` refuses each at the first iteration of
that epoch on every rank (:func:`automl_mm.engine.learned_state.check_ddp_reduces_thawed`), naming the
parameter; a thaw inside an iteration (a lower-priority ``before_train_iter`` hook), the run's last included, at
that iteration's end. A layer frozen later under ``find_unused_parameters=True`` is fine: DDP finds it unused and
it keeps its weights, equal on the ranks.
"""
from __future__ import annotations

import os

import pytest
import torch
from _forked_ranks import RankInputs, fork_ranks, join_gloo
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

WRAPPERS = dict(copy=dict(type='automl_mm.CopyDataParallel'),
                copy_unused=dict(type='automl_mm.CopyDataParallel', find_unused_parameters=True),
                mmengine=dict(type='MMDistributedDataParallel', device_ids=None),  # CPU: not LOCAL_RANK's device
                mmengine_unused=dict(type='MMDistributedDataParallel', device_ids=None, find_unused_parameters=True))

BUILT = dict(mmengine='Runner.__init__ (Runner.wrap_model, MMDistributedDataParallel)',
             copy="the OHL copy's first training step (CopyDataParallel)")
BUILT.update(mmengine_unused=BUILT['mmengine'], copy_unused=BUILT['copy'])


class _Net(BaseModel):
    def __init__(self, frozen: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, 1)
        self.stem.requires_grad_(not frozen)

    def forward(self, inputs, mode='loss'):
        if mode != 'loss':  # validation: one output per point
            return list(self.head(self.stem(inputs)))
        return dict(loss=(self.head(self.stem(inputs)) - 1).square().mean())


class _SetStem(Hook):
    """At epoch 1 (at iteration ``at_iter`` instead, where given), the stem's ``requires_grad`` becomes ``value`` (a
    fine-tuning schedule's thaw, or a freeze)."""

    def __init__(self, value: bool, at_iter: int | None = None) -> None:
        self.value, self.at_iter = value, at_iter

    def before_train_epoch(self, runner) -> None:
        if runner.epoch == 1 and self.at_iter is None:
            runner.model.module.stem.requires_grad_(self.value)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter == self.at_iter:
            runner.model.module.stem.requires_grad_(self.value)


class _NoMetric(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.append(0)

    def compute_metrics(self, results) -> dict:
        return dict(none=0.)


def _rank(rank: int, tmp, wrapper: str, thaw: bool, by_iter: bool = False, validate: bool = True,
          at_iter: int = 1) -> None:
    import torch.distributed as dist

    from automl_mm.engine.runner_checks import checked_by_tool
    from automl_mm.ohl.copies import init_copy_layout, reset_copy_layout

    os.environ['LOCAL_RANK'] = str(rank)  # mmengine's wrap_model reads it (a forked rank's own environment)
    join_gloo(rank, 2, f'{tmp}/gloo_{wrapper}')
    try:
        init_copy_layout(num_copies=1, ranks_per_copy=2)
        loader = torch.utils.data.DataLoader(RankInputs(rank, (4,)), 2)  # 4 points, others on each rank
        # by_iter: an iteration loop of 6 validating every 2, the stem thawed at iteration at_iter (after the check
        # before that iteration)
        # (validate=False: no validation, the loop's only epoch)
        loop = dict(train_cfg=dict(by_epoch=False, max_iters=6, val_interval=2), val_dataloader=loader,
                    val_cfg=dict(), val_evaluator=[_NoMetric()]) if by_iter else dict(
                    train_cfg=dict(by_epoch=True, max_epochs=3))
        if by_iter and not validate:
            loop = dict(train_cfg=dict(by_epoch=False, max_iters=6))
        # the copy layout is made above, not by an OHLHook: the start's check refuses a CopyDataParallel without
        # one under launcher='pytorch', which is not what this test is about
        with checked_by_tool():
            runner = Runner(model=_Net(frozen=thaw), work_dir=str(tmp / wrapper), launcher='pytorch',
                            train_dataloader=loader, optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                            custom_hooks=[_SetStem(thaw, at_iter if by_iter else None)],
                            default_hooks=dict(checkpoint=None),
                            cfg=dict(model_wrapper_cfg=WRAPPERS[wrapper]), **loop)
        try:
            runner.train()
        except ValueError as err:
            (tmp / f'{wrapper}_refused{rank}.txt').write_text(f'{runner.iter}: {err}')
            return
        torch.save(dict(state=runner.model.module.state_dict(), iters=runner.iter), tmp / f'{wrapper}_rank{rank}.pt')
    finally:
        reset_copy_layout()
        dist.destroy_process_group()


@pytest.mark.parametrize('wrapper', ['mmengine', 'mmengine_unused', 'copy', 'copy_unused'])
def test_a_parameter_thawed_after_the_ddp_wrap_is_refused_at_that_epoch_on_every_rank(tmp_path, wrapper):
    fork_ranks(_rank, (tmp_path, wrapper, True))
    ranks = [tmp_path / f'{wrapper}_rank{rank}.pt' for rank in range(2)]
    if all(p.exists() for p in ranks):  # trained through (the fix reverted): the thawed stem differs on the ranks
        states = [torch.load(p, weights_only=False)['state'] for p in ranks]
        equal = {key: torch.allclose(states[0][key], states[1][key], atol=1e-6) for key in states[0]}
        pytest.fail(f'trained through; equal on the two ranks: {equal}')
    for rank in range(2):
        message = (tmp_path / f'{wrapper}_refused{rank}.txt').read_text()
        # epoch 1's first iteration, 2 iterations trained: before any step on the thawed stem
        assert message.startswith('2: epoch 1, iteration 2: 2 parameters were made trainable (requires_grad=True) '
                                  "after the model was wrapped in DistributedDataParallel, at " + BUILT[wrapper]
                                  + ": ['stem.bias', 'stem.weight']. DDP all-reduces only"), message
        assert 'find_unused_parameters=True does not change that' in message and 'load_from' in message


@pytest.mark.parametrize('wrapper', ['mmengine_unused', 'copy_unused'])
def test_a_parameter_frozen_later_under_find_unused_parameters_trains_on_equal_on_the_ranks(tmp_path, wrapper):
    """DDP finds the frozen stem unused: no gradient, no step; the head trains averaged. 3 epochs x 2 iterations."""
    fork_ranks(_rank, (tmp_path, wrapper, False))
    states = [torch.load(tmp_path / f'{wrapper}_rank{rank}.pt', weights_only=False) for rank in range(2)]
    assert [s['iters'] for s in states] == [6, 6]
    for key in ('stem.weight', 'stem.bias', 'head.weight', 'head.bias'):
        assert torch.allclose(states[0]['state'][key], states[1]['state'][key], atol=1e-6), key


@pytest.mark.parametrize('wrapper', ['mmengine', 'copy'])
def test_a_parameter_frozen_later_under_a_fixed_reduction_stops_in_torch(tmp_path, wrapper):
    """Without find_unused_parameters, DDP waits for the frozen stem's gradient: torch stops the next iteration."""
    with pytest.raises(Exception, match='Expected to have finished reduction in the prior iteration'):
        fork_ranks(_rank, (tmp_path, wrapper, False))


def _separate(rank: int, tmp) -> None:
    """MMSeparateDistributedDataParallel over a 1-rank gloo group: the stem child, frozen at the wrap, is left
    unwrapped (reduced by none); the head child's DDP reduces its weight only (its bias frozen at the wrap). Then a
    plain DDP of a model that tells it to ignore the trainable head.weight (``_ddp_params_and_buffers_to_ignore``):
    not named."""
    import torch.distributed as dist
    from mmengine.model import MMSeparateDistributedDataParallel

    from automl_mm.engine.learned_state import check_ddp_reduces_thawed, ddp_unreduced_trainable

    dist.init_process_group('gloo', init_method=f'file://{tmp}/gloo_separate', rank=0, world_size=1)
    try:
        net = _Net(frozen=True)
        net.head.bias.requires_grad_(False)
        model = MMSeparateDistributedDataParallel(net, find_unused_parameters=True)
        found = [ddp_unreduced_trainable(model)]
        check_ddp_reduces_thawed(model, 'epoch 0')  # nothing thawed: passes
        net.requires_grad_(True)
        found.append(ddp_unreduced_trainable(model))
        try:
            check_ddp_reduces_thawed(model, 'epoch 2')
        except ValueError as err:
            found.append(str(err))
        from torch.nn.parallel import DistributedDataParallel
        net = _Net(frozen=False)
        net._ddp_params_and_buffers_to_ignore = ['head.weight']
        found.append(ddp_unreduced_trainable(DistributedDataParallel(net)))
        torch.save(found, tmp / 'separate.pt')
    finally:
        dist.destroy_process_group()


def test_mmengines_separate_ddp_a_thawed_parameter_of_an_unwrapped_child_or_a_childs_ddp_is_named(tmp_path):
    fork_ranks(_separate, (tmp_path,), nprocs=1)
    before, after, message, ignored = torch.load(tmp_path / 'separate.pt', weights_only=False)
    assert ignored == ([], 'Runner.__init__ (Runner.wrap_model, DistributedDataParallel)')
    built = 'Runner.__init__ (Runner.wrap_model, MMSeparateDistributedDataParallel)'
    assert before == ([], built)
    assert after == (['head.bias', 'stem.bias', 'stem.weight'], built)
    assert message.startswith("epoch 2: 3 parameters were made trainable (requires_grad=True) after the model was "
                              f"wrapped in DistributedDataParallel, at {built}: ['head.bias', 'stem.bias', "
                              "'stem.weight']. "), message


@pytest.mark.parametrize('wrapper', ['mmengine_unused', 'copy'])
def test_an_iteration_loop_is_refused_at_the_end_of_the_thawing_iteration(tmp_path, wrapper):
    """An iteration loop's one epoch: the stem, thawed by a hook at iteration 1 (after the check before it), is
    refused at that iteration's end, before the validation at 2."""
    fork_ranks(_rank, (tmp_path, wrapper, True, True))
    for rank in range(2):
        message = (tmp_path / f'{wrapper}_refused{rank}.txt').read_text()
        assert message.startswith('1: the end of epoch 0, iteration 1: 2 parameters were made trainable'), message
        assert "['stem.bias', 'stem.weight']" in message


@pytest.mark.parametrize('wrapper', ['mmengine_unused', 'copy'])
def test_an_iteration_loop_without_validation_is_refused_at_the_end_of_the_thawing_iteration(tmp_path, wrapper):
    """An iteration loop of 6 without validation (one epoch, no val): the stem, thawed by a hook at iteration 1
    (after the check before that iteration), is refused at its end on both ranks, not trained through."""
    fork_ranks(_rank, (tmp_path, wrapper, True, True, False))
    for rank in range(2):
        assert not (tmp_path / f'{wrapper}_rank{rank}.pt').exists(), 'trained through'
        message = (tmp_path / f'{wrapper}_refused{rank}.txt').read_text()
        assert message.startswith('1: the end of epoch 0, iteration 1: 2 parameters were made trainable'), message
        assert "['stem.bias', 'stem.weight']" in message


@pytest.mark.parametrize('wrapper', ['mmengine_unused', 'copy'])
def test_a_thaw_in_the_last_iteration_is_refused_at_its_end_not_trained_through(tmp_path, wrapper):
    """The stem thawed by a hook (NORMAL priority, after the check before the iteration) in the last iteration of 6
    (no validation): that iteration steps it on each rank's own gradient and no next iteration checks it; refused
    at the iteration's end on both ranks (LearnedStateHook.after_train_iter, before a checkpoint saves the drifted
    weights), not trained through."""
    fork_ranks(_rank, (tmp_path, wrapper, True, True, False, 5))
    for rank in range(2):
        saved = tmp_path / f'{wrapper}_rank{rank}.pt'
        if saved.exists():  # trained through (the fix reverted)
            states = [torch.load(tmp_path / f'{wrapper}_rank{r}.pt', weights_only=False)['state'] for r in range(2)]
            pytest.fail('trained through; stem.weight equal on the ranks: '
                        f'{torch.allclose(states[0]["stem.weight"], states[1]["stem.weight"], atol=1e-6)}')
        message = (tmp_path / f'{wrapper}_refused{rank}.txt').read_text()
        assert message.startswith('5: the end of epoch 0, iteration 5: 2 parameters were made trainable'), message
        assert "['stem.bias', 'stem.weight']" in message


def _fill_thawed(rank: int, tmp) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from automl_mm.engine.learned_state import check_ddp_reduces_trainable, ddp_reduced_parameters

    dist.init_process_group('gloo', init_method=f'file://{tmp}/gloo_fill', rank=0, world_size=1)
    try:
        net = _Net(frozen=True)
        model = DistributedDataParallel(net)
        built = ddp_reduced_parameters(model)
        net.stem.requires_grad_(True)  # as a weights' initialisation that thawed the stem would
        try:
            check_ddp_reduces_trainable(model, built)
        except ValueError as err:
            (tmp / 'fill.txt').write_text(str(err))
    finally:
        dist.destroy_process_group()


def test_a_parameter_thawed_by_the_fill_is_not_told_to_set_find_unused_parameters(tmp_path):
    """find_unused_parameters=True does not make DDP reduce a parameter thawed after the wrap: not advised for one."""
    fork_ranks(_fill_thawed, (tmp_path,), nprocs=1)
    message = (tmp_path / 'fill.txt').read_text()
    assert message.endswith("2 parameters made trainable (e.g. ['stem.weight', 'stem.bias']): DDP would not average "
                            'their gradients over the ranks, find_unused_parameters=True or not (see '
                            'check_ddp_reduces_thawed: make them trainable before the wrap).'), message


def _new_parameter(rank: int, tmp) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from automl_mm.engine.learned_state import LearnedStateHook

    dist.init_process_group('gloo', init_method=f'file://{tmp}/gloo_new', rank=0, world_size=1)
    try:
        net = _Net(frozen=False)
        runner = type('R', (), dict(model=DistributedDataParallel(net), epoch=0, iter=0))()
        hook = LearnedStateHook()
        hook.before_train_epoch(runner)
        hook.before_train_iter(runner, 0)  # lists the parameters no reducer holds: none
        net.head.weight = torch.nn.Parameter(torch.zeros(1, 4))  # a new, trainable parameter no reducer holds
        runner.epoch, runner.iter = 1, 2
        hook.before_train_epoch(runner)
        try:
            hook.before_train_iter(runner, 0)
        except ValueError as err:
            (tmp / 'new.txt').write_text(str(err))
    finally:
        dist.destroy_process_group()


def test_a_parameter_given_to_the_model_after_the_wrap_is_refused_at_the_next_epoch(tmp_path):
    """The parameters no reducer holds are listed at each epoch's start: one the model was given since (a new
    ``nn.Parameter`` assigned by a hook) is named there."""
    fork_ranks(_new_parameter, (tmp_path,), nprocs=1)
    message = (tmp_path / 'new.txt').read_text()
    assert message.startswith("epoch 1, iteration 2: 1 parameters were made trainable"), message
    assert "['head.weight']" in message
