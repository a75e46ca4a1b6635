"""The wait for the record of the rank whose own code failed (at most ``ORIGIN_RECORD_TIMEOUT`` seconds, a poll every
0.05 s) was written twice, in torchrun's error handler (``TorchrunErrorHandler._after``: the origin's error file) and
in the local launcher's worker (``launch._record_failure``: the origin's traceback file); both now poll through
``rank_failures.wait_for_origin_record``. On a fake clock (no real waiting): ready at once, ready after k polls, never
ready (returns at the deadline, read at the call), and both callers wait through it."""
from __future__ import annotations

import json

import pytest

from automl_mm.engine import launch, rank_failures
from automl_mm.engine.rank_failures import RankFailure, TorchrunErrorHandler, wait_for_origin_record


class _Clock:
    """Stands for the ``time`` module in ``rank_failures``: ``monotonic`` and ``time`` read a fake clock that only
    ``sleep`` moves (each sleep recorded); a wait past ``limit`` sleeps fails the test instead of looping."""

    def __init__(self, now: float = 1000.0, limit: int = 10_000) -> None:
        self.now, self.limit, self.sleeps = now, limit, []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) > self.limit:
            raise AssertionError(f'still waiting after {self.limit} polls')
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(rank_failures, 'time', fake)
    return fake


def _ready_after(polls: int, value):
    calls = []

    def ready():
        calls.append(None)
        return value if len(calls) > polls else None
    return ready, calls


@pytest.mark.parametrize('value', ['there', 0, True])  # a timestamp of 0 is a record; False is not
def test_a_record_there_at_once_is_returned_without_a_sleep(clock, value):
    ready, calls = _ready_after(0, value)
    assert wait_for_origin_record(ready) == value and value is not None
    assert len(calls) == 1 and clock.sleeps == []


@pytest.mark.parametrize('polls', [1, 3, 50])
def test_a_record_there_after_k_polls_is_returned_after_k_sleeps_of_50_ms(clock, polls):
    ready, calls = _ready_after(polls, 1234)
    assert wait_for_origin_record(ready) == 1234
    assert clock.sleeps == [0.05] * polls and len(calls) == polls + 1


@pytest.mark.parametrize('not_there', [None, False])
@pytest.mark.parametrize('timeout', [None, 0.5, 0.0])
def test_a_record_never_there_returns_none_at_the_deadline(clock, monkeypatch, not_there, timeout):
    if timeout is not None:  # read at the call: the launcher's tests set it on the module
        monkeypatch.setattr(rank_failures, 'ORIGIN_RECORD_TIMEOUT', timeout)
    calls = []
    start = clock.now
    assert wait_for_origin_record(lambda: calls.append(None) or not_there) is None
    waited = clock.now - start
    limit = rank_failures.ORIGIN_RECORD_TIMEOUT
    assert waited >= limit and waited - 0.05 < limit, (waited, limit)  # at the deadline, not a poll later or sooner
    assert len(calls) == len(clock.sleeps) + 1 and set(clock.sleeps) <= {0.05}
    # the sleeps of both old loops ('while not there and time.monotonic() < deadline: sleep'), on the same clock: the
    # deadline reached exactly (a zero timeout) ends the wait, with no sleep
    now, deadline, sleeps = start, start + limit, 0
    while now < deadline:
        now, sleeps = now + 0.05, sleeps + 1
    assert len(clock.sleeps) == sleeps, (len(clock.sleeps), sleeps)


def test_the_torchrun_handler_waits_for_the_origins_file_through_it(clock, tmp_path):
    path = tmp_path / 'error.json'
    TorchrunErrorHandler._after(str(path))  # no file: at the deadline, then records its own
    assert clock.now - 1000.0 >= rank_failures.ORIGIN_RECORD_TIMEOUT
    stamp = int(clock.now) + 3
    path.write_text(json.dumps(dict(message=dict(extraInfo=dict(timestamp=stamp)))))
    before = len(clock.sleeps)
    TorchrunErrorHandler._after(str(path))  # there: no poll, then on to a second past the file's timestamp
    assert len(clock.sleeps) == before + 1 and clock.now == pytest.approx(stamp + 1)


def test_the_local_worker_waits_for_the_origins_traceback_through_it(clock, tmp_path):
    told = RankFailure('the reward reading failed on rank 1 (ValueError: planted)', 1, 'ValueError: planted')
    launch._record_failure(told, 0, str(tmp_path))  # rank 1 recorded nothing: at the deadline, then rank 0 records
    assert clock.now - 1000.0 >= rank_failures.ORIGIN_RECORD_TIMEOUT and set(clock.sleeps) == {0.05}
    assert (tmp_path / '0.told').read_text() == '1'
    (tmp_path / '0.told').unlink()
    (tmp_path / '1.traceback').write_text('Traceback ...')
    before = len(clock.sleeps)
    launch._record_failure(told, 0, str(tmp_path))  # there: no poll
    assert len(clock.sleeps) == before and (tmp_path / '0.told').read_text() == '1'
