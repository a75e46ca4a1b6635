"""PC-NAS ranking on Fashion-MNIST: SPOS, PC-NAS and FairNAS supernets at equal budgets vs the stand-alone truth.

The space is ``SPACES['fmnist']`` (81 architectures; 54 within the PC-NAS config's 2.9 MFLOPs limit), whose every
architecture was trained stand-alone by ``benchmarks/nas_ground_truth_fmnist.py`` (the table ``--ground-truth``).
Per seed, three supernets of the PC-NAS config (``configs/pc_nas/pc-nas_mbconv-fmnist_1x1_1800it_fmnist.py``: its
model, data, SGD and cosine schedule over the run's iterations) are trained for the same ``--supernet-iters``
iterations of the same batches:

* ``spos``: uniform single paths (Guo et al., *Single Path One-Shot NAS with Uniform Sampling*, ECCV 2020) with
  ``PathSamplingHook`` under mmengine's ``IterBasedTrainLoop``;
* ``pcnas``: ``PCNASLoop`` with its warm-up and stage iterations scaled to the same total (the config's 600 : 4 x
  300 ratio; K = 3, S = 6, completions within the FLOPs limit);
* ``fairnas``: FairNAS's strict fairness (Chu et al., ICCV 2021): ``FairPathSampler`` (every operator of every
  layer once per block of m = 3 iterations) with ``optim_wrapper.accumulative_counts=3``, the m gradients summed
  as in the paper (``fair_sum_accumulation``: lr x 3, weight decay / 3, exact for SGD). Same images, a third of
  the optimiser steps.

After training each supernet scores every one of the 81 architectures on the reward split with inherited weights,
BN statistics re-estimated per path on the PC-NAS config's ``bn_recalibration_batches`` training batches (the
reward split: the config's 1,000 images, ``--reward-per-class 500`` for the whole 5,000 the ground truth was
scored on; never the test split). Against the ground truth (mean reward-split top-1 over its seeds,
``automl_mm.nas.ranking``), per method, mean ± std over seeds:

* Kendall tau-b over all 81 and over the 54 within the FLOPs limit;
* precision at top 5 and top 10 within the limit;
* the pick (spos / fairnas: the best estimate within the limit; pcnas: ``final_pool[0]``), its stand-alone rank
  among the 54 (1 = best, by mean reward-split top-1) and its stand-alone test top-1 (mean over the table's seeds).

The issue's goal (PC-NAS's pick better than SPOS's on mean stand-alone rank, P@5 higher, tau no worse: mean tau
over all 81 and within the limit both at least SPOS's) is printed as holding or not, condition by condition.
Results go to ``--out`` (JSON) after every (seed, method); a run started again with the same settings and
``--out`` skips what it finished. The table is read at report time, so the same run can be re-reported against
another table.

Time, extrapolated from fractions measured niced on one core of the busy 2-core machine (CPU seconds of this
process): a supernet iteration (batch 32) costs 0.058 s (360 iterations: 21 s), one inherited-weight score (4 BN
batches, 1,000 reward images) 0.64 s (81 scores: 52 s). One seed trains 3 x 1,800 iterations (about 5.3 min) and
scores 3 x 81 architectures plus the PC-NAS search's 135 completions (3 x 6 + 9 x 6 + 9 x 6 + 9), about 4 min: about
10 CPU minutes per seed, 30 for seeds 0 1 2 on a free core; wall time was 1.6x CPU time on the busy machine, so plan
for about 45 minutes. ``--reward-per-class 500`` (the whole reward split) makes the scoring about 5x longer.

Run (the measurement): python benchmarks/pc_nas_ranking_fmnist.py --seeds 0 1 2
Smoke: python benchmarks/pc_nas_ranking_fmnist.py --seeds 0 --supernet-iters 12 --samples-per-class 4 \
    --reward-per-class 2 --batch-size 8 --bn-batches 1 --out /tmp/ranking.json
(against the committed table; about a minute on 2 shared cores, its numbers meaningless)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
import statistics
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
for _path in (ROOT, osp.dirname(osp.abspath(__file__))):  # the package and the shared helpers beside this script
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _stack  # noqa: E402, F401  (first: names the environment to activate where the stack is missing)
import torch  # noqa: E402
from _arms import UniqueValues, refuse_more_per_class_than_split  # noqa: E402
from _nas_supernets import METRIC_RULE, best_of, supernet_cfg, train_path_sampling, train_pc_nas  # noqa: E402
from _options import refuse_bad_seeds  # noqa: E402
from mmengine.config import Config  # noqa: E402

from automl_mm.nas import (  # noqa: E402
    FairPathSampler,
    FlopsTable,
    LayerwiseSpace,
    fair_sum_accumulation,
    kendall_tau,
    load_ground_truth,
    precision_at_k,
    standalone_rank,
)
from automl_mm.nas.ranking import GroundTruthTable, agreement_text  # noqa: E402
from automl_mm.registry import MODELS  # noqa: E402
from automl_mm.utils import register_all_modules  # noqa: E402
from automl_mm.utils.io import atomic_open, strict_json  # noqa: E402

SEARCH_CONFIG = 'configs/pc_nas/pc-nas_mbconv-fmnist_1x1_1800it_fmnist.py'
RETRAIN_CONFIG = 'configs/pc_nas/pc-nas-retrain_mbconv-fmnist_1x1_300it_fmnist.py'
GROUND_TRUTH = 'benchmarks/ground_truth/mbconv_fmnist_standalone.json'
GENERATOR = 'python benchmarks/nas_ground_truth_fmnist.py --workers 2'
METHODS = ('spos', 'pcnas', 'fairnas')
TOP_K = (5, 10)
#: The metric every supernet scores architectures with (the PC-NAS config's search metric).
SCORER = dict(type='Accuracy', topk=(1, ))
#: Per-method figures, in report order: (key, label, higher is better).
FIGURES = (('tau_all', 'tau all', True), ('tau_limit', 'tau limit', True), ('p5', 'P@5', True),
           ('p10', 'P@10', True), ('pick_rank', 'pick rank', False), ('pick_test', 'pick test', True))


def _abs(path: str) -> str:
    return path if osp.isabs(path) else osp.join(ROOT, path)


def load_truth(path: str, archs: list[tuple[str, ...]], flops: list[float]) -> GroundTruthTable:
    """The ground-truth table of ``SPACES['fmnist']`` at ``path``, checked against the FLOPs counted here.

    Raises:
        FileNotFoundError: No table at ``path`` (the message names it and the command that generates it).
        ValueError: Not a table of the space, or FLOPs that differ from this supernet's (another input shape).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'ground-truth table not found: {path}; generate it with `{GENERATOR} --out '
                                f'{path}` (about an hour on two cores) or pass --ground-truth')
    table = load_ground_truth(path, space='fmnist')
    differ = [' '.join(a) for a, f in zip(archs, flops) if not math.isclose(table.flops(a), f, rel_tol=1e-9)]
    if differ:
        raise ValueError(f'{path}: the FLOPs of {len(differ)} architectures (e.g. {differ[:2]}) differ from those '
                         f'counted for {SEARCH_CONFIG}; regenerate the table')
    return table


