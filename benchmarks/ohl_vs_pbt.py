"""OHL against Ray Tune's population-based training (and random search, and a grid) learning lr and weight decay.

Every arm trains the same model (``SimpleConvNet`` + linear head of ``configs/_base_/models/convnet_digits.py``,
built from the OHL config through automl_mm's ``MODELS`` registry) with SGD (momentum 0.9, batch 64, constant
learning rate: no scheduler in any arm) on the same reduced Fashion-MNIST training images (``--samples-per-class``,
crop + flip as in the dataset base), for the same number of epochs per member (``--epochs``: the epochs behind each
member's final weights). Not the same training iterations in every arm: OHL's copies and the random arm's members
train ``4 x --epochs`` member-epochs, the grid ``20 x --epochs``, and the asynchronous PBT / PB2 fewer, because a
trial that exploits continues from a top trial's checkpoint *and its epoch count*, never training the epochs that
trial was ahead (measured: 65-75 of 80); each run prints its member-epochs (:func:`member_epochs`). Every choice of a
member is made on the same ``--reward-samples`` images of the held-out reward split (top-1 %, the OHL reward); the
test split (the official 10,000 images) is used only for the one final number of each arm. The grid is the
config's (``configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py``): lr ∈ {0.003, 0.01, 0.03, 0.1, 0.3} x
weight decay ∈ {0, 1e-4, 1e-3, 1e-2}, 20 points with bad corners (0.003 barely trains; 0.3 with 1e-2 shrinks the
weights 3 % a step).

Arms (population 4 where there is one):

* ``ohl``: ``tools/train.py`` on that config: 4 copies, one trunk per epoch, two log-spaced categorical
  ``AttributeSpace``s (lr; weight decay) learned by REINFORCE, the best copy broadcast after every trunk, its final
  weights tested. It writes one checkpoint, the final one (``checkpoint.interval`` = ``--epochs``), and
  ``work_dir/ohl/schedule_policy.py`` (the learned per-trunk schedule).
* ``ohl_k``: the same with ``OHLHook.broadcast_interval`` = ``--broadcast-interval`` (default 4): the best copy is
  broadcast every k trunks (and at the last), θ still updated after every trunk; the less greedy form of the
  population (the ``ohl`` arm broadcasts after every trunk).
* ``pbt``: Ray Tune ``PopulationBasedTraining`` (4 trials, initial lr and wd uniform over the grid,
  ``hyperparam_mutations`` = the same two lists, ``perturbation_interval`` = 1 epoch = the OHL trunk, Ray's
  defaults otherwise: asynchronous, quantile 0.25, resample probability 0.25). A function trainable reports the
  reward after every epoch with a checkpoint (model + optimiser state, as PBT's exploit needs) and resumes from
  ``tune.get_checkpoint()``. The trial with the best final reward is tested.
* ``pb2``: Ray Tune ``PB2`` (GP-bandit explore; needs scikit-learn, refused at start when it is missing; it
  ran here with Ray 2.60.0 and scikit-learn 1.9.1) on the same grid: it searches continuous
  bounds, so it explores grid *indices* [-0.5, 4.5] x [-0.5, 3.5] and the trainable takes the nearest grid point
  (:func:`grid_value`): every grid point owns an interval of width 1, so its initial population is uniform over
  the grid as PBT's is (with [0, 4] x [0, 3] the end points owned half an interval each: lr 0.003 and 0.3 were
  drawn with probability 1/8 instead of 1/5, weight decay 0 and 1e-2 with 1/6 instead of 1/4).
* ``random``: 4 distinct grid points drawn uniformly, each trained the full budget; best reward → test.
* ``grid``: every grid point trained the full budget (the careful user's reference, at its real cost; ``--grid-
  subset N`` trains N evenly spaced points of the 20 instead, for a quick check); best reward → test.

PBT, PB2, random and grid train in a plain PyTorch loop (same model, optimiser, batches, reward and test
evaluation, ``ImgDataPreprocessor`` included), lighter than the mmengine runner OHL runs in: that favours their
wall time. Same cores: every arm runs in a child process pinned to ``--cpus`` cores (default 2, or the one core
this process may run on) with one torch thread per process: OHL's 4 copy processes, Ray's 4 concurrent trials
(``ray.init(num_cpus=--cpus)``, 0.25 x that per trial), random / grid on a pool of ``--cpus`` processes. The arms
of a seed run one after another, in the order given for the first, third, ... seed and reversed for the others
(:func:`seed_arm_order`).

Printed per arm: final test top-1 (%, mean ± std over seeds), wall time (s, the arm's child process from start
to exit: data loading, process and Ray start-up included), peak memory (MiB: the largest sum of PSS, the
proportional set size, over the child's process tree, polled every second with psutil: a page shared by k processes
counts 1/k in each, so the torch libraries every process maps count once; for Ray it includes Ray's own processes:
GCS, raylet, workers), bytes of checkpoints written (OHL: the ``.pth`` files in its work_dir; PBT / PB2: the
``checkpoint_*`` folders in Ray's storage, which keeps every one, and Ray's whole storage folder), and for OHL /
PBT / PB2 the learned schedule (OHL: the lr / wd each trunk of the final model trained with, the lineage of best
copies that ``schedule_policy.py`` replays, and the mode of θ during each trunk, whose first trunk shows the first
grid value of the uniform start; PBT / PB2: the lr / wd of each epoch of the best trial's weights, carried through
exploits in the checkpoint). Ends with
the wall-time ratio OHL / PBT of each seed and their mean ± sample std, and whether the issue's goal holds: OHL at
least as accurate as PBT, in at most a third of its wall time (that mean of paired ratios; until the forty-third
session the ratio of the mean wall times), with no checkpoint files between trunks.

Needs the benchmark extras (ray[tune], scikit-learn for PB2, psutil): ``make bench-deps``.

Run: python benchmarks/ohl_vs_pbt.py [--seeds 0 1 2] [--epochs 20] [--samples-per-class 50]
     [--reward-samples 2000] [--arms ohl ohl_k pbt pb2 random grid] [--broadcast-interval 4] [--cpus 2]
     [--grid-subset N]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import multiprocessing as mp
import os
import os.path as osp
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import numpy as np
import torch
from _arms import (
    ROOT,
    UniqueValues,
    final_accuracy,
    mean_std,
    refuse_bad_counts,
    refuse_more_per_class_than_split,
    refuse_more_reward_samples_than_split,
    refuse_unused_options,
    run_config,
    std_text,
    summary,
    train_command,
)
from _options import refuse_bad_parallelism, refuse_bad_seeds
from _pairs import abba_order, paired_ratios

from automl_mm.ohl.report import lineage
from automl_mm.utils.scope import config_type_name

CONFIG = osp.join(ROOT, 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py')
ARMS = ('ohl', 'ohl_k', 'pbt', 'pb2', 'random', 'grid')
OHL_ARMS = ('ohl', 'ohl_k')
POPULATION = 4
# The packages the arms import beyond the project's stack: import name -> (what pip installs, the arms needing it).
# scikit-learn is in requirements/runtime.txt too (tools/install.sh installs it), psutil measures every arm.
_EXTRAS = {'ray': ('ray[tune]', ('pbt', 'pb2')), 'sklearn': ('scikit-learn', ('pb2', )), 'psutil': ('psutil', ARMS)}


def _missing_extras(arms: list[str]) -> list[str]:
    """One phrase per package that an arm of ``arms`` needs and that is not installed, naming the arms, e.g.
    ``'the pb2 arm needs scikit-learn (import sklearn)'``."""
    missing = []
    for module, (package, needers) in _EXTRAS.items():
        chosen = [arm for arm in arms if arm in needers]
        if chosen and importlib.util.find_spec(module) is None:
            who = ('every arm needs' if needers == ARMS else f'the {chosen[0]} arm needs' if len(chosen) == 1
                   else f'the {" and ".join(chosen)} arms need')
            missing.append(f'{who} {package} (import {module})')
    return missing


# ----------------------------------------------------------------------------------------------------------------
# The plain PyTorch member (PBT, PB2, random, grid): same model, data, optimiser and metrics as the OHL config.

def load_cfg(settings: dict) -> Any:
    """The OHL config resized by the options; registers automl_mm's modules (default scope ``automl_mm``)."""
    from mmengine.config import Config

    from automl_mm.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.samples_per_class = settings['samples_per_class']
    cfg.reward_dataloader.dataset.max_samples = settings['reward_samples']
    return cfg


