"""The reward of a trunk: score each copy on the reward split, combine the copies' rows, pick the best copy.

At every trunk end (METHODS.md §1, step 5) each copy is scored on the reward split (:class:`RewardScorer`: the
reward split's metric, optionally with BatchNorm statistics re-estimated on clean training images; a copy of
several ranks reads it sharded over them and its lead rank computes the reward), every rank
contributes one row (:func:`trunk_row`), the all-gathered rows become per-copy rewards, validity and statistics
(:func:`combine_copy_rows`), and :func:`settle_rewards` gives a diverged copy the worst reward, checks that there
is something to learn from and picks the best copy. :class:`~automl_mm.ohl.hook.OHLHook` runs these in order.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed
from mmengine.dist import get_world_size
from mmengine.logging import print_log

from automl_mm.augment.choice import CHOICE_META_KEY
from automl_mm.engine.evaluate import (
    HeldOutEvaluator,
    build_local_loader,
    check_local_loader,
    fixed_batches,
    kept_bn_statistics,
    recalibrate_bn,
)
from automl_mm.utils.metric_rule import resolve_rule, rule_sign

from .checks import check_bn_recalibration
from .copy_collectives import copy_all_valid as copy_all_valid  # importable from here as before the split
from .copy_collectives import read_with_lead_buffers
from .copy_verification import same
from .distributions.categorical import _DiscreteDistribution


def has_loss_scaler(optim_wrapper: Any) -> bool:
    """Whether an optimiser wrapper (or any in an ``OptimWrapperDict``) scales the loss (AMP)."""
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None)
    wrappers = wrappers.values() if isinstance(wrappers, dict) else [optim_wrapper]
    return any(getattr(w, 'loss_scaler', None) is not None for w in wrappers)


def copy_is_valid(model: torch.nn.Module, trunk_iters: int, nonfinite_losses: int, uses_loss_scaler: bool) -> bool:
    """Whether this rank's copy can be rewarded and chosen: finite weights *and* buffers (BN statistics), and
    finite losses in the ``trunk_iters`` iterations of the trunk (``nonfinite_losses`` of them were not). Under a
    loss scaler (AMP) a non-finite loss is a step the scaler skipped, not a divergence; the copy is diverged only
    when every step of the trunk was non-finite."""
    if not all(torch.isfinite(t).all() for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()):
        return False
    if uses_loss_scaler:
        return not (trunk_iters > 0 and nonfinite_losses >= trunk_iters)
    return nonfinite_losses == 0


def clean_train_loader_cfg(cfg: Any, explicit: dict | None, hook_key: str = 'OHLHook') -> tuple[dict, str]:
    """``(loader config, its config key)`` of clean training images for ``OHLHook.bn_recalibration_dataloader``:
    ``explicit`` if given, else ``train_dataloader`` whose dataset reads with the top-level ``test_pipeline``;
    ``hook_key`` names the hook (its config key, ``'custom_hooks[0]'``).

    Raises:
        ValueError: no ``explicit`` loader and the config lacks ``train_dataloader.dataset.pipeline`` (a wrapped
            dataset) or ``test_pipeline``; the message names the keys.
    """
    if explicit is not None:
        return explicit, f'{hook_key}.bn_recalibration_dataloader'
    train = cfg.get('train_dataloader') or {}
    dataset, test_pipeline = train.get('dataset') or {}, cfg.get('test_pipeline')
    if 'pipeline' not in dataset or not test_pipeline:
        raise ValueError(f'{hook_key}.bn_recalibration_batches > 0 needs clean training images: set '
                         f'{hook_key}.bn_recalibration_dataloader, or give the config a top-level test_pipeline and a '
                         'train_dataloader.dataset with its own pipeline (not a dataset wrapper)')
    return dict(train, dataset=dict(dataset, pipeline=test_pipeline)), 'train_dataloader (with test_pipeline)'


class RewardScorer:
    """A copy's reward: ``reward_key`` of the reward split's evaluator, read with the copy's own BatchNorm statistics
    or, with ``bn_recalibration_batches`` > 0, with statistics re-estimated on that many clean training batches
    (the same batches for every copy and trunk; the copy's own statistics are put back after). The arguments are
    ``OHLHook``'s of the same names; ``hook_key`` (the hook's config key, ``'custom_hooks[0]'``, else ``'OHLHook'``)
    prefixes them in errors. ``reward_rule`` (``'greater'``, ``'less'`` or ``None``: inferred from
    ``reward_key`` by :func:`~automl_mm.utils.metric_rule.infer_rule`) says whether a higher or a lower metric is
    the better copy; :attr:`rule` holds the resolved one, :attr:`sign` +1 / -1 (``sign × metric`` is what the
    controller ascends).

    Raises:
        ValueError: ``reward_rule`` is not ``'greater'``, ``'less'`` or ``None`` (naming ``reward_key``);
            ``bn_recalibration_batches`` is not a non-negative integer, or is 0 with a
            ``bn_recalibration_dataloader``; a key of ``reward_dataloader`` or ``bn_recalibration_dataloader`` that
            would not be applied (:func:`~automl_mm.engine.evaluate.check_local_loader`) (at construction); the
            reward split, its evaluator or the clean loader cannot be built, or SyncBN layers would re-estimate
            across a copy's ranks (in :meth:`build`).
    """

    def __init__(self, reward_key: str, reward_dataloader: dict | None = None,
                 reward_evaluator: dict | list[dict] | None = None, bn_recalibration_batches: int = 0,
                 bn_recalibration_dataloader: dict | None = None, reward_rule: str | None = None,
                 hook_key: str = 'OHLHook') -> None:
        self.rule = resolve_rule(reward_rule, reward_key, f'{hook_key}.reward_rule', 'reward_key')
        self.sign = rule_sign(self.rule)
        if isinstance(bn_recalibration_batches, bool) or not isinstance(bn_recalibration_batches, int) \
                or bn_recalibration_batches < 0:
            raise ValueError(f'{hook_key}.bn_recalibration_batches must be a non-negative integer (0: off), got '
                             f'{bn_recalibration_batches!r}')
        if bn_recalibration_dataloader is not None and not bn_recalibration_batches:
            # the loader is read only to re-estimate the statistics: alone it changed nothing, silently
            raise ValueError(f'{hook_key}.bn_recalibration_dataloader is set but bn_recalibration_batches=0, so it '
                             'would never be read (the reward is read with each copy\'s own BatchNorm statistics): '
                             'set bn_recalibration_batches to the number of its batches to re-estimate them on, or '
                             'leave bn_recalibration_dataloader out')
        if bn_recalibration_dataloader is not None:  # its sampling keys, before any worker builds a runner
            check_local_loader(bn_recalibration_dataloader, f'{hook_key}.bn_recalibration_dataloader', 'sample')
        self.reward_key = reward_key
        self.hook_key = hook_key
        self.held_out = HeldOutEvaluator('reward', reward_key, 'OHLHook', reward_dataloader, reward_evaluator,
                                         f'{hook_key}.reward_dataloader', f'{hook_key}.reward_evaluator', 'reward_key')
        self.bn_recalibration_batches = bn_recalibration_batches
        self._bn_loader_cfg = bn_recalibration_dataloader
        self.bn_batches: list | None = None  # the clean batches, loaded by build() when bn_recalibration_batches > 0

    def build(self, runner, ranks_per_copy: int, seed: int, is_lead: bool = True) -> RewardScorer:
        """Build the reward split's loader and evaluator, and load the clean batches once (kept in memory for the
        whole run), seeded with ``seed``, should the clean pipeline draw anything: pass the run's seed, the same on
        every rank (:func:`~automl_mm.engine.run_info.run_seed`; ``runner.seed`` is ``seed + rank`` under
        ``randomness.diff_rank_seed``, and the copies recalibrated on different batches). Only a copy's lead rank
        (``is_lead``) loads the clean batches: it alone re-estimates the statistics (:meth:`score`); the copy's other
        ranks loaded them and never used them."""
        self.held_out.build(runner)
        if self.bn_recalibration_batches:
            check_bn_recalibration(runner.model, ranks_per_copy, self.hook_key)
        if self.bn_recalibration_batches and self.bn_batches is None and is_lead:
            from automl_mm.engine.runner_checks import checked_config

            # the training loader the runner runs (Runner(train_dataloader=..., cfg=dict(...)): its argument)
            loader_cfg, key = clean_train_loader_cfg(checked_config(runner), self._bn_loader_cfg, self.hook_key)
            loader = build_local_loader(loader_cfg, key, 'train' if self._bn_loader_cfg is None else 'sample',
                                        ranks_per_copy)  # a copy's share of a num_batch_per_epoch slice
            self.bn_batches = fixed_batches(loader, self.bn_recalibration_batches, int(seed))
        return self

    def metric_names(self) -> list[str]:
        """The names of the reward evaluator's metrics (for messages)."""
        return self.held_out.metric_names()

    def score(self, model: torch.nn.Module, group: Any = None) -> tuple[float, bool] | None:
        """``(reward, no metrics)`` of ``model`` (see :meth:`HeldOutEvaluator.score`), read by this rank alone, or
        by the ranks of ``group`` (a copy's process group, ``CopyLayout.group``; its first rank is the copy's lead)
        together, each reading its own block of the split.

        With a ``group`` of several ranks every rank of it must call this, and only the lead gets the reward (the
        others ``None``). Before reading, every rank takes the lead's buffers (one broadcast within the copy): the
        ranks train in step under DDP, which keeps the parameters equal but, with ``broadcast_buffers=False``, the
        BatchNorm statistics of each rank's own shard (with ``True`` it would send the lead's only at the next
        training forward), and the whole reading must be of the lead's model, as the unsharded reading was. With
        ``bn_recalibration_batches`` the lead alone re-estimates the statistics on the clean batches (the only rank
        that loads them) before that broadcast: the same statistics, bit for bit, as one rank reading alone (a
        re-estimation sharded over the copy's ranks would average other dropout / drop-path draws, in another
        order of sums, and its pass is short beside the reward split's). Each rank's own buffers are put back after
        the reading (:func:`kept_bn_statistics`), so training goes on as without the reading. That the parameters
        are equal is checked after the trunk end (``verify_sync``'s ``ranks_in_copy_identical``)."""
        if group is None or get_world_size(group) == 1:
            if not self.bn_recalibration_batches:
                return self.held_out.score(model)
            with kept_bn_statistics(model):
                recalibrate_bn(model, self.bn_batches)
                return self.held_out.score(model)
        recalibrate = (lambda: recalibrate_bn(model, self.bn_batches)) if self.bn_recalibration_batches else None
        return read_with_lead_buffers(model, group, lambda: self.held_out.score(model, group=group), recalibrate)


