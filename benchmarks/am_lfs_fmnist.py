"""AM-LFS evidence on reduced noisy Fashion-MNIST: the learned loss against cross-entropy and the robust losses.

Every arm runs the same 4-copy OHL engine (same model, iterations, copies, per-trunk best-copy broadcast on the
clean reward split) on ``configs/am_lfs/am-lfs_convnet_1x4_20e_fmnist-noise40.py``; only the head's loss differs.
The fixed-loss arms search a space with two identical choices (loss_weight 1.0 or 1.0) under ``FrozenController``
(θ fixed), so the engine does the same work without learning anything. Noise goes on the training split only.
Prints each run's final test top-1 and, per arm, mean ± std over the seeds; ``--out`` saves them (JSON) and the
AM-LFS arm's learned mean θ; ``--plot`` draws the learned t and τ from such files.

Defaults: the measured regime of the README (1,000 noisy training images, 30 epochs = 30 trunks, 4 copies), about
3 minutes per arm and seed on 2 idle cores.

Run: python benchmarks/am_lfs_fmnist.py --noise sym40 [--seeds 0 1 2] [--epochs 30] [--arms ce ls gce sce poly1 am-lfs]
     python benchmarks/am_lfs_fmnist.py --plot benchmarks/results/am_lfs_fmnist_pair40_30e_seeds012.json \
         --plot-out pair40_loss.png   (--out files, or the results/ files of this benchmark)
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os.path as osp

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import (
    ROOT,
    UniqueValues,
    add_work_dir_option,
    refuse_bad_counts,
    refuse_bad_rates,
    refuse_bad_trunk_length,
    refuse_more_per_class_than_split,
    refuse_options_outside_mode,
    refuse_same_settings,
    refuse_unused_options,
    run_arms,
    run_config,
    set_trunk_iters,
)
from _options import refuse_bad_seeds

from automl_mm.utils.io import strict_json

CONFIG = osp.join(ROOT, 'configs/am_lfs/am-lfs_convnet_1x4_20e_fmnist-noise40.py')
NOISES = {'clean': (0.0, 'symmetric'), 'sym20': (0.2, 'symmetric'), 'sym40': (0.4, 'symmetric'),
          'pair40': (0.4, 'pairflip')}
FIXED_LOSSES = {
    'ce': dict(type='CrossEntropyLoss'),
    'ls': dict(type='LabelSmoothingLoss', smoothing=0.1),
    'gce': dict(type='GeneralizedCrossEntropyLoss', q=0.7),
    'sce': dict(type='SymmetricCrossEntropyLoss', alpha=0.1, beta=1.0, log_zero=-4.0),
}
ARGS = argparse.Namespace()


def fixed_loss(arm: str) -> dict | None:
    """The loss config of a fixed-loss arm (``poly1`` or ``poly1:<epsilon>`` too); ``None`` for ``am-lfs``.

    Raises:
        ValueError: ``arm`` is not one of the arms, or its Poly-1 epsilon is not a finite number >= -1 (the
            message names the arm and the valid ones). Any other name that began with ``poly1`` (``poly1x``,
            ``poly1_0.5``) used to train Poly-1 with epsilon 1 under that name, and an epsilon the loss refuses
            failed only when its run started, after the arms before it had trained.
    """
    if arm == 'am-lfs':
        return None
    if arm == 'poly1' or arm.startswith('poly1:'):
        text = arm.partition(':')[2] if ':' in arm else '1'  # 'poly1:' names no epsilon: refused
        try:
            epsilon = float(text)
        except ValueError:
            epsilon = math.nan
        if not (math.isfinite(epsilon) and epsilon >= -1.0):
            raise ValueError(f'arm {arm!r}: the Poly-1 epsilon after "poly1:" must be a finite number >= -1 '
                             f'(Poly1CrossEntropyLoss), got {text!r}')
        return dict(type='Poly1CrossEntropyLoss', epsilon=epsilon)
    if arm not in FIXED_LOSSES:
        raise ValueError(f'unknown arm {arm!r}: choose from {", ".join(FIXED_LOSSES)}, poly1, poly1:<epsilon>, '
                         'am-lfs')
    return FIXED_LOSSES[arm]


def arm_setting(arm: str) -> tuple:
    """The setting ``arm`` trains, as a key equal for every spelling of it: ``poly1``, ``poly1:1`` and
    ``poly1:1.0`` are one (Poly-1 at epsilon 1). Raises ``ValueError`` as :func:`fixed_loss`."""
    loss = fixed_loss(arm)
    return ('am-lfs', ) if loss is None else tuple(sorted(loss.items()))


def configure(cfg, arm: str) -> None:
    ratio, kind = NOISES[ARGS.noise]
    cfg.train_dataloader.dataset.noise_ratio = ratio
    cfg.train_dataloader.dataset.noise_type = kind
    cfg.train_dataloader.dataset.dataset.samples_per_class = ARGS.train_per_class
    cfg.reward_dataloader.dataset.samples_per_class = ARGS.reward_per_class
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.samples_per_class = ARGS.test_per_class
    hook = cfg.custom_hooks[0]
    hook.num_copies = ARGS.copies
    if ARGS.trunk_iters is not None:  # the engine's trunk, every arm alike (as --copies)
        set_trunk_iters(hook, ARGS.trunk_iters)
    elif ARGS.trunk_epochs is not None:
        hook.trunk_epochs = ARGS.trunk_epochs
    loss = fixed_loss(arm)
    if loss is None:
        if ARGS.std is not None:
            hook.spaces[0].std = ARGS.std
        if ARGS.controller_lr is not None:
            hook.controller.optimizer.lr = ARGS.controller_lr
        return
    cfg.model.head.loss = loss
    hook.spaces = [dict(type='AttributeSpace', distribution=dict(type='Categorical', num_choices=2),
                        target='model.head.loss_module.loss_weight', choices=[1.0, 1.0], name='none')]
    hook.controller.type = 'FrozenController'  # the engine of the OHL arm, theta fixed


def describe(arm: str, work: str) -> str:
    """Keep the run's reward-split accuracy (best copy, last trunk: the copy the OHL engine chose, ``best`` of its
    history, by its ``reward_rule``; the highest reward was taken, the worst copy of a lower-is-better reward) and,
    for AM-LFS, the learned mean θ."""
    with open(glob.glob(osp.join(work, 'ohl', 'history.json'))[0]) as f:
        last = json.load(f)[-1]
    record = dict(arm=arm, reward=last['rewards'][last['best']])
    if arm == 'am-lfs':
        record['theta'] = last['theta']['loss'][0]
    DETAILS.append(record)
    return f"  reward {record['reward']:.2f}"


DETAILS: list[dict] = []


def theta_records(result: dict, path: str) -> list[tuple[str, list[float]]]:
    """``(label, θ)`` of every AM-LFS run in ``result``, one JSON file: a ``--out`` file (``details``, the θ records
    in the order of ``seeds``) or a file of ``benchmarks/results/`` (``runs``: a list of per-run records, each with
    its ``seed`` and, where it has one, ``theta``, ``noise`` and ``point``; or ``--out`` files by name). The label
    is ``'<noise> seed <s>'`` (and the design point, if any).

    Raises:
        ValueError: ``result`` holds neither form, an AM-LFS record lacks what its label needs, or a ``--out``
            file holds θ records for more or fewer runs than its seeds (zip labelled the first ones and dropped the
            rest, silently); the message names ``path``.
    """
    try:
        if 'details' in result:
            thetas = [record['theta'] for record in result['details'] if 'theta' in record]
            if thetas and len(thetas) != len(result['seeds']):  # zip paired what it could and dropped the rest
                raise ValueError(f'{path}: {len(thetas)} AM-LFS θ records for the {len(result["seeds"])} seeds '
                                 f'{result["seeds"]}: which θ is which seed\'s is unknown (an edited or merged '
                                 '--out file?)')
            return [(f"{result['noise']} seed {seed}", theta) for seed, theta in zip(result['seeds'], thetas)]
        runs = result['runs']
        if isinstance(runs, dict):
            return [record for name in runs for record in theta_records(runs[name], f'{path} runs.{name}')]
        return [(f"{run.get('noise', result.get('noise'))} seed {run['seed']}"
                 + (f" ({run['point']})" if 'point' in run else ''), run['theta']) for run in runs if 'theta' in run]
    except (KeyError, TypeError) as err:
        raise ValueError(f'{path}: not an am_lfs_fmnist.py --out file (noise, seeds, details) nor a results file '
                         f'(runs with seed and theta): {type(err).__name__} {err}') from None


def plot(files: list[str], out: str) -> None:
    """Learned t(x) and τ(p) (mean θ of each AM-LFS run) against the identity, one figure."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch

    from automl_mm.losses import AMLFSLoss

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, lo, title in zip(axes, (-1.0, 0.0), ('t(x), x = cos θ_y', 'τ(p), p = softmax prob. of the label')):
        x = torch.linspace(lo, 1.0, 401, dtype=torch.float64)
        ax.plot(x, x, 'k--', lw=1, label='identity (cross-entropy)')
        ax.set(title=title, xlabel='x' if lo < 0 else 'p')
    for path in files:
        with open(path) as f:
            try:
                result = json.load(f)
            except json.JSONDecodeError as err:  # its message named no file
                raise ValueError(f'{path}: not JSON ({err})') from None
        for label, theta in theta_records(result, path):
            loss = AMLFSLoss(num_intervals=(len(theta) - 2) // 2, theta=theta)
            for ax, fn, lo in zip(axes, (loss.t_function, loss.tau_function), (-1.0, 0.0)):
                x = torch.linspace(lo, 1.0, 401, dtype=torch.float64)
                ax.plot(x, fn(x).detach(), lw=1.2, label=label)
    axes[1].legend(fontsize='x-small')
    fig.suptitle('AM-LFS on Fashion-MNIST: learned loss (mean θ after the last trunk; legend: label noise)')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f'wrote {out}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--noise', choices=sorted(NOISES), default='sym40')
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--arms', nargs='+', action=UniqueValues, default=['ce', 'ls', 'gce', 'sce', 'poly1', 'am-lfs'],
                        help='of ce, ls, gce, sce, poly1 (epsilon 1), poly1:<epsilon> (a finite number >= -1), am-lfs')
    parser.add_argument('--copies', type=int, default=4)
    trunk = parser.add_mutually_exclusive_group()
    trunk.add_argument('--trunk-epochs', type=int, default=None,
                       help="trunk length in epochs, every arm (default: the config's 1; must divide --epochs)")
    trunk.add_argument('--trunk-iters', type=int, default=None,
                       help='trunk length in iterations instead, every arm (an epoch is 16 iterations here)')
    parser.add_argument('--train-per-class', type=int, default=100)
    parser.add_argument('--reward-per-class', type=int, default=50)
    parser.add_argument('--test-per-class', type=int, default=200, help='of the official test set (1,000 max)')
    parser.add_argument('--std', type=float, default=None, help="sigma of the am-lfs arm (default: the config's)")
    parser.add_argument('--controller-lr', type=float, default=None,
                        help="learning rate of the am-lfs arm's controller (Adam; default: the config's 0.05)")
    parser.add_argument('--out', default=None, help='JSON file for the accuracies, rewards and learned θ')
    parser.add_argument('--plot', nargs='+', default=None,
                        help="--out files (or this benchmark's benchmarks/results/ files) to plot instead of training")
    parser.add_argument('--plot-out', default='am_lfs_fmnist_loss.png')
    add_work_dir_option(parser)
    # A second call in one process starts from its own command line: argparse keeps an attribute the namespace
    # already has (the first call's option), and DETAILS would list the first call's runs in this --out.
    vars(ARGS).clear()
    DETAILS.clear()
    parser.parse_args(namespace=ARGS)
    if ARGS.plot:
        refuse_options_outside_mode(parser, ARGS, 'with --plot', ('plot', 'plot_out'),
                                    'it trains nothing: it draws the θ saved in the --plot files into --plot-out')
        try:
            plot(ARGS.plot, ARGS.plot_out)
        except (OSError, ValueError) as err:  # a file that is missing or holds no θ records: named, no traceback
            parser.error(f'--plot: {err}')
        return
    refuse_options_outside_mode(parser, ARGS, 'without --plot', set(vars(ARGS)) - {'plot_out'},
                                'this run trains and draws nothing')
    refuse_bad_counts(parser, ARGS, at_least_1=('epochs', 'copies', 'train_per_class', 'reward_per_class',
                                                'test_per_class'))
    refuse_bad_rates(parser, ARGS, positive=('std', 'controller_lr'))
    refuse_bad_trunk_length(parser, ARGS)
    refuse_unused_options(parser, ARGS, ARGS.arms, dict(std=('am-lfs', ), controller_lr=('am-lfs', )))
    refuse_same_settings(parser, '--arms', ARGS.arms, arm_setting)  # a bad or repeated setting, before training
    refuse_bad_seeds(parser, ARGS)
    cfg = run_config(CONFIG, ARGS.seeds[0], ARGS.epochs)
    configure(cfg, ARGS.arms[0])  # the splits every arm samples (the arms differ in their loss only)
    refuse_more_per_class_than_split(parser, {'--train-per-class': cfg.train_dataloader.dataset.dataset,
                                              '--reward-per-class': cfg.reward_dataloader.dataset,
                                              '--test-per-class': cfg.test_dataloader.dataset})
    results = run_arms(CONFIG, ARGS.arms, ARGS.seeds, ARGS.epochs, configure, describe,
                       work_dir=ARGS.work_dir)
    if ARGS.out:
        with open(ARGS.out, 'w') as f:
            json.dump(strict_json(dict(noise=ARGS.noise, seeds=ARGS.seeds, epochs=ARGS.epochs, args=vars(ARGS),
                                       accuracy=results, details=DETAILS),
                                  'an accuracy the run did not produce (a failed or undefined evaluation)'),
                      f, indent=1, allow_nan=False)


if __name__ == '__main__':
    main()
