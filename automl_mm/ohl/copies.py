"""Model copies over torch.distributed, in one place: the rank layout, the runner that creates it, the lookup of
the OHL hook in a config, a copy-local sampler and a copy-local DDP wrapper.

World size = ``num_copies`` x ``ranks_per_copy``. Ranks ``c * ranks_per_copy ... (c + 1) * ranks_per_copy - 1``
hold copy ``c``; the first of them is the copy's *lead* rank. Gradients are synchronised only inside a copy
(DDP over the copy's process group); copies exchange rewards and states only at trunk ends (``OHLHook``).

The layout is created once per run, at run start, by :class:`CopyRunner` from its ``OHLHook``'s ``num_copies`` and
``ranks_per_copy``: mmengine's ``Runner.__init__`` initialises torch.distributed, builds and wraps the model (where
``CopyDataParallel`` defers its DDP to the first training step) and builds the hooks; ``Runner.train()`` builds the
train dataloader (where ``CopySampler`` reads the layout) afterwards. ``CopyRunner`` creates the layout between the
two, on every rank in the same order: when it builds the model (from its OHL hook's config, so that the model is
built as in a plain run of its copy), else (not distributed, or counts the hook's own checks refuse) after the
hooks. ``configs/_base_/ohl_copies.py`` sets ``runner_type``, the sampler, the wrapper and the process-group settings
for every OHL config. The copies' process groups and the runner's agreements on a rank's failure at its start are in
:mod:`.copy_groups`; the OHL hook's lookup in a config and its copy counts' checks in :mod:`.copy_counts`; the sampler
in :mod:`.copy_sampler` (each name that moved out of this module to the three is re-exported here).
"""
from __future__ import annotations

import datetime
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.dist import all_gather_object, get_dist_info, is_distributed
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import Runner

from automl_mm.registry import MODEL_WRAPPERS, RUNNERS

from .copy_collectives import copy_local_collectives
from .copy_counts import (  # noqa: F401 (the OHL hook's lookup and the counts' checks: copy_counts.py; also named here)
    _RUNNER_SIGNATURE,
    _hook_class,
    check_copy_counts,
    check_world_size,
    find_ohl_hook,
    ohl_copy_counts,
    runner_copy_counts,
)
from .copy_groups import (  # noqa: F401
    GLOO_LAZY_INIT,
    CopyStartAgreements,
    _connecting_later,
    _new_copy_groups,
    release_copy_mates,
)


@dataclass(frozen=True)
class CopyLayout:
    """Where this process sits among the copies; frozen and hashable (by its counts, rank and group), so that
    :func:`copy_local_collectives` builds its wrappers once per layout, not at every training step."""

    num_copies: int
    ranks_per_copy: int
    rank: int
    world_size: int
    group: Any = field(default=None, repr=False)  # this copy's process group (None with one rank per copy)

    @property
    def copy_id(self) -> int:
        return self.rank // self.ranks_per_copy

    @property
    def rank_in_copy(self) -> int:
        return self.rank % self.ranks_per_copy

    def lead_rank(self, copy_id: int) -> int:
        return copy_id * self.ranks_per_copy

    @property
    def is_lead(self) -> bool:
        return self.rank_in_copy == 0


_LAYOUT: CopyLayout | None = None
#: The default process group (``torch.distributed.GroupMember.WORLD``, ``None`` outside torch.distributed) that
#: ``_LAYOUT``'s groups were created in: a layout is reused only in the same one.
_LAYOUT_WORLD: Any = None
#: The layout a :class:`CopyRunner` created for its ``OHLHook``, whose start checks (``check_copy_shards``) judge the
#: ``CopySampler`` built on it: such a sampler does not warn of unchecked shards when iterated before them (mmengine's
#: ``IterBasedTrainLoop`` starts its loader's workers, which draw from the sampler, when the loop is built)
_HOOKED_LAYOUT: CopyLayout | None = None
_NO_RUNNER = ("runner_type='automl_mm.CopyRunner' and an OHLHook in custom_hooks (inherit "
              'configs/_base_/ohl_copies.py)')


