"""The start of a :class:`~automl_mm.ohl.copies.CopyRunner` over torch.distributed, where one rank may fail alone:
the copies' process groups (:func:`_new_copy_groups`, created unconnected under gloo by :func:`_connecting_later`)
and the runner's agreements on a failure between mmengine's start-up collectives (:class:`CopyStartAgreements`), so
that every rank stops at once, naming the rank that failed and its error, where the others waited in a collective
until the process group's timeout.
"""
from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch.distributed as torch_dist
from mmengine.dist import is_distributed


def _new_copy_groups(num_copies: int, ranks_per_copy: int, rank: int, timeout: datetime.timedelta | None) -> Any:
    """Create every copy's process group (``torch.distributed.new_group``, every rank each group in the same order)
    and return this rank's; in a distributed run, agree on a failure over the world
    (:func:`~automl_mm.engine.rank_failures.agree_on_failure`: one all-reduce), then connect each copy's group
    (:func:`_connect_copy_group`: its first collectives) and agree on that too.

    ``new_group`` has no collective of its own over the world: where one copy's group could not be created (gloo's
    connection of its ranks failed, NCCL refused it), that copy's ranks raised while the other copies' went on into
    the world's next collective (the gather of the ranks' nodes, mmengine's start-up) and stopped with gloo's bare
    'Connection closed by peer' (NCCL: waited until ``env_cfg.dist_cfg.timeout``), naming nothing.

    Under gloo the groups are created unconnected (:func:`_connecting_later`), so that no rank waits inside
    ``new_group`` for another: a rank that raised alone in ``new_group`` of its own copy's group, or between two calls
    (building the next rank list), left its copy's other ranks in the group's connection until the group's timeout,
    which then raised a bare 'Timed out waiting ... for recv operation', and every other rank in the agreement until
    then. The connection is made right after the agreement, by every rank at once, and agreed on: where a copy's
    ranks cannot connect, every other rank is told. A connection that fails on one rank of a copy alone (before it
    reached its peers) is not: it leaves that copy's other ranks in it until the group's timeout, or 5 x it on the
    side of a gloo pair that waits for the failing rank to connect (gloo releases them no sooner, not even on an
    ``abort()`` of the group, in torch 2.14), while the world's agreement after it, which the other ranks entered at
    once, times out first: they raise the backend's bare timeout, the failing rank and its copy's others
    ``'...: connecting them: the ranks could not agree on a failure (...)'`` with each one's own error (4 gloo ranks
    in 2 copies, 6 s timeouts, torch 2.14).

    Raises:
        Exception: ``new_group``'s error, on the rank that raised it.
        RankFailure: on every other rank, naming the lowest rank that failed and its error.
    """
    from automl_mm.engine.rank_failures import agree_on_failure

    what = (f"CopyRunner: creating the copies' process groups (num_copies={num_copies} x "
            f'ranks_per_copy={ranks_per_copy})')
    group, failure = None, None
    try:
        with _connecting_later():
            for c in range(num_copies):  # every rank creates every group, in the same order
                ranks = list(range(c * ranks_per_copy, (c + 1) * ranks_per_copy))
                new = torch_dist.new_group(ranks, timeout=timeout)
                if rank in ranks:
                    group = new
    except Exception as err:  # noqa: BLE001 (agreed on, then raised on every rank)
        if not is_distributed():
            raise
        failure = err
    if not is_distributed():
        return group
    agree_on_failure(failure, what)
    try:  # every rank of every copy is here: its group's connection waits for no rank that failed
        _connect_copy_group(group)
    except Exception as err:  # noqa: BLE001 (agreed on, then raised on every rank)
        failure = err
    agree_on_failure(failure, f'{what}: connecting them')
    return group


def _connect_copy_group(group: Any) -> None:
    """Connect this rank's copy group (every rank of the copy must call it): one all-reduce over it (NCCL creates its
    communicator at its first collective), and where the group runs gloo one all-to-all, which connects every pair of
    its ranks. The all-reduce alone, a ring, connected each rank with its two neighbours only: with 4 ranks a copy,
    ranks 0 and 2 first met in a later collective (DDP's broadcast at the first training step), where a hung peer
    held the other in gloo's lazy connection for 5 x the group's timeout ('Connect timeout'), not the timeout.

    Raises:
        RuntimeError: the backend's, where a rank of the copy died or did not come within the group's timeout.
    """
    import torch

    from automl_mm.engine import rank_failures

    rank_failures.any_rank_failed(None, group)
    if 'gloo' in str(torch_dist.get_backend(group)):  # 'gloo', or 'cpu:gloo,cuda:nccl': CPU tensors go to gloo
        size = torch_dist.get_world_size(group)
        torch_dist.all_to_all_single(torch.zeros(size), torch.zeros(size), group=group)


