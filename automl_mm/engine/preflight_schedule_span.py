"""A run shortened or lengthened by ``--cfg-options train_cfg.max_epochs=N`` (or ``max_iters``) whose
``param_scheduler`` keeps the file's span: mmengine honours each scheduler's own ``T_max``, ``end`` and
``milestones``, so ``configs/ohl/ohl_convnet_1x4_12e_digits.py --cfg-options train_cfg.max_epochs=4`` ended its
cosine (``T_max=12``) at lr 0.038 of 0.05 instead of near 0, silently, and a run made longer than a cosine's
``T_max`` (with no ``end``) climbed back up the cosine after it. :func:`warn_schedule_span` warns, naming each
scheduler, its span and the option to set with it; it does not refuse (a short smoke run may mean it). A
scheduler's ``begin`` past the run (and the other settings the run never reaches) is warned of by the start-up
check, on the built schedulers, whether an option or the config sets it
(:func:`~automl_mm.engine.preflight_ohl_build.check_own_lengths`).
Called by :func:`~automl_mm.engine.preflight_options.merge_options`.
"""
from __future__ import annotations

import logging
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


def warn_schedule_span(cfg: Any, options: dict) -> list[str]:
    """Warn when ``options`` set ``train_cfg.max_epochs`` / ``train_cfg.max_iters`` and a ``param_scheduler`` in
    those units (``by_epoch``, mmengine's default ``True``, for epochs; ``False`` for iterations) does not span the
    new length.

    Args:
        cfg: the config, options merged.
        options: the ``--cfg-options`` given (flat dotted keys, as mmengine's ``DictAction`` gives them).

    Returns:
        The mismatches warned of, one string each (empty: nothing warned).
    """
    train_cfg = cfg.get('train_cfg') or {}
    found: list[str] = []
    for option, by_epoch, unit in (('max_epochs', True, 'epochs'), ('max_iters', False, 'iterations')):
        length = train_cfg.get(option)
        if f'train_cfg.{option}' not in options or not isinstance(length, int) or isinstance(length, bool):
            continue
        schedulers = cfg.get('param_scheduler')
        entries = schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]
        for i, scheduler in enumerate(entries):
            if not isinstance(scheduler, dict) or bool(scheduler.get('by_epoch', True)) != by_epoch:
                continue
            key = f'param_scheduler.{i}' if isinstance(schedulers, (list, tuple)) else 'param_scheduler'
            found += [f'{m} ({scheduler.get("type")}, in {unit})' for m in _mismatches(scheduler, key, length)]
        if found:
            print_log(f'--cfg-options train_cfg.{option}={length} changes the run\'s length but not its '
                      f'param_scheduler, which mmengine follows as written: {"; ".join(found)}. Set those keys too '
                      f'with --cfg-options, unless this is meant (a short smoke run)',
                      logger='current', level=logging.WARNING)
    return found


__all__ = ['warn_schedule_span']
