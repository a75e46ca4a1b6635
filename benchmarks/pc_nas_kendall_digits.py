"""PC-NAS evidence on digits: ranking quality of a progressively shrunk vs a uniformly sampled supernet.

The digits MBConv space (54 architectures) is small enough to train every architecture stand-alone. Per seed:

1. *stand-alone*: every architecture trained from scratch with the retrain config (``IterBasedTrainLoop`` of
   ``--standalone-iters``, cosine LR), then scored on the reward split (what the supernets score on) and the test
   split;
2. *uniform*: the PC-NAS supernet config trained for ``--supernet-iters`` with uniform single paths
   (``PathSamplingHook``), same optimiser and cosine schedule as the PC-NAS config;
3. *PC-NAS*: the PC-NAS config with warm-up and stage iterations scaled to the same total and its FLOPs limit.

After training, each supernet scores every architecture on the reward split with inherited weights (BN statistics
re-estimated on ``--bn-batches`` training batches, as the PC-NAS config does). Reported: Kendall tau-b between
estimated and stand-alone reward accuracy over all architectures and over those within the FLOPs limit, and the
stand-alone rank and test accuracy of each method's pick (uniform: its best estimate within the limit; PC-NAS:
``final_pool[0]``). With several seeds, the seed-to-seed tau of the stand-alone accuracies shows how noisy the
ground truth itself is. JSON goes to ``<work-dir>/kendall.json``.
Run: python benchmarks/pc_nas_kendall_digits.py [--seeds 0 1 2] [--standalone-iters 150] [--supernet-iters 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import random
import sys
import time

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from scipy.stats import kendalltau

from automl_mm.engine.evaluate import build_local_loader, evaluate_locally, metric_value
from automl_mm.nas import FlopsTable, LayerwiseSpace
from automl_mm.registry import MODELS
from automl_mm.utils import register_all_modules
from automl_mm.utils.io import strict_json
from automl_mm.utils.metric_rule import rule_sign

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # the shared helpers beside this script
from _arms import UniqueValues  # noqa: E402
from _nas_supernets import (  # noqa: E402
    METRIC,
    METRIC_RULE,
    best_of,
    iter_train_cfg,
    mean_std,
    quiet_cfg,
    supernet_cfg,
    train_path_sampling,
)
from _nas_supernets import train_pc_nas as run_pc_nas  # noqa: E402
from _options import refuse_bad_seeds  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEARCH_CONFIG = osp.join(ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')
RETRAIN_CONFIG = osp.join(ROOT, 'configs/pc_nas/pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')


def train_standalone(arch: list[str], seed: int, iters: int, work_dir: str) -> dict:
    """Train ``arch`` from scratch; its reward-split and test-split top-1."""
    cfg = Config.fromfile(RETRAIN_CONFIG)
    name = f'standalone_s{seed}_{"-".join(arch)}'
    quiet_cfg(cfg, osp.join(work_dir, name), name, seed, iters)
    cfg.model.backbone.arch = list(arch)
    iter_train_cfg(cfg, iters)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=iters, by_epoch=False)]
    loaders = {'reward': cfg.reward_dataloader, 'test': cfg.test_dataloader}
    evaluator_cfg = cfg.val_evaluator
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None  # no validation inside the loop
    runner = Runner.from_cfg(cfg)
    runner.train()
    evaluator = runner.build_evaluator(evaluator_cfg)
    out = {}
    for split, loader_cfg in loaders.items():
        loader = build_local_loader(loader_cfg, f'{split}_dataloader')
        out[split] = metric_value(evaluate_locally(runner.model, loader, evaluator), METRIC, 'metric')
    return out


def train_uniform(seed: int, iters: int, work_dir: str, paths: list[tuple], bn_batches: int) -> dict:
    cfg = supernet_cfg(SEARCH_CONFIG, seed, work_dir, f'uniform_s{seed}', iters)
    return train_path_sampling(cfg, iters, paths, bn_batches)


def train_pc_nas(seed: int, iters: int, work_dir: str, paths: list[tuple], bn_batches: int) -> dict:
    cfg = supernet_cfg(SEARCH_CONFIG, seed, work_dir, f'pcnas_s{seed}', iters)
    # keep the config's warm-up : stage ratio (600 : 300 per layer of 1800)
    return run_pc_nas(cfg, iters, 4, RETRAIN_CONFIG, paths, bn_batches)


def _tau(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b of two lists of ``METRIC`` (estimates and stand-alone scores in one metric, so one rule:
    its direction does not change tau)."""
    tau = kendalltau(x, y).statistic
    return float('nan') if tau != tau else float(tau)