def _fresh_count(space: Any) -> float:
    """A space's :meth:`~automl_mm.ohl.base.OHLSpace.fresh_count` for the row, -1 where it counts none."""
    count = getattr(space, 'fresh_count', lambda: None)()  # a duck-typed space: none
    return -1.0 if count is None else float(count)


def _draw_image_counts(space: Any) -> list[int] | None:
    """A space's ``draw_image_counts()`` (``PipelineChoiceSpace(policy_size=K)``: per draw of its trunk policy, how
    many images of this rank applied its choice), ``None`` where it has none (a per-image or duck-typed space)."""
    return getattr(space, 'draw_image_counts', lambda: None)()


def _histogram_stats(distribution: Any) -> bool:
    """Whether ``distribution``'s statistics are the built-in histogram of its flat choices (``Categorical``,
    ``FactorisedCategorical``: their mean for one draw is ``probs()``), not a plugin's own."""
    return getattr(type(distribution), 'sufficient_stats', None) is _DiscreteDistribution.sufficient_stats


def mean_draw_stats(distribution: Any) -> torch.Tensor:
    """E_θ[s], the mean statistics of one draw of a discrete ``distribution`` (float64, ``stats_size()``):
    ``probs()`` for a histogram of the flat choices, else Σ_a p_θ(a) s(a) over its choices (one
    ``sufficient_stats`` call per choice: a plugin's per-factor histograms, say)."""
    probs = distribution.probs().to(torch.float64)
    if _histogram_stats(distribution):
        return probs
    return sum((p * distribution.sufficient_stats(torch.tensor([a])).to(torch.float64)
                for a, p in enumerate(probs.tolist()) if p > 0),
               torch.zeros(distribution.stats_size(), dtype=torch.float64))


