"""How far REINFORCE moves a Gaussian search distribution's mean when the rewards carry little or no signal.

A synthetic check of the AM-LFS controller (no training): ``LossFunctionSpace``'s distribution, a diagonal Gaussian
over the D = 2M + 2 = 14 numbers of the monotone θ with σ = 0.2 (``--std``; the σ of the runs it was compared
with) and μ₀ = 0 (cross-entropy), updated by the project's own ``REINFORCE`` controller once per trunk from one
sample per copy. The reward of a sample is

    R(θ) = −k ‖θ − θ*‖² + ε,   ε ~ N(0, 1),   θ* = (0.3, 0, ..., 0),

so ``--gains`` g = k·0.3² is how much better (in units of the reward noise's std) the planted optimum θ* scores than
the start. At g = 0 the rewards are pure noise: every movement of μ is drift. Printed per controller setting,
over ``--seeds`` runs of ``--trunks`` trunks: the RMS of μ's components off the signal (drift), μ's component on
the signal (0.3 is the optimum), and ‖μ − θ*‖ (0.30 at the start).

Run: python benchmarks/reinforce_noise_drift.py [--trunks 30] [--copies 4] [--seeds 20]
Takes a few seconds on one core.
"""
from __future__ import annotations

import argparse
import statistics

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
from _arms import UniqueValues
from _options import refuse_bad_counts, refuse_bad_rates

from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.distributions import DiagGaussian

OPTIMUM = 0.3  # θ*'s value on its one non-zero component
SETTINGS = {  # name: (optimizer, normalise advantages)
    'Adam lr 0.05 (default)': (dict(type='Adam', lr=0.05, betas=(0.5, 0.999)), False),
    'Adam lr 0.01': (dict(type='Adam', lr=0.01, betas=(0.5, 0.999)), False),
    'SGD lr 0.01, normalised': (dict(type='SGD', lr=0.01), True),
    'SGD lr 0.003, normalised': (dict(type='SGD', lr=0.003), True),
}


def run(optimizer: dict, normalize: bool, gain: float, seed: int, dims: int, copies: int, trunks: int,
        std: float) -> tuple[float, float, float]:
    """One search; returns (RMS of μ off the signal, μ on the signal, ‖μ − θ*‖)."""
    generator = torch.Generator().manual_seed(seed)
    distribution = DiagGaussian(mean=[0.0] * dims, std=std)
    controller = REINFORCE(distribution, optimizer=optimizer, normalize=normalize)
    optimum = torch.zeros(dims, dtype=torch.float64)
    optimum[0] = OPTIMUM
    k = gain / OPTIMUM ** 2
    for _ in range(trunks):
        thetas = [distribution.sample(generator) for _ in range(copies)]
        noise = torch.randn(copies, generator=generator, dtype=torch.float64)
        rewards = [float(-k * (theta.double() - optimum).pow(2).sum() + noise[n]) for n, theta in enumerate(thetas)]
        controller.step([distribution.sufficient_stats(theta) for theta in thetas], rewards)
    mean = distribution.parameters()[0].detach().double()
    return float(mean[1:].pow(2).mean().sqrt()), float(mean[0]), float((mean - optimum).norm())


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trunks', type=int, default=30)
    parser.add_argument('--copies', type=int, default=4)
    parser.add_argument('--dims', type=int, default=14, help='2M + 2 for the monotone θ with M = 6')
    parser.add_argument('--std', type=float, default=0.2)
    parser.add_argument('--gains', type=float, nargs='+', action=UniqueValues, default=[0.0, 1.0, 3.0])
    parser.add_argument('--seeds', type=int, default=20, help='seeds 0 .. N-1')
    args = parser.parse_args(argv)
    if args.seeds < 1:  # range(0): the mean of no run
        parser.error(f'--seeds must be >= 1 (the number of seeds), got {args.seeds}')
    # before the first search: 0 trunks printed the start as a result, 0 copies failed inside the controller
    refuse_bad_counts(parser, args, at_least_1=('trunks', 'copies'))
    refuse_bad_rates(parser, args, positive=('std', ), at_least_0=('gains', ))
    if args.dims < 2:  # the optimum's component and at least one off it (the drift's RMS is over those)
        parser.error(f'--dims must be a whole number >= 2 (the signal\'s component and the drifting ones), got '
                     f'{args.dims}')
    rows = []
    print(f'{args.copies} copies, {args.trunks} trunks, D = {args.dims}, sigma = {args.std}, {args.seeds} seeds '
          '(mean over seeds)')
    print(f'{"controller":26s} {"gain":>4s}  {"drift RMS":>9s}  {"mu on signal":>12s}  {"|mu - opt|":>10s}')
    for name, (optimizer, normalize) in SETTINGS.items():
        for gain in args.gains:
            runs = [run(optimizer, normalize, gain, seed, args.dims, args.copies, args.trunks, args.std)
                    for seed in range(args.seeds)]
            row = dict(controller=name, gain=gain, drift_rms=statistics.mean(r[0] for r in runs),
                       on_signal=statistics.mean(r[1] for r in runs), distance=statistics.mean(r[2] for r in runs))
            rows.append(row)
            print(f'{name:26s} {gain:4.1f}  {row["drift_rms"]:9.3f}  {row["on_signal"]:+12.3f}  '
                  f'{row["distance"]:10.3f}')
    return rows


if __name__ == '__main__':
    main()
