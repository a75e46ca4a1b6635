"""A run shortened or lengthened by ``--cfg-options train_cfg.max_epochs=N`` (or ``max_iters``) whose
``param_scheduler`` keeps the file's span: mmengine honours each scheduler's own ``T_max``, ``end`` and
``milestones``, so ``configs/ohl/ohl_convnet_1x4_12e_digits.py --cfg-options train_cfg.max_epochs=4`` ended its
cosine (``T_max=12``) at lr 0.038 of 0.05 instead of near 0, silently, and a run made longer than a cosine's
``T_max`` (with no ``end``) climbed back up the cosine after it. :func:`warn_schedule_span` warns, naming each
scheduler, its span and the option to set with it; it does not refuse (a short smoke run may mean it). A
scheduler whose ``begin`` the new length never reaches is named by its ``begin`` alone (its ``T_max`` / ``end``
never start). ``tools/train.py`` calls it after its start-up check, in the same warning as the config's own
settings the run never reaches
(:func:`~automl_mm.engine.preflight_ohl_build.check_own_lengths`: one warning per run), or alone where that check
does not run (a rank of a distributed launch); the other tools, which train nothing, do not warn.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mmengine.logging import print_log

#: mmengine's ``_ParamScheduler`` default ``end`` (``INF = int(1e9)``): no end written.
_NO_END = int(1e9)


def _mismatches(scheduler: dict, key: str, length: int) -> list[str]:
    """What of ``scheduler`` (entry ``key``) does not fit a run of ``length`` units: a ``T_max`` past the run's end
    (the cosine does not finish) or short of it without an ``end`` (it climbs back after ``T_max``), an ``end`` past
    it, ``milestones`` past it (never reached)."""
    found = []
    begin = scheduler.get('begin', 0) if isinstance(scheduler.get('begin', 0), int) else 0
    end = scheduler.get('end', _NO_END)
    if begin >= length:  # it never starts: its T_max, end and milestones are moot
        return [f'{key}.begin={begin} is not before the run\'s end (the scheduler never sets a value)']
    t_max = scheduler.get('T_max')
    if isinstance(t_max, int) and not isinstance(t_max, bool):
        if begin + t_max > length:
            found.append(f'{key}.T_max={t_max} ends after the run (the cosine stops part-way)')
        elif begin + t_max < length and (not isinstance(end, int) or end >= _NO_END):
            found.append(f'{key}.T_max={t_max} ends before the run, with no {key}.end (the lr climbs back up the '
                         f'cosine after it)')
    if isinstance(end, int) and not isinstance(end, bool) and length < end < _NO_END:
        found.append(f'{key}.end={end} is after the run')
    milestones = scheduler.get('milestones')
    if isinstance(milestones, (list, tuple)) and milestones and all(isinstance(m, int) for m in milestones):
        late = [m for m in milestones if m >= length]
        if late:
            found.append(f'{key}.milestones {late} are not reached')
    return found


def schedule_span_problems(cfg: Any, options: dict) -> list[tuple[str, str, str]]:
    """``(option, scheduler key, mismatch)`` of each ``param_scheduler`` in the units of a length ``options`` set
    (``train_cfg.max_epochs`` / ``train_cfg.max_iters``; ``by_epoch``, mmengine's default ``True``, for epochs,
    ``False`` for iterations) that does not span the new length; ``option`` as ``'train_cfg.max_epochs=4'``.

    Args:
        cfg: the config, options merged.
        options: the ``--cfg-options`` given (flat dotted keys, as mmengine's ``DictAction`` gives them).
    """
    train_cfg = cfg.get('train_cfg') or {}
    found: list[tuple[str, str, str]] = []
    for option, by_epoch, unit in (('max_epochs', True, 'epochs'), ('max_iters', False, 'iterations')):
        length = train_cfg.get(option)
        if f'train_cfg.{option}' not in (options or {}) or not isinstance(length, int) or isinstance(length, bool):
            continue
        schedulers = cfg.get('param_scheduler')
        entries = schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]
        for i, scheduler in enumerate(entries):
            if not isinstance(scheduler, dict) or bool(scheduler.get('by_epoch', True)) != by_epoch:
                continue
            key = f'param_scheduler.{i}' if isinstance(schedulers, (list, tuple)) else 'param_scheduler'
            found += [(f'train_cfg.{option}={length}', key, f'{m} ({scheduler.get("type")}, in {unit})')
                      for m in _mismatches(scheduler, key, length)]
    return found


def warn_schedule_span(cfg: Any, options: dict, unreached: Sequence[str] = ()) -> list[str]:
    """Warn, in one warning, of the ``param_scheduler`` spans a length set by ``options`` leaves behind
    (:func:`schedule_span_problems`) and of ``unreached``: the config's own settings the run never reaches, as the
    start-up check found them (``'<key>.<setting>=<value> and train_cfg.<length>=<n> break ...'``,
    :func:`~automl_mm.engine.preflight_ohl_build.check_own_lengths`). A scheduler ``unreached`` names (its ``begin``)
    is not named again among the spans.

    Args:
        cfg: the config, options merged.
        options: the ``--cfg-options`` given (flat dotted keys, as mmengine's ``DictAction`` gives them).
        unreached: the start-up check's messages.

    Returns:
        The mismatches and ``unreached`` warned of, one string each (empty: nothing warned).
    """
    span = [(option, key, message) for option, key, message in schedule_span_problems(cfg, options)
            if not any(other.startswith(f'{key}.') for other in unreached)]
    parts = []
    for option in dict.fromkeys(option for option, _, _ in span):
        parts.append(f'--cfg-options {option} changes the run\'s length but not its param_scheduler, which mmengine '
                     'follows as written: ' + '; '.join(message for shown, _, message in span if shown == option))
    if unreached:
        parts.append(f'{"The" if parts else "the"} run never reaches these settings of the config: '
                     + '; '.join(unreached))
    if parts:
        print_log('. '.join(parts) + '. Set those keys too (with --cfg-options) or change the run\'s length, unless '
                  'this is meant (a short smoke run)', logger='current', level=logging.WARNING)
    return [message for _, _, message in span] + list(unreached)


__all__ = ['schedule_span_problems', 'warn_schedule_span']
