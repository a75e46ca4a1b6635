"""Shared checks of the benchmarks' command-line options: each refuses a value out of its range with
``parser.error`` (argparse's exit status 2 and usage line), naming the option and the value, before any run, data
read or model build. A value of ``None`` (the config's own) passes every check.

Standard library only at import (the speed benchmarks time imports and module scans): what a check needs of the
project (:func:`automl_mm.utils.seeding.as_seed`, :func:`automl_mm.engine.launch.usable_cpus`) is imported when
it runs. ``_arms`` re-exports :func:`refuse_bad_counts` and :func:`refuse_bad_rates`."""
from __future__ import annotations

import argparse
import math


def option_flag(parser: argparse.ArgumentParser, dest: str) -> str:
    """How a message names the argument of ``dest``: its first option string (e.g. ``'--train-images'``), a
    positional argument's metavar (``'SEED'``), else ``dest`` itself."""
    action = next((a for a in parser._actions if a.dest == dest), None)
    if action is None:
        return dest
    return action.option_strings[0] if action.option_strings else action.metavar or dest


def refuse_bad_counts(parser: argparse.ArgumentParser, args: argparse.Namespace, at_least_1=(), at_least_0=()) -> None:
    """``parser.error`` (exit 2, before any run) naming the first count option below its minimum: the dests in
    ``at_least_1`` (epochs, images, copies) must be >= 1, those in ``at_least_0`` >= 0, every value of a list
    option (``nargs``) alike; a value of None (the config's) passes. Such a value used to reach the runs:
    ``autoaug_det.py --train-images -5`` trained every arm on the *last* 5 training images (mmengine's negative
    ``indices``) under a header of '-5 training images', and ``--epochs 0`` or ``--copies 0`` failed only inside the
    first run's ``tools/train.py``, naming a config key the user never typed.

    Args:
        parser: The benchmark's parser (the option strings named in the message).
        args: The parsed options.
        at_least_1: Dests that must be >= 1.
        at_least_0: Dests that must be >= 0.
    """
    for dests, least in ((at_least_1, 1), (at_least_0, 0)):
        for dest in dests:
            value = getattr(args, dest)
            values = value if isinstance(value, (list, tuple)) else [value]
            bad = [v for v in values if v is not None and v < least]
            if bad:
                parser.error(f'{option_flag(parser, dest)} must be a whole number >= {least}, got '
                             f'{" ".join(map(str, bad))}')


def refuse_bad_rates(parser: argparse.ArgumentParser, args: argparse.Namespace, positive=(), shares=(),
                     at_least_0=()) -> None:
    """``parser.error`` (exit 2, before any run) naming the first float option out of its range: the dests in
    ``positive`` (learning rates, sigma) must be finite and > 0, those in ``shares`` (a share of the images) in
    (0, 1], those in ``at_least_0`` (a noise σ, a weight that may be off) finite and >= 0, every value of a list
    option alike; None (the config's value) passes. ``autoaug_fmnist.py --pair-prob 1.5`` (or 0, or -0.1) reached
    mmcv's ``RandomApply``, which checks nothing: every image got a pair, or none, so the ohl arm searched nothing
    under its name; a learning rate or sigma of 0 was refused only inside the first run, naming its config key.

    Args:
        parser: The benchmark's parser (the option strings named in the message).
        args: The parsed options.
        positive: Dests that must be finite numbers > 0.
        shares: Dests that must be in (0, 1].
        at_least_0: Dests that must be finite numbers >= 0.
    """
    for dests, fits, what in ((positive, lambda v: 0 < v < math.inf, 'a finite number > 0'),
                              (shares, lambda v: 0 < v <= 1, 'a share in (0, 1]'),
                              (at_least_0, lambda v: 0 <= v < math.inf, 'a finite number >= 0')):
        for dest in dests:
            value = getattr(args, dest)
            values = value if isinstance(value, (list, tuple)) else [value]
            bad = [v for v in values if v is not None and not fits(v)]  # NaN fits none
            if bad:
                parser.error(f'{option_flag(parser, dest)} must be {what}, got {" ".join(map(str, bad))}')


def refuse_bad_seeds(parser: argparse.ArgumentParser, args: argparse.Namespace, dests=('seeds', )) -> None:
    """``parser.error`` (exit 2, before any run) naming the first seed option holding a value outside
    ``[0, 2**32)`` (:func:`automl_mm.utils.seeding.as_seed`, the range every seed of the project is checked
    against) or an empty list. A dest holds one seed or a list of seeds (``--seeds 0 1 2``); None passes.
    ``--seeds -1`` reached the first run, where mmengine's ``np.random.seed(-1)`` failed with numpy's message
    (after the arms before it had trained, in a script that trains a seed's arms in turn), and ``--seeds 4294967296``
    drew seed 0's splits and streams under another number.

    Args:
        parser: The benchmark's parser (the option strings named in the message).
        args: The parsed options.
        dests: The seed options' dests (e.g. ``('seeds', 'search_seeds')``, ``('seed', )``).
    """
    from automl_mm.utils.seeding import as_seed

    for dest in dests:
        value = getattr(args, dest)
        if value is None:
            continue
        flag = option_flag(parser, dest)
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values:
            parser.error(f'{flag} lists no seed: give at least one')
        for seed in values:
            try:
                as_seed(seed, flag)
            except ValueError as err:
                parser.error(f'{err} (a seed of the runs)')


