"""One log line per OHL trunk (reward, best copy, entropy, ETA): a run's progress at a glance."""
from __future__ import annotations

import time
from typing import Any

from mmengine.hooks import Hook

from automl_mm.registry import HOOKS

#: Every progress line starts with this, so a console can be filtered down to them
#: (``make demo`` shows only these lines and keeps the full log in the work dir).
PREFIX = 'OHL progress'


def _clock(seconds: float) -> str:
    seconds = int(round(max(seconds, 0.0)))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}' if seconds >= 3600 \
        else f'{seconds // 60}:{seconds % 60:02d}'


def _reward_digits(rewards: list[float]) -> int:
    """Decimals that show a reward's differences: 2 for percentages (accuracy 81.25), 4 for readings below 1 in
    magnitude (a COCO mAP of 0.2345, a mean log-likelihood of -0.3512)."""
    finite = [abs(r) for r in rewards if r == r and abs(r) != float('inf')]
    return 2 if finite and max(finite) >= 1 else 4


def read_flags(record: dict) -> list[bool]:
    """Per copy of one OHL history record, whether its reward is a reading: not a diverged copy's (``valid``) nor
    the stand-in of a copy whose reward evaluator returned no metrics (``empty_metrics`` with a reward other than
    the 0 it read: :func:`~automl_mm.ohl.reward.settle_rewards` keeps that 0 only where it is no better than every
    reading, and a stand-in worse than a reading is never 0). Every copy where the record has no flags."""
    rewards = record['rewards']
    valid = record.get('valid') or [True] * len(rewards)
    empty = record.get('empty_metrics') or [False] * len(rewards)
    return [bool(ok) and not (e and r != 0.0) for r, ok, e in zip(rewards, valid, empty)]


def stand_ins(record: dict) -> list[int]:
    """The copies of one OHL history record whose reward is the stand-in of a copy that read no metrics
    (:func:`read_flags`); diverged copies are not among them."""
    valid = record.get('valid') or [True] * len(record['rewards'])
    return [c for c, (ok, read) in enumerate(zip(valid, read_flags(record))) if ok and not read]


def valid_rewards(record: dict) -> list[float]:
    """The rewards the copies of one OHL history record read (:func:`read_flags`). A diverged copy's reward is a
    stand-in below every valid one (``OHLHook.worst_reward``), and so is, where its 0 would rank it first (a loss
    under ``reward_rule='less'``), a copy that read no metrics: the controller learns from them but no copy measured
    them. A mean reward reported with them averaged in read 70.00 for copies that read 80 and 81.25, or a mean loss
    of 0.6 for copies that read 0.5 and 0.3."""
    rewards = record['rewards']
    return [r for r, read in zip(rewards, read_flags(record)) if read] or list(rewards)


def num_trunks(runner: Any, trunk_epochs: int | None, trunk_iters: int | None) -> int:
    """The trunks of a run of ``runner.max_iters`` iterations (the runner, or the config check's stand-in of it:
    :func:`~automl_mm.engine.preflight_ohl_schedule.config_num_trunks`) with trunks of ``trunk_epochs`` epochs
    (``len(runner.train_dataloader)`` iterations each) or ``trunk_iters`` iterations (``OHLHook``'s arguments, one of
    them ``None``): ``ceil(max_iters / trunk length)``, the last one partial when they do not divide (the ratio of
    iterations done to trunks done, rounded, miscounted that: 320 iterations of 24-iteration trunks read /13 for 13
    trunks and /14 at the last)."""
    from .checks import _trunk

    length, _ = _trunk(runner, trunk_epochs, trunk_iters)
    return -(-runner.max_iters // length)


def progress_line(record: dict, num_trunks: int | None, elapsed: float, eta: float | None) -> str:
    """The progress line of one OHL history record (see ``OHLHook.history``).

    The trunk is named by its index, 0-based as in the history, the ``OHL trunk k`` log lines and the files of
    ``OHLReportHook``; ``(k+1/T)`` counts the trunks done out of the run's ``T``. Rewards below 1 in magnitude (a
    COCO mAP) get 4 decimals, percentages 2. The mean is over the copies that did not diverge
    (:func:`valid_rewards`), and the line names those that did. Each space's entropy is in nats, over the uniform's
    ``ln K`` (the most a distribution over K choices has; ``max_entropy`` of its summary) where the record has it: a
    categorical's 7.123/7.167 is a policy that barely moved from uniform. A Gaussian's summary gives no entropy (its
    differential entropy has no such bound), so its space is not shown; a record written before ``max_entropy``
    shows the entropy alone.

    Examples:
        >>> rec = dict(trunk=4, rewards=[81.0, 83.5], best=1,
        ...            distributions={'autoaug': {'entropy': 7.1234, 'max_entropy': 7.1670}})
        >>> print(progress_line(rec, 20, 65.0, 260.0).replace(' | ', chr(10) + '  | '))
        OHL progress trunk 4 (5/20)
          | reward best 83.50 (copy 1), mean 82.25
          | entropy autoaug 7.123/7.167 nats
          | 1:05 elapsed, ETA 4:20
        >>> print(progress_line(dict(trunk=0, rewards=[0.2345, 0.2101], best=0, distributions={}), None, 5, None))
        OHL progress trunk 0 | reward best 0.2345 (copy 0), mean 0.2223 | 0:05 elapsed
    """
    rewards = record['rewards']
    best = record['best']
    measured = valid_rewards(record)
    digits = _reward_digits(measured)
    diverged = [c for c, ok in enumerate(record.get('valid') or []) if not ok]
    metric_less = stand_ins(record)
    why = [f'cop{"ies" if len(copies) > 1 else "y"} {", ".join(map(str, copies))} {what}'
           for copies, what in ((diverged, 'diverged'), (metric_less, 'read no metrics')) if copies]
    of_valid = '' if not why else (
        f' of the {len(measured)} {"copies that read a reward" if metric_less else "valid copies"} ({"; ".join(why)})')
    entropies = ', '.join(f'{name} {d["entropy"]:.3f}' + (f'/{d["max_entropy"]:.3f}' if d.get('max_entropy') is not None
                                                          else '') + ' nats'
                          for name, d in record['distributions'].items() if d.get('entropy') is not None)
    trunk = record['trunk']
    parts = [f'{PREFIX} trunk {trunk}' + (f' ({trunk + 1}/{num_trunks})' if num_trunks else ''),
             f'reward best {rewards[best]:.{digits}f} (copy {best}), mean {sum(measured) / len(measured):.{digits}f}'
             + of_valid]
    if entropies:
        parts.append(f'entropy {entropies}')
    parts.append(f'{_clock(elapsed)} elapsed' + (f', ETA {_clock(eta)}' if eta is not None else ''))
    return ' | '.join(parts)


@HOOKS.register_module()
class OHLProgressHook(Hook):
    """Log one line per OHL trunk on the main process: trunk k (k+1/T), best and mean reward, the best copy, each
    space's entropy and the time left (elapsed x remaining iterations / done iterations).

    It reads the history of the ``OHLHook`` in ``custom_hooks`` after that hook has recorded the trunk: a priority
    that has mmengine call it first (above ``OHLHook``'s, or equal and listed before it) is refused before training
    (:func:`~automl_mm.ohl.checks.check_hook_order`; it logged each trunk one trunk late). Every line starts with
    :data:`PREFIX`, so a console can be cut down to them (``make demo`` does; the log file keeps everything).

    Args:
        interval: log every ``interval``-th trunk (indices ``interval - 1``, ``2 * interval - 1``, ...) and the
            run's last one (also of a run stopped early, e.g. by ``EarlyStoppingHook``: logged in ``after_train``),
            as mmengine's ``LoggerHook`` logs every ``interval`` iterations; 1 (default): every trunk.

    Raises:
        ValueError: ``interval`` is not a positive integer.
    """

    priority = 'LOW'  # after OHLHook (BELOW_NORMAL) has closed the trunk

    def __init__(self, interval: int = 1) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f'OHLProgressHook: interval must be a positive number of trunks, got {interval!r}')
        self.interval = interval
        self._start = time.perf_counter()
        self._seen = 0
        self._logged: int | None = None

    def before_train(self, runner: Any) -> None:
        self._start = time.perf_counter()
        # OHLHook or a subclass of it (by name along the class's bases: this module does not import the hook)
        self._ohl = next((h for h in runner.hooks if any(c.__name__ == 'OHLHook' for c in type(h).__mro__)), None)
        if self._ohl is None:
            raise ValueError('OHLProgressHook needs an OHLHook in custom_hooks')
        self._seen = len(self._ohl.history)  # a resumed run does not repeat old trunks
        self._logged = self._ohl.history[-1]['trunk'] if self._ohl.history else None  # the last trunk logged
        self._done_before = runner.iter
        self._trunks = self._num_trunks(runner)

    def _num_trunks(self, runner: Any) -> int:
        """The run's trunks (:func:`num_trunks`)."""
        return num_trunks(runner, self._ohl.trunk_epochs, self._ohl.trunk_iters)

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        self._report(runner, runner.iter + 1)  # the loop counts this iteration after its hooks

    def after_train_epoch(self, runner: Any) -> None:
        self._report(runner, runner.iter)

    def after_train(self, runner: Any) -> None:
        # a loop stopped early (EarlyStoppingHook): OHLHook.after_train ended the open trunk, or the last trunk ended
        # off the interval; it is the run's last, logged whatever the interval (it was never logged)
        self._report(runner, runner.iter, last=True)

    def _report(self, runner: Any, iters_done: int, last: bool = False) -> None:
        history = self._ohl.history
        if not history or (len(history) <= self._seen and not last):
            return
        record = history[-1]
        if last and record['trunk'] == self._logged:
            return
        self._seen = len(history)
        if (record['trunk'] + 1) % self.interval and iters_done < runner.max_iters and not last:
            return
        self._logged = record['trunk']
        elapsed = time.perf_counter() - self._start
        done = max(iters_done - self._done_before, 1)
        left = max(runner.max_iters - iters_done, 0)
        # a stopped run's last line has no time left to estimate
        line = progress_line(record, self._trunks, elapsed, None if last else elapsed * left / done)
        runner.logger.info(line)
