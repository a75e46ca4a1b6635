"""Collectives of an OHL copy's own ranks.

Copy-local collectives: inside an OHL copy's training step, ``torch.distributed`` calls on the world (no
``group``, ``group.WORLD``, mmengine's ``mmengine.dist`` helpers, functions other modules bound at import) act on
the copy's ranks only (:func:`copy_local_collectives`; :class:`~automl_mm.ohl.copies.CopyDataParallel` runs each
step in it). Split from :mod:`automl_mm.ohl.copies`, which re-exports :func:`copy_local_collectives` and
:data:`COPY_LOCAL_CALLS`.

The reward reading of a copy at a trunk end (:func:`read_copy_reward`): its ranks agree that the copy is valid
(:func:`copy_all_valid`) and, in a copy of several ranks, read the reward split sharded with the lead's buffers
(:func:`read_with_lead_buffers`). Split from :mod:`automl_mm.ohl.hook` and :mod:`automl_mm.ohl.reward`, which
re-exports :func:`copy_all_valid`.
"""
from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed

from automl_mm.engine.rank_failures import keeping_own_failure, raise_agreed_failure, stopping_together

if TYPE_CHECKING:
    from .copies import CopyLayout


def _own(output: Any, value: Any) -> None:
    """``output`` (a tensor) set to ``value`` in its shape: a gather or reduce-scatter over one rank."""
    output.copy_(value.reshape(output.shape))


def _first(items: Any, value: Any) -> None:
    """``items[0]`` set to ``value`` (a tensor copied in place, an object assigned); nothing where ``items`` is
    ``None`` (a gather's list on a rank that is not its destination)."""
    if items is None:
        return
    if isinstance(items[0], torch.Tensor):
        if len(items) != 1:  # torch refuses a list of another length than the group's ranks
            raise ValueError(f'a collective without a group got a list of {len(items)} tensors inside an OHL copy '
                             "of one rank: torch.distributed.get_world_size() is the copy's, 1, there (size the list "
                             'by it, not by the world of every copy)')
        items[0].copy_(value)
    else:
        items[0] = value


#: torch.distributed's functions that :func:`copy_local_collectives` points at the copy's ranks when they are called
#: without a ``group``, each with what it does over a copy of one rank (its own values: a reduction, broadcast or
#: barrier over one rank leaves everything as it is; a gather, scatter or exchange hands the rank its own input).
_ONE_RANK: dict[str, Any] = {
    'all_reduce': None, 'broadcast': None, 'reduce': None, 'barrier': None, 'monitored_barrier': None,
    'all_reduce_coalesced': None, 'broadcast_object_list': None,
    'all_gather': lambda c: _first(c['tensor_list'], c['tensor']),
    'all_gather_into_tensor': lambda c: _own(c['output_tensor'], c['input_tensor']),
    '_all_gather_base': lambda c: _own(c['output_tensor'], c['input_tensor']),
    'reduce_scatter_tensor': lambda c: _own(c['output'], c['input']),
    '_reduce_scatter_base': lambda c: _own(c['output'], c['input']),
    'reduce_scatter': lambda c: _own(c['output'], c['input_list'][0]),
    'all_to_all_single': lambda c: _own(c['output'], c['input']),
    'all_to_all': lambda c: _first(c['output_tensor_list'], c['input_tensor_list'][0]),
    'gather': lambda c: _first(c.get('gather_list'), c['tensor']),
    'scatter': lambda c: c.get('scatter_list') and _own(c['tensor'], c['scatter_list'][0]),
    'all_gather_object': lambda c: _first(c['object_list'], c['obj']),
    'gather_object': lambda c: _first(c.get('object_gather_list'), c['obj']),
    'scatter_object_list': lambda c: c.get('scatter_object_input_list') and _first(
        c['scatter_object_output_list'], c['scatter_object_input_list'][0]),
}
COPY_LOCAL_CALLS = ('get_world_size', 'get_rank', *_ONE_RANK)