def method_cfg(method: str, seed: int, args: argparse.Namespace, num_paths_per_update: int) -> Config:
    """The supernet config of ``method``: the PC-NAS config's model, data, SGD and cosine schedule over
    ``args.supernet_iters``, the data sizes of ``args``, no validation loop (the benchmark scores itself)."""
    cfg = supernet_cfg(_abs(SEARCH_CONFIG), seed, args.work_dir, f'{method}_s{seed}', args.supernet_iters)
    cfg.train_dataloader.batch_size = args.batch_size
    cfg.train_dataloader.dataset.samples_per_class = args.samples_per_class
    cfg.reward_dataloader.dataset.samples_per_class = args.reward_per_class
    cfg.train_cfg.bn_recalibration_batches = args.bn_batches
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if method == 'fairnas':
        cfg.optim_wrapper, cfg.param_scheduler = fair_sum_accumulation(cfg.optim_wrapper, cfg.param_scheduler,
                                                                       num_paths_per_update)
    return cfg


def train_method(method: str, seed: int, args: argparse.Namespace, paths: list[tuple], archs: list[str],
                 num_layers: int, m: int) -> dict:
    """Train one supernet; its estimate (reward top-1, %) of every architecture, its pick's source and times."""
    cfg = method_cfg(method, seed, args, m)
    if method == 'pcnas':
        out = train_pc_nas(cfg, args.supernet_iters, num_layers, _abs(RETRAIN_CONFIG), paths, args.bn_batches,
                           SCORER)
    else:
        sampler = dict(type='FairPathSampler') if method == 'fairnas' else None
        out = train_path_sampling(cfg, args.supernet_iters, paths, args.bn_batches, sampler, SCORER)
    out['seconds'] = round(out['train_time']['wall_s'] + out['score_time']['wall_s'], 1)
    out['estimates'] = dict(zip(archs, out['estimates']))
    return out


