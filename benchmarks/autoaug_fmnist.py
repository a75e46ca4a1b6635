"""OHL-Auto-Aug evidence on reduced-data Fashion-MNIST against the tuning-free policies.

Every arm runs the same 4-copy OHL engine (so best-copy selection is the same) for the same epochs on the same
training images (``configs/ohl_autoaug/ohl-autoaug_convnet_1x4_20e_fashion-mnist.py``, resized by the options):
equal total training iterations, copies counted. Only the augmentation differs:

* ``none``: no augmentation at all;
* ``cropflip``: random crop (pad 2) + horizontal flip;
* ``uniform``: crop + flip + a uniformly random ordered pair of the 36 elements per image (``--elements
  randaugment``: of RandAugment's operations at magnitude 9, 18 elements with ``Identity``);
* ``trivialaugment``: crop + flip + torchvision ``TrivialAugmentWide``;
* ``randaugment``: crop + flip + torchvision ``RandAugment`` (2 ops, magnitude 9: its defaults; another bin of
  its 31 with ``--ra-magnitude``);
* ``ohl``: crop + flip + the pair distribution learned online by OHL-Auto-Aug;
* ``learned``: crop + flip + a pair per image from the policy an earlier ``ohl`` run learned, fixed (retraining
  from scratch, as AutoAugment does after its search): ``--policies DIR`` holds ``ohl<seed>.py``, the run's
  ``final_policy.py`` that ``--save-policies DIR`` kept; seed s replays the policy searched with seed s. The
  folder records the search's options (``settings.json``): saving a search of other options into it is refused.

Fixed arms are a two-way choice between identical pipelines under ``FrozenController`` (θ fixed), so the engine does
the same work in every arm. Prints each run's final test top-1, mean ± std over the seeds, and for OHL runs the
elements the learned policy favours and avoids (first / second operation marginals against uniform). Each run's
line also shows the best copy's last reward (the reward split): choices of defaults are made on it, never on the
test split; and the copies' reward spread (their std in a trunk, averaged over trunks).

Run: python benchmarks/autoaug_fmnist.py [--seeds 0 1 2] [--epochs 20] [--samples-per-class 100]
     [--reward-samples 2000] [--arms ...]
Design options (the engine's for every arm, the policy's for ``ohl`` / ``uniform``): ``--copies``, ``--lr``,
``--distribution``, ``--trunk-iters``, ``--pair-prob``, ``--policy-size``, ``--elements``, ``--shared-order``,
``--reward``, ``--reward-bn``.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import shutil

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import numpy as np
from _arms import (
    ROOT,
    UniqueValues,
    add_work_dir_option,
    refuse_bad_counts,
    refuse_bad_rates,
    refuse_bad_trunk_length,
    refuse_more_per_class_than_split,
    refuse_more_reward_samples_than_split,
    refuse_unused_options,
    run_arms,
    set_trunk_iters,
    std_text,
    uniform_pair_entropy,
)
from _options import refuse_bad_seeds
from mmengine.config import Config

from automl_mm.augment.elements import ELEMENT_SET_BINS, ELEMENT_SETS, randaugment_elements
from automl_mm.ohl.progress import read_flags
from automl_mm.utils.io import strict_json

CONFIG = osp.join(ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_20e_fashion-mnist.py')
ARMS = ('none', 'cropflip', 'uniform', 'trivialaugment', 'randaugment', 'ohl', 'learned')
_TORCHVISION = {'trivialaugment': dict(type='TorchvisionAugment', policy='TrivialAugmentWide', fill=0),
                'randaugment': dict(type='TorchvisionAugment', policy='RandAugment', num_ops=2, magnitude=9, fill=0)}


#: The options that change some arms only (make_configure, make_describe): given without any of them, refused.
ARM_OPTIONS = dict(lr=('ohl', ), entropy_weight=('ohl', ), save_policies=('ohl', ), distribution=('uniform', 'ohl'),
                   elements=('uniform', 'ohl'), pair_prob=('uniform', 'ohl'), policy_size=('uniform', 'ohl'),
                   ra_magnitude=('randaugment', ), policies=('learned', ))


def make_configure(args: argparse.Namespace):
    def configure(cfg, arm: str) -> None:
        hook = cfg.custom_hooks[0]
        if args.samples_per_class is not None:
            cfg.train_dataloader.dataset.samples_per_class = args.samples_per_class
        if args.copies is not None:
            hook.num_copies = args.copies
        if args.reward_samples is not None:
            cfg.reward_dataloader.dataset.max_samples = args.reward_samples
        if args.lr is not None:
            hook.controller.optimizer.lr = args.lr
        if args.entropy_weight:  # REINFORCE's entropy bonus (reward points per nat); the controller-free arms
            hook.controller.entropy_weight = args.entropy_weight  # get FrozenController below: nothing moves
        if args.distribution == 'categorical':  # E x E pairs, the factorised space's (E, E): the transform's
            hook.spaces[0].distribution = dict(type='Categorical')
        if args.trunk_iters is not None:  # the engine's trunk, every arm alike (as --copies)
            set_trunk_iters(hook, args.trunk_iters)
        if args.reward == 'log_likelihood':  # the engine's reward (and best-copy choice), every arm alike
            hook.reward_key, hook.reward_evaluator = 'log_likelihood/mean', dict(type='LogLikelihood')
        if args.reward_bn:  # the engine's reward (and best-copy choice), every arm alike: clean BN statistics
            hook.bn_recalibration_batches = args.reward_bn
        if args.channels_last:  # speed only, every arm alike: the same results up to float rounding
            cfg.model.channels_last = True
        if args.reward_batch is not None:  # speed only, every arm alike: the reward is a mean over images
            cfg.reward_dataloader.batch_size = args.reward_batch
        if args.shared_order:  # the engine's sampler, every arm alike: all copies see one order per epoch
            cfg.train_dataloader.sampler.shared_order = True
        pipeline = cfg.train_dataloader.dataset.pipeline  # crop, flip, OHLAutoAugment, pack
        if arm in ('uniform', 'ohl'):
            pipeline[2]['elements'] = args.elements
        if args.pair_prob is not None and arm in ('uniform', 'ohl'):
            # mmcv's RandomApply: a share of the images gets a pair; only those record a choice for the controller
            pipeline[2] = dict(type='mmcv.RandomApply', transforms=[pipeline[2]], prob=args.pair_prob)
        if args.policy_size is not None and arm in ('uniform', 'ohl'):
            hook.spaces[0].policy_size = args.policy_size  # K pairs per copy and trunk, one of them per image
        if arm == 'ohl':
            return
        hook.controller.type = 'FrozenController'  # the engine of the OHL arm, theta fixed
        if arm == 'uniform':
            return
        if arm not in ARMS:
            raise ValueError(f'unknown arm {arm!r}; choose from {ARMS}')
        hook.spaces[0].distribution = dict(type='Categorical', num_choices=2)
        inner = [_TORCHVISION[arm]] if arm in _TORCHVISION else []
        if arm == 'randaugment':
            inner = [dict(inner[0], magnitude=args.ra_magnitude)]
        if arm == 'learned':
            inner = [learned_policy(args.policies, cfg.randomness.seed)]
        choice = dict(type='OHLRandomChoice', key='autoaug', transforms=[inner, inner])
        cfg.train_dataloader.dataset.pipeline = [choice, pipeline[-1]] if arm == 'none' else \
            [pipeline[0], pipeline[1], choice, pipeline[-1]]
    return configure


#: Options that do not change the ohl arm's search: the seeds and arms run, and where runs and policies go.
NOT_SEARCH_SETTINGS = ('seeds', 'arms', 'work_dir', 'save_policies', 'policies', 'ra_magnitude')


def search_settings(args: argparse.Namespace) -> dict:
    """The options of an ohl run that ``--save-policies DIR`` records in ``DIR/settings.json``: every option but
    :data:`NOT_SEARCH_SETTINGS` (speed-only ones too: float rounding can turn a tie of rewards)."""
    return {key: value for key, value in sorted(vars(args).items()) if key not in NOT_SEARCH_SETTINGS}


def check_kept_policies(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``parser.error`` (before any training) for ``--save-policies DIR`` that keeps policies of another search:
    ``DIR/settings.json`` records other settings, or ``DIR`` holds policies without it (kept before folders
    recorded their settings). The learned arm replays ``DIR/ohl<seed>.py`` for every seed and its mean ± std is
    one experiment's only if every policy there was searched alike. Otherwise writes ``DIR/settings.json``."""
    directory = args.save_policies
    ours = search_settings(args)
    path = osp.join(directory, 'settings.json')
    if osp.isfile(path):
        with open(path) as f:
            theirs = json.load(f)
        differ = [f'--{key.replace("_", "-")} {theirs.get(key)} there, {ours.get(key)} here'
                  for key in sorted(set(theirs) | set(ours)) if theirs.get(key) != ours.get(key)]
        if differ:
            parser.error(f'--save-policies {directory} keeps the policies of a search with other settings '
                         f'({"; ".join(differ)}): the learned arm would replay policies of two searches as one; '
                         'choose another folder or give the options it records in settings.json')
        return
    kept = sorted(name for name in (os.listdir(directory) if osp.isdir(directory) else [])
                  if name.startswith('ohl') and name.endswith('.py'))
    if kept:
        parser.error(f'--save-policies {directory} holds policies of a search whose settings it does not record '
                     f'({", ".join(kept)}, no settings.json): the learned arm would replay them with this search\'s '
                     'as one; choose another folder')
    os.makedirs(directory, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(strict_json(ours), f, indent=1, allow_nan=False)


def kept_policy_path(directory: str, seed: int) -> str:
    """Where ``--save-policies DIR`` keeps the ohl arm's policy of ``seed`` (the run folder's name, ``ohl<seed>``)."""
    return osp.join(directory, f'ohl{seed}.py')


def learned_policy(directory: str | None, seed: int) -> dict:
    """The fixed transform of ``directory/ohl<seed>.py`` (an OHL run's ``final_policy.py``), keyed apart from the
    engine's two-way choice.

    Raises:
        ValueError: no ``--policies`` directory was given.
        FileNotFoundError: the file is missing (its path is in the message).
    """
    if directory is None:
        raise ValueError('the learned arm replays an OHL run\'s policy: give --policies DIR (kept by an ohl run '
                         'with --save-policies DIR)')
    path = kept_policy_path(directory, seed)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no learned policy for seed {seed}; run the ohl arm with --seeds {seed} '
                                f'--save-policies {directory} first')
    return dict(Config.fromfile(path).ohl_fixed_autoaug, key='learned')


