"""OHL-Auto-Aug evidence on digits: no augmentation vs uniform-random pairs vs the learned policy.

All three arms run the same 4-copy OHL engine for the same iterations on the same 300 training images (the
embedded default config); only the augmentation policy differs:

* ``none``: no augmentation (a two-way choice between identities, so copies, rewards and best-copy selection
  are identical to the other arms);
* ``uniform``: a uniformly random ordered pair of the 36 elements per image (``FrozenController``: θ stays uniform);
* ``ohl``: the pair distribution learned online by OHL-Auto-Aug.

Prints the final test accuracy, mean ± std over the seeds, and the learned top pairs of each OHL run.
Run: python benchmarks/autoaug_digits.py [--seeds 0 1 2] [--epochs 30]
"""
from __future__ import annotations

import argparse
import json
import os.path as osp

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import ROOT, UniqueValues, add_work_dir_option, refuse_bad_counts, run_arms
from _options import refuse_bad_seeds

CONFIG = osp.join(ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py')
ARMS = ('none', 'uniform', 'ohl')


def configure(cfg, arm: str) -> None:
    hook = cfg.custom_hooks[0]
    if arm in ('uniform', 'none'):
        hook.controller.type = 'FrozenController'  # the engine of the OHL arm, theta fixed
    if arm == 'none':
        hook.spaces[0].distribution = dict(type='Categorical', num_choices=2)
        cfg.train_dataloader.dataset.pipeline[0] = dict(type='OHLRandomChoice', key='autoaug', transforms=[[], []])
    elif arm not in ARMS:
        raise ValueError(f'unknown arm {arm!r}; choose from {ARMS}')


def describe(arm: str, work: str) -> str:
    if arm != 'ohl':
        return ''
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        last = json.load(f)[-1]['distributions']['autoaug']
    top = ', '.join(f'{t["choice"]} {t["prob"]:.4f}' for t in last['top'][:3])
    return f' | entropy {last["entropy"]:.3f} (uniform 7.167) | top pairs: {top}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=30)
    # choices: an unknown arm used to fail only at its turn, after the arms before it had trained for minutes
    parser.add_argument('--arms', nargs='+', action=UniqueValues, default=list(ARMS), choices=ARMS)
    add_work_dir_option(parser)
    args = parser.parse_args()
    refuse_bad_counts(parser, args, at_least_1=('epochs', ))
    refuse_bad_seeds(parser, args)
    run_arms(CONFIG, args.arms, args.seeds, args.epochs, configure, describe, work_dir=args.work_dir)


if __name__ == '__main__':
    main()
