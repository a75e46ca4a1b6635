"""``auto_scale_lr`` (``tools/train.py --auto-scale-lr``) scales by the batch one optimiser step learns from: with
``optim_wrapper.accumulative_counts=k`` that is world size x batch size x k. mmengine's ``Runner.scale_lr`` left k
out (mmengine PR #1080), so 4 accumulated batches of 2 standing for a base batch of 8 trained at a quarter of the
lr; automl_mm's patch of ``Runner.scale_lr`` counts it (each wrapper of an ``OptimWrapperDict`` by its own)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.runner import Runner

import automl_mm  # noqa: F401  (installs the patches)


def _wrapper(lr: float = 0.1, counts: int = 1) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=lr), accumulative_counts=counts)


def _scale(optim_wrapper, base: int, batch_size: int = 2, world_size: int = 1, enable: bool = True) -> None:
    runner = SimpleNamespace(world_size=world_size, _train_dataloader=dict(batch_size=batch_size),
                             logger=MMLogger.get_current_instance(), param_schedulers=None)
    Runner.scale_lr(runner, optim_wrapper, dict(enable=enable, base_batch_size=base))


def _lr(wrapper) -> float:
    return wrapper.optimizer.param_groups[0]['lr']


@pytest.mark.parametrize('counts, world_size, expected', [
    (4, 1, 0.1),  # 1 x 2 x 4 = 8: the base batch, lr kept (mmengine: 0.025)
    (2, 1, 0.05),  # 4 of 8
    (1, 1, 0.025),  # no accumulation: mmengine's rule, unchanged
    (2, 4, 0.2),  # 4 x 2 x 2 = 16 of 8
])
def test_the_lr_is_scaled_by_the_effective_batch(counts, world_size, expected):
    wrapper = _wrapper(counts=counts)
    _scale(wrapper, base=8, world_size=world_size)
    assert _lr(wrapper) == pytest.approx(expected)


def test_scaling_off_changes_nothing():
    wrapper = _wrapper(counts=4)
    _scale(wrapper, base=8, enable=False)
    assert _lr(wrapper) == pytest.approx(0.1)


def test_each_wrapper_of_a_dict_is_scaled_by_its_own_count():
    wrappers = OptimWrapperDict(generator=_wrapper(counts=4), discriminator=_wrapper(counts=1))
    _scale(wrappers, base=8)
    assert _lr(wrappers['generator']) == pytest.approx(0.1)
    assert _lr(wrappers['discriminator']) == pytest.approx(0.025)
    same = OptimWrapperDict(a=_wrapper(counts=2), b=_wrapper(counts=2))
    _scale(same, base=8)
    assert [_lr(w) for w in same.values()] == pytest.approx([0.05, 0.05])


@pytest.mark.parametrize('counts, expected', [(4, 0.1), (1, 0.025)])  # (4: mmengine 0.025; 1: mmengine's own)
def test_a_flexible_runner_strategy_scales_by_the_effective_batch(counts, expected):
    from mmengine._strategy import BaseStrategy

    wrapper, scaling = _wrapper(counts=counts), dict(enable=True, base_batch_size=8)
    strategy = SimpleNamespace(world_size=1, dispatch_kwargs=dict(train_micro_batch_size_per_gpu=2),
                               _auto_scale_lr=scaling, optim_wrapper=wrapper, logger=MMLogger.get_current_instance())
    BaseStrategy._scale_lr(strategy)
    assert _lr(wrapper) == pytest.approx(expected)
    assert strategy.optim_wrapper is wrapper and strategy._auto_scale_lr is scaling  # restored
