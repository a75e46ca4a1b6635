"""CR-NAS on the Fashion-MNIST detection set: is the searched allocation stable, and better than the standard one?

1. **Search** (``configs/cr_nas/cr-nas_cr-r18-fpn_1x1_500it_fmnist-det.py``, unchanged apart from the seed): a
   CR-ResNet-18 supernet in mmdet's Faster R-CNN FPN trains on the ``train`` split; the 19 allocations of 8 blocks
   (1-3 per stage) within the FLOPs of (2, 2, 2, 2) ± 5 % are scored by COCO box mAP on the whole ``reward`` split
   (the arch-val, 500 images), then the greedy dilation search. One search per ``--search-seeds`` seed (the seed of
   the supernet's training and of its path sampling and scoring); the script reports whether the searches chose the
   same allocation and the same dilations, and Kendall's τ-b between their stage rankings. The ``test`` split is
   never read by a search.
2. **Retraining from scratch** with one schedule (``configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py``):
   ``standard``, that template as written (ResNet-18's (2, 2, 2, 2), dilation 1), and ``searched``, the
   ``cr_nas_final_config.py`` the first search seed exported (the template with the searched ``stage_blocks`` and
   ``dilations_per_block``), or ``--allocation`` / ``--dilations`` given explicitly (no search). Each arm trains for
   every ``--seeds`` seed; the one evaluation after the last epoch is on the **test** split (items of the official
   Fashion-MNIST test set only): box mAP and mAP_s / mAP_m / mAP_l (COCO's area ranges).
3. **FLOPs**: every arm's backbone counted by mmengine's ``FlopAnalyzer`` at the search's ``flops_input_shape``
   (dilation adds none; the neck and heads are the same in every arm); the arms count as equal-FLOPs when they
   differ by at most the search's ``flops_tolerance``.
4. **Goal** (issue #18): the searched arm's mean test mAP above the standard's by more than one standard deviation
   (the larger of the two arms' sample stds), and every search choosing the same allocation. Both are printed as
   met / NOT met (the first as not judged with fewer than 2 retraining seeds: one value has no std; the second
   with fewer than 2 ``--search-seeds``: one search has nothing to agree with).

The set is generated with ``tools/data/generate_fmnist_det.py``'s defaults into ``--data-root`` when it is missing.
Every run keeps its work dir under ``--work-dir`` (``search_s<seed>/``, ``<arm>_s<seed>/``, each with
``console.log``); ``--reuse`` reads finished runs from there instead of running them again (without it, a
``--work-dir`` that already holds one of the runs is refused before any work; with it, a finished run that was
trained with other settings than this invocation gives it is refused before any work, naming what differs).

Run: python benchmarks/cr_nas_fmnist_det.py [--search-seeds 0 1] [--seeds 0 1 2] [--jobs 2] [--out results.json]
Cost, measured with ``--jobs 2`` and ``OMP_NUM_THREADS=1`` on 2 cores: 38 minutes for the defaults. The two searches
side by side took 17 minutes, then three rounds of two retrainings took 6.5 minutes each.
Where OMP_NUM_THREADS is unset, each of the ``--jobs N`` runs gets cores // N threads (N: the runs of the phase that
start at once, at most ``--jobs``; at least 1; said once a phase on stderr: :func:`_options.threads_per_run`); a set
one is kept.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import (
    ROOT,
    UniqueValues,
    defined,
    ensure_fmnist_det,
    final_accuracy,
    mean_std,
    move_data_root,
    summary,
    train_command,
    unrounded_coco,
)
from _options import (
    OVERSUBSCRIBED_HELP,
    refuse_bad_counts,
    refuse_bad_parallelism,
    refuse_bad_seeds,
    threads_per_run,
)
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, merge_options
from automl_mm.engine.tool_args import CfgOptionsAction
from automl_mm.utils.io import strict_json

SEARCH_CONFIG = osp.join(ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_500it_fmnist-det.py')
RETRAIN_CONFIG = osp.join(ROOT, 'configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_1e_fmnist-det.py')
METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_s', 'coco/bbox_mAP_m', 'coco/bbox_mAP_l')
MIN_ARCH_VAL_IMAGES = 200
#: Search config keys read without a search (``--allocation``): the FLOPs comparison of the arms.
FLOPS_KEYS = ('train_cfg.flops_input_shape', 'train_cfg.flops_tolerance')
#: ``--train-options`` keys the benchmark sets after merging the options (the arms' one evaluation, on the test
#: split after the last epoch): given, they changed nothing.
SET_AFTER_MERGE = ('val_dataloader', 'val_evaluator', 'train_cfg.val_interval')


def _prepare(cfg: Config, args: argparse.Namespace, seed: int, options: dict | None) -> Config:
    """``cfg`` with ``seed``, ``--data-root``, local visualisation only and ``options`` merged (last)."""
    cfg.randomness = dict(seed=seed, deterministic=False)
    if args.data_root.rstrip('/') != cfg.data_root.rstrip('/'):
        move_data_root(cfg, args.data_root)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    if options:
        merge_options(cfg, options)  # refusing a top-level name that changes nothing (parse_args checked them)
    return cfg


def search_config(args: argparse.Namespace, seed: int) -> Config:
    """The search config for search seed ``seed`` (its ``retrain_config`` made absolute)."""
    cfg = _prepare(Config.fromfile(SEARCH_CONFIG), args, seed, args.search_options)
    cfg.train_cfg.retrain_config = osp.join(ROOT, cfg.train_cfg.retrain_config)
    return cfg


def arm_config(args: argparse.Namespace, arm: str, seed: int, source: str, backbone: dict | None = None) -> Config:
    """The retraining config of ``arm`` for ``seed``: ``source`` (the template or a search's export) with the
    ``backbone`` override, one evaluation after the last epoch on the test split."""
    cfg = Config.fromfile(source)
    if backbone:
        cfg.model.backbone.update(backbone)
    cfg = _prepare(cfg, args, seed, args.train_options)
    # the final number: test split, unrounded (mmdet's CocoMetric rounds to 3 decimals, printed here to 4)
    cfg.val_dataloader, cfg.val_evaluator = cfg.test_dataloader, unrounded_coco(cfg.test_evaluator)
    cfg.train_cfg.val_interval = cfg.train_cfg.max_epochs
    return cfg


def _run(cfg: Config, work_root: str, name: str, done, threads: dict[str, str] | None = None) -> str:
    """Train ``cfg`` as ``work_root/name`` with tools/train.py (console in ``console.log``) unless ``done(work)``
    (``--reuse``) says it already finished; returns the work dir. ``threads``: added to the run's environment
    (:func:`_options.threads_per_run`)."""
    argv, work, env = train_command(cfg, work_root, name)
    env.update(threads or {})
    if done is not None and done(work):
        print(f'{name}: reused {work}', flush=True)
        return work
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    with open(osp.join(work, 'console.log') if osp.isdir(work) else f'{work}.console.log', 'w') as f:
        f.write(proc.stdout + proc.stderr)
    if proc.returncode:
        raise RuntimeError(f'{name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return work


def _search_done(work: str) -> bool:
    return osp.isfile(osp.join(work, 'search', 'cr_nas_result.json'))


def _train_done(work: str) -> bool:
    try:
        final_accuracy(work, METRICS[0])
    except RuntimeError:
        return False
    return True


def read_search(work: str) -> dict:
    """The search's ``search/cr_nas_result.json`` and the path of its exported ``cr_nas_final_config.py``."""
    with open(osp.join(work, 'search', 'cr_nas_result.json')) as f:
        result = json.load(f)
    result['final_config'] = osp.join(work, 'search', 'cr_nas_final_config.py')
    return result


def agreement(searches: list[dict]) -> dict:
    """Whether every search chose the same ``stage_blocks`` and the same ``dilations_per_block``: both None with
    fewer than 2 searches (one search agrees with itself: ``--search-seeds 0`` printed the goal's stability as met,
    'same allocation in all 1 searches: yes', having compared nothing)."""
    if len(searches) < 2:
        return {'allocations_agree': None, 'dilations_agree': None}
    allocations = {tuple(s['stage_blocks']) for s in searches}
    dilations = {tuple(s['dilations_per_block']) for s in searches}
    return {'allocations_agree': len(allocations) == 1, 'dilations_agree': len(dilations) == 1}


def stability_text(agree: bool | None) -> str:
    """How the report prints the goal's stability half (:func:`agreement`'s ``allocations_agree``)."""
    return 'not judged (one search: nothing to compare)' if agree is None else 'yes' if agree else 'NO'


def ranking_agreement(searches: list[dict]) -> list[dict]:
    """Kendall's τ-b (``scipy.stats.kendalltau``) between the stage-search scores of every pair of searches, over
    the allocations both scored: whether the supernets *rank* the allocations alike, beyond the top one.

    τ-b is undefined (scipy returns NaN, which is not JSON) when a search scored every common allocation the same,
    or fewer than 2 allocations are common: that pair's ``kendall_tau`` is then None and its ``kendall_tau_undefined``
    says why.
    """
    from scipy.stats import kendalltau

    pairs = []
    for a, b in itertools.combinations(searches, 2):
        scores = [{tuple(e['stage_blocks']): e['score'] for e in s['stage_ranking']} for s in (a, b)]
        common = sorted(set(scores[0]) & set(scores[1]))
        sides = [[s[k] for k in common] for s in scores]
        tau = float(kendalltau(*sides).statistic) if len(common) > 1 else math.nan
        pair = {'seeds': [a['seed'], b['seed']], 'allocations': len(common)}
        if math.isfinite(tau):
            pairs.append(dict(pair, kendall_tau=tau))
            continue
        constant = [s['seed'] for s, side in zip((a, b), sides) if len(common) > 1 and len(set(side)) == 1]
        why = (f'fewer than 2 allocations scored by both searches ({len(common)})' if len(common) < 2 else
               f'search seed {" and ".join(map(str, constant))} scored all {len(common)} common allocations the same'
               if constant else 'scipy.stats.kendalltau returned NaN')
        pairs.append(dict(pair, kendall_tau=None, kendall_tau_undefined=why))
    return pairs


def tau_text(pair: dict) -> str:
    """How the report prints one :func:`ranking_agreement` pair's τ-b ('undefined (why)' where it is None)."""
    tau = pair['kendall_tau']
    return f'undefined ({pair["kendall_tau_undefined"]})' if tau is None else f'{tau:.2f}'


def backbone_gflops(cfg: Config, shape: tuple[int, int, int]) -> float:
    """GFLOPs of ``cfg.model.backbone`` built by mmdet's registry, counted by mmengine's ``FlopAnalyzer``."""
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    import automl_mm.models  # noqa: F401  (registers automl_mm.CRResNet)
    from automl_mm.nas.latency import count_flops

    with DefaultScope.overwrite_default_scope('mmdet'):
        backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    backbone.eval()
    return count_flops(backbone, (1, *shape)) / 1e9


def _arch_val_images(cfg: Config) -> int:
    with open(cfg.reward_evaluator.ann_file if osp.isabs(cfg.reward_evaluator.ann_file)
              else osp.join(ROOT, cfg.reward_evaluator.ann_file)) as f:
        return len(json.load(f)['images'])


def accuracy_goal(standard: list[float], searched: list[float]) -> dict:
    """The accuracy half of the goal: the searched arm's mean test box mAP above the standard's by more than the
    larger of the two arms' sample stds (``standard`` / ``searched``: one mAP per retraining seed).

    Returns:
        ``{'difference': searched mean - standard mean, 'larger_std', 'searched_above_by_more_than_1_std'}``; the
        last two are None when an arm has fewer than 2 seeds (one value has no std: a single seed would have met
        the goal by any positive difference against a std of 0); NaN values (undefined) are left out first, and
        all three are None when an arm has none left.
    """
    standard, searched = defined(standard), defined(searched)  # a COCO -1 (no ground truth) is no score
    if not standard or not searched:
        return {'difference': None, 'larger_std': None, 'searched_above_by_more_than_1_std': None}
    difference = statistics.mean(searched) - statistics.mean(standard)
    if min(len(standard), len(searched)) < 2:
        return {'difference': difference, 'larger_std': None, 'searched_above_by_more_than_1_std': None}
    margin = max(statistics.stdev(standard), statistics.stdev(searched))
    return {'difference': difference, 'larger_std': margin, 'searched_above_by_more_than_1_std': difference > margin}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--search-seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1],
                        help='one search per seed; the first one\'s export is the searched arm')
    parser.add_argument('--seeds', type=int, nargs='+', action=UniqueValues, default=[0, 1, 2],
                        help='retraining seeds of every arm')
    parser.add_argument('--allocation', type=int, nargs=4, default=None,
                        help='train this stage_blocks as the searched arm and skip the search')
    parser.add_argument('--dilations', type=int, nargs='+', default=None,
                        help='dilations_per_block of --allocation (default: 1 for every block)')
    parser.add_argument('--data-root', default='data/fmnist_det',
                        help='the detection set (relative to the repository); generated here when missing')
    parser.add_argument('--work-dir', default='work_dirs/cr_nas_fmnist_det', help='runs are kept here')
    parser.add_argument('--jobs', type=int, default=1,
                        help=f'runs at a time (searches, then retrainings), >= 1; {OVERSUBSCRIBED_HELP}')
    parser.add_argument('--reuse', action='store_true',
                        help='read finished runs in --work-dir instead of rerunning (one trained with other settings '
                             'is refused)')
    parser.add_argument('--search-options', nargs='+', action=CfgOptionsAction, default={},
                        help='key=value overrides of the search config (e.g. for a smoke run)')
    parser.add_argument('--train-options', nargs='+', action=CfgOptionsAction, default={},
                        help='key=value overrides of both arms\' retraining config (the same for both)')
    parser.add_argument('--out', default=None, help='write the results as JSON here')
    args = parser.parse_args(argv)
    refuse_bad_parallelism(parser, args, runs=('jobs', ))  # 0 and below ran one job at a time, silently
    refuse_bad_seeds(parser, args, ('search_seeds', 'seeds'))
    refuse_bad_counts(parser, args, at_least_1=('allocation', 'dilations'))  # else refused by the first run's model
    if args.dilations is not None and args.allocation is None:
        parser.error('--dilations needs --allocation')
    if args.allocation is not None and args.dilations is not None and len(args.dilations) != sum(args.allocation):
        parser.error(f'--dilations: {len(args.dilations)} values for the {sum(args.allocation)} blocks of '
                     f'--allocation {args.allocation}')
    check_options(parser, args)
    return args


