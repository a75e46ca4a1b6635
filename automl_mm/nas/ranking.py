"""Ranking quality of architecture estimates against a stand-alone ground truth.

A one-shot supernet (or any cheap proxy) *estimates* the accuracy of every architecture of a space; the ground truth
is the accuracy each architecture reaches when trained from scratch on its own. This module loads such a ground-truth
table (``benchmarks/nas_ground_truth_fmnist.py`` writes one for ``SPACES['fmnist']``) and measures how well
estimates rank the architectures:

* ``kendall_tau`` — Kendall's rank correlation, tau-b (Kendall, *A new measure of rank correlation*, Biometrika
  1938; tau-b's tie correction: Kendall, *The treatment of ties in ranking problems*, Biometrika 1945), as computed
  by ``scipy.stats.kendalltau``;
* ``precision_at_k`` — the share of the estimated top k that are in the true top k: P@topK of Ning et al.,
  *Evaluating efficient performance estimators of neural architectures*, NeurIPS 2021 (who take the top K % of a
  space; here k is a count), a complement to Kendall's τ, which weighs every pair alike (the measure of Yu et al.,
  *Evaluating the search phase of neural architecture search*, ICLR 2020, and of FairNAS, Chu et al., ICCV 2021);
* ``standalone_rank`` — the stand-alone rank of one architecture (1 = best), e.g. of a search's pick.

Architectures are keyed by their operator names, one per mixed layer: a tuple such as ``('k3e3', 'skip', 'k5e6',
'skip')``; a list or a space-separated string is accepted wherever an architecture is expected. The helpers compare
over the architectures of ``truth``: pass ``table.within_flops(limit)`` to restrict them to a cost limit.

Each score is read in its own direction: ``rule`` (of the estimates, or of the scores ranked) and ``truth_rule``
are ``'greater'`` (default: a higher score is better, as a table's top-1) or ``'less'`` (lower is better: an
estimate read as an error or a loss, e.g. a search's ``metric_key`` of ``train_cfg.metric_rule='less'``). The
functions assumed higher-is-better: estimates in a loss gave the precision@k of the estimated *worst* k and a tau
of the wrong sign.
"""
from __future__ import annotations

import json
import math
import numbers
import os.path as osp
from collections.abc import Mapping, Sequence
from typing import Union

from scipy.stats import kendalltau

from automl_mm.utils.metric_rule import RULES, rule_sign

Arch = tuple[str, ...]
ArchLike = Union[str, Sequence[str]]

#: ``format`` field of the ground-truth JSON written by ``benchmarks/nas_ground_truth_fmnist.py``.
GROUND_TRUTH_FORMAT = 'automl_mm.nas_ground_truth/1'
#: Per-architecture score lists of a table, one value per seed of ``settings['seeds']`` (top-1 in %).
METRICS = ('reward_top1', 'test_top1')
_REGENERATE = 'regenerate it with benchmarks/nas_ground_truth_fmnist.py'


def arch_key(arch: ArchLike) -> Arch:
    """``arch`` as a tuple of operator names: from a tuple / list of names or a space-separated string.

    Raises:
        TypeError: If ``arch`` holds something other than operator names (e.g. the op *indices* of a path: convert
            them with ``space.values(path)`` or ``supernet.arch_names(path)`` first).
    """
    if isinstance(arch, str):
        return tuple(arch.split())
    key = tuple(arch)
    if not all(isinstance(op, str) for op in key):
        raise TypeError(f'an architecture is a sequence of operator names such as ("k3e3", "skip"), got {arch!r}; '
                        'convert a path of op indices with space.values(path)')
    return key


