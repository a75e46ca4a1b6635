"""``PCNASLoop``: PC-NAS, one-shot search with a progressively shrinking partial-model pool (METHODS.md §4).

Stage i (i = 1 … L) trains the supernet sampling layers < i from the pool and the rest uniformly, then extends every
pool entry by every operator of layer i and keeps the K candidates of highest *potential*: the mean search-split
accuracy of S uniform completions, completions over the latency (or FLOPs) limit skipped and redrawn (of lowest
potential for a lower-is-better ``metric_key``, ``train_cfg.metric_rule='less'``).
"""
from __future__ import annotations

import itertools
import logging
import math
import os.path as osp
from collections.abc import Sequence

from mmengine.logging import print_log

from automl_mm.engine.evaluate import kept_global_rngs
from automl_mm.engine.runner_checks import checked_config
from automl_mm.registry import LOOPS, SAMPLERS
from automl_mm.utils.checks import as_count
from automl_mm.utils.config_text import config_literal

from .accumulation import check_phase_accumulation
from .base import _build_named, build_path_space, check_sampler_cfg, with_default_type
from .beam import PartialArchitecturePool
from .final_architecture import architecture_calls
from .latency import DEFAULT_LATENCY_THREADS, FlopsTable, LatencyTable, model_channels_last, model_head
from .loop import SearchLoopBase
from .resume_checks import PCNASResumeChecks
from .retrain_export import (
    backbone_fragment_text,
    backbone_scope,
    check_backbone_exportable,
    check_retrain_backbone,
    check_retrain_config,
    retrain_config_snapshot,
    search_backbone,
)
from .retrain_input import check_retrain_input
from .samplers import PoolPathSampler, check_completion_sampler, completion_sampler_setting
from .search_checks import check_schedule_span, check_scoring_counts, check_search_length
from .search_log import format_table, score_text, unscored_reasons, warn

_SCORE_STREAM = 7919  # key of PC-NAS's scoring streams (utils/seeding domain 'nas.score')


