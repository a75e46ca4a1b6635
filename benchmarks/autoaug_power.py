"""Can OHL-Auto-Aug's controller find harmful elements at all? A planted-reward check of the two ways to sample.

No training: the project's own ``PipelineChoiceSpace`` (``FactorisedCategorical`` over E × E ordered pairs, the
Fashion-MNIST configs' Adam lr 0.05, betas (0.5, 0.999)) and ``REINFORCE`` controller are driven as ``OHLHook``
drives them, for ``--copies`` copies and ``--trunks`` trunks of ``--images`` images per copy. The images' choices
are drawn from each copy's published live policy (what ``OHLAutoAugment`` samples from). A copy's reward is

    R = −Δ · (share of its trunk's images whose pair holds a harmful element) + σ · ε,   ε ~ N(0, 1),

with ``--harmful`` h of the E elements harmful (the same as first or second operation), so Δ (``--deltas``,
points) is what the copy loses when every image gets a harmful element, and σ (``--noise``) is the std of a
copy's reward noise. Its default is the σ whose copies' spread, read as ``benchmarks/autoaug_fmnist.py`` prints it
(the population std of the ``--copies`` rewards of a trunk, averaged over trunks), is the 1.2 points measured on
Fashion-MNIST (1.11-1.32): 1.50 for 4 copies (:func:`noise_for_spread`). The population std of 4 draws reads
about 0.80 σ, so σ = 1.2, the default before, simulated a spread of 0.96, less noise than the engine's.

Two ways to sample (``PipelineChoiceSpace.policy_size``):

* per image (``None``, the OHL paper): every image draws its pair from p_θ; a copy's share of harmful pairs
  differs from p_θ's only by binomial noise, O(√(p/N)) over N images;
* a policy of K pairs per copy and trunk (``K``; AutoAugment's policies hold 5 sub-policies): every image gets one
  of the copy's K pairs, so the copies' shares differ by O(√(p/K)). As in the hook
  (:func:`automl_mm.ohl.reward.combine_copy_rows`, :func:`~automl_mm.ohl.reward.policy_credit`), a copy is
  credited with each draw weighted by the chance that one of its images picked it, and a draw none did at its
  expectation p_θ (no step from it): all K at full weight at the default ``--images`` 500, fewer in a short trunk.

Printed per (way, Δ): the first-operation probability mass on the harmful elements after the last trunk, relative
to uniform (1 = uniform, 0 = avoided), mean ± std over ``--seeds``; the same for the second operation.

Run: python benchmarks/autoaug_power.py [--seeds 5] [--trunks 100] [--images 500] [--copies 4]
     [--policy-sizes 0 1 5 20] [--deltas 1 2 5]       (0 = per image). About 2 minutes on one core.
"""
from __future__ import annotations

import argparse
import math
import statistics
from types import SimpleNamespace

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import numpy as np
import torch
from _arms import UniqueValues, c4, std_text
from _options import refuse_bad_counts, refuse_bad_rates

from automl_mm.ohl import OHLRandomChoice, PipelineChoiceSpace
from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.copies import CopyLayout
from automl_mm.ohl.distributions import FactorisedCategorical
from automl_mm.ohl.reward import combine_copy_rows, trunk_row

CONTROLLER = dict(type='Adam', lr=0.05, betas=(0.5, 0.999))  # configs/_base_/ohl-autoaug_fmnist_hook.py
ELEMENTS = 36  # the paper's element set, the size main() simulates
#: The copies' reward spread measured on Fashion-MNIST (points; benchmarks/autoaug_fmnist.py's 'copy spread', the
#: population std of a trunk's 4 rewards averaged over trunks: 1.11-1.32 in the README's runs).
MEASURED_SPREAD = 1.2


def noise_for_spread(spread: float, copies: int) -> float:
    """The σ of i.i.d. Gaussian reward noise whose copies' spread, as ``benchmarks/autoaug_fmnist.py`` prints it
    (the population std of ``copies`` rewards, averaged over trunks), is ``spread`` in expectation.

    The population std of n draws of N(0, σ²) has expectation σ √((n - 1) / n) c₄(n), with c₄ the bias of the
    sample std (``_arms.c4``): 0.798 σ for n = 4.

    Raises:
        ValueError: ``copies`` < 2 (one reward has no spread).
    """
    if copies < 2:
        raise ValueError(f'the copies\' spread needs at least 2 copies, got {copies}')
    return spread / (math.sqrt((copies - 1) / copies) * c4(copies))


