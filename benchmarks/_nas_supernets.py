"""Shared supernet training and scoring of the NAS ranking benchmarks (``pc_nas_kendall_digits.py``,
``pc_nas_ranking_fmnist.py``): several quiet mmengine runners in one process, a single-path supernet trained with
``PathSamplingHook`` (any path sampler), PC-NAS with its phases scaled to a total budget, and the inherited-weight
score of every architecture (BN statistics re-estimated per path, as the PC-NAS configs do).
"""
from __future__ import annotations

import statistics
import time

from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine.evaluate import HeldOutEvaluator, build_local_loader
from automl_mm.nas import LayerwiseSpace, PathEvaluator
from automl_mm.utils.metric_rule import infer_rule, rule_sign

METRIC = 'accuracy/top1'
#: Whether a higher or a lower ``METRIC`` is better (:func:`~automl_mm.utils.metric_rule.infer_rule`): the
#: benchmarks pick, rank and compare estimates and stand-alone scores by it, never by an assumed "higher".
METRIC_RULE = infer_rule(METRIC)


def best_of(items, score, rule: str = METRIC_RULE):
    """The item of the best ``score(item)`` under ``rule`` (the highest, or the lowest under ``'less'``); ties: the
    first in ``items``' order."""
    sign = rule_sign(rule)
    return max(enumerate(items), key=lambda item: (sign * score(item[1]), -item[0]))[1]


