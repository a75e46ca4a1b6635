"""FairPathSampler (FairNAS strict fairness): every operator once per block of m iterations, one optimiser update
per block through mmengine's gradient accumulation, and the summed-gradient SGD settings."""
from __future__ import annotations

from collections import Counter

import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from automl_mm.nas import FairPathSampler, LayerwiseSpace, PathSamplingHook, UniformPathSampler, fair_sum_accumulation
from automl_mm.nas.spaces import StageAllocationSpace
from automl_mm.testing import check_path_sampler


def _fair(options) -> FairPathSampler:
    return FairPathSampler(LayerwiseSpace(options))


def test_every_op_of_every_layer_once_per_block():
    sampler = _fair([['k3e3', 'k5e6', 'skip']] * 4)
    m = sampler.paths_per_update
    assert m == 3
    blocks = []
    for b in range(40):
        block = [sampler.sample_at(0, b * m + k) for k in range(m)]
        for layer in range(4):
            assert sorted(p[layer] for p in block) == [0, 1, 2], (b, block)
        blocks.append(tuple(block))
        assert block == sampler.block(0, b)
    # the permutations are random: blocks differ, and every op appears at every position of a block
    assert len(set(blocks)) > 30
    assert {blocks[b][k][0] for b in range(40) for k in range(m)} == {0, 1, 2}
    assert {p[1] for b in blocks for p in b[:1]} == {0, 1, 2}


def test_layers_with_fewer_candidates_are_as_fair_as_they_can_be():
    sampler = _fair([['a', 'b', 'c', 'd'], ['x', 'y'], ['u', 'v', 'w']])
    m = sampler.paths_per_update
    assert m == 4
    for b in range(30):
        block = sampler.block(7, b)
        assert sorted(p[0] for p in block) == [0, 1, 2, 3]
        assert sorted(Counter(p[1] for p in block).values()) == [2, 2]  # floor / ceil(4 / 2)
        assert sorted(Counter(p[2] for p in block).values()) == [1, 1, 2]  # all three, one of them twice


def test_draws_depend_on_seed_and_iteration_only():
    options = [['k3e3', 'k5e6', 'skip']] * 4
    a = [_fair(options).sample_at(3, it) for it in range(30)]
    b = [_fair(options).sample_at(3, it) for it in reversed(range(30))][::-1]  # any call order
    c = [_fair(options).sample_at(4, it) for it in range(30)]
    assert a == b and a != c


def test_constrained_spaces_are_refused_for_the_fair_schedule():
    sampler = FairPathSampler(StageAllocationSpace([[1, 2, 3]] * 4, total_blocks=8))
    with pytest.raises(ValueError, match='StageAllocationSpace constrains'):
        sampler.sample_at(0, 0)
    check_path_sampler(dict(type='FairPathSampler'), dict(type='DilationSpace', choices=(1, 2, 3), num_blocks=4))


class _ScalarSupernet(nn.Module):
    """Each operator is one scalar; the loss of a path is the sum of its operators' scalars, so the gradient of
    an operator is the number of paths of the accumulation block that ran it (divided by m by mmengine)."""

    def __init__(self, layers: int = 4, ops: int = 3) -> None:
        super().__init__()
        self.layer_choices = [[f'op{j}' for j in range(ops)]] * layers
        self.weights = nn.Parameter(torch.zeros(layers, ops))
        self.path = (0, ) * layers

    def set_path(self, path) -> None:
        self.path = tuple(path)

    def forward(self) -> torch.Tensor:
        return sum(self.weights[i, j] for i, j in enumerate(self.path))


class _Runner:
    def __init__(self, model, optim_wrapper, max_iters):
        self.model, self.optim_wrapper, self.max_iters = model, optim_wrapper, max_iters
        self.seed, self.iter = 5, 0


def _train_with_hook(sampler: dict, blocks: int = 20, accumulative_counts: int = 3) -> list[torch.Tensor]:
    """Train the scalar supernet through PathSamplingHook and a real OptimWrapper; the weights after each block."""
    model = _ScalarSupernet()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0), accumulative_counts=accumulative_counts)
    runner = _Runner(model, wrapper, 3 * blocks)
    hook = PathSamplingHook(space=dict(type='LayerwiseSpace'), sampler=sampler)
    hook.before_train(runner)
    wrapper.initialize_count_status(model, 0, runner.max_iters)
    after = []
    for it in range(runner.max_iters):
        runner.iter = it
        hook.before_train_iter(runner, it)
        wrapper.update_params(model())
        if (it + 1) % 3 == 0:
            after.append(model.weights.detach().clone())
    return after