def simulate(policy_size: int | None, delta: float, seed: int, *, elements: int = 36, harmful: int = 6,
             copies: int = 4, trunks: int = 100, images: int = 500, noise: float | None = None,
             sign: float = 1.0) -> tuple[float, float]:
    """One search on the planted reward; returns the harmful elements' first- and second-operation mass / uniform.

    ``sign=-1`` flips the advantage (a broken controller, for tests). Elements ``0 .. harmful-1`` are harmful.
    ``noise``: σ of a copy's reward noise (points); None: ``noise_for_spread(MEASURED_SPREAD, copies)``.
    """
    if noise is None:
        noise = noise_for_spread(MEASURED_SPREAD, copies)
    distribution = FactorisedCategorical((elements, elements))
    controller = REINFORCE(distribution, optimizer=CONTROLLER)
    spaces, transforms = [], []
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=None))
    for c in range(copies):  # one space per copy, all on the same θ (the hook keeps the copies' θ identical)
        transform = OHLRandomChoice(transforms=[[]] * elements ** 2, key='aug')
        runner.train_dataloader.dataset = SimpleNamespace(pipeline=SimpleNamespace(transforms=[transform]))
        space = PipelineChoiceSpace(distribution, key='aug', policy_size=policy_size)
        space.resolve(runner)
        space.setup(runner, CopyLayout(num_copies=copies, ranks_per_copy=1, rank=c, world_size=copies), seed)
        spaces.append(space)
        transforms.append(transform)
    first, second = np.divmod(np.arange(elements ** 2), elements)
    bad_pair = (first < harmful) | (second < harmful)
    noise_rng = np.random.default_rng([seed, 1])
    layout = CopyLayout(num_copies=copies, ranks_per_copy=1, rank=0, world_size=copies)
    for trunk in range(trunks):
        rows, rewards = [], []
        for c, (space, transform) in enumerate(zip(spaces, transforms)):
            space.reset_stats()
            space.begin_trunk(runner, trunk, torch.Generator().manual_seed(seed * 100_003 + trunk * 101 + c))
            space.begin_segment(runner, 0)
            chosen = [transform({})['ohl_choice'] for _ in range(images)]  # what OHLAutoAugment would apply
            space.after_train_iter(runner, {'data_samples': [SimpleNamespace(metainfo={'ohl_choice': r})
                                                             for r in chosen]})
            share = float(np.mean(bad_pair[[r['aug'] for r in chosen]]))
            rewards.append(sign * (-delta * share + noise * noise_rng.standard_normal()))
            rows.append(trunk_row(0.0, True, False, [space]))
        # each copy's statistics as the hook credits them: with a policy, each draw by the chance that an image used it
        stats = combine_copy_rows(torch.stack(rows), layout, spaces[:1], trunk)['stats'][spaces[0].name]
        controller.step(stats, rewards)
    uniform = harmful / elements
    return tuple(float(p[:harmful].sum()) / uniform for p in distribution.factor_probs())


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=5, help='seeds 0 .. N-1')
    parser.add_argument('--trunks', type=int, default=100)
    parser.add_argument('--images', type=int, default=500, help='images per copy and trunk')
    parser.add_argument('--copies', type=int, default=4)
    parser.add_argument('--harmful', type=int, default=6)
    parser.add_argument('--noise', type=float, default=None,
                        help="σ of a copy's reward noise (points; default: the σ whose copies' spread, the "
                             f'population std over --copies copies, is the {MEASURED_SPREAD} measured on '
                             'Fashion-MNIST: 1.50 for 4 copies)')
    parser.add_argument('--deltas', type=float, nargs='+', action=UniqueValues, default=[1.0, 2.0, 5.0])
    parser.add_argument('--policy-sizes', type=int, nargs='+', action=UniqueValues, default=[0, 1, 5, 20],
                        help='0: a draw per image')
    args = parser.parse_args(argv)
    # before any search: a negative policy size failed only at its turn, after the sizes before it had run, and a
    # --harmful outside 1..35 of the 36 elements divided by zero or read a mass over fewer elements than it named
    if args.seeds < 1:  # range(0): the mean ± std of no run
        parser.error(f'--seeds must be >= 1 (the number of seeds), got {args.seeds}')
    refuse_bad_counts(parser, args, at_least_1=('trunks', 'images', 'copies'))  # 0 trunks printed the uniform start
    # a Δ of NaN or inf failed inside the controller ('rewards must be finite') after the Δs before it had run; a
    # negative one made the harmful elements the helpful ones under the name 'harmful' (Δ: what a copy loses)
    refuse_bad_rates(parser, args, at_least_0=('noise', 'deltas'))
    negative = [size for size in args.policy_sizes if size < 0]
    if negative:
        parser.error(f'--policy-sizes must be 0 (a draw per image) or K >= 1 pairs per copy and trunk, got '
                     f'{" ".join(map(str, negative))}')
    if args.noise is None:
        if args.copies < 2:  # one reward has no spread to calibrate the noise by
            parser.error(f'--copies {args.copies}: the default --noise is calibrated by the copies\' spread, which '
                         'needs at least 2 copies; give --noise')
        args.noise = noise_for_spread(MEASURED_SPREAD, args.copies)
    if not 1 <= args.harmful < ELEMENTS:
        parser.error(f'--harmful must be a number of harmful elements in [1, {ELEMENTS - 1}] (of the {ELEMENTS}), '
                     f'got {args.harmful}')
    print(f'{args.copies} copies x {args.trunks} trunks x {args.images} images, {args.harmful} of {ELEMENTS} elements '
          f'harmful, reward noise σ {args.noise:.2f}; harmful mass after the last trunk / uniform '
          f'(1 = uniform, 0 = avoided), mean ± std over {args.seeds} seeds')
    rows = []
    for size in args.policy_sizes:
        for delta in args.deltas:
            runs = [simulate(size or None, delta, seed, elements=ELEMENTS, harmful=args.harmful, copies=args.copies,
                             trunks=args.trunks, images=args.images, noise=args.noise) for seed in range(args.seeds)]
            firsts, seconds = [r[0] for r in runs], [r[1] for r in runs]
            row = dict(policy_size=size or None, delta=delta, noise=args.noise, first=statistics.mean(firsts),
                       first_std=statistics.stdev(firsts) if len(firsts) > 1 else None,  # one seed: none
                       second=statistics.mean(seconds),
                       second_std=statistics.stdev(seconds) if len(seconds) > 1 else None)
            rows.append(row)
            way = 'per image' if not size else f'policy of {size}'
            print(f'{way:>14} | Δ {delta:>4} | first op {row["first"]:.2f} ± {std_text(row["first_std"])} | '
                  f'second op {row["second"]:.2f} ± {std_text(row["second_std"])}', flush=True)
    return rows


if __name__ == '__main__':
    main()