class GroundTruthTable:
    """Stand-alone accuracies (and costs) of every architecture of a space, as loaded by ``load_ground_truth``.

    Args:
        data: The table as stored in the JSON (see ``benchmarks/nas_ground_truth_fmnist.py``): ``space`` (preset
            name), ``space_definition``, ``settings`` (with ``seeds``), ``archs`` (a list of ``{'arch': [op, ...],
            'flops': float, 'params': int, 'reward_top1': [one per seed], 'test_top1': [one per seed]}``) and
            ``seed_agreement``.
        source: Where the table came from, named in error messages.

    Raises:
        ValueError: If a field is missing or malformed, an architecture appears twice, or a score list does not
            have one value per seed; the message names ``source``.

    Examples:
        >>> table = GroundTruthTable({'space': 's', 'space_definition': {}, 'settings': {'seeds': [0]},
        ...     'archs': [{'arch': ['skip'], 'flops': 1.0, 'params': 5, 'reward_top1': [80.0], 'test_top1': [79.0]},
        ...               {'arch': ['k3e3'], 'flops': 9.0, 'params': 50, 'reward_top1': [85.0],
        ...                'test_top1': [84.0]}]})
        >>> table.scores()[('k3e3',)], table.within_flops(5.0).archs
        (85.0, [('skip',)])
    """

    def __init__(self, data: Mapping, source: str = '<dict>') -> None:
        self.source = source
        if not isinstance(data, Mapping):
            raise ValueError(f'{source}: a ground-truth table is a JSON object, got {type(data).__name__}')
        missing = [k for k in ('space', 'space_definition', 'settings', 'archs') if k not in data]
        if missing:
            raise ValueError(f'{source}: the ground-truth table lacks {missing}; {_REGENERATE}')
        self.space = str(data['space'])
        self.space_definition = dict(data['space_definition'])
        self.settings = dict(data['settings'])
        self.seed_agreement = dict(data.get('seed_agreement') or {})
        seeds = self.settings.get('seeds')
        if not isinstance(seeds, list) or not seeds:
            raise ValueError(f'{source}: settings.seeds must be a non-empty list, got {seeds!r}')
        # int() read seed 0.7 as 0, and a repeated seed made scores(seed) return the first run's values twice
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds):
            raise ValueError(f'{source}: settings.seeds must be integers, got {seeds!r}')
        self.seeds = [int(s) for s in seeds]
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f'{source}: settings.seeds repeats a seed ({seeds!r}): each run needs its own seed')
        if not isinstance(data['archs'], list) or not data['archs']:
            raise ValueError(f'{source}: archs must be a non-empty list of architecture entries')
        self._entries: dict[Arch, dict] = {}
        for i, entry in enumerate(data['archs']):
            try:
                arch = arch_key(entry['arch'])
                clean = {'arch': arch, 'flops': float(entry['flops']), 'params': int(entry['params'])}
                for metric in METRICS:
                    values = [float(v) for v in entry[metric]]
                    if any(math.isnan(v) for v in values):
                        raise ValueError(f'{metric} holds NaN ({values}); rank functions would read it as best')
                    if len(values) != len(self.seeds):
                        raise ValueError(f'{metric} has {len(values)} values for the {len(self.seeds)} seeds '
                                         f'{self.seeds}')
                    clean[metric] = values
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f'{source}: archs[{i}] is malformed ({type(exc).__name__}: {exc}); '
                                 f'{_REGENERATE}') from exc
            if arch in self._entries:
                raise ValueError(f'{source}: architecture {" ".join(arch)!r} appears twice')
            self._entries[arch] = clean

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, arch: object) -> bool:
        try:
            return arch_key(arch) in self._entries  # type: ignore[arg-type]
        except TypeError:
            return False

    @property
    def archs(self) -> list[Arch]:
        """The architectures in table order (the space's enumeration order for a generated table)."""
        return list(self._entries)

    def entry(self, arch: ArchLike) -> dict:
        """The row of ``arch``: ``arch``, ``flops``, ``params`` and one score per seed of each of ``METRICS``.

        Raises:
            KeyError: If ``arch`` is not in the table (the message names it and the table).
        """
        key = arch_key(arch)
        try:
            return self._entries[key]
        except KeyError:
            raise KeyError(f'architecture {" ".join(key)!r} is not in the ground truth {self.source}') from None

    def scores(self, metric: str = 'reward_top1', seed: int | None = None) -> dict[Arch, float]:
        """Stand-alone top-1 (%) of every architecture: the mean over seeds, or the run of one ``seed``.

        Args:
            metric: ``'reward_top1'`` (the held-out reward split supernets score on: compare estimates with this) or
                ``'test_top1'`` (the test split: report a pick's accuracy with this, never choose by it).
            seed: One of ``self.seeds``; ``None`` averages them.

        Raises:
            ValueError: Unknown ``metric`` or ``seed``.
        """
        if metric not in METRICS:
            raise ValueError(f'metric must be one of {METRICS}, got {metric!r}')
        if seed is None:
            return {a: sum(e[metric]) / len(e[metric]) for a, e in self._entries.items()}
        if seed not in self.seeds:
            raise ValueError(f'seed {seed!r} is not among the seeds {self.seeds} of {self.source}')
        index = self.seeds.index(seed)
        return {a: e[metric][index] for a, e in self._entries.items()}

    def flops(self, arch: ArchLike) -> float:
        """FLOPs of ``arch`` as stored (one multiply-add = 1, mmengine's ``FlopAnalyzer``; see ``settings``)."""
        return self.entry(arch)['flops']

    def within_flops(self, limit: float) -> GroundTruthTable:
        """The table restricted to the architectures with ``flops <= limit``, in the same order.

        Raises:
            ValueError: If no architecture fits.
        """
        rows = [e for e in self._entries.values() if e['flops'] <= limit]
        if not rows:
            raise ValueError(f'no architecture of {self.source} is within {limit:.4g} FLOPs '
                             f'(the cheapest has {min(e["flops"] for e in self._entries.values()):.4g})')
        sub = object.__new__(GroundTruthTable)
        sub.__dict__.update(self.__dict__)
        sub.source = f'{self.source} (within {limit:.4g} FLOPs)'
        sub._entries = {e['arch']: e for e in rows}
        return sub

    def check_space(self, space: str | object) -> None:
        """Check that this table was made for ``space``.

        Args:
            space: A preset name of ``MBConvSupernet`` (``SPACES``): the table's space name and definition must
                equal the preset's and its architectures must be exactly the space's; or a supernet (anything with
                ``layer_choices``): the architectures must be exactly the products of its layers' choices.

        Raises:
            ValueError: Naming the table and what differs.
        """
        from automl_mm.models.backbones.mbconv_supernet import SPACES, MBConvSupernet

        if isinstance(space, str):
            if space not in SPACES:
                raise ValueError(f'space must be one of {sorted(SPACES)}, got {space!r}')
            if self.space != space:
                raise ValueError(f'{self.source} is the ground truth of space {self.space!r}, not {space!r}')
            current = json.loads(json.dumps(SPACES[space]))  # tuples -> lists, as stored
            if self.space_definition != current:
                raise ValueError(f'{self.source} was made for the space definition {self.space_definition}, but '
                                 f'SPACES[{space!r}] is now {current}; {_REGENERATE}')
            choices = MBConvSupernet(space=space).layer_choices
        else:
            choices = getattr(space, 'layer_choices', None)
            if choices is None:
                raise ValueError(f'space must be a SPACES preset name or a supernet with layer_choices, '
                                 f'got {type(space).__name__}')
        expected = set(enumerate_archs(choices))
        have = set(self._entries)
        if have != expected:
            extra, lacking = sorted(have - expected), sorted(expected - have)
            raise ValueError(f'{self.source} does not hold exactly the {len(expected)} architectures of the space: '
                             f'{len(lacking)} missing (e.g. {[" ".join(a) for a in lacking[:3]]}), {len(extra)} not '
                             f'in the space (e.g. {[" ".join(a) for a in extra[:3]]}); {_REGENERATE}')


