"""The base of the one-shot search loops: supernet training phases with sampled paths, scoring steps, resume.

A search loop is an mmengine ``IterBasedTrainLoop`` whose ``run`` alternates

* training phases: before each iteration a path is drawn by a path sampler from a generator seeded by
  ``(seed, iteration)`` — the same path on every rank without communication — and applied to the supernet;
* search steps of a :class:`~automl_mm.nas.beam.PartialArchitecturePool`: candidates are scored with inherited
  weights (split across ranks), with progress and ETA in the log and a checkpoint every
  ``checkpoint_interval_s`` seconds.

The search state (pools, finished scores, results) is saved in every checkpoint under ``'nas_search'`` and restored
by ``--resume``: a run killed in a scoring pass resumes without re-scoring finished candidates. Each rank loads its
own copy of the checkpoint; ranks that restored different states are refused together, naming each one's file. The
hook that carries it, :class:`~automl_mm.nas.search_state._SearchStateHook`, lives in
:mod:`~automl_mm.nas.search_state`.

The loops' setting checks (:mod:`~automl_mm.nas.search_checks`), the retrain-config export
(:mod:`~automl_mm.nas.retrain_export`), the log helpers (:mod:`~automl_mm.nas.search_log`) and the search-state hook
(:mod:`~automl_mm.nas.search_state`) are still importable from here, their former home. What a resume refuses (a
partly scored step under other scoring settings, phase lengths that do not fit the checkpoint's position or move a
scored step) is checked by :class:`~automl_mm.nas.resume_checks.SearchResumeChecks`, a base of
:class:`SearchLoopBase`; what the loops write (search checkpoints, result files, the exported final config) and how a
search ends (:meth:`~automl_mm.nas.search_outputs.SearchOutputs.finish`) by
:class:`~automl_mm.nas.search_outputs.SearchOutputs`, another.
"""
from __future__ import annotations

import math
import os.path as osp
import time
from collections.abc import Callable

from mmengine.dist import broadcast_object_list, get_world_size
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from torch import nn

from automl_mm.engine.evaluate import HeldOutEvaluator, build_local_loader, first_configured, fixed_batches
from automl_mm.engine.local_loader import per_epoch_items
from automl_mm.engine.rank_failures import stopping_together
from automl_mm.engine.run_info import run_seed
from automl_mm.engine.runner_checks import checked_config
from automl_mm.ohl.sync import broadcast_buffers_
from automl_mm.utils.checks import (
    as_count,
    loader_setting,
    plain_config,
    resolve_config_paths,
)
from automl_mm.utils.metric_rule import resolve_rule
from automl_mm.utils.seeding import as_seed
from automl_mm.utils.wording import a_type

from .accumulation import check_checkpoint_accumulation
from .base import BasePathSampler, BasePathSpace, drawn_path
from .beam import PartialArchitecturePool, score_step
from .resume_checks import SearchResumeChecks
from .retrain_export import (  # noqa: F401
    check_retrain_backbone,
    check_retrain_config,
    recheck_retrain_config,
    resolved_config_text,
    retrain_config_text,
    retrain_copy_name,
)
from .samplers import UniformPathSampler, path_rng
from .scoring import PathEvaluator, candidate_scorer, check_batches_per_sample, new_readings
from .search_checks import (  # noqa: F401
    check_no_path_sampling_hook,
    check_no_sync_bn,
    check_schedule_span,
    check_scoring_counts,
)
from .search_log import format_table, score_text, unscored_reasons, warn  # noqa: F401
from .search_outputs import SearchOutputs
from .search_state import _SearchStateHook  # also named here: automl_mm.nas.loop._SearchStateHook

#: The :meth:`SearchLoopBase.scoring_settings` key of the world size, recorded with BN re-estimation under
#: ``train_dataloader.num_batch_per_epoch``: the set its batches are drawn from is the ``num_batch_per_epoch ×
#: batch_size × world size`` items training reads, other images on another number of ranks unless that slice holds
#: the whole set on both (:meth:`SearchLoopBase.bn_pool_items`).
BN_POOL_RANKS = 'world size'


