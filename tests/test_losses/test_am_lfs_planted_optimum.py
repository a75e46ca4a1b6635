"""A pin of AM-LFS's search loop (no fault found in the forty-seventh session): with a planted optimum θ* (a
margin, ``c_t = -0.3``) and the reward ``-||θ_c - θ*||²`` of the θ each copy's loss ran with, four copies drawn as
``OHLHook`` draws them (``space_generator(seed, copy, trunk, space)``) and the project's REINFORCE with its AM-LFS
default (Adam lr 0.05, betas (0.5, 0.999)): each copy's loss trains its own sample, the statistic credited to that
copy is the sample its loss ran with, and μ moves toward θ*. A flipped update sign, one sample shared by every copy,
or rewards credited to another copy's statistics each fail it."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from automl_mm.losses import AMLFSLoss, LossFunctionSpace
from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.segments import space_generator


def test_each_copy_trains_its_own_sample_and_the_mean_moves_toward_the_rewarded_theta():
    runners = [SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(loss_module=AMLFSLoss())))
               for _ in range(4)]
    space = LossFunctionSpace()
    space.resolve(runners[0])
    space.setup(runners[0], CopyLayout(4, 1, 0, 4), seed=0)
    controller = REINFORCE(space.distribution, optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999)))
    optimum = torch.zeros(14, dtype=torch.float64)
    optimum[6] = -0.3  # c_t: t(1) = 0.7, a CosFace-like margin
    for trunk in range(30):
        stats, rewards, thetas = [], [], []
        for copy_id, runner in enumerate(runners):
            space.begin_trunk(runner, trunk, space_generator(0, copy_id, trunk, 0))
            theta = runner.model.head.loss_module.theta.clone()
            stats.append(space.trunk_stats().clone())
            space.reset_stats()
            torch.testing.assert_close(stats[-1], torch.cat([torch.ones(1, dtype=torch.float64), theta, theta**2]))
            thetas.append(theta)
            rewards.append(-float(((theta - optimum)**2).sum()))
        assert len({tuple(t.tolist()) for t in thetas}) == 4  # one sample per copy
        controller.step(stats, rewards)
    mean = space.distribution.mode()
    assert -0.4 < float(mean[6]) < -0.2  # toward c_t = -0.3 from 0
    # the other 13 drift (Adam's step, the README's drift check) but less than the signal moved
    assert float(mean.abs()[torch.arange(14) != 6].max()) < 0.6 * abs(float(mean[6]))
    # the learned loss is the mean's: a margin on the target
    assert float(space.learned_loss().t_function(torch.tensor([1.0], dtype=torch.float64))) < 0.8
