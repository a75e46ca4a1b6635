"""Shared runner of the OHL evidence benchmarks: several arms x seeds of tools/train.py, final test accuracy."""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable

from _options import refuse_bad_counts, refuse_bad_rates  # noqa: F401  (re-exported: the benchmarks import them here)
from mmengine.config import Config

from automl_mm.augment.elements import ELEMENT_SETS
from automl_mm.engine.launch import EXIT_WITH_PARENT_ENV
from automl_mm.utils.scope import config_type_name

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


class UniqueValues(argparse.Action):
    """``action=UniqueValues`` for an ``nargs='+'`` option (``--seeds``, ``--arms``): a value given twice is an
    error (it would train the same run twice into one folder and count it as two seeds in the mean ± std)."""

    def __call__(self, parser, namespace, values, option_string=None):
        repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
        if repeated:
            parser.error(f'{option_string} lists {", ".join(map(str, repeated))} more than once: {values}')
        setattr(namespace, self.dest, values)


def refuse_same_settings(parser: argparse.ArgumentParser, option: str, values, setting: Callable) -> None:
    """``parser.error`` (exit 2, before any run) for a value of ``option`` that ``setting`` refuses (its
    ``ValueError``'s message, with the option and the value), or for two values that are spellings of one setting
    (``setting`` maps them to equal keys): ``--arms poly1 poly1:1`` trained Poly-1 at epsilon 1 twice under two
    names, and the table showed it as two settings. Refused rather than merged: which spelling the row would carry,
    and that the user meant two settings, are the user's to say (as ``UniqueValues`` refuses ``--seeds 0 0``).

    Args:
        parser: The benchmark's parser.
        option: The option ``values`` came from, named in the message (e.g. ``'--arms'``).
        values: The values as given.
        setting: Maps a value to a hashable key of the setting it names; raises ``ValueError`` for a bad value.
    """
    spellings: dict = {}
    for value in values:
        try:
            key = setting(value)
        except ValueError as err:
            parser.error(f'{option} {value}: {err}')
        spellings.setdefault(key, []).append(value)
    same = [names for names in spellings.values() if len(names) > 1]
    if same:
        parser.error(f'{option} {" ".join(map(str, values))}: '
                     + '; '.join(f'{" and ".join(map(str, names))} name the same setting' for names in same)
                     + ' (they would train the same runs twice under two names): give each setting once')


