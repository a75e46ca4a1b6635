"""Start a test's gloo ranks forked from the test process (what they use is imported there once).

A forked rank inherits the test process's torch, whose OpenMP thread pool (GNU libgomp) does not survive a fork:
where the test process ran a parallel torch operation with more than one thread before (an earlier test in the
same pytest worker; ``tests/conftest.py`` gives a worker ``usable cores // workers`` threads), the rank's first
parallel operation waits forever for threads the fork did not copy (a convolution under ``torch.set_num_threads(2)``
hung both ranks). Each rank therefore runs with one torch thread, as PyTorch's DataLoader workers do
(``torch.utils.data._utils.worker._worker_loop``); a rank's work in these tests is tiny.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp


def _in_one_thread(rank: int, fn: Callable[..., Any], *args: Any) -> None:
    torch.set_num_threads(1)  # before any parallel operation: the parent's OpenMP threads were not forked
    fn(rank, *args)


def fork_ranks(fn: Callable[..., Any], args: tuple = (), nprocs: int = 2) -> None:
    """``torch.multiprocessing.start_processes(fn, args, nprocs, join=True, start_method='fork')``, each rank
    with one torch thread (see the module docstring). Raises as ``start_processes`` does (a rank's exception)."""
    mp.start_processes(_in_one_thread, args=(fn, *args), nprocs=nprocs, join=True, start_method='fork')
