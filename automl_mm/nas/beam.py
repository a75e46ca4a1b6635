"""The top-K partial-architecture search step shared by PC-NAS and CR-NAS.

``PartialArchitecturePool`` keeps K partial paths (prefixes). One step extends every entry by the next decision(s),
scores each candidate (e.g. by the mean accuracy of sampled completions: the PC-NAS "potential", or the CR-NAS
greedy dilation score), and keeps the K best. Scores are recorded as they arrive, so a search interrupted in the
middle of a step resumes without re-scoring finished candidates. ``score_step`` splits the candidates of a step
across ranks and gathers the scores, identical on every rank.

Extending the empty prefix by every decision at once enumerates the whole space: that is CR-NAS's exhaustive
stage-allocation search, with the same bookkeeping.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

import numpy as np
from mmengine.dist import all_gather_object, broadcast_object_list, get_dist_info
from mmengine.logging import print_log

from automl_mm.engine.rank_failures import RankFailure
from automl_mm.engine.tool_errors import origin_output
from automl_mm.utils.checks import as_count, plain
from automl_mm.utils.metric_rule import RULES, rule_sign
from automl_mm.utils.seeding import stream_rng

from .base import BasePathSpace, index_path
from .search_log import no_score_reason

Path = tuple[int, ...]


class CommonSamples(NamedTuple):
    """The samples of a search step, by index (:meth:`PartialArchitecturePool.rank_on_common_samples`)."""

    #: Every sample index some candidate was scored on.
    read: set[int]
    #: The samples some candidate read as a constant of every candidate (a COCO ``-1``, a NaN without ground truth).
    constant: set[int]
    #: The samples some candidate with an evaluation was not scored on (its draw found no completion), with those
    #: candidates in candidate order.
    missed: dict[int, list[Path]]
    #: The samples on which every candidate's evaluation gave no metrics (``None`` each in
    #: :attr:`PartialArchitecturePool.samples`), under either rule.
    unread: set[int]
    #: The samples every candidate with an evaluation is scored over (``read`` less ``constant`` and ``unread``):
    #: its plain mean where it read all of them, else the additive fit's estimate.
    common: set[int]
    #: Where some candidate missed a common sample and the candidates and samples fall apart into groups that share
    #: no sample (nothing compares one group with another): the candidates of each group, in candidate order, the
    #: group of the first candidate first (scores left as they were); else empty.
    groups: tuple[list[Path], ...] = ()


class PartialArchitecturePool:
    """K partial architectures of a path space, grown one step at a time.

    Args:
        space: The path space.
        pool_size: K, the number of partial architectures kept after each step.
        key: ``pool_size``'s config key, named in errors (e.g. ``'train_cfg.stage_pool_size'``).
        rule: ``'greater'`` (default: the highest score is the best) or ``'less'`` (the lowest is: an error, a
            loss; ``train_cfg.metric_rule``). Scores are kept as measured either way; ``-inf`` (no admitted
            completion) is never kept. Under ``'less'`` a score of ``+inf`` (a potential averaging an evaluation that
            gave no metrics: :class:`~automl_mm.nas.scoring.PathEvaluator`) ranks after every finite score and
            before ``-inf``, and is kept only when fewer than K candidates have a finite score; a candidate marked
            ``empty`` ranks after every other too (checkpoints written before ``+inf`` recorded such a candidate as
            0). The history records a non-finite score as ``None`` (JSON has no infinity).

    Examples:
        >>> from automl_mm.nas.spaces import LayerwiseSpace
        >>> pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=2)
        >>> for c in pool.candidates():
        ...     pool.record(c, float(c[0]))
        >>> pool.select()
        [(2,), (1,)]
    """

    def __init__(self, space: BasePathSpace, pool_size: int, key: str = 'pool_size', rule: str = 'greater') -> None:
        if rule not in RULES:
            raise ValueError(f'PartialArchitecturePool rule must be one of {RULES}, got {rule!r}')
        self.space = space
        self.key = key
        self.rule = rule
        self.pool_size = as_count(pool_size, key, 1)
        self.pool: list[Path] = [()]
        self.scores: dict[Path, float] = {}  # the current step's finished candidates
        self.empty: set[Path] = set()  # the current step's candidates whose every evaluation gave no metrics
        # the current step's candidates' evaluations, (sample index, score or None: no metrics, constant) each: record
        self.samples: dict[Path, list[tuple[int, float | None, bool]]] = {}
        self.candidate_list: list[Path] | None = None  # the current step's candidates, fixed once drawn
        self.history: list[dict] = []
        self._saved_options: list | None = None  # a loaded checkpoint's options, until compared with the space's
        self._unchecked = False  # a loaded checkpoint's paths, until checked against the (bound) space

    @property
    def num_decided(self) -> int:
        return len(self.pool[0])

    @property
    def done(self) -> bool:
        return self.num_decided >= self.space.num_decisions

    def candidates(self, depth: int = 1, max_candidates: int | None = None, seed: int = 0) -> list[Path]:
        """Every completable extension of every pool entry by ``depth`` decisions (fixed for the step once drawn).

        Args:
            depth: Decisions added in this step (``space.num_decisions`` enumerates the whole space).
            max_candidates: If there are more candidates, keep a seeded uniform sample of this many (in order).
            seed: Seed of that sample.
        """
        self.check_space()
        if self.candidate_list is None:
            depth = as_count(depth, 'depth', 1)  # depth 0 returned the pool itself: a search that never ended
            if self.done:
                raise ValueError('the pool already holds full architectures')
            seen: dict[Path, None] = {}
            for prefix in self.pool:
                for candidate in self.space.extensions(prefix, depth):
                    seen.setdefault(candidate)
            found = list(seen)
            if max_candidates is not None:
                found = seeded_subset(found, max_candidates, seed, self.num_decided)
            self.candidate_list = found
        return list(self.candidate_list)

    def filter_candidates(self, keep: Callable[[Path], bool]) -> list[Path]:
        """Drop candidates failing ``keep`` (e.g. a FLOPs limit) from the current step; returns the rest."""
        self.candidate_list = [c for c in self.candidates() if keep(c)]
        return list(self.candidate_list)

    def record(self, candidate: Sequence[int], score: float, empty: bool = False,
               samples: Sequence[tuple[int, float | None, bool]] | None = None) -> None:
        """Record a candidate's score; ``empty``: every evaluation behind it gave no metrics (scored the worst under
        the rule: 0 under ``'greater'``, +inf under ``'less'``); ``samples``: the evaluations behind it, each
        ``(sample index, score, constant)`` (:attr:`~automl_mm.nas.scoring.PathEvaluator.sample_scores`: constant
        where it read a value every candidate reads on those batches; score ``None`` where the evaluation gave no
        metrics, so a saved step tells it from a real 0; a +inf under ``'less'``, what such an evaluation scores, is
        kept as ``None`` too), kept in :attr:`samples` for :meth:`rank_on_common_samples` (``None``: none kept).

        Raises:
            ValueError: For a NaN score (a NaN metric, or a mean over samples one of which was NaN): it used to be
                dropped from the pool without a word, as if no completion had been admitted; or for +inf under
                rule ``'greater'`` (the best possible score, which no metric reads). ``-inf`` is that marker
                (:func:`~automl_mm.nas.scoring.potential`) and is accepted, and so is +inf under ``'less'`` (the
                worst: an evaluation that gave no metrics).
        """
        candidate = index_path(candidate, 'PartialArchitecturePool.record')
        score = float(score)
        if math.isnan(score) or (score == math.inf and self.rule == 'greater'):
            raise ValueError(f'candidate {candidate} scored {score}: a search score must be finite, or -inf for a '
                             'candidate with no admitted completion (check the search metric: a NaN metric, or a '
                             'NaN among the samples its potential averages)')
        self.scores[candidate] = score
        if empty:
            self.empty.add(candidate)
        else:
            self.empty.discard(candidate)
        if samples is None:
            self.samples.pop(candidate, None)
        else:
            self.samples[candidate] = [(int(i), self._reading(v), bool(c)) for i, v, c in samples]

    def _reading(self, value: float | None) -> float | None:
        """A per-sample score as :attr:`samples` keeps it: ``None`` for an evaluation without metrics (``None``, or
        +inf under ``'less'``: what such an evaluation scores there, and what checkpoints written before ``None``
        saved), else the float."""
        if value is None or (self.rule == 'less' and float(value) == math.inf):
            return None
        return float(value)

    def rank_on_common_samples(self) -> CommonSamples:
        """Score every candidate of the step over the same samples: its mean where it read them all, else the
        additive two-way model's estimate of that mean.

        A candidate's potential averages the samples its completion draws found (:func:`~automl_mm.nas.scoring.
        potential` skips a draw that found no completion within ``max_tries``), so candidates averaged different
        samples: one that missed a sample on which every candidate scores low ranked above one that read it (the
        missed-draw bias). And a search sample's batches can hold no ground truth for the key (mmdet's
        ``CocoMetric`` reads ``-1`` where they hold no object of the key's area range, a classwise AP NaN where they
        hold none of its class: :class:`~automl_mm.nas.scoring.PathEvaluator` scores both 0 and marks them
        constant): every candidate reads the same there, or no metrics, which the evaluator cannot tell from a
        reading elsewhere.

        The common samples are those read, less every sample some candidate read as such a constant (an evaluation
        without metrics there included) and every sample on which each candidate that read it gave no metrics (kept as
        ``None`` in :attr:`samples`; it tells the candidates nothing: under ``'less'`` its +inf made every mean +inf,
        under ``'greater'`` its 0 lowered every mean, and a saved step could not tell it from a real 0). Where every
        candidate with an evaluation (a candidate without any, of score ``-inf``, ranks last whatever the others read)
        read every common sample, each scores the mean of its common samples, in their order (as
        :func:`~automl_mm.nas.scoring.potential` averages: where nothing was missed or left out, every score stays as
        the step scored it, byte for byte).

        Where some candidate missed a common sample, every candidate is scored by the additive model of a two-way
        analysis of variance with missing cells, ``reading(c, s) = a_c + b_s`` (a candidate effect and a sample effect:
        Yates' method of fitting constants for unequal cell numbers, 1934; the intra-block model of an incomplete block
        design, candidates as treatments and samples as blocks), fitted by least squares over the readings, as ``a_c +
        mean(b_s)``: the candidate's estimated mean over every common sample (the population marginal mean of Searle,
        Speed and Milliken, 1980, SAS's least-squares mean), which on a complete set of readings is the plain mean (an
        estimate, which can fall outside the metric's range, e.g. below 0 for an AP of a candidate that read 0 where the
        others read well). A sample on which every candidate reads low then lowers the score of a candidate that missed
        it as it lowers the others', and no reading is discarded (the samples that every candidate read can be few or
        none when many candidates each miss a few). An evaluation without metrics on a common sample stays a reading,
        the worst under the rule: 0 under ``'greater'``; +inf under ``'less'``, which scores that candidate +inf and
        leaves it out of the fit (the mean is then over the common samples the others read): another candidate read a
        value on the same batches, so they hold what the key measures and the candidate predicted nothing there. The
        model compares candidates only through the samples that link them (a candidate and a sample are linked where it
        read the sample): where the candidates fall apart into groups with no sample in common (an additive two-way
        design that is not connected), nothing compares one group with another, :attr:`CommonSamples.groups` lists them,
        no score changes, and :meth:`~automl_mm.nas.loop.SearchLoopBase.run_step` refuses the step. Samples are keyed by
        their index (the completion draw and the search batches it reads, the same for every candidate of the step),
        also where the indices wrap around the search split and two of them read the same batches with different
        completions.

        The scores are rank 0's on every rank (a collective where distributed: every rank must call it): each rank
        computes them from the same gathered readings, but ``numpy``'s mean and least squares (LAPACK) can round the
        last digits differently on another CPU or build, which moved a candidate across the pool's cut on one rank
        only (the ranks then searched different pools). The sets returned are the same on every rank without it
        (set operations on the gathered indices), so every rank takes the same branch and refuses alike.

        Call it once the step is scored (:meth:`~automl_mm.nas.loop.SearchLoopBase.run_step`, which refuses a step
        with no common sample); it reads :attr:`samples` only, so calling it again changes nothing, and a step
        resumed in its middle scores as the uninterrupted one (the samples are saved with the pool). A step resumed
        from a checkpoint written before the samples were kept holds scores without them (over what each
        candidate's draws found, the constants averaged in as 0): then nothing is left out of any candidate's mean,
        with a warning.

        Returns:
            :class:`CommonSamples`: the sample indices read, read as a constant, missed by some candidate (with
            those candidates), without metrics for every candidate that read them, common (nothing
            left out in such a resumed step: ``common == read``), and the groups that share no sample.
        """
        # in candidate order, not the order the ranks' scores were gathered in (which the number of ranks and a
        # resume change): the fit's floats, and the candidates named, are the same however the step was scored
        order = {c: k for k, c in enumerate(self.candidate_list or [])}
        evaluated = {c: self.samples[c] for c in sorted(self.samples, key=lambda c: (order.get(c, len(order)), c))
                     if self.samples[c]}
        read = {i for samples in evaluated.values() for i, _, _ in samples}
        unsampled = [c for c in self.scores if c not in self.samples]
        if unsampled and evaluated:
            print_log(f'{len(unsampled)} candidate(s) of this step (e.g. {unsampled[0]}) were scored before a resume '
                      'from a checkpoint that does not keep per-sample scores: their means are over the samples their '
                      'draws found, the samples read as a constant of every candidate averaged in as 0, so nothing '
                      'is left out of any candidate\'s mean in this step (later steps score every candidate over the '
                      'same samples)', logger='current', level=logging.WARNING)
        if unsampled:
            return CommonSamples(read, set(), {}, set(), set(read))
        constant = {i for samples in evaluated.values() for i, _, c in samples if c}
        indices = {c: {i for i, _, _ in samples} for c, samples in evaluated.items()}
        missed = {i: [c for c in evaluated if i not in indices[c]] for i in sorted(read)}
        missed = {i: cands for i, cands in missed.items() if cands}
        # None: an evaluation without metrics (PathEvaluator), no reading
        unread = read - constant - {i for samples in evaluated.values() for i, v, _ in samples if v is not None}
        common = read - constant - unread
        worst = 0.0 if self.rule == 'greater' else math.inf  # what it scores where another candidate read a value
        kept = {c: [(i, worst if v is None else v) for i, v, _ in samples if i in common]
                for c, samples in evaluated.items()}
        found = CommonSamples(read, constant, missed, unread, common)
        if not common or all(sorted(i for i, _ in cells) == sorted(common) for cells in kept.values()):
            if common and common != read:  # the plain mean, as potential averages: the same float where complete
                for candidate, cells in kept.items():
                    self.scores[candidate] = float(np.mean([v for _, v in cells]))
            self._take_rank0_scores()
            return found
        # +inf (no metrics under 'less') on a common sample: ranks after every finite score, compared with nothing
        finite = {c: cells for c, cells in kept.items() if all(v != math.inf for _, v in cells)}
        groups = _linked_groups(finite)
        if len(groups) > 1:
            return found._replace(groups=tuple(groups))  # refused on every rank alike (run_step): nothing to agree
        fitted = _additive_fit(finite) if any(finite.values()) else {}
        for candidate in kept:
            self.scores[candidate] = fitted.get(candidate, math.inf)
        self._take_rank0_scores()
        return found

    def _take_rank0_scores(self) -> None:
        """Replace this step's :attr:`scores` by rank 0's (one ``broadcast_object_list``; nothing in a single
        process): every rank then ranks, cuts and checkpoints the same floats (:meth:`rank_on_common_samples`)."""
        box = [self.scores]
        broadcast_object_list(box, src=0)
        self.scores = box[0]

    def pending(self) -> list[Path]:
        """The current step's candidates that have no score yet, in candidate order."""
        return [c for c in self.candidates() if c not in self.scores]

    def ranking(self) -> list[tuple[Path, float]]:
        """Scored candidates, best first (the highest score, or the lowest under rule ``'less'``, where +inf, an
        evaluation with no metrics, comes after every finite score); ``-inf`` (no admitted completion) last; ties
        keep candidate order, the same on every rank and after a resume: the pool's entries best first, each
        extended by its next decision's options in the order the config lists them (the first-listed operator or
        dilation wins a tie). Not a seeded random pick: the scores are deterministic, and a tie that decides which
        candidates stay or which is chosen is recorded and warned of instead (:meth:`ties_at_cuts`)."""
        order = {c: i for i, c in enumerate(self.candidates())}
        scored = [(c, s) for c, s in self.scores.items() if c in order]
        sign = rule_sign(self.rule)
        return sorted(scored, key=lambda cs: (cs[1] == -math.inf, sign < 0 and cs[0] in self.empty,
                                              -sign * cs[1] if cs[1] != -math.inf else 0.0, order[cs[0]]))

    def select(self) -> list[Path]:
        """Keep the K best scored candidates with an admitted completion (a score other than ``-inf``: under rule
        ``'less'`` a +inf candidate is kept only after every finite one); start the next step. The step's
        :attr:`history` entry lists every candidate, best first, ``[path, score]`` (``None`` for no score), with
        ``'no_score'``: ``[path, why]`` of each candidate without one (:data:`~automl_mm.nas.search_log.
        NO_COMPLETION`, :data:`~automl_mm.nas.search_log.NO_METRICS`) and ``'empty'``: the candidates scored 0 whose
        every evaluation gave no metrics, where there are any."""
        pending = self.pending()
        if pending:
            raise RuntimeError(f'{len(pending)} candidates are not scored yet, e.g. {pending[0]}')
        ranking = self.ranking()
        kept = [c for c, s in ranking if s != -math.inf][:self.pool_size]
        if not kept:
            raise RuntimeError(f'none of the {len(ranking)} candidates has a finite score (all -inf): no candidate '
                               'had a completion within the cost limit')
        # -inf (no admitted completion) and, under 'less', +inf (no metrics) are kept as None: json writes them as
        # -Infinity / Infinity, which is not JSON; 'no_score' says which (the tables name it)
        self.history.append({'decided': len(kept[0]), 'pool': [list(c) for c in kept],
                             'candidates': [[list(c), s if math.isfinite(s) else None] for c, s in ranking]})
        unscored = [[list(c), no_score_reason(s)] for c, s in ranking if not math.isfinite(s)]
        if unscored:
            self.history[-1]['no_score'] = unscored
        empty = [list(c) for c, s in ranking if c in self.empty and math.isfinite(s)]
        if empty:  # under 'greater': every evaluation gave no metrics, scored 0
            self.history[-1]['empty'] = empty
        ties = self.ties_at_cuts(ranking, len(kept), len(kept[0]) >= self.space.num_decisions,
                                 self.empty if rule_sign(self.rule) < 0 else ())
        if ties:
            self.history[-1]['ties'] = ties
        self.pool, self.scores, self.candidate_list, self.empty, self.samples = kept, {}, None, set(), {}
        return list(kept)

    @staticmethod
    def ties_at_cuts(ranking: list[tuple[Path, float]], kept: int, last: bool,
                     empty: Collection[Path] = ()) -> list[dict]:
        """The ties that candidate order broke where it decided something: across the pool's cut (the ``kept``-th
        and the next candidate of :meth:`ranking` score the same) and, at the last step (``last``), across the
        search's choice (the first and the second). Candidates with no admitted completion (``-inf``) are never
        tied; ties inside the kept set of an unfinished step decide nothing and are not listed. ``empty``: under
        rule ``'less'`` the candidates :meth:`ranking` puts after the other +inf ones (every evaluation gave no
        metrics); one of them and one that is not do not tie (the ranking's rule, not candidate order, parts them).

        Returns:
            One ``dict(cut=k, score=s, kept=[...], dropped=[...])`` per cut so decided (the pool's cut first), the
            tied candidates as lists of option indices on each side of it, best first.
        """
        admitted = [(c, s) for c, s in ranking if s != -math.inf]
        keys = [(s, c in empty) for c, s in admitted]  # what ranks them before candidate order
        ties = []
        for cut in sorted({kept, 1} if last else {kept}, reverse=True):
            if cut >= len(admitted) or keys[cut - 1] != keys[cut]:
                continue
            score = admitted[cut][1]
            tied = [i for i, key in enumerate(keys) if key == keys[cut]]
            ties.append(dict(cut=cut, score=score if math.isfinite(score) else None,
                             kept=[list(admitted[i][0]) for i in tied if i < cut],
                             dropped=[list(admitted[i][0]) for i in tied if i >= cut]))
        return ties

    def state_dict(self) -> dict:
        """The pool, the current step's scores, candidates and their per-sample scores (:attr:`samples`: a resume in
        the middle of a step leaves the same samples out), the history, and the space's options: paths are option
        indices, which mean something only with the options they were drawn from."""
        return {'pool': [list(p) for p in self.pool], 'scores': [[list(c), s] for c, s in self.scores.items()],
                'candidates': None if self.candidate_list is None else [list(c) for c in self.candidate_list],
                'history': self.history, 'pool_size': self.pool_size, 'empty': [list(c) for c in self.empty],
                'samples': [[list(c), [list(s) for s in samples]] for c, samples in self.samples.items()],
                'options': plain(self.space.options), 'rule': self.rule}

    def check_space(self) -> None:
        """Check a loaded checkpoint against the space, once the space has options (a space bound only later, e.g.
        CR-NAS's dilations after the stage search, is checked when its owner calls this after binding it, or at its
        first :meth:`candidates`): the same options, and every path of the pool, the step's candidates and scores
        admitted by the space's constraint (:meth:`~automl_mm.nas.base.BasePathSpace.is_valid` for a full path,
        :meth:`~automl_mm.nas.base.BasePathSpace.can_complete` for a prefix). Nothing to check without a loaded
        checkpoint.

        Raises:
            ValueError: the checkpoint was searched over other options (its paths are option indices and would name
                other choices), or holds a path the space does not admit (the options alone missed a constraint:
                a stage search over ``total_blocks=6`` resumed under ``total_blocks=5`` exported an allocation of
                6 blocks).
        """
        if not self._unchecked or not self.space.options:
            return
        self._unchecked = False
        saved, self._saved_options = self._saved_options, None
        remedy = 'Resume with the same space, or start a new search from its weights with load_from'
        if saved:  # nothing saved: an older checkpoint, or a space not bound when it was written
            saved, options = plain(saved), plain(self.space.options)
            if saved != options:
                where = next((i for i, (a, b) in enumerate(zip(saved, options)) if a != b),
                             min(len(saved), len(options)))
                got = [opts[where] if where < len(opts) else '(none)' for opts in (saved, options)]
                raise ValueError(f'the checkpoint was searched over other options than the config\'s '
                                 f'{type(self.space).__name__} (decision {where}: checkpoint {got[0]}, config '
                                 f'{got[1]}): its paths are option indices and would name other choices. {remedy}')
        name = type(self.space).__name__
        for path in [*self.pool, *(self.candidate_list or []), *self.scores]:
            if not path:
                continue
            try:
                path = self.space.check_path(path, partial=True)
            except ValueError as err:
                raise ValueError(f'the checkpoint holds path {list(path)}, which the config\'s {name} cannot run '
                                 f'({err}). {remedy}') from None
            full = len(path) == self.space.num_decisions
            if not (self.space.is_valid(path) if full else self.space.can_complete(path)):
                raise ValueError(f'the checkpoint holds {"the path" if full else "the partial path"} {list(path)} '
                                 f'(values {self.space.values(path)}), which the config\'s {name} does not admit '
                                 f'(another constraint, e.g. total_blocks): the search would continue from, and '
                                 f'export, architectures outside the configured space. {remedy}')

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s state.

        Raises:
            ValueError: when the checkpoint was searched with another ``pool_size``, over other options (the
                same indices would name other operators, allocations or dilations: a config whose ``ops`` order
                changed resumed ``k3e3 k5e6`` as ``k5e6 k3e3``), or holds a path the space does not admit
                (:meth:`check_space`); a space that gets its options later is checked once it is bound. The
                options of checkpoints written before they were saved are not compared.
        """
        saved_rule = state.get('rule', 'greater')  # written before the rule existed: the highest score won
        if saved_rule != self.rule and (state.get('history') or state.get('scores')):
            raise ValueError(f'the checkpoint\'s search kept the {"highest" if saved_rule == "greater" else "lowest"}'
                             f' scores (train_cfg.metric_rule={saved_rule!r}), this run ranks by '
                             f'train_cfg.metric_rule={self.rule!r} (as set, or inferred from train_cfg.metric_key\'s '
                             'name where not set): its pool and history would be ranked the other way. Resume '
                             'with the checkpoint\'s rule, or start a new search from its weights with '
                             'load_from')
        if int(state['pool_size']) != self.pool_size:
            raise ValueError(f'the checkpoint was searched with {self.key}={state["pool_size"]}, '
                             f'the config asks for {self.key}={self.pool_size}')
        self._saved_options = state.get('options')
        self.pool = [tuple(p) for p in state['pool']]
        self.scores = {tuple(c): float(s) for c, s in state['scores']}
        cands = state['candidates']
        self.candidate_list = None if cands is None else [tuple(c) for c in cands]
        self.history = list(state['history'])
        self.empty = {tuple(c) for c in state.get('empty', [])}
        # a checkpoint written before they were kept: none (that step leaves nothing out: rank_on_common_samples)
        # an evaluation without metrics: None; +inf in a checkpoint written before None under 'less' (_reading); a 0
        # under 'greater' in one written before None is a reading (nothing tells it from an AP of 0)
        self.samples = {tuple(c): [(int(i), self._reading(v), bool(k)) for i, v, k in samples]
                        for c, samples in state.get('samples', [])}
        self._unchecked = True
        self.check_space()


def _linked_groups(cells: dict[Path, list[tuple[int, float]]]) -> list[list[Path]]:
    """The candidates of ``cells`` (candidate -> its ``(sample, reading)`` pairs) in groups linked through the
    samples they read (a connected component of the candidate-sample graph each; a candidate without a reading is
    alone), in candidate order, the first candidate's group first."""
    parent = {c: c for c in cells}

    def root(c):
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    first_reader: dict[int, Path] = {}
    for candidate, pairs in cells.items():
        for i, _ in pairs:
            parent[root(candidate)] = root(first_reader.setdefault(i, candidate))
    groups: dict[Path, list[Path]] = {}
    for candidate in cells:
        groups.setdefault(root(candidate), []).append(candidate)
    return list(groups.values())


def _additive_fit(cells: dict[Path, list[tuple[int, float]]]) -> dict[Path, float]:
    """Each candidate's ``a_c + mean(b_s)`` under the additive model ``reading(c, s) = a_c + b_s`` fitted by least
    squares over the readings of ``cells`` (candidate -> its finite ``(sample, reading)`` pairs; one linked group:
    :func:`_linked_groups`), the mean over every sample read. The least-squares solution is unique up to a constant
    moved from every ``a_c`` to every ``b_s``, which ``a_c + mean(b_s)`` does not see: the minimum-norm one serves."""
    candidates = list(cells)
    samples = sorted({i for pairs in cells.values() for i, _ in pairs})
    row = {c: k for k, c in enumerate(candidates)}
    column = {i: len(candidates) + k for k, i in enumerate(samples)}
    pairs = [(c, i, v) for c in candidates for i, v in cells[c]]
    design = np.zeros((len(pairs), len(candidates) + len(samples)))
    for r, (c, i, _) in enumerate(pairs):
        design[r, row[c]] = design[r, column[i]] = 1.0
    values = np.array([v for _, _, v in pairs])
    centre = float(np.mean(values))  # fitted about the readings' mean: equal readings fit exactly 0
    fit = np.linalg.lstsq(design, values - centre, rcond=None)[0]
    level = float(np.mean(fit[len(candidates):]))
    return _snap_ties({c: float(fit[row[c]] + level) + centre for c in candidates},
                      _FIT_TIE_TOLERANCE * max(1.0, float(np.max(np.abs(values)))))


#: Relative to the largest reading's magnitude (at least 1): estimates of the additive fit closer than this are one
#: value. ``lstsq`` leaves rounding differences in the last digits (about 1e-15 relative) between candidates whose
#: readings are equal, which broke their tie (candidate order, warned of) by float noise instead.
_FIT_TIE_TOLERANCE = 1e-9


def _snap_ties(estimates: dict[Path, float], tolerance: float) -> dict[Path, float]:
    """``estimates`` with every run of values, in sorted order each within ``tolerance`` of the one before, set to
    the run's smallest value, so equal readings fitted with rounding noise tie exactly."""
    snapped = dict(estimates)
    run_value = previous = None
    for candidate in sorted(estimates, key=estimates.get):
        value = estimates[candidate]
        if previous is None or value - previous > tolerance:
            run_value = value
        snapped[candidate] = run_value
        previous = value
    return snapped


def seeded_subset(items: list, k: int, seed: int, *keys: int) -> list:
    """A uniform sample of ``k`` of ``items`` (all of them if there are fewer), in their order, seeded by ``seed``
    and ``keys`` (stream domain ``'nas.subset'``: seeded by ``[seed, step]`` it replayed training iteration
    ``step``'s path, by ``[seed, stream]`` a search's first completion draws).

    Raises:
        ValueError: If ``k`` is not an int >= 1 (``k=2.7`` kept 2, ``k=0`` nothing).
    """
    k = as_count(k, 'max_candidates', 1)
    if len(items) <= k:
        return list(items)
    keep = stream_rng(seed, 'nas.subset', *keys).choice(len(items), k, replace=False)
    return [items[i] for i in sorted(keep)]


def score_step(pool: PartialArchitecturePool, score_fn: Callable[[Path], float],
               on_round: Callable[[int, int], None] | None = None,
               is_empty: Callable[[Path], bool] | None = None,
               samples_of: Callable[[Path], list[tuple[int, float, bool]] | None] | None = None) -> dict[Path, float]:
    """Score every pending candidate of the pool's current step, split across ranks.

    Candidates are dealt in rounds of ``world_size``: rank r scores the r-th of the round, then all scores of the
    round are gathered and recorded on every rank (so every rank holds the same pool and a checkpoint taken after
    any round holds every finished score). A ``score_fn`` (or ``is_empty``, ``samples_of``) that raises on one rank
    is gathered too, so every rank stops at that round: the rank that raised re-raises its error, the others raise a
    ``RankFailure`` naming the candidate, the rank and the error (they used to wait in the gather for the missing
    score).

    Args:
        pool: The pool whose step to score (its ``candidates`` must already be drawn).
        score_fn: ``candidate -> score``; must be deterministic given the candidate (seed it from the candidate).
        on_round: Called as ``on_round(num_scored, num_candidates)`` after each round (progress, checkpoints).
        is_empty: Asked right after ``score_fn(candidate)`` on the rank that scored it: whether every
            evaluation behind that score gave no metrics (gathered with the score, kept in ``pool.empty``).
        samples_of: Asked after ``is_empty``, alike: the evaluations behind that score, ``(sample index, score,
            constant)`` each (gathered with the score, kept in ``pool.samples``:
            :meth:`PartialArchitecturePool.rank_on_common_samples`).

    Returns:
        Every score of the step.

    Raises:
        RankFailure: on every rank but the one whose ``score_fn`` raised (which re-raises its own error): a
            :class:`~automl_mm.engine.rank_failures.RankFailure` (a ``RuntimeError``) naming that rank and its error.
    """
    rank, world_size = get_dist_info()
    total = len(pool.candidates())
    pending = pool.pending()
    for start in range(0, len(pending), world_size):
        chunk = pending[start:start + world_size]
        mine = chunk[rank] if rank < len(chunk) else None
        result, failure = (None, None, False, None, None), None
        if mine is not None:
            try:
                score = float(score_fn(mine))
                result = (mine, score, bool(is_empty(mine)) if is_empty is not None else False,
                          samples_of(mine) if samples_of is not None else None, None)
            except Exception as err:
                if world_size == 1:
                    raise
                # the other ranks are (or will be) in this round's gather: a rank that raised here left them
                # waiting for its score (NCCL: until the process group's timeout; gloo: "Connection closed by
                # peer", naming nothing) -> the failure is gathered like a score and every rank stops on it
                failure, result = err, (mine, None, False, None, f'{type(err).__name__}: {err}')
        gathered = all_gather_object(result) if world_size > 1 else [result]
        failed = [(r, candidate, why) for r, (candidate, _, _, _, why) in enumerate(gathered) if why is not None]
        if failure is not None:
            raise failure
        if failed:
            r, candidate, why = failed[0]
            # a RankFailure: a local launch (launch._record_failure) reports rank r's own traceback, waiting for it,
            # where it reported this rank's and said rank r had recorded none in time
            raise RankFailure(f'scoring candidate {tuple(candidate)} failed on rank {r} ({why}); every rank stops '
                              f'here ({origin_output(r)})', r, why)
        for candidate, score, empty, samples, _ in gathered:
            if candidate is not None:
                pool.record(candidate, score, empty, samples)
        if on_round is not None:
            on_round(len(pool.scores), total)
    return dict(pool.scores)