@LOOPS.register_module()
class PCNASLoop(PCNASResumeChecks, SearchLoopBase):
    """The PC-NAS search as an mmengine train loop (``train_cfg=dict(type='PCNASLoop', ...)``).

    Args:
        runner: The mmengine runner (its model holds an ``MBConvSupernet``-like supernet).
        dataloader: Supernet training data.
        stage_iters: Training iterations of each stage (L stages, one per mixed layer). The search trains
            ``warmup_iters + L * stage_iters`` iterations in all (L read from the space); an iteration-based cosine
            ``param_scheduler`` without ``T_max`` / ``end`` anneals over exactly those, an explicit one that
            disagrees is refused (:func:`~automl_mm.nas.search_checks.check_schedule_span`).
        warmup_iters: Uniform single-path iterations before stage 1.
        pool_size: K, partial models kept per stage.
        num_samples: S, completions averaged into a candidate's potential.
        batches_per_sample: Search-split mini-batches per completion (``None``: the whole split).
        space: Path space config; defaults to ``LayerwiseSpace`` (read from the supernet).
        sampler: The pool-restricted sampler config (``PoolPathSampler`` or a user-registered subclass); its
            ``space`` and ``pool`` are the search's (set in the config they are refused).
        completion_sampler: The sampler config of the scored completions (``UniformPathSampler``): its
            ``max_tries`` (rejection draws per completion over the cost limit) and ``enumerate_limit`` (prefixes
            with at most this many completions are sampled exactly, e.g. in the later stages). A ``space``,
            ``sampler`` or ``completion_sampler`` dict without ``type`` is its default type's
            (:func:`~automl_mm.nas.base.with_default_type`: ``completion_sampler=dict(max_tries=100)``).
        latency_table: A table from ``tools/measure_latency.py``; with ``latency_limit`` (ms) bounds completions.
            It must have timed the model's classifier head (refused otherwise: its latencies were the backbone's).
        latency_limit: Maximum latency in ms of a completion.
        latency_num_threads: The torch thread count the ``latency_table`` must have been timed with
            (``tools/measure_latency.py --num-threads``; default 1, the tool's default): a table of another count is
            refused, naming this key and both counts (its per-op latencies are another count's).
        flops_limit: Maximum FLOPs of a completion (an alternative to latency), counted by mmengine.
        input_shape: ``(N, C, H, W)`` the FLOPs are counted at, per image (N is ignored; default: the latency
            table's).
        retrain_config: The config that trains an architecture from scratch; the exported config inherits it.
        max_iters: Leave it out: the search's length is derived (above); one other than it is refused, naming
            ``warmup_iters`` / ``stage_iters`` (it stopped the build with a ``TypeError`` naming no key).
        **kwargs: ``search_dataloader``, ``search_evaluator``, ``metric_key``, ``metric_rule``,
            ``bn_recalibration_batches``,
            ``checkpoint_interval_s``, ``seed``, ``out_dir`` of :class:`SearchLoopBase`.

    Raises:
        ValueError: naming the ``train_cfg`` key, before training: ``stage_iters`` / ``warmup_iters`` not ints
            >= 0 or both 0, a ``max_iters`` other than the derived length, ``num_samples`` / ``batches_per_sample``
            / ``pool_size`` not ints >= 1, a cosine
            ``param_scheduler`` whose span disagrees with the search's iterations, a supernet of one architecture
            (``model.backbone.arch`` set), a ``retrain_config`` that is
            missing, trains with a search loop or has another backbone, ``latency_limit`` together with
            ``flops_limit``, a limit that is not a number or is <= 0, an ``input_shape`` that is not
            ``(N, C, H, W)``, a ``latency_table`` that did not time the model's head (or timed another) or was timed in
            another memory layout than ``model.channels_last`` or with another thread count than
            ``latency_num_threads``, or a ``sampler`` / ``completion_sampler`` config that sets the space or pool
            the loop owns.
        TypeError: a ``sampler`` that is not a ``PoolPathSampler`` or a ``completion_sampler`` that is not a
            ``UniformPathSampler``.
    """

    def __init__(self, runner, dataloader, stage_iters: int, warmup_iters: int = 0, pool_size: int = 5,
                 num_samples: int = 10, batches_per_sample: int | None = None, space: dict | None = None,
                 sampler: dict | None = None, completion_sampler: dict | None = None, latency_table: str | None = None,
                 latency_limit: float | None = None, flops_limit: float | None = None,
                 input_shape: Sequence[int] | None = None, retrain_config: str | None = None,
                 latency_num_threads: int = DEFAULT_LATENCY_THREADS, max_iters: int | None = None,
                 **kwargs) -> None:
        self.space = build_path_space(with_default_type(space, 'LayerwiseSpace'), 'train_cfg.space')
        self.supernet = self.space.bind(runner.model)
        if sum(1 for _ in itertools.islice(self.space.completions(()), 2)) <= 1:
            # at most one valid path, told from the first two (size() enumerates a constrained space: a
            # LayerwiseSpace subclass with its own is_valid over 20 layers of 8 operators never returned)
            # an `arch` (the retrain configs' key, e.g. `--cfg-options model.backbone.arch=[...]`) builds one
            # stand-alone network: the search trained it and exported it as found, silently -> refused. A supernet
            # given one candidate per layer on purpose (`ops=['k3e3']`) trains as the plain run of that network
            # (tests/test_nas/test_pc_nas_equals_plain_run.py checks the loop so) -> said, not refused.
            arch = ((checked_config(runner).get('model') or {}).get('backbone') or {}).get('arch')
            one = self.space.values([0] * self.space.num_decisions)
            if arch is not None:
                raise ValueError(f'train_cfg.space: the supernet holds one architecture, {one}, so there is nothing '
                                 f'to search; model.backbone.arch={list(arch)!r} builds that one network (the '
                                 "retrain configs' key): leave it out of a search config")
            print_log(f'train_cfg.space: the supernet holds one architecture, {one}: the search trains it as a '
                      'plain run would and exports it; give its layers more than one candidate to search',
                      logger='current', level=logging.WARNING)
        num_layers = self.space.num_decisions
        stage_iters = as_count(stage_iters, 'train_cfg.stage_iters')
        warmup_iters = as_count(warmup_iters, 'train_cfg.warmup_iters')
        check_scoring_counts(num_samples, batches_per_sample)
        total_iters = int(warmup_iters) + num_layers * int(stage_iters)
        if total_iters == 0:  # every potential would be read from the untrained supernet, and a pool exported
            raise ValueError('train_cfg.warmup_iters and train_cfg.stage_iters are both 0: the search would score '
                             'an untrained supernet; train it for at least one iteration')
        derivation = f'warmup_iters={int(warmup_iters)} + {num_layers} layers x stage_iters={int(stage_iters)}'
        check_search_length(max_iters, total_iters, derivation, 'PCNASLoop',
                            'train_cfg.warmup_iters / train_cfg.stage_iters')
        cfg = checked_config(runner)  # what the runner runs: Runner(param_scheduler=..., cfg=dict(...)) too
        check_schedule_span(cfg.get('param_scheduler'), total_iters, derivation)
        check_phase_accumulation(cfg.get('optim_wrapper'), [('train_cfg.warmup_iters', int(warmup_iters)),
                                                            ('train_cfg.stage_iters', int(stage_iters))])
        super().__init__(runner, dataloader, max_iters=total_iters, **kwargs)
        self.stage_iters = int(stage_iters)
        self.warmup_iters = int(warmup_iters)
        self.num_samples = int(num_samples)
        self.batches_per_sample = batches_per_sample
        # the retrain config and the latency table are read by each rank: a refusal on one is agreed on by all
        with self.agreed_start_checks('the start checks of train_cfg (retrain_config, latency_table, the cost limit)'):
            self.retrain_config = check_retrain_config(retrain_config)
            check_backbone_exportable((cfg.get('model') or {}).get('backbone'), 'PCNASLoop',
                                      backbone_scope(runner))
            check_sampler_cfg(sampler, 'train_cfg.sampler', 'train_cfg.space',
                              owned=dict(pool='each stage\'s pool of partial architectures'))
            check_sampler_cfg(completion_sampler, 'train_cfg.completion_sampler', 'train_cfg.space')
            self.sampler = _build_named(SAMPLERS, with_default_type(sampler, 'PoolPathSampler'), 'train_cfg.sampler')
            if not isinstance(self.sampler, PoolPathSampler):
                raise TypeError(f'train_cfg.sampler must build a PoolPathSampler, got {type(self.sampler).__name__}')
            self.sampler.space = self.space
            self.uniform = check_completion_sampler(
                _build_named(SAMPLERS, with_default_type(completion_sampler, 'UniformPathSampler'),
                             'train_cfg.completion_sampler'))
            self.uniform.space = self.space
            self.pool = PartialArchitecturePool(self.space, pool_size, 'train_cfg.pool_size', self.metric_rule)
            self.latency_num_threads = as_count(latency_num_threads, 'train_cfg.latency_num_threads', 1)
            self.cost_table, self.cost_limit, self.cost_name = self._build_cost(latency_table, latency_limit,
                                                                                flops_limit, input_shape)
            self._check_retrain_layout()
            self.retrain_checked = retrain_config_snapshot(self.retrain_config)  # compared at the export
            self._search_chw: list[int] | None = None  # set by check_cost_input: the retrain input is compared with it
            self._check_cost_limit('latency_limit' if latency_limit is not None else 'flops_limit')
        self.results: list[dict] | None = None

    def _check_retrain_layout(self) -> None:
        """Refuse a ``retrain_config`` whose backbone is another supernet than the searched one: the export writes
        only ``arch`` over it (a search with other widths exported a network of the retrain config's widths, one
        with ReLU a network with ReLU6; ``check_retrain_backbone``). A runner without the searched backbone's config
        (:func:`~automl_mm.nas.retrain_export.search_backbone`, which the export writes over) is refused here, at the
        start: it failed at the export, after the whole search."""
        check_retrain_backbone(self.retrain_config, search_backbone(self.runner, 'PCNASLoop'), ('arch',),
                               scope=backbone_scope(self.runner))

    def _build_cost(self, table_file, latency_limit, flops_limit, input_shape) -> tuple:
        """The cost table bounding the search, its limit and its name; the FLOPs table of the final pool's report.

        Every setting is checked here, before training: a limit that is not a number or is NaN (every completion
        was refused, and the first stage ended the search after its training with "no candidate had a completion
        within the cost limit"), and an ``input_shape`` the supernet cannot run (without ``flops_limit`` it was
        read only to report the final pool's FLOPs, after the whole search).
        """
        if latency_limit is not None and flops_limit is not None:
            raise ValueError('train_cfg: give latency_limit or flops_limit, not both')
        for key, limit in (('latency_limit', latency_limit), ('flops_limit', flops_limit)):
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                      or math.isnan(limit)):
                raise ValueError(f'train_cfg.{key} must be a number, got {limit!r}')
            if limit is not None and limit <= 0:  # costs are positive: over a constrained space this admitted
                # no completion, and the search ended after its first stage's training
                raise ValueError(f'train_cfg.{key} must be > 0 (a cost no architecture can be under), got {limit!r}')
        if input_shape is not None:
            if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) \
                    or len(input_shape) != 4:
                raise ValueError(f'train_cfg.input_shape must be (N, C, H, W), e.g. (1, 3, 224, 224), got '
                                 f'{input_shape!r}')
            input_shape = [as_count(v, f'train_cfg.input_shape {list(input_shape)}: each size', 1)
                           for v in input_shape]
        latency = None
        if table_file is not None:
            latency = LatencyTable.from_file(table_file)
            shape = input_shape or latency.input_shape
            try:
                matches = latency.matches(self.supernet, shape)
            except ValueError as err:  # a shape the supernet cannot run (e.g. another channel count)
                raise ValueError(f'train_cfg.input_shape {list(shape)}: {err}') from None
            if not matches:
                raise ValueError(f'train_cfg.latency_table {table_file} was measured for another supernet or input '
                                 f'shape than {list(shape)}; re-run tools/measure_latency.py')
            # a table that did not time the classifier admitted networks over latency_limit by the head's time
            latency.check_head(model_head(self.runner.model, self.supernet), f'train_cfg.latency_table {table_file}')
            # a table timed in NCHW gave a model running NHWC (model.channels_last) another layout's latencies
            latency.check_layout(model_channels_last(self.runner.model), f'train_cfg.latency_table {table_file}')
            # a table timed with 16 threads gave other per-op latencies than one of 1, and admitted other paths
            latency.check_threads(self.latency_num_threads, f'train_cfg.latency_table {table_file}')
        shape = input_shape or (latency.input_shape if latency is not None else None)
        self.input_shape = list(shape) if shape is not None else None
        self._input_shape_given = input_shape is not None
        self.latency_table = latency  # reported for the final pool whichever cost bounds the search
        self.flops_table = None
        if shape is not None:
            try:
                self.flops_table = FlopsTable.from_supernet(self.supernet, shape)
            except ValueError as err:
                key = 'train_cfg.input_shape' if input_shape else f'the shape of train_cfg.latency_table {table_file}'
                raise ValueError(f'{key} {list(shape)}: the supernet\'s FLOPs cannot be counted at it: {err}') \
                    from None
        if latency_limit is not None:
            if latency is None:
                raise ValueError('train_cfg.latency_limit needs train_cfg.latency_table (tools/measure_latency.py)')
            return latency, float(latency_limit), 'latency_ms'
        if flops_limit is not None:
            if shape is None:
                raise ValueError('train_cfg.flops_limit needs train_cfg.input_shape, e.g. (1, 3, 224, 224)')
            return self.flops_table, float(flops_limit), 'flops'
        return latency, None, 'latency_ms' if latency is not None else None

    def cost_range(self) -> tuple[float, float]:
        """The lowest and highest cost of any architecture of the (layer-wise independent) space.

        The cost is additive over layers, so each layer's option costs are read off paths that differ from path 0
        in that layer only.
        """
        base = tuple(0 for _ in range(self.space.num_decisions))
        base_cost = self.cost_table.cost(self.supernet, base)
        low = high = base_cost
        for layer in range(self.space.num_decisions):
            deltas = [self.cost_table.cost(self.supernet, base[:layer] + (o, ) + base[layer + 1:]) - base_cost
                      for o in range(self.space.num_options(layer))]
            low, high = low + min(deltas), high + max(deltas)
        return low, high

    def _check_cost_limit(self, key: str) -> None:
        """Before training: a limit no architecture meets is an error naming the key and the reachable range."""
        if self.cost_limit is None or not self.space.independent:
            return
        low, high = self.cost_range()
        if low > self.cost_limit:
            raise ValueError(f'train_cfg.{key}={self.cost_limit:g} is below every architecture of the space: '
                             f'{self.cost_name} reaches from {low:g} to {high:g}')

    def check_cost_input(self) -> None:
        """Refuse costs counted at another image size than the supernet runs at: the first batch of the search
        split, through the model's ``data_preprocessor``, must reach the network as the ``(C, H, W)`` the FLOPs and
        latency tables were made for (``train_cfg.input_shape``, or the latency table's). A digits search whose
        images were set to 32 px kept the 16 px ``input_shape``: its FLOPs limit admitted paths by a quarter of
        their cost, and the final pool reported those figures. Batches of images of different sizes (a list, e.g.
        detection) are not compared. The retrain config's images must reach the network at the same size too
        (:func:`~automl_mm.nas.retrain_input.check_retrain_input`: refused with costs, warned about without).

        Raises:
            ValueError: naming the key, both shapes and the split; or ``train_cfg.retrain_config``, its loader and
                both shapes.
        """
        model = getattr(self.runner.model, 'module', self.runner.model)
        with kept_global_rngs():  # a pass over a loader draws its seed from torch's: the training must not see it
            batch = next(iter(self.held_out.build(self.runner).loader))
            inputs = model.data_preprocessor(batch, False)['inputs']
        if not hasattr(inputs, 'shape') or inputs.dim() != 4:
            return
        runs = [int(v) for v in inputs.shape[1:]]
        key = None if self.input_shape is None else \
            'train_cfg.input_shape' if self._input_shape_given else 'the input_shape of train_cfg.latency_table'
        if key is not None and runs != [int(v) for v in self.input_shape[1:]]:
            raise ValueError(f'{key} {list(self.input_shape)}: the search split\'s images reach the network as '
                             f'(C, H, W) = {tuple(runs)}, not {tuple(self.input_shape[1:])}: the cost limit and the '
                             f'reported FLOPs / latency would be those of another input size; set '
                             f'train_cfg.input_shape to (1, {", ".join(map(str, runs))}) (and measure the latency '
                             'table at it)')
        self._search_chw = runs
        self._check_retrain_input()

    def _check_retrain_input(self) -> None:
        """The retrain config's images against the search split's (:meth:`check_cost_input`)."""
        if self._search_chw is None:
            return
        key = None if self.input_shape is None else \
            'train_cfg.input_shape' if self._input_shape_given else 'the input_shape of train_cfg.latency_table'
        model = getattr(self.runner.model, 'module', self.runner.model)
        check_retrain_input(self.retrain_config, self._search_chw, key, model.data_preprocessor)

    def _recheck_retrain(self) -> None:
        """The start's checks of ``train_cfg.retrain_config`` again, at the export where the file was edited during
        the search (:meth:`~automl_mm.nas.loop.SearchLoopBase.retrain_config_exportable`): not a search loop, the
        searched supernet, the image size."""
        check_retrain_config(self.retrain_config)
        self._check_retrain_layout()
        self._check_retrain_input()

    # --- state ------------------------------------------------------------------------------------------------
    def search_state_dict(self) -> dict:
        return {'pool': self.pool.state_dict(), 'results': self.results}

    def load_search_state_dict(self, state: dict) -> None:
        """Restore :meth:`search_state_dict`'s state, checking the cost constraint it was searched under
        (:meth:`~automl_mm.nas.resume_checks.PCNASResumeChecks.check_resumed_cost_limit`).

        Raises:
            ValueError: a stage has finished (or the search has a result) and a cost setting differs, naming its
                config key and both values.
        """
        self.pool.load_state_dict(state['pool'])
        self.results = state.get('results')
        self.check_resumed_cost_limit(state)

    def search_pools(self) -> list[PartialArchitecturePool]:
        return [self.pool]

    def architecture_calls(self) -> list[list]:
        """``[['set_arch', op names]]``: the searched operators by name (``MBConvSupernet.set_arch``), so a final
        checkpoint tested under a config listing the same ``ops`` in another order runs them (option indices, which
        the weights keyed by name do not pin, ran other operators there); ``[['set_path', indices]]`` for a
        supernet of one's own without ``set_arch``."""
        if callable(getattr(self.supernet, 'set_arch', None)):
            return [['set_arch', list(self.supernet.arch_names())]]
        return architecture_calls(self.supernet, ('set_path', ), ('path', ))

    def scoring_settings(self) -> dict:
        """:meth:`SearchLoopBase.scoring_settings`, ``num_samples``, ``batches_per_sample``, the completion sampler
        (:func:`~automl_mm.nas.samplers.completion_sampler_setting`) and what decides which completions a potential
        admits: the cost limit and, under ``latency_limit``, the latency table's costs
        (``train_cfg.latency_table``: a digest of its entries, :meth:`~automl_mm.nas.latency.CostTable.digest`, with
        the device it names; a table measured again or on another device admits other completions), under
        ``flops_limit`` the per-image input shape the FLOPs are counted at (``train_cfg.input_shape``, C, H, W)."""
        limit = {'train_cfg.latency_limit': None, 'train_cfg.flops_limit': None}  # completions a potential admits
        if self.cost_limit is not None:
            limit['train_cfg.' + ('latency_limit' if self.cost_name == 'latency_ms' else 'flops_limit')] = \
                self.cost_limit
            if self.cost_name == 'latency_ms':
                limit['train_cfg.latency_table'] = {'digest': self.cost_table.digest(),
                                                    'device': self.cost_table.meta.get('device')}
            else:
                limit['train_cfg.input_shape'] = self.cost_table.input_shape[1:]
        return {**super().scoring_settings(), 'train_cfg.num_samples': self.num_samples,
                'train_cfg.batches_per_sample': self.batches_per_sample,
                'train_cfg.completion_sampler': completion_sampler_setting(self.uniform), **limit}

    # --- the search -------------------------------------------------------------------------------------------
    def admits(self, path: tuple) -> bool:
        return self.cost_limit is None or self.cost_table.cost(self.supernet, path) <= self.cost_limit

    def run(self):
        runner = self.runner
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        # the search split and the retrain config as this rank reads them, the resumed state as it loaded it
        with self.agreed_start_checks('the start checks of the search split, the cost input and the resumed phases'):
            self.check_search_batches(self.batches_per_sample)
            self.check_cost_input()
            settings = f'train_cfg.warmup_iters={self.warmup_iters}, train_cfg.stage_iters={self.stage_iters}'
            begun = self.pool.candidate_list is not None or bool(self.pool.scores)  # the pending step, after a resume
            self.check_resumed_phase(self.warmup_iters, self.pool.num_decided > 0 or begun, 'warm-up', settings,
                                     cut_short=False)  # stage 1 trains on from the warm-up's end
        self.train_until(self.warmup_iters, self.space, self.uniform)
        evaluate = self.path_evaluator(self.space, self.batches_per_sample)
        for stage in range(self.space.num_decisions):
            if self.pool.num_decided > stage:
                continue  # finished before a resume
            with self.agreed_start_checks(f'the resumed phase checks of stage {stage + 1}'):
                self.check_resumed_phase(self.warmup_iters + (stage + 1) * self.stage_iters,
                                         self.pool.candidate_list is not None or bool(self.pool.scores),
                                         f'stage {stage + 1}', settings)
                self._check_stage_iterations(settings)
            self.sampler.set_pool(self.pool.pool)
            self.train_until(self.warmup_iters + (stage + 1) * self.stage_iters, self.space, self.sampler)
            self.pool.candidates()
            score = self.potential_scorer(self.pool, self.uniform, evaluate, self.num_samples, _SCORE_STREAM,
                                          self.admits)
            self.run_step(f'stage{stage + 1}', self.pool, score, self.describe, evaluate, settings)
        with self.agreed_start_checks('the resumed phase checks after the last stage'):
            self._check_stage_iterations(settings)  # a resume after the last stage too
        if self.results is None:
            self.results = self._final_results()
            self.save_search_checkpoint('final')
        self._export()
        self.finish(lambda: self.space.apply(tuple(self.results[0]['path']), runner.model))
        runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')
        return runner.model

    def _check_stage_iterations(self, settings: str) -> None:
        """Stage k's step (k = 0 for stage 1) scored where this run's phase lengths end its training
        (:meth:`~automl_mm.nas.resume_checks.SearchResumeChecks.check_step_iterations`)."""
        self.check_step_iterations(self.pool, lambda k: self.warmup_iters + (k + 1) * self.stage_iters,
                                   lambda k: f'stage {k + 1}', settings)

    def describe(self, path: tuple) -> str:
        names = self.supernet.arch_names(path) if len(path) == self.space.num_decisions else \
            [*self.space.values(path), '...']
        return ' '.join(names)

    def _final_results(self) -> list[dict]:
        history = self.pool.history[-1]
        scores = {tuple(c): s for c, s in history['candidates']}
        reasons = unscored_reasons(history, self.pool.rule)
        flops = self.flops_table  # counted at start (None without an input shape)
        out = []
        for path in self.pool.pool:
            entry = {'path': list(path), 'arch': self.supernet.arch_names(path), 'potential': scores[path]}
            if path in reasons:  # kept under 'less' without a score (+inf: None), or scored 0 without metrics
                entry['no_score' if scores[path] is None else 'note'] = reasons[path]
            if self.latency_table is not None:
                entry['latency_ms'] = self.latency_table.latency(self.supernet, path)
            if flops is not None:
                entry['flops'] = flops.flops(self.supernet, path)
            out.append(entry)
        return out

    def _export(self) -> None:
        keys = [k for k in ('latency_ms', 'flops') if k in self.results[0]]
        rows = [[i + 1, score_text(r['potential'], r.get('no_score') or r.get('note')), *[r[k] for k in keys],
                 ' '.join(r['arch'])] for i, r in enumerate(self.results)]
        print_log('PC-NAS final pool\n' + format_table(['rank', 'potential', *keys, 'arch'], rows), logger='current')
        self.write_json('pc_nas_result.json', {
            'metric_key': self.metric_key, 'metric_rule': self.metric_rule, 'cost_limit': self.cost_limit,
            'cost': self.cost_name,
            'final_pool': self.results, 'history': self.pool.history})
        best = self.results[0]
        # the stand-alone network as a backbone config (the search's backbone with the searched arch)
        backbone = dict(search_backbone(self.runner, 'PCNASLoop'), arch=list(best['arch']))
        self.write_text('pc_nas_backbone.py', backbone_fragment_text(
            f'PC-NAS searched backbone (potential {best["potential"]:.4f}, {self.metric_key})', backbone,
            backbone_scope(self.runner)))
        if self.retrain_config is None:
            # a pc_nas_final_config.py holding the arch override alone was written: it named no model type, data
            # or schedule, and failed when trained
            warn('train_cfg.retrain_config is not set: only the backbone fragment is exported '
                 '(search/pc_nas_backbone.py)')
            self.remove_output('pc_nas_final_config.py')  # another search's, of another architecture
            self.remove_output('pc_nas_retrain_config.py')
            return
        if not self.retrain_config_exportable('pc_nas_final_config.py', self._recheck_retrain):
            return  # edited during the search and refused now: raised by finish()
        override = f'model = dict(backbone=dict(arch={config_literal(best["arch"], width=10**6)}))'
        self.write_final_config('pc_nas_final_config.py', override, (
            f'PC-NAS result of {osp.basename(self.runner.cfg.filename or "config")}: potential '
            f'{best["potential"]:.4f} ({self.metric_key}); trains the architecture from scratch.'))

