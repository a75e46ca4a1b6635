"""Scoring architectures with inherited supernet weights, on a held-out split, rank-locally.

``PathEvaluator`` applies a path to the supernet, optionally re-estimates BatchNorm statistics for it on a few
training batches (shared BN statistics mix every path the supernet ran), and computes the search metric on the
whole search split or on a few mini-batches. ``potential`` is the PC-NAS score of a partial path: the mean metric
over sampled completions that satisfy the cost limit.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
from mmengine.dist import all_gather_object, get_world_size
from mmengine.logging import MMLogger, print_log
from torch import nn

from automl_mm.engine.evaluate import (
    HeldOutEvaluator,
    cycle_batches,
    fixed_batches,
    kept_bn_statistics,
    recalibrate_bn,
)
from automl_mm.utils.checks import as_count
from automl_mm.utils.metric_rule import RULES
from automl_mm.utils.seeding import stream_rng

from .base import BasePathSpace, drawn_path
from .samplers import UniformPathSampler


@contextlib.contextmanager
def _quiet():
    """Silence stdout and mmengine's INFO messages (warnings and errors still pass)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def check_batches_per_sample(batches_per_sample: int | None, num_batches: int) -> None:
    """Refuse more mini-batches per sample than the search split holds: :func:`cycle_batches` would wrap around
    and one evaluation would see some images twice (a COCO metric counts the repeated boxes as false positives,
    which lowers the mAP; an accuracy weighs those images twice).

    Raises:
        ValueError: ``batches_per_sample`` > ``num_batches``, naming ``train_cfg.batches_per_sample``.
    """
    if batches_per_sample is not None and batches_per_sample > num_batches:
        raise ValueError(f'train_cfg.batches_per_sample={batches_per_sample} is more than the search split\'s '
                         f'{num_batches} batches: one evaluation would score some images twice (a COCO metric '
                         f'counts the repeated boxes as false positives); use at most {num_batches}, or None for the '
                         'whole split')


def new_readings() -> dict:
    """What a :class:`PathEvaluator` has read before any evaluation: ``{'lowest': inf, 'empty': False, 'nan': [],
    'read': []}``."""
    return {'lowest': math.inf, 'empty': False, 'nan': [], 'read': []}


def _batches_named(batches: Sequence[int]) -> str:
    """``[start, count]`` of a :class:`PathEvaluator`'s readings, in its words."""
    return f'{batches[1]} search batch(es) from batch {batches[0]}'