def check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``parser.error`` (before any work) for an option that would change nothing: ``--search-seeds`` or a
    ``--search-options`` key other than :data:`FLOPS_KEYS` with ``--allocation`` (no search runs); a
    ``--train-options`` key the benchmark sets itself after the merge (:data:`SET_AFTER_MERGE`); a top-level name the
    config lacks and nothing reads, or one whose value the file had already written into its settings
    (``--train-options max_epochs=2``: the retraining config's ``train_cfg.max_epochs`` stayed 1;
    ``automl_mm.engine.preflight.merge_options``). A ``randomness.seed`` option is refused too: every seed's run
    would have had that one seed."""
    if args.allocation is not None:
        if args.search_seeds != parser.get_default('search_seeds'):
            parser.error(f'--search-seeds {" ".join(map(str, args.search_seeds))} is not read with --allocation (no '
                         'search runs): it would change nothing; leave it out')
        unread = [f'{k}={v!r}' for k, v in args.search_options.items() if k not in FLOPS_KEYS]
        if unread:
            parser.error(f'--search-options {" ".join(unread)} is not read with --allocation (no search runs; of the '
                         f'search config only {" and ".join(FLOPS_KEYS)} are read, for the FLOPs comparison): it would '
                         'change nothing; leave it out')
    for flag, options, source in (('--search-options', args.search_options, SEARCH_CONFIG),
                                  ('--train-options', args.train_options, RETRAIN_CONFIG)):
        for key, value in options.items():
            if key == 'randomness' or key.startswith('randomness.seed'):
                parser.error(f'{flag} {key}={value!r} would give every run this seed instead of its '
                             f'{"--search-seeds" if flag == "--search-options" else "--seeds"} seed (the runs of '
                             'different seeds would be the same run): leave it out and choose the seeds there')
            if flag == '--train-options' and any(key == k or key.startswith(k + '.') for k in SET_AFTER_MERGE):
                parser.error(f'{flag} {key}={value!r} is set by the benchmark after the options are merged (the arms '
                             'are evaluated once, on the test split after the last epoch: change test_dataloader / '
                             'test_evaluator instead): it would change nothing; leave it out')
        if options:
            try:
                merge_options(Config.fromfile(source), options)
            except ConfigCheckError as err:
                parser.error(str(err).replace('--cfg-options', flag))


def run_names(args: argparse.Namespace) -> list[str]:
    """The folders this invocation trains in ``--work-dir``: one per search seed (none with ``--allocation``), one per
    arm and retraining seed."""
    searches = [] if args.allocation is not None else [f'search_s{s}' for s in args.search_seeds]
    return searches + [f'{arm}_s{seed}' for seed in args.seeds for arm in ('standard', 'searched')]


def check_work_root(args: argparse.Namespace, work_root: str) -> None:
    """Without ``--reuse``, refuse before any work a ``--work-dir`` that already holds one of this invocation's runs:
    training again into it would leave two runs in one folder (and the search result of the new one beside the
    old one's logs).

    Raises:
        FileExistsError: naming the runs found.
    """
    if args.reuse:
        return
    taken = [name for name in run_names(args) if osp.exists(osp.join(work_root, name))]
    if taken:
        raise FileExistsError(f'--work-dir {work_root} already holds {", ".join(taken)}: pass --reuse to read the '
                              'finished ones (and rerun the others), or choose another --work-dir (nothing was '
                              'overwritten)')


def _flat(value, prefix: str = '') -> dict:
    """``{'a.b': leaf}`` of a config dict, lists and tuples alike (a dumped config reads its tuples back as
    lists)."""
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in _flat(sub, f'{prefix}{key}.').items()}
    return {prefix[:-1]: _plain(value)}


def _plain(value):
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _plain(v)) for key, v in value.items()))
    return value


def config_differences(trained: str, cfg: Config) -> list[str]:
    """The keys in which ``cfg`` differs from the config file ``trained`` (``key A there, B here``), both read as a
    dumped file is read back."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg.dump(osp.join(tmp, 'here.py'))
        here = _flat(Config.fromfile(osp.join(tmp, 'here.py')).to_dict())
    there = _flat(Config.fromfile(trained).to_dict())
    return [f'{key} {there.get(key, "(not set)")} there, {here.get(key, "(not set)")} here'
            for key in sorted(set(there) | set(here)) if there.get(key) != here.get(key)]


def check_reuse(args: argparse.Namespace, work_root: str) -> None:
    """With ``--reuse``, refuse before any work a finished run in ``work_root`` that was trained with other settings
    than this invocation gives it (the config the benchmark dumped for it, ``work_root/<run>.py``, against the one
    it would run now: other ``--train-options``, ``--search-options``, ``--data-root`` or ``--allocation``): its
    mAP was averaged with this invocation's runs, and a search's choice reported, as one experiment. A finished
    searched-arm retraining whose search (the first of ``--search-seeds``) is not finished was trained from another
    search's allocation: refused too.

    Raises:
        SystemExit: naming the run, and the keys that differ with both values.
    """
    if not args.reuse:
        return
    first_search = osp.join(work_root, f'search_s{args.search_seeds[0]}')
    source = RETRAIN_CONFIG
    if args.allocation is None and _search_done(first_search):
        source = read_search(first_search)['final_config']
    backbone = None if args.allocation is None else dict(stage_blocks=tuple(args.allocation), dilations_per_block=tuple(
        args.dilations or [1] * sum(args.allocation)))
    problems = []
    for name in run_names(args):
        work, kind, seed = osp.join(work_root, name), *name.rsplit('_s', 1)
        if not (_search_done(work) if kind == 'search' else _train_done(work)):
            continue  # trained by this invocation
        if kind == 'searched' and args.allocation is None and source == RETRAIN_CONFIG:
            problems.append(f'{name} is finished but {osp.basename(first_search)} is not: it was trained from '
                            'another search\'s allocation')
            continue
        cfg = (search_config(args, int(seed)) if kind == 'search' else
               arm_config(args, kind, int(seed), source if kind == 'searched' else RETRAIN_CONFIG,
                          backbone if kind == 'searched' else None))
        trained = osp.join(work_root, f'{name}.py')
        if not osp.isfile(trained):
            problems.append(f'{name} has no {name}.py beside it: which settings it was trained with is unknown')
            continue
        differ = config_differences(trained, cfg)
        if differ:
            problems.append(f'{name} was trained with other settings than this invocation gives it: '
                            + '; '.join(differ[:6]) + (f'; and {len(differ) - 6} more' if len(differ) > 6 else ''))
    if problems:
        raise SystemExit(f'cr_nas_fmnist_det.py --reuse: in --work-dir {work_root}, ' + '. '.join(problems)
                         + '. Their results would be averaged or reported with this invocation\'s as one experiment: '
                         'give the options they ran with, or move them away (nothing was run)')


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    work_root = args.work_dir if osp.isabs(args.work_dir) else osp.join(ROOT, args.work_dir)
    check_work_root(args, work_root)
    check_reuse(args, work_root)
    ensure_fmnist_det(args.data_root)
    os.makedirs(work_root, exist_ok=True)
    pool = ThreadPoolExecutor(args.jobs)
    report: dict = {'search_config': osp.relpath(SEARCH_CONFIG, ROOT), 'retrain_config': osp.relpath(RETRAIN_CONFIG,
                                                                                                       ROOT)}
    probe = search_config(args, 0)
    shape = tuple(probe.train_cfg.flops_input_shape)
    tolerance = float(probe.train_cfg.flops_tolerance)
    report['arch_val_images'] = _arch_val_images(probe)
    print(f'CR-NAS CR-ResNet-18 Faster R-CNN FPN on the Fashion-MNIST detection set ({args.data_root}); arch-val: '
          f'the reward split, {report["arch_val_images"]} images', flush=True)
    if report['arch_val_images'] < MIN_ARCH_VAL_IMAGES:
        print(f'WARNING: fewer than {MIN_ARCH_VAL_IMAGES} arch-val images: a smoke run, not evidence', flush=True)

    # 1. searches
    searched_backbone: dict
    if args.allocation is None:
        # torch's default per run: --jobs x cores threads on the cores; split by the searches that start at once
        threads = threads_per_run(min(args.jobs, len(args.search_seeds)), what='searches')
        jobs = [pool.submit(_run, search_config(args, s), work_root, f'search_s{s}', _search_done if args.reuse
                            else None, threads) for s in args.search_seeds]
        searches = [dict(read_search(job.result()), seed=s) for s, job in zip(args.search_seeds, jobs)]
        for s in searches:
            ranking = [e['stage_blocks'] for e in s['stage_ranking']]
            s['reference_rank'] = ranking.index(s['reference_allocation']) + 1 \
                if s['reference_allocation'] in ranking else None
            score = s.get('stage_search_score')
            print(f'search seed {s["seed"]}: stage_blocks {s["stage_blocks"]} dilations {s["dilations_per_block"]} '
                  f'(arch-val mAP {score if score is None else format(score, ".4f")} in the stage search, the '
                  f'reference {s["reference_allocation"]} ranked {s["reference_rank"]} of {len(ranking)}; '
                  f'{s["backbone_gflops"]:.4f} GFLOPs vs reference {s["reference_gflops"]:.4f})', flush=True)
        report['searches'] = [{k: s[k] for k in ('seed', 'stage_blocks', 'dilations_per_block', 'stage_search_score',
                                                 'spatial_search_score', 'backbone_gflops', 'reference_rank',
                                                 'stage_ranking')} for s in searches]
        report.update(agreement(searches))
        report['ranking_agreement'] = ranking_agreement(searches)
        if len(searches) > 1:
            print(f'{len(searches)} searches: allocations {"agree" if report["allocations_agree"] else "DIFFER"}, '
                  f'dilations {"agree" if report["dilations_agree"] else "DIFFER"}; Kendall tau-b of the stage '
                  'rankings: ' + ', '.join(f'seeds {p["seeds"][0]}/{p["seeds"][1]} {tau_text(p)} over '
                                           f'{p["allocations"]}' for p in report['ranking_agreement']), flush=True)
        searched_source, searched_backbone = searches[0]['final_config'], {}
    else:
        dilations = args.dilations or [1] * sum(args.allocation)
        searched_source = RETRAIN_CONFIG
        searched_backbone = dict(stage_blocks=tuple(args.allocation), dilations_per_block=tuple(dilations))
        print(f'searched arm given: stage_blocks {args.allocation} dilations {dilations} (no search)', flush=True)

    # 2. FLOPs
    arms = {'standard': (RETRAIN_CONFIG, {}), 'searched': (searched_source, searched_backbone)}
    report['arms'] = {}
    for arm, (source, backbone) in arms.items():
        cfg = arm_config(args, arm, 0, source, backbone)
        report['arms'][arm] = {'stage_blocks': list(cfg.model.backbone.stage_blocks),
                               'dilations_per_block': list(cfg.model.backbone.get('dilations_per_block') or
                                                           [1] * sum(cfg.model.backbone.stage_blocks)),
                               'backbone_gflops': backbone_gflops(cfg, shape), 'runs': []}
    standard, searched = (report['arms'][a]['backbone_gflops'] for a in ('standard', 'searched'))
    report['flops_ratio'] = searched / standard
    report['equal_flops'] = abs(report['flops_ratio'] - 1) <= tolerance
    print(f'backbone FLOPs at {shape} (mmengine FlopAnalyzer): standard {standard:.4f} G, searched {searched:.4f} G '
          f'(ratio {report["flops_ratio"]:.4f}: {"equal" if report["equal_flops"] else "NOT equal"} within the '
          f'search\'s flops_tolerance {tolerance:.0%})', flush=True)

    # 3. retraining from scratch, same schedule
    threads = threads_per_run(min(args.jobs, len(arms) * len(args.seeds)), what='retrainings')
    jobs = {(arm, seed): pool.submit(_run, arm_config(args, arm, seed, *arms[arm]), work_root, f'{arm}_s{seed}',
                                     _train_done if args.reuse else None, threads)
            for seed in args.seeds for arm in arms}
    for (arm, seed), job in jobs.items():
        work = job.result()
        run = {'seed': seed, **{key.split('/')[1]: final_accuracy(work, key) for key in METRICS}}
        report['arms'][arm]['runs'].append(run)
        print(f'seed {seed} {arm:8s} test bbox mAP {run["bbox_mAP"]:.4f} | mAP_s/m/l {run["bbox_mAP_s"]:.4f} / '
              f'{run["bbox_mAP_m"]:.4f} / {run["bbox_mAP_l"]:.4f}', flush=True)
    pool.shutdown()

    print(f'\n{len(args.seeds)} seeds, test split (mean ± std):')
    print(f'{"arm":8s} {"stage_blocks":14s} {"bbox_mAP":17s} {"mAP_s":17s} {"mAP_m":17s} {"mAP_l":17s}')
    for arm, entry in report['arms'].items():
        for key in METRICS:
            name = key.split('/')[1]
            entry[name] = summary([r[name] for r in entry['runs']])
        cells = [mean_std([r[key.split('/')[1]] for r in entry['runs']], '.4f') for key in METRICS]
        print(f'{arm:8s} {str(tuple(entry["stage_blocks"])):14s} ' + ' '.join(f'{c:17s}' for c in cells))
    report['goal'] = dict(accuracy_goal([r['bbox_mAP'] for r in report['arms']['standard']['runs']],
                                        [r['bbox_mAP'] for r in report['arms']['searched']['runs']]),
                          stable_choice=report.get('allocations_agree'))
    met, margin = report['goal']['searched_above_by_more_than_1_std'], report['goal']['larger_std']
    verdict = ('not judged (fewer than 2 seeds with a defined mAP per arm: no std)' if met is None else 'met' if met
               else 'NOT met')
    difference = report['goal']['difference']
    print(f'searched - standard: {"n/a" if difference is None else f"{difference:+.4f}"} mAP (larger std '
          f'{"-" if margin is None else f"{margin:.4f}"}): goal "above by more than 1 std" {verdict}'
          + ('' if args.allocation is not None else f'; same allocation in all {len(args.search_seeds)} searches '
             f'(the goal\'s stability; dilations above): {stability_text(report["allocations_agree"])}'),
          flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(strict_json(report, why='an AP of an area range without objects in the split (COCO\'s -1, '
                                  'read as NaN) or a statistic of fewer than 2 values'), f, indent=1,
                      allow_nan=False)
        print(f'results: {args.out}')
    return report


if __name__ == '__main__':
    main()
