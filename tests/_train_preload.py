"""Imported last by the tests' fork server (:data:`_forked_ranks.PRELOAD`): what ``tools/train.py``'s own fork server
preloads (:data:`automl_mm.engine.launch.WORKER_PRELOAD`: automl_mm's registering modules, with the mmdet modules
they import, and ``torch._dynamo``), imported once per pytest worker instead of once in the parent of each run of
tests/_train_ranks.py (2.9 s of CPU each on this machine; the suite starts about 40 such runs).

A BLAS library these imports load (scipy's OpenBLAS) starts its thread pool at load time with ``OMP_NUM_THREADS``
threads (every core where unset); a process forked from a multi-threaded one keeps only the forking thread, and a
pool it believes it has would never answer. So they are loaded with one BLAS thread, and the server refuses to
serve (``RuntimeError`` at its start, failing every forked test loudly) if they still started a thread (the threads
of the imports before this one, numpy's OpenBLAS pool under ``OMP_NUM_THREADS=2``, the server had before).
"""
from __future__ import annotations

import os

from _forked_ranks import one_blas_thread, preload_worker_modules

from automl_mm.engine.launch import WORKER_PRELOAD


def _threads() -> int:
    return len(os.listdir('/proc/self/task'))


def _preload() -> None:
    before = _threads()  # numpy's OpenBLAS pool, started by the imports before this one: it re-forms after a fork
    with one_blas_thread():
        preload_worker_modules()
    if _threads() > before:
        raise RuntimeError(f'the tests\' fork server runs {_threads() - before} more threads after importing '
                           f'{WORKER_PRELOAD}: the processes it forks would not have them')


_preload()