def policy_credit(distribution: Any, policy: torch.Tensor, images: torch.Tensor,
                  mean: torch.Tensor | None = None) -> torch.Tensor:
    """The statistics a copy with a trunk policy is credited with (float64, ``distribution.stats_size()``).

    Args:
        distribution: The space's discrete distribution p_θ (``probs()`` over the flat choices): a built-in
            ``Categorical`` / ``FactorisedCategorical``, whose statistics are the histogram of flat choices and
            ``probs()`` their mean for one draw, or a plugin one with other (additive) statistics, whose mean
            Σ_a p_θ(a) s(a) is summed over its choices (:func:`mean_draw_stats`).
        policy: (K,) the copy's drawn choices a_1..a_K.
        images: (K,) per draw k, the copy's images (over all its ranks) of this trunk's policy that applied a_k.
        mean: :func:`mean_draw_stats` of ``distribution`` where the caller has it (``combine_copy_rows``: once
            per space, not per copy); computed here where ``None``.

    Returns:
        Σ_k w_k s(a_k) + (K - Σ_k w_k) E_θ[s], where s(a) is the statistics of one draw a (E_θ[s] = p_θ for a
        histogram) and w_k = 1 - (1 - 1/c_k)^(n_k), c_k the draws equal to a_k and n_k = ``images[k]``: the
        probability that one of the images of a_k picked draw k. Zeros (no sample) where no image used the policy.
        All w_k are 1 (the statistics of the K draws) where every draw is surely used; K samples otherwise too.

    Why this is unbiased (REINFORCE, Williams 1992). An image that applies value v with probability c_v/K is one
    that picks a draw index uniformly, independently of the draws' values; let U be the indices picked. Given the
    picks the reward R depends on the draws in U only, so E[R Σ_{k∈U} ∇log p(a_k)] = ∇E[R] (the picks' law does
    not depend on θ), and E[Σ_{k∈U} ∇log p(a_k)] = 0, so a baseline adds no bias. The images show values, not
    indices: the credit replaces the indicator 1{k ∈ U} by its expectation w_k given the draws and the images'
    values, on which R depends (linear in the indicator, so the expectation is kept and the noise of guessing the
    index is averaged out), and an unpicked draw's score by its mean, 0, i.e. its statistics by E_θ[s]. The
    controller averages log-probabilities over the K credited draws (``grad_mean_log_prob``): the copy's step is
    (1/K) Σ_k w_k ∇log p(a_k), expected ∇E[R] / K, as when every draw is credited. The ranks of a copy pick
    independently given the policy (each with its own stream), so their images are simply more images: their
    counts are summed before w is computed. Crediting the draws whose value an image used (all c_v of them), or
    dropping the unpicked draws from the average (a 1/|U| weight that depends on the picks), is biased.
    """
    size = distribution.stats_size()
    if not bool((images > 0).any()):
        return torch.zeros(size, dtype=torch.float64)
    policy = policy.to(torch.long)
    equal = (policy[:, None] == policy[None, :]).sum(dim=1).to(torch.float64)
    weights = 1.0 - (1.0 - 1.0 / equal).pow(images.to(torch.float64))
    stats = torch.zeros(size, dtype=torch.float64)
    for draw, weight in zip(policy.tolist(), weights.tolist()):
        if weight > 0:
            stats += weight * distribution.sufficient_stats(torch.tensor([draw])).to(torch.float64)
    unused = float(len(policy)) - float(weights.sum())
    if unused <= 0:
        return stats
    # a histogram of the flat choices (the built-in statistics) has mean p_θ; a plugin's other statistics (per-factor
    # histograms: of (2, 2) factors as many entries as choices, once refused or padded with p_θ) their own mean
    stats += unused * (mean_draw_stats(distribution) if mean is None else mean)
    if _histogram_stats(distribution):
        stats[int(stats.argmax())] += len(policy) - float(stats.sum())  # a count of K, not K + 4e-16, in the history
    return stats