def release_copy_mates(layout: Any) -> None:
    """Close this rank's connections of its copy's gloo group (``layout.group``), where this rank failed inside a
    block of its copy's collectives that it will not finish and its run stops (:class:`~automl_mm.ohl.copies.
    CopyRunner`'s model build, before the world's agreement on it): a copy-mate waiting in a collective of the copy
    that this rank's own code skipped raises gloo's 'Connection closed by peer' at once.

    A model constructor may hold a collective over the world, which is its copy's inside the build
    (:func:`~automl_mm.ohl.copies.copy_local_collectives`): mmengine's ``load_from_http`` (an ``init_cfg``
    ``Pretrained`` or ``load_checkpoint`` of an ``https://`` checkpoint in ``__init__``) downloads on the copy's lead,
    then holds a barrier. A lead whose download failed went on to the world's agreement; its copy-mate waited in the
    barrier until the copy group's timeout, and every other rank in the agreement, which timed out first: two ranks
    of four named nothing but gloo's 'Timed out waiting 8000ms for recv operation', after the timeout. gloo releases
    a rank waiting for a peer only when the peer's connections close (the group's ``abort()`` / ``shutdown()`` do not
    close them, in torch 2.14): the group is destroyed here and the layout's (and the copy-local wrappers') reference
    to it dropped, so the last reference goes. Nothing under NCCL (its waits end at the group's timeout, or by its
    watchdog), nor without a copy group (one rank per copy), nor outside a distributed run. The layout is forgotten
    (:func:`~automl_mm.ohl.copies.reset_copy_layout`)."""
    group = None if layout is None else layout.group
    if group is None or not is_distributed() or 'gloo' not in str(torch_dist.get_backend(group)):
        return
    from . import copy_collectives
    from .copies import reset_copy_layout

    reset_copy_layout()
    copy_collectives._WRAPPERS = None  # they hold the layout
    object.__setattr__(layout, 'group', None)  # a frozen layout; the failing build's traceback holds it
    torch_dist.destroy_process_group(group)


#: torch's switch (``ProcessGroupGloo``, read when a group is created) that defers a gloo group's connection of its
#: ranks to its first collective.
GLOO_LAZY_INIT = 'TORCH_GLOO_LAZY_INIT'


@contextmanager
def _connecting_later() -> Iterator[None]:
    """Create the gloo process groups of the block unconnected (``TORCH_GLOO_LAZY_INIT=1``: each connects its ranks
    at its first collective; its value before is put back after). A group created connected made each of its ranks
    wait in ``new_group`` until every other rank of it arrived, or until the group's timeout. Other backends: NCCL
    connects a group at its first collective anyway (unless the default group is bound to a device).

    The switch is the process's environment while the block runs (a thread that reads the environment meanwhile sees
    it): torch 2.14 offers no narrower one for ``new_group``. Its ``pg_options`` never reach a gloo group
    (``distributed_c10d._create_gloo_process_group`` builds ``ProcessGroupGloo(store, rank, size,
    timeout=..., enable_reconfigure=...)`` and ignores its ``backend_options``), and that constructor's default
    device reads ``TORCH_GLOO_LAZY_INIT`` (``ProcessGroupGloo.create_default_device(lazy_init=None)``); the
    constructor that takes a lazy device (``ProcessGroupGloo(store, rank, size, ProcessGroupGloo._Options)`` with
    ``_devices=[create_default_device(lazy_init=True)]``) is reached only through a backend of one's own
    (``Backend.register_backend`` with the private ``_backend_type``), whose groups would be named and handled as
    another backend than gloo."""
    before = os.environ.get(GLOO_LAZY_INIT)
    os.environ[GLOO_LAZY_INIT] = '1'
    try:
        yield
    finally:
        if before is None:
            del os.environ[GLOO_LAZY_INIT]
        else:
            os.environ[GLOO_LAZY_INIT] = before


