"""Stand-alone ground truth of the Fashion-MNIST MBConv space: every architecture trained from scratch, per seed.

``SPACES['fmnist']`` (automl_mm/models/backbones/mbconv_supernet.py) holds 81 architectures: 4 mixed layers of
k3e3 / k5e6 / skip at 28x28 input. For each seed of ``--seeds`` every architecture is trained on its own with the
retrain config (a real mmengine ``Runner``, ``IterBasedTrainLoop``, cosine LR; reduced data: ``samples_per_class``
training images per class), then scored (top-1, %) on

* the reward split: the 5,000 official training images held out from training, the split supernets score
  architectures on (compare supernet estimates with this);
* the test split: a fixed, seeded per-class subset of the official 10k test set (``--test-per-class``; 1000 = all),
  for reporting a pick's accuracy (never choose by it).

It also records the FLOPs of each architecture (the backbone the PC-NAS FLOPs limit constrains: stem, mixed layers
and final convolution, mmengine's ``FlopAnalyzer``, one multiply-add = 1 FLOP) at the size the config's test images
reach the network (1x3x28x28 for the default config; :func:`input_shape_of`) and the parameters of
the whole stand-alone classifier. The table (``--out``) holds the space, the exact settings, one row per
architecture and the seed-to-seed agreement (Kendall tau-b between the seeds' reward accuracies: the noise ceiling
of this ground truth). Read it with ``automl_mm.nas.load_ground_truth``.

Every finished (architecture, seed) is appended to ``<out without .json>.runs.jsonl``; a killed run started again
with the same settings trains only what is missing. ``--workers N`` trains N architectures at a time in separate
processes with one torch thread each.

One architecture takes 18 to 39 s on one core (training and both evaluations; about 22 s on average): the full
table, 81 architectures x 2 seeds, about an hour on one core, half that with ``--workers 2`` on two free cores.

Run (the full table): python benchmarks/nas_ground_truth_fmnist.py --workers 2
Smoke: python benchmarks/nas_ground_truth_fmnist.py --archs 2 --seeds 0 --iters 10 --samples-per-class 5 \
    --reward-per-class 5 --test-per-class 5 --out /tmp/gt.json
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import os
import os.path as osp
import random
import statistics
import sys
import time
from collections.abc import Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
for _path in (ROOT, osp.join(ROOT, 'benchmarks')):  # run as a script from anywhere, or loaded by path
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _stack  # noqa: E402, F401  (first: names the environment to activate where the stack is missing)
import torch  # noqa: E402
from _arms import UniqueValues, refuse_more_per_class_than_split  # noqa: E402
from _nas_supernets import iter_train_cfg, quiet_cfg  # noqa: E402
from _options import OVERSUBSCRIBED_HELP, refuse_bad_counts, refuse_bad_parallelism, refuse_bad_seeds  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from automl_mm.engine.evaluate import build_local_loader, evaluate_locally, metric_value  # noqa: E402
from automl_mm.models.backbones.mbconv_supernet import SPACES  # noqa: E402
from automl_mm.nas import FlopsTable, LayerwiseSpace  # noqa: E402
from automl_mm.nas.ranking import GROUND_TRUTH_FORMAT, GroundTruthTable, agreement_text, seed_agreement  # noqa: E402
from automl_mm.registry import MODELS  # noqa: E402
from automl_mm.utils import register_all_modules  # noqa: E402
from automl_mm.utils.io import atomic_open  # noqa: E402

CONFIG = 'configs/pc_nas/pc-nas-retrain_mbconv-fmnist_1x1_300it_fmnist.py'
OUT = 'benchmarks/ground_truth/mbconv_fmnist_standalone.json'
METRIC = 'accuracy/top1'
# Settings that may differ between runs sharing one runs file: each record names its seed and architecture.
_PER_RECORD = ('seeds', 'archs')


def runs_path(out: str) -> str:
    """The JSONL of finished (architecture, seed) runs kept next to the table ``out``."""
    return (out[:-len('.json')] if out.endswith('.json') else out) + '.runs.jsonl'


def build_run_cfg(settings: dict, arch: list[str], seed: int, work_dir: str) -> Config:
    """The retrain config of ``settings`` set up to train ``arch`` with ``seed`` quietly in this process."""
    cfg = Config.fromfile(config_path(settings['config']))
    iters = settings['iters']
    name = f'gt_s{seed}_{"-".join(arch)}'
    quiet_cfg(cfg, osp.join(work_dir, name), name, seed, iters)
    # keep this process's start method (mmengine would force 'fork' on a spawned worker, with a warning)
    cfg.env_cfg.mp_cfg.mp_start_method = multiprocessing.get_start_method(allow_none=True) or 'fork'
    cfg.model.backbone.arch = list(arch)
    cfg.train_dataloader.batch_size = settings['batch_size']
    cfg.train_dataloader.dataset.samples_per_class = settings['samples_per_class']
    cfg.reward_dataloader.dataset.samples_per_class = settings['reward_per_class']
    cfg.test_dataloader.dataset.samples_per_class = settings['test_per_class']
    iter_train_cfg(cfg, iters)  # we evaluate ourselves
    cfg.param_scheduler = [dict(s, T_max=iters) for s in cfg.param_scheduler]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None  # no validation inside the loop
    return cfg


def train_one(job: tuple[list[str], int, dict, str]) -> dict:
    """Train one architecture from scratch; its reward-split and test-split top-1 (%) and the time it took."""
    arch, seed, settings, work_dir = job
    wall, cpu = time.perf_counter(), time.process_time()
    cfg = build_run_cfg(settings, arch, seed, work_dir)
    evaluator_cfg = copy.deepcopy(cfg.test_evaluator)
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_wall = time.perf_counter() - wall
    evaluator = runner.build_evaluator(evaluator_cfg)
    out = {'arch': list(arch), 'seed': seed}
    for split in ('reward', 'test'):
        loader = build_local_loader(cfg[f'{split}_dataloader'], f'{split}_dataloader')
        top1 = metric_value(evaluate_locally(runner.model, loader, evaluator), METRIC, 'metric')
        out[f'{split}_top1'] = round(top1, 4)  # % of at most 10k images: 4 decimals are exact
    out.update(train_s=round(train_wall, 2), wall_s=round(time.perf_counter() - wall, 2),
               cpu_s=round(time.process_time() - cpu, 2))
    return out


def network_key(arch: list[str], space_def: dict) -> tuple:
    """What the stand-alone network of ``arch`` computes: its non-skip layers as (op, in, out, stride), in order.

    A ``skip`` is legal only where a layer keeps width and resolution (``MBConvSupernet``), where it is the identity
    and builds no parameters; so two architectures with the same key build the same modules in the same order
    (same initial weights under one seed) and train identically: e.g. ``k5e6 skip skip skip`` and ``skip skip skip
    k5e6`` in ``SPACES['fmnist']``, whose 81 architectures are 31 distinct networks (1 + 2 + 4 + 8 + 16 non-skip
    sequences of length 0 to 4). Measured: the two above gave the same reward and test top-1 to the last digit.
    """
    specs, width = [], space_def['stem_channels']
    for out, num, stride in space_def['stages']:
        for j in range(num):
            specs.append((width, out, stride if j == 0 else 1))
            width = out
    return tuple((op, *spec) for op, spec in zip(arch, specs) if op != 'skip')


def _init_worker() -> None:
    torch.set_num_threads(1)
    register_all_modules(init_default_scope=False)


def config_path(config: str) -> str:
    """``config`` as given if absolute, else relative to the repository root (not to the working directory)."""
    return config if osp.isabs(config) else osp.join(ROOT, config)


def space_of(cfg: Config) -> str:
    """The ``SPACES`` preset of the config's backbone; refuses a backbone that overrides the preset's fields."""
    backbone = cfg.model.backbone
    space = backbone.get('space')
    if space not in SPACES:
        raise ValueError(f'model.backbone.space of the retrain config must be one of {sorted(SPACES)}, got {space!r}')
    overrides = sorted(k for k in SPACES[space] if backbone.get(k) is not None)
    if overrides:
        raise ValueError(f'model.backbone overrides {overrides} of SPACES[{space!r}]: the table would record the '
                         'preset, not the trained space')
    return space


def input_shape_of(config: str) -> tuple[int, int, int, int]:
    """``(1, C, H, W)``: the size the first test image of ``config`` (a path) reaches its network at, through its
    model's ``data_preprocessor`` (:func:`~automl_mm.nas.retrain_input.retrain_input_chw`), the size the
    architectures are trained and scored at and their FLOPs are counted at. Until the forty-fourth session the
    FLOPs were always counted at 1x3x28x28: a config whose images reach the network at 16 x 16 recorded about
    3 times each architecture's FLOPs and ``input_shape`` [1, 3, 28, 28].

    Raises:
        ValueError: naming the config when its test (or val) loader gives no 4-D batch.
    """
    from automl_mm.nas.retrain_input import retrain_input_chw

    found = retrain_input_chw(config)
    if found is None:
        raise ValueError(f'{config}: its test_dataloader (or val_dataloader) gives no (N, C, H, W) batch of images, '
                         'so the size the FLOPs are counted at is unknown')
    return (1, *found[0])


def architectures(cfg: Config, subset: int | None,
                  input_shape: tuple[int, int, int, int]) -> tuple[list[list[str]], list[float], list[int]]:
    """Architectures of the config's space (enumeration order, or a seeded subset of ``subset`` in that order),
    with their backbone FLOPs at ``input_shape`` (``(1, C, H, W)``, :func:`input_shape_of`) and the parameters of
    their stand-alone classifiers."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pop('arch', None)
    space = LayerwiseSpace()
    supernet = space.bind(MODELS.build(model_cfg))
    paths = list(space.completions(()))
    if subset is not None and subset < len(paths):
        paths = sorted(random.Random(0).sample(paths, subset))
    table = FlopsTable.from_supernet(supernet, input_shape)
    archs, flops, params = [], [], []
    for path in paths:
        arch = space.values(path)
        model_cfg.backbone.arch = arch
        archs.append(arch)
        flops.append(table.flops(supernet, path))
        params.append(sum(p.numel() for p in MODELS.build(model_cfg).parameters()))
    return archs, flops, params