def build_member(settings: dict, member: int) -> tuple[torch.nn.Module, Any, Any]:
    """Model (initialised from a seed of (seed, member)), training dataset and the reward-split loader."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, MODELS
    torch.set_num_threads(1)
    cfg = load_cfg(settings)
    torch.manual_seed(1000 * settings['seed'] + member)
    model = MODELS.build(cfg.model)
    model.init_weights()
    train = DATASETS.build(cfg.train_dataloader.dataset)
    reward = torch.utils.data.DataLoader(DATASETS.build(cfg.reward_dataloader.dataset),
                                         batch_size=cfg.reward_dataloader.batch_size, collate_fn=pseudo_collate)
    return model, train, reward


def make_optimizer(model: torch.nn.Module, lr: float, wd: float, settings: dict) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=settings['momentum'], weight_decay=wd)


def train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, train: Any, settings: dict, member: int,
                epoch: int) -> None:
    """One epoch in the config's batches (64) shuffled by a generator of (seed, member, epoch), and the crops and
    flips drawn from numpy's and python's global RNGs (as mmcv's transforms draw) seeded by the same: a restart
    repeats it. (Seeding only the shuffle left the crops to whatever state a spawned worker or Ray trial had: two
    runs of the same settings ended 0.5 points apart.)"""
    from mmengine.dataset import pseudo_collate
    key = 10**6 * settings['seed'] + 1000 * member + epoch
    np.random.seed(key)
    random.seed(key)
    gen = torch.Generator().manual_seed(key)
    loader = torch.utils.data.DataLoader(train, batch_size=settings['batch_size'], shuffle=True, generator=gen,
                                         collate_fn=pseudo_collate)
    model.train()
    for batch in loader:
        data = model.data_preprocessor(batch, True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@torch.no_grad()
def top1(model: torch.nn.Module, loader: Any) -> float:
    """Top-1 accuracy (%) of ``model`` over ``loader``."""
    model.eval()
    correct = total = 0
    for batch in loader:
        for sample in model(**model.data_preprocessor(batch, False), mode='predict'):
            correct += int(sample.pred_label.item() == sample.gt_label.item())
            total += 1
    return 100.0 * correct / total


def test_top1(settings: dict, state: dict) -> float:
    """Top-1 (%) on the test split of a model with ``state``."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, MODELS
    cfg = load_cfg(settings)
    model = MODELS.build(cfg.model)
    model.load_state_dict(state)
    loader = torch.utils.data.DataLoader(DATASETS.build(cfg.test_dataloader.dataset),
                                         batch_size=cfg.test_dataloader.batch_size, collate_fn=pseudo_collate)
    return top1(model, loader)


def train_fixed(settings: dict, member: int, lr: float, wd: float) -> tuple[float, dict]:
    """A member trained the full budget at fixed (lr, wd): its final reward (%) and weights (random, grid)."""
    model, train, reward = build_member(settings, member)
    optimizer = make_optimizer(model, lr, wd, settings)
    for epoch in range(settings['epochs']):
        train_epoch(model, optimizer, train, settings, member, epoch)
    return top1(model, reward), model.state_dict()


def _fixed_task(job: tuple) -> tuple[float, dict]:
    return train_fixed(*job)


def run_fixed(settings: dict, points: list[tuple[float, float]]) -> dict:
    """Train every point on a pool of ``cpus`` processes; the best final reward's weights → test."""
    jobs = [(settings, m, lr, wd) for m, (lr, wd) in enumerate(points)]
    with mp.get_context('spawn').Pool(settings['cpus']) as pool:
        outs = pool.map(_fixed_task, jobs, chunksize=1)
    rewards = [r for r, _ in outs]
    best = int(np.argmax(rewards))
    return dict(test=test_top1(settings, outs[best][1]), reward=rewards[best], best=list(points[best]),
                rewards={f'{lr:g}/{wd:g}': r for (lr, wd), r in zip(points, rewards)})


def grid_points(cfg: Any) -> list[tuple[float, float]]:
    return [(lr, wd) for lr in cfg.lr_choices for wd in cfg.wd_choices]


# ----------------------------------------------------------------------------------------------------------------
# Ray Tune: PBT and PB2 over the same grid, the same plain member.

def pb2_index_bounds(choices: list) -> list[float]:
    """PB2's continuous bounds for the index into the grid ``choices``: ``[-0.5, len(choices) - 0.5]``, so that
    under :func:`grid_value` every grid point owns an interval of width 1 and a uniform draw (PB2's initial
    population) picks each point with probability ``1 / len(choices)``, as PBT's ``tune.choice`` does. (Bounds
    ``[0, len - 1]`` gave the two end points half an interval each.)"""
    return [-0.5, len(choices) - 0.5]


def grid_value(choices: list, index: float):
    """The grid point of ``choices`` nearest to the continuous ``index`` PB2 proposed (within
    :func:`pb2_index_bounds`; a value at or past a bound, float rounding included, is the end point)."""
    return choices[min(max(math.floor(index + 0.5), 0), len(choices) - 1)]


def pbt_trainable(config: dict, settings: dict) -> None:
    """One Ray Tune trial: an epoch, then ``tune.report(reward, checkpoint)``; resumes from an exploited checkpoint.

    PB2 explores grid indices (``lr_i``, ``wd_i``, continuous); each is taken to its grid point (:func:`grid_value`).
    """
    from ray import tune
    lrs, wds = settings['lr_choices'], settings['wd_choices']
    lr = grid_value(lrs, config['lr_i']) if 'lr_i' in config else config['lr']
    wd = grid_value(wds, config['wd_i']) if 'wd_i' in config else config['wd']
    name = tune.get_context().get_trial_name() or '0'
    member = int(name.rsplit('_', 1)[-1]) if name.rsplit('_', 1)[-1].isdigit() else 0
    model, train, reward = build_member(settings, member)
    optimizer = make_optimizer(model, lr, wd, settings)
    epoch, schedule = 0, []
    checkpoint = tune.get_checkpoint()
    if checkpoint:  # PBT's exploit: continue from the donor's weights and optimiser state with the new config
        with checkpoint.as_directory() as folder:
            state = torch.load(osp.join(folder, 'member.pth'), weights_only=True)
        model.load_state_dict(state['model'])
        optimizer.load_state_dict(state['optimizer'])
        epoch, schedule = state['epoch'], state['schedule']
    for group in optimizer.param_groups:
        group['lr'], group['weight_decay'] = lr, wd
    while epoch < settings['epochs']:
        train_epoch(model, optimizer, train, settings, member, epoch)
        epoch += 1
        schedule.append([lr, wd])
        with tempfile.TemporaryDirectory() as folder:
            torch.save(dict(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch,
                            schedule=schedule), osp.join(folder, 'member.pth'))
            tune.report(dict(reward=top1(model, reward), epoch=epoch, lr=lr, wd=wd),
                        checkpoint=tune.Checkpoint.from_directory(folder))


def checkpoint_folders(storage: str) -> int:
    """The ``checkpoint_*`` folders under Ray's ``storage`` (Ray keeps every one): a trial reports once per epoch
    it trains, each report with a checkpoint, so this is also the epochs its trials trained in all."""
    return sum(d.startswith('checkpoint_') for _, dirs, _ in os.walk(storage) for d in dirs)


def member_epochs(arm: str, result: dict, epochs: int) -> int:
    """The epochs an arm's run trained, summed over its members (copies counted): the training iterations it got,
    in epochs of the same images and batches.

    OHL (``ohl`` / ``ohl_k``): every copy trains every epoch on the whole training set (``CopySampler``), so the
    copies of ``result['copies']`` times ``epochs``; random / grid: every point of ``result['rewards']`` trains
    ``epochs``; PBT / PB2: ``result['checkpoints']`` (:func:`checkpoint_folders`), fewer than ``4 x epochs`` where
    an exploit jumped a trial to a donor's later epoch (Ray's asynchronous PBT).
    """
    if arm in OHL_ARMS:
        return result['copies'] * epochs
    if arm in ('pbt', 'pb2'):
        return result['checkpoints']
    return len(result['rewards']) * epochs


def folder_bytes(path: str, under: str | None = None) -> int:
    """Bytes of the files below ``path`` (only inside folders whose name starts with ``under``, if given)."""
    total = 0
    for dirpath, _, files in os.walk(path):
        if under is None or any(part.startswith(under) for part in dirpath.split(os.sep)):
            total += sum(osp.getsize(osp.join(dirpath, f)) for f in files if not osp.islink(osp.join(dirpath, f)))
    return total


def run_ray(settings: dict, arm: str, tmp: str) -> dict:
    """PBT or PB2 with 4 trials on ``cpus`` logical Ray CPUs; the best final reward's checkpoint → test."""
    import ray
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining
    lrs, wds = settings['lr_choices'], settings['wd_choices']
    random.seed(settings['seed'])
    np.random.seed(settings['seed'])
    if arm == 'pbt':
        space = {'lr': tune.choice(lrs), 'wd': tune.choice(wds)}
        scheduler = PopulationBasedTraining(time_attr='training_iteration', perturbation_interval=1,
                                            hyperparam_mutations={'lr': lrs, 'wd': wds})
    else:
        from ray.tune.schedulers.pb2 import PB2
        bounds = {'lr_i': pb2_index_bounds(lrs), 'wd_i': pb2_index_bounds(wds)}
        space = {key: tune.uniform(*bound) for key, bound in bounds.items()}
        scheduler = PB2(time_attr='training_iteration', perturbation_interval=1, hyperparam_bounds=bounds)
    ray.init(num_cpus=settings['cpus'], include_dashboard=False, log_to_driver=False,
             _temp_dir=osp.join(tmp, 'ray'))
    storage = osp.join(tmp, 'storage')
    try:
        trainable = tune.with_resources(tune.with_parameters(pbt_trainable, settings=settings),
                                        {'cpu': settings['cpus'] / POPULATION})
        tuner = tune.Tuner(trainable, param_space=space,
                           tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=POPULATION, metric='reward',
                                                       mode='max'),
                           run_config=tune.RunConfig(name=arm, storage_path=storage, verbose=0,
                                                     stop={'epoch': settings['epochs']}))
        results = tuner.fit()
        best = results.get_best_result(metric='reward', mode='max', scope='last')
        with best.checkpoint.as_directory() as folder:
            state = torch.load(osp.join(folder, 'member.pth'), weights_only=True)
    finally:
        ray.shutdown()
    return dict(test=test_top1(settings, state['model']), reward=best.metrics['reward'],
                schedule=state['schedule'], checkpoint_bytes=folder_bytes(storage, 'checkpoint_'),
                storage_bytes=folder_bytes(storage), checkpoints=checkpoint_folders(storage))