def policy_summary(work: str, elements: str = 'ohl', top: int = 5) -> str:
    """Elements the learned policy favours / avoids: first- and second-operation marginals x E (1 = uniform)."""
    path = osp.join(work, 'ohl', 'probs_autoaug.npz')
    if not osp.isfile(path):
        return ''
    names = [n if m is None else f'{n}({m:g})' for n, m in ELEMENT_SETS[elements]]
    num = len(names)
    with np.load(path) as rec:
        pairs = rec['probs'][-1].reshape(num, num)
    parts = []
    for label, marginal in (('first', pairs.sum(1)), ('second', pairs.sum(0))):
        order = np.argsort(-marginal, kind='stable')
        fmt = ', '.join
        parts.append(f'{label}: top {fmt(f"{names[i]} {num * marginal[i]:.2f}" for i in order[:top])}; '
                     f'avoided {fmt(f"{names[i]} {num * marginal[i]:.2f}" for i in order[::-1][:top])}')
    shares = [text for text in (bin_shares(pairs, elements), randaugment_share(pairs, elements)) if text]
    return '\n    ' + '\n    '.join(parts + shares)


def randaugment_share(pairs: np.ndarray, elements: str) -> str:
    """For the union set 'ohl+randaugment': the policy's first- and second-operation mass on RandAugment's 18
    elements, and its mass on pairs of two of them, against uniform's (18 / 52 = 0.346 and 0.120): how far the
    search moved toward the milder space on its own. ``pairs``: the E x E pair probabilities. Empty for another
    set."""
    if elements != 'ohl+randaugment':
        return ''
    listed, own = ELEMENT_SETS[elements], set(ELEMENT_SETS['randaugment'])
    index = [i for i, e in enumerate(listed) if e in own]
    share = len(index) / len(listed)
    both = pairs[np.ix_(index, index)].sum()
    return (f'RandAugment elements: first {pairs.sum(1)[index].sum():.3f}, second {pairs.sum(0)[index].sum():.3f} '
            f'(uniform {share:.3f}); both {both:.3f} (uniform {share ** 2:.3f})')


