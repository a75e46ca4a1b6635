"""Start a test's gloo ranks from a forkserver (torch, mmengine and automl_mm imported there once).

The ranks used to be forked from the test process itself. A pytest-xdist worker is never single-threaded (execnet's
I/O thread; torch's OpenMP pool after any parallel operation), and a fork copies only the forking thread: a lock
another thread held at that moment stays held in the child forever. One such rank hung in a futex at 99 % of a CI
run until the 90-minute limit ended it (forty-eighth session), and GNU libgomp's pool does not survive a fork either
(a convolution under ``torch.set_num_threads(2)`` hung both ranks). Python's ``forkserver`` start method forks each
rank from a separate single-threaded server process started once per pytest worker, so neither can happen, and the
preloaded imports keep a rank's start-up near a fork's.

What a forkserver rank does not inherit, ``fork_ranks`` hands over: the test process's environment (``monkeypatch
.setenv`` before the call) is applied in each rank. A rank's function and arguments are pickled, so the function
must be defined at the top level of an importable module (the test file: its folder is on ``sys.path``, which the
ranks receive); state a test set up in its own process (monkeypatched attributes, registrations made inside the
test) is not seen by the ranks: set it up in the rank's function.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp

# Imported once by the server; each rank is forked from it. Modules that fail to import are skipped by multiprocessing.
PRELOAD = ['torch', 'torch.distributed', 'mmengine.runner', 'automl_mm', '_forked_ranks']


def _in_one_thread(rank: int, env: dict[str, str], fn: Callable[..., Any], *args: Any) -> None:
    os.environ.clear()
    os.environ.update(env)  # the server's environment is the one it started with, not the test's at this call
    torch.set_num_threads(1)  # a rank's work here is tiny; two ranks share the pytest worker's cores
    fn(rank, *args)


def fork_ranks(fn: Callable[..., Any], args: tuple = (), nprocs: int = 2, timeout: float = 600.0) -> None:
    """``torch.multiprocessing.start_processes(fn, args, nprocs, start_method='forkserver')`` joined, each rank with
    the caller's ``os.environ`` and one torch thread (see the module docstring).

    Raises as ``start_processes`` does (``ProcessRaisedException`` naming a rank's exception and traceback,
    ``ProcessExitedException`` for a rank that died), ``pickle.PicklingError`` / ``AttributeError`` for a ``fn`` that
    is not a top-level function of an importable module, and ``TimeoutError`` when ranks still run after
    ``timeout`` seconds. Ranks still running when it raises (the others of a failed rank, a timeout, pytest-timeout's
    interrupt) are killed: a hung rank never outlives its test.
    """
    multiprocessing.get_context('forkserver').set_forkserver_preload(PRELOAD)  # read when the server starts
    context = mp.start_processes(_in_one_thread, args=(dict(os.environ), fn, *args), nprocs=nprocs, join=False,
                                 start_method='forkserver')
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=max(deadline - time.monotonic(), 0.0)):
            if time.monotonic() >= deadline:
                running = [rank for rank, p in enumerate(context.processes) if p.is_alive()]
                raise TimeoutError(f'ranks {running} of {nprocs} still running after {timeout:g} s: killed')
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
                process.join()


def outcome(call: Callable[[], Any]) -> str | None:
    """``'<ErrorType>: <message>'`` of what ``call()`` raised in a rank, ``None`` if it returned: a rank records it
    for the test to compare across ranks (every rank refusing alike, or none)."""
    try:
        call()
    except Exception as err:  # noqa: BLE001 (recorded for the test to compare)
        return f'{type(err).__name__}: {err}'
    return None