class PathEvaluator:
    """The search metric of one path with inherited weights.

    An evaluation whose metrics come back empty (mmdet's ``CocoMetric`` returns nothing when the detector
    predicted no box on the batches seen) scores the worst outcome of ``rule`` and logs a warning naming the path:
    0 under ``'greater'`` (the lowest AP or accuracy), ``+inf`` under ``'less'`` (0 would be a perfect error or
    loss: a candidate with some empty evaluations got a potential biased toward the best), so a potential averaging
    one is ``+inf`` and its candidate ranks after every candidate with a finite potential
    (:meth:`~automl_mm.nas.beam.PartialArchitecturePool.ranking`). ``empty_evaluations`` counts them, so a
    search loop can refuse a step in which every candidate scored nothing. Under ``'greater'`` a metric that also
    reads negative values (``log_likelihood/mean``, minus a loss) has no worst value to give an empty evaluation (its
    0 would rank above those readings): that is refused with a ``RuntimeError`` when both have been seen, on any
    rank (:meth:`share_readings`), also before a resume (``readings``). A COCO key reading ``-1`` on a few search
    mini-batches (COCOeval's value where they hold no ground-truth object of the key's area range:
    ``coco/bbox_mAP_s`` on images without small objects) is not an AP: it scores 0 as an evaluation without metrics
    does under ``'greater'``, so a candidate that predicted nothing there and one that predicted boxes score alike
    (those batches tell them nothing), and it is neither a negative reading (it was: beside one empty evaluation
    the search stopped saying the metric reads negative values) nor an empty evaluation; logged once per batches.
    Under ``'less'`` (on an AP key, a misconfiguration) such batches score 0 too, a constant of every candidate
    that reads them, and one that predicted nothing there scores ``+inf``, as everywhere (the warning says so).

    A ``metric_key`` that is NaN on a few search mini-batches (mmdet's per-class AP, ``CocoMetric`` / ``LVISMetric``
    with ``classwise=True``: ``coco/<class>_precision`` where the images read hold no ground-truth object of the
    class; ``CityScapesMetric``'s ``cityscapes/mAP`` on images without instances) is read alike by every candidate
    that reads those batches: it scores 0 as a COCO ``-1`` does, logged once per batches naming the key, and the
    batches are remembered (``readings['nan']``). A NaN on batches where another candidate read a value (any
    candidate, step or rank, also before a resume: ``readings['read']``) is the candidate's own fault (NaN outputs or
    weights), not a key without ground truth there, and is refused with a ``ValueError`` naming the key and the
    batches, as is a NaN on the whole search split (every candidate reads the same images: nothing to rank by).

    Each evaluation is kept in :attr:`sample_scores` as ``(sample_index, score, constant)``, ``constant`` where it read
    such a COCO ``-1`` or NaN, ``score`` ``None`` where it gave no metrics (the call returns the rule's worst, 0 or
    +inf, as above; the entry tells it from a real 0): inside :meth:`recording` every evaluation (a search step records
    one candidate's at a time), outside it the last evaluation only (it grew by one entry per evaluation, without bound,
    for a user scoring paths in a loop of their own). A search step keeps them per candidate and, once every candidate
    is scored, scores every candidate over the same samples
    (:meth:`~automl_mm.nas.beam.PartialArchitecturePool.rank_on_common_samples`): a sample some candidate read as a
    constant is left out of every candidate's mean, an evaluation without metrics there included (when it scores
    one sample the evaluator cannot tell whether a candidate that read no metrics there is on such batches), and so
    is a sample on which every candidate gave no metrics (under either rule); where
    some candidate's draw missed a sample (no completion within ``max_tries``: averaged over different samples, a
    candidate that missed one where every candidate scored low ranked above the others), every candidate scores the
    additive two-way model's (candidate effect + sample effect, least squares) estimate of its mean over them.

    Args:
        model: The model holding the supernet.
        space: Applies paths to the supernet.
        held_out: The search split and its metric (built: :meth:`HeldOutEvaluator.build`), e.g. ``accuracy/top1``
            or ``coco/bbox_mAP`` on arch-val / the reward split, in order, whole on every rank.
        batches_per_sample: ``None`` scores on the whole split; ``n`` on the ``n`` mini-batches from batch
            ``sample_index * n`` on (wrapping around); the caller gives every candidate of a step the same indices.
        bn_batches: Training batches used to re-estimate BN statistics per path (0 keeps the supernet's); the
            supernet's own statistics are put back after each reading, so a search that trains on after a
            step trains (and checkpoints) as if nothing had been scored.
        bn_loader: Where those batches come from, in order: a list of batches, used as given, or a loader,
            of whose dataset ``bn_batches`` batches are drawn once, on first use, as a sample seeded by ``bn_seed``
            with the global RNGs seeded by it too (:func:`~automl_mm.engine.evaluate.fixed_batches`), and kept:
            every path re-estimates on the same images even when the training pipeline crops and flips at random,
            and on images of the whole set, not its first batches (of a class-ordered set: a few classes).
        bn_seed: The seed of those draws (a list of batches, which the search loops pass, is used as given).
        rule: ``'greater'`` (default: a higher metric is better) or ``'less'`` (lower is better: an error, a loss;
            the search loops pass ``train_cfg.metric_rule``): what an empty evaluation scores.
        readings: What the refusal of an empty evaluation beside a negative reading, and of a NaN beside a value,
            remember, ``{'lowest': the lowest reading (float, +inf before any), 'empty': whether an evaluation gave
            no metrics (bool), 'nan': the batches read NaN, 'read': the batches read a value (each ``[first batch,
            number of batches]``, sorted)}``, updated in place (:func:`new_readings`; default: a new one; a dict
            without ``'nan'`` / ``'read'``, of a checkpoint written before them, gets them empty). The search loops
            pass one kept in their search state, so a resumed search remembers what its evaluations read before the
            checkpoint (it refused only if both were seen again after the resume).

    Raises:
        RuntimeError: when called, under ``'greater'``, an empty evaluation beside a negative reading (above).
        ValueError: when called, ``metric_key`` NaN on the whole search split, or on batches where a candidate read a
            value (above), naming ``train_cfg.metric_key``, the path and the batches. At construction: ``rule`` is
            not ``'greater'`` or ``'less'``; ``batches_per_sample`` exceeds the search split's batches (one
            evaluation would see some images twice: a COCO metric counts the second copy's boxes as false
            positives, an accuracy weighs those images twice).
    """

    def __init__(self, model: nn.Module, space: BasePathSpace, held_out: HeldOutEvaluator,
                 batches_per_sample: int | None = None, bn_batches: int = 0,
                 bn_loader: Iterable | None = None, bn_seed: int = 0, rule: str = 'greater',
                 readings: dict | None = None) -> None:
        if rule not in RULES:
            raise ValueError(f'PathEvaluator rule must be one of {RULES} (train_cfg.metric_rule), got {rule!r}')
        if bn_batches and bn_loader is None:
            raise ValueError('bn_recalibration_batches > 0 needs a training dataloader')
        if held_out.loader is None:
            raise ValueError('PathEvaluator needs a built HeldOutEvaluator (call held_out.build(runner) first)')
        check_batches_per_sample(batches_per_sample, len(held_out.loader))
        self.model = model
        self.space = space
        self.held_out = held_out
        self.metric_key = held_out.metric_key
        self.batches_per_sample = batches_per_sample
        self.bn_batches = int(bn_batches)
        self.bn_loader = bn_loader
        self.bn_seed = int(bn_seed)
        self.rule = rule
        # the worst outcome of the rule: 0 is the lowest AP / accuracy, but a perfect error or loss
        self.empty_score = 0.0 if rule == 'greater' else math.inf
        self.evaluations = 0
        self.empty_evaluations = 0
        # each evaluation's (sample_index, score, constant): constant where it read a value every candidate reads on
        # those batches (a COCO -1, a NaN without ground truth); inside recording() all of them, else the last one; a
        # search step records them per candidate (PartialArchitecturePool.rank_on_common_samples)
        self.sample_scores: list[tuple[int, float | None, bool]] = []
        self._recording = False
        # the lowest reading so far (an empty evaluation's 0 must not rank above one), whether an evaluation gave
        # no metrics, here or on another rank (share_readings); the search loops keep it in their search state
        self.readings = new_readings() if readings is None else readings
        for key in ('nan', 'read'):  # readings of a checkpoint written before they were kept
            self.readings.setdefault(key, [])
        # the key is a CocoMetric's: its -1 on a few batches is "no ground truth in the key's range" (_no_ground_truth)
        self._coco = bool(getattr(held_out, 'reported_by_coco_metric', lambda: False)())
        self._no_ground_truth_seen: set[str] = set()
        self._nan_seen: set[tuple[int, int]] = set()

    def __call__(self, path: Sequence[int], sample_index: int = 0) -> float:
        self.space.apply(path, self.model)
        if not self.bn_batches:
            return self._score(path, sample_index)
        if not isinstance(self.bn_loader, (list, tuple)):  # redrawn per path, a random pipeline would differ
            self.bn_loader = fixed_batches(self.bn_loader, self.bn_batches, self.bn_seed)
        # the supernet's own statistics come back after the reading: the search loops train on after a step (the
        # last scored path's statistics used to stay, in the supernet that trained on and in its checkpoints)
        with kept_bn_statistics(self.model):
            recalibrate_bn(self.model, cycle_batches(self.bn_loader, 0, self.bn_batches))
            return self._score(path, sample_index)

    def _score(self, path: Sequence[int], sample_index: int) -> float:
        loader = self.held_out.loader
        if self.batches_per_sample is None:
            batches = read = None
            where = 'the whole search split'
        else:
            start = sample_index * self.batches_per_sample
            batches = cycle_batches(loader, start, self.batches_per_sample)
            read = [start % len(loader), self.batches_per_sample]
            where = _batches_named(read)
        with _quiet():  # COCO metrics print a 12-line summary per evaluation: thousands of lines per search
            score, empty = self.held_out.score(self.model, batches)
        self.evaluations += 1
        if not empty and math.isnan(score):  # neither a reading nor an empty evaluation
            return self._kept(sample_index, self._nan(path, read), constant=True)
        if not empty and score == -1.0 and self._coco:  # neither a reading nor an empty evaluation
            return self._kept(sample_index, self._no_ground_truth(where), constant=True)
        if not empty and read is not None:
            if read in self.readings['nan']:
                raise ValueError(self._nan_beside_value(f'scoring path {tuple(path)}', f'reads {score:g}', read,
                                                        'another candidate read NaN'))
            _remember(self.readings['read'], read)
        readings = self.readings
        negative_beside_empty = (readings['lowest'] < 0) if empty else (score < 0 and readings['empty'])
        if self.rule == 'greater' and negative_beside_empty:
            # 0 is the worst of an AP or an accuracy, but above every reading of a negative metric
            # (log_likelihood/mean, minus a loss): the candidate that read nothing would be ranked first
            raise RuntimeError(self._negative_beside_empty(
                f'scoring path {tuple(path)} on {where}', min(readings['lowest'], score if not empty else 0.0)))
        if not empty:
            readings['lowest'] = min(readings['lowest'], score)
        if empty:
            readings['empty'] = True
            self.empty_evaluations += 1
            score = self.empty_score
            worst = '0' if self.rule == 'greater' else \
                "+inf (the worst under metric_rule='less': ranked after every candidate with a finite score)"
            print_log(f'scoring path {tuple(path)} on {where} gave no metrics (e.g. no detection at all): it scores '
                      f'{self.metric_key}={worst}', logger='current', level=logging.WARNING)
        return self._kept(sample_index, score, constant=False, no_metrics=empty)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[tuple[int, float | None, bool]]]:
        """Keep every evaluation made inside the block in a new :attr:`sample_scores`, which it yields (one
        candidate's evaluations: :meth:`~automl_mm.nas.loop.SearchLoopBase.run_step`); after the block the list is
        left as it is, and the next evaluation outside a block starts a new one holding that evaluation only.

        Raises:
            RuntimeError: inside another :meth:`recording` block (the outer one would lose the inner evaluations).
        """
        if self._recording:
            raise RuntimeError('PathEvaluator.recording() blocks do not nest: the outer block would lose the '
                               'evaluations of the inner one')
        self._recording = True
        self.sample_scores = []
        try:
            yield self.sample_scores
        finally:
            self._recording = False

    def _kept(self, sample_index: int, score: float, constant: bool, no_metrics: bool = False) -> float:
        """``score``, kept in :attr:`sample_scores` as ``(sample_index, score, constant)`` (``score`` ``None`` for an
        evaluation without metrics: ``no_metrics``): appended inside :meth:`recording`, else alone."""
        entry = (int(sample_index), None if no_metrics else float(score), constant)
        if self._recording:
            self.sample_scores.append(entry)
        else:
            self.sample_scores = [entry]
        return score

    def _empty_named(self) -> str:
        """What an evaluation without metrics scores, in words: ``'0 (the worst under metric_rule='greater')'``."""
        return f"{'0' if self.rule == 'greater' else '+inf'} (the worst under metric_rule={self.rule!r})"

    def _no_ground_truth(self, where: str) -> float:
        """The score of a COCO ``-1`` on a few search mini-batches: 0, a constant of every candidate that reads it
        (what an evaluation without metrics scores under ``'greater'``), neither a negative reading nor an empty
        evaluation; warned once per batches read, naming what an evaluation without metrics scores there."""
        if where not in self._no_ground_truth_seen:
            self._no_ground_truth_seen.add(where)
            print_log(f'{self.metric_key} is -1 on {where}: COCOeval\'s value where the images read hold no '
                      'ground-truth object of the key\'s area range (or none at all), not an AP; every candidate '
                      f'that predicts a box there reads it and scores {self.metric_key}=0 on them, one that predicts '
                      f'none reads no metrics and scores {self.metric_key}={self._empty_named()}; they tell the '
                      'candidates nothing, and a search step leaves them out of every candidate\'s mean. Score on '
                      'more batches per sample, or choose a key over every area', logger='current',
                      level=logging.WARNING)
        return 0.0

    def _nan(self, path: Sequence[int], read: list[int] | None) -> float:
        """The score of a NaN ``metric_key`` on the search mini-batches ``read`` (``[first batch, number]``): 0, as
        a COCO ``-1`` (:meth:`_no_ground_truth`), where no candidate read a value there; warned once per batches.

        Raises:
            ValueError: on the whole search split (``read`` None), or where a candidate read a value on ``read``.
        """
        key = f'{self._key_name()} {self.metric_key}'
        if read is None:
            raise ValueError(f'{key} is NaN scoring path {tuple(path)} on the whole search split: no value to rank '
                             'it by (every candidate reads the same images: where the split holds no ground truth '
                             'the metric can score, e.g. no object of a classwise key\'s class, every one reads NaN; '
                             'where others read a value, its outputs are NaN). Choose a key the split has ground '
                             'truth for (the mAP over every class), or check the supernet for NaN weights')
        if read in self.readings['read']:
            raise ValueError(self._nan_beside_value(f'scoring path {tuple(path)}', 'is NaN', read,
                                                    'another candidate read a value'))
        _remember(self.readings['nan'], read)
        if tuple(read) not in self._nan_seen:
            self._nan_seen.add(tuple(read))
            print_log(f'{key} is NaN on {_batches_named(read)}: the value mmdet gives a per-class AP (classwise=True) '
                      'where the images read hold no ground-truth object of its class (or a metric over images '
                      'without ground truth), not an AP; every candidate that reads them reads it and scores '
                      f'{self.metric_key}=0 on them, one that reads no metrics scores '
                      f'{self.metric_key}={self._empty_named()}; they tell the candidates nothing, and a search step '
                      'leaves them out of every candidate\'s mean. Score on more batches per sample, or choose a key '
                      'the split has ground truth for', logger='current', level=logging.WARNING)
        return 0.0

    def _key_name(self) -> str:
        return getattr(self.held_out, 'metric_key_name', 'metric_key')  # 'train_cfg.metric_key' in the loops

    def _nan_beside_value(self, who: str, reads: str, read: Sequence[int], other: str) -> str:
        """The refusal of a NaN ``metric_key`` where a candidate read a value on the same batches ``read``."""
        return (f'{who}: {self._key_name()} {self.metric_key} {reads} on {_batches_named(read)}, where '
                f'{other}: the same images for every candidate, so not a key without ground truth there (every '
                'candidate would read that NaN) but NaN outputs of the candidate that read it (NaN weights or buffers '
                'of its path, a diverged supernet). Check the supernet\'s training (a lower learning rate, '
                'FiniteLossHook)')

    def _negative_beside_empty(self, where: str, lowest: float) -> str:
        return (f'{where}: {self.metric_key} reads negative values (lowest {lowest:g}) and an evaluation gave no '
                "metrics, which scores 0 under train_cfg.metric_rule='greater' (the worst of an AP or an accuracy) "
                'and would rank above them. Search on a metric whose worst value is 0, or one that is never empty')

    def share_readings(self) -> None:
        """Give every rank's evaluator what all ranks have read (the lowest reading, whether an evaluation gave no
        metrics), and refuse on every rank, as one process refuses at its evaluation, an empty evaluation beside
        a negative reading under rule ``'greater'``. A search step deals its candidates across the ranks
        (:func:`~automl_mm.nas.beam.score_step`): an empty candidate scored on rank 0 and negative readings on rank
        1 were each seen by one evaluator only, so neither refused, and the empty candidate's 0 ranked first (2
        gloo ranks kept it, one process refused). Every rank must call it (one ``all_gather_object``); nothing
        happens in a single process. The search loops call it after every scoring step. So are the search batches
        read NaN and those read a value (``readings['nan']`` / ``['read']``): a NaN on one rank where another read a
        value is refused on every rank, as one process refuses it.

        Raises:
            RuntimeError: on every rank, under ``'greater'``, when some rank read a negative value and some rank an
                evaluation without metrics.
            ValueError: on every rank, when some rank read NaN on search batches where some rank read a value.
        """
        if get_world_size() <= 1:
            return
        readings = self.readings
        seen = all_gather_object((readings['lowest'], readings['empty'], readings['nan'], readings['read']))
        readings['lowest'] = min(s[0] for s in seen)
        readings['empty'] = any(s[1] for s in seen)
        for i, key in ((2, 'nan'), (3, 'read')):
            for reading in seen:
                for read in reading[i]:
                    _remember(readings[key], list(read))
        if self.rule == 'greater' and readings['empty'] and readings['lowest'] < 0:
            raise RuntimeError(self._negative_beside_empty(
                f'the search step scored across {len(seen)} ranks', readings['lowest']))
        both = [read for read in readings['nan'] if read in readings['read']]
        if both:
            raise ValueError(self._nan_beside_value(f'the search step scored across {len(seen)} ranks', 'is NaN',
                                                    both[0], 'a candidate of some rank read a value'))