def bin_shares(pairs: np.ndarray, elements: str) -> str:
    """Where a set has a magnitude axis: the policy's first- and second-operation mass on each bin's elements,
    against uniform's (elements that two bins share, such as Posterize(7) of bins 4 and 9, and those without a
    magnitude are left out). ``pairs``: the E x E pair probabilities. Empty for a set of one magnitude."""
    bins = ELEMENT_SET_BINS.get(elements)
    if bins is None:
        return ''
    listed = ELEMENT_SETS[elements]
    per_bin = [set(randaugment_elements(b)) for b in bins]
    index = [[i for i, e in enumerate(listed) if e[1] is not None and e in own
              and sum(e in other for other in per_bin) == 1] for own in per_bin]
    parts = []
    for label, marginal in (('first', pairs.sum(1)), ('second', pairs.sum(0))):
        parts.append(f'{label}: ' + ', '.join(f'bin {b} {marginal[i].sum():.3f} (uniform {len(i) / len(listed):.3f})'
                                              for b, i in zip(bins, index)))
    return 'strength ' + '; '.join(parts)


def copy_spread(history: list[dict]) -> float | None:
    """The copies' reward spread of an OHL run (``ohl/history.json``'s records), in the reward's unit: the population
    std of the rewards the copies read in a trunk (:func:`~automl_mm.ohl.progress.read_flags`: a diverged copy's
    stand-in, or that of a copy that read no metrics, is no copy's reading), averaged over the trunks where at least
    2 copies read one: the noise REINFORCE works in. A trunk of one reading has no spread (its std of 0 was averaged
    in, as were the equal stand-ins of a trunk where no copy read); None when no trunk has 2 readings."""
    spreads = [float(np.std(read)) for read in ([r for r, ok in zip(h['rewards'], read_flags(h)) if ok]
                                                for h in history) if len(read) > 1]
    return float(np.mean(spreads)) if spreads else None