def refuse_bad_parallelism(parser: argparse.ArgumentParser, args: argparse.Namespace, runs=(), cores=(),
                           threads=()) -> None:
    """``parser.error`` (exit 2, before any run) naming the first option of parallel work out of its range:

    * ``runs`` (runs or processes at a time: ``--jobs``, ``--workers``) must be >= 1 (``cr_nas_fmnist_det.py
      --jobs 0`` ran one job at a time, silently; -1 too); above C they run, with a warning
      (:func:`warn_oversubscribed`);
    * ``cores`` (cores the benchmark pins or sizes its pools to: ``--cpus``) must be in ``[1, C]``;
    * ``threads`` (torch CPU threads, 0: torch's default) must be in ``[0, C]``;

    where C is the cores this process may use (:func:`automl_mm.engine.launch.usable_cpus`: its CPU affinity,
    ``os.sched_getaffinity``, else ``os.cpu_count()``, or the cgroup v2 CPU quota where lower). ``ohl_vs_pbt.py
    --cpus 8`` on 2 cores pinned every arm to those 2 but sized Ray and the pools for 8, and its header said 2 cores;
    ``--threads -1`` ran torch's default under a header of its own count. None passes.

    Args:
        parser: The benchmark's parser (the option strings named in the message).
        args: The parsed options.
        runs: Dests that must be >= 1.
        cores: Dests that must be in ``[1, usable cores]``.
        threads: Dests that must be in ``[0, usable cores]``.
    """
    for dest in runs:
        value = getattr(args, dest)
        if value is not None and value < 1:
            parser.error(f'{option_flag(parser, dest)} must be a number of runs at a time >= 1, got {value}')
        if value is not None and value > 1:
            warn_oversubscribed(parser, dest, value)
    for dests, least in ((cores, 1), (threads, 0)):
        for dest in dests:
            value = getattr(args, dest)
            if value is None:
                continue
            from automl_mm.engine.launch import usable_cpus

            usable = usable_cpus()
            if not least <= value <= usable:
                default = ' (0: torch\'s default)' if least == 0 else ''
                parser.error(f'{option_flag(parser, dest)} must be a number of cores in [{least}, {usable}]{default}: '
                             f'this process may run on {usable} (os.sched_getaffinity), got {value}')


#: The help text's sentence of an option of runs at a time checked by :func:`refuse_bad_parallelism`.
OVERSUBSCRIBED_HELP = ('above the cores this process may run on it warns and runs: the runs then share the cores, '
                       'so every time they report or record includes their contention (their results do not depend '
                       'on it, so it is not refused)')


def warn_oversubscribed(parser: argparse.ArgumentParser, dest: str, value: int) -> None:
    """Warn on stderr (argparse's ``<prog>: warning:`` form, before any run) where the option ``dest`` runs
    ``value`` runs at a time on fewer cores than that (:func:`automl_mm.engine.launch.usable_cpus`).

    A warning, not a refusal: what the runs compute (accuracy, mAP, a ranking) does not depend on how many share
    the cores, only how long each takes, and the documented ``--jobs 2`` commands stay runnable on one core. But the
    runs oversubscribe the cores (``cr_nas_fmnist_det.py --jobs 8`` on 2 cores ran 8 at a time, silently), so every
    time they report or record (``nas_ground_truth_fmnist.py``'s ``train_s`` / ``wall_s``, a benchmark's cost)
    includes their contention.
    """
    import sys

    from automl_mm.engine.launch import usable_cpus

    usable = usable_cpus()
    if value > usable:
        print(f'{parser.prog}: warning: {option_flag(parser, dest)} {value} runs more at a time than the {usable} '
              'cores this process may run on (os.sched_getaffinity): they share the cores, so every time they report '
              'or record includes their contention (the results themselves do not depend on it)', file=sys.stderr,
              flush=True)


def threads_per_run(runs: int, environ=None, what: str = 'runs') -> dict[str, str]:
    """The environment to add to each of ``runs`` subprocesses started at once, as torchrun does for several
    processes per node: ``{'OMP_NUM_THREADS': str(max(1, C // runs))}`` where ``OMP_NUM_THREADS`` is unset in
    ``environ`` (``os.environ`` by default) and ``runs`` > 1, said once on stderr; ``{}`` where it is set (kept) or
    one run starts at a time (give the runs that do start at once: ``--jobs 4`` over 2 searches runs 2, which
    ``cores // 4`` left half the cores idle). C is the cores this process may run on
    (:func:`automl_mm.engine.launch.usable_cpus`); ``what`` names the runs in the message. A blank
    ``OMP_NUM_THREADS`` is unset, as :func:`automl_mm.engine.launch.worker_threads` (each run's) reads it.
    Without it each tools/train.py run took torch's default thread count, ``runs`` x C threads on the C cores, while
    the benchmarks' recorded costs were measured with ``OMP_NUM_THREADS=1``."""
    import os
    import sys

    from automl_mm.engine.launch import usable_cpus

    environ = os.environ if environ is None else environ
    if runs <= 1 or (environ.get('OMP_NUM_THREADS') or '').strip():
        return {}
    usable = usable_cpus()
    threads = max(1, usable // runs)
    print(f'OMP_NUM_THREADS is unset: each of the {runs} {what} at a time gets {threads} thread(s) ({usable} cores '
          f'this process may run on // {runs}); set OMP_NUM_THREADS to choose', file=sys.stderr, flush=True)
    return {'OMP_NUM_THREADS': str(threads)}