class CopyStartAgreements:
    """The agreements on a failure of :class:`~automl_mm.ohl.copies.CopyRunner`'s start (a mixin before mmengine's
    ``Runner``): :meth:`_agree_at` and the points where the next becomes pending (after mmengine's
    ``set_randomness`` and ``wrap_model``). ``_copy_counts`` (the OHL hook's, ``None`` without one) is the runner's."""

    #: ``(num_copies, ranks_per_copy)`` of the runner's OHL hook
    #: (:func:`~automl_mm.ohl.copy_counts.runner_copy_counts`), set by the runner before mmengine's ``__init__``
    _copy_counts: tuple[int, int] | None = None

    #: The next agreement on a failure (:meth:`_agree_at`) that every rank reaches without another collective first:
    #: ``'groups'`` (before the copies' process groups), ``'model'`` (after the model is built), ``'runner'`` (after
    #: the hooks: the end of ``__init__``); ``None`` where none is (before mmengine's start-up collectives are over,
    #: while the copies' groups are created, which agree on their own failures, inside a ``wrap_model`` that may start
    #: a DDP (not ``CopyDataParallel``), outside a distributed run with an OHL hook, and after ``__init__``: a later
    #: ``build_model``, which one rank's hook may call alone, holds no collective over the world).
    _pending_agreement: str | None = None

    _AGREEMENTS = {'groups': "CopyRunner: building the runner (before the copies' process groups)",
                   'model': 'CopyRunner: building the model',
                   'runner': "CopyRunner: building the runner (the model's wrapper, the hooks)"}

    def _agree_at(self, point: str | None, failure: Exception | None) -> None:
        """Agree on ``failure`` (this rank's, or ``None``) over the world at ``point`` where it is the pending
        agreement (:func:`~automl_mm.engine.rank_failures.agree_on_failure`: one all-reduce, then the next one is
        pending), else nothing.

        A rank whose runner start raised between mmengine's collectives and the copies' groups (its log folder, its
        logger, its visualizer), while building its model (a checkpoint of ``init_cfg`` missing on its node) or its
        hooks left the other ranks in ``new_group``'s connection, or in their next collective, until gloo's bare
        'Connection closed by peer' or ``env_cfg.dist_cfg.timeout``: every rank now stops at the next agreement,
        naming the rank that failed and its error.

        Raises:
            Exception: ``failure``, on the rank that holds it.
            RankFailure: on every other rank, naming the lowest rank that failed and its error.
        """
        if point is None or point != self._pending_agreement:
            return
        from automl_mm.engine.rank_failures import agree_on_failure

        self._pending_agreement = None  # the next is set where the ranks reach it without another collective
        agree_on_failure(failure, self._AGREEMENTS[point])

    def set_randomness(self, *args, **kwargs) -> None:
        """mmengine's ``set_randomness`` (its seed's broadcast is the start-up's last collective before the model is
        built): from here to the copies' groups, a rank that raises is agreed on (:meth:`_agree_at`)."""
        super().set_randomness(*args, **kwargs)
        if self._copy_counts is not None and is_distributed():
            self._pending_agreement = 'groups'

    def wrap_model(self, model_wrapper_cfg: dict | None, model: Any) -> Any:
        """mmengine's ``wrap_model`` (a DDP wrapper's start is collective); after it, until the end of ``__init__``,
        a rank that raises is agreed on (:meth:`_agree_at`). With ``CopyDataParallel`` (whose start holds no
        collective: its DDP starts at the first training step) from its start: a rank whose ``wrap_model`` raised
        alone (its model's move to the device: ``CUDA error: out of memory``) left the others in the agreement at the
        end of ``__init__`` until gloo's bare 'Connection closed by peer' or ``env_cfg.dist_cfg.timeout``."""
        if self._copy_counts is not None and is_distributed() and _starts_no_collective(model_wrapper_cfg):
            self._pending_agreement = 'runner'
        model = super().wrap_model(model_wrapper_cfg, model)
        if self._copy_counts is not None and is_distributed():
            self._pending_agreement = 'runner'
        return model


def _starts_no_collective(model_wrapper_cfg: Any) -> bool:
    """Whether the model wrapper of ``model_wrapper_cfg`` (``model_wrapper_cfg`` of a config; ``None``: mmengine's
    ``MMDistributedDataParallel``) is :class:`~automl_mm.ohl.copies.CopyDataParallel` or a subclass, whose start
    holds no collective over the world (a DDP's, an FSDP's and ``MMSeparateDistributedDataParallel``'s do)."""
    from automl_mm.registry import MODEL_WRAPPERS, config_class

    from .copies import CopyDataParallel  # copies imports this module

    cls = config_class(MODEL_WRAPPERS, model_wrapper_cfg)
    return isinstance(cls, type) and issubclass(cls, CopyDataParallel)