def _rank(reward: list[float], index: int, among: list[int], rule: str = METRIC_RULE) -> int:
    """1 + number of architectures in ``among`` with a strictly better stand-alone reward-split ``METRIC`` (higher,
    or lower under ``rule='less'``)."""
    sign = rule_sign(rule)
    return 1 + sum(sign * reward[i] > sign * reward[index] for i in among)


def run_seed(seed: int, args: argparse.Namespace, paths: list[tuple], names: list[str],
             admitted: list[int]) -> dict:
    t0 = time.time()
    standalone = []
    for i in range(len(paths)):
        standalone.append(train_standalone(names[i].split(), seed, args.standalone_iters, args.work_dir))
        print(f'  seed {seed} stand-alone {i + 1}/{len(paths)} {names[i]:22s} reward {standalone[-1]["reward"]:.2f} '
              f'test {standalone[-1]["test"]:.2f}  ({time.time() - t0:.0f}s)', flush=True)
    t1 = time.time()
    uniform = train_uniform(seed, args.supernet_iters, args.work_dir, paths, args.bn_batches)
    print(f'  seed {seed} uniform supernet done ({time.time() - t1:.0f}s)', flush=True)
    t2 = time.time()
    pc_nas = train_pc_nas(seed, args.supernet_iters, args.work_dir, paths, args.bn_batches)
    print(f'  seed {seed} PC-NAS done ({time.time() - t2:.0f}s, warm-up {pc_nas["warmup_iters"]} + 4 x '
          f'{pc_nas["stage_iters"]} iters)', flush=True)

    reward = [s['reward'] for s in standalone]
    test = [s['test'] for s in standalone]
    best = best_of(admitted, lambda i: reward[i])
    out = {'seed': seed, 'standalone': standalone, 'best_admitted': {
        'arch': names[best], 'reward': reward[best], 'test': test[best],
        'max_test': test[best_of(admitted, lambda i: test[i])]}}
    pc_path = tuple(pc_nas['final_pool'][0]['path'])
    # with --max-archs the PC-NAS pick may lie outside the subset (it was not trained stand-alone)
    pc_pick = paths.index(pc_path) if pc_path in paths else None
    uni_pick = best_of(admitted, lambda i: uniform['estimates'][i])
    for method, res, pick in (('uniform', uniform, uni_pick), ('pc_nas', pc_nas, pc_pick)):
        est = res['estimates']
        out[method] = dict(res, **{
            'tau_all': _tau(est, reward),
            'tau_admitted': _tau([est[i] for i in admitted], [reward[i] for i in admitted]),
            'pick': ' '.join(pc_nas['final_pool'][0]['arch']) if pick is None else names[pick],
            'pick_admitted': pick in admitted,
            'pick_rank': None if pick is None else _rank(reward, pick, admitted),
            'pick_test': None if pick is None else test[pick]})
    return out