def init_copy_layout(num_copies: int, ranks_per_copy: int = 1,
                     timeout: float | datetime.timedelta | None = None) -> CopyLayout:
    """Check the world size against the copy configuration and create the per-copy process groups.

    ``timeout`` (seconds, as ``env_cfg.dist_cfg.timeout``, or a ``timedelta``) is each copy group's collective
    timeout; :class:`CopyRunner` passes the config's ``env_cfg.dist_cfg.timeout``, the world's. ``None``: torch's
    default for the backend (``torch.distributed.new_group``'s; 30 minutes under gloo), which a copy group got
    whatever the config said: a copy whose rank crashed or stopped left its other ranks waiting in the copy's DDP
    all-reduce for 30 minutes under ``dist_cfg=dict(timeout=300)``.

    Must be called by every rank, in the same order (``dist.new_group`` is collective); :class:`CopyRunner` does.
    Calling it again with the same arguments in the same default process group returns the existing layout; after
    the default group was destroyed and created again (a second runner in one process: tests, notebooks) the layout
    and its groups are created anew (the old groups were destroyed with it; a second run that used them failed).

    With several copies of several ranks it also gathers every rank's node (:func:`node_of_ranks`) and warns,
    naming ``ranks_per_copy``, when a copy trains across nodes that also hold another copy
    (:func:`copies_split_across_nodes`).

    Raises:
        ValueError: ``num_copies`` or ``ranks_per_copy`` is not positive, or the world size is not their product.
        TypeError: ``timeout`` is neither a number of seconds nor a ``timedelta`` (names ``env_cfg.dist_cfg.timeout``).
    """
    global _LAYOUT, _LAYOUT_WORLD
    check_copy_counts(num_copies, ranks_per_copy)
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f'env_cfg.dist_cfg.timeout must be a number of seconds, got {timeout!r}')
        timeout = datetime.timedelta(seconds=timeout)
    rank, world_size = get_dist_info()
    world = torch_dist.GroupMember.WORLD if torch_dist.is_available() and torch_dist.is_initialized() else None
    if _LAYOUT is not None and _LAYOUT_WORLD is world and (
            _LAYOUT.num_copies, _LAYOUT.ranks_per_copy, _LAYOUT.rank, _LAYOUT.world_size) == (
            num_copies, ranks_per_copy, rank, world_size):
        return _LAYOUT
    check_world_size(world_size, num_copies, ranks_per_copy)
    group = None
    if ranks_per_copy > 1:
        group = _new_copy_groups(num_copies, ranks_per_copy, rank, timeout)
    _LAYOUT, _LAYOUT_WORLD = CopyLayout(num_copies, ranks_per_copy, rank, world_size, group), world
    if num_copies > 1 and ranks_per_copy > 1 and is_distributed():
        warn_copies_split_across_nodes(node_of_ranks(), ranks_per_copy)
    return _LAYOUT


def node_of_ranks() -> list[tuple[str, str]]:
    """Every rank's node, indexed by global rank: ``(host name, the launcher's node index)``, the index being
    torchrun's ``GROUP_RANK`` or srun's ``SLURM_NODEID`` ('' without either). Collective (one
    ``all_gather_object``): every rank must call it."""
    node = os.environ.get('GROUP_RANK', os.environ.get('SLURM_NODEID', ''))
    return all_gather_object((socket.gethostname(), node))


def copies_split_across_nodes(nodes: Sequence[Any], ranks_per_copy: int) -> dict[int, list[int]]:
    """The copies whose ranks sit on several nodes of which one also holds another copy's ranks.

    Args:
        nodes: Each global rank's node (any hashable label, e.g. :func:`node_of_ranks`' entries).
        ranks_per_copy: Ranks per copy (copy ``c`` is ranks ``c * ranks_per_copy ...``).

    Returns:
        ``{copy: [node indices]}``, nodes numbered in the order of their first rank. A copy spread over whole
        nodes of its own (16 ranks on two nodes of 8) is not split; nor is any copy inside one node.
    """
    index = {node: i for i, node in enumerate(dict.fromkeys(nodes))}
    copies_on: dict[int, set[int]] = {}
    nodes_of: dict[int, list[int]] = {}
    for rank, node in enumerate(nodes):
        copy_id, n = rank // ranks_per_copy, index[node]
        copies_on.setdefault(n, set()).add(copy_id)
        if n not in nodes_of.setdefault(copy_id, []):
            nodes_of[copy_id].append(n)
    return {c: ns for c, ns in nodes_of.items() if len(ns) > 1 and any(len(copies_on[n]) > 1 for n in ns)}


