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

import contextlib
import importlib.util
import json
import multiprocessing.forkserver
import os
import os.path as osp
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import torch
import torch.multiprocessing as mp

# Imported once by the server; each rank is forked from it. Modules that fail to import are skipped by multiprocessing.
PRELOAD = ['torch', 'torch.distributed', 'mmengine.runner', 'automl_mm', '_forked_ranks', '_train_preload']


def _in_one_thread(rank: int, env: dict[str, str], fn: Callable[..., Any], *args: Any) -> None:
    os.environ.clear()
    os.environ.update(env)  # the server's environment is the one it started with, not the test's at this call
    torch.set_num_threads(1)  # a rank's work here is tiny; two ranks share the pytest worker's cores
    fn(rank, *args)


_SERVER_START = threading.Lock()


def _start_server() -> None:
    """Start the fork server (no-op once it runs) with :data:`PRELOAD` and this folder on its ``PYTHONPATH``.

    CPython's forkserver imports its preload before it takes the client's ``sys.path`` (3.11's ``forkserver.main``
    is handed it and leaves it unused) and skips a module that raises ``ImportError``: under the suite's
    ``PYTHONPATH`` (the repository root) ``_forked_ranks`` and ``_train_preload`` were skipped without a word, and
    each rank and each train_ranks parent imported them itself. The variable is put back at once; the ranks take
    the test's environment (:func:`_in_one_thread`)."""
    with _SERVER_START:  # (threads of one test call this at once: the benchmark's --jobs 2 in test_cr_nas_fmnist_det)
        multiprocessing.get_context('forkserver').set_forkserver_preload(PRELOAD)  # read when the server starts
        here, before = osp.dirname(osp.abspath(__file__)), os.environ.get('PYTHONPATH')
        os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [before, here]))  # after the caller's: none shadowed
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if before is None:
                del os.environ['PYTHONPATH']
            else:
                os.environ['PYTHONPATH'] = before


def fork_ranks(fn: Callable[..., Any], args: tuple = (), nprocs: int = 2, timeout: float = 600.0) -> None:
    """``torch.multiprocessing.start_processes(fn, args, nprocs, start_method='forkserver')`` joined, each rank with
    the caller's ``os.environ`` and one torch thread (see the module docstring).

    Raises as ``start_processes`` does (``ProcessRaisedException`` naming a rank's exception and traceback,
    ``ProcessExitedException`` for a rank that died), ``pickle.PicklingError`` / ``AttributeError`` for a ``fn`` that
    is not a top-level function of an importable module, and ``TimeoutError`` when ranks still run after
    ``timeout`` seconds. Ranks still running when it raises (the others of a failed rank, a timeout, pytest-timeout's
    interrupt) are killed: a hung rank never outlives its test.
    """
    _start_server()
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


def join_gloo(rank: int, world_size: int, port_or_file: int | str | os.PathLike, timeout: float | None = None) -> None:
    """Start this rank's gloo default process group of ``world_size`` ranks, then wait in a barrier until every rank
    has started it.

    ``port_or_file``: a port of 127.0.0.1 (``tcp://``, rank 0 serves the store) or a file path (``file://``; a fresh
    one per group). ``timeout``: the group's, in seconds (``None``: torch's default, 30 minutes).

    Without the barrier a rank could go on and tear its group down (a planted failure, the test's end) while a peer
    was still connecting in ``init_process_group`` or a later ``new_group``: gloo's 'Connection closed by peer' there,
    not the behaviour under test (test_copy_group_timeout, 2 runs of 47 beside a busy core).
    """
    import datetime

    import torch.distributed as torch_dist

    init = (f'tcp://127.0.0.1:{port_or_file}' if isinstance(port_or_file, int)
            else f'file://{os.fspath(port_or_file)}')
    kwargs = {} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))
    torch_dist.init_process_group('gloo', init_method=init, rank=rank, world_size=world_size, **kwargs)
    torch_dist.barrier()


