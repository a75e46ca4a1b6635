"""``OHLHook``: online hyper-parameter learning over N model copies, inside an mmengine training run.

Per trunk (K iterations or E epochs), on every rank (METHODS.md §1):

1. ``begin_trunk``: each space draws (per copy) or publishes (per item) its samples. Right before a batch is
   loaded at every trunk start, epoch start (epoch loops) or iteration (iteration loops), this rank's Python,
   numpy and torch RNGs are re-derived from (seed, copy, rank, trunk, epoch, iteration), so a resumed run draws
   exactly what an uninterrupted one draws.
2. Training runs as usual; per-item spaces count the choices they applied after every iteration (only those drawn
   from this trunk's θ).
3. ``end_trunk``: the lead rank of each copy evaluates it on the reward split → all-gather [reward, valid,
   statistics] (statistics of per-item spaces summed over a copy's ranks) → the same controller step on every
   rank → the best copy's model, optimiser, schedulers, EMA and loss scaler are broadcast from its lead rank
   (every trunk by default; every ``broadcast_interval`` trunks, the last trunk and any trunk with a diverged copy
   otherwise) → history, plots and exported policy are written by rank 0. A run that ends inside a trunk ends that trunk
   (marked ``partial``) before the last checkpoint is saved, so the saved model is the best copy.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.dist import barrier, is_distributed
from mmengine.hooks import EMAHook, Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop

from automl_mm.augment.choice import CHOICE_META_KEY
from automl_mm.engine.evaluate import (
    HeldOutEvaluator,
    build_local_loader,
    fixed_batches,
    kept_bn_statistics,
    recalibrate_bn,
)
from automl_mm.registry import HOOKS

from .base import build_controller, build_ohl_space
from .checks import (
    check_bn_recalibration,
    check_checkpoint_schedule,
    check_train_setup,
    check_val_schedule,
    validates_after,
)
from .copies import _NO_RUNNER, CopyDataParallel, check_copy_counts
from .report import OHLReport
from .sync import broadcast_module_, broadcast_state, fingerprint, gather_rows


def _same(a: torch.Tensor, b: torch.Tensor, nan_equal: bool = False) -> bool:
    """Exact equality; NaN equals NaN only with ``nan_equal`` (a diverged copy is NaN on all its ranks)."""
    equal = a == b
    if nan_equal:
        equal = equal | (torch.isnan(a) & torch.isnan(b))
    return bool(equal.all())


def _has_loss_scaler(optim_wrapper: Any) -> bool:
    """Whether an optimiser wrapper (or any in an ``OptimWrapperDict``) scales the loss (AMP)."""
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None)
    wrappers = wrappers.values() if isinstance(wrappers, dict) else [optim_wrapper]
    return any(getattr(w, 'loss_scaler', None) is not None for w in wrappers)


def combine_copy_rows(rows: torch.Tensor, layout: Any, spaces: Sequence[Any], trunk: int = 0) -> dict:
    """Per-copy rewards, validity and statistics from the all-gathered rows of every rank.

    Row layout (one per rank, ``rows`` is (world_size, 3 + S + Σ stats_size)): reward, valid, empty-metrics flag,
    one stale-sample count per space, then each space's statistics. A copy's reward and empty flag are its lead
    rank's (the lead evaluates it); it is valid only if every one of its ranks is; the statistics of a per-item
    space (and the stale counts) are **summed** over the copy's ranks, since each rank trains on its own shard;
    a per-copy space's sample is the same on every rank of the copy, so its lead's statistics are used (and the
    ranks must agree).

    Raises:
        RuntimeError: the ranks of a copy recorded different per-copy samples.
    """
    n, r = layout.num_copies, layout.ranks_per_copy
    rows = rows.reshape(n, r, -1)
    out = dict(rewards=rows[:, 0, 0].tolist(), valid=rows[:, :, 1].bool().all(dim=1).tolist(),
               empty=rows[:, 0, 2].bool().tolist(), stale={}, stats={})
    offset = 3
    for space in spaces:
        out['stale'][space.name] = [int(v) for v in rows[:, :, offset].sum(dim=1).tolist()]
        offset += 1
    for space in spaces:
        size = space.distribution.stats_size()
        block = rows[:, :, offset:offset + size]
        offset += size
        if space.per_item:
            out['stats'][space.name] = [block[c].sum(dim=0) for c in range(n)]
        else:
            if not _same(block, block[:, :1].expand_as(block), nan_equal=True):
                raise RuntimeError(f'OHL trunk {trunk}: the ranks of a copy sampled different values for the '
                                   f'per-copy space {space.name!r}; its samples must depend on the copy only')
            out['stats'][space.name] = [block[c, 0].clone() for c in range(n)]
    return out


def segment_seeds(seed: int, copy_id: int, rank_in_copy: int, trunk: int, epoch: int, iteration: int) -> dict:
    """Seeds of this rank's Python, numpy and torch RNGs for the segment that starts at (trunk, epoch, iteration).

    Drawn as independent words of ``numpy.random.SeedSequence([seed, copy, rank, trunk, epoch, iteration])``: every
    coordinate is in the entropy, so no two segments, copies or ranks share a stream, and the three generators
    never get related seeds.
    """
    words = np.random.SeedSequence([seed, copy_id, rank_in_copy, trunk, epoch, iteration]).generate_state(4)
    return dict(python=int(words[0]), numpy=int(words[1]), torch=int(words[2]) << 32 | int(words[3]))


def default_worst_reward(finite: Sequence[float]) -> float:
    """The reward of a diverged copy: strictly below every valid copy's, by the spread of the valid rewards (at
    least 0.1 % of their magnitude, 1e-3 when that is 0). Equal to the lowest valid reward, a diverged copy would
    tie with the only valid copy of a pair and the controller would learn nothing from the divergence."""
    lo, hi = min(finite), max(finite)
    return lo - max(hi - lo, 1e-3 * abs(lo), 1e-3)


class _SegmentStart:
    """Wraps an iteration loop's data iterator: calls ``start`` right before each batch is loaded, except during
    the ``skip`` batches mmengine advances over when it resumes (they must not consume the fresh streams)."""

    def __init__(self, iterator: Any, skip: int, start: Any) -> None:
        self.iterator, self.skip, self.start = iterator, skip, start

    def __iter__(self) -> _SegmentStart:
        return self

    def __next__(self) -> Any:
        if self.skip > 0:
            self.skip -= 1
        else:
            self.start()
        return next(self.iterator)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.iterator, name)


def clean_train_loader_cfg(cfg: Any, explicit: dict | None) -> tuple[dict, str]:
    """``(loader config, its config key)`` of clean training images for ``OHLHook.bn_recalibration_dataloader``:
    ``explicit`` if given, else ``train_dataloader`` whose dataset reads with the top-level ``test_pipeline``.

    Raises:
        ValueError: no ``explicit`` loader and the config lacks ``train_dataloader.dataset.pipeline`` (a wrapped
            dataset) or ``test_pipeline``; the message names the keys.
    """
    if explicit is not None:
        return explicit, 'OHLHook.bn_recalibration_dataloader'
    train = cfg.get('train_dataloader') or {}
    dataset, test_pipeline = train.get('dataset') or {}, cfg.get('test_pipeline')
    if 'pipeline' not in dataset or not test_pipeline:
        raise ValueError('OHLHook.bn_recalibration_batches > 0 needs clean training images: set '
                         'OHLHook.bn_recalibration_dataloader, or give the config a top-level test_pipeline and a '
                         'train_dataloader.dataset with its own pipeline (not a dataset wrapper)')
    return dict(train, dataset=dict(dataset, pipeline=test_pipeline)), 'train_dataloader (with test_pipeline)'


@HOOKS.register_module()
class OHLHook(Hook):
    """Learn distributions over hyper-parameters online, with one model copy per rank (or group of ranks).

    Args:
        spaces: ``SEARCH_SPACES`` configs (``AttributeSpace``, ``PipelineChoiceSpace``, your own).
        controller: Controller config without its distribution (one controller is built per space), e.g.
            ``dict(type='REINFORCE')`` (Adam, lr 0.05, betas (0.5, 0.999)).
        num_copies: Number of model copies N. The world size must be ``num_copies * ranks_per_copy``; the runner
            (``runner_type='automl_mm.CopyRunner'``, ``configs/_base_/ohl_copies.py``) creates the copy layout.
        ranks_per_copy: Ranks that train one copy together (DDP inside the copy via ``CopyDataParallel``).
        reward_key: The metric that is the reward, e.g. ``'accuracy/top1'`` or ``'coco/bbox_mAP'``.
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
            lowest finite reward of that trunk by the spread of the finite rewards (:func:`default_worst_reward`).
            Such a copy is never chosen as the best.
        seed: Base seed of the per-copy sampling (each copy and trunk derive their own from it).
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
            ``test_pipeline`` (the training images as the test split is read); read in order, no sampler, and
            its first ``bn_recalibration_batches`` batches kept in memory for the whole run.
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
                 seed: int = 0,
                 verify_sync: bool = True,
                 out_dir: str = 'ohl',
                 plot: bool = True,
                 bn_recalibration_batches: int = 0,
                 bn_recalibration_dataloader: dict | None = None) -> None:
        if (trunk_epochs is None) == (trunk_iters is None):
            raise ValueError('OHLHook needs exactly one of trunk_epochs / trunk_iters, got '
                             f'trunk_epochs={trunk_epochs}, trunk_iters={trunk_iters}')
        for name, value in (('trunk_epochs', trunk_epochs), ('trunk_iters', trunk_iters),
                            ('broadcast_interval', broadcast_interval)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f'{name} must be a positive integer, got {value!r}')
        if not isinstance(bn_recalibration_batches, int) or bn_recalibration_batches < 0:
            raise ValueError('OHLHook.bn_recalibration_batches must be a non-negative integer (0: off), got '
                             f'{bn_recalibration_batches!r}')
        if not spaces:
            raise ValueError('OHLHook needs at least one space in spaces')
        check_copy_counts(num_copies, ranks_per_copy)
        self.num_copies, self.ranks_per_copy = num_copies, ranks_per_copy
        self.layout = None  # the runner's CopyLayout, taken in before_train
        self.spaces = [build_ohl_space(s) for s in spaces]
        names = [s.name for s in self.spaces]
        if len(set(names)) != len(names):
            raise ValueError(f'OHL space names must be unique, got {names}')
        self._controller_cfg = controller or dict(type='REINFORCE')
        self._resolved = False
        self.controllers = [build_controller(self._controller_cfg, s.distribution) if s.distribution is not None
                            else None for s in self.spaces]  # the others once their space is resolved
        self.held_out = HeldOutEvaluator('reward', reward_key, 'OHLHook', reward_dataloader, reward_evaluator,
                                         'OHLHook.reward_dataloader', 'OHLHook.reward_evaluator', 'reward_key')
        self.reward_key = reward_key
        self.trunk_epochs = trunk_epochs
        self.trunk_iters = trunk_iters
        self.broadcast_interval = broadcast_interval
        self.worst_reward = worst_reward
        self.seed = int(seed)
        self.verify_sync = verify_sync
        self.out_dir = out_dir
        self.plot = plot
        self.bn_recalibration_batches = bn_recalibration_batches
        self._bn_loader_cfg = bn_recalibration_dataloader
        self._bn_batches: list | None = None  # the clean batches, loaded in before_train when n > 0
        self.trunk = 0
        self.history: list[dict] = []
        self._trunk_start = 0.0
        self._in_trunk = False  # a trunk has begun and not ended (saved in checkpoints)
        self._trunk_iters = 0  # iterations trained in the running trunk (on this rank)
        self._nonfinite_losses = 0
        self._segment_pending = True
        self._iteration_loop = False
        self._uses_loss_scaler = False
        self._report: OHLReport | None = None

    # ------------------------------------------------------------------------------------------ runner stages
    def before_train(self, runner) -> None:
        self.layout = getattr(runner, 'copy_layout', None)
        if self.layout is None:
            raise ValueError(f'OHLHook needs {_NO_RUNNER}; the runner is a {type(runner).__name__}, which creates no '
                             'copy layout')
        if is_distributed() and not isinstance(runner.model, CopyDataParallel):
            raise ValueError('OHLHook in a distributed run needs '
                             'model_wrapper_cfg=dict(type="automl_mm.CopyDataParallel"): '
                             f'{type(runner.model).__name__} would synchronise gradients across copies')
        self._iteration_loop = isinstance(runner.train_loop, IterBasedTrainLoop)
        check_train_setup(runner, self.layout, self.trunk_epochs)
        check_checkpoint_schedule(runner, self.layout, self.trunk_epochs, self.trunk_iters, self.broadcast_interval)
        check_val_schedule(runner, self.layout, self.trunk_epochs, self.trunk_iters)
        self._uses_loss_scaler = _has_loss_scaler(runner.optim_wrapper)
        self.held_out.build(runner)
        if self.bn_recalibration_batches and self._bn_batches is None:
            check_bn_recalibration(runner.model, self.layout.ranks_per_copy)
            loader = build_local_loader(*clean_train_loader_cfg(runner.cfg, self._bn_loader_cfg))
            # the same batches every trunk and on every rank: loaded once (seeded, should the clean pipeline draw
            # anything), not through the dataset pipeline at every trunk end
            self._bn_batches = fixed_batches(loader, self.bn_recalibration_batches, runner.seed or 0)
        self._resolve_spaces(runner)
        for space in self.spaces:
            space.setup(runner, self.layout, self.seed)
        if self.trunk == 0 and not self._in_trunk:
            # Copies start from identical weights (METHODS.md §1, step 3): the first copy's.
            self._broadcast_copy_state(runner, src=0)
        self._report = OHLReport(runner, self.out_dir, self.spaces, self.plot,
                                  trunk=dict(trunk_epochs=self.trunk_epochs, trunk_iters=self.trunk_iters))
        if self._iteration_loop:
            # The first batch is loaded right after mmengine skipped the batches a resumed run already trained on;
            # the random streams are derived after that skip, so the skip cannot consume them.
            loop = runner.train_loop
            loop.dataloader_iterator = _SegmentStart(loop.dataloader_iterator, skip=runner.iter,
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
            self._end_trunk(runner, epoch=runner.epoch, iters=done, partial=False)
            ended = True
        elif self.trunk_iters is not None and done >= runner.max_iters and self._in_trunk:
            # the run ends inside a trunk: end it now, before the checkpoint hook saves the final model
            self._end_trunk(runner, epoch=runner.epoch + (0 if self._iteration_loop else 1), iters=done,
                            partial=True)
        if self._iteration_loop:
            self._segment_pending = True  # iteration loops can resume at any iteration: re-derive every one
        elif ended and done < runner.max_iters:
            self._start_segment(runner)  # a trunk boundary inside an epoch: the next batch is loaded right away

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
            self._broadcast_copy_state(runner, src=self.layout.lead_rank(best))
            self.history[-1]['broadcast'] = True
        if self.history and self._report is not None:
            self._report.write_history(self.history)  # the last trunk's report seconds and broadcast flag
        self._in_trunk = False

    def _resolve_spaces(self, runner) -> None:
        """Let every space derive what it reads from the run (``OHLSpace.resolve``), then build the controllers of
        the spaces that were built without a distribution. Once, before the first checkpoint load or trunk."""
        if self._resolved:
            return
        for i, space in enumerate(self.spaces):
            space.resolve(runner)
            if self.controllers[i] is None:
                if space.distribution is None:
                    raise ValueError(f'OHL space {space.name!r} ({type(space).__name__}) has no distribution after '
                                     'resolve(); give it one in its config')
                self.controllers[i] = build_controller(self._controller_cfg, space.distribution)
        self._resolved = True

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # copies apart: inside a trunk, or after one that did not broadcast (broadcast_interval > 1)
        apart = self._in_trunk or bool(self.history and not self.history[-1].get('broadcast', True))
        checkpoint['ohl'] = dict(
            trunk=self.trunk, seed=self.seed, history=self.history, in_trunk=self._in_trunk, copies_apart=apart,
            controllers={s.name: c.state_dict() for s, c in zip(self.spaces, self.controllers)})

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('ohl')
        if state is None:
            runner.logger.warning('the checkpoint has no OHL state; the OHL search starts from scratch')
            return
        self._resolve_spaces(runner)  # a resume loads into the controllers of the resolved spaces
        missing = {s.name for s in self.spaces} - set(state['controllers'])
        if missing:
            raise ValueError(f'the checkpoint has no OHL state for spaces {sorted(missing)}; it has '
                             f'{sorted(state["controllers"])}')
        for space, controller in zip(self.spaces, self.controllers):
            controller.load_state_dict(state['controllers'][space.name])
        self.trunk, self.seed, self.history = state['trunk'], state['seed'], list(state['history'])
        if state.get('in_trunk'):
            # Only rank 0 writes checkpoints: inside a trunk, the other copies' weights and statistics are lost.
            runner.logger.warning(
                f'OHL: this checkpoint was saved inside trunk {self.trunk}; it holds copy 0 only, so every copy '
                'continues the trunk from copy 0\'s weights and the statistics recorded before the checkpoint are '
                'dropped. Resume is exact from checkpoints saved at trunk ends (a checkpoint interval that is a '
                'multiple of the trunk length).')
        elif state.get('copies_apart'):
            runner.logger.warning(
                f'OHL: this checkpoint was saved after trunk {self.trunk - 1}, which did not broadcast '
                '(broadcast_interval > 1): it holds copy 0 only, so every copy continues from copy 0\'s weights. '
                'Resume is exact from checkpoints saved at broadcasting trunks.')

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
        seeds = segment_seeds(self.seed, self.layout.copy_id, self.layout.rank_in_copy, self.trunk, runner.epoch,
                              runner.iter)
        random.seed(seeds['python'])
        np.random.seed(seeds['numpy'])
        torch.manual_seed(seeds['torch'])
        for space in self.spaces:
            space.begin_segment(runner, runner.iter)
        self._segment_pending = False

    def _begin_trunk(self, runner) -> None:
        # The spaces' samples depend only on (seed, copy, trunk, space): every rank of a copy draws the same one.
        for i, space in enumerate(self.spaces):
            generator = torch.Generator().manual_seed(
                int(np.random.SeedSequence([self.seed, self.layout.copy_id, self.trunk, i]).generate_state(1)[0]))
            space.reset_stats()
            space.begin_trunk(runner, self.trunk, generator)
        self._in_trunk = True
        self._trunk_iters = 0
        self._nonfinite_losses = 0
        self._trunk_start = time.perf_counter()

    def _copy_is_valid(self, model: torch.nn.Module) -> bool:
        """Whether this rank's copy can be rewarded and chosen: finite weights *and* buffers (BN statistics), and
        finite losses. Under a loss scaler (AMP) a non-finite loss is a step the scaler skipped, not a divergence;
        the copy is diverged only when every step of the trunk was non-finite."""
        if not all(torch.isfinite(t).all() for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()):
            return False
        if self._uses_loss_scaler:
            return not (self._trunk_iters > 0 and self._nonfinite_losses >= self._trunk_iters)
        return self._nonfinite_losses == 0

    def _score(self, model) -> tuple[float, bool]:
        """The copy's reward (see :meth:`HeldOutEvaluator.score`), with BN statistics re-estimated on the clean
        batches first when ``bn_recalibration_batches`` is set (the copy's own are put back after)."""
        if not self.bn_recalibration_batches:
            return self.held_out.score(model)
        with kept_bn_statistics(model):
            recalibrate_bn(model, self._bn_batches)
            return self.held_out.score(model)

    def _end_trunk(self, runner, epoch: int, iters: int, partial: bool) -> None:
        layout = self.layout
        start = time.perf_counter()
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        valid, reward, empty = self._copy_is_valid(model), float('nan'), False
        if valid and layout.is_lead:  # the ranks of a copy hold the same weights: its lead evaluates it
            reward, empty = self._score(runner.model)
            if empty:
                runner.logger.warning(
                    f'OHL trunk {self.trunk}: copy {layout.copy_id} got no metrics from the reward evaluator '
                    f'({self.held_out.metric_names()}); its reward is 0. Check reward_evaluator (e.g. '
                    'format_only=True computes nothing) and reward_key')
            valid = math.isfinite(reward)
        t_reward = time.perf_counter()
        try:
            barrier()  # separates waiting for the slowest copy from the cost of the collectives below
        except RuntimeError as err:  # gloo/nccl raise when a peer died or the collective timed out
            raise RuntimeError(
                f'OHL trunk {self.trunk}: rank {layout.rank} could not meet the other copies at the trunk end: a '
                'rank crashed or hung longer than env_cfg.dist_cfg.timeout. Continue from the last checkpoint with '
                f'`tools/train.py CONFIG --resume`. ({err})') from err
        t_wait = time.perf_counter()

        row = torch.cat([torch.tensor([reward if valid else 0.0, float(valid), float(empty)], dtype=torch.float64)]
                        + [torch.tensor([float(s.stale_count())], dtype=torch.float64) for s in self.spaces]
                        + [s.trunk_stats() for s in self.spaces])
        trunk = combine_copy_rows(gather_rows(row), layout, self.spaces, self.trunk)
        rewards, valids = trunk['rewards'], trunk['valid']
        if all(trunk['empty'][c] for c in range(layout.num_copies) if valids[c]) and any(valids):
            raise RuntimeError(f'OHL trunk {self.trunk}: the reward evaluator ({self.held_out.metric_names()}) '
                               'returned no metrics for any copy, so there is no reward to learn from; check '
                               'reward_evaluator (e.g. format_only=True computes nothing) and '
                               f'reward_key={self.reward_key!r}')
        if not any(valids):
            raise RuntimeError(f'OHL trunk {self.trunk}: every copy diverged (non-finite loss, weights or buffers); '
                               'lower the learning rate or narrow the search space')
        counts = {s.name: [s.distribution.sample_count(st) for st in trunk['stats'][s.name]] for s in self.spaces}
        if self._trunk_iters > 0:
            for space in self.spaces:
                if space.per_item and min(counts[space.name]) == 0:
                    raise RuntimeError(
                        f'OHL trunk {self.trunk}: space {space.name!r} counted no choices in {self._trunk_iters} '
                        f'iterations (per copy: {counts[space.name]}): the data samples carry no '
                        f"metainfo['{CHOICE_META_KEY}'][{getattr(space, 'key', space.name)!r}]. Keep "
                        f"'{CHOICE_META_KEY}' in the packing transform's meta_keys and the choice transform in "
                        'train_dataloader.dataset.pipeline')
        finite = [r for r, ok in zip(rewards, valids) if ok]
        worst = default_worst_reward(finite) if self.worst_reward is None else float(self.worst_reward)
        rewards = [r if ok else worst for r, ok in zip(rewards, valids)]
        best = max((c for c in range(layout.num_copies) if valids[c]), key=lambda c: (rewards[c], -c))

        # θ changes only here: its mode now is the mode every copy sampled around during this trunk
        schedule = {s.name: v for s in self.spaces if (v := s.scheduled_values()) is not None}
        updates = {}
        for space, controller in zip(self.spaces, self.controllers):
            updates[space.name] = controller.step(trunk['stats'][space.name], rewards)
            space.reset_stats()
        t_update = time.perf_counter()

        # Every broadcast_interval-th trunk broadcasts; so do the run's last trunk (the final model is the best
        # copy), a trunk that a validation follows (one model on every rank) and a trunk with a diverged copy
        # (which must be repaired).
        broadcast = ((self.trunk + 1) % self.broadcast_interval == 0 or partial or iters >= runner.max_iters
                     or not all(valids) or validates_after(runner, iters))
        before = fingerprint(model) if self.verify_sync else None
        if broadcast:
            self._broadcast_copy_state(runner, src=layout.lead_rank(best))
        t_broadcast = time.perf_counter()
        sync = self._verify(model, before, best, broadcast) if self.verify_sync else {}
        t_verify = time.perf_counter()

        # Seconds of this trunk on this rank: training (with data loading) and each engine step.
        seconds = dict(train=start - self._trunk_start, reward=t_reward - start, wait=t_wait - t_reward,
                       gather_update=t_update - t_wait, broadcast=t_broadcast - t_update, verify=t_verify - t_broadcast)
        record = dict(trunk=self.trunk, seconds={k: round(v, 6) for k, v in seconds.items()},
                      epoch=epoch, iter=iters, iters_in_trunk=self._trunk_iters, partial=partial,
                      rewards=rewards, valid=valids, empty_metrics=trunk['empty'], best=best, broadcast=broadcast,
                      controller=updates,
                      samples=counts, stale_samples=trunk['stale'], schedule=schedule,
                      distributions={s.name: s.distribution.summary() for s in self.spaces},
                      theta={s.name: [p.detach().tolist() for p in s.distribution.parameters()]
                             for s in self.spaces}, **sync)
        self.history.append(record)
        t_report = time.perf_counter()
        self._report.write(self.history, self.spaces, step=iters)
        # The main process's writing (history, policy, figures) holds every copy at the next trunk end too; the
        # record reaches history.json with the next write (after_train writes the last one).
        record['seconds']['report'] = round(time.perf_counter() - t_report, 6)
        runner.logger.info(
            f'OHL trunk {self.trunk}{" (partial)" if partial else ""}: rewards {[round(r, 4) for r in rewards]}, '
            f'best copy {best}{"" if broadcast else " (not broadcast)"}, '
            + ', '.join(f'{s.name}: {s.distribution.summary(top_k=3)}' for s in self.spaces))
        self._in_trunk = False
        self.trunk += 1

    def _verify(self, model: torch.nn.Module, before: torch.Tensor, best: int, broadcast: bool = True) -> dict:
        """Gather θ and weight fingerprints from every rank; raise if the ranks disagree.

        θ must be identical on every rank and the ranks of a copy in step; after a broadcast every copy must also
        equal the best copy's weights from before it. Without a broadcast the copies' equality is recorded, not
        required (they normally differ)."""
        theta = torch.cat([p.detach().flatten().to(torch.float64) for s in self.spaces
                           for p in s.distribution.parameters()] or [torch.zeros(0, dtype=torch.float64)])
        after = fingerprint(model)
        rows = gather_rows(torch.cat([theta, before, after]))
        n, layout = theta.numel(), self.layout
        theta_ok = _same(rows[:, :n], rows[0, :n])
        # NaN is never equal here: a non-finite weight or buffer after the broadcast is a failure
        copies_ok = _same(rows[:, n + 4:], rows[0, n + 4:])
        best_ok = _same(rows[0, n + 4:], rows[layout.lead_rank(best), n:n + 4])
        # Ranks of one copy train under DDP: their parameters (not BN statistics) must agree before the broadcast.
        leads = [layout.lead_rank(r // layout.ranks_per_copy) for r in range(layout.world_size)]
        in_copy_ok = _same(rows[:, n:n + 2], rows[leads, n:n + 2], nan_equal=True)  # diverged: NaN on all its ranks
        if not (theta_ok and in_copy_ok and (not broadcast or (copies_ok and best_ok))):
            raise RuntimeError(f'OHL trunk {self.trunk}: ranks disagree after the update (theta identical: '
                               f'{theta_ok}, copies identical: {copies_ok}, copies equal the best: {best_ok}, '
                               f'ranks of a copy in step: {in_copy_ok})')
        return dict(theta_identical=theta_ok, copies_identical=copies_ok, copies_equal_best=best_ok,
                    ranks_in_copy_identical=in_copy_ok)

    def _broadcast_copy_state(self, runner, src: int) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        broadcast_module_(model, src)
        if not is_distributed():
            return
        optim_wrapper = runner.optim_wrapper
        optim_wrapper.load_state_dict(broadcast_state(optim_wrapper.state_dict(), src))
        schedulers = runner.param_schedulers
        if schedulers:
            groups = schedulers.values() if isinstance(schedulers, dict) else [schedulers]
            for group in groups:
                for scheduler in group:
                    scheduler.load_state_dict(broadcast_state(scheduler.state_dict(), src))
        for hook in runner.hooks:
            if isinstance(hook, EMAHook) and hasattr(hook, 'ema_model'):
                broadcast_module_(hook.ema_model, src)