def make_settings(cfg: Config, args: argparse.Namespace, num_archs: int, input_shape: Sequence[int]) -> dict:
    """Everything that determines the table's numbers (no paths of this machine, no commit, no time)."""
    train_set = cfg.train_dataloader.dataset
    per_class = args.samples_per_class or train_set.samples_per_class
    iters = args.iters or cfg.train_cfg.max_iters
    reward_per_class = args.reward_per_class or cfg.reward_dataloader.dataset.get('samples_per_class')
    test_per_class = args.test_per_class or cfg.test_dataloader.dataset.get('samples_per_class')
    schedulers = [{k: v for k, v in s.items() if k != 'T_max'} for s in cfg.param_scheduler]
    return {
        'config': args.config,
        'iters': iters,
        'batch_size': args.batch_size or cfg.train_dataloader.batch_size,
        'samples_per_class': per_class,
        'train_images': 10 * per_class,
        'train_pipeline': [t['type'] for t in train_set.pipeline],
        'optimizer': dict(cfg.optim_wrapper.optimizer),
        'param_scheduler': schedulers,
        'lr_schedule': f'cosine over the {iters} iterations (T_max = iters)',
        'split': {'reward_size': cfg.reward_dataloader.dataset.reward_size, 'seed': train_set.seed},
        'reward_per_class': reward_per_class,
        'reward_images': 10 * reward_per_class if reward_per_class else cfg.reward_dataloader.dataset.reward_size,
        'test_per_class': test_per_class,
        'test_images': 10 * test_per_class if test_per_class else 10000,
        'metric': 'top-1 accuracy (%)',
        'input_shape': list(input_shape),
        'flops': 'backbone (stem, mixed layers, final conv) at input_shape by mmengine.analysis.FlopAnalyzer, '
                 'one multiply-add = 1 FLOP, norms in eval mode (automl_mm.nas.FlopsTable)',
        'params': 'whole stand-alone classifier (backbone and linear head)',
        'seeds': list(args.seeds),
        'archs': num_archs,
    }