def enumerate_archs(layer_choices: Sequence[Sequence[str]]) -> list[Arch]:
    """Every architecture of a layer-wise space in lexicographic order of the op indices (layer 0 slowest), the
    order of ``LayerwiseSpace.completions(())``.

    Examples:
        >>> enumerate_archs([['k3e3', 'skip'], ['k5e6', 'skip']])
        [('k3e3', 'k5e6'), ('k3e3', 'skip'), ('skip', 'k5e6'), ('skip', 'skip')]
    """
    archs: list[Arch] = [()]
    for ops in layer_choices:
        archs = [a + (str(op), ) for a in archs for op in ops]
    return archs


def load_ground_truth(path: str, space: str | object | None = None) -> GroundTruthTable:
    """Load a ground-truth table written by ``benchmarks/nas_ground_truth_fmnist.py``.

    Args:
        path: The JSON file.
        space: Optionally check the table against a space (see ``GroundTruthTable.check_space``).

    Returns:
        The table.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says how to generate it).
        ValueError: Not JSON, not a ground-truth table of the known ``format``, malformed rows, or (with ``space``)
            made for another space; every message names ``path``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'ground-truth table not found: {path}; generate it with '
                                f'benchmarks/nas_ground_truth_fmnist.py --out {path}')
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f'{path} is not a readable JSON file: {exc}') from exc
    fmt = data.get('format') if isinstance(data, dict) else None
    if fmt != GROUND_TRUTH_FORMAT:
        raise ValueError(f'{path} is not a ground-truth table: format {fmt!r}, expected {GROUND_TRUTH_FORMAT!r}')
    table = GroundTruthTable(data, source=path)
    if space is not None:
        table.check_space(space)
    return table


def _truth_scores(truth: Mapping | GroundTruthTable) -> dict[Arch, float]:
    if isinstance(truth, GroundTruthTable):
        return truth.scores()
    return {arch_key(a): float(v) for a, v in truth.items()}


_LAST = '-inf ranks an architecture last (+inf under rule \'less\')'


def _sign(rule: str, name: str) -> float:
    """+1 / -1 for ``rule`` (``sign × score`` is higher-is-better), or a ValueError naming the argument."""
    if rule not in RULES:
        raise ValueError(f'{name} must be \'greater\' (a higher score is better) or \'less\' (lower is better: an '
                         f'error, a loss), got {rule!r}')
    return rule_sign(rule)


def _defined(scores: dict[Arch, float], what: str) -> dict[Arch, float]:
    """``scores``, or a ValueError naming the NaN ones (NaN compares false both ways: it ranked first)."""
    undefined = [a for a, v in scores.items() if math.isnan(v)]
    if undefined:
        raise ValueError(f'{len(undefined)} architectures have a NaN {what}, e.g. '
                         f'{[" ".join(a) for a in undefined[:3]]}; {_LAST}')
    return scores


def _paired(estimates: Mapping, truth: Mapping | GroundTruthTable, rule: str = 'greater',
            truth_rule: str = 'greater') -> tuple[list[Arch], list[float], list[float]]:
    """Architectures of ``truth`` with their estimates and true scores (estimates outside ``truth`` are ignored),
    each multiplied by its rule's sign: higher is better on both sides."""
    est_sign, true_sign = _sign(rule, 'rule'), _sign(truth_rule, 'truth_rule')
    true = _truth_scores(truth)
    est = {arch_key(a): float(v) for a, v in estimates.items()}
    lacking = [a for a in true if a not in est]
    if lacking:
        raise ValueError(f'estimates lack {len(lacking)} of the {len(true)} architectures of the ground truth, '
                         f'e.g. {[" ".join(a) for a in lacking[:3]]}')
    archs = list(true)
    undefined = [a for a in archs if math.isnan(est[a]) or math.isnan(true[a])]
    if undefined:  # NaN compares false both ways: precision@3 of [4, nan, 2, 1] read 1.0 instead of 2/3
        raise ValueError(f'{len(undefined)} architectures have a NaN estimate or true score, e.g. '
                         f'{[" ".join(a) for a in undefined[:3]]}; {_LAST}')
    return archs, [est_sign * est[a] for a in archs], [true_sign * true[a] for a in archs]


