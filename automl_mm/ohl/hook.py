"""``OHLHook``: online hyper-parameter learning over N model copies, inside an mmengine training run.

Per trunk (K iterations or E epochs), on every rank (METHODS.md §1):

1. ``begin_trunk``: re-seed this copy's RNGs from (seed, copy, trunk); each space draws or publishes its samples.
2. Training runs as usual; per-item spaces count the choices they applied after every iteration.
3. ``end_trunk``: evaluate this copy on the reward split → all-gather [reward, valid, statistics] → the same
   controller step on every rank → the best copy's model, optimiser, schedulers and EMA are broadcast from its
   lead rank → history, plots and exported policy are written by rank 0.
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
from mmengine.evaluator import Evaluator
from mmengine.hooks import EMAHook, Hook
from mmengine.model import is_model_wrapper
from torch.utils.data import DataLoader

from automl_mm.engine.evaluate import build_local_loader, evaluate_locally, metric_value
from automl_mm.registry import CONTROLLERS, HOOKS, SEARCH_SPACES

from .copies import CopyDataParallel, init_copy_layout
from .report import OHLReport
from .sync import broadcast_module_, broadcast_state, fingerprint, gather_rows


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Exact equality that counts NaN as equal to NaN."""
    return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())


@HOOKS.register_module()
class OHLHook(Hook):
    """Learn distributions over hyper-parameters online, with one model copy per rank (or group of ranks).

    Args:
        spaces: ``SEARCH_SPACES`` configs (``AttributeSpace``, ``PipelineChoiceSpace``, your own).
        controller: Controller config without its distribution (one controller is built per space), e.g.
            ``dict(type='REINFORCE')`` (Adam, lr 0.05, betas (0.5, 0.999)).
        num_copies: Number of model copies N. The world size must be ``num_copies * ranks_per_copy``.
        ranks_per_copy: Ranks that train one copy together (DDP inside the copy via ``CopyDataParallel``).
        reward_key: The metric that is the reward, e.g. ``'accuracy/top1'`` or ``'coco/bbox_mAP'``.
        reward_dataloader: Dataloader config of the reward split (held out from training; never the test split).
            Default: the config's top-level ``reward_dataloader`` (automl_mm's dataset bases define one).
        reward_evaluator: Metric config(s) computing the reward. Default: the config's ``reward_evaluator``, else
            its ``val_evaluator``.
        trunk_epochs: Trunk length in epochs (epoch-based loops).
        trunk_iters: Trunk length in iterations (give exactly one of the two).
        worst_reward: Reward given to a copy whose loss or weights became non-finite; default: the lowest
            finite reward of that trunk. Such a copy is never chosen as the best.
        seed: Base seed of the per-copy sampling (each copy and trunk derive their own from it).
        verify_sync: All-gather θ and weight fingerprints after every update and fail loudly if the ranks
            disagree (cheap; turn off only for huge models).
        out_dir: Folder under ``work_dir`` for the history JSON, plots and the exported policy.
        plot: Write PNG plots at every trunk end.
    """

    priority = 'BELOW_NORMAL'  # after the model's own updates, before the checkpoint hook saves

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
                 worst_reward: float | None = None,
                 seed: int = 0,
                 verify_sync: bool = True,
                 out_dir: str = 'ohl',
                 plot: bool = True) -> None:
        if (trunk_epochs is None) == (trunk_iters is None):
            raise ValueError('OHLHook needs exactly one of trunk_epochs / trunk_iters, got '
                             f'trunk_epochs={trunk_epochs}, trunk_iters={trunk_iters}')
        for name, value in (('trunk_epochs', trunk_epochs), ('trunk_iters', trunk_iters)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f'{name} must be a positive integer, got {value!r}')
        if not spaces:
            raise ValueError('OHLHook needs at least one space in spaces')
        self.layout = init_copy_layout(num_copies, ranks_per_copy)
        self.spaces = [SEARCH_SPACES.build(s) if isinstance(s, dict) else s for s in spaces]
        names = [s.name for s in self.spaces]
        if len(set(names)) != len(names):
            raise ValueError(f'OHL space names must be unique, got {names}')
        controller = controller or dict(type='REINFORCE')
        self.controllers = [CONTROLLERS.build(dict(controller, distribution=s.distribution)) for s in self.spaces]
        self.reward_dataloader_cfg = reward_dataloader
        self.reward_evaluator_cfg = reward_evaluator
        self.reward_key = reward_key
        self.trunk_epochs = trunk_epochs
        self.trunk_iters = trunk_iters
        self.worst_reward = worst_reward
        self.seed = int(seed)
        self.verify_sync = verify_sync
        self.out_dir = out_dir
        self.plot = plot
        self.trunk = 0
        self.history: list[dict] = []
        self._trunk_start = 0.0
        self._diverged = False
        self._reward_loader: DataLoader | None = None
        self._evaluator: Evaluator | None = None
        self._report: OHLReport | None = None

    # ------------------------------------------------------------------------------------------ runner stages
    def before_train(self, runner) -> None:
        if is_distributed() and not isinstance(runner.model, CopyDataParallel):
            raise ValueError('OHLHook in a distributed run needs '
                             'model_wrapper_cfg=dict(type="automl_mm.CopyDataParallel"): '
                             f'{type(runner.model).__name__} would synchronise gradients across copies')
        self._build_reward_eval(runner)
        for space in self.spaces:
            space.setup(runner, self.layout, self.seed)
        if self.trunk == 0:
            # Copies start from identical weights (METHODS.md §1, step 3): the first copy's.
            self._broadcast_copy_state(runner, src=0)
        self._report = OHLReport(runner, self.out_dir, self.spaces, self.plot)
        self._begin_trunk(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None) -> None:
        for space in self.spaces:
            space.after_train_iter(runner, data_batch)
        loss = (outputs or {}).get('loss')
        if loss is not None and not torch.isfinite(torch.as_tensor(loss)).all():
            self._diverged = True
        if self.trunk_iters is not None and self.every_n_train_iters(runner, self.trunk_iters):
            self._end_trunk(runner)
            if runner.iter + 1 < runner.max_iters:
                self._begin_trunk(runner)

    def after_train_epoch(self, runner) -> None:
        if self.trunk_epochs is not None and self.every_n_epochs(runner, self.trunk_epochs):
            self._end_trunk(runner)
            if runner.epoch + 1 < runner.max_epochs:
                self._begin_trunk(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['ohl'] = dict(
            trunk=self.trunk, seed=self.seed, history=self.history,
            controllers={s.name: c.state_dict() for s, c in zip(self.spaces, self.controllers)})

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('ohl')
        if state is None:
            runner.logger.warning('the checkpoint has no OHL state; the OHL search starts from scratch')
            return
        missing = {s.name for s in self.spaces} - set(state['controllers'])
        if missing:
            raise ValueError(f'the checkpoint has no OHL state for spaces {sorted(missing)}; it has '
                             f'{sorted(state["controllers"])}')
        for space, controller in zip(self.spaces, self.controllers):
            controller.load_state_dict(state['controllers'][space.name])
        self.trunk, self.seed, self.history = state['trunk'], state['seed'], list(state['history'])

    # ------------------------------------------------------------------------------------------ trunk logic
    def _begin_trunk(self, runner) -> None:
        # Each copy gets its own, reproducible randomness for this trunk (augmentation, dropout, sampling),
        # independent of what happened before: a resumed run continues exactly like an uninterrupted one.
        key = [self.seed, self.layout.copy_id, self.layout.rank_in_copy, self.trunk]
        trunk_seed = int(np.random.SeedSequence(key).generate_state(1)[0])
        random.seed(trunk_seed)
        np.random.seed(trunk_seed)
        torch.manual_seed(trunk_seed)
        for i, space in enumerate(self.spaces):
            generator = torch.Generator().manual_seed(
                int(np.random.SeedSequence([self.seed, self.layout.copy_id, self.trunk, i]).generate_state(1)[0]))
            space.begin_trunk(runner, self.trunk, generator)
        self._trunk_start = time.perf_counter()

    def _end_trunk(self, runner) -> None:
        layout = self.layout
        start = time.perf_counter()
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        valid = not self._diverged and all(torch.isfinite(p).all() for p in model.parameters())
        reward = self._evaluate_reward(runner) if valid else float('nan')
        valid = valid and math.isfinite(reward)
        t_reward = time.perf_counter()
        try:
            barrier()  # separates waiting for the slowest copy from the cost of the collectives below
        except RuntimeError as err:  # gloo/nccl raise when a peer died or the collective timed out
            raise RuntimeError(
                f'OHL trunk {self.trunk}: rank {layout.rank} could not meet the other copies at the trunk end: a '
                'rank crashed or hung longer than env_cfg.dist_cfg.timeout. Continue from the last checkpoint with '
                f'`tools/train.py CONFIG --resume`. ({err})') from err
        t_wait = time.perf_counter()

        row = torch.cat([torch.tensor([reward if valid else 0.0, float(valid)], dtype=torch.float64)]
                        + [s.trunk_stats() for s in self.spaces])
        rows = gather_rows(row)[[layout.lead_rank(c) for c in range(layout.num_copies)]]
        rewards, valids = rows[:, 0].tolist(), rows[:, 1].bool().tolist()
        if not any(valids):
            raise RuntimeError(f'OHL trunk {self.trunk}: every copy diverged (non-finite loss or weights); '
                               'lower the learning rate or narrow the search space')
        finite = [r for r, ok in zip(rewards, valids) if ok]
        worst = min(finite) if self.worst_reward is None else float(self.worst_reward)
        rewards = [r if ok else worst for r, ok in zip(rewards, valids)]
        best = max((c for c in range(layout.num_copies) if valids[c]), key=lambda c: (rewards[c], -c))

        offset, updates = 2, {}
        for space, controller in zip(self.spaces, self.controllers):
            size = space.distribution.stats_size()
            stats = [rows[c, offset:offset + size].clone() for c in range(layout.num_copies)]
            offset += size
            updates[space.name] = controller.step(stats, rewards)
            space.reset_stats()
        t_update = time.perf_counter()

        before = fingerprint(model) if self.verify_sync else None
        self._broadcast_copy_state(runner, src=layout.lead_rank(best))
        t_broadcast = time.perf_counter()
        sync = self._verify(model, before, best) if self.verify_sync else {}
        t_verify = time.perf_counter()

        # Seconds of this trunk on this rank: training (with data loading) and each engine step.
        seconds = dict(train=start - self._trunk_start, reward=t_reward - start, wait=t_wait - t_reward,
                       gather_update=t_update - t_wait, broadcast=t_broadcast - t_update, verify=t_verify - t_broadcast)
        record = dict(trunk=self.trunk, seconds={k: round(v, 6) for k, v in seconds.items()},
                      epoch=runner.epoch + 1 if self.trunk_epochs else runner.epoch, iter=runner.iter + 1,
                      rewards=rewards, valid=valids, best=best, controller=updates,
                      distributions={s.name: s.distribution.summary() for s in self.spaces},
                      theta={s.name: [p.detach().tolist() for p in s.distribution.parameters()]
                             for s in self.spaces}, **sync)
        self.history.append(record)
        self._report.write(self.history, self.spaces, step=runner.iter + 1)
        runner.logger.info(
            f'OHL trunk {self.trunk}: rewards {[round(r, 4) for r in rewards]}, best copy {best}, '
            + ', '.join(f'{n}: {s.distribution.summary(top_k=3)}' for n, s in
                        ((s.name, s) for s in self.spaces)))
        self._diverged = False
        self.trunk += 1

    def _verify(self, model: torch.nn.Module, before: torch.Tensor, best: int) -> dict:
        """Gather θ and weight fingerprints from every rank; raise if the ranks disagree."""
        theta = torch.cat([p.detach().flatten().to(torch.float64) for s in self.spaces
                           for p in s.distribution.parameters()] or [torch.zeros(0, dtype=torch.float64)])
        after = fingerprint(model)
        rows = gather_rows(torch.cat([theta, before, after]))
        n, layout = theta.numel(), self.layout
        theta_ok = _same(rows[:, :n], rows[0, :n])
        copies_ok = _same(rows[:, n + 4:], rows[0, n + 4:])
        best_ok = _same(rows[0, n + 4:], rows[layout.lead_rank(best), n:n + 4])
        # Ranks of one copy train under DDP: their parameters (not BN statistics) must agree before the broadcast.
        leads = [layout.lead_rank(r // layout.ranks_per_copy) for r in range(layout.world_size)]
        in_copy_ok = _same(rows[:, n:n + 2], rows[leads, n:n + 2])  # a diverged copy is NaN on all its ranks
        if not (theta_ok and copies_ok and best_ok and in_copy_ok):
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

    # ------------------------------------------------------------------------------------------ reward split
    def _build_reward_eval(self, runner) -> None:
        if self._reward_loader is not None:
            return
        run_cfg = runner.cfg
        loader_cfg = self.reward_dataloader_cfg or run_cfg.get('reward_dataloader')
        evaluator_cfg = (self.reward_evaluator_cfg or run_cfg.get('reward_evaluator')
                         or run_cfg.get('val_evaluator'))
        if loader_cfg is None:
            raise ValueError('OHLHook needs a reward split: give reward_dataloader to the hook or define a top-level '
                             '`reward_dataloader` in the config (held out from training, never the test split)')
        if evaluator_cfg is None:
            raise ValueError('OHLHook needs reward_evaluator (or a reward_evaluator / val_evaluator in the config)')
        self._reward_loader = build_local_loader(loader_cfg, 'reward_dataloader')
        dataset = self._reward_loader.dataset
        self._evaluator = runner.build_evaluator(evaluator_cfg)
        self._evaluator.dataset_meta = getattr(dataset, 'metainfo', None)

    def _evaluate_reward(self, runner) -> float:
        """This copy's reward on the whole reward split, computed locally (never gathered across copies)."""
        metrics = evaluate_locally(runner.model, self._reward_loader, self._evaluator)
        return metric_value(metrics, self.reward_key, 'reward_key')
