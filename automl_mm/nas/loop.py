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
:class:`~automl_mm.nas.search_outputs.SearchOutputs`, another. A search step (candidates scored, the step refused where
the scores tell them nothing, the top K kept) is run by :class:`~automl_mm.nas.search_step.SearchStepScoring`; what the
candidates are scored with (the search split's evaluator, the BN re-estimation batches, the scoring settings a resume
compares) comes from :class:`~automl_mm.nas.scoring_setup.ScoringSetup`: two more bases, whose names are still
importable from here.
"""
from __future__ import annotations

import os.path as osp
import time
from collections.abc import Callable

from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from automl_mm.engine.evaluate import HeldOutEvaluator
from automl_mm.engine.rank_failures import stopping_together
from automl_mm.engine.run_info import run_seed
from automl_mm.engine.runner_checks import checked_config
from automl_mm.utils.checks import as_count
from automl_mm.utils.metric_rule import resolve_rule
from automl_mm.utils.seeding import as_seed
from automl_mm.utils.wording import a_type

from .accumulation import check_checkpoint_accumulation
from .base import BasePathSampler, BasePathSpace, drawn_path
from .beam import PartialArchitecturePool
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
from .scoring_setup import BN_POOL_RANKS, ScoringSetup  # noqa: F401 (BN_POOL_RANKS: its former home)
from .search_checks import (  # noqa: F401
    check_no_path_sampling_hook,
    check_no_sync_bn,
    check_schedule_span,
    check_scoring_counts,
)
from .search_log import format_table, score_text, unscored_reasons, warn  # noqa: F401
from .search_outputs import SearchOutputs
from .search_state import _SearchStateHook  # also named here: automl_mm.nas.loop._SearchStateHook
from .search_step import (  # noqa: F401 (also served here, their former home)
    SearchStepScoring,
    _empty_step_advice,
    _missed_named,
    score_threshold_keys,
    share_rank0_statistics,
)


class SearchLoopBase(SearchResumeChecks, SearchOutputs, ScoringSetup, SearchStepScoring, IterBasedTrainLoop):
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