def kendall_tau(estimates: Mapping[ArchLike, float], truth: Mapping[ArchLike, float] | GroundTruthTable,
                rule: str = 'greater', truth_rule: str = 'greater') -> float:
    """Kendall's tau-b between estimated and true scores over the architectures of ``truth``.

    tau-b = (C - D) / sqrt((n0 - n1) (n0 - n2)) with C / D the concordant / discordant pairs, n0 = n(n-1)/2 and
    n1, n2 the pairs tied in the estimates / in the truth (Kendall 1938, 1945; ``scipy.stats.kendalltau``), the
    pairs ordered by what each side's rule calls better.

    Args:
        estimates: Estimated score of every architecture of ``truth``; extra ones are ignored.
        truth: True score per architecture, or a ``GroundTruthTable`` (its mean reward-split top-1).
        rule: ``'greater'`` (default: a higher estimate is better) or ``'less'`` (lower is: a loss, an error).
        truth_rule: The same for the true scores (a table's top-1: ``'greater'``).

    Returns:
        tau-b in [-1, 1] (1: the estimates order the architectures from best to worst as the truth does, -1:
        reversed); NaN when either side is constant (undefined).

    Raises:
        ValueError: If ``estimates`` lack an architecture of ``truth``, ``truth`` has fewer than 2, or a rule is
            neither ``'greater'`` nor ``'less'``.
    """
    _, est, true = _paired(estimates, truth, rule, truth_rule)
    if len(true) < 2:
        raise ValueError(f'Kendall tau needs at least 2 architectures, got {len(true)}')
    if len(set(est)) == 1 or len(set(true)) == 1:
        return math.nan
    return float(kendalltau(est, true).statistic)