def describe(arm: str, work: str, elements: str = 'ohl') -> str:
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    last = history[-1]
    spread = copy_spread(history)
    best = last['rewards'][last['best']]
    fmt = '.2f' if best > 0 else '.4f'  # top-1 in percent, or a log-likelihood in nats (<= 0)
    text = f' | best copy reward {best:{fmt}} | copy spread {std_text(spread, fmt)}'
    if arm == 'ohl':
        uniform = uniform_pair_entropy(elements)
        text += (f' | entropy {last["distributions"]["autoaug"]["entropy"]:.3f} (uniform {uniform:.3f})'
                 + policy_summary(work, elements))
    return text


def make_describe(args: argparse.Namespace):
    def describe_and_keep(arm: str, work: str) -> str:
        text = describe(arm, work, args.elements)
        if arm == 'ohl' and args.save_policies:
            os.makedirs(args.save_policies, exist_ok=True)
            seed = int(osp.basename(work)[len(arm):])  # run_arms names the run folder <arm><seed>
            kept = kept_policy_path(args.save_policies, seed)
            shutil.copyfile(osp.join(work, 'ohl', 'final_policy.py'), kept)
            text += f'\n    policy kept in {kept}'
        return text
    return describe_and_keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--samples-per-class', type=int, default=None, help='default: the config\'s 100')
    parser.add_argument('--arms', nargs='+', action=UniqueValues, default=None, choices=ARMS,
                        help='default: every arm; learned only with --policies (it replays a kept policy)')
    parser.add_argument('--reward-samples', type=int, default=None,
                        help='reward-split images scored per copy and trunk (default: the config\'s 2,000)')
    parser.add_argument('--copies', type=int, default=None, help='number of copies (default: the config\'s 4)')
    parser.add_argument('--lr', type=float, default=None, help='controller learning rate of the ohl arm')
    parser.add_argument('--entropy-weight', type=float, default=0.0,
                        help="ohl arm: weight of REINFORCE's entropy bonus, in reward points per nat (default 0: "
                             'plain REINFORCE)')
    parser.add_argument('--distribution', choices=('factorised', 'categorical'), default='factorised',
                        help='first x second element factors (the config) or one softmax over the E x E pairs '
                             '(1,296 for the 36)')
    parser.add_argument('--trunk-iters', type=int, default=None,
                        help='OHL trunk length in iterations, every arm (default: the config\'s one epoch)')
    parser.add_argument('--policy-size', type=int, default=None,
                        help='uniform and ohl arms: K pairs drawn per copy and trunk, every image gets one of them '
                             '(PipelineChoiceSpace policy_size; default: a pair drawn per image)')
    parser.add_argument('--elements', choices=sorted(ELEMENT_SETS), default='ohl',
                        help="uniform and ohl arms: the elements of the pairs, the paper's 36 (default here, as "
                             "in every table measured before the config moved to 'randaugment'), RandAugment's "
                             "operations at magnitude 9 (18 elements with Identity), both, or RandAugment's "
                             'operations at bins 4, 9 and 14 (47 elements: a magnitude axis)')
    parser.add_argument('--ra-magnitude', type=int, default=9,
                        help="the randaugment arm's magnitude bin of 31 (default: torchvision's 9)")
    parser.add_argument('--save-policies', default=None, metavar='DIR',
                        help="keep each ohl run's final_policy.py as DIR/ohl<seed>.py (for the learned arm) and "
                             "the search's settings as DIR/settings.json (a folder of another search's is refused)")
    parser.add_argument('--policies', default=None, metavar='DIR',
                        help='the learned arm replays DIR/ohl<seed>.py')
    parser.add_argument('--pair-prob', type=float, default=None,
                        help='share of images that get a pair in the uniform and ohl arms (default: all)')
    parser.add_argument('--shared-order', action='store_true',
                        help='every copy sees the images in the same order (CopySampler shared_order: common '
                             'random numbers), every arm')
    parser.add_argument('--reward', choices=('accuracy', 'log_likelihood'), default='accuracy',
                        help="the copies' reward, every arm: top-1 on the reward split (the config) or the mean "
                             'log-likelihood of its labels (continuous)')
    parser.add_argument('--reward-bn', type=int, default=0, metavar='N',
                        help="read every copy's reward with BatchNorm statistics re-estimated on N clean training "
                             'batches (OHLHook.bn_recalibration_batches), every arm; 0: off')
    parser.add_argument('--channels-last', action='store_true',
                        help='ImageClassifier(channels_last=True), every arm: NHWC convolutions, faster on CPU, the '
                             'same results up to float rounding (the tables in the README ran without it unless '
                             'they say so; make demo runs with it)')
    parser.add_argument('--reward-batch', type=int, default=None, metavar='N',
                        help="reward_dataloader.batch_size, every arm (default: the config's 256; make demo: 64, "
                             'faster on CPU, the same rewards up to float rounding)')
    add_work_dir_option(parser)
    args = parser.parse_args()
    if args.arms is None:  # learned needs --policies: a plain run (the README's commands) stopped asking for them
        args.arms = [arm for arm in ARMS if arm != 'learned' or args.policies]
    refuse_bad_counts(parser, args, at_least_1=('epochs', 'samples_per_class', 'reward_samples', 'copies'))
    refuse_more_reward_samples_than_split(parser, args, CONFIG)
    refuse_bad_seeds(parser, args)
    if args.samples_per_class is not None:  # every arm trains on the config's train split
        train_set = Config.fromfile(CONFIG).train_dataloader.dataset
        train_set.samples_per_class = args.samples_per_class
        refuse_more_per_class_than_split(parser, {'--samples-per-class': train_set})
    refuse_bad_rates(parser, args, positive=('lr', ), shares=('pair_prob', ))
    refuse_bad_trunk_length(parser, args)
    if args.reward_batch is not None and args.reward_batch < 1:
        parser.error(f'--reward-batch must be a positive batch size, got {args.reward_batch}')
    if args.reward_bn < 0:
        parser.error(f'--reward-bn must be a number of batches >= 0, got {args.reward_bn}')
    if args.policy_size is not None and args.policy_size < 1:
        parser.error(f'--policy-size must be a positive number of pairs, got {args.policy_size}')
    if not 0 <= args.entropy_weight < float('inf'):
        parser.error(f'--entropy-weight must be a finite number >= 0, got {args.entropy_weight}')
    if not 0 <= args.ra_magnitude <= 30:
        parser.error(f'--ra-magnitude must be a bin in [0, 30], got {args.ra_magnitude}')
    refuse_unused_options(parser, args, args.arms, ARM_OPTIONS)
    if 'learned' in args.arms:  # before any training: every seed's policy must be there
        for seed in args.seeds:
            try:
                learned_policy(args.policies, seed)
            except (ValueError, FileNotFoundError) as err:
                parser.error(str(err))
    if 'ohl' in args.arms and args.save_policies:  # before any training: a kept policy is never overwritten
        kept = [path for seed in args.seeds if osp.exists(path := kept_policy_path(args.save_policies, seed))]
        if kept:
            parser.error(f'--save-policies {args.save_policies} already holds {", ".join(kept)}: choose another '
                         'folder or move them')
        check_kept_policies(parser, args)  # nor kept beside the policies of another search
    per_class = args.samples_per_class or 100
    print(f'Fashion-MNIST, {10 * per_class} training images, {args.epochs} epochs, seeds {args.seeds}, '
          f'OHL distribution {args.distribution}, elements {args.elements}'
          + (f', RandAugment bin {args.ra_magnitude}' if 'randaugment' in args.arms else ''), flush=True)
    run_arms(CONFIG, args.arms, args.seeds, args.epochs, make_configure(args), make_describe(args),
             work_dir=args.work_dir)


if __name__ == '__main__':
    main()
