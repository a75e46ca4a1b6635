"""``OHLHook``: online hyper-parameter learning over N model copies, inside an mmengine training run.

Per trunk (K iterations or E epochs), on every rank (METHODS.md §1):

1. ``begin_trunk``: each space draws (per copy) or publishes (per item) its samples. Right before a batch is
   loaded at every trunk start, epoch start (epoch loops) or iteration (iteration loops), this rank's Python,
   numpy and torch RNGs are re-derived from (seed, copy, rank, trunk, epoch, iteration), so a resumed run draws
   exactly what an uninterrupted one draws.
2. Training runs as usual; per-item spaces count the choices they applied after every iteration (only those drawn
   from this trunk's θ).
3. ``end_trunk``: the ranks of each copy read the reward split together (each its block of batches, with the
   lead's buffers), the lead gets the reward (:class:`~automl_mm.ohl.reward.RewardScorer`) → all-gather [reward, valid,
   statistics] (statistics of per-item spaces summed over a copy's ranks) → the same controller step on every
   rank → the best copy's model, optimiser, schedulers, EMA and loss scaler are broadcast from its lead rank
   (every trunk by default; every ``broadcast_interval`` trunks, the last trunk and any trunk with a diverged copy
   otherwise) → history, plots and exported policy are written by rank 0. A run that ends inside a trunk ends that trunk
   (marked ``partial``) before the last checkpoint is saved, so the saved model is the best copy.

The hook holds the search's state and sequences these steps; each lives in its own module: the constructor's
argument checks and the naming of the hook at its config key in :mod:`.hook_args`, the spaces' resolve and setup
in :mod:`.space_setup`, when trunks begin inside epochs and which trunk ends broadcast in :mod:`.trunk`, random
streams in :mod:`.segments`, a trunk's start (the spaces' draws held against the constructors' relations, then
written) in :mod:`.trunk_start`, a trunk's end (the rewards read and settled, the controllers
stepped, the best copy broadcast, the history record, report and log line) in :mod:`.trunk_end`, the reward and
the best copy in :mod:`.reward`, the broadcast in :mod:`.sync`, the weight fingerprint in :mod:`.fingerprint`,
the ranks' agreement check in :mod:`.copy_verification`, schedule checks in :mod:`.checks`, outputs in
:mod:`.report`. What a checkpoint holds of the search, what a resume checks before loading it and the ranks'
agreement on what they loaded are in :mod:`.resume`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.dist import is_distributed
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from automl_mm.engine.rank_failures import stopping_together
from automl_mm.engine.run_info import naming_hook_in_config, run_seed
from automl_mm.registry import HOOKS
from automl_mm.utils.scope import building_key
from automl_mm.utils.seeding import as_seed
from automl_mm.utils.wording import a_type

from . import hook_args, resume, space_setup, trunk_end, trunk_start
from .attributes import establish_base_targets
from .base import build_controller, build_ohl_space
from .checks import (
    check_accumulation,
    check_checkpoint_schedule,
    check_train_setup,
    check_trunk_fits,
    check_val_schedule,
)
from .constructor_relations import check_choice_relations
from .copies import _NO_RUNNER, CopyDataParallel, check_copy_counts
from .hook_args import check_hook_arguments
from .pipeline_space import link_magnitude_writers
from .plugin_returns import check_plugin_returns
from .report import OHLReport
from .resume import search_settings as search_settings  # importable from here as before the split
from .reward import RewardScorer, has_loss_scaler
from .segments import SegmentStart, seed_global_rngs, segment_seeds
from .sync import broadcast_copy_state
from .trunk import LateTrunkStart as LateTrunkStart  # importable from here as before the split
from .trunk import add_late_trunk_start
from .trunk import restart_workers as restart_workers  # importable from here as before the split
from .write_order import check_replay_hooks, check_search_order


@HOOKS.register_module()
class OHLHook(Hook):
    """Learn distributions over hyper-parameters online, with one model copy per rank (or group of ranks).

    A resume (``resume=True``) continues the checkpoint's search: θ, the controllers' optimiser state and baseline,
    the trunk counter and the history. What they were produced under is saved with them, and a resume whose
    config changes it is refused before anything is loaded, naming the config key (``custom_hooks[N].<key>``) and
    both values (start a new search from the weights with ``load_from`` instead):

    * the layout and trunks: ``num_copies``, ``ranks_per_copy``, ``trunk_epochs`` / ``trunk_iters``, a ``seed``
      set to another value;
    * each space's choices (``OHLSpace.signature``: θ's coordinates would name other choices);
    * ``controller.type`` (e.g. ``REINFORCE`` resumed as ``FrozenController`` turned a learned arm into the random
      control mid-run), ``controller.optimizer`` (type, lr, betas, ...: torch puts the saved ones back),
      ``controller.baseline`` (what the saved baseline is), ``controller.normalize`` (the advantages' units, in
      which the optimiser's moments were accumulated) and ``controller.entropy_weight`` (part of what θ ascends);
    * each distribution's type and shape (``spaces.i.distribution.type``, ``num_choices``, ``factor_sizes``),
      ``DiagGaussian``'s ``learn_std`` and its fixed ``std`` (p_θ = N(μ, σ²): μ was learned under that σ and the
      optimiser's moments hold gradients scaled by 1/σ²).

    A resume may change, with a warning naming the old and new value, what leaves the saved state's meaning intact
    and only steers the updates that follow: ``controller.momentum`` (the moving-average baseline's horizon; the
    saved baseline stays an average of mean rewards), ``controller.eps`` (a numerical guard) and a learned σ's
    ``min_std`` (its floor, applied at the next update). How the rewards are read is compared too
    (:meth:`reward_settings`): another ``reward_key``, reward split (its dataset as the files it names; not its
    batch size) or ``reward_evaluator`` is refused (the baselines average the old rewards), another
    ``bn_recalibration_batches`` or its loader is taken with a warning. Not compared: ``broadcast_interval``, the
    outputs (``plot``, ``out_dir``) and the model's own training settings (``optim_wrapper``, mmengine's).

    Each rank loads its own copy of the checkpoint (the file its ``work_dir`` holds). On several ranks, once every
    rank has passed these checks, the ranks compare what they loaded (:func:`~automl_mm.ohl.resume.ranks_alike_state`:
    θ and the controllers' state, trunk counter, seed, history and iteration; not the seconds each rank measured) and
    refuse together where they differ, naming each rank's file: a node's stale copy made its θ diverge from the
    others' from the first update on, silently. A single process compares nothing.

    Args:
        spaces: ``SEARCH_SPACES`` configs (``AttributeSpace``, ``PipelineChoiceSpace``, your own).
        controller: Controller config without its distribution (one controller is built per space), e.g.
            ``dict(type='REINFORCE')`` (Adam, lr 0.05, betas (0.5, 0.999)).
        num_copies: Number of model copies N. The world size must be ``num_copies * ranks_per_copy``; the runner
            (``runner_type='automl_mm.CopyRunner'``, ``configs/_base_/ohl_copies.py``) creates the copy layout.
        ranks_per_copy: Ranks that train one copy together (DDP inside the copy via ``CopyDataParallel``).
        reward_key: The metric that is the reward, e.g. ``'accuracy/top1'`` or ``'coco/bbox_mAP'``.
        reward_rule: ``'greater'`` (a higher ``reward_key`` is better), ``'less'`` (lower is better: a loss, an
            error, a distance) or ``None`` (default: inferred from ``reward_key`` as mmengine's
            ``CheckpointHook(save_best=..., rule=None)`` infers it, plus lower-is-better names such as ``mae``,
            ``mse``, ``EPE``, ``NME``, ``FID``, ``nll``, ``wer``, ``cer``, ``error``:
            :func:`~automl_mm.utils.metric_rule.infer_rule`; a key matching none is ``'greater'``). Under
            ``'less'`` the controller learns from the negated reward, the best copy is the one of the lowest
            reward and a diverged (or metric-less) copy gets a reward above the others (under either rule a
            metric-less copy's 0 stands only where it is no better than every reading); the history, logs and
            figures keep the reward as measured, with the rule (``reward_rule`` in ``history.json``). A resume
            with another rule is refused.
        reward_dataloader: Dataloader config of the reward split (held out from training; never the test split).
            Default: the config's top-level ``reward_dataloader`` (automl_mm's dataset bases define one).
        reward_evaluator: Metric config(s) computing the reward. Default: the config's ``reward_evaluator``, else
            its ``val_evaluator``.
        trunk_epochs: Trunk length in epochs (epoch-based loops).
        trunk_iters: Trunk length in iterations (give exactly one of the two).
        broadcast_interval: Broadcast the best copy every this many trunks (1: every trunk, the paper's and the
            default). Between broadcasts every copy keeps training its own weights while θ is still updated after
            every trunk from that trunk's rewards: a less greedy population, as in PBT's exploit interval. The
            last trunk of a run, a trunk that a validation follows (so the metric, ``save_best`` and early stopping
            see one model on every rank) and any trunk in which a copy diverged always broadcast, so the final model
            is the best copy and a diverged copy is repaired; a run stopped early broadcasts the last trunk's best.
            A trunk's reward then reflects each copy's choices since the last broadcast, while θ is credited to
            this trunk's samples only. Checkpoints must fall on broadcasting trunks
            (:func:`check_checkpoint_schedule`).
        worst_reward: Reward given to a copy whose loss, weights or buffers became non-finite; default: below the
            lowest finite reward of that trunk by the spread of the finite rewards (:func:`default_worst_reward`;
            above the highest under ``reward_rule='less'``). Such a copy is never chosen as the best; a value not
            worse than a trunk's worst valid reward (it would teach the controller the diverged copy's choices) is
            replaced there by the default, with a warning.
        seed: Base seed of the per-copy sampling and of the random streams the hook re-derives (each copy, rank
            and trunk derive their own from it). ``None`` (default): the run's seed (``randomness.seed``; mmengine
            draws one, the same on every rank, when it is not set), so runs that differ in ``randomness.seed`` also
            differ in their hyper-parameter draws and augmentations (with the former default 0 they drew the same).
            A non-negative int; a resume continues with the checkpoint's, and one configured differently is refused.
        verify_sync: All-gather θ and weight fingerprints after every update and fail loudly if the ranks
            disagree (cheap; turn off only for huge models).
        out_dir: Folder under ``work_dir`` for the history JSON, plots and the exported policy.
        plot: Write PNG plots (about ten times per run and after the last trunk; ``history.json`` and the
            exported policy are written at every trunk end regardless).
        bn_recalibration_batches: Before each copy's reward, re-estimate its BatchNorm running statistics on this
            many batches of ``bn_recalibration_dataloader`` (the same batches for every copy and trunk), read the
            reward with them, then put the copy's own statistics back: training is unchanged, only the reward
            (and so the best copy and θ's update) is. 0 (default) reads the reward with the statistics the copy
            trained with. Training on augmented batches moves those toward augmented images, which costs clean
            accuracy at once and so penalises strong policies in a one-trunk reward; on reduced Fashion-MNIST
            (``benchmarks/reward_horizon.py``, README) re-estimating them on the clean training images halved the
            one-trunk advantage of no augmentation over RandAugment pairs (+0.89 → +0.45 points) and lowered the
            noise of one reading from 1.14 to 0.66 points. Not in the paper.
        bn_recalibration_dataloader: Dataloader config of clean (un-augmented) training images for the above.
            Default: ``train_dataloader`` with its dataset's ``pipeline`` replaced by the config's top-level
            ``test_pipeline`` (the training images as the test split is read); ``bn_recalibration_batches``
            batches of a sample of its dataset seeded by the run's seed (not its first batches: a class-ordered
            set, e.g. an ImageFolder, gave a few classes; :func:`~automl_mm.engine.evaluate.fixed_batches`) are
            kept in memory for the whole run, on each copy's lead rank only (it alone re-estimates them). Given with
            ``bn_recalibration_batches=0`` (where it would never be read) it is refused.

    Attributes:
        config_key: The hook's config key, ``'custom_hooks[i]'`` where it is built from a config (the preflight's
            building check, ``CopyRunner``'s custom hooks: :func:`~automl_mm.utils.scope.building_at`) or, from
            ``before_run`` on, where the runner's config has it (a plain mmengine ``Runner``'s custom hooks:
            :meth:`take_config_key`), else ``'OHLHook'``; errors name the hook's arguments under it
            (``custom_hooks[0].spaces[1]``, ``custom_hooks[0].controller``), a space's resolve refusal included.

    Raises:
        ValueError: at construction, ``spaces`` not a non-empty list or with repeated names; not exactly one of
            ``trunk_epochs`` / ``trunk_iters``, or one that is not a positive int; ``broadcast_interval``,
            ``num_copies`` or ``ranks_per_copy`` not a positive int; an empty ``reward_key`` or ``out_dir``; a
            non-finite ``worst_reward``; ``verify_sync`` or ``plot`` not a bool; a bad ``seed``; a negative
            ``bn_recalibration_batches``, or its dataloader without batches; a space or controller config its class
            refuses. In ``before_train``, a runner without a copy layout, the schedule and hook-order checks of
            :mod:`automl_mm.ohl.checks`, and a ``SetAttributesHook`` / ``TrunkScheduleHook`` writing a path a space
            searches (:func:`~automl_mm.ohl.write_order.check_replay_hooks`), and spaces whose choices (in any
            combination) or Gaussian draws can break a relation a constructor checks between two settings
            (``min_mag <= max_mag``: :func:`~automl_mm.ohl.constructor_relations.check_choice_relations`); at a
            trunk start, once every space wrote and before the trunk's first batch, a pair so broken
            (:func:`~automl_mm.ohl.constructor_relations.check_relations`); on resume, changed search settings
            (see above).
        TypeError: a ``spaces`` entry that is not an OHL space or its config.
        RuntimeError: on resume on several ranks, on every rank, where the ranks loaded different search states
            (see above).
    """

    priority = 'BELOW_NORMAL'  # after the model's own updates, before the checkpoint hook saves
    repairs_non_finite = True  # a diverged copy gets the worst reward and the best copy's state (FiniteLossHook)

    def __init__(self,
                 spaces: Sequence[dict],
                 num_copies: int,
                 reward_key: str,
                 reward_dataloader: dict | None = None,
                 reward_evaluator: dict | list[dict] | None = None,
                 controller: dict | None = None,
                 ranks_per_copy: int = 1,
                 trunk_epochs: int | None = None,
                 trunk_iters: int | None = None,
                 broadcast_interval: int = 1,
                 worst_reward: float | None = None,
                 seed: int | None = None,
                 verify_sync: bool = True,
                 out_dir: str = 'ohl',
                 plot: bool = True,
                 bn_recalibration_batches: int = 0,
                 bn_recalibration_dataloader: dict | None = None,
                 reward_rule: str | None = None) -> None:
        # the hook's config key (custom_hooks[i], set by whoever builds it from a config), else its class: the name
        # of its arguments in errors (custom_hooks[0].spaces[1], custom_hooks[0].controller)
        where = self.config_key = building_key() or 'OHLHook'
        check_hook_arguments(where, spaces, reward_key, trunk_epochs=trunk_epochs, trunk_iters=trunk_iters,
                             broadcast_interval=broadcast_interval, worst_reward=worst_reward, out_dir=out_dir,
                             verify_sync=verify_sync, plot=plot)
        check_copy_counts(num_copies, ranks_per_copy)
        self.num_copies, self.ranks_per_copy = num_copies, ranks_per_copy
        self.layout = None  # the runner's CopyLayout, taken in before_train
        self.spaces = [build_ohl_space(s, f'{where}.spaces[{i}]') for i, s in enumerate(spaces)]
        names = [s.name for s in self.spaces]
        if len(set(names)) != len(names):
            raise ValueError(f'OHL space names must be unique, got {names}')
        self._controller_cfg = controller or dict(type='REINFORCE')
        self._resolved = False
        # each space's distribution state before any update (resolve_spaces; a resume carries the checkpoint's)
        self.initial_states: dict[str, dict] | None = None
        self.controllers = [build_controller(self._controller_cfg, s.distribution, f'{where}.controller')
                            if s.distribution is not None
                            else None for s in self.spaces]  # the others once their space is resolved
        self.scorer = RewardScorer(reward_key, reward_dataloader, reward_evaluator, bn_recalibration_batches,
                                   bn_recalibration_dataloader, reward_rule, where)
        self.trunk_epochs = trunk_epochs
        self.trunk_iters = trunk_iters
        self.broadcast_interval = broadcast_interval
        self.worst_reward = worst_reward
        self.seed = as_seed(seed, f'{where}.seed', allow_none=True)
        self._configured_seed = self.seed  # a resume must not replace it silently (after_load_checkpoint)
        self.verify_sync = verify_sync
        self.out_dir = out_dir
        self.plot = plot
        self.trunk = 0
        self.history: list[dict] = []
        self._trunk_start = 0.0
        self._in_trunk = False  # a trunk has begun and not ended (saved in checkpoints)
        self._merged_warned: set = set()  # the merged choices warned about (warn_merged_choices)
        self._trunk_iters = 0  # iterations trained in the running trunk (on this rank)
        self._nonfinite_losses = 0
        self._segment_pending = True
        self._start_pending = False  # a trunk ended inside an epoch; the next begins in LateTrunkStart
        self._iteration_loop = False
        self._uses_loss_scaler = False
        self._report: OHLReport | None = None

    def _named(self) -> str:
        """The start of a message about the hook as a whole: ``'custom_hooks[0] (OHLHook) '``, or ``'OHLHook '``
        where its config key is unknown."""
        name = type(self).__name__
        return f'{name} ' if self.config_key == 'OHLHook' else f'{self.config_key} ({name}) '

    @property
    def reward_key(self) -> str:
        """The metric that is the reward (held by :attr:`scorer`)."""
        return self.scorer.reward_key

    @property
    def reward_rule(self) -> str:
        """``'greater'`` or ``'less'``: whether a higher or a lower ``reward_key`` is the better copy."""
        return self.scorer.rule

    def take_config_key(self, runner) -> None:
        """Name the hook at its entry of ``runner.cfg.custom_hooks`` (``custom_hooks[i]``) where it was built without
        one: its errors from now on name ``custom_hooks[i].spaces[j]``, not ``OHLHook.spaces[j]``
        (:func:`~automl_mm.ohl.hook_args.take_config_key`)."""
        hook_args.take_config_key(self, runner)

    # ------------------------------------------------------------------------------------------ runner stages
    def before_run(self, runner) -> None:
        from automl_mm.engine.hooks import stand_down_loss_checks

        self.take_config_key(runner)

        stand_down_loss_checks(runner)  # mmdet's CheckInvalidLossHook: this hook repairs a diverged copy
        # the base-form optimiser targets' rules, before a resumed checkpoint's values replace the built ones; again
        # at a test() / val() after train() on this runner, where the rules read before training are kept
        establish_base_targets(runner, [path for space in self.spaces for path in getattr(space, 'targets', None)
                                        or []])

    def before_train(self, runner) -> None:
        self.take_config_key(runner)
        self.layout = getattr(runner, 'copy_layout', None)
        if self.layout is None:
            raise ValueError(f'{self._named()}needs {_NO_RUNNER}; the runner is {a_type(runner)}, which '
                             'creates no copy layout')
        if is_distributed() and not isinstance(runner.model, CopyDataParallel):
            raise ValueError(f'{self._named()}in a distributed run needs '
                             'model_wrapper_cfg=dict(type="automl_mm.CopyDataParallel"): '
                             f'{type(runner.model).__name__} would synchronise gradients across copies')
        self._iteration_loop = isinstance(runner.train_loop, IterBasedTrainLoop)
        add_late_trunk_start(runner, self, self._iteration_loop)  # trunk_iters ending inside epochs
        check_train_setup(runner, self.layout, self.trunk_epochs)
        check_accumulation(runner, self.layout, self.trunk_epochs, self.trunk_iters)
        check_trunk_fits(runner, self.trunk_epochs, self.trunk_iters)
        if self.seed is None:  # not restored by a resume: the run's seed (randomness.seed), rank 0's on every rank
            self.seed = run_seed(runner)
        check_checkpoint_schedule(runner, self.layout, self.trunk_epochs, self.trunk_iters, self.broadcast_interval)
        check_val_schedule(runner, self.layout, self.trunk_epochs, self.trunk_iters)
        self._uses_loss_scaler = has_loss_scaler(runner.optim_wrapper)
        held = self.scorer.held_out
        if held.dataloader_cfg:  # errors name the hook's own loader at its key: custom_hooks[N].reward_dataloader
            held.dataloader_key = resume.reward_loader_key(self, runner)
        # what one rank may fail in alone (a copy's lead alone loads the clean BN batches; the spaces' setup is plugin
        # code): its error stops every rank here, not at the copies' first broadcast below, which the others waited in
        with stopping_together('OHL: setting up the search (the reward split, the clean BN batches, the spaces)'):
            # the clean BN batches are the same every trunk and on every copy's lead (which alone reads them): loaded
            # once
            self.scorer.build(runner, self.layout.ranks_per_copy, self.seed, self.layout.is_lead)
            self.resolve_spaces(runner)
            if self.layout.num_copies == 1 and any(getattr(c, 'baseline_type', None) == 'mean' and
                                                   not getattr(c, 'entropy_weight', 0) for c in self.controllers):
                runner.logger.warning('OHL: one copy with the controller\'s mean baseline: every advantage is 0 and '
                                      'theta will not move. Use several copies, or baseline=\'moving_average\'')
            self.setup_spaces(runner)
            # overlapping paths written in the order their exports' replay writes them (automl_mm.ohl.write_order)
            check_search_order(runner, self.spaces)
            # every combination of the spaces' choices against the relations their constructors check
            check_choice_relations(runner, self.spaces)
            check_replay_hooks(runner, self.spaces)  # a SetAttributesHook / TrunkScheduleHook writing a searched path
            # an OHL-Auto-Aug element whose magnitude a space searches: labelled and exported as searched
            link_magnitude_writers(runner, self.spaces)
            check_plugin_returns(self.spaces, self.controllers, self.layout.num_copies, self.config_key)
            OHLReport.check_spaces(self.spaces)  # the exported policy must be one config: fail before the first trunk
        if self.trunk == 0 and not self._in_trunk:
            # Copies start from identical weights (METHODS.md §1, step 3): the first copy's.
            broadcast_copy_state(runner, src=0)
        with stopping_together(f'OHL: creating work_dir/{self.out_dir}'):  # the main process creates it
            self._report = OHLReport(runner, self.out_dir, self.spaces, self.plot,
                                      trunk=dict(trunk_epochs=self.trunk_epochs, trunk_iters=self.trunk_iters))
        if self._iteration_loop:
            loop = runner.train_loop
            # mmengine's IterBasedTrainLoop made its iterator when it was built, before the spaces bound the choice
            # transforms above: its dataloader workers hold unbound copies, which drew uniform choices for the
            # whole run while they were counted as theta's samples. Restart them on the bound pipeline.
            restart_workers(loop)
            # The first batch is loaded right after mmengine skipped the batches a resumed run already trained on;
            # the random streams are derived after that skip, so the skip cannot consume them.
            loop.dataloader_iterator = SegmentStart(loop.dataloader_iterator, skip=runner.iter,
                                                    start=lambda: self._start_segment(runner, if_pending=True))

    def before_train_epoch(self, runner) -> None:
        if not self._iteration_loop:
            self._start_segment(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None) -> None:
        for space in self.spaces:
            space.after_train_iter(runner, data_batch)
        self._trunk_iters += 1
        loss = (outputs or {}).get('loss')
        if loss is not None and not torch.isfinite(torch.as_tensor(loss)).all():
            self._nonfinite_losses += 1
        done = runner.iter + 1  # iterations completed, this one included
        ended = False
        if self.trunk_iters is not None and done % self.trunk_iters == 0:
            # epochs completed (as trunk_epochs records have it): a trunk ending with an epoch counts that epoch
            epoch = runner.epoch if self._iteration_loop else done // len(runner.train_dataloader)
            self._end_trunk(runner, epoch=epoch, iters=done, partial=False)
            ended = True
        elif self.trunk_iters is not None and done >= runner.max_iters and self._in_trunk:
            # the run ends inside a trunk: end it now, before the checkpoint hook saves the final model
            self._end_trunk(runner, epoch=runner.epoch + (0 if self._iteration_loop else 1), iters=done,
                            partial=True)
        if self._iteration_loop:
            self._segment_pending = True  # iteration loops can resume at any iteration: re-derive every one
        elif ended and done < runner.max_iters and batch_idx + 1 < len(runner.train_dataloader):
            # a trunk boundary inside an epoch: the next batch is loaded right after this iteration's hooks, so the
            # next trunk starts in the last of them (LateTrunkStart), after mmengine's ParamSchedulerHook (LOW) has
            # stepped for this iteration with this trunk's values, as at every other trunk boundary (it stepped
            # with the next trunk's searched scheduler attribute, e.g. param_schedulers.0.gamma). At an epoch's end
            # the next trunk starts in before_train_epoch instead, after the epoch's validation and checkpoint
            # (which then records a trunk end, not a trunk open since the last iteration)
            self._start_pending = True

    def start_pending_trunk(self, runner) -> None:
        """Begin the trunk that :meth:`after_train_iter` ended inside an epoch of an epoch-based loop, if any:
        :class:`LateTrunkStart` calls it after every other hook's ``after_train_iter`` of that iteration."""
        if self._start_pending:
            self._start_pending = False
            self._start_segment(runner)

    def after_train_epoch(self, runner) -> None:
        if self._iteration_loop or self.trunk_epochs is None or not self._in_trunk:
            return
        done = runner.epoch + 1
        if done % self.trunk_epochs == 0 or done >= runner.max_epochs:
            self._end_trunk(runner, epoch=done, iters=runner.iter, partial=done % self.trunk_epochs != 0)

    def after_train(self, runner) -> None:
        # A loop that stopped early (e.g. EarlyStoppingHook) leaves a trunk open: end it so that every rank holds
        # the best copy. The checkpoints saved before this point hold the copies' own weights.
        if self._in_trunk and self._trunk_iters > 0:
            runner.logger.warning(f'OHL trunk {self.trunk} was still running when training stopped; ending it now '
                                  '(checkpoints saved before this point hold copy 0, not the best copy)')
            self._end_trunk(runner, epoch=runner.epoch, iters=runner.iter, partial=True)
        elif self.history and not self.history[-1].get('broadcast', True):
            # stopped early right after a trunk that kept the copies apart (broadcast_interval > 1): every rank
            # ends with that trunk's best copy, whose weights have not changed since
            best = self.history[-1]['best']
            runner.logger.info(f'OHL: training stopped after trunk {self.trunk - 1}, which did not broadcast; '
                               f'broadcasting its best copy {best} now')
            trunk_end.broadcast_best(runner, self.layout, self.history[-1].get('copy_values') or {}, best)
            self.history[-1]['broadcast'] = True
        if self.history and self._report is not None:
            with stopping_together(f'OHL: writing work_dir/{self.out_dir}/history.json after training'):
                self._report.write_history(self.history)  # the last trunk's report seconds and broadcast flag
        self._in_trunk = False

    def resolve_spaces(self, runner) -> None:
        """Let every space derive what it reads from the run (``OHLSpace.resolve``), then build the controllers of
        the spaces that were built without a distribution. Once, before the first checkpoint load or trunk
        (:func:`~automl_mm.ohl.space_setup.resolve_spaces`)."""
        space_setup.resolve_spaces(self, runner)

    def setup_spaces(self, runner) -> None:
        """Each space's ``setup``, its writes checked against the paths it reports; a space's refusal named at its
        config key. Called in ``before_train`` on every rank (:func:`~automl_mm.ohl.space_setup.setup_spaces`)."""
        space_setup.setup_spaces(self, runner)

    # ------------------------------------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['ohl'] = resume.search_state(self, runner)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # every rank loads the checkpoint; one that refuses it alone (a file its node reads otherwise) stops them all
        # here, not with the others waiting for it at the run's first collective
        with stopping_together('OHL: loading the checkpoint\'s search state'), naming_hook_in_config(runner, self):
            resume.load_search_state(self, runner, checkpoint)  # a refusal says which custom_hooks entry sets the key
        # each rank loaded its own copy of the checkpoint: a node's stale copy held another theta, controller state
        # or trunk counter, and every rank steps its own theta from the gathered rewards, so the ranks' searches
        # diverged silently; every rank passed the checks above, so all reach the gather
        resume.check_ranks_loaded_alike(self, runner, checkpoint)

    def reward_settings(self, runner) -> tuple[dict[str, Any], dict[str, str], set[str]]:
        """What the rewards are read as, the config key of each role and the roles a resume may change
        (:func:`~automl_mm.ohl.resume.reward_settings`)."""
        return resume.reward_settings(self, runner)

    def resume_checked_keys(self, runner) -> set[str]:
        """The config keys this hook's resume check compares itself (:func:`~automl_mm.ohl.resume.resume_checked_keys`):
        the resume's config comparison (:mod:`automl_mm.engine.resume_config`) leaves them to it."""
        return resume.resume_checked_keys(self, runner)

    def held_out_splits(self, runner) -> dict[str, Any]:
        """The reward split (its :class:`~automl_mm.engine.evaluate.HeldOutEvaluator`) by the config key of its
        loader as ``--cfg-options`` spells it (``custom_hooks.0.reward_dataloader``,
        :func:`~automl_mm.ohl.resume.option_key` of :func:`~automl_mm.ohl.resume.reward_loader_key`): its data is
        fingerprinted under that key in every checkpoint and compared on resume
        (:mod:`automl_mm.engine.data_fingerprint`)."""
        return {resume.option_key(resume.reward_loader_key(self, runner)): self.scorer.held_out}

    # ------------------------------------------------------------------------------------------ trunk logic
    def _start_segment(self, runner, if_pending: bool = False) -> None:
        """Begin the trunk if none is running, then re-derive this rank's random streams.

        Called right before a batch is loaded at every point where a run can resume (each epoch in epoch loops,
        each iteration in iteration loops) and at every trunk start, so the randomness of what follows depends
        only on (seed, copy, rank, trunk, epoch, iteration), never on what ran before.
        """
        if if_pending and not self._segment_pending:
            return
        if not self._in_trunk:
            self._begin_trunk(runner)
        seed_global_rngs(segment_seeds(self.seed, self.layout.copy_id, self.layout.rank_in_copy, self.trunk,
                                       runner.epoch, runner.iter))
        for space in self.spaces:
            space.begin_segment(runner, runner.iter)
        self._segment_pending = False

    def _begin_trunk(self, runner) -> None:
        """Begin the trunk on this rank: the spaces draw and write its values, held against the constructors'
        relations (:func:`~automl_mm.ohl.trunk_start.begin_trunk`). A space's failure stops every rank."""
        trunk_start.begin_trunk(self, runner)

    def _end_trunk(self, runner, epoch: int, iters: int, partial: bool) -> None:
        """End the running trunk on this rank: rewards, controllers, broadcast, record, report and log
        (:func:`~automl_mm.ohl.trunk_end.end_trunk`). Collective."""
        trunk_end.end_trunk(self, runner, epoch, iters, partial)
