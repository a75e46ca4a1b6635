"""AM-LFS evidence on digits with 20 % label noise: cross-entropy vs the learned loss, equal iterations and copies.

Both arms run the same 4-copy OHL engine on the embedded default config; the ``ce`` arm pins θ to the identity
(σ → 0, θ frozen by ``FrozenController``), which makes ``AMLFSLoss`` exactly softmax cross-entropy, so copies, rewards
and best-copy selection are the same as in the ``am-lfs`` arm. Prints the final test accuracy, mean ± std.
Run: python benchmarks/am_lfs_digits.py [--seeds 0 1 2] [--epochs 30] [--arms ce am-lfs] [--std 0.447]
     [--parametrisation piecewise]
"""
from __future__ import annotations

import argparse
import os.path as osp

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import (
    ROOT,
    UniqueValues,
    add_work_dir_option,
    refuse_bad_counts,
    refuse_bad_rates,
    refuse_unused_options,
    run_arms,
)
from _options import refuse_bad_seeds

CONFIG = osp.join(ROOT, 'configs/am_lfs/am-lfs_convnet_1x4_30e_digits-noise20.py')
ARMS = ('ce', 'am-lfs')


STD: float | None = None  # --std: the Gaussian's fixed sigma in the am-lfs arm (None: the config's)
PARAMETRISATION: str | None = None  # --parametrisation of theta in both arms (None: the config's)


def configure(cfg, arm: str) -> None:
    if PARAMETRISATION is not None:
        cfg.model.head.loss.parametrisation = PARAMETRISATION
        cfg.custom_hooks[0].spaces[0].parametrisation = PARAMETRISATION
    if arm == 'am-lfs' and STD is not None:
        cfg.custom_hooks[0].spaces[0].std = STD
    if arm == 'ce':
        hook = cfg.custom_hooks[0]
        hook.controller.type = 'FrozenController'  # the engine of the OHL arm, theta fixed
        hook.spaces[0].std = 1e-12
    elif arm not in ARMS:
        raise ValueError(f'unknown arm {arm!r}; choose from {ARMS}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=30)
    # choices: an unknown arm used to fail only at its turn, after the arms before it had trained for minutes
    parser.add_argument('--arms', nargs='+', action=UniqueValues, default=list(ARMS), choices=ARMS)
    parser.add_argument('--std', type=float, default=None, help="sigma of the am-lfs arm (default: the config's)")
    parser.add_argument('--parametrisation', choices=['monotone', 'piecewise'], default=None,
                        help="theta's layout (default: the config's, monotone)")
    add_work_dir_option(parser)
    args = parser.parse_args()
    refuse_bad_counts(parser, args, at_least_1=('epochs', ))
    refuse_bad_seeds(parser, args)
    refuse_bad_rates(parser, args, positive=('std', ))
    refuse_unused_options(parser, args, args.arms, dict(std=('am-lfs', )))
    global STD, PARAMETRISATION
    STD, PARAMETRISATION = args.std, args.parametrisation
    run_arms(CONFIG, args.arms, args.seeds, args.epochs, configure, lambda arm, work: '', work_dir=args.work_dir)


if __name__ == '__main__':
    main()