def outcome(call: Callable[[], Any]) -> str | None:
    """``'<ErrorType>: <message>'`` of what ``call()`` raised in a rank, ``None`` if it returned: a rank records it
    for the test to compare across ranks (every rank refusing alike, or none)."""
    try:
        call()
    except Exception as err:  # noqa: BLE001 (recorded for the test to compare)
        return f'{type(err).__name__}: {err}'
    return None


@contextlib.contextmanager
def recording(out: dict) -> Iterator[None]:
    """Run the block in a rank and record in ``out`` what it raised (``'error'``: ``'<type>: <message>'``, as
    :func:`outcome`; not raised on) and how long it took (``'seconds'``: every rank stopping at once, not after the
    process group's timeout)."""
    start = time.perf_counter()
    try:
        yield
    except Exception as err:  # noqa: BLE001 (recorded for the test to compare)
        out['error'] = f'{type(err).__name__}: {err}'
    out['seconds'] = time.perf_counter() - start



class RankInputs(torch.utils.data.Dataset):
    """4 inputs ``dict(inputs=<tensor of shape>)``, uniform in [0, 1), item ``i`` drawn with seed ``100 * seed + i``:
    a rank's own shard where each rank passes its rank as ``seed`` (the ranks' gradients differ)."""

    def __init__(self, seed: int, shape: tuple[int, ...]) -> None:
        self.seed, self.shape = seed, shape

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=torch.rand(*self.shape, generator=torch.Generator().manual_seed(100 * self.seed + i)))

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: A plugin module's source (a config's ``custom_imports``) for a tool's ranks: ``RankModel``, a linear model of 2
#: inputs (``inputs``: a list of tensors of shape (2,)) whose loss is the mean of its squared output; it predicts
#: nothing (``predict`` / ``tensor`` modes: an empty list). A test adds its own data set, hooks or metrics after it.
RANK_MODEL_PLUGIN = '''
import torch
from mmengine.model import BaseModel
from mmengine.registry import MODELS


@MODELS.register_module(force=True)
class RankModel(BaseModel):
    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=self.linear(torch.stack(inputs)).pow(2).mean()) if mode == 'loss' else []
'''

#: A config's source for a tool's gloo ranks training :data:`RANK_MODEL_PLUGIN`'s model one epoch on ``{dataset}``
#: (a config expression) in batches of 2, unshuffled, no loader workers; ``{plugin}``: the plugin module's name,
#: ``{timeout}``: the process group's timeout in seconds (``env_cfg.dist_cfg.timeout``). ``str.format`` it.
RANK_RUN_CONFIG = '''
custom_imports = dict(imports=[{plugin!r}], allow_failed_imports=False)
default_scope = 'mmengine'
model = dict(type='RankModel')
train_dataloader = dict(dataset={dataset}, sampler=dict(type='DefaultSampler', shuffle=False), batch_size=2,
                        num_workers=0)
train_cfg = dict(by_epoch=True, max_epochs=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
env_cfg = dict(dist_cfg=dict(backend='gloo', timeout={timeout}))
'''


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Imports inside load a BLAS library with one thread (``OPENBLAS_NUM_THREADS=1``: scipy's OpenBLAS starts its
    pool at load time, and a process forked later keeps only the forking thread); the variable is put back after
    them, so the processes forked later see the caller's environment."""
    blas = os.environ.get('OPENBLAS_NUM_THREADS')
    os.environ['OPENBLAS_NUM_THREADS'] = '1'
    try:
        yield
    finally:
        if blas is None:
            del os.environ['OPENBLAS_NUM_THREADS']
        else:
            os.environ['OPENBLAS_NUM_THREADS'] = blas