def warn_copies_split_across_nodes(nodes: Sequence[Any], ranks_per_copy: int) -> dict[int, list[int]]:
    """Warn (the main process logs it) where :func:`copies_split_across_nodes` finds copies; returns them.

    Such a copy's DDP all-reduce crosses the network at every step while the other copies' stays inside one
    node, and every copy waits for the slowest at each trunk end (the results are unchanged: a copy's process
    group, sampler and devices do not depend on where its ranks run). E.g. 3 copies of 2 ranks on 2 nodes of 3
    processes: copy 1 is ranks 2 (node 0) and 3 (node 1). Where a node holds ranks that are not consecutive (srun's
    cyclic distribution, ``SRUN_ARGS=--distribution=cyclic``: ranks 0, 2 on node 0 and 1, 3 on node 1) the counts
    per node may fit, and the warning names the placement and ``--distribution=block`` instead.
    """
    split = copies_split_across_nodes(nodes, ranks_per_copy)
    if not split:
        return split
    ranks_on: dict[Any, list[int]] = {}
    for rank, node in enumerate(nodes):
        ranks_on.setdefault(node, []).append(rank)
    where = '; '.join(f'copy {c} (ranks {c * ranks_per_copy}-{(c + 1) * ranks_per_copy - 1}) on nodes {ns}'
                      for c, ns in split.items())
    cost = ('sharing a node with another copy. Such a copy\'s gradient all-reduce crosses the network at every step '
            'while a copy inside one node does not, and every copy waits for the slowest at each trunk end (the '
            'results are unchanged)')
    if all(ranks == list(range(ranks[0], ranks[-1] + 1)) for ranks in ranks_on.values()):
        counts = [len(ranks) for ranks in ranks_on.values()]  # processes per node, in the order of their first ranks
        print_log(f'OHL copy layout: ranks_per_copy={ranks_per_copy} does not fit the processes per node '
                  f'{counts}: {where}, {cost}. Give every node a multiple of ranks_per_copy processes (or make '
                  'ranks_per_copy a multiple of the processes per node)', logger='current', level=logging.WARNING)
        return split
    held = '; '.join(f'node {i} holds ranks {ranks}' for i, ranks in enumerate(list(ranks_on.values())[:4]))
    print_log(f'OHL copy layout: the launcher placed ranks that are not consecutive on one node ({held}'
              f'{"; ..." if len(ranks_on) > 4 else ""}; a cyclic placement, e.g. srun --distribution=cyclic from '
              f'SRUN_ARGS or SLURM_DISTRIBUTION), so {where}, {cost}. Place consecutive ranks on one node: srun '
              '--distribution=block (tools/slurm_train.sh asks for it unless SRUN_ARGS names another), mpirun '
              '--map-by slot', logger='current', level=logging.WARNING)
    return split


def get_copy_layout() -> CopyLayout:
    """The layout created by :func:`init_copy_layout` (:class:`CopyRunner` creates it at run start).

    Raises:
        RuntimeError: no layout exists (the runner is not a ``CopyRunner`` or the config has no ``OHLHook``).
    """
    if _LAYOUT is None:
        raise RuntimeError(f'no OHL copy layout: CopySampler / CopyDataParallel need {_NO_RUNNER}')
    return _LAYOUT


def reset_copy_layout() -> None:
    """Forget the layout (tests, or a second run in the same process)."""
    global _LAYOUT, _LAYOUT_WORLD
    _LAYOUT = _LAYOUT_WORLD = None


def forget_process_groups() -> None:
    """Drop every module-level reference of automl_mm's OHL copies to a process group: the layout
    (:func:`reset_copy_layout`), the layout a :class:`CopyRunner` created for its hook, and the copy-local collective
    wrappers built on it (``copy_collectives._WRAPPERS``). Called after ``destroy_process_group`` at the end of a run
    (:func:`~automl_mm.engine.rank_start.leave_process_group`): a group held here outlived the run until interpreter
    shutdown, where its destruction could abort the process."""
    global _HOOKED_LAYOUT
    from . import copy_collectives

    reset_copy_layout()
    _HOOKED_LAYOUT = None
    copy_collectives._WRAPPERS = None


@contextmanager
def temporary_copy_layout(layout: CopyLayout) -> Iterator[CopyLayout]:
    """Make ``layout`` the current one (without process groups) while the block runs, then put the previous one
    back: the launching process's config check builds a train dataloader (``CopySampler``) as a worker would."""
    global _LAYOUT
    previous, _LAYOUT = _LAYOUT, layout
    try:
        yield layout
    finally:
        _LAYOUT = previous


