"""OHL's cost: an N-copy OHL run against N plain runs of the same iterations, side by side in one run.

Both sides train the digits CNN on the same data for the same epochs with N processes at once (the OHL run
spawns its N copies; the plain side starts N independent trainings), so they compete for the same cores. The two
sides run ``--repeats`` times as pairs, in alternating order (plain first in pairs 1, 3, ..., OHL first in pairs
2, 4, ...: ABBA), so warm file caches, drift of the machine's load and heat reach both sides alike; until the
forty-third session the plain runs always went first, once, and the one ratio carried that order (and the cold
file cache: an untimed process now loads the libraries first).
Prints the wall-time ratio OHL / plain of every pair and their mean ± sample std (``n/a`` for one pair; the number
of pairs is printed with it, and a std of 2-3 pairs is a rough one) and, from the OHL runs' own per-trunk timings
(``history.json``, summed over a run, averaged over the repeats), the breakdown:
training, reward evaluation, waiting for the slowest copy (load imbalance between copies), gather +
controller update, broadcast of the best copy, the sync check, and the main process's report (history, policy
and figures, which every copy waits for at the next trunk end). The engine's own cost is the gather, update,
broadcast and check; its goal is < 2 % of training.

Run: python benchmarks/ohl_overhead.py [--copies 2] [--epochs 6] [--trunk-epochs 2] [--train-samples 1078]
     [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import mean_std, refuse_bad_trunk_length
from _options import refuse_bad_counts
from _pairs import abba_order
from _pairs import paired_ratios as _paired_ratios

from automl_mm.engine.launch import EXIT_WITH_PARENT_ENV, usable_cpus

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
PLAIN = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'
WARM_UP = 'import torch, mmengine.runner, mmdet.models, automl_mm.models, automl_mm.ohl'  # the libraries both load


def _common(epochs: int) -> list[str]:
    return [f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1000', 'default_hooks.logger.interval=50',
            'default_hooks.checkpoint.interval=1000', 'default_hooks.checkpoint.save_last=False',
            f'param_scheduler.0.T_max={epochs}', 'visualizer.vis_backends.0.type=LocalVisBackend']


def _env(threads: int) -> dict:
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
                OMP_NUM_THREADS=str(threads), **{EXIT_WITH_PARENT_ENV: '1'})


def arm_order(pair: int) -> tuple[str, str]:
    """The order of the two arms in paired repeat ``pair`` (0-based): ``('plain', 'ohl')`` in pairs 0, 2, ... and
    ``('ohl', 'plain')`` in pairs 1, 3, ... (ABBA), so that neither side always runs first (on cold caches, or
    before a change of the machine's load)."""
    return tuple(abba_order(('plain', 'ohl'), pair))


def timed_pairs(arms: dict[str, Callable[[int], float]], repeats: int) -> dict[str, list[float]]:
    """Run both arms ``repeats`` times in :func:`arm_order`; ``{arm: [seconds of pair 0, pair 1, ...]}``.

    Args:
        arms: ``{'plain': fn, 'ohl': fn}``; ``fn(pair)`` runs the arm once and returns its wall time in s.
        repeats: Paired repeats, >= 1.
    """
    times: dict[str, list[float]] = {name: [] for name in arms}
    for pair in range(repeats):
        for name in arm_order(pair):
            times[name].append(arms[name](pair))
    return times


def paired_ratios(ohl: list[float], plain: list[float]) -> list[float]:
    """``ohl[i] / plain[i]``: the ratio of each pair, both sides timed back to back in one repeat.

    The summary is the mean (± sample std) of these ratios, not the ratio of the two sides' mean times (which a
    slow pair on a loaded machine weighs more) nor a ratio of one side's time to the other's from another pair.

    Raises:
        ValueError: The two lists differ in length (unpaired repeats) or are empty.
    """
    return _paired_ratios(ohl, plain, 'paired ratios need as many OHL as plain times (>= 1)')


def mean_breakdown(histories: list[list[dict]]) -> dict[str, float]:
    """Per-part seconds of the OHL runs' rank 0 (``history.json``'s ``seconds``), summed over each run's trunks and
    averaged over the runs; a part a run did not record (``report`` before it was timed) counts 0 there."""
    keys = list(dict.fromkeys(k for history in histories for k in history[-1]['seconds']))
    return {k: sum(sum(h['seconds'].get(k, 0.0) for h in history) for history in histories) / len(histories)
            for k in keys}


def refuse_more_train_samples_than_split(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``parser.error`` (before any run) when ``--train-samples`` exceeds the digits train split both sides read
    (the plain config's ``train_dataloader.dataset``: 1,078 images at its ``split_sizes``): ``max_samples`` keeps the
    first N, so ``--train-samples 2000`` trained both sides on the 1,078 under a header of 2000."""
    from mmengine.config import Config

    from automl_mm.datasets.digits import DigitsDataset

    dataset = Config.fromfile(osp.join(ROOT, PLAIN)).train_dataloader.dataset
    held = len(DigitsDataset(split=dataset.get('split', 'train'),
                             **{key: dataset[key] for key in ('split_sizes', 'seed') if key in dataset}))
    if args.train_samples > held:
        parser.error(f'--train-samples {args.train_samples}: the digits train split ({PLAIN}) holds {held} images; '
                     f'give at most {held}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--copies', type=int, default=2)
    parser.add_argument('--epochs', type=int, default=6)
    parser.add_argument('--trunk-epochs', type=int, default=2, help='OHL trunk length in epochs; must divide --epochs')
    parser.add_argument('--train-samples', type=int, default=1078, help='digits training images (1078 = all)')
    parser.add_argument('--repeats', type=int, default=2,
                        help='paired repeats of both sides, in alternating order (ABBA); the ratio is averaged over '
                             'the pairs (default: %(default)s)')
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1 (paired runs of both sides), got {args.repeats}')
    # --copies 0 divided by zero below; --epochs 0 passed the trunk check (every trunk divides 0)
    refuse_bad_counts(parser, args, at_least_1=('copies', 'epochs', 'train_samples'))
    refuse_bad_trunk_length(parser, args)  # the breakdown counts whole trunks of --trunk-epochs
    refuse_more_train_samples_than_split(parser, args)
    threads = max(1, usable_cpus() // args.copies)
    histories: list[list[dict]] = []
    with tempfile.TemporaryDirectory() as tmp:

        def plain_arm(pair: int) -> float:
            start = time.perf_counter()
            procs = [subprocess.Popen(
                [sys.executable, 'tools/train.py', PLAIN, '--work-dir', osp.join(tmp, f'plain{pair}_{i}'),
                 '--cfg-options', *_common(args.epochs), f'train_dataloader.dataset.max_samples={args.train_samples}',
                 f'randomness.seed={i}'],
                cwd=ROOT, env=_env(threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for i in range(args.copies)]
            for p in procs:
                _, err = p.communicate()
                if p.returncode:
                    raise RuntimeError(f'plain run failed:\n{err[-3000:]}')
            return time.perf_counter() - start

        def ohl_arm(pair: int) -> float:
            start = time.perf_counter()
            work = osp.join(tmp, f'ohl{pair}')
            proc = subprocess.run(
                [sys.executable, 'tools/train.py', OHL, '--work-dir', work, '--cfg-options', *_common(args.epochs),
                 f'custom_hooks.0.num_copies={args.copies}', f'custom_hooks.0.trunk_epochs={args.trunk_epochs}',
                 f'train_dataloader.dataset.max_samples={args.train_samples}'],
                cwd=ROOT, env=_env(threads), capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f'OHL run failed:\n{proc.stderr[-3000:]}')
            seconds = time.perf_counter() - start
            with open(osp.join(work, 'ohl', 'history.json')) as f:
                histories.append(json.load(f))
            return seconds

        # untimed: the first process to load torch, mmengine and mmdet from disk pays for the file cache (it was
        # always the plain side's); both sides then start warm
        subprocess.run([sys.executable, '-c', WARM_UP], cwd=ROOT, env=_env(threads), check=True, capture_output=True)
        times = timed_pairs({'plain': plain_arm, 'ohl': ohl_arm}, args.repeats)

    ratios = paired_ratios(times['ohl'], times['plain'])
    totals = mean_breakdown(histories)
    engine = totals['gather_update'] + totals['broadcast'] + totals['verify']
    print(f'{args.copies} copies x {args.epochs} epochs on digits ({args.train_samples} training images), '
          f'{len(histories[-1])} trunks of {args.trunk_epochs} epochs; {args.repeats} paired repeat(s), '
          f'alternating order (plain first in pairs 1, 3, ...)')
    print('wall time per pair (s): ' + '; '.join(
        f'{p + 1}: {args.copies} plain runs {pl:.1f}, OHL run {oh:.1f}, ratio {r:.2f}'
        for p, (pl, oh, r) in enumerate(zip(times['plain'], times['ohl'], ratios))))
    print(f'ratio OHL / plain, mean ± sample std of {len(ratios)} paired ratio(s): {mean_std(ratios)}')
    print('OHL rank-0 breakdown (s, mean of the OHL runs): ' + ', '.join(f'{k} {v:.3f}' for k, v in totals.items()))
    print(f'reward evaluation / training: {totals["reward"] / totals["train"]:.3f}; '
          f'waiting for the slowest copy / training: {totals["wait"] / totals["train"]:.3f}; '
          f'main-process report (history, policy, figures) / training: '
          f'{totals.get("report", 0.0) / totals["train"]:.3f}')
    print(f'engine (gather + update + broadcast + verify) / training: {engine / totals["train"]:.4f} '
          f'(goal < 0.02); without the optional sync check: {(engine - totals["verify"]) / totals["train"]:.4f}')

if __name__ == '__main__':
    main()