def score_threshold_keys(model_cfg, prefix: str = 'model') -> list[str]:
    """Every ``score_thr`` under a model config's ``test_cfg`` entries, as ``'<key>=<value>'``.

    A detector scores only the boxes above these thresholds (mmdet's two-stage ``test_cfg.rcnn.score_thr=0.05``,
    RetinaNet's ``test_cfg.score_thr``); a supernet trained from scratch for a few iterations has none above
    them, and a search step whose every candidate gave no metrics names these keys as one thing to change.

    Args:
        model_cfg: The config's ``model`` (a dict or ConfigDict; anything else gives no keys).
        prefix: The key of ``model_cfg`` in the config.

    Returns:
        The thresholds' full keys with their values, e.g. ``['model.test_cfg.rcnn.score_thr=0.05']``; empty for a
        classifier.
    """
    found = []

    def walk(node, key: str, in_test_cfg: bool) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if in_test_cfg and k == 'score_thr' and isinstance(v, (int, float)):
                    found.append(f'{key}.{k}={v!r}')
                else:
                    walk(v, f'{key}.{k}', in_test_cfg or k == 'test_cfg')

    walk(model_cfg, prefix, False)
    return found


def _empty_step_advice(loop, trained_by: str) -> str:
    """What to change when no candidate of a search step gave metrics: the training length's keys (``trained_by``),
    the model's score thresholds (of the model the runner runs), the search split and evaluator."""
    from automl_mm.engine.run_info import run_config

    cfg = run_config(getattr(loop, 'runner', None))
    thresholds = score_threshold_keys(cfg.get('model')) if cfg is not None else []
    longer = f'train the supernet longer ({trained_by})' if trained_by else 'train the supernet longer'
    lower = f', lower the model\'s score threshold ({", ".join(thresholds)}, e.g. to 0.0 with --cfg-options)' \
        if thresholds else ''
    return f'{longer}{lower}, or check the search split and search_evaluator'


def _missed_named(missed: dict[int, list[tuple]], samples: list[int], describe: Callable[[tuple], str]) -> str:
    """Which candidates missed the first of ``samples`` (sample index -> candidates whose draw found no completion),
    in words, for :meth:`SearchLoopBase.run_step`'s warning and refusal."""
    who = missed[samples[0]]
    more = f' and {len(who) - 1} more' if len(who) > 1 else ''
    return (f'e.g. sample {samples[0]} for {describe(who[0])}{more}, whose draw found no completion within the '
            'cost limit in the completion sampler\'s max_tries draws')


def share_rank0_statistics(model: nn.Module) -> None:
    """Give every rank rank 0's buffers of the supernet (BatchNorm running statistics), in place; nothing in a
    single process. Every rank must call it.

    mmengine wraps the supernet in ``MMDistributedDataParallel(broadcast_buffers=False)``: the parameters agree
    across ranks, but each rank's running statistics are those of its own shard of the training batches. A search
    step deals its candidates across the ranks (:func:`~automl_mm.nas.beam.score_step`): without BN re-estimation
    a candidate's score depended on which rank scored it (a 2-rank search kept the candidate that rank 1's
    statistics favoured), and the final validation scored each rank's shard of the split with that rank's
    statistics; the checkpoints hold rank 0's, which a resumed search also loads on every rank.
    """
    broadcast_buffers_(model.module if is_model_wrapper(model) else model, 0)