def quiet_cfg(cfg: Config, work_dir: str, name: str, seed: int, iters: int) -> Config:
    """Common overrides: seed, work dir, unique runner names (several runners in one process), no checkpoints."""
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.experiment_name = name  # the logger, message hub and visualizer are singletons keyed by name
    cfg.visualizer = dict(type='Visualizer', name=name, vis_backends=[dict(type='LocalVisBackend')])
    cfg.log_level = 'WARNING'
    cfg.log_processor = dict(type='LogProcessor', window_size=10, by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=10**9, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(iters // 4, 1))
    cfg.launcher = 'none'
    return cfg


def iter_train_cfg(cfg: Config, iters: int) -> None:
    """A plain ``IterBasedTrainLoop`` of ``iters`` iterations without validation (the benchmarks evaluate)."""
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=10**9)


def supernet_cfg(config: str, seed: int, work_dir: str, name: str, iters: int) -> Config:
    """A PC-NAS search config set up quietly for ``iters`` iterations (its cosine schedule over all of them)."""
    cfg = Config.fromfile(config)
    quiet_cfg(cfg, f'{work_dir}/{name}', name, seed, iters)
    cfg.param_scheduler[0].T_max = iters
    return cfg


def estimate_all(runner: Runner, cfg: Config, paths: list[tuple], bn_batches: int,
                 evaluator: dict | None = None) -> list[float]:
    """Reward-split top-1 (%) of every path with the runner's supernet weights (BN re-estimated per path on the
    first ``bn_batches`` training batches, drawn once: the same augmented images for every path). ``evaluator``:
    default ``cfg.val_evaluator``."""
    space = LayerwiseSpace()
    space.bind(runner.model)
    evaluator_key = 'val_evaluator' if evaluator is None else 'estimate_all.evaluator'
    held_out = HeldOutEvaluator('reward', METRIC, 'estimate_all', cfg.reward_dataloader,
                                cfg.val_evaluator if evaluator is None else evaluator, 'reward_dataloader',
                                evaluator_key).build(runner)
    evaluate = PathEvaluator(runner.model, space, held_out, bn_batches=bn_batches,
                             bn_loader=build_local_loader(cfg.train_dataloader, 'train_dataloader', 'train'),
                             bn_seed=runner.seed or 0, rule=METRIC_RULE)
    return [evaluate(path) for path in paths]


def train_path_sampling(cfg: Config, iters: int, paths: list[tuple], bn_batches: int, sampler: dict | None = None,
                        evaluator: dict | None = None) -> dict:
    """Train the supernet of ``cfg`` for ``iters`` iterations with ``PathSamplingHook`` (``sampler``: default
    uniform single paths, SPOS) under mmengine's ``IterBasedTrainLoop``; every path's inherited-weight estimate,
    and the wall / CPU seconds of training (``train_time``) and of scoring the paths (``score_time``)."""
    iter_train_cfg(cfg, iters)
    hook = dict(type='PathSamplingHook', space=dict(type='LayerwiseSpace'))
    if sampler is not None:
        hook['sampler'] = sampler
    cfg.custom_hooks = [hook]
    clock = _Clock()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train = clock.lap()
    estimates = estimate_all(runner, cfg, paths, bn_batches, evaluator)
    return {'estimates': estimates, 'train_time': train, 'score_time': clock.lap()}


def train_pc_nas(cfg: Config, iters: int, num_layers: int, retrain_config: str, paths: list[tuple],
                 bn_batches: int, evaluator: dict | None = None) -> dict:
    """Run the PC-NAS search of ``cfg`` in ``iters`` iterations, keeping its warm-up : stage ratio (warm-up
    ``iters - num_layers * stage``); the final pool, every path's inherited-weight estimate afterwards, and the
    seconds of the search (``train_time``: training and the search's own scoring) and of scoring the paths.

    The search re-estimates BN on ``bn_batches`` batches too (``train_cfg.bn_recalibration_batches``), in its
    potentials and for its pick, as the estimates do. It kept the config's 4 under ``pc_nas_kendall_digits.py
    --bn-batches 0``: its potentials were read with re-estimated statistics, and the pick's statistics, which the
    search leaves in the supernet's shared layers (stem, final convolution), were in every PC-NAS estimate, while
    the uniform supernet's estimates read its own."""
    cfg.train_cfg.bn_recalibration_batches = bn_batches
    base = cfg.train_cfg
    ratio = base.warmup_iters / (base.warmup_iters + num_layers * base.stage_iters)
    stage = int(round(iters * (1 - ratio) / num_layers))
    cfg.train_cfg.stage_iters = stage
    cfg.train_cfg.warmup_iters = iters - num_layers * stage
    cfg.train_cfg.retrain_config = retrain_config
    clock = _Clock()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train = clock.lap()
    loop = runner.train_loop
    pool = [{'path': list(r['path']), 'arch': r['arch'], 'potential': r['potential']} for r in loop.results]
    estimates = estimate_all(runner, cfg, paths, bn_batches, evaluator)
    return {'estimates': estimates, 'final_pool': pool, 'warmup_iters': cfg.train_cfg.warmup_iters,
            'stage_iters': stage, 'train_time': train, 'score_time': clock.lap()}


class _Clock:
    """Wall and CPU seconds (this process) since the last lap: CPU time is what a busy shared machine distorts
    least."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> dict:
        wall, cpu = time.perf_counter(), time.process_time()
        out = {'wall_s': round(wall - self.wall, 1), 'cpu_s': round(cpu - self.cpu, 1)}
        self.wall, self.cpu = wall, cpu
        return out


def mean_std(values: list[float | None], digits: int = 3) -> str:
    """``'mean ± std'`` (the sample std, n - 1) of the measured values (None: not measured, NaN: undefined, both
    left out, and then said: ``' (n=2 of 3)'``; the line's "over 3 seeds" was a mean over 2); ``'n/a'`` if none was
    measured, and as the std of one value (it printed ``± 0.000``, a spread that looked measured)."""
    kept = [v for v in values if v is not None and v == v]
    if not kept:
        return 'n/a'
    std = f'{statistics.stdev(kept):.{digits}f}' if len(kept) > 1 else 'n/a'
    n = '' if len(kept) == len(values) else f' (n={len(kept)} of {len(values)})'
    return f'{statistics.mean(kept):.{digits}f} ± {std}{n}'
