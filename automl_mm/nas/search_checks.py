"""Checks of a search loop's settings (``train_cfg`` and the config around it) that fail before the search runs.

Used by :class:`~automl_mm.nas.loop.SearchLoopBase`, ``PCNASLoop`` and ``CRNASLoop``; still importable from
:mod:`automl_mm.nas.loop`, their former home.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from automl_mm.utils.checks import as_count


def check_no_sync_bn(model: Any, world_size: int) -> None:
    """Refuse BN re-estimation per scored path with SyncBN layers under several ranks.

    The ranks score different candidates at once (:func:`~automl_mm.nas.beam.score_step`), each re-estimating BN for
    its own path in training mode: a SyncBN layer averages the statistics across the ranks, i.e. across other
    candidates' paths (a CR-NAS spatial step, whose candidates reach the same layers, scored every candidate with
    statistics mixed with another's), or waits forever for a rank that scores no candidate in the last round or
    whose path does not reach it. (A single process runs no SyncBN: mmengine reverts it to BN.)

    Raises:
        ValueError: naming ``train_cfg.bn_recalibration_batches`` and the first SyncBN layer.
    """
    if world_size <= 1:
        return
    root = getattr(model, 'module', model)
    for name, module in root.named_modules():
        if 'SyncBatchNorm' in type(module).__name__ or isinstance(module, torch.nn.SyncBatchNorm):
            raise ValueError(f'train_cfg.bn_recalibration_batches > 0 on {world_size} ranks, but model.{name} is a '
                             f'{type(module).__name__}: the ranks score different candidates at once, and '
                             're-estimating its statistics would average them across their paths (or hang). Use BN '
                             "(norm_cfg=dict(type='BN'), no sync_bn) in the search, or bn_recalibration_batches=0")


def check_schedule_span(param_schedulers: Any, total_iters: int, derivation: str) -> None:
    """Refuse an iteration-based cosine schedule whose explicit length disagrees with the search's iterations.

    A search loop derives its iterations from its phases (``derivation``); mmengine gives a scheduler without
    ``end`` the loop's ``max_iters`` and a ``CosineAnnealing*`` scheduler without ``T_max`` the span
    ``end - begin``, so leaving both out anneals over exactly the search. A value written by hand that disagrees
    (the schedule would stop short or never reach ``eta_min``, e.g. after changing a phase length) fails here.

    Args:
        param_schedulers: The config's ``param_scheduler`` (a scheduler config or a list of them; anything else,
            e.g. per-optimiser dicts, is not checked).
        total_iters: The search's iterations.
        derivation: How ``total_iters`` is derived, named in the error (e.g. ``'warmup_iters=600 + 4 layers x
            stage_iters=300'``).

    Raises:
        ValueError: a ``param_scheduler[i]`` (any type) whose ``begin`` / ``end`` / ``T_max`` is not an int (``end``
            may be ``inf``) or whose ``end <= begin``; ``param_scheduler[i].end`` beyond ``total_iters``, or
            ``param_scheduler[i].T_max`` other than ``end - begin`` (the message names the key and the derived value).
    """
    schedulers = [param_schedulers] if isinstance(param_schedulers, dict) and 'type' in param_schedulers \
        else param_schedulers if isinstance(param_schedulers, (list, tuple)) else []
    for i, cfg in enumerate(schedulers):
        if isinstance(cfg, dict):
            _check_bounds(cfg, f'param_scheduler[{i}]')
        if not isinstance(cfg, dict) or cfg.get('by_epoch', True) or 'CosineAnnealing' not in str(cfg.get('type')):
            continue
        begin, end = cfg.get('begin', 0), cfg.get('end', total_iters)
        if end > total_iters:
            raise ValueError(f'param_scheduler[{i}].end={end} is beyond the search\'s {total_iters} iterations '
                             f'({derivation}); leave end out to end with the search')
        if cfg.get('T_max') is not None and int(cfg['T_max']) != end - begin:
            raise ValueError(f'param_scheduler[{i}].T_max={cfg["T_max"]} disagrees with the span it anneals over: '
                             f'{end - begin} iterations (end - begin; the search has {total_iters}: {derivation}); '
                             'leave T_max out to derive it')


def _check_bounds(cfg: dict, key: str) -> None:
    """Refuse a scheduler's ``begin`` / ``end`` / ``T_max`` that are not whole iterations (or epochs), or an
    ``end <= begin``, naming the key: ``begin=2.5`` was truncated by ``int()`` here, ``end='12'`` failed with a bare
    ``TypeError``, ``end=nan`` never let the scheduler step (``begin <= step < nan`` is false), and ``end <= begin``
    failed only when mmengine built the scheduler, naming no key. An infinite ``end`` (never stop) is accepted."""
    begin = as_count(cfg.get('begin', 0), f'{key}.begin')
    end = cfg.get('end')
    if end is not None and not (isinstance(end, float) and end == math.inf):
        try:
            as_count(end, '', begin + 1)
        except ValueError:
            raise ValueError(f'{key}.end must be an int > begin ({begin}), got {end!r}') from None
    if cfg.get('T_max') is not None:
        as_count(cfg['T_max'], f'{key}.T_max', 1)


def check_scoring_counts(num_samples: Any, batches_per_sample: Any) -> None:
    """Refuse completion / batch counts that score nothing, naming the ``train_cfg`` key (a count <= 0 crashed later
    in ``torch.stack``, or scored every candidate -inf and blamed the cost limit)."""
    as_count(num_samples, 'train_cfg.num_samples', 1)
    if batches_per_sample is not None:  # None: the whole split
        as_count(batches_per_sample, 'train_cfg.batches_per_sample', 1)