def trunk_row(reward: float, valid: bool, empty: bool, spaces: Sequence[Any]) -> torch.Tensor:
    """This rank's row for :func:`combine_copy_rows` (float64, length 3 + 2 S + Σ stats_size + Σ 2 K): reward (0
    when not valid), valid, empty-metrics flag, each space's stale-sample count, each space's fresh-item count
    (:meth:`~automl_mm.ohl.base.OHLSpace.fresh_count`, -1 where it counts none), each space's statistics, then for
    each space with a trunk policy of K draws (``draw_image_counts``) the K drawn choices and, per draw, the images
    of this rank that applied its choice."""
    policies = []
    for s in spaces:
        images = _draw_image_counts(s)
        if images is not None:
            policies.append(torch.tensor([*map(float, s.policy), *map(float, images)], dtype=torch.float64))
    return torch.cat([torch.tensor([reward if valid else 0.0, float(valid), float(empty)], dtype=torch.float64)]
                     + [torch.tensor([float(s.stale_count())], dtype=torch.float64) for s in spaces]
                     + [torch.tensor([_fresh_count(s)], dtype=torch.float64) for s in spaces]
                     + [s.trunk_stats() for s in spaces] + policies)


def combine_copy_rows(rows: torch.Tensor, layout: Any, spaces: Sequence[Any], trunk: int = 0) -> dict:
    """Per-copy rewards, validity and statistics from the all-gathered rows of every rank.

    Row layout (one per rank, ``rows`` is (world_size, 3 + 2 S + Σ stats_size + Σ 2 K), :func:`trunk_row`):
    reward, valid, empty-metrics flag, one stale-sample count per space, one fresh-item count per space (-1: not
    counted), each space's statistics, then each trunk policy's K draws and K image counts. A copy's reward and empty
    flag are its lead rank's (the lead computes it from the results of the copy's ranks); it is valid only if every
    one of its ranks is; the statistics of a per-item space (and the stale and fresh counts) are **summed** over the
    copy's ranks, since each rank trains on its own shard (``fresh`` is ``None`` for a space that counts none); a
    per-copy space's sample is the same on every rank of the copy, so its lead's statistics are used (and the ranks
    must agree). A space with a trunk policy (``PipelineChoiceSpace(policy_size=K)``, ``draw_image_counts``)
    gives the copy :func:`policy_credit` of its policy and its images summed over its ranks: each draw weighted by
    the probability that one of the copy's images picked it, its expectation p_θ for the rest (a draw no image
    used, its images prefetched under the trunk before's policy or drawing the others, moves θ by nothing), none
    where no image used the policy; unbiased REINFORCE, expected step ∇E[R] / K (see :func:`policy_credit`).

    Raises:
        RuntimeError: the ranks of a copy recorded different per-copy samples.
    """
    n, r = layout.num_copies, layout.ranks_per_copy
    rows = rows.reshape(n, r, -1)
    out = dict(rewards=rows[:, 0, 0].tolist(), valid=rows[:, :, 1].bool().all(dim=1).tolist(),
               empty=rows[:, 0, 2].bool().tolist(), stale={}, fresh={}, stats={})
    offset = 3
    for space in spaces:
        out['stale'][space.name] = [int(v) for v in rows[:, :, offset].sum(dim=1).tolist()]
        offset += 1
    for space in spaces:
        fresh = rows[:, :, offset]
        out['fresh'][space.name] = None if bool((fresh < 0).any()) else [int(v) for v in fresh.sum(dim=1).tolist()]
        offset += 1
    for space in spaces:
        size = space.distribution.stats_size()
        block = rows[:, :, offset:offset + size]
        offset += size
        if space.per_item:
            out['stats'][space.name] = [block[c].sum(dim=0) for c in range(n)]
        else:
            if not same(block, block[:, :1].expand_as(block), nan_equal=True):
                raise RuntimeError(f'OHL trunk {trunk}: the ranks of a copy sampled different values for the '
                                   f'per-copy space {space.name!r}; its samples must depend on the copy only')
            out['stats'][space.name] = [block[c, 0].clone() for c in range(n)]
    for space in spaces:
        # a trunk policy: the lead's draws (every rank of the copy drew them: its statistics were compared above)
        # and the images of each draw's choice summed over the copy's ranks
        images = _draw_image_counts(space)
        if images is None:
            continue
        k = len(images)
        mean = mean_draw_stats(space.distribution)
        for c in range(n):
            out['stats'][space.name][c] = policy_credit(space.distribution, rows[c, 0, offset:offset + k],
                                                        rows[c, :, offset + k:offset + 2 * k].sum(dim=0), mean)
        offset += 2 * k
    return out