def _remember(batches: list, read: list[int]) -> None:
    """Add ``read`` to the sorted list ``batches`` of ``[first batch, number]`` unless it is there (the same order
    on every rank, which compare their search states on resume)."""
    if read not in batches:
        batches.append(read)
        batches.sort()


def potential(prefix: Sequence[int], sampler: UniformPathSampler, evaluate: Callable[[tuple, int], float],
              num_samples: int, generator: np.random.Generator,
              accept: Callable[[tuple], bool] | None = None, first_sample: int = 0) -> float:
    """Mean score of ``num_samples`` uniform completions of ``prefix`` admitted by ``accept`` (PC-NAS potential).

    Completions over the cost limit are never scored: they are drawn exactly from the admitted ones when the
    prefix's completions can be enumerated, else skipped and redrawn (``sampler.max_tries`` draws each). A full
    path is evaluated once when every sample would see the same data.

    Args:
        prefix: The (partial) path scored.
        sampler: Draws the completions.
        evaluate: ``(path, sample_index) -> score``; sample ``s`` is evaluated with index ``first_sample + s``.
        num_samples: S.
        generator: Draws the completions (with ``accept``, sample ``s`` from its ``s``-th spawned stream); give every
            candidate of a step a generator in the same state and the same ``first_sample`` (common random
            numbers), so that candidates differ only by what they decide. It must come from a seed sequence
            (``np.random.default_rng(seed)``, :func:`~automl_mm.utils.seeding.stream_rng`).
        accept: The cost limit (``None``: every completion).
        first_sample: Index of the first sample (selects its search mini-batches).

    A sample that read a constant of every candidate (a COCO ``-1`` or NaN without ground truth:
    :class:`PathEvaluator`) is averaged as 0 here, and the mean is over the samples whose draw found a completion:
    which samples to leave out, and which every candidate read, is known only once every candidate of the step is
    scored, and the search loops then score each candidate over the same samples
    (:meth:`~automl_mm.nas.beam.PartialArchitecturePool.rank_on_common_samples`: its mean, or the additive model's
    estimate of it where some candidate missed one).

    Returns:
        The mean score (``+inf`` when ``evaluate`` scored one completion ``+inf``: an evaluation with no metrics
        under rule ``'less'``, :class:`PathEvaluator`); ``-inf`` when the prefix has no admitted completion, or
        when none was found in ``max_tries`` draws (with a warning naming the prefix). If only some draws fail, the
        mean is over the completions found, with a warning.

    Raises:
        ValueError: If ``num_samples`` is not an int >= 1 (0 read as "no admitted completion", -inf).
    """
    num_samples = as_count(num_samples, 'num_samples', 1)
    space = sampler.space
    full = len(prefix) == space.num_decisions
    if full and getattr(evaluate, 'batches_per_sample', 0) is None:
        num_samples = 1
    scores = []
    # Under a cost limit a completion takes as many draws as its rejection needs, which differs between
    # candidates: one stream per sample keeps the next sample's draws from shifting. Without a limit every
    # completion takes the same draws, and the one stream keeps earlier searches' results.
    streams = generator.spawn(num_samples) if accept is not None else [generator] * num_samples
    for s, stream in enumerate(streams):
        path = sampler.complete(prefix, stream, accept)
        if path is None:
            continue
        path = drawn_path(sampler, path, 'the completion sampler', prefix, accept)
        scores.append(evaluate(path, first_sample + s))
    if len(scores) < num_samples:
        admitted = sampler.admitted_completions(prefix, accept)
        if admitted is None:  # too many completions to enumerate: rejection sampling ran out of draws
            found = ('it is dropped (score -inf)' if not scores else
                     f'its potential here averages the {len(scores)} found; the step compares it with the other '
                     'candidates by the additive model over the samples read')
            print_log(f'prefix {tuple(prefix)}: {num_samples - len(scores)} of {num_samples} completions not found '
                      f'within the cost limit in max_tries={sampler.max_tries} draws each; {found} (raise the '
                      'sampler\'s max_tries or enumerate_limit)', logger='current', level=logging.WARNING)
    return float(np.mean(scores)) if scores else -math.inf