def test_fair_training_moves_every_operator_once_per_update():
    after = _train_with_hook(dict(type='FairPathSampler'))
    before = torch.zeros(4, 3)
    for weights in after:
        # one update per block; each operator got exactly one path's gradient, averaged over the m = 3 paths
        torch.testing.assert_close(weights - before, torch.full((4, 3), -1 / 3))
        before = weights
    # the uniform single-path sampler under the same accumulation is not fair: some operator moves 0 or 2/3
    uniform = _train_with_hook(dict(type='UniformPathSampler'))
    steps = [uniform[0]] + [b - a for a, b in zip(uniform, uniform[1:])]
    assert any(not torch.allclose(s, torch.full((4, 3), -1 / 3)) for s in steps)


def test_the_hook_requires_the_accumulation_of_m_iterations():
    with pytest.raises(ValueError, match=r'accumulative_counts=3 \(got \[1\]\)'):
        _train_with_hook(dict(type='FairPathSampler'), accumulative_counts=1)
    model = _ScalarSupernet()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0), accumulative_counts=3)
    hook = PathSamplingHook(space=dict(type='LayerwiseSpace'), sampler=dict(type='FairPathSampler'))
    with pytest.raises(ValueError, match='max_iters=10 is not a multiple of 3'):
        hook.before_train(_Runner(model, wrapper, 10))
    from mmengine.hooks import CheckpointHook

    runner = _Runner(model, wrapper, 12)
    runner.hooks = [CheckpointHook(interval=5, by_epoch=False)]
    with pytest.raises(ValueError, match=r'default_hooks.checkpoint.interval=5 \(by iteration\) would save inside an '
                                         r'update.*multiple of 3'):
        hook.before_train(runner)
    for interval in (6, 13):  # a multiple of 3; past the end (never saves)
        runner.hooks = [CheckpointHook(interval=interval, by_epoch=False)]
        hook.before_train(runner)
    # by epoch (10 iterations each, 30 in all): a save after epoch 1 fell inside the update of iterations 9-11 and
    # a resume from it trained that update on one path of three (one operator per layer moved 3.0, not 10/3)
    runner = _Runner(model, wrapper, 30)
    runner.train_dataloader = [None] * 10
    runner.hooks = [CheckpointHook(interval=1, by_epoch=True)]
    with pytest.raises(ValueError, match=r'default_hooks.checkpoint.interval=1 \(by epoch, 10 iterations per epoch\) '
                                         r'saves after 10 iterations, inside an update'):
        hook.before_train(runner)
    for interval in (3, 4):  # every 30 iterations (the end only); every 40 (never)
        runner.hooks = [CheckpointHook(interval=interval, by_epoch=True)]
        hook.before_train(runner)
    runner.train_dataloader = [None] * 9
    runner.max_iters = 27
    runner.hooks = [CheckpointHook(interval=1, by_epoch=True)]
    hook.before_train(runner)  # 9 iterations per epoch: every save between updates
    # save_begin shifts every save (mmengine saves after step n when (n - save_begin) % interval == 0): interval 6
    # from iteration 4 saved after 4, 10, 16, ... (each inside an update) and was accepted
    runner = _Runner(model, wrapper, 30)
    runner.hooks = [CheckpointHook(interval=6, by_epoch=False, save_begin=4)]
    with pytest.raises(ValueError, match=r'interval=6, save_begin=4 \(by iteration\) would save after iteration 4, '
                                         r'inside an update.*multiple of 3'):
        hook.before_train(runner)
    runner.hooks = [CheckpointHook(interval=6, by_epoch=False, save_begin=3)]
    hook.before_train(runner)  # after 3, 9, 15, ...: between updates
    runner = _Runner(model, wrapper, 60)
    runner.train_dataloader = [None] * 10
    runner.hooks = [CheckpointHook(interval=3, by_epoch=True, save_begin=1)]  # after epochs 1, 4: 10, 40 iterations
    with pytest.raises(ValueError, match=r'interval=3, save_begin=1 \(by epoch, 10 iterations per epoch\) saves '
                                         r'after 10 iterations, inside an update'):
        hook.before_train(runner)
    # single-path samplers need nothing
    PathSamplingHook(space=dict(type='LayerwiseSpace')).before_train(_Runner(model, wrapper, 10))
    assert UniformPathSampler.paths_per_update == 1