def pick_of(method: str, result: dict, limited: GroundTruthTable, rule: str = METRIC_RULE) -> str:
    """The method's chosen architecture: PC-NAS's ``final_pool[0]`` (ranked by its search's ``metric_rule``); else
    the best estimate within the limit under ``rule``, the estimates' (``METRIC_RULE``; ties: the first in table
    order)."""
    if method == 'pcnas':
        return ' '.join(result['final_pool'][0]['arch'])
    return best_of([' '.join(a) for a in limited.archs], lambda a: result['estimates'][a], rule)


def method_metrics(estimates: dict[str, float], pick: str, table: GroundTruthTable, limit: float,
                   rule: str = METRIC_RULE) -> dict:
    """Ranking quality of one supernet's ``estimates`` against ``table`` (``automl_mm.nas.ranking``), the estimates
    read under ``rule`` (``METRIC_RULE``, the rule of the metric they are in), the table's top-1 higher-is-better.

    Returns:
        ``tau_all`` / ``tau_limit`` (Kendall tau-b over all architectures / those within ``limit`` FLOPs),
        ``p5`` / ``p10`` (precision at top k within the limit), ``pick`` with its stand-alone ``pick_rank`` among
        those within the limit (None when the pick is over it), ``pick_reward`` and ``pick_test`` (mean top-1, %).
    """
    limited = table.within_flops(limit)
    rank = standalone_rank(pick, limited) if pick in limited else None
    out = {'tau_all': kendall_tau(estimates, table, rule), 'tau_limit': kendall_tau(estimates, limited, rule),
           'pick': pick, 'pick_rank': rank, 'pick_reward': table.scores()[tuple(pick.split())],
           'pick_test': table.scores('test_top1')[tuple(pick.split())]}
    for k in TOP_K:
        out[f'p{k}'] = precision_at_k(estimates, limited, k, rule)
    return out