def candidate_scorer(sampler: UniformPathSampler, evaluate: Callable[[tuple, int], float], num_samples: int,
                     seed: int, stream: int, step: int,
                     accept: Callable[[tuple], bool] | None = None) -> Callable[[tuple], float]:
    """``candidate -> potential`` for one search step, with common random numbers across its candidates.

    Every candidate of step ``step`` gets a completion generator seeded by ``(seed, stream, step)`` alone (stream
    domain ``'nas.score'`` of :mod:`automl_mm.utils.seeding`: the training paths' ``path_rng(seed, iteration)``
    never replays it; with ``path_rng(seed, stream, step)`` step 0 replayed iteration ``stream``) and the
    sample indices ``step * num_samples + s``: the same search batches and the same completion draws (under a
    cost limit each candidate keeps the first drawn tail it admits, the same one wherever their admitted tails
    allow: :meth:`UniformPathSampler.complete`), so two
    candidates that compute the same function score the same, and score differences come from the decision
    scored, not from which images or completions a candidate happened to get. Deterministic given the
    candidate, as :func:`~automl_mm.nas.beam.score_step` needs for resuming and splitting across ranks.
    """
    def score(candidate: tuple) -> float:
        return potential(candidate, sampler, evaluate, num_samples, stream_rng(seed, 'nas.score', stream, step), accept,
                         first_sample=step * num_samples)

    return score
