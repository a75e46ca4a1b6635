"""The start of a distributed run's ranks, together: joining the process group before the runner is built
(:func:`join_process_group`), agreeing on each rank's checks of its own files as the group starts
(:func:`checking_own_files_together`), agreeing on the reading of the config file through the launcher's rendezvous
store before any rank starts the group (:func:`reading_config_together`), and leaving it together
(:func:`leave_process_group`). Moved unchanged from :mod:`automl_mm.engine.rank_agreement` (which re-exports them),
where the comparison of what each rank runs stays (:func:`~automl_mm.engine.rank_agreement.check_ranks_run_alike`).
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar


def leave_process_group() -> None:
    """End a distributed run's process group together: a barrier, then ``destroy_process_group`` (nothing without
    one), then automl_mm's module-level references to the groups dropped (the OHL copy layout holds its copy's group
    and the default group: :func:`~automl_mm.ohl.copies.forget_process_groups`) and the garbage collected, so the
    groups' C++ objects (gloo's threads) end while the interpreter still runs. Ranks that exit while a peer still
    holds open gloo connections can abort at interpreter shutdown ("terminate called without an active exception",
    exit -6): ``tools/dist_test.sh`` failed about one run in ten after printing its metrics. A group that
    ``destroy_process_group`` removed from torch's registry but that a module global still held was destroyed only
    at interpreter shutdown, with the same abort (a 2-copy OHL ``tools/dist_train.sh`` run, after its last
    validation; torch's own ``destroy_process_group`` docs ask for the call at the end of ``main``, pytorch/pytorch
    #190489 shows the abort without it). ``tools/train.py`` and ``tools/test.py`` call it after their run, with their
    runner (which holds the copies' wrappers and layout) released first."""
    import gc

    import torch.distributed as torch_dist

    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
        from automl_mm.ohl.copies import forget_process_groups

        forget_process_groups()
        gc.collect()


def join_process_group(cfg: Any) -> bool:
    """Start the process group of a distributed run (``cfg.launcher`` not ``'none'``) before its runner is built,
    as mmengine's ``Runner.setup_env`` would (``set_multi_processing(**env_cfg.mp_cfg)``, then
    ``init_dist(launcher, **env_cfg.dist_cfg)``; the runner then finds it started), so that
    :func:`~automl_mm.engine.rank_agreement.check_ranks_run_alike` runs before the runner's own collectives.

    Returns:
        Whether a process group exists now. ``False`` for ``launcher='none'``, and for a ``runner_type`` that is
        not an mmengine ``Runner`` (``FlexibleRunner``'s strategies start their own): check after building it.
    """
    import torch.distributed as torch_dist
    from mmengine.dist import init_dist
    from mmengine.runner import Runner
    from mmengine.utils.dl_utils import set_multi_processing

    from automl_mm.registry import RUNNERS, registered_class

    if torch_dist.is_available() and torch_dist.is_initialized():
        return True
    if cfg.get('launcher', 'none') == 'none':
        return False
    runner_type = cfg.get('runner_type', 'Runner')
    if isinstance(runner_type, str):
        # as the tools' RUNNERS.build(cfg) resolves it (mmengine's build_runner_from_cfg): in the config's own
        # _scope_, else the current default scope (default_scope is the scope the runner builds in, once built)
        runner_type = registered_class(RUNNERS, runner_type, cfg.get('_scope_'))
    if not (isinstance(runner_type, type) and issubclass(runner_type, Runner)):
        return False
    env_cfg = cfg.get('env_cfg', dict(dist_cfg=dict(backend='nccl'))) or {}
    set_multi_processing(**(env_cfg.get('mp_cfg') or {}), distributed=True)
    init_dist(cfg.launcher, **dict(env_cfg.get('dist_cfg') or {}))
    return True


@contextmanager
def checking_own_files_together(cfg: Any, what: str) -> Iterator[None]:
    """Run the block, start checks that read this process's own files (the config's data under ``data_root``, a
    checkpoint), then, in a distributed run (``cfg.launcher`` not ``'none'``), start the process group
    (:func:`join_process_group`) and agree on the block's failure
    (:func:`~automl_mm.engine.rank_failures.agree_on_failure`): every rank stops there together. Outside a
    distributed run the block runs plainly.

    ``tools/train.py`` and ``tools/test.py`` checked the data in every rank before the process group started: a node
    lacking a file (its copy of the data set incomplete, a relative ``data_root`` resolved from another working
    directory) refused alone, and the ranks of the other nodes waited for it in the rendezvous until
    ``env_cfg.dist_cfg.timeout`` (``DistStoreError: Timed out after 1801 seconds waiting for clients. 1/2 clients
    joined``), naming nothing. The block runs before the process group starts, so that every rank has tried its
    checks before any waits for another.

    Args:
        cfg: The config as this process resolved it (``launcher`` and ``env_cfg.dist_cfg`` set: the process group
            starts from them); the block may complete it.
        what: The checks, named in the other ranks' message (``'tools/train.py: the checks of each rank's data'``).

    Raises:
        Exception: the block's error, on the rank that raised it (a process group that could not start then adds
            its error before it: :func:`~automl_mm.engine.rank_failures.keeping_own_failure`).
        RankFailure: on every other rank, naming the lowest rank whose block raised and its error.
    """
    from .rank_failures import agree_on_failure, keeping_own_failure

    distributed = cfg.get('launcher', 'none') != 'none'
    failure = None
    try:
        yield
    except Exception as err:  # noqa: BLE001 (agreed on, then raised on every rank)
        if not distributed:
            raise
        failure = err
    if not distributed:
        return
    with keeping_own_failure(failure, what):
        joined = join_process_group(cfg)
    if not joined and failure is not None:  # a runner that starts its own process group: no agreement possible
        raise failure
    agree_on_failure(failure, what)


_T = TypeVar('_T')

#: The environment a process of torchrun (``tools/dist_train.sh`` / ``dist_test.sh``) gets, from which
#: :func:`reading_config_together` reaches the run's rendezvous store without the config.
RENDEZVOUS_ENV = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')

#: The store key prefix under which :func:`reading_config_together` exchanges each rank's reading of its config;
#: torchrun's run id and a token of the worker group (:func:`_group_token`) are appended (an agent's store outlives
#: its worker groups).
CONFIG_READ_KEY = 'automl_mm/config_read'

_stores: list = []  # the stores of :func:`reading_config_together`, kept: rank 0's serves the process group's start


def reading_config_together(read: Callable[[], _T], launcher: str, what: str, *,
                            checks: Callable[[], None] | None = None, checks_advice: str = '',
                            checks_what: str = '') -> _T:
    """``read()`` (this process reading its config file: its ``_base_`` files, ``custom_imports``, options merged),
    agreed on across the ranks of a distributed run before any of them starts the process group.

    The process group's settings (``env_cfg.dist_cfg``: its backend, timeout) come from the config, so a rank that
    could not read it (the file missing on its node, which does not share the others' file system; a relative path
    from another working directory; an edit that fails on one node) could not join the group: it refused alone, and
    the ranks of the other nodes waited for it in the rendezvous until ``env_cfg.dist_cfg.timeout`` (30 minutes by
    default), naming nothing. Here every rank connects to the launcher's rendezvous store
    (:func:`~automl_mm.engine.dist.launcher_rendezvous`: under torchrun ``env://``, its agent store, else a
    ``TCPStore`` that rank 0 serves, as ``init_process_group`` would; under srun and mpirun the job's store at the
    address and port their start-up then uses, from ``SLURM_PROCID`` / ``OMPI_COMM_WORLD_RANK``, not a ``RANK`` the
    job script exported), writes whether its reading failed and waits for every rank's word (rank 0, which may serve
    the store, until every other rank has read them); where one failed, every rank raises. Outside a distributed run
    (``launcher`` ``'none'``, a world of one), and where the launcher's environment does not give the store (torchrun's
    :data:`RENDEZVOUS_ENV` unset; mpirun without ``MASTER_ADDR``), ``read()`` runs plainly.
    torchrun's agent store outlives its worker groups (a restart under ``--max-restarts``, a node joining), and no
    variable tells one group from the next on every node (torch counts a restart only on the node whose worker failed,
    torch issues 108158 / 135712): the words are keyed by the run id and a token of the worker group that rank 0 hands
    each rank in answer to a fresh nonce (:func:`_group_token`), so a rank never reads an earlier group's words.

    Args:
        read: Reads and returns the config; what it raises is this rank's failure.
        launcher: The tool's ``--launcher``.
        what: The step, named in the other ranks' message (``'tools/train.py: reading the config file'``): where
            ``read()`` failed on a ``custom_imports`` module (not found, failing to import, or raising another
            error while imported: :func:`_failed_step`), the module is named instead, after the tool (what
            precedes ``': '`` in ``what``): ``"tools/train.py: importing the config's custom_imports module
            'my_plugin.spaces'"``, and the advice is to give every node that module.
        checks: This rank's checks of its own node that run before ``read()`` and are agreed on with it (the import
            of automl_mm's modules, ``--show``'s display); what it raises is this rank's failure.
        checks_advice: The other ranks' advice where ``checks`` failed (``'each rank imports automl_mm's modules on
            its own node: give every node the same installed packages'``); where ``read()`` failed it is to give
            every node the same config file.
        checks_what: The step named where ``checks`` failed (``"tools/train.py: importing automl_mm's modules"``);
            ``what`` where not given.

    Returns:
        What ``read()`` returned, on every rank, where no rank failed.

    Raises:
        Exception: ``read()``'s error, on the rank that raised it.
        RankFailure: on every other rank, naming the lowest rank that failed, its host and its error
            (``config file not found: <path>``).
        ValueError: a launcher variable that is not an integer (``WORLD_SIZE=two``), naming it
            (:func:`~automl_mm.engine.dist.env_int`); on every rank, a config's ``env_cfg.dist_cfg.port`` that the
            process group cannot start at (:func:`~automl_mm.engine.dist.check_config_port`: under torchrun and
            mpirun, which take none).
    """
    import datetime

    failure: Exception | None = None
    checking = checks is not None
    try:
        if checks is not None:
            checks()
        checking = False
        value = read()
    except Exception as err:  # noqa: BLE001 (agreed on, then raised on every rank)
        failure = err
    if launcher == 'none':
        if failure is not None:
            raise failure
        return value
    from torch.distributed.constants import default_pg_timeout

    from .dist import check_config_port, launcher_rendezvous
    from .rank_failures import RankFailure, keeping_own_failure

    timeout = default_pg_timeout
    seconds = ((value.get('env_cfg') or {}).get('dist_cfg') or {}).get('timeout') if failure is None else None
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0:
        timeout = datetime.timedelta(seconds=seconds)  # the run's own; a rank without its config: torch's default
    with keeping_own_failure(failure, what):
        found = launcher_rendezvous(launcher, timeout)
    if failure is None:
        try:  # a dist_cfg.port the process group cannot start at (torchrun, mpirun: torch takes no port)
            check_config_port(launcher, value)
        except ValueError as err:
            failure = err
    if found is None:  # not a distributed start this launcher's environment describes (or a world of one)
        if failure is not None:
            raise failure
        return value
    with keeping_own_failure(failure, what):
        store, rank, world_size = found
        _stores.append(store)
        base = f"{CONFIG_READ_KEY}/{os.environ.get('TORCHELASTIC_RUN_ID', '')}"
        prefix = f'{base}/{_group_token(store, rank, world_size, base, timeout)}'
        word = '' if failure is None else (f'{socket.gethostname()}\n{_failed_step(failure, checking)}\n'
                                           f'{type(failure).__name__}: {failure}')
        store.set(f'{prefix}/{rank}', word)
        keys = [f'{prefix}/{r}' for r in range(world_size)]
        store.wait(keys)
        words = [store.get(key).decode() for key in keys]
        # this rank's last request: rank 0, which serves the store outside torchrun's agent, goes on (and, where a
        # rank failed, exits) only once every other rank is done with it (else 'Connection reset by peer' there)
        store.set(f'{prefix}/read/{rank}', '1')
        if rank == 0:
            store.wait([f'{prefix}/read/{r}' for r in range(1, world_size)])
    if failure is not None:
        raise failure
    failed = [(r, *w.split('\n', 2)) for r, w in enumerate(words) if w]
    if not failed:
        return value
    origin, host, step, cause = failed[0]
    if step == 'checks':
        what, advice = checks_what or what, checks_advice
    elif step.startswith('custom_imports '):  # the config was read; a module it imports was not there
        module = step.split(' ', 1)[1]
        tool = what.rpartition(': ')[0]
        what = f"{tool}{': ' if tool else ''}importing the config's custom_imports module {module!r}"
        advice = ("each rank imports its config's custom_imports modules on its own node: give every node the module "
                  f'{module} on its PYTHONPATH and the packages it imports')
    else:
        advice = ('each rank reads the config from its own node: give every node the same config file at the same '
                  'path, or a path on a file system they share')
    raise RankFailure(f'{what} failed on rank {origin} (on {host}: {cause}); every rank stops here ({advice})', origin,
                      cause)


def _failed_step(failure: BaseException, checking: bool) -> str:
    """Which step of :func:`reading_config_together` ``failure`` stopped: ``'checks'``, ``'custom_imports
    <module>'`` (a ``custom_imports`` module of the config that failed to import: :func:`~automl_mm.engine.
    custom_imports.failed_custom_module`, or raised another error while imported: :func:`~automl_mm.engine.
    custom_imports.importing_custom_module`) or ``'read'``."""
    from .custom_imports import failed_custom_module, importing_custom_module

    if checking:
        return 'checks'
    module = failed_custom_module(failure) or importing_custom_module(failure)
    return f'custom_imports {module}' if module and ' ' not in module and '\n' not in module else 'read'


def _group_token(store: Any, rank: int, world_size: int, base: str, timeout: Any) -> str:
    """A token rank 0 of this worker group draws and gives every other rank through ``store``, which no rank of an
    earlier group had: the key of :func:`reading_config_together`'s words (``<base>/<token>/<rank>``).

    torchrun's agent store outlives its worker groups (its rendezvous shares one server over its rounds), and
    ``TORCHELASTIC_RESTART_COUNT`` counts only the restarts a node's own worker caused (torch issue 108158): after one
    node's worker failed, the ranks of the others read a lower count, found the earlier group's words under it and
    went on, while the ranks of that node waited for words under theirs until ``timeout``. Here each rank ``i > 0``
    writes a fresh nonce under ``<base>/hello/<i>``; rank 0 answers each nonce it finds there with
    ``<nonce>\\n<token>`` under ``<base>/token/<i>`` (an earlier group's nonce gets an answer no rank takes) until that
    rank's word is under the token; a rank takes only the answer to its own nonce. The store is polled (every 20 ms,
    at the start of a distributed run only).

    Raises:
        TimeoutError: a rank did not reach the store within ``timeout`` (a ``datetime.timedelta``), naming it.
    """
    import time
    import uuid

    deadline = time.monotonic() + timeout.total_seconds()
    if rank == 0:
        token = uuid.uuid4().hex
        answered: dict[int, bytes] = {}
        waiting = list(range(1, world_size))
        while waiting:
            for other in list(waiting):
                if store.check([f'{base}/{token}/{other}']):  # its word is in: it took the token
                    waiting.remove(other)
                elif store.check([f'{base}/hello/{other}']):
                    nonce = store.get(f'{base}/hello/{other}')
                    if answered.get(other) != nonce:
                        store.set(f'{base}/token/{other}', nonce + b'\n' + token.encode())
                        answered[other] = nonce
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f'ranks {waiting} of {world_size} did not reach the rendezvous store within '
                                   f'{timeout} (to agree on the reading of the config file)')
            if waiting:
                time.sleep(0.02)
        return token
    nonce = uuid.uuid4().hex.encode()
    store.set(f'{base}/hello/{rank}', nonce)
    while True:
        if store.check([f'{base}/token/{rank}']):
            given, _, token = store.get(f'{base}/token/{rank}').partition(b'\n')
            if given == nonce:
                return token.decode()
        if time.monotonic() > deadline:
            raise TimeoutError(f'rank 0 of {world_size} did not answer rank {rank} in the rendezvous store within '
                               f'{timeout} (to agree on the reading of the config file)')
        time.sleep(0.02)