def precision_at_k(estimates: Mapping[ArchLike, float], truth: Mapping[ArchLike, float] | GroundTruthTable,
                   k: int, rule: str = 'greater', truth_rule: str = 'greater') -> float:
    """Share of the estimated top ``k`` that are in the true top ``k``, over the architectures of ``truth``.

    The true top k are the architectures of stand-alone rank <= k (``standalone_rank``; an architecture tied with
    the k-th best counts as top k). The estimated top k are the k best estimates; where estimates tie across the
    k-th place, the value is the expectation over uniformly random tie-breaking (the tied group contributes its
    share of hits pro rata), so it does not depend on the order of the mappings.

    Args:
        estimates: Estimated score of every architecture of ``truth``; extra ones are ignored.
        truth: True score per architecture, or a ``GroundTruthTable`` (its mean reward-split top-1).
        k: Size of the top, 1 <= k <= number of architectures of ``truth``.
        rule: ``'greater'`` (default: the top k are the highest estimates) or ``'less'`` (the lowest: a loss).
        truth_rule: The same for the true scores (a table's top-1: ``'greater'``).

    Returns:
        Precision in [0, 1].

    Raises:
        ValueError: If ``k`` is out of range, ``estimates`` lack an architecture of ``truth``, or a rule is neither
            ``'greater'`` nor ``'less'``.
    """
    archs, est, true = _paired(estimates, truth, rule, truth_rule)
    if int(k) != k or not 1 <= k <= len(archs):
        raise ValueError(f'k must be an integer in [1, {len(archs)}] (the architectures compared), got {k!r}')
    k = int(k)
    true_top = {a for a, t in zip(archs, true) if 1 + sum(u > t for u in true) <= k}
    kth = sorted(est, reverse=True)[k - 1]
    above = [a for a, e in zip(archs, est) if e > kth]
    tied = [a for a, e in zip(archs, est) if e == kth]
    hits = sum(a in true_top for a in above) + (k - len(above)) * sum(a in true_top for a in tied) / len(tied)
    return hits / k