def report(results: list[dict], num_archs: int, num_admitted: int) -> None:
    print(f'\nKendall tau-b of supernet-estimated vs stand-alone reward-split top-1 ({num_archs} architectures, '
          f'{num_admitted} within the FLOPs limit); pick rank among those within the limit, by stand-alone reward')
    header = f'{"seed":>4}  {"method":8s} {"tau all":>8} {"tau limit":>9}  {"pick":22s} {"rank":>4} {"test":>6}'
    print(header)
    print('-' * len(header))
    for r in results:
        for method in ('uniform', 'pc_nas'):
            m = r[method]
            rank, test = ('n/a', 'n/a') if m['pick_rank'] is None else (m['pick_rank'], f'{m["pick_test"]:.2f}')
            print(f'{r["seed"]:>4}  {method:8s} {m["tau_all"]:8.3f} {m["tau_admitted"]:9.3f}  {m["pick"]:22s} '
                  f'{rank:>4} {test:>6}')
        b = r['best_admitted']
        print(f'{r["seed"]:>4}  {"oracle":8s} {"":8s} {"":9s}  {b["arch"]:22s} {1:>4} {b["test"]:6.2f}  '
              f'(max test within limit {b["max_test"]:.2f})')
    print(f'\nmean ± std over {len(results)} seed(s):')
    for method in ('uniform', 'pc_nas'):
        rows = [r[method] for r in results]
        print(f'  {method:8s} tau all {mean_std([m["tau_all"] for m in rows])}   tau limit '
              f'{mean_std([m["tau_admitted"] for m in rows])}   pick rank '
              f'{mean_std([m["pick_rank"] for m in rows])}   pick test {mean_std([m["pick_test"] for m in rows])}')
    print(f'  oracle   test {mean_std([r["best_admitted"]["test"] for r in results])}')
    if len(results) > 1:
        taus = [_tau([a['reward'] for a in x['standalone']], [b['reward'] for b in y['standalone']])
                for i, x in enumerate(results) for y in results[i + 1:]]
        print(f'  stand-alone seed-to-seed tau (noise ceiling of the ground truth): {mean_std(taus)}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2],
                        help='seeds of the mean ± std (default: the README\'s 0 1 2; about 25 minutes each, one core)')
    parser.add_argument('--standalone-iters', type=int, default=150)
    parser.add_argument('--supernet-iters', type=int, default=1000, help='training iterations of each supernet')
    parser.add_argument('--max-archs', type=int, default=None, help='a seeded random subset of the 54 (quick runs)')
    parser.add_argument('--work-dir', default='work_dirs/bench_pc_nas')
    parser.add_argument('--bn-batches', type=int, default=None,
                        help="BN re-estimation batches per scored path, in the PC-NAS search too (default: the PC-NAS "
                             "config's)")
    args = parser.parse_args()
    if args.max_archs is not None and args.max_archs < 2:  # 0 trained the supernets to rank no architecture
        parser.error(f'--max-archs must be >= 2 (Kendall\'s tau ranks at least two architectures), '
                     f'got {args.max_archs}')
    for key in ('standalone_iters', 'supernet_iters'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1, got {getattr(args, key)}')
    if args.bn_batches is not None and args.bn_batches < 0:
        parser.error(f'--bn-batches must be >= 0, got {args.bn_batches}')
    refuse_bad_seeds(parser, args)
    torch.set_num_threads(1)  # OpenMP with 2 threads on a shared 2-core machine is far slower than 1
    register_all_modules(init_default_scope=False)
    os.chdir(ROOT)
    search_cfg = Config.fromfile(SEARCH_CONFIG)
    if args.bn_batches is None:
        args.bn_batches = search_cfg.train_cfg.bn_recalibration_batches
    limit = search_cfg.train_cfg.flops_limit

    space = LayerwiseSpace()
    supernet = space.bind(MODELS.build(search_cfg.model))
    paths = list(space.completions(()))
    if args.max_archs is not None and args.max_archs < len(paths):
        paths = sorted(random.Random(0).sample(paths, args.max_archs))
    flops = FlopsTable.from_supernet(supernet, search_cfg.train_cfg.input_shape)
    names = [' '.join(space.values(p)) for p in paths]
    admitted = [i for i, p in enumerate(paths) if flops.flops(supernet, p) <= limit]
    print(f'{len(paths)} architectures, {len(admitted)} within {limit:.3g} FLOPs; seeds {args.seeds}; '
          f'{args.standalone_iters} stand-alone iters, {args.supernet_iters} supernet iters, '
          f'{args.bn_batches} BN batches', flush=True)

    results = []
    for seed in args.seeds:
        results.append(run_seed(seed, args, paths, names, admitted))
        os.makedirs(args.work_dir, exist_ok=True)
        out = osp.join(args.work_dir, 'kendall.json')
        with open(out, 'w') as f:  # after every seed, so a long run leaves what it finished
            json.dump(strict_json({'args': vars(args), 'archs': names,
                                   'flops': [flops.flops(supernet, p) for p in paths], 'flops_limit': limit,
                                   'admitted': admitted, 'results': results},
                                  'a Kendall tau-b is undefined when one side scores every architecture the same'),
                      f, indent=2, allow_nan=False)
    report(results, len(paths), len(admitted))
    print(f'\nwrote {out}')


if __name__ == '__main__':
    main()
