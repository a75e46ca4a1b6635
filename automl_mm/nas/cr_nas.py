"""``CRNASLoop``: CR-NAS computation reallocation of a detection backbone (METHODS.md §5).

Inside an unchanged mmdet detector whose backbone is a CR supernet (``CRResNet`` / ``CRMobileNetV2`` with
``max_stage_blocks``), the loop runs four phases, each resumable:

1. stage supernet: train with a uniformly sampled allocation per iteration, among the allocations the stage search
   may choose: those of the fixed total block count whose FLOPs lie within the band reference FLOPs x
   (1 +- ``flops_tolerance``) (an allocation outside it is never scored, so training it took the supernet's
   iterations and shared weights from the searchable ones: 185 of the 362 allocations of the CR-MobileNetV2 COCO
   space at 224 px);
2. stage search: every allocation within the band (or a seeded sample of ``max_stage_candidates``) is scored by the
   search metric (COCO AP) on the whole arch-val split with inherited weights;
3. operation supernet: with the best allocation fixed, train with a uniformly sampled dilation per block;
4. spatial search: greedy top-K block by block, each candidate scored by S sampled completions of the undecided
   blocks, one arch-val mini-batch each.

Then it writes the result (JSON), a backbone config fragment, and a config that trains the CR backbone
(:mod:`~automl_mm.nas.reallocation_export`). The FLOPs of an allocation and the band the stage search admits are
:mod:`~automl_mm.nas.flops_band`'s; this module still serves the names that moved there.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from mmengine.logging import print_log

from automl_mm.engine.runner_checks import checked_config
from automl_mm.registry import LOOPS
from automl_mm.utils.checks import as_count, plain_config

from .accumulation import check_phase_accumulation
from .base import build_path_sampler, build_path_space, with_default_type
from .beam import PartialArchitecturePool, seeded_subset
from .final_architecture import architecture_calls
from .flops import FLOPS_COUNTER, UncountedOperationError  # noqa: F401 (served here: check_budget raises it)
from .flops_band import AllocationFlopsBand
from .loop import SearchLoopBase
from .reallocation_export import ReallocationExport, stage_table_rows  # noqa: F401 (its former home)
from .resume_checks import FLOPS_NEUTRAL_BACKBONE_KEYS, CRNASResumeChecks  # noqa: F401 (its former home)
from .retrain_export import (
    backbone_scope,
    check_backbone_exportable,
    check_retrain_backbone,
    check_retrain_config,
    retrain_config_snapshot,
    search_backbone,
)
from .retrain_input import warn_flops_shape_not_trained
from .samplers import check_completion_sampler, completion_sampler_setting
from .search_checks import check_schedule_span, check_scoring_counts, check_search_length
from .search_log import warn
from .spaces import DilationSpace, StageAllocationSpace

_SCORE_STREAM = 104729  # key of CR-NAS's scoring and candidate-subset streams (utils/seeding domains)


@LOOPS.register_module()
class CRNASLoop(CRNASResumeChecks, AllocationFlopsBand, ReallocationExport, SearchLoopBase):
    """Stage and spatial reallocation search as an mmengine train loop (``train_cfg=dict(type='CRNASLoop')``).

    Args:
        runner: The mmengine runner; its model is any mmdet detector with a CR supernet backbone.
        dataloader: Supernet training data (COCO arch-train).
        stage_iters: Iterations of stage-supernet training (phase 1).
        spatial_iters: Iterations of operation-supernet training (phase 3), continuing from phase 1's weights.
            The search runs ``stage_iters + spatial_iters`` iterations; a ``param_scheduler`` without ``T_max`` /
            ``end`` anneals over exactly those, an explicit one that disagrees is refused
            (:func:`~automl_mm.nas.search_checks.check_schedule_span`).
        stage_space: ``StageAllocationSpace`` config: ``stage_choices`` per stage and ``total_blocks``.
        dilation_space: Path space config of the spatial search; default
            ``dict(type='DilationSpace', choices=dilation_choices)`` (one decision per active block).
        dilation_choices: Dilations of the searched conv of each block (paper and default: 1, 2, 3); a shorthand
            for ``dilation_space``, give one of the two.
        sampler: Path sampler config of supernet training (phases 1 and 3, one sampler per space); default
            ``UniformPathSampler``; the loop sets each sampler's ``space`` (one in the config is refused). Phase 1
            draws with ``complete((), path_rng(seed, iteration), accept)``, ``accept`` admitting the allocations
            within the FLOPs band (``flops_tolerance``).
        completion_sampler: The ``UniformPathSampler`` config of the scored completions of the spatial search
            (``max_tries``, ``enumerate_limit``); default ``UniformPathSampler``. A ``sampler`` or
            ``completion_sampler`` dict without ``type`` is a ``UniformPathSampler``'s
            (:func:`~automl_mm.nas.base.with_default_type`).
        stage_pool_size: Allocations kept (and reported) by the stage search; the best one is used.
        max_stage_candidates: Score a seeded sample of this many eligible allocations when there are more.
        pool_size: K of the greedy spatial search (paper: 3).
        num_samples: Sampled completions per spatial candidate.
        batches_per_sample: arch-val mini-batches per sampled completion (paper: 1).
        reference_allocation: The allocation whose computation is reallocated: the FLOPs band is centred on its
            FLOPs (default: the backbone's initial one).
        flops_tolerance: Relative half-width of the FLOPs band (default 0.05): the stage search admits exactly the
            allocations whose backbone FLOPs ``F`` satisfy ``|F - F_ref| <= flops_tolerance * F_ref``. CR-NAS
            reallocates the reference's computation and compares at equal FLOPs (METHODS.md §5), so a cheaper
            allocation is left out as a costlier one is (an upper bound alone admitted a CR-MobileNetV2 allocation
            up to 14 % cheaper than the reference at 224 px). The default leaves room for the small per-stage
            differences of ResNet blocks (all allocations of one block count within 0.1 %); MobileNetV2's layers
            differ a lot (at 224 px the 362 allocations of the COCO config span -14 % to +20 %, 177 within 5 %).
        flops_input_shape: ``(C, H, W)`` of the backbone input FLOPs are counted at.
        retrain_config: The config that trains the CR backbone in the final detector; the export inherits it.
        metric_key: The search-split metric that scores allocations and dilations; default ``'coco/bbox_mAP'``
            (higher is better; ``metric_rule`` says otherwise, or infers it from the key: :class:`SearchLoopBase`).
        max_iters: Leave it out: the search's length is ``stage_iters + spatial_iters``; one other than it is
            refused, naming them (it stopped the build with a ``TypeError`` naming no key).
        **kwargs: ``search_dataloader``, ``search_evaluator``, ``metric_rule``, ``bn_recalibration_batches``,
            ``checkpoint_interval_s``, ``seed``, ``out_dir`` of :class:`SearchLoopBase`.

    Raises:
        ValueError: naming the ``train_cfg`` key, before training: ``stage_iters`` / ``spatial_iters`` not ints
            >= 0 or both 0, a ``max_iters`` other than their sum, ``max_stage_candidates``, ``num_samples``,
            ``batches_per_sample``, ``pool_size`` or ``stage_pool_size`` not ints >= 1, a ``flops_tolerance`` that
            is not a finite number >= 0, a ``flops_input_shape`` that is not ``(C, H, W)``, a cosine
            ``param_scheduler`` whose span disagrees with the search's iterations, a backbone built with dilations
            other than 1, a ``stage_space`` with another number of stages than the backbone or a choice above its
            ``max_stage_blocks``, both ``dilation_space`` and ``dilation_choices``, a ``dilation_space.num_blocks``
            other than ``total_blocks``, or a ``sampler`` config with its own space.
    """

    # saved since the 42nd / 45th / 47th session
    optional_search_state_keys = ('flops_counter', 'flops_backbone', 'band_allocations', 'stage_space')

    def __init__(self, runner, dataloader, stage_iters: int, spatial_iters: int, stage_space: dict,
                 dilation_space: dict | None = None, dilation_choices: Sequence[int] | None = None,
                 sampler: dict | None = None, completion_sampler: dict | None = None, stage_pool_size: int = 3,
                 max_stage_candidates: int | None = None, pool_size: int = 3, num_samples: int = 4,
                 batches_per_sample: int | None = 1, reference_allocation: Sequence[int] | None = None,
                 flops_tolerance: float = 0.05, flops_input_shape: Sequence[int] = (3, 800, 1333),
                 retrain_config: str | None = None, metric_key: str = 'coco/bbox_mAP', max_iters: int | None = None,
                 **kwargs) -> None:
        # a negative one shortened the other phase silently, a float was truncated
        stage_iters = as_count(stage_iters, 'train_cfg.stage_iters')
        spatial_iters = as_count(spatial_iters, 'train_cfg.spatial_iters')
        if stage_iters + spatial_iters == 0:
            raise ValueError('train_cfg.stage_iters and train_cfg.spatial_iters are both 0: the search would score '
                             'an untrained supernet; train it for at least one iteration')
        check_search_length(max_iters, int(stage_iters) + int(spatial_iters),
                            f'stage_iters={int(stage_iters)} + spatial_iters={int(spatial_iters)}', 'CRNASLoop',
                            'train_cfg.stage_iters / train_cfg.spatial_iters')
        if max_stage_candidates is not None:
            as_count(max_stage_candidates, 'train_cfg.max_stage_candidates', 1)
        if isinstance(flops_tolerance, bool) or not isinstance(flops_tolerance, (int, float)) \
                or not math.isfinite(flops_tolerance):
            raise ValueError(f'train_cfg.flops_tolerance must be a finite number, got {flops_tolerance!r}')
        if flops_tolerance < 0:  # a band of negative width; it was an upper bound below the reference before
            raise ValueError(f'train_cfg.flops_tolerance={flops_tolerance} must be >= 0: it is the relative '
                             'half-width of the FLOPs band around the reference allocation\'s FLOPs that the stage '
                             'search admits (CR-NAS reallocates the reference\'s computation, METHODS.md §5: a '
                             'cheaper network is not a reallocation of it); default 0.05')
        shape = list(flops_input_shape) if isinstance(flops_input_shape, (list, tuple)) else None
        if shape is None or len(shape) != 3:
            raise ValueError(f'train_cfg.flops_input_shape must be (C, H, W), got {flops_input_shape!r}')
        for v in shape:
            as_count(v, f'train_cfg.flops_input_shape ({flops_input_shape})', 1)
        check_scoring_counts(num_samples, batches_per_sample)
        cfg = checked_config(runner)  # what the runner runs: Runner(param_scheduler=..., cfg=dict(...)) too
        check_schedule_span(cfg.get('param_scheduler'), int(stage_iters) + int(spatial_iters),
                            f'stage_iters={int(stage_iters)} + spatial_iters={int(spatial_iters)}')
        check_phase_accumulation(cfg.get('optim_wrapper'), [('train_cfg.stage_iters', int(stage_iters)),
                                                            ('train_cfg.spatial_iters', int(spatial_iters))])
        super().__init__(runner, dataloader, max_iters=int(stage_iters) + int(spatial_iters), metric_key=metric_key,
                         **kwargs)
        stage_space = dict(stage_space)
        stage_space.setdefault('type', 'StageAllocationSpace')
        self.stage_space: StageAllocationSpace = build_path_space(stage_space, 'train_cfg.stage_space')
        self.backbone = self.stage_space.bind(runner.model)
        built = sorted(set(self.backbone.built_dilations))
        if built != [1]:
            # The stage search trains and scores standard blocks (dilation 1) and the spatial search sets every
            # block's dilation itself: as-built dilations would come back on whichever blocks the sampled
            # allocations re-activated, and the export would carry them next to the searched dilations_per_block.
            raise ValueError(f'CRNASLoop needs a backbone built with dilation 1 in every block, got dilations '
                             f'{built}: remove model.backbone.dilations (mmdet\'s per-stage dilation, e.g. DC5) '
                             'from the search config; the spatial search chooses each block\'s dilation')
        self._check_stage_choices()
        if dilation_space is not None and dilation_choices is not None:
            raise ValueError('train_cfg: give dilation_space or its shorthand dilation_choices, not both')
        if dilation_choices is not None and (isinstance(dilation_choices, (str, bytes))
                                             or not isinstance(dilation_choices, Sequence)):
            raise ValueError(f'train_cfg.dilation_choices must be a list of dilations, e.g. (1, 2, 3), got '
                             f'{dilation_choices!r}')
        self.dilation_space: DilationSpace = build_path_space(
            dilation_space or dict(type='DilationSpace',
                                   choices=tuple((1, 2, 3) if dilation_choices is None else dilation_choices)),
            'train_cfg.dilation_space' if dilation_space is not None else 'train_cfg.dilation_choices')
        if self.dilation_space.options and len(self.dilation_space.options) != self.stage_space.total_blocks:
            # the spatial search binds it after the stage search: the block count is the fixed total
            raise ValueError(f'train_cfg.dilation_space.num_blocks={len(self.dilation_space.options)}, but every '
                             f'allocation of stage_space runs total_blocks={self.stage_space.total_blocks} blocks; '
                             'leave num_blocks out (it is read from the backbone)')
        sampler = with_default_type(sampler, 'UniformPathSampler')
        # one sampler per space, both set by the loop: a space in the sampler's config is refused
        self.stage_sampler = build_path_sampler(sampler, 'train_cfg.sampler', 'train_cfg.stage_space and '
                                                'train_cfg.dilation_space')
        self.stage_sampler.space = self.stage_space
        self.dilation_sampler = build_path_sampler(sampler, 'train_cfg.sampler')
        self.dilation_sampler.space = self.dilation_space
        self.uniform = check_completion_sampler(build_path_sampler(
            with_default_type(completion_sampler, 'UniformPathSampler'), 'train_cfg.completion_sampler',
            'train_cfg.dilation_space'))
        self.uniform.space = self.dilation_space
        self.stage_iters = int(stage_iters)
        self.spatial_iters = int(spatial_iters)
        self.max_stage_candidates = max_stage_candidates
        self.num_samples = int(num_samples)
        self.batches_per_sample = batches_per_sample
        self.flops_tolerance = float(flops_tolerance)
        self.flops_input_shape = (1, *[int(v) for v in flops_input_shape])
        # the retrain config is read by each rank: a refusal on one is agreed on by all
        with self.agreed_start_checks('the start checks of train_cfg (retrain_config, reference_allocation)'):
            self.retrain_config = check_retrain_config(retrain_config)
            check_backbone_exportable((cfg.get('model') or {}).get('backbone'), 'CRNASLoop',
                                      backbone_scope(runner))
            reference = tuple(self.backbone.active_stage_blocks if reference_allocation is None
                              else reference_allocation)
            try:
                self.reference_path = self.stage_space.path_of(reference)
            except ValueError as err:
                source = 'reference_allocation' if reference_allocation else "reference_allocation (default: the " \
                    'backbone\'s stage_blocks)'
                raise ValueError(f'train_cfg.{source}: {err}') from None
            self.reference_allocation = list(reference)
            self._check_built_dilations()
            warn_flops_shape_not_trained(cfg, self.flops_input_shape[1:], 'the search config')
            self._check_retrain()
            self.retrain_checked = retrain_config_snapshot(self.retrain_config)  # compared at the export
        self.stage_pool = PartialArchitecturePool(self.stage_space, stage_pool_size, 'train_cfg.stage_pool_size',
                                                  self.metric_rule)
        self.dilation_pool = PartialArchitecturePool(self.dilation_space, pool_size, 'train_cfg.pool_size',
                                                     self.metric_rule)
        self.flops: dict[tuple, float] = {}
        self.result: dict | None = None
        self._stage_space_cfg = plain_config(stage_space)
        # the allocations phase 1 trains on (the FLOPs band's), by value, once run() has counted them
        self.band_allocations: list[list[int]] | None = None
        # a resumed checkpoint's band allocations and the band settings it set otherwise than this run
        self._saved_band: list[list[int]] | None = None
        self._band_changes: list[tuple[str, object, object]] = []

    def _check_retrain(self, again: bool = False) -> None:
        """The start's checks of ``train_cfg.retrain_config``, run again (``again``, with the search-loop check of
        :func:`~automl_mm.nas.retrain_export.check_retrain_config`) at the export where the file was edited during
        the search: its training image size against ``flops_input_shape`` (warned about:
        :func:`~automl_mm.nas.retrain_input.warn_flops_shape_not_trained`); the export writes ``stage_blocks`` /
        ``dilations_per_block`` over the retrain backbone, so the rest must be the searched network's (both built at
        the reference allocation, dilation 1). A runner without the searched backbone's config
        (:func:`~automl_mm.nas.retrain_export.search_backbone`) is refused (at the start, by a clear error)."""
        if again:
            check_retrain_config(self.retrain_config)
        if self.retrain_config is not None:
            from automl_mm.engine.config_read import read_config

            warn_flops_shape_not_trained(read_config(self.retrain_config), self.flops_input_shape[1:],
                                         f'train_cfg.retrain_config {self.retrain_config}')
        check_retrain_backbone(self.retrain_config, search_backbone(self.runner, 'CRNASLoop'),
                               ('stage_blocks', 'dilations_per_block'),
                               fill=dict(stage_blocks=tuple(self.reference_allocation)), ignored=('max_stage_blocks', ),
                               scope=backbone_scope(self.runner))

    def _check_built_dilations(self) -> None:
        """Refuse a search backbone built with dilations other than 1 on the searched convs
        (``model.backbone.dilations_per_block``, e.g. by ``--cfg-options`` on a search config): ``run`` sets every
        block to dilation 1 before the supernet trains and the spatial search chooses them, so they changed
        nothing, silently."""
        dilations = tuple(self.backbone.active_dilations)
        if any(d != 1 for d in dilations):
            raise ValueError(f'model.backbone.dilations_per_block={dilations}: the search sets every block to '
                             'dilation 1 before it trains and chooses the dilations itself, so these would change '
                             'nothing; leave dilations_per_block out of a search config (the exported config sets the '
                             'searched ones)')

    def _check_stage_choices(self) -> None:
        """Refuse stage_choices the backbone cannot run (more blocks than it built in a stage): found at start, not
        at the first sampled allocation or the stage search after the stage supernet trained."""
        built = tuple(self.backbone.built_stage_blocks)
        if len(built) != self.stage_space.num_decisions:
            raise ValueError(f'train_cfg.stage_space has {self.stage_space.num_decisions} stages, the backbone '
                             f'{len(built)}')
        for i, (opts, n) in enumerate(zip(self.stage_space.options, built)):
            over = [v for v in opts if v > n]
            if over:
                raise ValueError(f'train_cfg.stage_space.stage_choices[{i}] = {opts}: {over} blocks, but stage '
                                 f'{i + 1} of the backbone was built with {n} (model.backbone.max_stage_blocks); '
                                 'raise max_stage_blocks or drop those choices')

    # --- state ------------------------------------------------------------------------------------------------
    def search_state_dict(self) -> dict:
        return {'stage_pool': self.stage_pool.state_dict(), 'dilation_pool': self.dilation_pool.state_dict(),
                'flops': [[list(k), v] for k, v in self.flops.items()],
                'flops_input_shape': list(self.flops_input_shape[1:]), 'flops_counter': FLOPS_COUNTER,
                'flops_backbone': self._flops_backbone(), 'result': self.result,
                'band_allocations': self.band_allocations, 'stage_space': self._stage_space_cfg}

    def load_search_state_dict(self, state: dict) -> None:
        """Restore :meth:`search_state_dict`'s state, checking the FLOPs it holds against this run's config.

        The FLOPs counted so far were counted at the checkpoint's ``flops_input_shape`` on its ``model.backbone``
        (:meth:`~automl_mm.nas.resume_checks.CRNASResumeChecks._flops_context_changes`). Where this run sets either
        otherwise:

        - once the stage search has begun (or the search has a result), the checkpoint's allocations were admitted
          to the FLOPs band by those counts, and its result reports them: the resume is refused (a resume at
          another input shape or on another backbone searched and reported against stale FLOPs); so is one with
          another ``reference_allocation``, the band's centre (the result reported it as the reference of
          allocations admitted around the checkpoint's), or another ``flops_tolerance``, its half-width (a narrower
          one was refused as a pre-band choice, a wider one kept a choice among fewer allocations);
        - before it, they are counted again, with a warning naming the key; but where the stage supernet has
          trained (the checkpoint's iteration > 0), a band that now holds other allocations than the checkpoint's
          (another ``flops_tolerance``, ``reference_allocation``, ``flops_input_shape``, backbone or
          ``stage_space``) is refused when :meth:`run` starts (:meth:`check_resumed_band`).

        Counts made by another counter (:data:`~automl_mm.nas.flops.FLOPS_COUNTER`: before the forty-second
        session a stage outside ``out_indices`` was left out) or without a recorded shape are counted again too, and
        a finished search's result is rebuilt from its pools with the new counts.

        Raises:
            ValueError: the stage search has begun and the checkpoint's FLOPs were counted at another
                ``train_cfg.flops_input_shape`` or on another ``model.backbone``, or its band centred on another
                ``train_cfg.reference_allocation`` or of another ``train_cfg.flops_tolerance``; the message names the
                key and both values.
        """
        self.stage_pool.load_state_dict(state['stage_pool'])
        self.dilation_pool.load_state_dict(state['dilation_pool'])
        self.result = state.get('result')
        changes = self._flops_context_changes(state)
        decided = self._begun(self.stage_pool) or self.result is not None
        band = self._band_setting_changes(state)
        if decided:  # the stage space itself is checked by the stage pool (its options and paths)
            changes += [change for change in band if change[0] != 'train_cfg.stage_space']
        else:  # judged in run() against the allocations the checkpoint's stage supernet trained on
            self._saved_band = state.get('band_allocations')
            self._band_changes = changes + band
            if self._saved_band is None:  # written before the band was saved: told from its own counts if it can
                self._saved_band = self._band_of_counts(state)
        if changes and decided:
            self.refuse_flops_changes(changes)
        same = not changes and state.get('flops_input_shape') is not None \
            and state.get('flops_counter') == FLOPS_COUNTER
        if changes:
            warn('CR-NAS resume: the checkpoint\'s FLOPs were counted with ' + ', '.join(
                f'{key}={saved!r}' for key, saved, _ in changes) + ', this run sets ' + ', '.join(
                f'{key}={now!r}' for key, _, now in changes) + ': they are counted again (the stage search has not '
                'begun; the stage supernet trains on only if its FLOPs band holds the same allocations as before)')
        self.flops = {tuple(k): float(v) for k, v in state['flops']} if same else {}
        if not same:
            self.result = None  # rebuilt from the pools (its FLOPs are the dropped counts)

    def search_pools(self) -> list[PartialArchitecturePool]:
        return [self.stage_pool, self.dilation_pool]

    def architecture_calls(self) -> list[list]:
        return architecture_calls(self.backbone, ('set_allocation', 'set_dilations'),
                                  ('active_stage_blocks', 'active_dilations'))

    def scoring_settings(self) -> dict:
        """:meth:`SearchLoopBase.scoring_settings`, ``num_samples``, ``batches_per_sample``, the spatial search's
        completion sampler (:func:`~automl_mm.nas.samplers.completion_sampler_setting`) and what decides which
        allocations the stage search scores: the FLOPs band's ``flops_tolerance``, ``reference_allocation`` and
        ``flops_input_shape`` (C, H, W), and ``max_stage_candidates`` (the stage step's candidates are saved once
        drawn: a resume inside it under another value scored the checkpoint's sample, or a subset of it, silently)."""
        return {**super().scoring_settings(), 'train_cfg.num_samples': self.num_samples,
                'train_cfg.batches_per_sample': self.batches_per_sample,
                'train_cfg.completion_sampler': completion_sampler_setting(self.uniform),
                'train_cfg.max_stage_candidates': self.max_stage_candidates,
                'train_cfg.flops_tolerance': self.flops_tolerance,
                'train_cfg.reference_allocation': list(self.reference_allocation),
                'train_cfg.flops_input_shape': list(self.flops_input_shape[1:])}

    # --- the search -------------------------------------------------------------------------------------------
    def run(self):
        runner = self.runner
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        # the search split as this rank reads it, the resumed state as it loaded it
        with self.agreed_start_checks('the start checks of the search split, the FLOPs band and the resumed phases'):
            self.check_search_batches(self.batches_per_sample)
            self.stage_space.apply(self.reference_path, runner.model)
            self.backbone.set_dilations([1] * self.backbone.num_active_blocks)

            if self.stage_pool.num_decided == 0:
                self.check_budget()  # before any training: a band of the reference alone is a config error

            # 1-2: stage supernet and stage search
            settings = f'train_cfg.stage_iters={self.stage_iters}, train_cfg.spatial_iters={self.spatial_iters}'
            self.check_resumed_phase(self.stage_iters, self._begun(self.stage_pool), 'stage supernet', settings)
            self.check_step_iterations(self.stage_pool, lambda k: self.stage_iters, lambda k: 'stage search', settings)
            if not self._begun(self.stage_pool):  # phase 1 trains (or trained) on the band: as before a resume
                self.check_resumed_band(sorted(self.stage_space.values(path)
                                               for path in self.stage_space.completions(()) if self.within_band(path)))
        if self._iter < self.stage_iters:
            self._log_stage_supernet()
        # the allocations the stage search may choose only (METHODS.md §5: the supernet is trained on the space
        # that is searched); for a ResNet space, whose allocations all lie in the band, the draws are unchanged
        self.train_until(self.stage_iters, self.stage_space, self.stage_sampler, self.within_band)
        if self.stage_pool.num_decided == 0:
            self._stage_search()
        best_allocation = self.stage_pool.pool[0]
        with self.agreed_start_checks('the check of the resumed stage search\'s choice'):
            self.check_chosen_allocation(best_allocation)
        self.stage_space.apply(best_allocation, runner.model)
        self.dilation_space.bind(runner.model)
        # 3-4: operation supernet and greedy spatial search
        with self.agreed_start_checks('the resumed phase checks of the spatial search'):
            # a resumed spatial search is checked against the space bound now, also when it had finished (it was
            # checked at its next candidates only: a finished one applied its indices to other dilations)
            self.dilation_pool.check_space()
            self.check_resumed_phase(self.stage_iters + self.spatial_iters, self._begun(self.dilation_pool),
                                     'operation supernet', settings)
            self.check_step_iterations(self.dilation_pool, lambda k: self.stage_iters + self.spatial_iters,
                                       lambda k: f'spatial_block{k + 1}', settings)
        self.train_until(self.stage_iters + self.spatial_iters, self.dilation_space, self.dilation_sampler)
        evaluate = self.path_evaluator(self.dilation_space, self.batches_per_sample)
        while not self.dilation_pool.done:
            step = self.dilation_pool.num_decided
            self.dilation_pool.candidates()
            score = self.potential_scorer(self.dilation_pool, self.uniform, evaluate, self.num_samples, _SCORE_STREAM)
            self.run_step(f'spatial_block{step + 1}', self.dilation_pool, score, self._describe_dilations,
                          evaluate, settings)

        if self.result is None:
            self.result = self._result(best_allocation)
            self.save_search_checkpoint('final')
        self._export()
        self.finish(lambda: self.dilation_space.apply(tuple(self.dilation_pool.pool[0]), runner.model))
        runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')
        return runner.model

    @staticmethod
    def _begun(pool: PartialArchitecturePool) -> bool:
        """Whether a (resumed) pool's search has begun: a step finished, or the current one drawn or scored."""
        return pool.num_decided > 0 or pool.candidate_list is not None or bool(pool.scores)

    def _stage_search(self) -> None:
        pool = self.stage_pool
        candidates = pool.candidates(depth=self.stage_space.num_decisions)
        low, high = self.flops_band()
        kept = pool.filter_candidates(self.within_band)
        cheaper = sum(self.allocation_flops(c) < low for c in candidates)
        print_log(f'[stage search] {len(kept)} of {len(candidates)} allocations within the FLOPs band '
                  f'{low / 1e9:.3f} to {high / 1e9:.3f} GFLOPs (reference {self.reference_allocation} '
                  f'+- {self.flops_tolerance:.0%}; {cheaper} cheaper and {len(candidates) - len(kept) - cheaper} '
                  'costlier left out)', logger='current')
        if not kept:
            raise ValueError(f'train_cfg: no allocation of stage_space lies within the FLOPs band of '
                             f'reference_allocation {self.reference_allocation} +- flops_tolerance '
                             f'{self.flops_tolerance}')
        if self.max_stage_candidates is not None and len(kept) > self.max_stage_candidates:
            chosen = set(seeded_subset(kept, self.max_stage_candidates, self.seed, _SCORE_STREAM))
            kept = pool.filter_candidates(lambda c: c in chosen)
            print_log(f'[stage search] scoring a seeded sample of {len(kept)} (max_stage_candidates)',
                      logger='current')
        evaluate = self.path_evaluator(self.stage_space, None)
        self.run_step('stage_search', pool, lambda c: evaluate(c, 0), self._describe_allocation, evaluate,
                      f'train_cfg.stage_iters={self.stage_iters}')

    def _describe_allocation(self, path: tuple) -> str:
        flops = self.flops.get(tuple(path))
        return f'stage_blocks={self.stage_space.values(path)}' + (f' {flops / 1e9:.3f} GFLOPs' if flops else '')

    def _describe_dilations(self, path: tuple) -> str:
        return f'dilations={self.dilation_space.values(path)}'