def worker(args: argparse.Namespace) -> None:
    """Child-process side of a non-OHL arm: train it, write its result JSON to ``args.result``."""
    settings = dict(seed=args.seeds[0], epochs=args.epochs, samples_per_class=args.samples_per_class,
                    reward_samples=args.reward_samples, cpus=args.cpus)
    cfg = load_cfg(settings)
    settings.update(lr_choices=list(cfg.lr_choices), wd_choices=list(cfg.wd_choices),
                    batch_size=cfg.train_dataloader.batch_size, momentum=cfg.optim_wrapper.optimizer.momentum)
    grid = grid_points(cfg)
    if args.worker in ('pbt', 'pb2'):
        out = run_ray(settings, args.worker, osp.dirname(args.result))
    elif args.worker == 'random':
        out = run_fixed(settings, random.Random(args.seeds[0]).sample(grid, POPULATION))
    else:
        n = len(grid) if args.grid_subset is None else args.grid_subset
        out = run_fixed(settings, [grid[i] for i in np.linspace(0, len(grid) - 1, n).round().astype(int)])
    with open(args.result, 'w') as f:
        json.dump(out, f)


# ----------------------------------------------------------------------------------------------------------------
# The driver: each arm in a child process, timed and its memory polled.

def measure(argv: list[str], env: dict, cores: set[int], log: str) -> tuple[float, float]:
    """Run ``argv`` pinned to ``cores``; wall time (s) and peak summed PSS of its process tree (MiB)."""
    import psutil
    with open(log, 'w') as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: os.sched_setaffinity(0, cores))
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            pss = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    pss += p.memory_full_info().pss
            except psutil.Error:  # a process ended while we read it: keep the last complete sum
                pass
            else:
                peak = max(peak, pss)
            time.sleep(1.0)  # reading PSS walks page tables: costly enough to slow the run if done often
        wall = time.perf_counter() - start
    if proc.returncode:
        with open(log) as f:
            raise RuntimeError(f'{" ".join(argv)} failed ({proc.returncode}):\n{f.read()[-4000:]}')
    return wall, peak / 2**20


