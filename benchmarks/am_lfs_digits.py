"""AM-LFS evidence on digits with 20 % label noise: cross-entropy vs the learned loss, equal iterations and copies.

Both arms run the same 4-copy OHL engine on the embedded default config; the ``ce`` arm pins θ to the identity
(σ → 0, controller learning rate 0), which makes ``AMLFSLoss`` exactly softmax cross-entropy, so copies, rewards
and best-copy selection are the same as in the ``am-lfs`` arm. Prints the final test accuracy, mean ± std.
Run: python benchmarks/am_lfs_digits.py [--seeds 0 1 2] [--epochs 30]
"""
from __future__ import annotations

import argparse
import os.path as osp

from _arms import ROOT, run_arms

CONFIG = osp.join(ROOT, 'configs/am_lfs/am-lfs_convnet_1x4_30e_digits-noise20.py')


def configure(cfg, arm: str) -> None:
    if arm == 'ce':
        hook = cfg.custom_hooks[0]
        hook.controller.optimizer.lr = 0.0
        hook.spaces[0].std = 1e-12
    elif arm != 'am-lfs':
        raise ValueError(f'unknown arm {arm!r}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=30)
    args = parser.parse_args()
    run_arms(CONFIG, ['ce', 'am-lfs'], args.seeds, args.epochs, configure, lambda arm, work: '')


if __name__ == '__main__':
    main()