class SearchLoopBase(SearchResumeChecks, SearchOutputs, IterBasedTrainLoop):
    """Shared machinery of ``PCNASLoop`` and ``CRNASLoop``.

    Args:
        runner: The mmengine runner.
        dataloader: The supernet's training dataloader (config or object).
        max_iters: Total supernet training iterations over all phases.
        search_dataloader: The split candidates are scored on (arch-val / reward split); defaults to the config's
            ``search_dataloader`` or ``reward_dataloader`` (never ``val_dataloader``; the chain of
            :func:`~automl_mm.engine.evaluate.held_out_keys`). Every rank reads all of it, in order.
        search_evaluator: Metrics for scoring; defaults to ``search_evaluator``, ``reward_evaluator`` or
            ``val_evaluator`` of the config.
        metric_key: The search-split metric that scores candidates.
        metric_rule: ``'greater'`` (a higher ``metric_key`` is better), ``'less'`` (lower is better: an error, a
            loss, a distance) or ``None`` (default: inferred from ``metric_key`` as mmengine's
            ``CheckpointHook(save_best=..., rule=None)`` infers it, plus lower-is-better names such as ``mae``,
            ``mse``, ``EPE``, ``NME``, ``FID``, ``nll``, ``wer``, ``cer``, ``error``:
            :func:`~automl_mm.utils.metric_rule.infer_rule`; a key matching none is ``'greater'``). Under
            ``'less'`` the pools keep the candidates of the lowest score; logs and results record the score as
            measured, with the rule. A resume with another rule is refused.
        bn_recalibration_batches: Training batches used to re-estimate BN statistics for each scored path.
        checkpoint_interval_s: Save a checkpoint during scoring at most this often (and after every step).
        seed: Seed of path sampling and candidate scoring; defaults to the run's seed (rank 0's, also under
            ``randomness.diff_rank_seed``); saved in checkpoints, so a resume continues with it (a non-negative
            int; one configured differently from the checkpoint's is refused).
        out_dir: Folder under ``work_dir`` for results.
    """

    #: Keys of :meth:`search_state_dict` that checkpoints of an earlier version lack (its loader reads them with a
    #: default); a resume refuses a checkpoint that lacks any other key (the state of another search loop).
    optional_search_state_keys: tuple[str, ...] = ()

    def __init__(self, runner, dataloader, max_iters: int, search_dataloader: dict | None = None,
                 search_evaluator: dict | list | None = None, metric_key: str = 'accuracy/top1',
                 bn_recalibration_batches: int = 0, checkpoint_interval_s: float = 300.0, seed: int | None = None,
                 out_dir: str = 'search', metric_rule: str | None = None) -> None:
        self.metric_rule = resolve_rule(metric_rule, metric_key, 'train_cfg.metric_rule', 'train_cfg.metric_key')
        # before building the dataloader; the hooks and wrapper the runner runs (its arguments, not only its cfg)
        check_checkpoint_accumulation(checked_config(runner))
        check_no_path_sampling_hook(runner, type(self).__name__)
        super().__init__(runner, dataloader, max_iters=max(int(max_iters), 1), val_interval=10**12)
        self.metric_key = metric_key
        self.bn_recalibration_batches = as_count(bn_recalibration_batches, 'train_cfg.bn_recalibration_batches')
        if self.bn_recalibration_batches:
            check_no_sync_bn(runner.model, get_world_size())
            if not isinstance(checked_config(runner).get('train_dataloader'), dict):
                # a built DataLoader (no config to read the set from in order): it failed at the first search step
                raise ValueError(f'train_cfg.bn_recalibration_batches={self.bn_recalibration_batches} re-estimates BN '
                                 'on batches read from the train_dataloader config, but the runner was given '
                                 f'{a_type(dataloader)}, not a config: give train_dataloader as a dict, or '
                                 'bn_recalibration_batches=0')
        if isinstance(checkpoint_interval_s, bool) or not isinstance(checkpoint_interval_s, (int, float)) \
                or not checkpoint_interval_s >= 0:
            # NaN never saved during a scoring pass (a kill lost every finished score), 'abc' failed in float()
            raise ValueError(f'train_cfg.checkpoint_interval_s must be a number of seconds >= 0 (0: after every '
                             f'round of candidates, inf: only after each step), got {checkpoint_interval_s!r}')
        self.checkpoint_interval_s = float(checkpoint_interval_s)
        self._configured_seed = as_seed(seed, 'train_cfg.seed', allow_none=True)  # checked again on resume
        # unset: the run's seed, rank 0's (every rank must draw the same paths)
        self.seed = run_seed(runner) if self._configured_seed is None else self._configured_seed
        self.out_dir = osp.join(runner.work_dir, out_dir)
        self.held_out = HeldOutEvaluator('search', metric_key, type(self).__name__, search_dataloader,
                                         search_evaluator, 'train_cfg.search_dataloader',
                                         'train_cfg.search_evaluator', 'train_cfg.metric_key')
        self._bn_batches: list | None = None  # BN re-estimation batches (_bn_loader)
        # what each space's evaluator has read (scoring.new_readings), by the space's class: kept in the search state
        self.readings: dict[str, dict] = {}
        self._advanced = False
        self._last_save = time.time()
        self._last_search_ckpt: str | None = None
        self._final_architecture: list | None = None  # set by finish()
        runner.register_hook(_SearchStateHook(self))

    def agreed_start_checks(self, what: str):
        """A context in which start checks run whose outcome can differ across ranks, agreed on when it ends
        (:func:`~automl_mm.engine.rank_failures.stopping_together` over the world): each rank reads its own files
        (the retrain config, the latency table, the search split, its checkpoint, relative paths from its own
        working directory; node-local copies), so one rank could refuse alone and leave the others waiting in the
        next collective until the process group's timeout. Now a refusal on one rank stops every rank there: that
        rank raises its error, the others a :class:`~automl_mm.engine.rank_failures.RankFailure` naming it. Every
        rank must enter it; the block must hold no collective. Nothing changes in a single process.

        Args:
            what: The checks, named in the other ranks' error after the loop's class name.
        """
        return stopping_together(f'{type(self).__name__}: {what}')

    # --- state ------------------------------------------------------------------------------------------------
    def search_state_dict(self) -> dict:
        raise NotImplementedError

    def load_search_state_dict(self, state: dict) -> None:
        raise NotImplementedError

    def architecture_calls(self) -> list[list]:
        """The supernet setter calls that select the architecture the model runs now, ``[[method, argument], ...]``
        (:func:`~automl_mm.nas.final_architecture.architecture_calls`), saved in the final checkpoint."""
        raise NotImplementedError

    def search_pools(self) -> list[PartialArchitecturePool]:
        """The loop's partial-architecture pools (whose current step may hold finished candidates' scores)."""
        raise NotImplementedError

    def scoring_settings(self) -> dict:
        """What a candidate's score depends on, by config key: the ``train_cfg`` settings (subclasses add theirs:
        completions per candidate, mini-batches per completion, cost limits), the search split's loader and
        metrics as resolved (:class:`~automl_mm.engine.evaluate.HeldOutEvaluator`), and with BN re-estimation the
        training loader its batches come from (and, under its ``num_batch_per_epoch``, the world size:
        :data:`BN_POOL_RANKS`). Saved with the search state; loaders without the settings that only
        say how to load (workers, pinning), which do not change a score. Paths are saved resolved (absolute, as read
        from this working directory), so a resume compares the files read, not how the config spells them."""
        cfg, held = checked_config(self.runner), self.held_out  # what the runner runs (val_evaluator, loaders)
        loader_cfg, loader_key = first_configured(cfg, held.dataloader_cfg, held.dataloader_key, held.loader_keys)
        metrics_cfg, metrics_key = first_configured(cfg, held.evaluator_cfg, held.evaluator_key, held.evaluator_keys)
        settings = {'train_cfg.metric_key': self.metric_key, 'train_cfg.metric_rule': self.metric_rule,
                    'train_cfg.bn_recalibration_batches': self.bn_recalibration_batches,
                    loader_key or 'train_cfg.search_dataloader': loader_setting(loader_cfg),
                    metrics_key or 'train_cfg.search_evaluator': resolve_config_paths(plain_config(metrics_cfg))}
        if self.bn_recalibration_batches:
            train = cfg.get('train_dataloader')
            settings['train_dataloader'] = loader_setting(train)
            if isinstance(train, dict) and train.get('num_batch_per_epoch') is not None:
                # the BN batches are drawn from the num_batch_per_epoch x batch_size x world size items training
                # reads (_bn_loader): on another number of ranks, from other images
                settings[BN_POOL_RANKS] = get_world_size()
        return settings

    def bn_pool_items(self, world_size: int) -> tuple[int, int] | None:
        """``(items, set size)``: how many items of the training set BN re-estimation draws its batches from on
        ``world_size`` ranks under ``train_dataloader.num_batch_per_epoch`` (the ``num_batch_per_epoch × batch_size ×
        world_size`` first items mmengine's ``Runner.build_dataloader`` keeps, at most the set: :meth:`_bn_loader`),
        and how many the set holds; ``None`` without ``num_batch_per_epoch`` or where the set's size is not known
        (a ``world_size`` that is not an int, a loader without a sized dataset). Two world sizes draw from the same
        images exactly where both keep the whole set."""
        from mmengine.runner.runner import _SlicedDataset

        train = checked_config(self.runner).get('train_dataloader')
        per_epoch = train.get('num_batch_per_epoch') if isinstance(train, dict) else None
        dataset = getattr(self.dataloader, 'dataset', None)
        if isinstance(dataset, _SlicedDataset):  # its length is the slice's, even past the set's end
            dataset = dataset._dataset
        if per_epoch is None or isinstance(world_size, bool) or not isinstance(world_size, int) \
                or not hasattr(dataset, '__len__'):
            return None
        total = len(dataset)
        # the batch size as mmengine reads it for the slice (train_dataloader.batch_sampler's where only it sets one)
        return min(per_epoch_items(train, world_size), total), total

    def held_out_splits(self, runner) -> dict[str, HeldOutEvaluator]:
        """The search split (:attr:`held_out`) by the config key of its loader (``train_cfg.search_dataloader``,
        else the top-level ``search_dataloader`` / ``reward_dataloader`` it falls back to): its data is fingerprinted
        in every checkpoint and compared on resume (:mod:`automl_mm.engine.data_fingerprint`)."""
        held = self.held_out
        _, key = first_configured(runner.cfg, held.dataloader_cfg, held.dataloader_key, held.loader_keys)
        return {key or held.dataloader_key: held}

    # --- supernet training ------------------------------------------------------------------------------------
    def train_until(self, stop_iter: int, space: BasePathSpace, sampler: UniformPathSampler,
                    accept: Callable[[tuple], bool] | None = None) -> None:
        """Train the supernet up to iteration ``stop_iter``, one sampled path per iteration; the optimiser steps
        every ``optim_wrapper.accumulative_counts`` iterations (every iteration by default; a phase length that count
        does not divide is refused when the loop is built, :mod:`automl_mm.nas.accumulation`).

        Args:
            accept: Which full paths the supernet trains on (e.g. CR-NAS's FLOPs band: the allocations its search
                may choose); ``None``: every valid path. With it the path of iteration ``it`` is
                ``sampler.complete((), path_rng(seed, it), accept)``, uniform over the admitted paths for the
                uniform sampler (what ``sample_at`` draws when every path is admitted).

        Raises:
            ValueError: for a sampler that trains several paths per optimiser update (``paths_per_update`` > 1,
                e.g. ``FairPathSampler``): the search loops step the optimiser every iteration; train such a
                supernet with ``PathSamplingHook`` and ``optim_wrapper.accumulative_counts`` instead. With
                ``accept``, for a sampler whose ``sample_at`` is its own (draws tied across iterations, which
                ``complete`` would bypass), and for a draw ``accept`` does not admit.
        """
        if getattr(sampler, 'paths_per_update', 1) != 1:
            raise ValueError(f'{type(self).__name__}: train_cfg sampler {type(sampler).__name__} trains '
                             f'{sampler.paths_per_update} paths per optimiser update, but the search loop steps the '
                             'optimiser after every path; train that supernet under PathSamplingHook with '
                             f'optim_wrapper.accumulative_counts={sampler.paths_per_update}')
        if accept is not None and type(sampler).sample_at is not BasePathSampler.sample_at:
            raise ValueError(f'{type(self).__name__}: train_cfg sampler {type(sampler).__name__} draws the path of '
                             'an iteration its own way (sample_at), but this phase trains only the paths its search '
                             'may choose, drawn by complete(); use UniformPathSampler')
        if self._iter >= stop_iter:
            return
        if not self._advanced and self._iter > 0:
            # Same data order as an uninterrupted run (what mmengine's IterBasedTrainLoop does on resume).
            print_log(f'Advancing the dataloader {self._iter} steps to resume the data order', logger='current')
            for _ in range(self._iter):
                next(self.dataloader_iterator)
        self._advanced = True
        model = self.runner.model
        while self._iter < stop_iter:
            model.train()
            data_batch = next(self.dataloader_iterator)
            path = sampler.sample_at(self.seed, self._iter) if accept is None else \
                sampler.complete((), path_rng(self.seed, self._iter), accept)
            space.apply(drawn_path(sampler, path, 'the single-path sampler', accept=accept), model)
            self.run_iter(data_batch)

    # --- scoring ----------------------------------------------------------------------------------------------
    def path_evaluator(self, space: BasePathSpace, batches_per_sample: int | None) -> PathEvaluator:
        """Scores paths of ``space`` on the search split (built on first use; see :class:`HeldOutEvaluator`).

        What its evaluations read (the lowest reading, whether one gave no metrics: the refusal of an empty
        evaluation beside a negative reading, :class:`~automl_mm.nas.scoring.PathEvaluator`) is kept in
        :attr:`readings` under the space's class name, saved in every checkpoint and restored by a resume on the same
        ``metric_key`` (a resume between steps may change it: then they start afresh): it used
        to live in the evaluator alone, so a search resumed after an empty evaluation refused only if one came
        again."""
        readings = self.readings.setdefault(type(space).__name__, new_readings())
        return PathEvaluator(self.runner.model, space, self.held_out.build(self.runner),
                             batches_per_sample=batches_per_sample, bn_batches=self.bn_recalibration_batches,
                             bn_loader=self._bn_loader(), rule=self.metric_rule, readings=readings)

    def check_search_batches(self, batches_per_sample: int | None) -> None:
        """Build the search split now and refuse a ``batches_per_sample`` above its batch count before any
        training (:class:`PathEvaluator` would refuse it only at the first search step)."""
        check_batches_per_sample(batches_per_sample, len(self.held_out.build(self.runner).loader))

    def _bn_loader(self) -> list | None:
        """``bn_recalibration_batches`` batches of a seeded random sample of the training set, through its
        pipeline, drawn once with the search's seed and kept (:func:`~automl_mm.engine.evaluate.fixed_batches`):
        every path, rank and resumed run re-estimates BN on the same images (the pipeline's random crops and flips
        used to be redrawn at every path, so one path scored differently each time and the ranks' statistics
        differed in :meth:`finish`), and on images of the whole set (they were its first batches: of 2 classes of
        a class-ordered ImageFolder set). With ``train_dataloader.num_batch_per_epoch`` the sample is of the part
        training reads, its first ``num_batch_per_epoch × batch_size × world size`` items (as mmengine's
        ``Runner.build_dataloader`` slices the set): it depends on the number of ranks, which
        :meth:`scoring_settings` records (:data:`BN_POOL_RANKS`), so a resume in the middle of a step on another
        number of ranks is refused, unless the slice holds the whole set on both (:meth:`bn_pool_items`: the same
        images)."""
        if not self.bn_recalibration_batches:
            return None
        if self._bn_batches is None:
            # the training loader the runner runs (Runner(train_dataloader=...) with a cfg that has none)
            loader = build_local_loader(checked_config(self.runner).get('train_dataloader'), 'train_dataloader',
                                        'train', reading_ranks=get_world_size())
            self._bn_batches = fixed_batches(loader, self.bn_recalibration_batches, self.seed)
        return self._bn_batches

    def potential_scorer(self, pool: PartialArchitecturePool, sampler: UniformPathSampler,
                         evaluate: PathEvaluator, num_samples: int, stream: int,
                         accept: Callable[[tuple], bool] | None = None) -> Callable[[tuple], float]:
        """``candidate -> potential`` for the pool's current step, with common random numbers
        (:func:`~automl_mm.nas.scoring.candidate_scorer`, seeded by (seed, stream, step))."""
        return candidate_scorer(sampler, evaluate, num_samples, self.seed, stream, pool.num_decided, accept)

    def run_step(self, name: str, pool: PartialArchitecturePool, score_fn: Callable[[tuple], float],
                 describe: Callable[[tuple], str], evaluate: PathEvaluator | None = None,
                 trained_by: str = '') -> list[tuple]:
        """Score the pool's current step (resuming finished scores), keep the top K, log, checkpoint.

        Args:
            trained_by: The config keys and values that set how long the supernet trained before this step
                (e.g. ``'train_cfg.stage_iters=20, train_cfg.spatial_iters=20'``); a step refused because no
                candidate gave metrics names them, and the model's score thresholds (:func:`score_threshold_keys`),
                as what to change.
            evaluate: The evaluator behind ``score_fn``; a candidate whose every evaluation gave no metrics is
                marked empty, and a step whose every candidate is empty raises instead of choosing by tie-break.
                Under ``metric_rule='less'`` an evaluation with no metrics scores +inf
                (:class:`~automl_mm.nas.scoring.PathEvaluator`), and a step in which no candidate has a finite
                score but some have +inf raises for the same reason. Each candidate's per-sample scores
                (recorded per candidate: :meth:`~automl_mm.nas.scoring.PathEvaluator.recording`) are gathered and
                kept in the pool (and its checkpoints); once the step is scored, every candidate is scored over the
                same samples (:meth:`~automl_mm.nas.beam.PartialArchitecturePool.rank_on_common_samples`): a
                sample some candidate read as a constant of every candidate (a COCO ``-1``, a NaN without ground
                truth), or on which every candidate that read it gave no metrics (under either rule), is
                left out of every candidate's mean, with a warning, and a step left with no sample raises; where
                some candidate's draw missed a sample (no completion within the completion sampler's
                ``max_tries``), every candidate scores the additive two-way model's estimate of its mean over the
                same samples, with a warning, and a step whose candidates share no sample across groups raises.

        Raises:
            RuntimeError: Every candidate of the step gave no metrics; no search sample was left once such
                constants (and samples without metrics for every candidate) were left out; the
                candidates fall apart into groups that read no sample in common (their draws missed the samples
                that would link them: nothing compares one group with another); or, under ``'less'``, every
                candidate with an admitted completion had an evaluation that gave none.
        """
        candidates = pool.candidates()
        done_before = len(pool.scores)
        world_size = get_world_size()
        if world_size > 1:  # the ranks score their share of the candidates with one supernet, rank 0's
            share_rank0_statistics(self.runner.model)
        print_log(f'[{name}] scoring {len(candidates)} candidates ({done_before} already scored) on {world_size} '
                  f'rank{"s" if world_size > 1 else ""}', logger='current')
        start = time.time()
        last_log = [start]

        def on_round(done: int, total: int) -> None:
            now = time.time()
            if now - last_log[0] >= 5 or done == total:
                rate = (now - start) / max(done - done_before, 1)
                eta = rate * (total - done)
                print_log(f'[{name}] {done}/{total} scored, {now - start:.0f}s elapsed, ETA {eta:.0f}s',
                          logger='current')
                last_log[0] = now
            due = [now - self._last_save >= self.checkpoint_interval_s and done < total]
            if world_size > 1:
                broadcast_object_list(due, src=0)  # ranks' clocks differ; saving is collective: rank 0 decides
            if due[0]:
                if evaluate is not None and world_size > 1:
                    # the checkpoint holds rank 0's readings: every rank's, or a resume forgot the others'
                    evaluate.share_readings()
                self.save_search_checkpoint(f'{name}_partial')

        counts = {}

        def counted(candidate: tuple) -> float:
            counts['before'] = (evaluate.evaluations, evaluate.empty_evaluations)
            counts['samples'] = None
            recording = getattr(evaluate, 'recording', None)  # a stand-in evaluator may keep no samples
            if recording is None:
                return score_fn(candidate)
            with recording() as kept:  # this candidate's evaluations only
                score = score_fn(candidate)
            counts['samples'] = list(kept)
            return score

        def samples_of(candidate: tuple) -> list | None:
            return counts['samples']

        def is_empty(candidate: tuple) -> bool:
            n0, e0 = counts['before']
            n, e = evaluate.evaluations - n0, evaluate.empty_evaluations - e0
            return n > 0 and e == n

        if evaluate is None:
            score_step(pool, score_fn, on_round)
        else:
            score_step(pool, counted, on_round, is_empty, samples_of)
            if world_size > 1:  # what the other ranks read: an empty candidate on one, negative readings on another
                evaluate.share_readings()
        if evaluate is not None and candidates and all(c in pool.empty for c in candidates):
            raise RuntimeError(
                f'[{name}] every one of the {len(candidates)} candidates gave no metrics on the search split (all '
                f'score {self.metric_key}={"0" if pool.rule == "greater" else "+inf"}, the worst under '
                f'metric_rule={pool.rule!r}), so the choice would be a tie-break: the supernet predicts nothing '
                f'({_empty_step_advice(self, trained_by)})')
        samples = pool.rank_on_common_samples()
        constant, missed = sorted(samples.constant), sorted(set(samples.missed) & samples.common)
        unread = sorted(samples.unread)
        worst = '0' if pool.rule == 'greater' else '+inf'
        unread_named = (f'samples {unread} gave no metrics for any candidate that read them (each scored '
                        f'{self.metric_key}={worst}, the worst under metric_rule={pool.rule!r})')
        if samples.read and not samples.common:
            left_out = []
            if constant:
                left_out.append(
                    f'samples {constant} read {self.metric_key} as a value every candidate reads there (a COCO -1 '
                    'where the batches hold no ground-truth object of the key\'s area range, a NaN where they hold '
                    'none of a classwise key\'s class), or gave no metrics')
            if unread:
                left_out.append(unread_named)
            raise RuntimeError(
                f'[{name}] no search sample was scored with a value (of samples {sorted(samples.read)}): '
                f'{"; ".join(left_out)}: nothing tells the candidates apart, so the choice would be a tie-break. '
                'Choose a train_cfg.metric_key the search split has ground truth for (the mAP over every area and '
                'class), or score on more search batches per sample (train_cfg.batches_per_sample, or None for the '
                'whole split)')
        if samples.groups:
            shown = '; '.join(f'{{{", ".join(describe(c) for c in group[:3])}'
                              + (f' and {len(group) - 3} more' if len(group) > 3 else '') + '}'
                              for group in samples.groups)
            raise RuntimeError(
                f'[{name}] the candidates fall apart into {len(samples.groups)} groups that read no search sample '
                f'in common ({shown}): their completion draws missed the samples that would link them '
                f'({_missed_named(samples.missed, missed, describe)}'
                + (f'; samples {sorted(constant + unread)} left out' if constant or unread else '') + '), so '
                'nothing compares one group with another and the choice would be a tie-break. Let the completion '
                'sampler find more completions within the cost limit (train_cfg.completion_sampler.max_tries, '
                'enumerate_limit), or score on more search samples (train_cfg.num_samples) or batches per sample '
                '(train_cfg.batches_per_sample, or None for the whole split; train_cfg.metric_key: one the search '
                'split has ground truth for)')
        if constant:
            warn(f'[{name}] {len(constant)} of the {len(samples.read)} search samples read {self.metric_key} as a '
                 f'value every candidate reads there (samples {constant}): left out of every candidate\'s mean')
        if missed:
            warn(f'[{name}] {len(missed)} of the {len(samples.read)} search samples were not scored for every '
                 f'candidate (samples {missed}: {_missed_named(samples.missed, missed, describe)}): every candidate '
                 f'scores the additive model\'s estimate of its mean over the {len(samples.common)} samples kept '
                 '(reading = candidate effect + sample effect, fitted by least squares over the readings), so that '
                 'a hard sample it missed counts against it as against the others (raise '
                 'train_cfg.completion_sampler.max_tries or enumerate_limit to miss fewer)')
        if unread:
            warn(f'[{name}] {len(unread)} of the {len(samples.read)} search {unread_named}: '
                 'left out of every candidate\'s mean (they tell the candidates nothing: '
                 + ('their 0 lowered every mean)' if pool.rule == 'greater' else 'their +inf made every mean +inf)'))
        ranking = pool.ranking()
        unranked = [c for c, s in ranking if s == math.inf]  # under 'less': an evaluation gave no metrics
        if unranked and not any(math.isfinite(s) for _, s in ranking):
            raise RuntimeError(
                f'[{name}] every one of the {len(unranked)} candidates with an admitted completion had an evaluation '
                f'that gave no metrics on the search split: under train_cfg.metric_rule=\'less\' such an evaluation '
                f'scores {self.metric_key}=+inf (the worst; 0 would read as a perfect score), so the choice would '
                f'be a tie-break (score on more batches per sample; {_empty_step_advice(self, trained_by)})')
        empty = [c for c in candidates if c in pool.empty]
        kept = pool.select()
        # where the step was scored: a resume under other phase lengths is checked against it (check_step_iterations)
        pool.history[-1]['iter'] = self._iter
        # at least 5 listed: the header said "top 1 of 12" over 5 lines, as if all of them were kept; and every
        # candidate without a score, with why (one ranked past the 5 was left out, one within them read -inf)
        reasons = unscored_reasons(pool.history[-1], pool.rule)
        best = max(len(kept), 5)
        shown = [(i, c, s) for i, (c, s) in enumerate(ranking) if i < best or not math.isfinite(s)]
        # counted apart: "the best 5 of 6 and 1 more without a score" was said over 3 scores and 3 without one
        unscored = sum(not math.isfinite(s) for _, s in ranking)
        lines = [f'[{name}] the best {len(shown) - unscored} of {len(ranking) - unscored}'
                 + (f' scored and {unscored} without a score' if unscored else '') + f' ({self.metric_key}, '
                 f'{"higher" if pool.rule == "greater" else "lower"} is better; the first {len(kept)} kept):']
        lines += [f'  {i + 1:>2}. {self.metric_key}={score_text(score, reasons.get(c))}  {describe(c)}'
                  for i, c, score in shown]
        print_log('\n'.join(lines), logger='current')
        if empty or unranked:
            warn(f'[{name}] {len(empty)} of {len(candidates)} candidates gave no metrics in any evaluation'
                 + (' (scored 0)' if pool.rule == 'greater' else
                    f', {len(unranked)} in some evaluation: they score +inf (metric_rule=\'less\') and rank after '
                    'every candidate with a finite score'))
        finite = [s for _, s in ranking if math.isfinite(s)]  # -inf: no admitted completion, not a tie
        if len(finite) > 1 and len(set(finite)) == 1:
            warn(f'[{name}] all {len(finite)} candidates with a finite score scored {self.metric_key}='
                 f'{finite[0]:.4f}: the choice is a tie-break (candidate order), not a ranking; score on more '
                 'search data or train the supernet longer' + (f' ({trained_by})' if trained_by else ''))
        else:  # a tie that decided who stays, or the choice (pool.history[-1]['ties'], PartialArchitecturePool)
            for tie in pool.history[-1].get('ties', []):
                which = ('the search\'s choice' if tie['cut'] == 1 and pool.done else
                         f'the pool\'s {tie["cut"]} place{"s" if tie["cut"] > 1 else ""}')
                score = 'inf' if tie['score'] is None else f'{tie["score"]:.4f}'
                warn(f'[{name}] {len(tie["kept"]) + len(tie["dropped"])} candidates tied at {self.metric_key}='
                     f'{score} for {which}: candidate order kept '
                     f'{", ".join(describe(tuple(c)) for c in tie["kept"])}, not '
                     f'{", ".join(describe(tuple(c)) for c in tie["dropped"])} (ties go to the pool\'s better '
                     'entry, then to the option listed first in the options of the decision); score on more search '
                     'data (more images or samples per candidate tell them apart) or train the supernet longer'
                     + (f' ({trained_by})' if trained_by else ''))
        self.save_search_checkpoint(name)
        return kept