@RUNNERS.register_module()
class CopyRunner(CopyStartAgreements, Runner):
    """mmengine ``Runner`` that creates the copy layout of its ``OHLHook`` at run start (see the module docstring) and
    builds the model inside its copy (:meth:`build_model`).

    Use it as ``runner_type='automl_mm.CopyRunner'`` (``configs/_base_/ohl_copies.py``); ``tools/train.py``,
    ``tools/test.py`` and mmdet's tools build it from ``runner_type``. Without an OHL hook (e.g. ``tools/test.py``,
    which drops it) it is a plain ``Runner``.

    Attributes:
        copy_layout: The :class:`CopyLayout` of this process, or ``None`` without an OHL hook.

    In a distributed run with an OHL hook, a rank whose start raises alone after mmengine's start-up collectives
    (its log folder or logger, its model, its model's wrapper, its hooks) or whose copy's process group cannot be
    created stops every rank there (:meth:`_agree_at`, :func:`init_copy_layout`): the other ranks raise a
    ``RankFailure`` naming it and its error, where they waited in ``new_group`` or their next collective until gloo's
    bare 'Connection closed by peer' or ``env_cfg.dist_cfg.timeout``.

    Raises:
        ValueError: the world size is not ``num_copies * ranks_per_copy`` (:func:`init_copy_layout`), or
            ``custom_hooks`` holds several OHL hooks.
        RankFailure: another rank's start failed (above), naming that rank and its error.
    """

    #: ``env_cfg.dist_cfg.timeout`` (seconds), kept by :meth:`setup_env` for the copies' process groups
    _dist_timeout: float | None = None

    def __init__(self, *args, **kwargs) -> None:
        self._copy_counts = runner_copy_counts(args, kwargs)
        try:
            super().__init__(*args, **kwargs)
            found = find_ohl_hook(self.hooks)
            self.copy_layout = None if found is None else init_copy_layout(
                found[1].num_copies, found[1].ranks_per_copy, self._dist_timeout)
            if self.copy_layout is not None:  # its OHLHook checks the CopySampler's shards at the start of training
                global _HOOKED_LAYOUT
                _HOOKED_LAYOUT = self.copy_layout
        except Exception as err:  # noqa: BLE001 (agreed on where the others wait for it, then raised)
            self._agree_at(self._pending_agreement, err)
            raise
        self._agree_at('runner', None)

    def setup_env(self, env_cfg: dict) -> None:
        """mmengine's ``setup_env``, keeping ``env_cfg.dist_cfg.timeout`` for the copies' process groups (the
        world's timeout: :func:`init_copy_layout`)."""
        self._dist_timeout = (env_cfg.get('dist_cfg') or {}).get('timeout')
        super().setup_env(env_cfg)

    def register_custom_hooks(self, hooks: list) -> None:
        """mmengine's ``register_custom_hooks``, each entry built at its config key
        (:func:`~automl_mm.utils.scope.building_at` ``custom_hooks[i]``): an ``OHLHook``'s refusals name
        ``custom_hooks[i].spaces[j]`` / ``custom_hooks[i].controller``, not ``OHLHook.spaces[j]``."""
        from automl_mm.utils.scope import building_at

        for i, hook in enumerate(hooks):
            with building_at(f'custom_hooks[{i}]'):
                self.register_hook(hook)

    def build_model(self, model: nn.Module | dict) -> nn.Module:
        """mmengine's ``build_model`` as in a plain run of one copy: with an OHL hook in a distributed run, the
        copy layout is created first (``Runner.__init__`` has started torch.distributed by now) and the model is
        built inside :func:`copy_local_collectives`, so that what a model reads of the world when it is built is its
        copy's. mmdet's ``BatchSyncRandomResize`` (YOLOX, RTMDet) keeps ``get_dist_info()``'s rank to decide who
        draws the next input size, which its training step broadcasts from rank 0 of the copy (a copy whose lead
        had a world rank other than 0 broadcast an empty tensor, a garbage size); RTMDet converts its BN layers to
        ``SyncBatchNorm`` when ``get_world_size() > 1``, i.e. only when a copy has several ranks.

        Inside ``__init__`` every rank then agrees on a failure of the build (:meth:`_agree_at`); a call after the
        start (a hook building a model on one rank) agrees on nothing and holds no collective over the world. A
        collective of the copy inside the build (mmengine's ``load_from_http``: the copy's lead downloads, then a
        barrier) that a rank's failure skipped does not hold its copy-mates until the group's timeout under gloo:
        the failing rank closes its copy group's connections first (:func:`~automl_mm.ohl.copy_groups.
        release_copy_mates`); under NCCL they wait for the group's timeout."""
        layout = None
        if self._copy_counts is not None and is_distributed():
            starting = self._pending_agreement == 'groups'  # in __init__; a later call (one rank's hook) agrees on none
            self._agree_at('groups', None)
            layout = init_copy_layout(*self._copy_counts, self._dist_timeout)  # agrees on its own failures
            if starting:
                self._pending_agreement = 'model'
        failure = None
        try:
            with copy_local_collectives(layout):
                built = super().build_model(model)
        except Exception as err:  # noqa: BLE001 (agreed on over the world, outside the copy's collectives)
            failure = err
            if self._pending_agreement == 'model':  # the run stops: a copy-mate waiting in a collective is let go
                release_copy_mates(layout)
        try:
            self._agree_at('model', failure)
        except Exception:
            if layout is not None:  # on every rank alike (a failing copy's ranks released their group): a later
                # runner in this process creates the copies' groups on every rank, not on that copy's alone
                from . import copy_collectives

                reset_copy_layout()
                copy_collectives._WRAPPERS = None  # they hold the layout
            raise
        if failure is not None:
            raise failure
        return built

    def scale_lr(self, optim_wrapper: Any, auto_scale_lr: dict | None = None) -> None:
        """mmengine's ``auto_scale_lr`` for one copy: the batch is ``ranks_per_copy x batch_size`` (the ranks that
        train a copy together), not ``world_size x batch_size``, since the copies train independently (mmengine's
        rule multiplied every copy's lr by ``num_copies``)."""
        if self.copy_layout is None:
            return super().scale_lr(optim_wrapper, auto_scale_lr)
        world_size = self._world_size
        self._world_size = self.copy_layout.ranks_per_copy
        try:
            super().scale_lr(optim_wrapper, auto_scale_lr)
        finally:
            self._world_size = world_size