def refuse_bad_trunk_length(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (argparse's exit 2, before any run) a trunk the benchmark's runs could not split into whole trunks:
    ``--trunk-iters`` (when the script has it) must be >= 1, and ``--trunk-epochs`` must be >= 1 and divide
    ``--epochs`` (the engine ran a partial last trunk, so ``--epochs 30 --trunk-epochs 4`` trained 7 trunks of 4
    epochs and one of 2, the controller's last step on a shorter reward horizon, where the help promised whole
    trunks). A value that is None (the config's trunk) passes."""
    iters = getattr(args, 'trunk_iters', None)
    if iters is not None and iters < 1:
        parser.error(f'--trunk-iters must be a positive number of iterations, got {iters}')
    trunk = getattr(args, 'trunk_epochs', None)
    if trunk is None:
        return
    if trunk < 1:
        parser.error(f'--trunk-epochs must be a positive number of epochs, got {trunk}')
    if args.epochs % trunk:
        divisors = ', '.join(str(d) for d in range(1, args.epochs + 1) if args.epochs % d == 0)
        whole = args.epochs // trunk
        parser.error(f'--trunk-epochs {trunk} does not divide --epochs {args.epochs} ({whole} whole trunk'
                     f'{"" if whole == 1 else "s"} and one of {args.epochs % trunk} epochs): choose one of {divisors}')


def refuse_unused_options(parser: argparse.ArgumentParser, args: argparse.Namespace, chosen, applies: dict,
                          arms_option: str = '--arms') -> None:
    """``parser.error`` (exit 2, before any run) for an option set to another value than its default that applies
    only to arms none of which is ``chosen``: it changed nothing, silently (``--arms none cropflip --lr 0.1``
    trained both arms as without it, and the printed table looked like an answer).

    Args:
        parser: The benchmark's parser (its defaults and option strings).
        args: The parsed options.
        chosen: The arms (or methods) this invocation runs.
        applies: ``{dest: arms the option applies to}``, e.g. ``{'lr': ('ohl', )}``.
        arms_option: The option that chooses the arms, named in the message.
    """
    for dest, arms in applies.items():
        value, default = getattr(args, dest), parser.get_default(dest)
        if value == default or set(arms) & set(chosen):
            continue
        flag = next((a.option_strings[0] for a in parser._actions if a.dest == dest), dest)
        shown = ' '.join(map(str, value)) if isinstance(value, (list, tuple)) else value
        parser.error(f'{flag} {shown} applies to the {" / ".join(arms)} arm{"s" if len(arms) > 1 else ""} only, '
                     f'and {arms_option} {" ".join(chosen)} runs none of them: it would change nothing. Add one of '
                     f'them to {arms_option} or leave {flag} out')


def refuse_options_outside_mode(parser: argparse.ArgumentParser, args: argparse.Namespace, mode: str,
                                reads, why: str = '') -> None:
    """``parser.error`` (exit 2, before anything runs) naming every option set to another value than its default
    that the chosen mode does not read: it changed nothing, silently (``am_lfs_fmnist.py --plot f.json --seeds 3``
    drew the files as without ``--seeds``; ``reward_horizon.py --summarise`` ignored every training option).

    Args:
        parser: The benchmark's parser (its options and defaults).
        args: The parsed options.
        mode: How the message names the mode, e.g. ``'with --plot'``.
        reads: The dests the mode reads; every other option (``--help`` aside) must keep its default.
        why: What the mode does instead, said in parentheses.
    """
    given = [action.option_strings[0] if action.option_strings else action.dest for action in parser._actions
             if action.dest not in reads and action.dest != 'help' and action.default is not argparse.SUPPRESS
             and getattr(args, action.dest, action.default) != parser.get_default(action.dest)]
    if given:
        one = len(given) == 1
        parser.error(f'{", ".join(given)} {"is" if one else "are"} not read {mode}'
                     + (f' ({why})' if why else '') + f': {"it" if one else "they"} would change nothing; leave '
                     f'{"it" if one else "them"} out')


def logged_rows(work_dir: str, key: str) -> list[dict]:
    """Every row holding ``key`` of every ``scalars.json`` (mmengine's LocalVisBackend) under ``work_dir``, run by
    run in the order the runs started: mmengine writes each run to ``work_dir/<%Y%m%d_%H%M%S>/vis_data/``, whose
    names sort in time (``os.walk``'s listing order does not), so a resumed run's rows follow the first run's."""
    paths = sorted(osp.relpath(osp.join(dirpath, 'scalars.json'), work_dir)
                   for dirpath, _, files in os.walk(work_dir) if 'scalars.json' in files)
    rows = []
    for path in paths:
        with open(osp.join(work_dir, path)) as f:
            rows += [row for row in map(json.loads, f) if key in row]
    return rows


def final_accuracy(work_dir: str, key: str = 'accuracy/top1') -> float:
    """The last value of metric ``key`` the run logged (the final validation, on the test split in the benchmarks;
    e.g. ``'coco/bbox_mAP'`` for detectors); of the newest run where ``work_dir`` holds several (``logged_rows``).
    A COCO value (``'coco/...'``) below 0 is NaN: COCOeval reports -1 where the split has no ground truth (e.g. no
    large object for ``mAP_l``), an undefined figure that a mean ± std took as a score of -1.

    Raises:
        RuntimeError: when no ``scalars.json`` under ``work_dir`` holds ``key``.
    """
    rows = logged_rows(work_dir, key)
    if not rows:
        raise RuntimeError(f'no {key!r} was logged under {work_dir} (scalars.json)')
    value = rows[-1][key]
    return math.nan if key.startswith('coco/') and value < 0 else value


def run_config(config: str, seed: int, epochs: int) -> Config:
    """``config`` set to ``seed`` (the runner's and the OHL hook's) and ``epochs``: one validation (on the test split
    in the OHL benchmarks) and one checkpoint, at the end."""
    cfg = Config.fromfile(config)
    cfg.randomness = dict(seed=seed, deterministic=False)
    for hook in cfg.get('custom_hooks') or []:  # the OHL hook's own seed (a single-model baseline has no OHL hook)
        if config_type_name(hook) == 'OHLHook':
            hook.seed = seed
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    for scheduler in cfg.get('param_scheduler') or []:  # epoch-based cosine spans follow the run's length
        if 'T_max' in scheduler and scheduler.get('by_epoch', True):
            scheduler.T_max = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    return cfg


def train_command(cfg: Config, tmp: str, name: str) -> tuple[list[str], str, dict]:
    """Dump ``cfg`` into ``tmp``; the tools/train.py command line (run it in ROOT), its work_dir and environment."""
    cfg_path, work = osp.join(tmp, f'{name}.py'), osp.join(tmp, name)
    cfg.dump(cfg_path)
    # EXIT_WITH_PARENT_ENV: a stopped benchmark stops its run (and the run its copies)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               **{EXIT_WITH_PARENT_ENV: '1'})
    return [sys.executable, 'tools/train.py', cfg_path, '--work-dir', work], work, env


def run_arms(config: str, arms: list[str], seeds: list[int], epochs: int,
             configure: Callable[[Config, str], None], describe: Callable[[str, str], str],
             metric: str = 'accuracy/top1', label: str = 'test top-1', fmt: str = '.2f',
             work_dir: str | None = None) -> dict[str, list[float]]:
    """Train every (seed, arm) with ``configure(cfg, arm)`` applied; print one line per run (``label``: the final
    ``metric``, then ``describe(arm, work_dir)``) and a summary.

    Runs go to a temporary folder deleted at the end, or, with ``work_dir`` (relative to the current directory),
    to ``work_dir/<arm><seed>/`` (config, logs, ``scalars.json``, the OHL hook's ``ohl/history.json`` and policy),
    kept.

    Every arm is configured once before any training, so an arm ``configure`` refuses (an unknown name, a setting
    of its own that does not fit the config) stops the benchmark before the arms listed before it have trained.

    Raises:
        ValueError: when ``seeds`` or ``arms`` lists a value twice, or two runs would share a folder (``<arm><seed>``:
            ``poly1:0.51`` seed 0 and ``poly1:0.5`` seed 10); whatever ``configure`` raises for an arm (before any
            training).
        FileExistsError: before any training, when a run's folder under ``work_dir`` already exists (nothing is
            overwritten).
    """
    for name, values in (('seeds', seeds), ('arms', arms)):
        if len(set(values)) != len(values):
            raise ValueError(f'{name} lists a value more than once: {values}')
    folders: dict[str, list[str]] = {}  # a run's folder is <arm><seed>: 'poly1:0.51' + '0' is 'poly1:0.5' + '10'
    for seed in seeds:
        for arm in arms:
            folders.setdefault(f'{arm}{seed}', []).append(f'{arm} seed {seed}')
    shared = [f'{name} ({", ".join(runs)})' for name, runs in folders.items() if len(runs) > 1]
    if shared:
        raise ValueError(f'runs would share a run folder (named <arm><seed>): {"; ".join(shared)}; the later would '
                         'train over the earlier one\'s config, history and checkpoints: choose other seeds or arms')
    for arm in arms:  # configured again for each run below; this pass only refuses early
        configure(run_config(config, seeds[0], epochs), arm)
    if work_dir is not None:
        work_dir = osp.abspath(work_dir)
        taken = [f'{arm}{seed}' for seed in seeds for arm in arms if osp.exists(osp.join(work_dir, f'{arm}{seed}'))]
        if taken:
            raise FileExistsError(f'--work-dir {work_dir} already holds {", ".join(taken)}: choose another folder '
                                  'or move those runs away (nothing was overwritten)')
        os.makedirs(work_dir, exist_ok=True)
    results: dict[str, list[float]] = {arm: [] for arm in arms}
    with tempfile.TemporaryDirectory() as tmp:
        root = work_dir or tmp
        for seed in seeds:
            for arm in arms:
                cfg = run_config(config, seed, epochs)
                configure(cfg, arm)
                argv, work, env = train_command(cfg, root, f'{arm}{seed}')
                proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
                if proc.returncode:
                    raise RuntimeError(f'{arm} seed {seed} failed:\n{proc.stderr[-3000:]}')
                acc = final_accuracy(work, metric)
                results[arm].append(acc)
                print(f'seed {seed} {arm:8s} {label} {acc:{fmt}}{describe(arm, work)}', flush=True)
    print(f'\n{len(seeds)} seeds, {epochs} epochs:')
    for arm, accs in results.items():
        print(f'{arm:8s} {mean_std(accs, fmt)}  ({", ".join(f"{a:{fmt}}" for a in accs)})')
    return results


def add_work_dir_option(parser) -> None:
    """``--work-dir DIR``: keep every run in ``DIR/<arm><seed>/`` (default: a temporary folder, deleted)."""
    parser.add_argument('--work-dir', default=None,
                        help='keep every run (config, logs, scalars.json, ohl/history.json) in DIR/<arm><seed>/ '
                             '(default: a temporary folder, deleted at the end); DIR must not hold those runs yet')


def uniform_pair_entropy(elements: str) -> float:
    """The entropy (nats) of uniform ordered pairs of the named element set ``elements``: ``2 ln |elements|``, the
    start of a factorised OHL-Auto-Aug policy (e.g. 7.167 for the paper's 36)."""
    return 2 * math.log(len(ELEMENT_SETS[elements]))


def set_trunk_iters(hook, iters: int) -> None:
    """Make an OHL hook config's trunk ``iters`` iterations (instead of its ``trunk_epochs``): the engine's trunk,
    set alike in every arm of a benchmark."""
    hook.pop('trunk_epochs', None)
    hook.trunk_iters = iters


def ensure_fmnist_det(data_root: str) -> None:
    """Generate the Fashion-MNIST detection set with ``tools/data/generate_fmnist_det.py``'s defaults into
    ``data_root`` (relative to ROOT) when its test annotations are missing (deterministic; needs the Fashion-MNIST
    idx files, no download).

    Raises:
        FileNotFoundError: another ``data_root`` is missing: the defaults would silently give it other split sizes
            than its name and the README's command (e.g. ``data/fmnist_det_r200``: 200 reward, 500 test images).
    """
    if not osp.isfile(osp.join(ROOT, data_root, 'annotations', 'instances_test.json')):
        if osp.normpath(data_root) != osp.normpath('data/fmnist_det'):
            raise FileNotFoundError(
                f'--data-root {data_root} has no annotations/instances_test.json; only data/fmnist_det is generated '
                'here (with the generator\'s default split sizes). Make this one with its own sizes first, e.g. '
                f'`python tools/data/generate_fmnist_det.py {data_root} --num-reward 200 --num-test 500` as the '
                'README does for data/fmnist_det_r200')
        print(f'generating the Fashion-MNIST detection set into {data_root}', flush=True)
        subprocess.run([sys.executable, 'tools/data/generate_fmnist_det.py', data_root], cwd=ROOT, check=True)


def refuse_more_train_images_than_split(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``parser.error`` (exit 2, before any run; call it after :func:`ensure_fmnist_det`) when ``--train-images``
    exceeds the images of ``--data-root``'s train split (``annotations/instances_train.json``; a set without it
    passes: its run fails on the missing file). mmengine's ``indices=N`` keeps the first N, so ``--train-images
    3000`` on the default 2,000-image set trained every arm on all 2,000 under a header of '3000 training images'."""
    path = osp.join(ROOT, args.data_root, 'annotations', 'instances_train.json')
    if not osp.isfile(path):
        return
    with open(path) as f:
        held = len(json.load(f)['images'])
    if args.train_images > held:
        parser.error(f'--train-images {args.train_images}: {path} holds {held} training images; give at most '
                     f'{held} (mmengine would train on all {held})')


def refuse_more_reward_samples_than_split(parser: argparse.ArgumentParser, args: argparse.Namespace,
                                          config: str) -> None:
    """``parser.error`` (exit 2, before any run) when ``--reward-samples`` exceeds the images of ``config``'s reward
    split (its ``reward_dataloader.dataset``: ``reward_size``, or 10 x ``samples_per_class`` where set); None
    passes. ``max_samples=N`` keeps the first N, so ``--reward-samples 6000`` on the 5,000-image reward split
    read all 5,000 under a header of '6000 reward images'."""
    if args.reward_samples is None:
        return
    dataset = Config.fromfile(config).reward_dataloader.dataset
    key = 'reward_size' if dataset.get('samples_per_class') is None else 'samples_per_class'
    held = dataset[key] if key == 'reward_size' else 10 * dataset[key]
    if args.reward_samples > held:
        parser.error(f"--reward-samples {args.reward_samples}: the config's reward split ({key}) holds {held} "
                     f'images ({osp.relpath(config, ROOT)}); give at most {held}')


def fmnist_class_sizes(dataset) -> tuple[list[int], str] | None:
    """The images of each of the 10 classes in the split a ``FashionMNISTDataset`` config reads (its ``split``,
    ``reward_size`` and ``seed``; before ``samples_per_class`` and ``max_samples``), and the labels file they were
    counted in; ``None`` where that file is not found or not readable (the run then names the problem). Cheap: only
    the labels file is read (60 KB for the official training part; ``data_root`` relative to the repository, as the
    runs' working directory; ``None``: the dataset's default locations), and the train / reward split is the
    dataset's own (:meth:`~automl_mm.datasets.fashion_mnist.FashionMNISTDataset.split_indices`).

    Args:
        dataset: The dataset config (a dict or ConfigDict).

    Returns:
        ``([images of class 0, ..., of class 9], where)``: ``where`` names the labels file (and the split's
        ``reward_size`` and ``seed``), or ``None``.
    """
    import numpy as np

    from automl_mm.datasets import fashion_mnist

    split = dataset.get('split', 'train')
    name = fashion_mnist.FILES['test' if split == 'test' else 'train'][1]
    roots = [dataset['data_root']] if dataset.get('data_root') else fashion_mnist.DEFAULT_ROOTS
    found = [(osp.join(ROOT, root), path) for root in roots for path in (osp.join(ROOT, root, name),
                                                                         osp.join(ROOT, root, name + '.gz'))
             if osp.isfile(path)]
    if not found:
        return None
    root, path = found[0]
    try:
        labels = fashion_mnist.read_idx(path, 1).astype(np.int64)
        indices, source = np.arange(len(labels)), path
        if split != 'test':
            keys = {key: dataset[key] for key in ('reward_size', 'seed') if key in dataset}
            carved = fashion_mnist.FashionMNISTDataset(split=split, data_root=root, lazy_init=True, **keys)
            indices = carved.split_indices(labels)
            source = f'{path} split with reward_size={carved.reward_size}, seed={carved.seed}'
    except ValueError:  # not an idx file, or a reward_size the dataset refuses: the run names it
        return None
    classes = len(fashion_mnist.FashionMNISTDataset.METAINFO['classes'])
    return np.bincount(labels[indices], minlength=classes)[:classes].tolist(), source


def refuse_more_per_class_than_split(parser: argparse.ArgumentParser, datasets: dict) -> None:
    """``parser.error`` (exit 2, before any run) for a per-class count above the images of a class in the
    Fashion-MNIST split it samples: ``samples_per_class`` of each ``FashionMNISTDataset`` config given, counted by
    :func:`fmnist_class_sizes` (a split whose labels file is not found passes: its run names the missing file; a
    config of another dataset type passes).
    Such a count was refused only inside the first run (the dataset's ``per_class_subset``), naming a config key
    the user never typed, after the arms or runs before it had trained (``am_lfs_fmnist.py --test-per-class 1001``
    on the 1,000 test images of a class).

    Args:
        parser: The benchmark's parser.
        datasets: ``{option: dataset config}``: the option (e.g. ``'--train-per-class'``) that set the config's
            ``samples_per_class`` (None passes).
    """
    for flag, dataset in datasets.items():
        wanted = dataset.get('samples_per_class')
        fmnist = config_type_name(dataset) == 'FashionMNISTDataset'  # another set's run checks its own counts
        counted = fmnist_class_sizes(dataset) if fmnist and wanted is not None else None
        if counted is None:
            continue
        sizes, source = counted
        smallest = min(range(len(sizes)), key=sizes.__getitem__)
        if wanted > sizes[smallest]:
            parser.error(f'{flag} {wanted}: the Fashion-MNIST {dataset.get("split", "train")} split holds '
                         f'{sizes[smallest]} images of its smallest class (class {smallest}; {source}): give at '
                         f'most {sizes[smallest]}')


def add_det_set_options(parser, train_images: int) -> None:
    """The detection benchmarks' data options: ``--train-images`` (first N images of the train split, default
    ``train_images``) and ``--data-root`` (the Fashion-MNIST detection set; :func:`ensure_fmnist_det` makes it)."""
    parser.add_argument('--train-images', type=int, default=train_images, help='first N images of the train split')
    parser.add_argument('--data-root', default='data/fmnist_det',
                        help='the detection set (relative to the repository); generated here when missing')


def add_elements_option(parser, arms: str) -> None:
    """``--elements`` (default ``'ohl'``, the paper's 36): the named element set (``ELEMENT_SETS``) of the pairs
    drawn by ``arms`` (a phrase for the help text, e.g. ``'uniform and ohl arms'``)."""
    parser.add_argument('--elements', choices=sorted(ELEMENT_SETS), default='ohl',
                        help=f"{arms}: the elements of the pairs, the paper's 36 (default) or another named set, "
                             "e.g. 'randaugment' (RandAugment's operations at magnitude 9: 18 elements with "
                             "Identity, the Fashion-MNIST classification config's set)")


def move_data_root(cfg: Config, root: str) -> None:
    """Point every dataloader (train / val / test / reward) and evaluator of a ``configs/_base_/datasets``-style
    config that is set at ``root`` instead of ``cfg.data_root``."""
    root = root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'reward_dataloader'):
        if cfg.get(loader):  # a search config may have no test split
            cfg[loader].dataset.data_root = root
    for evaluator in ('val_evaluator', 'test_evaluator', 'reward_evaluator'):
        if cfg.get(evaluator):
            cfg[evaluator].ann_file = cfg[evaluator].ann_file.replace(cfg.data_root, root)
    cfg.data_root = root


#: mmdet's COCO metric type names: it reports every value rounded to 3 decimals.
_ROUNDED_COCO = ('CocoMetric', 'mmdet.CocoMetric')


def unrounded_coco(evaluator):
    """``evaluator`` (an evaluator config) with mmdet's ``CocoMetric`` as ``automl_mm.UnroundedCocoMetric``: the same
    keys and logging, every value at COCOeval's full precision instead of rounded to 3 decimals
    (``automl_mm/evaluation/coco.py``). The detection benchmarks' final test (or val) figures: a mean ± std or
    paired difference of 3-decimal values was off by up to 0.0005 per run, and printed to 4 decimals (cr_nas) the
    last digit was always 0. Any other evaluator (a list, another metric) is returned as it is."""
    if isinstance(evaluator, dict) and evaluator.get('type') in _ROUNDED_COCO:
        return type(evaluator)(evaluator, type='automl_mm.UnroundedCocoMetric')
    return evaluator


def c4(n: int) -> float:
    """E[s] / σ for the sample std s (n - 1) of n draws of N(μ, σ²): √(2 / (n - 1)) Γ(n / 2) / Γ((n - 1) / 2)
    (0.798 for n = 2, 0.921 for 4, → 1). A mean of small samples' stds reads c4(n) σ, not σ.

    Raises:
        ValueError: ``n`` < 2 (one value has no sample std).
    """
    if n < 2:
        raise ValueError(f'a sample std needs at least 2 values, got {n}')
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def defined(values: list[float]) -> list[float]:
    """``values`` without NaN (an undefined figure, e.g. :func:`final_accuracy`'s COCO -1)."""
    return [v for v in values if not math.isnan(v)]


def summary(values: list[float]) -> dict:
    """``{'mean', 'std'}`` of the :func:`defined` values: the sample std (n - 1), ``None`` for one value, which has
    none (it was 0.0, printed '± 0.00': the population std of one value, a spread that looked measured); both
    ``None`` when no value is defined."""
    kept = defined(values)
    return {'mean': statistics.mean(kept) if kept else None, 'std': statistics.stdev(kept) if len(kept) > 1 else None}


def std_text(std: float | None, fmt: str = '.2f') -> str:
    """``std`` formatted with ``fmt``; ``'n/a'`` for ``None`` (one value: no sample std)."""
    return 'n/a' if std is None else f'{std:{fmt}}'


def mean_std(values: list[float], fmt: str = '.2f') -> str:
    """``mean ± std`` of :func:`summary` (``'mean ± n/a'`` for one value), and ``' (n=2 of 3)'`` where undefined
    values (NaN) were left out; ``'n/a'`` when none is defined."""
    stats, kept = summary(values), len(defined(values))
    if stats['mean'] is None:
        return 'n/a'
    n = '' if kept == len(values) else f' (n={kept} of {len(values)})'
    return f'{stats["mean"]:{fmt}} ± {std_text(stats["std"], fmt)}{n}'