def _comparable(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if k not in _PER_RECORD}


def read_runs(path: str, settings: dict) -> dict[tuple[tuple[str, ...], int], dict]:
    """Finished runs of ``path`` by (architecture, seed). An unfinished last line (a run killed while writing) is
    removed from the file, so that later appends start on a line of their own.

    Raises:
        ValueError: The file was written with other settings (naming the keys that differ), or a line other than
            the last is not JSON.
    """
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        lines = [line for line in f.read().split('\n') if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                raise ValueError(f'{path}: line {i + 1} is not JSON; delete the file or use another --out') from None
            print(f'{path}: removing an unfinished last line')
            lines = lines[:-1]
            if lines:
                with atomic_open(path, 'w') as f:
                    f.write('\n'.join(lines) + '\n')
            else:
                os.remove(path)
    if not records:
        return {}
    theirs = _comparable(records[0].get('settings', {}))
    ours = _comparable(settings)
    differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if 'settings' not in records[0] or differ:
        raise ValueError(f'{path} holds runs with other settings ({differ or "no settings header"}); delete it or use '
                         'another --out')
    return {(tuple(r['arch']), int(r['seed'])): r for r in records[1:]}


def append_run(path: str, record: dict, settings: dict) -> None:
    """Append one finished run (the header with the settings first, when the file is new), flushed to disk."""
    new = not osp.isfile(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'a') as f:
        if new:
            f.write(json.dumps({'settings': _comparable(settings)}) + '\n')
        f.write(json.dumps(record) + '\n')
        f.flush()
        os.fsync(f.fileno())


def build_table(space: str, settings: dict, archs: list[list[str]], flops: list[float], params: list[int],
                done: dict) -> dict:
    """The ground-truth table (the JSON ``automl_mm.nas.load_ground_truth`` reads)."""
    rows = []
    for arch, fl, pa in zip(archs, flops, params):
        runs = [done[(tuple(arch), seed)] for seed in settings['seeds']]
        reward = [r['reward_top1'] for r in runs]
        test = [r['test_top1'] for r in runs]
        rows.append({'arch': arch, 'flops': fl, 'params': pa, 'reward_top1': reward, 'test_top1': test,
                     'reward_top1_mean': round(statistics.mean(reward), 4),
                     'test_top1_mean': round(statistics.mean(test), 4)})
    data = {'format': GROUND_TRUTH_FORMAT, 'space': space,
            'space_definition': json.loads(json.dumps(SPACES[space])), 'settings': settings, 'archs': rows}
    table = GroundTruthTable(data, source='<new table>')

    def _clean(agreement: dict) -> dict:  # NaN (a constant side) is not JSON
        pairs = [[a, b, None if math.isnan(t) else round(t, 4)] for a, b, t in agreement['pairs']]
        mean = agreement['mean']
        return {'pairs': pairs, 'mean': None if mean is None else round(mean, 4), 'left_out': agreement['left_out']}

    data['seed_agreement'] = {
        'about': 'Kendall tau-b between the stand-alone accuracies of two seeds over all architectures',
        'reward_top1': _clean(seed_agreement(table, 'reward_top1')),
        'test_top1': _clean(seed_agreement(table, 'test_top1'))}
    return data


def format_table(data: dict) -> str:
    """The table as indented JSON with one line per architecture (small, and readable in a diff)."""
    head = json.dumps({k: v for k, v in data.items() if k != 'archs'}, indent=1)
    rows = ',\n'.join('  ' + json.dumps(row) for row in data['archs'])
    return head[:-2] + f',\n "archs": [\n{rows}\n ]\n}}\n'


def report(data: dict, records: list[dict]) -> None:
    rows = sorted(data['archs'], key=lambda r: -r['reward_top1_mean'])
    print(f'\n{len(rows)} architectures x seeds {data["settings"]["seeds"]}; best by mean reward-split top-1:')
    for r in rows[:5]:
        print(f'  {" ".join(r["arch"]):22s} reward {r["reward_top1_mean"]:6.2f}  test {r["test_top1_mean"]:6.2f}  '
              f'{r["flops"] / 1e6:5.2f} MFLOPs')
    worst = rows[-1]
    print(f'  worst: {" ".join(worst["arch"])} reward {worst["reward_top1_mean"]:.2f}')
    agreement = data['seed_agreement']
    print(f'seed-to-seed Kendall tau-b (noise ceiling): reward {agreement_text(agreement["reward_top1"])}, '
          f'test {agreement_text(agreement["test_top1"])}')
    if records:
        walls = [r['wall_s'] for r in records]
        print(f'time per architecture (this invocation, {len(records)} runs): wall {statistics.mean(walls):.1f} s '
              f'(train {statistics.mean(r["train_s"] for r in records):.1f}), '
              f'CPU {statistics.mean(r["cpu_s"] for r in records):.1f} s')


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIG, help='retrain config (relative to the repository)')
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1])
    parser.add_argument('--archs', type=int, default=None, help='a seeded subset of this many architectures')
    parser.add_argument('--iters', type=int, default=None, help="training iterations (default: the config's)")
    parser.add_argument('--batch-size', type=int, default=None, help="default: the config's")
    parser.add_argument('--samples-per-class', type=int, default=None, help="training images per class "
                        "(default: the config's)")
    parser.add_argument('--reward-per-class', type=int, default=None, help='reward-split images per class (default: '
                        "the config's; none set: the whole 5,000)")
    parser.add_argument('--test-per-class', type=int, default=None, help="test images per class (default: the "
                        "config's; 1000 = the whole official test set)")
    parser.add_argument('--workers', type=int, default=1,
                        help=f'architectures trained at a time (processes), >= 1; {OVERSUBSCRIBED_HELP} (each '
                             "architecture's train_s / wall_s)")
    parser.add_argument('--out', default=OUT, help='the table (JSON); runs go to <out>.runs.jsonl beside it')
    parser.add_argument('--work-dir', default='work_dirs/nas_ground_truth_fmnist')
    args = parser.parse_args(argv)
    refuse_bad_counts(parser, args, at_least_1=('archs', 'iters', 'batch_size', 'samples_per_class',
                                                'reward_per_class', 'test_per_class'))
    refuse_bad_parallelism(parser, args, runs=('workers', ))
    refuse_bad_seeds(parser, args)
    torch.set_num_threads(1)  # OpenMP with 2 threads on a shared 2-core machine is far slower than 1
    register_all_modules(init_default_scope=False)
    out = osp.abspath(args.out)
    work_dir = osp.abspath(args.work_dir)
    if not osp.isfile(config_path(args.config)):
        raise SystemExit(f'--config not found: {config_path(args.config)}')
    cfg = Config.fromfile(config_path(args.config))
    per_class = {}  # each option's split, as the runs sample it (make_settings, train_one)
    for flag, value, loader in (('--samples-per-class', args.samples_per_class, 'train_dataloader'),
                                ('--reward-per-class', args.reward_per_class, 'reward_dataloader'),
                                ('--test-per-class', args.test_per_class, 'test_dataloader')):
        if value is not None:
            per_class[flag] = copy.deepcopy(cfg[loader].dataset)
            per_class[flag].samples_per_class = value
    refuse_more_per_class_than_split(parser, per_class)
    space = space_of(cfg)
    input_shape = input_shape_of(config_path(args.config))
    archs, flops, params = architectures(cfg, args.archs, input_shape)
    settings = make_settings(cfg, args, len(archs), input_shape)
    runs = runs_path(out)
    done = read_runs(runs, settings)
    # One training per distinct network and seed; equivalent architectures (network_key) share its record.
    groups: dict[tuple, list[list[str]]] = {}
    for arch in archs:
        groups.setdefault(network_key(arch, SPACES[space]), []).append(arch)

    def _share(record: dict) -> None:
        """Record ``record``'s result for the architectures equivalent to its own that have none yet."""
        for other in groups[network_key(record['arch'], SPACES[space])]:
            if (tuple(other), record['seed']) not in done:
                copy_ = dict(record, arch=list(other), same_network_as=list(record['arch']), train_s=0.0,
                             wall_s=0.0, cpu_s=0.0)
                append_run(runs, copy_, settings)
                done[(tuple(other), record['seed'])] = copy_

    for record in list(done.values()):
        _share(record)
    jobs = [(members[0], seed, settings, work_dir) for seed in args.seeds for members in groups.values()
            if any((tuple(a), seed) not in done for a in members)]
    print(f'space {space!r}: {len(archs)} architectures ({len(groups)} distinct networks) x seeds {args.seeds}; '
          f'{settings["iters"]} iterations of {settings["batch_size"]} on {settings["train_images"]} images; '
          f'{len(jobs)} runs to train ({len(done)} done in {runs}); {args.workers} worker(s)', flush=True)

    records: list[dict] = []
    t0 = time.perf_counter()

    def _finished(record: dict) -> None:
        append_run(runs, record, settings)
        done[(tuple(record['arch']), record['seed'])] = record
        _share(record)
        records.append(record)
        elapsed = time.perf_counter() - t0
        eta = elapsed / len(records) * (len(jobs) - len(records))
        print(f'  [{len(records)}/{len(jobs)}] seed {record["seed"]} {" ".join(record["arch"]):22s} reward '
              f'{record["reward_top1"]:6.2f} test {record["test_top1"]:6.2f}  {record["wall_s"]:5.1f} s  '
              f'(elapsed {elapsed:.0f} s, ETA {eta:.0f} s)', flush=True)

    if args.workers == 1 or len(jobs) <= 1:
        for job in jobs:
            _finished(train_one(job))
    else:
        os.environ['OMP_NUM_THREADS'] = '1'  # inherited by the spawned workers before torch loads there
        context = multiprocessing.get_context('spawn')  # no fork of a process holding torch / OpenMP state
        with context.Pool(args.workers, initializer=_init_worker, maxtasksperchild=None) as pool:
            for record in pool.imap_unordered(train_one, jobs):
                _finished(record)

    data = build_table(space, settings, archs, flops, params, done)
    with atomic_open(out, 'w') as f:
        f.write(format_table(data))
    report(data, records)
    print(f'wrote {out}')
    return data


if __name__ == '__main__':
    main()