@MODEL_WRAPPERS.register_module()
class CopyDataParallel(nn.Module):
    """Model wrapper for OHL: data parallel inside a copy, independent across copies.

    With one rank per copy it only delegates to the model (no gradient synchronisation at all); with several it
    runs mmengine's ``MMDistributedDataParallel`` over the copy's process group, created on the first training
    step (the layout exists by then). Use it as ``model_wrapper_cfg=dict(type='CopyDataParallel')``.

    Args:
        module: The model of this copy.
        broadcast_buffers: ``MMDistributedDataParallel``'s (default ``False``: buffers are not synchronised from
            the copy's first rank every step).
        find_unused_parameters: ``MMDistributedDataParallel``'s; ``True`` for a supernet that runs a subset of its
            parameters per step.
        **ddp_kwargs: Other ``MMDistributedDataParallel`` arguments, used when a copy has several ranks.
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = False, find_unused_parameters: bool = False,
                 **ddp_kwargs) -> None:
        super().__init__()
        self.module = module
        self._ddp_kwargs = dict(broadcast_buffers=broadcast_buffers, find_unused_parameters=find_unused_parameters,
                                **ddp_kwargs)
        self._ddp: MMDistributedDataParallel | None = None

    def _copy_ddp(self) -> MMDistributedDataParallel | None:
        if not is_distributed():
            return None
        layout = get_copy_layout()
        if layout.ranks_per_copy == 1:
            return None
        if self._ddp is None:
            device_ids = [torch.cuda.current_device()] if next(self.module.parameters()).is_cuda else None
            ddp = MMDistributedDataParallel(self.module, process_group=layout.group, device_ids=device_ids,
                                            **self._ddp_kwargs)
            object.__setattr__(self, '_ddp', ddp)  # not a submodule: state_dict keys stay 'module.*'
        return self._ddp

    def train(self, mode: bool = True) -> CopyDataParallel:
        super().train(mode)
        if self._ddp is not None:
            self._ddp.train(mode)
        return self

    def train_step(self, data: Any, optim_wrapper: Any) -> dict:
        """The model's (or, with several ranks per copy, its DDP's) training step, in which ``torch.distributed``'s
        calls on the world (no group, ``group.WORLD``, ``mmengine.dist``) reach this copy's ranks only
        (:func:`copy_local_collectives`)."""
        ddp = self._copy_ddp()
        with copy_local_collectives(get_copy_layout() if is_distributed() else None):
            return self.module.train_step(data, optim_wrapper) if ddp is None else ddp.train_step(data, optim_wrapper)

    def val_step(self, data: Any) -> list:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> list:
        return self.module.test_step(data)

    def forward(self, *args, **kwargs) -> Any:
        return self.module(*args, **kwargs)


# the copy-local sampler reads get_copy_layout (above): imported once this module's names exist
from .copy_sampler import CopySampler, check_equal_shards, copy_share  # noqa: E402, F401 (also named here)