def default_worst_reward(finite: Sequence[float], sign: float = 1.0) -> float:
    """The reward of a diverged copy: strictly worse than every reward in ``finite`` (below them for ``sign`` +1,
    rule ``'greater'``; above them for -1, rule ``'less'``), by their spread but at least by
    ``max(1e-3 × |worst reward|, 1e-3)`` (in the reward's units). Equal to the worst reward, a diverged copy
    would tie with the only valid copy of a pair and the controller would learn nothing from the divergence.
    ``finite`` holds the valid copies' rewards as :func:`settle_rewards` settles them (a metric-less copy's 0 only
    where it is kept as its reading)."""
    oriented = [sign * r for r in finite]
    lo, hi = min(oriented), max(oriented)
    return sign * (lo - max(hi - lo, 1e-3 * abs(lo), 1e-3))


def controller_step(controller: Any, stats: Sequence[torch.Tensor], rewards: Sequence[float],
                    measured: Sequence[bool]) -> Any:
    """``controller.step(stats, rewards)``, with ``measured`` (per copy, whether its reward is a reading, not a
    stand-in) where the controller's ``step`` takes it (:class:`~automl_mm.ohl.controllers.REINFORCE`: its baseline
    averages the readings only); a plugin controller's ``step(stats, rewards)`` is called as before."""
    try:
        takes = 'measured' in inspect.signature(controller.step).parameters
    except (TypeError, ValueError):  # a callable without a signature (a C extension's)
        takes = False
    return controller.step(stats, rewards, measured=list(measured)) if takes else controller.step(stats, rewards)