def run_ohl(args: argparse.Namespace, arm: str, seed: int, tmp: str, cores: set[int]) -> dict:
    cfg = run_config(CONFIG, seed, args.epochs)
    cfg.train_dataloader.dataset.samples_per_class = args.samples_per_class
    cfg.reward_dataloader.dataset.max_samples = args.reward_samples
    if arm == 'ohl_k':
        hook = next(h for h in cfg.custom_hooks if config_type_name(h) == 'OHLHook')  # 'automl_mm.OHLHook' too
        hook['broadcast_interval'] = args.broadcast_interval
    argv, work, env = train_command(cfg, tmp, f'{arm}{seed}')
    wall, peak = measure(argv, env, cores, osp.join(tmp, f'{arm}{seed}.log'))
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    ckpts = [osp.join(d, f) for d, _, files in os.walk(work) for f in files if f.endswith('.pth')]
    # per trunk {space: {target path: value}}; one path per space here. The lineage (what the final model trained
    # with, as PBT's schedule below) and the mode of θ during each trunk (the controller's choice).
    def per_trunk(entries: list[dict]) -> list[list[float]]:
        return [[next(iter(e[s].values())) for s in ('lr', 'weight_decay')] for e in entries]

    return dict(test=final_accuracy(work), reward=history[-1]['rewards'][history[-1]['best']], wall=wall, peak=peak,
                copies=len(history[-1]['rewards']),
                checkpoint_bytes=sum(map(osp.getsize, ckpts)), checkpoints=len(ckpts),
                schedule=per_trunk(lineage(history)), mode_schedule=per_trunk([h['schedule'] for h in history]),
                policy=osp.isfile(osp.join(work, 'ohl', 'schedule_policy.py')))


