"""A search step of the one-shot search loops: the pool's candidates scored across the ranks (resuming finished
scores, with progress, ETA and partial checkpoints), the step refused where its scores cannot tell the candidates apart,
the ranking logged and the top K kept.

:class:`SearchStepScoring` is a base of :class:`~automl_mm.nas.loop.SearchLoopBase` (so of ``PCNASLoop`` and
``CRNASLoop``); its names are still importable from :mod:`automl_mm.nas.loop`, their former home.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from mmengine.dist import broadcast_object_list, get_world_size
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch import nn

from automl_mm.ohl.sync import broadcast_buffers_

from .beam import PartialArchitecturePool, score_step
from .scoring import PathEvaluator
from .search_log import score_text, unscored_reasons, warn


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
    in words, for :meth:`SearchStepScoring.run_step`'s warning and refusal."""
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


class SearchStepScoring:
    """How a search loop runs one step of a partial-architecture pool (a mixin of
    :class:`~automl_mm.nas.loop.SearchLoopBase`, which gives it the runner, ``metric_key``, the checkpoint interval and
    ``save_search_checkpoint``)."""

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