def _sgd_run(optimizer_cfg: dict, accumulative_counts: int, summed: bool, batches, steps_per_batch=1,
             max_norm=None):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    cfg = dict(optimizer_cfg)
    cfg.pop('type')
    optimizer = torch.optim.SGD(model.parameters(), **cfg)
    if summed:  # FairNAS, Algorithm 1: sum the m gradients, one step
        for i in range(0, len(batches), accumulative_counts):
            optimizer.zero_grad()
            for x, y in batches[i:i + accumulative_counts]:
                nn.functional.mse_loss(model(x), y).backward()
            if max_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
    else:
        wrapper = OptimWrapper(optimizer, accumulative_counts=accumulative_counts,
                               clip_grad=None if max_norm is None else dict(max_norm=max_norm))
        wrapper.initialize_count_status(model, 0, len(batches))
        for x, y in batches:
            wrapper.update_params(nn.functional.mse_loss(model(x), y))
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize('nesterov', [False, True])
def test_summed_accumulation_settings_reproduce_the_fairnas_step(nesterov):
    generator = torch.Generator().manual_seed(1)
    batches = [(torch.randn(4, 3, generator=generator), torch.randn(4, 2, generator=generator)) for _ in range(12)]
    sgd = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=nesterov)
    wrapper, schedulers = fair_sum_accumulation(dict(type='OptimWrapper', optimizer=sgd),
                                                [dict(type='CosineAnnealingLR', eta_min=5e-3, by_epoch=False),
                                                 dict(type='LinearLR', start_factor=0.1)], 3)
    assert wrapper['accumulative_counts'] == 3 and sgd['lr'] == 0.1  # the inputs are not modified
    assert schedulers[0]['eta_min'] == pytest.approx(1.5e-2) and schedulers[1]['start_factor'] == 0.1
    reference = _sgd_run(sgd, 3, True, batches)
    ours = _sgd_run(wrapper['optimizer'], 3, False, batches)
    for a, b in zip(reference, ours):
        torch.testing.assert_close(a, b)
    # gradient clipping of the sum at c = clipping of the mean at c / m
    clipped, _ = fair_sum_accumulation(dict(type='OptimWrapper', optimizer=sgd, clip_grad=dict(max_norm=0.05)), None,
                                       3)
    assert clipped['clip_grad'] == dict(max_norm=pytest.approx(0.05 / 3))
    reference = _sgd_run(sgd, 3, True, batches, max_norm=0.05)
    ours = _sgd_run(clipped['optimizer'], 3, False, batches, max_norm=clipped['clip_grad']['max_norm'])
    for a, b in zip(reference, ours):
        torch.testing.assert_close(a, b)
    # mmengine's plain averaging with the SPOS settings is a different (m times smaller) step
    plain = _sgd_run(sgd, 3, False, batches)
    assert not torch.allclose(reference[0], plain[0])


def test_summed_accumulation_refuses_what_it_cannot_convert():
    sgd = dict(type='SGD', lr=0.1)
    with pytest.raises(ValueError, match='optim_wrapper.optimizer.lr must be a number'):
        fair_sum_accumulation(dict(type='OptimWrapper', optimizer=dict(type='SGD')), None, 3)
    with pytest.raises(ValueError, match='clip_grad=.* has neither max_norm nor clip_value'):
        fair_sum_accumulation(dict(type='OptimWrapper', optimizer=sgd, clip_grad=dict(norm_type=2)), None, 3)
    with pytest.raises(ValueError, match='optim_wrapper.optimizer.type must be SGD'):
        fair_sum_accumulation(dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)), None, 3)
    with pytest.raises(ValueError, match='accumulative_counts is already 2'):
        fair_sum_accumulation(dict(type='OptimWrapper', optimizer=sgd, accumulative_counts=2), None, 3)
    with pytest.raises(ValueError, match=r"param_scheduler\[0\].type='OneCycleLR'"):
        fair_sum_accumulation(dict(type='OptimWrapper', optimizer=sgd), dict(type='OneCycleLR', eta_max=1), 3)


def test_the_search_loops_refuse_a_multi_path_sampler():
    """PCNASLoop / CRNASLoop step the optimiser after every path: a FairPathSampler there would silently train
    without its accumulation."""
    from automl_mm.nas.loop import SearchLoopBase

    loop = object.__new__(SearchLoopBase)
    loop._iter = 0
    with pytest.raises(ValueError, match=r'sampler FairPathSampler trains 3 paths per optimiser update.*'
                                         r'accumulative_counts=3'):
        loop.train_until(10, None, _fair([['k3e3', 'k5e6', 'skip']] * 2))