def run_other(args: argparse.Namespace, arm: str, seed: int, tmp: str, cores: set[int]) -> dict:
    folder = tempfile.mkdtemp(prefix=f'{arm}{seed}_', dir=tmp)
    result = osp.join(folder, 'result.json')
    argv = [sys.executable, osp.abspath(__file__), '--worker', arm, '--result', result, '--seeds', str(seed),
            '--epochs', str(args.epochs), '--samples-per-class', str(args.samples_per_class),
            '--reward-samples', str(args.reward_samples), '--cpus', str(args.cpus)]
    if args.grid_subset is not None:
        argv += ['--grid-subset', str(args.grid_subset)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, osp.join(ROOT, 'benchmarks'),
                                                       os.environ.get('PYTHONPATH', '')]),
               OMP_NUM_THREADS='1', RAY_USAGE_STATS_ENABLED='0')
    wall, peak = measure(argv, env, cores, osp.join(tmp, f'{arm}{seed}.log'))
    with open(result) as f:
        return dict(json.load(f), wall=wall, peak=peak)


def seed_arm_order(arms: list[str], index: int) -> list[str]:
    """The order the arms run in for the ``index``-th seed (0-based): as given for seeds 0, 2, ... and reversed for
    seeds 1, 3, ..., so that no arm always runs first (cold caches) or after the others (a change of the machine's
    load, heat): the wall times compared run as ABBA pairs. Until the forty-third session every seed ran them in
    the order given, OHL first."""
    return abba_order(arms, index)


