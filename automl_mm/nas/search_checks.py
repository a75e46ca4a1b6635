"""Checks of a search loop's settings (``train_cfg`` and the config around it) that fail before the search runs.

Used by :class:`~automl_mm.nas.loop.SearchLoopBase`, ``PCNASLoop`` and ``CRNASLoop``; still importable from
:mod:`automl_mm.nas.loop`, their former home.

These read the config and the model only, the same on every rank, so every rank refuses alike. The start checks that
read files of their own rank (``train_cfg.retrain_config``, ``train_cfg.latency_table``, the search split, the
resumed checkpoint) run inside the ranks' agreement instead
(:meth:`~automl_mm.nas.loop.SearchLoopBase.agreed_start_checks`).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from automl_mm.utils.checks import as_count
from automl_mm.utils.wording import a_type


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
            raise ValueError(f'train_cfg.bn_recalibration_batches > 0 on {world_size} ranks, but model.{name} is '
                             f'{a_type(module)}: the ranks score different candidates at once, and '
                             're-estimating its statistics would average them across their paths (or hang). Use BN '
                             "(norm_cfg=dict(type='BN'), no sync_bn) in the search, or bn_recalibration_batches=0")


def check_no_path_sampling_hook(runner: Any, loop: str) -> None:
    """Refuse a ``PathSamplingHook`` beside a search loop: the loop applies the path it trains before each
    iteration (PC-NAS: a pool prefix and a uniform rest; CR-NAS: an allocation, then dilations of the best one),
    and the hook's ``before_train_iter``, which ``run_iter`` calls right after, applied its own draw over it. The
    search then trained the hook's paths instead of its own, and the final validation ran the hook's ``val_path``
    (``before_val_epoch``), not the searched architecture, without a word.

    Args:
        runner: The mmengine runner (its hooks, registered before the train loop is built, and its config's
            ``custom_hooks``, named in the error).
        loop: The loop's class name (``train_cfg.type``).

    Raises:
        ValueError: naming the ``custom_hooks`` entry (or the hook's class) and ``train_cfg.type``.
    """
    from .hook import PathSamplingHook  # the hook module imports the NAS base, as this one's users do

    hooks = [h for h in getattr(runner, 'hooks', None) or [] if isinstance(h, PathSamplingHook)]
    if not hooks:
        return
    from automl_mm.engine.runner_checks import checked_config

    # the entry as the runner was given it (Runner(custom_hooks=[...], cfg=dict(...)): its argument, not its cfg)
    entries = (checked_config(runner) if getattr(runner, 'cfg', None) is not None else {}).get('custom_hooks') or []
    names = [str(getattr(h.get('type'), '__name__', h.get('type'))).split('.')[-1] if isinstance(h, dict) else ''
             for h in entries]
    index = next((i for i, name in enumerate(names) if name == 'PathSamplingHook'), None)
    where = f'custom_hooks[{index}]' if index is not None else 'a registered hook'
    raise ValueError(f'{where} is a PathSamplingHook, but train_cfg.type={loop} is a search loop that draws and '
                     'applies the path of every training iteration itself: the hook would replace it with its own '
                     'draw (the search would train other paths than its own) and validate its val_path instead of '
                     'the searched architecture. Remove the PathSamplingHook (it is for supernet training under a '
                     'plain loop)')


def check_search_length(max_iters: Any, total_iters: int, derivation: str, loop: str, keys: str) -> None:
    """Refuse a ``train_cfg.max_iters`` other than the search's own length.

    A search loop derives its iterations from its phases and gives mmengine's loop that count itself, so a
    ``max_iters`` in ``train_cfg`` (the key that sets an mmengine / mmdet iteration-based run's length, e.g.
    ``--cfg-options train_cfg.max_iters=100``) stopped the loop's build with ``TypeError: ... got multiple values
    for keyword argument 'max_iters'``, naming neither the key nor the keys that set the length.

    Args:
        max_iters: ``train_cfg.max_iters`` (``None``: not given).
        total_iters: The search's iterations.
        derivation: How ``total_iters`` is derived (e.g. ``'warmup_iters=600 + 4 layers x stage_iters=300'``).
        loop: The loop's class name, for the message.
        keys: The ``train_cfg`` keys that set the length, for the message (``'train_cfg.warmup_iters /
            train_cfg.stage_iters'``).

    Raises:
        ValueError: ``max_iters`` is given and is not ``total_iters``, naming both and ``keys``.
    """
    if max_iters is None or (not isinstance(max_iters, bool) and max_iters == total_iters):
        return
    raise ValueError(f'train_cfg.max_iters={max_iters!r}: {loop} runs the iterations its phases add up to, '
                     f'{derivation} = {total_iters}; set {keys} to change it (and leave max_iters out)')


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
