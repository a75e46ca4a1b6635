"""What does OHL-Auto-Aug's one-trunk reward see? The short-horizon check on reduced Fashion-MNIST.

OHL rewards a copy by its reward-split accuracy right after one trunk of training. A policy that helps the *final*
accuracy (augmentation as a regulariser) may look worse after one trunk than a milder one, so a controller that
follows the reward would drift toward the mildest policy (short-horizon bias, Wu et al. 2018, "Understanding
Short-Horizon Bias in Stochastic Meta-Optimization"). This script measures both horizons on the same data, in the
plain loop of ``benchmarks/fmnist_regime.py`` (the demo's model and optimiser, one thread, never the test set):

* **final**: a model trained all ``--epochs`` with each policy; accuracy on held-out images 1,000-4,999;
* **one trunk** (and ``--horizons`` trunks): along the trajectory trained with ``--trajectory``, every ``--every``
  epochs the state (weights, optimiser, schedule) is branched, each policy trains from it for h epochs, and its
  accuracy on held-out images 0-999 (the reward split's size in ``benchmarks/autoaug_fmnist.py``) is read, as OHL's
  copies do after a trunk. ``--reps`` replicates per branch (replicate r: the same data order, crops and pair draws
  for every policy, different across replicates) give the noise of one reading.

Besides OHL's reward each branch reads candidate rewards that need no training beyond the trunk (``SIGNALS``): the
reward split's mean log-likelihood of the labels (the ``LogLikelihood`` metric), and the reward split's accuracy
and log-likelihood minus the same model's on its own (un-augmented) training images: minus the generalisation
gap, which a policy that only speeds up fitting should widen; and the reward split's accuracy after BatchNorm's
statistics are recomputed on the clean training images (:func:`read_clean_bn`). With ``--cooldown E`` also
the reward split's accuracy of a throwaway copy trained E more epochs with its learning rate annealed linearly to
0 (:func:`read_cooldown`; crop + flip only, and the branch's own policy): what the run would read if its schedule
ended at the branch, a reading of the late gain a policy's regularisation brings (the short-horizon bias is the
gap between the two). A candidate that ranks the policies as their final accuracies do would be worth a reward
in the engine.

Policies (all after crop + flip, pad 2, as the engine's pipeline): ``cropflip`` (nothing more), ``ra18`` (a
uniformly random pair of RandAugment's 18 elements, ``FixedAutoAugment(elements='randaugment', fill=0)``) and
``ohl36`` (of the paper's 36). Printed: per branch epoch the readings; then per policy the final accuracy and the
mean one-trunk reward minus that of ``--trajectory``'s own policy, ± its standard error over branches and
replicates, and the replicate noise (std of one reading at the same start, corrected for the replicates' few
values); the same for each candidate signal under ``signals``.

With ``--every 0`` no branch is read (so ``--horizons`` and ``--reps`` are refused there): each policy is trained
``--epochs`` from scratch (its own cosine schedule) and scored on held-out images 1,000-4,999. Run at a few short
lengths, that is the reward of an outer loop over whole short runs (AutoAugment's, which trains a child model per
sampled policy): it is worth that loop's cost only if short runs rank the policies as the full-length run does.

Run: python benchmarks/reward_horizon.py [--seed 0] [--epochs 200] [--per-class 100] [--every 20]
     [--horizons 1 4] [--reps 2] [--trajectory ra18] > seed0.log   (53 minutes per seed on 2 shared cores)
     python benchmarks/reward_horizon.py --summarise seed0.log seed1.log seed2.log      (mean ± std over seeds)
         (reads only the logs and --trajectory; a training option given with it is refused)
     python benchmarks/reward_horizon.py --every 0 --epochs 50 --seed 0 > short50_seed0.log      (whole short runs)
     python benchmarks/reward_horizon.py --device cuda --width 128,256,512 --per-class 1000 --epochs 100 --horizons 1
         --seed 0 > wide_seed0.log      (a wider model on a GPU: 7 minutes per seed, 6 side by side on one H200)

     python benchmarks/reward_horizon.py --seed 0 --horizons 1 --reps 1 --cooldown 3 --no-final > cd3_seed0.log
         (the cool-down readings at the 1,000 images x 200 epochs above; about 25 minutes per seed alone)

``--width`` sets the model's channels per stage (default the demo's 32,64,128) and ``--device`` where it trains
(the images are augmented on the CPU as before). A run's first line (``HEADER``) names its seed and settings.
``--summarise`` refuses, before printing anything, logs of different settings (``RUN_SETTINGS``: their mean would
mix two experiments), two logs of one seed (a run counted twice), a log holding several runs, and an unfinished
log (killed or still running: no summary line, or branch readings missing), naming it and what it lacks.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import numpy as np
import torch
import torch.nn.functional as F
from _arms import c4, refuse_options_outside_mode
from _options import refuse_bad_counts, refuse_bad_seeds
from fmnist_regime import (
    BATCH,
    accuracy,
    build_net,
    load_split,
    make_optimizer,
    refuse_more_per_class_than_pool,
    to_tensor,
    train_epoch,
)

from automl_mm.augment.policy import FixedAutoAugment
from automl_mm.engine.evaluate import kept_bn_statistics
from automl_mm.engine.tool_devices import checked_device

POLICIES = {'cropflip': None, 'ra18': 'randaugment', 'ohl36': 'ohl'}
# The settings a run's header and summary lines record that logs summarised together must share (value: what a
# log written before the key existed ran with; its horizons are those of its branch lines); the seed is what differs
# between them. Every option that changes a reading is here: --every as the branch epochs, --device as its kind (a
# GPU's convolutions are not deterministic); --no-final only leaves the other policies' finals out (their means
# then say over how many logs they are).
RUN_SETTINGS = {'epochs': None, 'per_class': None, 'trajectory': 'ra18', 'branches': None, 'reps': None,
                'width': [32, 64, 128], 'cooldown': 0, 'horizons': None, 'device': 'cpu'}
HEADER = 'benchmarks/reward_horizon.py'  # the first line of a run's log: {"header": HEADER, "seed": S, settings}
# Candidate rewards, each read from the same branch: name -> (value of one reading, decimals, reading keys it needs).
# Units: accuracy points, except log-likelihoods (nats per image).
SIGNALS = {
    'reward': (lambda r: r['reward'], 2, ('reward',)),  # OHL's reward: reward-split top-1
    'log_likelihood': (lambda r: r['log_likelihood'], 4, ('log_likelihood',)),  # the LogLikelihood metric's
    'minus_gap': (lambda r: r['reward'] - r['train_acc'], 2, ('reward', 'train_acc')),  # reward split - training
    'minus_ll_gap': (lambda r: r['log_likelihood'] - r['train_log_likelihood'], 4,
                     ('log_likelihood', 'train_log_likelihood')),
    'clean_bn': (lambda r: r['clean_bn'], 2, ('clean_bn',)),  # reward after clean BN statistics
    # reward after a throwaway cool-down (learning rate annealed to 0; crop + flip only / the branch's policy)
    'cooldown_cropflip': (lambda r: r['cooldown_cropflip'], 2, ('cooldown_cropflip',)),
    'cooldown_same': (lambda r: r['cooldown_same'], 2, ('cooldown_same',)),
}


def read(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Top-1 accuracy (percent) and mean log-likelihood of the labels (nats per image) of ``net`` in eval mode on
    un-augmented images ``x`` (read on the device of ``net``'s parameters)."""
    device = next(net.parameters()).device
    net.eval()
    with torch.no_grad():
        log_probs = F.log_softmax(net(x.to(device)), dim=1).cpu()
    return ((log_probs.argmax(1) == y).float().mean().item() * 100,
            log_probs.gather(1, y[:, None]).mean().item())