class _Done:
    """The handle of an ``async_op=True`` collective over a copy of one rank: already complete."""

    def wait(self, timeout: Any = None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True


@functools.cache
def _signature(function: Any) -> inspect.Signature:
    """``inspect.signature`` of a ``torch.distributed`` function, once (every training step wraps them)."""
    return inspect.signature(function)


#: The layout whose :func:`copy_local_collectives` block is running (``None``: none is). A wrapper called while
#: another layout or none is active acts as the function it wraps: a module that bound one at import inside a
#: copy's step (``from torch.distributed import all_reduce``) reaches the world again once the step is over.
_ACTIVE: CopyLayout | None = None


def _is_world(group: Any) -> bool:
    """Whether ``group`` names the default group, the world: ``None``, ``torch.distributed.group.WORLD`` (the
    default group itself, which mmengine's ``mmengine.dist`` functions pass for ``group=None``)."""
    return group is None or group is torch_dist.GroupMember.WORLD


def _copy_local(name: str, original: Any, layout: CopyLayout) -> Any:
    """``original`` (``torch.distributed.<name>``) with the world, its default group (``None`` or ``group.WORLD``),
    replaced by ``layout``'s copy while ``layout``'s block is active (see :func:`copy_local_collectives`); a call
    that names another group, or any call outside the block, is passed on unchanged."""
    signature = _signature(original)

    def copy_local(*args, **kwargs) -> Any:
        if _ACTIVE is not layout:  # bound inside a step, called after it: the world's function
            return original(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        call = bound.arguments
        if not _is_world(call.get('group')):
            return original(*args, **kwargs)
        if name in ('get_world_size', 'get_rank'):
            return layout.ranks_per_copy if name == 'get_world_size' else layout.rank_in_copy
        for end in ('src', 'dst'):  # a rank of the world the caller saw: the copy's
            if call.get(end) is not None:
                call[end] = layout.lead_rank(layout.copy_id) + int(call[end])
        if layout.ranks_per_copy == 1:  # a collective over one rank: the rank's own values
            if _ONE_RANK[name] is not None:
                _ONE_RANK[name](call)
            return _Done() if call.get('async_op') else None
        call['group'] = layout.group
        return original(*bound.args, **bound.kwargs)
    functools.update_wrapper(copy_local, original)  # name, doc and signature of the function it stands for
    copy_local.copy_local_original = original
    return copy_local


#: ``(the functions wrapped, the layout they hold, {name: wrapper})`` of the latest layout, or ``None``: the wrappers
#: are built once per layout (and again only where the functions changed: a test's or another library's replacement);
#: each step used to build ~20 afresh. Only the latest layout's are kept: a dict per layout held every run's layout,
#: and with it its process group, for the life of the process (tests, notebooks, several runs in one process).
_WRAPPERS: tuple[dict[str, Any], CopyLayout, dict[str, Any]] | None = None


def _wrappers(originals: dict[str, Any], layout: CopyLayout) -> tuple[CopyLayout, dict[str, Any]]:
    """``{name: copy-local wrapper of originals[name]}`` for ``layout``, kept for the latest layout only (a new layout
    replaces them), with the layout object they hold (the block makes that one active: an equal layout built anew,
    e.g. by :func:`temporary_copy_layout`, is not the same object)."""
    global _WRAPPERS
    cached = _WRAPPERS
    if cached is None or cached[1] != layout or cached[0] != originals:
        cached = _WRAPPERS = (originals, layout, {name: _copy_local(name, f, layout) for name, f in originals.items()})
    return cached[1], cached[2]


class _ImportBindings:
    """Where modules outside torch hold ``torch.distributed``'s functions under their own names
    (``from torch.distributed import all_reduce, get_world_size``), found by identity in every module of
    ``sys.modules`` but torch's own (``torch.distributed`` itself is patched by name, and its internals translate
    ranks with the world's ``get_rank``). Modules are scanned once each: again only when ``sys.modules`` grew, or
    when the functions looked for changed (a test's or another library's replacement)."""

    def __init__(self) -> None:
        self.originals: dict[str, Any] = {}
        self.seen: set[str] = set()
        self.found: list[tuple[dict, str, str]] = []  # (module namespace, attribute, torch.distributed name)
        self.size = -1

    def __call__(self, originals: dict[str, Any]) -> list[tuple[dict, str, str]]:
        if originals != self.originals:
            self.__init__()
            self.originals = originals
        if len(sys.modules) != self.size:
            targets = {id(f): name for name, f in originals.items()}
            for module_name, module in list(sys.modules.items()):
                if module_name in self.seen:
                    continue
                self.seen.add(module_name)
                if module_name == 'torch' or module_name.startswith('torch.') or module_name == __name__:
                    continue
                try:  # sys.modules may hold objects of any kind (lazy modules, proxies)
                    namespace = getattr(module, '__dict__', None)
                    items = list(namespace.items()) if isinstance(namespace, dict) else []
                except Exception:  # noqa: BLE001 (a module that cannot be read holds nothing to point at the copy)
                    continue
                for attr, value in items:
                    if id(value) in targets and originals[targets[id(value)]] is value:
                        self.found.append((namespace, attr, targets[id(value)]))
            self.size = len(sys.modules)
        return self.found


_import_bindings = _ImportBindings()


@contextmanager
def copy_local_collectives(layout: CopyLayout | None) -> Iterator[None]:
    """While the block runs, ``torch.distributed``'s ``get_world_size``, ``get_rank`` and collectives (``all_reduce``,
    ``all_gather``, ``broadcast``, ``reduce``, ``all_gather_into_tensor``, ``reduce_scatter(_tensor)``, ``gather``,
    ``scatter``, ``all_to_all(_single)``, ``barrier``, the ``*_object`` ones: :data:`COPY_LOCAL_CALLS`) called
    on the world (no ``group``, or ``group.WORLD``) act on this copy's ranks only, as in a plain run of the copy
    (with one rank per copy they give the rank's own values without communicating).

    :class:`CopyDataParallel` runs each training step in it. A model's loss may reduce over the default group, the
    world: mmdet's ``reduce_mean`` (``mmdet.utils``) averages the positive count that normalises the losses of FCOS,
    ATSS, GFL, TOOD, VFNet, YOLOF, YOLOX, RTMDet, AutoAssign and the DETR heads, so every copy's loss was divided
    by the mean count of all copies (its gradients scaled by how many positives the other copies' images and samples
    gave), without a word; the other collectives, had they stayed the world's, would have mixed the copies while
    ``get_world_size`` already said the copy's. A ``src`` / ``dst`` is then a rank of the copy (0: its lead).

    The world is the copy wherever it is reached from: ``group=torch.distributed.group.WORLD`` named explicitly,
    mmengine's ``mmengine.dist`` functions (``all_reduce``, ``broadcast``, ``barrier``, ``get_world_size``,
    ``get_rank``, ``get_dist_info``..., which pass the default group, the world, explicitly: mmdet's
    ``BatchSyncRandomResize`` broadcast copy 0's input size to every copy, and a mean over ``mmengine.dist`` divided
    by every copy's count), torch's ``SyncBatchNorm`` without a ``process_group`` (it names ``group.WORLD``), and the
    functions a module outside torch bound at import (``from torch.distributed import all_reduce``: found by
    identity in ``sys.modules`` and pointed at the copy for the block). A function bound inside the block is the
    copy's only while a block of its layout runs, the world's after. Calls that name another group (DDP over the
    copy's group, ``SyncBatchNorm`` restricted to it, the OHL hook's exchanges between copies, which run outside
    the step) are unchanged.

    Args:
        layout: This process's copy layout; ``None``, one copy, or a run that is not distributed: nothing changes.
    """
    global _ACTIVE
    if layout is None or layout.num_copies == 1 or not is_distributed():
        yield
        return
    originals = {}
    for name in COPY_LOCAL_CALLS:
        if hasattr(torch_dist, name):  # a nested block finds the outer block's wrappers: wrap what they wrap
            current = getattr(torch_dist, name)
            originals[name] = getattr(current, 'copy_local_original', current)
    previous, patched, rebound = _ACTIVE, {}, []
    try:  # also the wrapping: one that raised left the functions before it pointing at the copy for good
        held, wrappers = _wrappers(originals, layout)
        for name, wrapper in wrappers.items():
            patched[name] = getattr(torch_dist, name)
            setattr(torch_dist, name, wrapper)
        for namespace, attr, name in _import_bindings(originals):
            value = namespace.get(attr)
            if getattr(value, 'copy_local_original', value) is originals[name]:  # not rebound since the scan
                rebound.append((namespace, attr, value))
                namespace[attr] = wrappers[name]
        _ACTIVE = held
        yield
    finally:
        _ACTIVE = previous
        for namespace, attr, original in rebound:
            namespace[attr] = original
        for name, before in patched.items():
            setattr(torch_dist, name, before)


def copy_all_valid(valid: bool, group: Any, failure: BaseException | None = None, what: str = '') -> bool:
    """Whether every rank of a copy's process group ``group`` holds a valid copy
    (:func:`~automl_mm.ohl.reward.copy_is_valid`; one all-reduce of the minimum over ``group``): its ranks must agree
    before they read the reward split together, since the reading is collective. A copy is valid only if all its
    ranks are (:func:`~automl_mm.ohl.reward.combine_copy_rows`), so an invalid one is not read (its lead used to read
    it alone, for a reward that was replaced).

    The same all-reduce carries whether a rank's ``failure`` is set (its validity could not be told): then every rank
    of ``group`` raises (:func:`~automl_mm.engine.rank_failures.raise_agreed_failure`, naming ``what``) instead of
    the others going on into the reading without it. Where the all-reduce itself fails (a rank of the copy died) on a
    rank whose ``failure`` is set, its error keeps that failure (:func:`~automl_mm.engine.rank_failures.
    keeping_own_failure`), not the backend's alone.
    """
    from mmengine.dist import all_reduce

    what = what or 'an OHL copy\'s validity'
    flag = torch.tensor([1 if valid and failure is None else 0, 1 if failure is None else 0], dtype=torch.int32)
    with keeping_own_failure(failure, what):  # a peer that died: this rank's own error is kept in the message
        all_reduce(flag, op='min', group=group)
    if not flag[1].item():
        raise_agreed_failure(failure, what, group)
    return bool(flag[0].item())


def read_with_lead_buffers(model: torch.nn.Module, group: Any, read: Callable[[], Any],
                           recalibrate: Callable[[], Any] | None = None, what: str = 'the reward reading') -> Any:
    """``read()`` on every rank of a copy's process group ``group`` (its first rank the copy's lead) with the lead's
    buffers, each rank's own put back after (also after an error: training goes on with them).

    The lead first runs ``recalibrate`` (a BN re-estimation on the clean batches, which it alone holds) where given,
    then every rank takes the lead's buffers (one broadcast within ``group``): the ranks train in step under DDP,
    which keeps the parameters equal but, with ``broadcast_buffers=False``, the BatchNorm statistics of each rank's
    own shard. Every rank of ``group`` must call it (:meth:`~automl_mm.ohl.reward.RewardScorer.score`). A
    ``recalibrate`` that raises on the lead stops every rank of ``group`` before the broadcast, naming the lead and
    its error (:func:`~automl_mm.engine.rank_failures.stopping_together`; the others used to wait in the broadcast
    until the process group's timeout).

    Returns:
        What ``read`` returned on this rank.
    """
    from automl_mm.engine.bn_recalibration import kept_bn_statistics

    from .sync import broadcast_buffers_

    root = getattr(model, 'module', model)
    with kept_bn_statistics(model):
        with stopping_together(f'{what}: the BN re-estimation on the copy\'s lead', group,
                               enabled=recalibrate is not None):
            if recalibrate is not None and torch_dist.get_rank(group) == 0:
                recalibrate()
        broadcast_buffers_(root, torch_dist.get_global_rank(group, 0), group)
        return read()


def read_copy_reward(scorer: Any, model: torch.nn.Module, layout: CopyLayout, is_valid: Callable[[], bool],
                     what: str = 'the reward reading') -> tuple[float, bool, bool]:
    """``(reward, no metrics, valid)`` of this rank's copy at a trunk end: a copy of several ranks (``layout.group``)
    reads only when ``is_valid()`` is true on every rank of it (:func:`copy_all_valid`), and then its ranks read the
    reward split together, each its block of batches (``scorer``: a :class:`~automl_mm.ohl.reward.RewardScorer`);
    the lead gets the reward, the other ranks ``nan`` (as does a copy that was not read). A reading that is not
    finite makes the copy invalid. Every rank of the copy must call it; one whose ``is_valid`` or reading raises
    stops every rank of the copy at the copy's next collective, naming it (``what`` in the message); the hook agrees
    on failures across copies after it (:func:`~automl_mm.engine.rank_failures.agree_on_failure`)."""
    reward, empty, failure, valid = float('nan'), False, None, False
    try:
        valid = bool(is_valid())
    except Exception as err:  # noqa: BLE001 (agreed on within the copy, then raised on its every rank)
        failure = err
    if layout.group is not None:  # a copy of several ranks reads only when every rank of it is valid
        valid = copy_all_valid(valid, layout.group, failure, f'{what}: checking the copy is valid')
    elif failure is not None:
        raise failure
    if valid:
        # every rank of the copy reads its block of the reward split; the lead gets the reward (the others None)
        scored = scorer.score(model) if layout.group is None else scorer.score(model, layout.group)
        if scored is not None:  # an empty copy is named after the gather (every rank)
            reward, empty = scored
            valid = math.isfinite(reward)
    return reward, empty, valid