def _stats(values: list[float | None]) -> dict:
    """``{'mean', 'std', 'n'}`` of the measured values (None and NaN left out): the sample std (n - 1), None for
    one value (it was 0.0, printed '± 0.000') and, with the mean, for none."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {'mean': None, 'std': None, 'n': 0}
    return {'mean': statistics.mean(values), 'std': statistics.stdev(values) if len(values) > 1 else None,
            'n': len(values)}


def summarise(metrics: dict[str, list[dict]]) -> dict:
    """Mean, std and count over seeds of every figure of every method (``metrics[method]``: one dict per seed)."""
    return {method: {key: _stats([m[key] for m in rows]) for key, _, _ in FIGURES}
            for method, rows in metrics.items()}


def goal(summary: dict, seeds: dict[str, list[int]] | None = None) -> dict:
    """The issue's goal on the means over seeds: PC-NAS's pick of better (lower) stand-alone rank than SPOS's,
    P@5 higher, Kendall tau no worse over all architectures and within the limit. A figure not measured fails.
    Means over different seeds are not compared: with ``seeds`` (the seeds each method has) that differ for PC-NAS
    and SPOS, or a figure defined on a different number of seeds for each (a NaN tau, a pick over the limit), the
    goal is not judged (that figure's condition is None).

    Returns:
        ``{'conditions': {name: bool}, 'holds': bool}`` (``holds`` None when not judged).
    """
    if 'pcnas' not in summary or 'spos' not in summary:
        return {'conditions': {}, 'holds': None}
    if seeds is not None and sorted(seeds.get('pcnas', [])) != sorted(seeds.get('spos', [])):
        return {'conditions': {}, 'holds': None,
                'reason': f'PC-NAS has seeds {sorted(seeds.get("pcnas", []))}, SPOS {sorted(seeds.get("spos", []))}'}
    pc, spos = summary['pcnas'], summary['spos']
    uneven = []

    def compare(key: str, better) -> bool | None:
        a, b = pc[key]['mean'], spos[key]['mean']
        if a is not None and b is not None and pc[key]['n'] != spos[key]['n']:
            # a NaN tau (constant estimates) or a pick over the limit leaves a seed out of one method's mean
            uneven.append(f'{key}: PC-NAS over {pc[key]["n"]} seeds, SPOS over {spos[key]["n"]}')
            return None
        return a is not None and b is not None and better(a, b)

    conditions = {
        'pick rank lower than SPOS': compare('pick_rank', lambda a, b: a < b),
        'P@5 higher than SPOS': compare('p5', lambda a, b: a > b),
        'tau (all) no worse than SPOS': compare('tau_all', lambda a, b: a >= b),
        'tau (within limit) no worse than SPOS': compare('tau_limit', lambda a, b: a >= b)}
    if uneven:
        return {'conditions': conditions, 'holds': None, 'reason': '; '.join(uneven)}
    return {'conditions': conditions, 'holds': all(conditions.values())}


def report(data: dict, table: GroundTruthTable, limit: float) -> dict:
    """Print the per-seed table, the mean ± std per method, the oracle and the goal; return the summary."""
    limited = table.within_flops(limit)
    methods = [m for m in METHODS if m in data['args']['methods']]
    metrics: dict[str, list[dict]] = {m: [] for m in methods}
    seeds: dict[str, list[int]] = {m: [] for m in methods}
    print(f'\nRanking of the {len(table)} architectures of SPACES["fmnist"] ({len(limited)} within {limit:.3g} '
          f'FLOPs) by supernet estimates vs the stand-alone ground truth ({table.source}, seeds {table.seeds}); '
          f'P@k and pick rank among those within the limit')
    header = (f'{"seed":>4}  {"method":8s} {"tau all":>7} {"tau lim":>7} {"P@5":>5} {"P@10":>5}  {"pick":22s} '
              f'{"rank":>4} {"test":>6}  {"time":>6}')
    print(header)
    print('-' * len(header))
    for seed in data['args']['seeds']:
        for method in methods:
            result = data['results'].get(str(seed), {}).get(method)
            if result is None:
                continue
            m = method_metrics(result['estimates'], pick_of(method, result, limited), table, limit)
            metrics[method].append(m)
            seeds[method].append(seed)
            rank = '-' if m['pick_rank'] is None else m['pick_rank']
            print(f'{seed:>4}  {method:8s} {m["tau_all"]:7.3f} {m["tau_limit"]:7.3f} {m["p5"]:5.2f} {m["p10"]:5.2f}  '
                  f'{m["pick"]:22s} {rank:>4} {m["pick_test"]:6.2f}  {result["seconds"]:5.0f}s')
    summary = summarise({m: rows for m, rows in metrics.items() if rows})
    print(f'\nmean ± std over seeds ({", ".join(f"{m}: {len(rows)}" for m, rows in metrics.items())}):')
    for method, figures in summary.items():
        cells = []
        for key, label, _ in FIGURES:
            s = figures[key]
            n = '' if s['n'] == len(metrics[method]) else f' (n={s["n"]})'  # seeds left out of this figure
            std = 'n/a' if s['std'] is None else f'{s["std"]:.3f}'
            cells.append(f'{label} ' + ('n/a' if s['mean'] is None else f'{s["mean"]:.3f} ± {std}{n}'))
        print(f'  {method:8s} ' + '   '.join(cells))
    best = max(limited.archs, key=lambda a: limited.scores()[a])
    print(f'  oracle   best within the limit by stand-alone reward: {" ".join(best)} (test '
          f'{table.scores("test_top1")[best]:.2f}; best test within the limit '
          f'{max(table.scores("test_top1")[a] for a in limited.archs):.2f})')
    agreement = agreement_text(table.seed_agreement.get('reward_top1', {}))
    print(f'  noise ceiling: the stand-alone seeds agree at Kendall tau-b {agreement} (reward top-1, all archs)')
    verdict = goal(summary, seeds)
    if verdict.get('reason'):
        print(f'\nGoal not judged: means over different seeds ({verdict["reason"]})')
    if verdict['holds'] is not None:
        print(f'\nGoal (PC-NAS vs SPOS, means over seeds): {"HOLDS" if verdict["holds"] else "does NOT hold"}')
        for name, ok in verdict['conditions'].items():
            print(f'  [{"x" if ok else " "}] {name}')
    return {'metrics': metrics, 'summary': summary, 'goal': verdict, 'oracle': ' '.join(best)}

#: What a null in the ``--out`` file stands for (see :func:`automl_mm.utils.io.strict_json`).
NULL_TAU = 'a Kendall tau-b is undefined when one side scores every architecture the same (a NaN)'


def settings_of(args: argparse.Namespace) -> dict:
    """What determines the supernets' estimates (a re-run with other settings must not reuse them)."""
    return {k: getattr(args, k) for k in ('supernet_iters', 'batch_size', 'samples_per_class', 'reward_per_class',
                                          'bn_batches')}


def parse_args(argv: list[str] | None, search: Config) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', action=UniqueValues, choices=METHODS, default=list(METHODS))
    total = search.train_cfg.warmup_iters + 4 * search.train_cfg.stage_iters
    parser.add_argument('--supernet-iters', type=int, default=total,
                        help=f'training iterations of every supernet (default {total}: the PC-NAS config\'s)')
    parser.add_argument('--batch-size', type=int, default=search.train_dataloader.batch_size)
    parser.add_argument('--samples-per-class', type=int, default=search.train_dataloader.dataset.samples_per_class,
                        help='training images per class (default: the config\'s, as the ground truth)')
    parser.add_argument('--reward-per-class', type=int, default=search.reward_dataloader.dataset.samples_per_class,
                        help='reward-split images per class scored (default: the config\'s; 500 = the whole split)')
    parser.add_argument('--bn-batches', type=int, default=search.train_cfg.bn_recalibration_batches,
                        help='training batches re-estimating BN per scored path (default: the config\'s)')
    parser.add_argument('--ground-truth', default=GROUND_TRUTH, help='the stand-alone table (relative to the repo)')
    parser.add_argument('--out', default='work_dirs/pc_nas_ranking_fmnist/ranking.json')
    parser.add_argument('--work-dir', default='work_dirs/pc_nas_ranking_fmnist')
    args = parser.parse_args(argv)
    for key in ('supernet_iters', 'batch_size', 'samples_per_class', 'reward_per_class'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1, got {getattr(args, key)}')
    if args.bn_batches < 0:
        parser.error(f'--bn-batches must be >= 0, got {args.bn_batches}')
    refuse_bad_seeds(parser, args)
    train_set, reward_set = search.train_dataloader.dataset.copy(), search.reward_dataloader.dataset.copy()
    train_set.samples_per_class, reward_set.samples_per_class = args.samples_per_class, args.reward_per_class
    refuse_more_per_class_than_split(parser, {'--samples-per-class': train_set, '--reward-per-class': reward_set})
    return args


def main(argv: list[str] | None = None) -> dict:
    torch.set_num_threads(1)  # OpenMP with 2 threads on a shared 2-core machine is far slower than 1
    register_all_modules(init_default_scope=False)
    search = Config.fromfile(_abs(SEARCH_CONFIG))
    args = parse_args(argv, search)
    args.work_dir, out = osp.abspath(args.work_dir), osp.abspath(args.out)
    limit = search.train_cfg.flops_limit

    space = LayerwiseSpace()
    supernet = space.bind(MODELS.build(search.model))
    paths = list(space.completions(()))
    archs = [' '.join(space.values(p)) for p in paths]
    flops_table = FlopsTable.from_supernet(supernet, search.train_cfg.input_shape)
    table = load_truth(_abs(args.ground_truth), [tuple(a.split()) for a in archs],
                       [flops_table.flops(supernet, p) for p in paths])  # before hours of training
    m = FairPathSampler(space).paths_per_update
    if 'fairnas' in args.methods and args.supernet_iters % m:
        raise SystemExit(f'--supernet-iters must be a multiple of {m} for fairnas (one update per {m} iterations), '
                         f'got {args.supernet_iters}')

    settings = settings_of(args)
    data = {'settings': settings, 'results': {}}
    if osp.isfile(out):
        with open(out) as f:
            previous = json.load(f)
        if previous.get('settings') != settings:
            raise SystemExit(f'{out} holds results of other settings ({previous.get("settings")}); delete it or use '
                             'another --out')
        data['results'] = previous.get('results', {})
    data['args'] = {'seeds': args.seeds, 'methods': args.methods, 'ground_truth': args.ground_truth}
    todo = [(s, meth) for s in args.seeds for meth in args.methods if meth not in data['results'].get(str(s), {})]
    print(f'{len(paths)} architectures, {len(table.within_flops(limit))} within {limit:.3g} FLOPs; seeds {args.seeds}, '
          f'methods {args.methods}; {args.supernet_iters} iterations of {args.batch_size} on '
          f'{10 * args.samples_per_class} images; scored on {10 * args.reward_per_class} reward images with '
          f'{args.bn_batches} BN batches; {len(todo)} supernets to train', flush=True)

    for seed, method in todo:
        result = train_method(method, seed, args, paths, archs, space.num_decisions, m)
        data['results'].setdefault(str(seed), {})[method] = result
        os.makedirs(osp.dirname(out), exist_ok=True)
        with atomic_open(out, 'w') as f:  # after every supernet, so a long run leaves what it finished
            json.dump(strict_json(data, NULL_TAU), f, indent=1, allow_nan=False)
        extra = f', warm-up {result["warmup_iters"]} + 4 x {result["stage_iters"]}' if method == 'pcnas' else ''
        train, score = result['train_time'], result['score_time']
        print(f'  seed {seed} {method} done: training {train["wall_s"]:.0f} s (CPU {train["cpu_s"]:.0f} s{extra}), '
              f'scoring the {len(paths)} {score["wall_s"]:.0f} s (CPU {score["cpu_s"]:.0f} s)', flush=True)

    data['report'] = strict_json(report(data, table, limit))  # NaN (an undefined tau) as None, also returned
    with atomic_open(out, 'w') as f:
        json.dump(strict_json(data, NULL_TAU), f, indent=1, allow_nan=False)
    print(f'\nwrote {out}')
    return data


if __name__ == '__main__':
    main()
