"""What a search loop scores candidates with: the search split's evaluator, the training batches BN statistics are
re-estimated on, and the settings a candidate's score depends on (saved with the search state; a resume in the middle
of a step compares them).

:class:`ScoringSetup` is a base of :class:`~automl_mm.nas.loop.SearchLoopBase` (so of ``PCNASLoop`` and
``CRNASLoop``); :data:`BN_POOL_RANKS` is still importable from :mod:`automl_mm.nas.loop`, its former home.
"""
from __future__ import annotations

from collections.abc import Callable

from mmengine.dist import get_world_size

from automl_mm.engine.evaluate import HeldOutEvaluator, build_local_loader, first_configured, fixed_batches
from automl_mm.engine.local_loader import per_epoch_items
from automl_mm.engine.runner_checks import checked_config
from automl_mm.utils.checks import loader_setting, plain_config, resolve_config_paths

from .base import BasePathSpace
from .beam import PartialArchitecturePool
from .samplers import UniformPathSampler
from .scoring import PathEvaluator, candidate_scorer, check_batches_per_sample, new_readings

#: The :meth:`ScoringSetup.scoring_settings` key of the world size, recorded with BN re-estimation under
#: ``train_dataloader.num_batch_per_epoch``: the set its batches are drawn from is the ``num_batch_per_epoch ×
#: batch_size × world size`` items training reads, other images on another number of ranks unless that slice holds
#: the whole set on both (:meth:`ScoringSetup.bn_pool_items`).
BN_POOL_RANKS = 'world size'


class ScoringSetup:
    """The search split, the BN re-estimation batches and the scoring settings of a search loop (a mixin of
    :class:`~automl_mm.nas.loop.SearchLoopBase`, which sets ``held_out``, ``metric_key``, ``metric_rule``,
    ``bn_recalibration_batches``, ``seed`` and ``readings``)."""

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