def read_clean_bn(net: torch.nn.Module, x_calib: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy (percent) on ``x`` after BatchNorm's running statistics are recomputed on the un-augmented
    images ``x_calib`` (``torch.optim.swa_utils.update_bn``, batches of 64); the statistics are put back after.

    Training on augmented batches moves the running statistics toward augmented images, which costs accuracy on
    clean ones at once (the distribution gap of He et al. 2019, "Data Augmentation Revisited: Rethinking the
    Distribution Gap between Clean and Augmented Data"); this reading takes that immediate cost out of the reward.
    """
    with kept_bn_statistics(net):
        torch.optim.swa_utils.update_bn(x_calib.split(BATCH), net, device=next(net.parameters()).device)
        return read(net, x, y)[0]


class _LinearToZero:
    """Per-iteration schedule of a cool-down: every group's learning rate falls linearly from its value at the
    start to 0 over ``iters`` steps (the ``sched`` :func:`train_epoch` steps)."""

    def __init__(self, opt: torch.optim.Optimizer, iters: int):
        self.opt, self.iters, self.done = opt, iters, 0
        self.start = [group['lr'] for group in opt.param_groups]

    def step(self) -> None:
        self.done += 1
        for group, lr in zip(self.opt.param_groups, self.start):
            group['lr'] = lr * max(0.0, 1.0 - self.done / self.iters)


def read_cooldown(net: torch.nn.Module, opt: torch.optim.Optimizer, epochs: int, x_train: torch.Tensor,
                  y_train: torch.Tensor, gen: torch.Generator, x: torch.Tensor, y: torch.Tensor,
                  augment=None) -> float:
    """Top-1 accuracy (percent) on ``x`` of a throwaway copy of ``net`` trained ``epochs`` more epochs on the
    training images (crop + flip, then ``augment`` if given) with its learning rate annealed linearly from the
    current one to 0; ``net`` and ``opt`` are left as they were.

    What the run would read if its schedule ended here: a policy that regularises trains slower at a high
    learning rate and pays once it is annealed (the short-horizon bias of Wu et al. 2018 is this gap), so the
    cool-down reading may rank policies as their finals do where the plain one-trunk reading does not.
    """
    twin = copy.deepcopy(net)
    twin_opt = type(opt)(twin.parameters(), **opt.defaults)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # momentum buffers and the current learning rate
    sched = _LinearToZero(twin_opt, epochs * ((len(x_train) + BATCH - 1) // BATCH))
    for _ in range(epochs):
        train_epoch(twin, twin_opt, sched, x_train, y_train, gen, augment=augment)
    return read(twin, x, y)[0]


def make_augment(policy: str, seed: tuple[int, ...]):
    """The per-image pair of ``policy`` (None for ``cropflip``), its draws seeded by ``seed``."""
    if POLICIES[policy] is None:
        return None
    # a stream of its own (drawn as the transform drew it before it followed numpy's global RNG per sample): the
    # branches' draws must not move the trajectory's
    np.random.seed(np.random.SeedSequence(seed).generate_state(1)[0])
    rng = np.random.default_rng(np.random.randint(0, 2**31))
    transform = FixedAutoAugment(elements=POLICIES[policy], fill=0)
    return lambda img: transform.transform_with({'img': img}, rng)['img']


def summarise(readings: list[dict], trajectory: str, signal: str = 'reward', rounded: bool = True) -> dict:
    """Per horizon h: ``replicate_noise`` (std of one reading of ``signal`` at the same start, in the signal's unit:
    the sample std over the replicates of each branch and policy divided by c4(reps) (``_arms.c4``; an unbiased
    σ: the plain mean of 2 replicates' stds, printed before 2026-12-05, read 0.80 σ), averaged over branches and
    policies) and per policy the mean reading, and its mean
    difference to ``trajectory``'s reading at the same branch (replicates averaged first) with the standard error
    over branches, for all branches and for those in the first and second half of training (``early`` /
    ``late``). ``rounded``: to the signal's printed digits (for display; statistics over seeds take the exact
    values: means of rounded means were off by up to 0.01 in the last digit)."""
    value, digits, _ = SIGNALS[signal]

    def rnd(x: float) -> float:
        return round(x, digits) if rounded else x

    out = {}
    epochs = sorted({r['epoch'] for r in readings})
    half = epochs[len(epochs) // 2] if epochs else 0
    for h in sorted({r['horizon'] for r in readings}):
        table: dict[tuple[int, str], list[float]] = {}
        for r in readings:
            if r['horizon'] == h:
                table.setdefault((r['epoch'], r['policy']), []).append(value(r))
        policies = list(dict.fromkeys(p for _, p in table))
        # each branch's sample std over its replicates, corrected for the small sample (E[s] = c4(n) sigma: the
        # plain mean of 2 replicates' stds read 0.80 sigma), then averaged over branches and policies
        spreads = [statistics.stdev(v) / c4(len(v)) for v in table.values() if len(v) > 1]
        row: dict = dict(replicate_noise=rnd(statistics.mean(spreads)) if spreads else None)
        for policy in policies:
            diffs = {e: statistics.mean(table[e, policy]) - statistics.mean(table[e, trajectory]) for e in epochs}
            entry = dict(mean=rnd(statistics.mean(x for e in epochs for x in table[e, policy])))
            for name, part in (('all', epochs), ('early', [e for e in epochs if e < half]),
                               ('late', [e for e in epochs if e >= half])):
                values = [diffs[e] for e in part]
                if values:
                    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None
                    entry[name] = dict(minus_trajectory=rnd(statistics.mean(values)),
                                       se=None if se is None else rnd(se))
            row[policy] = entry
        out[f'horizon_{h}'] = row
    return out


def read_log(path: str) -> dict:
    """The lines a run printed into the log ``path``: ``headers`` (its first line; none in a log written before
    it existed), ``readings`` (the branch lines), ``finals`` (each policy's own final line), ``summaries`` (the
    last line of a finished run; none if the run was killed or is still running; more than one of either is
    several runs in one file), ``header`` / ``summary`` (the first header, the last summary line, or None),
    ``seed`` and ``settings`` (of ``RUN_SETTINGS``; from the header, else the summary line; None if it has
    neither). Lines that start neither with ``{`` nor with ``[{`` (e.g. warnings of a log written with
    ``2>&1``) are not the run's and are skipped.

    Raises:
        SystemExit: a line that starts as the run's JSON lines do but is not whole JSON (e.g. cut short by a kill
            while it was printed; it was a bare ``JSONDecodeError`` that named neither the file nor the line), or a
            JSON object of no kind a run prints (it was skipped without a word), naming ``path``, the line number
            and its start.
    """
    log: dict = dict(path=path, readings=[], finals={}, headers=[], summaries=[])
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.startswith(('[{', '{')):
                continue
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError as err:
                raise SystemExit(f'reward_horizon.py --summarise: {path} line {number} is not a whole JSON line '
                                 f'({err.msg} at column {err.colno}; it starts {line[:60]!r}): a run killed while '
                                 'it printed, or a damaged log; rerun that seed or leave the log out') from None
            if line.startswith('[{'):
                log['readings'] += parsed
            else:
                record = parsed
                if 'header' in record:
                    log['headers'].append(record)
                elif isinstance(record.get('final'), dict):  # the summary line
                    log['summaries'].append(record)
                elif 'policy' in record and 'final' in record:  # a policy's own final line (a number)
                    log['finals'][record['policy']] = record['final']
                else:  # skipped, it left a reading, final or summary out without a word
                    raise SystemExit(f'reward_horizon.py --summarise: {path} line {number} is a JSON line of no kind '
                                     f'a run prints (header, branch readings, a policy\'s final, the summary; it '
                                     f'starts {line[:60]!r}): not this script\'s log, or a damaged one')
    log['header'] = log['headers'][0] if log['headers'] else None
    log['summary'] = log['summaries'][-1] if log['summaries'] else None
    record = log['header'] or log['summary']
    log['seed'] = None if record is None else record.get('seed')
    log['settings'] = None if record is None else _settings(record, log['readings'])
    return log


def _settings(record: dict, readings: list[dict]) -> dict:
    """The ``RUN_SETTINGS`` of a header or summary line (a log written before a key existed: its default; before
    the horizons were recorded: those of its branch lines); the device as its kind (cuda:0 and cuda are one)."""
    settings = {key: record.get(key, default) for key, default in RUN_SETTINGS.items()}
    if 'horizons' not in record:
        settings['horizons'] = sorted({r['horizon'] for r in readings})
    settings['device'] = str(settings['device']).split(':')[0]
    return settings


def _per_branch(log: dict) -> tuple[int, dict[int, int]]:
    """How many readings the log's run takes per branch epoch (replicates x policies x horizons), and how many
    its branch lines hold per epoch."""
    settings, counts = log['settings'], {}
    for r in log['readings']:
        counts[r['epoch']] = counts.get(r['epoch'], 0) + 1
    return settings['reps'] * len(POLICIES) * len(settings['horizons']), counts


def _several_runs(log: dict) -> str | None:
    """Why the log holds more than one run (None if it holds one): several header or summary lines, a header and
    a summary line of different seeds or settings, branch readings its run did not take."""
    runs = max(len(log['headers']), len(log['summaries']))
    if runs > 1:
        seeds = sorted({r.get('seed') for r in log['headers'] + log['summaries']}, key=str)
        return f'holds {runs} runs ' + (f'of seed {seeds[0]}' if len(seeds) == 1 else
                                        f'(seeds {", ".join(map(str, seeds))})')
    header, summary, readings = log['header'], log['summary'], log['readings']
    if header is not None and summary is not None and (
            (header['seed'], _settings(header, readings)) != (summary['seed'], _settings(summary, readings))):
        return (f'starts as seed {header["seed"]} {_settings(header, readings)} and ends as seed {summary["seed"]} '
                f'{_settings(summary, readings)}')
    if log['settings'] is None:
        return None
    per_epoch, counts = _per_branch(log)
    extra = sorted(e for e, n in counts.items() if e not in log['settings']['branches'] or n > per_epoch)
    if extra:
        return (f'holds more branch readings than one run takes at epoch{"s" if len(extra) > 1 else ""} '
                + ', '.join(map(str, extra)) + f' ({per_epoch} at each of {log["settings"]["branches"]})')
    return None


def _unfinished(log: dict) -> str | None:
    """What the log lacks of a finished run (None if nothing): branch readings (replicates x policies x horizons
    per branch epoch), the finals its header promises, the summary line."""
    missing = []
    if log['settings'] is not None:
        per_epoch, counts = _per_branch(log)
        lacking = [e for e in log['settings']['branches'] if counts.get(e, 0) < per_epoch]
        if lacking:
            missing.append(f'the readings of branch epoch{"s" if len(lacking) > 1 else ""} '
                           + ', '.join(map(str, lacking)) + f' (of {log["settings"]["branches"]})')
    header = log['header']
    if log['summary'] is None and header is not None:
        finals = [header['trajectory']] + ([] if header['no_final'] else
                                           [p for p in POLICIES if p != header['trajectory']])
        lacking = [p for p in finals if p not in log['finals']]
        if lacking:
            missing.append('the finals of ' + ', '.join(lacking))
    if log['summary'] is None:
        missing.append('the summary line (the run was killed or is still running)')
    return ' and '.join(missing) or None


def summarise_logs(paths: list[str], trajectory: str = 'ra18') -> None:
    """Print each log's summary (recomputed from its branch lines) and, per signal (those every log recorded),
    horizon and policy, the mean ± std over the logs (seeds) of the difference to ``trajectory``; then of the
    final accuracy (over the logs that have it: a ``--no-final`` run has its trajectory's only).

    Raises:
        SystemExit: before anything is printed: a file given twice, a log holding several runs, two logs of one
            seed (a killed run's seed read from its header line), logs that differ in a setting of
            ``RUN_SETTINGS`` (their mean would mix two experiments), logs branched along another trajectory than
            ``trajectory``, or an unfinished log (no summary line, or branch readings missing: it is named with
            what it lacks).
    """
    def refuse(message: str) -> None:
        raise SystemExit(f'reward_horizon.py --summarise: {message}')

    files = {}
    for path in paths:  # one run given twice was a "mean ± std over seeds" of one run
        if os.path.exists(path):
            key = os.path.realpath(path)
            if key in files:
                refuse(f'{files[key]} and {path} are the same file: give each seed\'s log once')
            files[key] = path
    read = [read_log(path) for path in paths]
    several = [(log['path'], why) for log in read if (why := _several_runs(log))]
    if several:  # `cat seed0.log seed1.log > both.log`: two seeds' readings merged as one seed's
        refuse('; '.join(f'{path} {why}' for path, why in several) + ': give each run its own log')
    by_seed: dict = {}
    for log in read:
        if log['seed'] is not None:
            by_seed.setdefault(log['seed'], []).append(log['path'])
    twice = {seed: logged for seed, logged in by_seed.items() if len(logged) > 1}
    if twice:  # two runs of one seed (the same draws) counted as two seeds
        refuse('; '.join(f'{" and ".join(logged)} are both seed {seed}' for seed, logged in twice.items())
               + ': the mean over seeds needs each seed once')
    settings = {log['path']: log['settings'] for log in read if log['settings'] is not None}
    differ = [key for key in RUN_SETTINGS if len({json.dumps(s[key]) for s in settings.values()}) > 1]
    if differ:
        refuse('the logs were run with different settings, so their mean would mix two experiments: '
               + '; '.join(f'{key} ' + ', '.join(f'{s[key]} in {p}' for p, s in settings.items()) for key in differ))
    for path, s in settings.items():
        if s['trajectory'] != trajectory:
            refuse(f'{path} branched along --trajectory {s["trajectory"]}, but --trajectory {trajectory} was '
                   f'given: pass --trajectory {s["trajectory"]}')
    unfinished = [(log, lacks) for log in read if (lacks := _unfinished(log))]
    if unfinished:  # its readings averaged with the others' (its "late" half from other epochs), a seed short
        named = {log['path']: log['path'] if log['seed'] is None else f'{log["path"]} (seed {log["seed"]})'
                 for log, _ in unfinished}
        refuse('; '.join(f'{named[log["path"]]} is unfinished: it lacks {lacks}' for log, lacks in unfinished)
               + ': the mean over seeds takes finished runs only; leave it out or run it to the end')
    logs = [(log['readings'], log['summary']['final']) for log in read]
    per_seed = []
    signals = [name for name in SIGNALS if all(readings and all(k in readings[0] for k in SIGNALS[name][2])
                                               for readings, _ in logs)]
    for path, (readings, final) in zip(paths, logs):
        shown = dict(log=path, final=final, **{name: summarise(readings, trajectory, name) for name in signals})
        print(json.dumps(shown))
        per_seed.append(dict(shown, **{name: summarise(readings, trajectory, name, rounded=False)
                                       for name in signals}))

    def mean_std(values, ndigits=2):
        n_all = len(values)
        values = [v for v in values if v is not None]
        if not values:
            return None
        n = '' if len(values) == n_all else f' (n={len(values)} of {n_all})'  # a log left out, said so
        # the sample std; one value has none (it printed '± 0.00', a spread that looked measured)
        std = f'{statistics.stdev(values):.{ndigits}f}' if len(values) > 1 else 'n/a'
        return f'{statistics.mean(values):.{ndigits}f} ± {std}{n}'

    for name in signals:
        ndigits = SIGNALS[name][1]
        for key in per_seed[0][name]:
            for policy in POLICIES:
                rows = [s[name][key] for s in per_seed]
                cells = {part: mean_std([r[policy].get(part, {}).get('minus_trajectory') for r in rows], ndigits)
                         for part in ('all', 'early', 'late')}
                print(f'{name} {key} {policy:>8} minus {trajectory}: all {cells["all"]} | early {cells["early"]} | '
                      f'late {cells["late"]} | replicate noise '
                      f'{mean_std([r["replicate_noise"] for r in rows], ndigits)}')
    for policy in POLICIES:
        print(f'final {policy:>8}: {mean_std([(s["final"] or {}).get(policy) for s in per_seed])}')


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--epochs', type=int, default=200)
    parser.add_argument('--per-class', type=int, default=100)
    parser.add_argument('--every', type=int, default=20, help='epochs between branch points (0: none, finals only)')
    parser.add_argument('--horizons', type=int, nargs='+', default=[1, 4], help='epochs trained in a branch')
    parser.add_argument('--reps', type=int, default=2)
    parser.add_argument('--trajectory', default='ra18', choices=sorted(POLICIES))
    parser.add_argument('--no-final', action='store_true', help='skip the full runs of the other policies')
    parser.add_argument('--summarise', nargs='+', metavar='LOG', help="only summarise these runs' printed lines")
    parser.add_argument('--width', default='32,64,128',
                        help="the model's channels per stage, comma-separated (default: the demo's 32,64,128)")
    parser.add_argument('--cooldown', type=int, default=0, metavar='EPOCHS',
                        help='also read each branch after a throwaway cool-down of EPOCHS epochs (0: none)')
    parser.add_argument('--device', default='cpu', help="torch device of the model, e.g. 'cuda' (default: cpu)")
    args = parser.parse_args(argv)
    if args.summarise:
        refuse_options_outside_mode(parser, args, 'with --summarise', ('summarise', 'trajectory'),
                                    'it trains nothing: it summarises the lines the LOG runs printed')
        summarise_logs(args.summarise, args.trajectory)
        return {}
    if args.every == 0:
        refuse_options_outside_mode(parser, args, 'with --every 0', set(vars(args)) - {'horizons', 'reps', 'cooldown'},
                                    'no branch is read: each policy is trained --epochs from scratch')
    # --per-class 0 trained on no image; a negative seed or --per-class failed in numpy once the data was read
    refuse_bad_counts(parser, args, at_least_1=('epochs', 'per_class', 'reps', 'horizons'),
                      at_least_0=('every', 'cooldown'))
    refuse_bad_seeds(parser, args, ('seed', ))
    try:
        width = tuple(int(c) for c in args.width.split(','))
    except ValueError:
        width = ()
    if not width or min(width) < 1:
        parser.error(f'--width must be positive channel counts separated by commas, e.g. 64,128,256; '
                     f'got {args.width!r}')
    device = checked_device(parser, args.device)  # else it failed at the first model, the data read
    try:
        refuse_more_per_class_than_pool(args.per_class)
    except ValueError as err:
        parser.error(f'--per-class {err}')
    horizon_max = max(args.horizons)
    branches = [e for e in range(args.every // 2, args.epochs, args.every) if e + horizon_max <= args.epochs] \
        if args.every else []
    if args.every and not branches:
        parser.error(f'no branch point: --every {args.every} and --horizons up to {horizon_max} need more than '
                     f'--epochs {args.epochs}')
    # the header (the first line, before any training): a log of a run killed before its summary line still says
    # which seed and settings it ran, so --summarise can refuse it as another run of a seed it was given
    settings = dict(seed=args.seed, epochs=args.epochs, per_class=args.per_class, trajectory=args.trajectory,
                    width=list(width), device=args.device, cooldown=args.cooldown, branches=branches,
                    reps=args.reps, horizons=sorted(set(args.horizons)) if branches else [])
    print(json.dumps(dict(header=HEADER, **settings, no_final=args.no_final)), flush=True)
    torch.set_num_threads(1)
    start = time.time()
    images, labels, train, held_out = load_split(args.per_class, args.seed)
    x_train, y_train = to_tensor(images[train]), torch.tensor(labels[train])
    x_reward, y_reward = to_tensor(images[held_out[:1000]]), torch.tensor(labels[held_out[:1000]])
    x_final, y_final = to_tensor(images[held_out[1000:]]), torch.tensor(labels[held_out[1000:]])

    readings = []  # dicts: epoch, rep, policy, horizon, reward

    def branch(net, opt, sched, epoch: int) -> None:
        """Read every policy's reward after 1..horizon_max epochs from this state, then put the state back."""
        state = copy.deepcopy((net.state_dict(), opt.state_dict(), sched.state_dict()))

        def restore():
            # a copy: Optimizer.load_state_dict keeps the momentum tensors it is given and updates them in place
            net.load_state_dict(state[0])
            opt.load_state_dict(copy.deepcopy(state[1]))
            sched.load_state_dict(state[2])

        for rep in range(args.reps):
            for policy in POLICIES:
                restore()
                branch_gen = torch.Generator().manual_seed(args.seed * 1_000_003 + epoch * 101 + rep)
                branch_aug = make_augment(policy, (args.seed, epoch, rep, 2))
                for h in range(1, horizon_max + 1):
                    train_epoch(net, opt, sched, x_train, y_train, branch_gen, augment=branch_aug)
                    if h in args.horizons:
                        reward, log_likelihood = read(net, x_reward, y_reward)
                        train_acc, train_log_likelihood = read(net, x_train, y_train)
                        clean_bn = read_clean_bn(net, x_train, x_reward, y_reward)
                        reading = dict(epoch=epoch, rep=rep, policy=policy, horizon=h, reward=reward,
                                       log_likelihood=log_likelihood, train_acc=train_acc,
                                       train_log_likelihood=train_log_likelihood, clean_bn=clean_bn)
                        if args.cooldown:  # each from the same draws (its own generator), net left as it was
                            # the policy's cool-down draws from a stream of its own: drawn from branch_aug's, the
                            # branch trained its later horizons on other images than without --cooldown
                            cd_aug = make_augment(policy, (args.seed, epoch, rep, 3, h))
                            for name, aug in (('cooldown_cropflip', None), ('cooldown_same', cd_aug)):
                                if name == 'cooldown_same' and aug is None:  # crop + flip's own: the same run
                                    reading[name] = reading['cooldown_cropflip']
                                    continue
                                cd_gen = torch.Generator().manual_seed(args.seed * 1_000_003 + epoch * 101 + rep
                                                                       + 7919 * h)
                                reading[name] = read_cooldown(net, opt, args.cooldown, x_train, y_train, cd_gen,
                                                              x_reward, y_reward, augment=aug)
                        readings.append(reading)
        restore()
        print(json.dumps([r for r in readings if r['epoch'] == epoch]), flush=True)

    def run_policy(policy: str, branch_at: list[int]) -> float:
        """Train ``policy`` for all epochs from the seed's initial weights, branching at ``branch_at``; returns
        the final accuracy on held-out images 1,000-4,999."""
        torch.manual_seed(args.seed)
        net = build_net(width).to(device)
        opt, sched = make_optimizer(net, args.epochs, len(train))
        gen = torch.Generator().manual_seed(args.seed)
        augment = make_augment(policy, (args.seed, 1))
        for epoch in range(args.epochs):
            if epoch in branch_at:
                branch(net, opt, sched, epoch)
            train_epoch(net, opt, sched, x_train, y_train, gen, augment=augment)
        final = accuracy(net, x_final, y_final).mean().item() * 100
        print(json.dumps(dict(policy=policy, final=round(final, 4), seconds=round(time.time() - start, 1))),
              flush=True)  # (the summary line repeats it; this one survives a run killed before the end)
        return final

    finals = {args.trajectory: run_policy(args.trajectory, branches)}
    for policy in ([] if args.no_final else [p for p in POLICIES if p != args.trajectory]):
        finals[policy] = run_policy(policy, [])

    # finals at 4 digits (% of 4,000 images: exact); at 2 the mean over seeds averaged rounded values
    summary = dict(**settings, final={p: round(v, 4) for p, v in finals.items()},
                   **summarise(readings, args.trajectory),
                   signals={name: summarise(readings, args.trajectory, name) for name in SIGNALS
                            if name != 'reward' and (args.cooldown or not name.startswith('cooldown'))})
    summary['seconds'] = round(time.time() - start, 1)
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == '__main__':
    main()