def counts_items(space: Any, trunk: dict) -> bool:
    """Whether ``space``'s samples in :func:`combine_copy_rows`' output ``trunk`` are counted by the items (images)
    that used them: a per-item space's, and one with fresh-item counts (``PipelineChoiceSpace(policy_size=K)``),
    whose copies count no sample where none of their images used the trunk's draw."""
    return bool(space.per_item) or trunk.get('fresh', {}).get(space.name) is not None


#: Why a reward evaluator returns no metrics, named where a copy got none: besides a metric configured to compute
#: nothing, mmdet's CocoMetric returns ``{}`` for a copy that predicted no box on the reward split (pycocotools' loadRes
#: raises on no result; mmdet logs "The testing results of the whole dataset is empty"), as a detector does early in
#: training or under a ``score_thr`` above its scores.
_NO_METRICS_CAUSES = ('format_only=True computes nothing; mmdet\'s CocoMetric returns none for a copy that predicted '
                      'no box on the reward split, as its "testing results of the whole dataset is empty" error says: '
                      'a detector early in training, or model.test_cfg\'s score_thr above its scores')


def settle_rewards(trunk: dict, spaces: Sequence[Any], scorer: RewardScorer, worst_reward: float | None,
                   index: int, iters_in_trunk: int, partial: bool = False) -> tuple[list[float], dict, int]:
    """``(rewards, sample counts per space and copy, best copy)`` of trunk ``index`` from
    :func:`combine_copy_rows`' output ``trunk``. The rewards are returned as measured (a loss as the loss); under
    ``scorer.rule`` ``'less'`` the best copy is the valid one with the lowest reward, else with the highest (the
    lowest index on a tie), and a diverged copy gets ``worst_reward`` (default: :func:`default_worst_reward` of the
    valid copies' rewards), which must be worse than every valid copy's (below them, or above them under
    ``'less'``). The controller is given ``scorer.sign × rewards``.

    A diverged copy's stand-in is worse than every valid copy's reward as settled (readings 0.30 and 0.32 beside a
    copy that detected nothing, its AP 0: -0.32, below that copy), and the controller is told which rewards are
    readings (:func:`controller_step`): a diverged copy's and a metric-less copy's stand-in are none, a kept 0 is.

    A valid copy whose reward evaluator returned no metrics reads 0, its reward where 0 is no better than every
    other valid copy's reading (an AP of no detection); else (a loss under ``'less'``, a negative higher-is-better
    metric such as ``log_likelihood/mean``, where 0 ranked it the best copy) it gets
    :func:`default_worst_reward` of those readings. It is named in a warning, here from the gathered flags, so
    the main process logs it whichever rank is the copy's lead (warned on the lead, it was lost for every copy but
    copy 0: mmengine's logger shows only errors on the other ranks).

    A ``partial`` trunk (the run's remainder after its last whole trunk, or one a stop cut short) whose batches were
    all prefetched by dataloader workers before it began counts no choice of its own θ: no trunk length avoids
    that (an iteration loop of 11 iterations in trunks of 5 with 2 workers ends with a trunk of 1 prefetched batch),
    so it is logged and the copies count 0 samples there (the hook then leaves θ alone) instead of stopping the
    run after its last iteration. So does a space with fresh-item counts (``PipelineChoiceSpace(policy_size=K)``,
    :func:`counts_items`): a copy none of whose images sampled among this trunk's policy gets statistics of 0 samples
    (``trunk['stats']`` is updated in place; its K draws were credited with a reward its images earned under the
    trunk before's policy).

    Raises:
        RuntimeError: the reward evaluator returned no metrics for any valid copy; every copy diverged; or a
            per-item space (or one with fresh-item counts) counted no choices in a trunk that trained
            (``iters_in_trunk`` > 0) on some copy, unless the trunk is ``partial`` and its samples were all
            prefetched. Each message names the trunk and what to check.
    """
    rewards, valids = trunk['rewards'], trunk['valid']
    num_copies = len(rewards)
    if all(trunk['empty'][c] for c in range(num_copies) if valids[c]) and any(valids):
        raise RuntimeError(f'OHL trunk {index}: the reward evaluator ({scorer.metric_names()}) returned no metrics '
                           'for any copy, so there is no reward to learn from; check reward_evaluator (e.g. '
                           f'{_NO_METRICS_CAUSES}) and reward_key={scorer.reward_key!r}')
    empty = [c for c in range(num_copies) if valids[c] and trunk['empty'][c]]
    if not any(valids):
        raise RuntimeError(f'OHL trunk {index}: every copy diverged (non-finite loss, weights or buffers); lower the '
                           'learning rate or narrow the search space')
    for space in spaces:
        # a copy whose images carried none of its trunk draw (PipelineChoiceSpace(policy_size=K): all prefetched under
        # the trunk before's policy) used no sample of it: its statistics count none, as a per-image space's do
        fresh = trunk.get('fresh', {}).get(space.name)
        if fresh is not None:
            trunk['stats'][space.name] = [torch.zeros_like(st) if n == 0 else st
                                          for st, n in zip(trunk['stats'][space.name], fresh)]
    counts = {s.name: [s.distribution.sample_count(st) for st in trunk['stats'][s.name]] for s in spaces}
    if iters_in_trunk > 0:
        for space in spaces:
            if counts_items(space, trunk) and min(counts[space.name]) == 0:
                stale = trunk.get('stale', {}).get(space.name)
                if stale and all(n > 0 for c, n in zip(counts[space.name], stale) if c == 0):
                    if partial:
                        print_log(f'OHL trunk {index} (partial, {iters_in_trunk} iterations): space '
                                  f'{space.name!r} counted no choices of this trunk on some copy (per copy: '
                                  f'{counts[space.name]}; drawn from an earlier trunk\'s theta: {stale}): '
                                  'dataloader workers had prefetched its batches', 'current', logging.WARNING)
                        continue
                    raise RuntimeError(
                        f'OHL trunk {index}: space {space.name!r} counted no choices of this trunk in '
                        f'{iters_in_trunk} iterations (per copy: {counts[space.name]}; drawn from an earlier '
                        f'trunk\'s theta: {stale}): dataloader workers prefetched every batch of the trunk before it '
                        'began. Make trunks longer than num_workers x prefetch_factor batches')
                raise RuntimeError(
                    f'OHL trunk {index}: space {space.name!r} counted no choices in {iters_in_trunk} iterations '
                    f'(per copy: {counts[space.name]}): the data samples carry no '
                    f"metainfo['{CHOICE_META_KEY}'][{getattr(space, 'key', space.name)!r}]. Keep "
                    f"'{CHOICE_META_KEY}' in the packing transform's meta_keys and the choice transform in "
                    'train_dataloader.dataset.pipeline')
    sign = getattr(scorer, 'sign', 1.0)
    readings = [r for c, r in enumerate(rewards) if valids[c] and c not in empty]  # what the metrics read
    if empty:
        # An empty copy reads 0, which stands for its reward only where 0 is no better than every copy that read one
        # (an AP of no detection: then it is that copy's reading). A perfect loss under 'less', and above every
        # reading of a negative higher-is-better metric (a log-likelihood, minus a loss): there it gets a reward
        # worse than the readings', computed from the readings alone (the 0 nobody read stays out of its spread)
        kept = 0.0 <= min(sign * r for r in readings)  # sign x 0 is no better than the worst reading
        stand_in = '0'
        if not kept:
            bottom = default_worst_reward(readings, sign)
            rewards = [bottom if c in empty else r for c, r in enumerate(rewards)]
            stand_in = (f'{bottom:.6g}, worse than every copy that read one '
                        f"(reward_rule={getattr(scorer, 'rule', 'greater')!r})")
        print_log(f'OHL trunk {index}: {"copies" if len(empty) > 1 else "copy"} {", ".join(map(str, empty))} got no '
                  f'metrics from the reward evaluator ({scorer.metric_names()}); '
                  f'{"their rewards are" if len(empty) > 1 else "its reward is"} '
                  f'{stand_in}. '
                  'Check reward_evaluator (e.g. '
                  f'{_NO_METRICS_CAUSES}) and reward_key={scorer.reward_key!r}', 'current',
                  logging.WARNING)
    # a diverged copy's reward is worse than every valid copy's as settled above (a copy that detected nothing, or a
    # metric-less copy's stand-in, included): the raw 0 of a metric-less copy under 'less' entered the spread before
    settled = [r for r, ok in zip(rewards, valids) if ok]
    worst = default_worst_reward(settled, sign)
    if worst_reward is not None:
        worst_valid = sign * min(sign * r for r in settled)
        if sign * float(worst_reward) >= sign * worst_valid and not all(valids):
            # a diverged copy better than a valid one would have its choices learned toward (its advantage > 0)
            # named at the hook's config key (custom_hooks[0].worst_reward), as its other messages name its keys
            hook_key = getattr(scorer, 'hook_key', 'OHLHook')
            print_log(f'OHL trunk {index}: {hook_key}.worst_reward={worst_reward} is not worse than the worst valid '
                      f'reward {worst_valid:.6g} ({"below" if sign > 0 else "above"} it, reward_rule='
                      f"{getattr(scorer, 'rule', 'greater')!r}); the diverged copies get {worst:.6g} instead",
                      'current', logging.WARNING)
        else:
            worst = float(worst_reward)
    rewards = [r if ok else worst for r, ok in zip(rewards, valids)]
    best = max((c for c in range(num_copies) if valids[c]), key=lambda c: (sign * rewards[c], -c))
    return rewards, counts, best