def standalone_rank(arch: ArchLike, truth: Mapping[ArchLike, float] | GroundTruthTable,
                    rule: str = 'greater') -> int:
    """Stand-alone rank of ``arch`` among the architectures of ``truth``: 1 + the number with a strictly better
    true score (higher, or lower under ``rule='less'``; 1 = best; tied architectures share the better rank).

    Raises:
        ValueError: If ``arch`` is not among the architectures of ``truth`` (e.g. a pick over a FLOPs limit the
            table was restricted to), or ``rule`` is neither ``'greater'`` nor ``'less'``.
    """
    sign = _sign(rule, 'rule')
    true = _defined(_truth_scores(truth), 'true score')
    key = arch_key(arch)
    if key not in true:
        source = truth.source if isinstance(truth, GroundTruthTable) else 'truth'
        raise ValueError(f'architecture {" ".join(key)!r} is not among the {len(true)} architectures of {source}')
    return 1 + sum(sign * v > sign * true[key] for v in true.values())


def seed_agreement(table: GroundTruthTable, metric: str = 'reward_top1') -> dict:
    """Kendall tau-b between the stand-alone scores of every pair of seeds of ``table`` (the noise ceiling: no
    estimate can be expected to agree with the ground truth much better than two trainings agree with each other).

    Returns:
        ``{'pairs': [[seed_a, seed_b, tau], ...], 'mean': mean tau, 'left_out': n}``: ``mean`` is over the pairs
        whose tau-b is defined; a pair's tau is NaN (undefined) when one seed scored every architecture the same,
        and ``left_out`` counts those pairs, which the mean leaves out. ``mean`` is None with a single seed or with
        every pair left out.
    """
    pairs = []
    for i, a in enumerate(table.seeds):
        for b in table.seeds[i + 1:]:
            pairs.append([a, b, kendall_tau(table.scores(metric, a), table.scores(metric, b))])
    taus = [p[2] for p in pairs if not math.isnan(p[2])]
    return {'pairs': pairs, 'mean': sum(taus) / len(taus) if taus else None, 'left_out': len(pairs) - len(taus)}


def agreement_text(agreement: dict) -> str:
    """How a :func:`seed_agreement` mean is printed: the mean, and the pairs it left out when there are any
    (``'0.8123 (1 of 3 seed pairs left out: tau-b undefined, one seed scored every architecture the same)'``);
    ``left_out`` missing (a table written before it was recorded) is read as 0."""
    mean, left_out = agreement.get('mean'), agreement.get('left_out') or 0
    text = 'n/a' if mean is None else f'{mean:.4f}'
    if left_out:
        text += (f' ({left_out} of {len(agreement.get("pairs", []))} seed pairs left out: tau-b undefined, one seed '
                 'scored every architecture the same)')
    return text


def rank_all(scores: Mapping[ArchLike, float], rule: str = 'greater') -> dict[Arch, int]:
    """Rank (1 = best: the highest score, or the lowest under ``rule='less'``; ties share the better rank) of
    every architecture of ``scores``."""
    sign = _sign(rule, 'rule')
    values = _defined({arch_key(a): sign * float(v) for a, v in scores.items()}, 'score')
    return {a: 1 + sum(u > v for u in values.values()) for a, v in values.items()}


__all__ = ['GROUND_TRUTH_FORMAT', 'GroundTruthTable', 'agreement_text', 'arch_key', 'enumerate_archs', 'kendall_tau',
           'load_ground_truth', 'precision_at_k', 'rank_all', 'seed_agreement', 'standalone_rank']