def preload_worker_modules() -> None:
    """Import :data:`automl_mm.engine.launch.WORKER_PRELOAD`: what ``tools/train.py``'s own fork server imports."""
    from automl_mm.engine.launch import WORKER_PRELOAD

    for name in WORKER_PRELOAD:
        if name != '__main__':
            importlib.import_module(name)


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` of this checkout imported as a module (not registered in ``sys.modules``): its ``main``,
    ``build_config``, ``run`` for a rank to call as the tool's process would."""
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torchrun_env(rank: int, port: int, world_size: int = 2) -> dict[str, str]:
    """The variables torchrun gives the worker of global ``rank`` of one node of ``world_size`` workers whose
    rendezvous (rank 0's store) is at 127.0.0.1:``port`` (for ``os.environ.update``: ``--launcher pytorch``)."""
    return dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                WORLD_SIZE=str(world_size), LOCAL_WORLD_SIZE=str(world_size))


def torchrun_error_file(tmp: str | os.PathLike, local_rank: int) -> str:
    """The error file torchrun's agent gives its worker of ``local_rank`` (``TORCHELASTIC_ERROR_FILE``), with ``tmp``
    for the agent's attempt folder's parent: ``<tmp>/attempt_0/<local_rank>/error.json``."""
    return osp.join(os.fspath(tmp), 'attempt_0', str(local_rank), 'error.json')


def tool_rank(rank: int, tool: str, tmp: str, port: int, argv: list[str], cwd: str | None = None,
              error_file: bool = False, leave_at_once: bool = False) -> None:
    """Run ``tools/<tool>.py argv`` as torchrun's worker of ``rank`` of 2 (:func:`torchrun_env`, rendezvous on
    ``port``) and write its :func:`outcome` to ``tmp/rank<rank>.json`` (:func:`rank_outcomes` reads them): a rank
    function for :func:`fork_ranks`.

    Args:
        tmp: The test's folder: put first on ``sys.path`` (the plugin modules a config's ``custom_imports`` names).
        cwd: The working directory, ``str.format``-ed with ``rank`` (``'node{rank}'``: each rank's own node),
            relative to ``tmp``; ``None``: the test process's.
        error_file: Set ``TORCHELASTIC_ERROR_FILE`` to ``tmp/attempt_0/<rank>/error.json`` (where torchrun's summary
            reads a failed worker's error, in its agent's layout: :func:`torchrun_error_file`).
        leave_at_once: End the process right after the record (``os._exit(0)``): a rank of a failed run whose
            process group is still up may abort at exit (gloo's threads), whatever its exit status.
    """
    sys.path.insert(0, tmp)
    module = load_tool(tool)
    if cwd is not None:
        os.chdir(osp.join(tmp, cwd.format(rank=rank)))
    os.environ.update(torchrun_env(rank, port))
    if error_file:
        os.environ['TORCHELASTIC_ERROR_FILE'] = torchrun_error_file(tmp, rank)
        os.makedirs(osp.dirname(os.environ['TORCHELASTIC_ERROR_FILE']), exist_ok=True)
    found = outcome(lambda: module.main(argv))
    with open(osp.join(tmp, f'rank{rank}.json'), 'w') as f:
        json.dump(found, f)
    if leave_at_once:
        os._exit(0)


def rank_outcomes(tmp: str | os.PathLike, nprocs: int = 2) -> list[str | None]:
    """What each of ``nprocs`` ranks of :func:`tool_rank` recorded in ``tmp``, by rank."""
    found = []
    for rank in range(nprocs):
        with open(osp.join(tmp, f'rank{rank}.json')) as f:
            found.append(json.load(f))
    return found


def agent_store() -> tuple[Any, int]:
    """A ``TCPStore`` as torchrun's agent serves its workers (on a free port of 127.0.0.1, outliving the worker
    groups a test forks one after another), and its port; keep the store referenced while the workers run."""
    import datetime
    import socket

    import torch.distributed as torch_dist

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return torch_dist.TCPStore('127.0.0.1', port, None, True, datetime.timedelta(seconds=60),
                               wait_for_workers=False), port