def paired_wall_ratios(ohl: list[dict], other: list[dict]) -> list[float]:
    """``ohl[i]['wall'] / other[i]['wall']``: the wall-time ratio of each seed's two runs (the same seed, one after
    the other); the goal reads their mean, not the ratio of the mean wall times (a seed run on a loaded machine
    weighed more there).

    Raises:
        ValueError: Another number of runs on each side (runs of other seeds would be paired).
    """
    return paired_ratios([o['wall'] for o in ohl], [r['wall'] for r in other],
                         'paired wall ratios need one run per seed on each side')


def _schedule_text(schedule: list) -> str:
    return ' '.join(f'{lr:g}/{wd:g}' for lr, wd in schedule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=20, help='epochs per member (= trunks of OHL)')
    parser.add_argument('--samples-per-class', type=int, default=50)
    parser.add_argument('--reward-samples', type=int, default=2000, help='reward-split images every choice uses')
    parser.add_argument('--arms', nargs='+', action=UniqueValues, default=list(ARMS), choices=ARMS)
    parser.add_argument('--broadcast-interval', type=int, default=4,
                        help='trunks between broadcasts of the best copy in the ohl_k arm')
    parser.add_argument('--cpus', type=int, default=None,
                        help='cores every arm is pinned to (Ray num_cpus, pool size); at most the cores this process '
                             'may run on (its CPU affinity). Default: 2, or that many where fewer')
    parser.add_argument('--grid-subset', type=int, default=None, help='train only N evenly spaced grid points')
    parser.add_argument('--worker', choices=[a for a in ARMS if a not in OHL_ARMS], help=argparse.SUPPRESS)
    parser.add_argument('--result', help=argparse.SUPPRESS)
    args = parser.parse_args()
    refuse_bad_counts(parser, args, at_least_1=('epochs', 'samples_per_class', 'reward_samples', 'cpus'))
    refuse_bad_parallelism(parser, args, cores=('cpus', ))  # the cores every arm is pinned to must be there
    if args.cpus is None:  # a default of 2 on one usable core was refused, naming an option the user never typed
        from automl_mm.engine.launch import usable_cpus
        args.cpus = min(2, usable_cpus())
    refuse_bad_seeds(parser, args)
    refuse_more_reward_samples_than_split(parser, args, CONFIG)
    from mmengine.config import Config
    train_set = Config.fromfile(CONFIG).train_dataloader.dataset  # every arm's train split (load_cfg, run_ohl)
    train_set.samples_per_class = args.samples_per_class
    refuse_more_per_class_than_split(parser, {'--samples-per-class': train_set})
    if args.broadcast_interval < 1:
        parser.error(f'--broadcast-interval must be >= 1, got {args.broadcast_interval}')
    if args.grid_subset is not None:  # 0 failed after the other arms had run; above the grid repeated its points
        points = len(grid_points(Config.fromfile(CONFIG)))
        if not 1 <= args.grid_subset <= points:
            parser.error(f'--grid-subset must be in [1, {points}] (the grid\'s points), got {args.grid_subset}')
    if args.worker:
        return worker(args)
    refuse_unused_options(parser, args, args.arms, dict(broadcast_interval=('ohl_k', ), grid_subset=('grid', )))
    missing = _missing_extras(args.arms)
    if missing:  # PB2 without scikit-learn used to be dropped with a note: `--arms pb2` then ran nothing at all
        parser.error(f'--arms {" ".join(args.arms)}: {"; ".join(missing)}, not installed. Install the benchmark '
                     'extras into the project venv with `make bench-deps` (pip install -r requirements/bench.txt: '
                     'ray[tune], scikit-learn, psutil); scikit-learn comes with tools/install.sh '
                     '(requirements/runtime.txt). Or leave those arms out of --arms')
    cores = set(sorted(os.sched_getaffinity(0))[:args.cpus])
    print(f'Fashion-MNIST, {10 * args.samples_per_class} training images, {args.reward_samples} reward images, '
          f'{args.epochs} epochs per member, population {POPULATION}, seeds {args.seeds}, {len(cores)} cores '
          f'{sorted(cores)}', flush=True)
    results: dict[str, list[dict]] = {arm: [] for arm in args.arms}
    with tempfile.TemporaryDirectory(prefix='ohl_vs_pbt_', ignore_cleanup_errors=True) as tmp:
        for index, seed in enumerate(args.seeds):
            for arm in seed_arm_order(args.arms, index):
                r = (run_ohl(args, arm, seed, tmp, cores) if arm in OHL_ARMS
                     else run_other(args, arm, seed, tmp, cores))
                r['member_epochs'] = member_epochs(arm, r, args.epochs)
                results[arm].append(r)
                line = (f'seed {seed} {arm:6s} test {r["test"]:.2f}  reward {r["reward"]:.2f}  wall {r["wall"]:.0f} s'
                        f'  peak {r["peak"]:.0f} MiB  member-epochs {r["member_epochs"]}')
                if 'checkpoint_bytes' in r:
                    line += f'  checkpoints {r["checkpoints"]} files, {r["checkpoint_bytes"] / 2**20:.2f} MiB'
                if 'storage_bytes' in r:
                    line += f' (Ray storage {r["storage_bytes"] / 2**20:.2f} MiB)'
                if 'best' in r:
                    line += f'  best lr/wd {r["best"][0]:g}/{r["best"][1]:g}'
                if r.get('policy'):
                    line += '  (wrote schedule_policy.py)'
                if 'schedule' in r:
                    line += f'\n    schedule (lr/wd per epoch): {_schedule_text(r["schedule"])}'
                if 'mode_schedule' in r:
                    line += f'\n    mode of θ (lr/wd per epoch): {_schedule_text(r["mode_schedule"])}'
                print(line, flush=True)
    print(f'\n{len(args.seeds)} seeds, {args.epochs} epochs; test top-1 % mean ± std, wall s and peak MiB means, '
          'checkpoint MiB mean, member-epochs trained (copies / members counted) per seed:')
    for arm, rs in results.items():
        ckpt = f'{np.mean([r["checkpoint_bytes"] for r in rs]) / 2**20:8.2f}' if 'checkpoint_bytes' in rs[0] else \
            '       -'
        print(f'{arm:6s} {mean_std([r["test"] for r in rs])}  wall {np.mean([r["wall"] for r in rs]):7.0f}  '
              f'peak {np.mean([r["peak"] for r in rs]):6.0f}  checkpoints {ckpt}  member-epochs '
              + ' / '.join(str(r['member_epochs']) for r in rs))
    if 'ohl' in results and 'pbt' in results:
        ohl, pbt = results['ohl'], results['pbt']
        acc = np.mean([r['test'] for r in ohl]) >= np.mean([r['test'] for r in pbt])
        walls = paired_wall_ratios(ohl, pbt)
        fast = summary(walls)['mean'] <= 1 / 3
        final_only = all(r['checkpoints'] == 1 for r in ohl)
        holds = 'HOLDS' if acc and fast and final_only else 'does NOT hold'
        print(f'Wall time OHL / PBT, paired by seed: {mean_std(walls)} ({len(walls)} seed(s): '
              f'{" ".join(f"{w:.2f}" for w in walls)})')
        print(f'Goal (OHL at least as accurate as PBT: {acc}; in at most a third of its wall time: {fast}; no '
              f'checkpoint files between trunks: {final_only}): {holds}')
    if 'ohl' in results and 'ohl_k' in results:
        diffs = [k['test'] - o['test'] for o, k in zip(results['ohl'], results['ohl_k'])]
        paired = summary(diffs)
        print(f'Broadcast every {args.broadcast_interval} trunks instead of every trunk: test top-1 '
              f'{paired["mean"]:+.2f} ± {std_text(paired["std"])} points (sample std; paired by seed: '
              f'{" ".join(f"{d:+.2f}" for d in diffs)})')


if __name__ == '__main__':
    main()
