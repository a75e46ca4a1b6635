"""The broadcast of the OHL trunk end: gather each copy's applied values, give every rank the best copy's training
state.

After the controller step (METHODS.md §1, step 6) every copy takes the best copy's model (with its modules' plain
training state, :func:`training_attributes`), optimiser, schedulers and EMA model (step 7;
:func:`broadcast_copy_state`) and the values the best copy's spaces applied at ``model.`` paths
(:func:`adopt_model_values`). That the ranks then agree is checked apart: the weight fingerprint is
:mod:`automl_mm.ohl.fingerprint`'s, the rows' layout and :func:`~automl_mm.ohl.copy_verification.verify_copies`
:mod:`automl_mm.ohl.copy_verification`'s (both re-exported here, where they lived).
"""
from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import torch
import torch.nn as nn
from mmengine.dist import (
    all_gather_object,
    broadcast,
    broadcast_object_list,
    get_comm_device,
    get_rank,
    is_distributed,
)
from mmengine.hooks import EMAHook
from mmengine.model import is_model_wrapper
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from automl_mm.engine.rank_failures import stopping_together

from .attributes import set_attribute
from .copy_verification import (  # noqa: F401  (re-exported: they lived here)
    ROW_LAYOUT_VERSION,
    check_row_layouts,
    gather_rows,
    row_layouts_differ,
    same,
    verify_copies,
)
from .fingerprint import FINGERPRINT_SIZE, fingerprint, int64_sums_wrap  # noqa: F401  (re-exported: they lived here)
from .write_order import write_order


def gather_copy_values(spaces: Sequence[Any], layout: Any) -> dict[str, list]:
    """Every copy's applied values of this trunk, ``{space name: [copy 0's {path: value}, copy 1's, ...]}``.

    Only spaces whose :meth:`~automl_mm.ohl.base.OHLSpace.applied_values` is not ``None`` (per-copy attribute
    spaces) are listed; with none the result is ``{}``. Each copy's entry is its lead rank's (the ranks of a copy
    apply the same sample). Every rank must call it: in a distributed run it always runs one all-reduce of a failure
    flag and one ``all_gather_object`` (also where this rank lists nothing: whether the gather runs must not depend
    on one rank's answer, or a space listing values on some ranks only left the others waiting in the gather until
    the process group's timeout). A space's ``applied_values`` that raises, or values that cannot be pickled, on one
    rank stop every rank before the gather, naming the rank and the error.

    Raises:
        RuntimeError: on every rank, where a space's ``applied_values`` is ``None`` on some ranks and values on
            others, naming the space and both sets of ranks (a plugin must answer alike on every rank).
    """
    with stopping_together('OHL: the copies\' applied values (OHLSpace.applied_values)'):
        values = {s.name: v for s in spaces if (v := s.applied_values()) is not None}
        if values and is_distributed():
            pickle.dumps(values)  # torch pickles them on this rank alone, before the gather
    per_rank = all_gather_object(values) if is_distributed() else [values]
    for space in spaces:
        listed = [r for r, got in enumerate(per_rank) if space.name in got]
        if listed and len(listed) != len(per_rank):
            unlisted = [r for r in range(len(per_rank)) if r not in listed]
            raise RuntimeError(
                f'OHL: space {space.name!r} ({type(space).__name__}) returned applied values on ranks {listed} '
                f'but None on ranks {unlisted}: its applied_values() must return None on every rank or values on '
                'every rank')
    if not values:
        return {}
    per_copy = [per_rank[layout.lead_rank(c)] for c in range(layout.num_copies)]
    return {name: [copy_values[name] for copy_values in per_copy] for name in values}


def _broadcast_tensors_(tensors: list[torch.Tensor], src: int, group: Any = None) -> None:
    """Broadcast tensors in place from global rank ``src`` over ``group`` (``None``: the world), one flat buffer per
    (device, dtype) to keep collectives few. The flat buffer is on the group's communication device already, so
    mmengine's ``broadcast`` copies nothing back (it compares ``src``, a global rank, with the rank in ``group``)."""
    buckets: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        buckets.setdefault((t.device, t.dtype), []).append(t)
    comm_device = get_comm_device(group)
    for (device, _), bucket in buckets.items():
        flat = _flatten_dense_tensors([t.data for t in bucket]).to(comm_device)
        broadcast(flat, src, group)
        for t, synced in zip(bucket, _unflatten_dense_tensors(flat.to(device), bucket)):
            t.data.copy_(synced)


def broadcast_module_(module: nn.Module, src: int) -> None:
    """Copy every parameter and buffer of ``module`` from rank ``src`` to all ranks, in place."""
    if is_distributed():
        _broadcast_tensors_(list(module.parameters()) + list(module.buffers()), src)


def broadcast_buffers_(module: nn.Module, src: int, group: Any = None) -> None:
    """Copy every buffer of ``module`` (BatchNorm running statistics, ...) from global rank ``src`` to the ranks of
    ``group`` (``None``: all ranks), in place; nothing outside a distributed run. mmengine's
    ``MMDistributedDataParallel(broadcast_buffers=False)`` keeps the parameters in step but leaves each rank the
    statistics of its own shard of the training batches (and with ``broadcast_buffers=True`` it would send its group's
    first rank's only at the next training forward)."""
    if is_distributed():
        _broadcast_tensors_(list(module.buffers()), src, group)


def map_containers(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """``obj`` with ``fn`` applied to each value of a dict, list or tuple, in a container of the same type; any
    other ``obj`` is returned as is.

    Dict subclasses keep their class and attributes (a shallow copy emptied and refilled: torch's and mmengine's
    ``MultiStepLR`` ``milestones`` stays a ``collections.Counter``, a ``defaultdict`` keeps its
    ``default_factory``, an ``OrderedDict`` its class), a namedtuple is rebuilt from its fields, a list or tuple
    subclass from an iterable.
    """
    if isinstance(obj, dict):
        out = copy.copy(obj)
        out.clear()
        for k, v in obj.items():
            out[k] = fn(v)
        return out
    if isinstance(obj, tuple) and hasattr(type(obj), '_fields'):  # a namedtuple takes its fields as arguments
        return type(obj)(*(fn(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(fn(v) for v in obj)
    return obj


def receiving_device(sent: str) -> str:
    """Where a receiving rank of :func:`broadcast_state` puts a tensor the source held on ``sent`` (``str`` of its
    device): an accelerator's type without the source's index (``'cuda:3'`` -> ``'cuda'``, this rank's own current
    GPU; the same for any other accelerator: mmengine's ``'npu:1'`` -> ``'npu'``, ``'mlu'``, ``'musa'``, torch's
    ``'xpu'``; the source's index means another device here, or none), ``'cpu'`` as it is."""
    kind = sent.partition(':')[0]
    return sent if kind == 'cpu' else kind


def broadcast_state(state: Any, src: int, what: str = 'state') -> Any:
    """Return rank ``src``'s nested state (dicts/lists/tuples of tensors and plain values) on every rank.

    The structure (with tensor shapes and dtypes) travels as one pickled object; the tensors travel as flat
    buffers, so large optimiser states cost one broadcast per dtype rather than a pickle round trip. Every
    container keeps its type (:func:`map_containers`): a receiving rank's state equals the sender's in type and
    value (its ``MultiStepLR`` milestones were a plain dict, without ``Counter.elements`` or a missing key's 0).
    The containers' classes must be importable on every rank (they travel pickled). Every rank must call it.

    A state ``src`` cannot pickle, or one a receiving rank cannot unpickle or rebuild, stops every rank: that rank
    raises its error, the others a :class:`~automl_mm.engine.rank_failures.RankFailure` naming the rank, the error
    and ``what`` (``'optimiser state'``); they used to wait in the next broadcast until the process group's timeout.
    """
    if not is_distributed():
        return state
    tensors: list[torch.Tensor] = []

    def strip(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            tensors.append(obj)
            return ('__tensor__', len(tensors) - 1, tuple(obj.shape), obj.dtype, str(obj.device))
        return map_containers(obj, strip)

    skeleton = [strip(state)]
    # torch pickles the skeleton on src alone, before the broadcast: a state it cannot pickle raised there and left
    # the other ranks in the broadcast until the process group's timeout. Pickled once more here (the tensors are
    # out of it: a small object), and a failure agreed on by every rank
    with stopping_together(f'broadcasting rank {src}\'s {what}: pickling it on rank {src}'):
        if get_rank() == src:
            pickle.dumps(skeleton)
    received: list[torch.Tensor] = []

    def rebuild(obj: Any) -> Any:
        if isinstance(obj, tuple) and len(obj) == 5 and obj[0] == '__tensor__':
            _, _, shape, dtype, device = obj
            received.append(torch.empty(shape, dtype=dtype, device=receiving_device(device)))
            return received[-1]
        return map_containers(obj, rebuild)

    # a receiving rank that cannot unpickle or rebuild it raises after the broadcast, before the tensors' broadcast
    # the others wait in: agreed on too (every rank has passed the broadcast inside the block)
    with stopping_together(f'broadcasting rank {src}\'s {what}: rebuilding it'):
        broadcast_object_list(skeleton, src)
        if get_rank() == src:
            rebuilt = state
            received = tensors
        else:
            rebuilt = rebuild(skeleton[0])
    _broadcast_tensors_(received, src)
    return rebuilt


#: Plain attributes (neither parameters nor buffers) that a module's own training updates, by the qualified name of
#: its class (subclasses included), as dotted paths from the module. mmdet's ``DynamicRoIHead`` (Dynamic R-CNN) keeps
#: the IoUs and regression targets of its last iterations in Python lists and every ``update_iter_interval``
#: iterations sets its assigner's IoU thresholds and its SmoothL1 loss's ``beta`` from them.
TRAINING_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    'mmdet.models.roi_heads.dynamic_roi_head.DynamicRoIHead': (
        'iou_history', 'beta_history', 'bbox_assigner.pos_iou_thr', 'bbox_assigner.neg_iou_thr',
        'bbox_assigner.min_pos_iou', 'bbox_head.loss_bbox.beta'),
}


def training_attributes(module: nn.Module) -> tuple[str, ...]:
    """The dotted paths of ``module``'s plain training state: :data:`TRAINING_ATTRIBUTES` of its classes that the
    module has (a ``DynamicRoIHead`` built without ``train_cfg`` has no assigner), then those its class declares in
    ``ohl_copy_state`` (a tuple of paths: how a module of your own has such state carried).

    Raises:
        AttributeError: a declared ``ohl_copy_state`` path the module does not have, naming its class and the path.
    """
    paths = [p for cls in type(module).__mro__ for p in TRAINING_ATTRIBUTES.get(f'{cls.__module__}.{cls.__qualname__}',
                                                                            ()) if _has_path(module, p)]
    for path in getattr(module, 'ohl_copy_state', ()):
        if not _has_path(module, path):
            raise AttributeError(f'{type(module).__name__}.ohl_copy_state names {path!r}, which the module does not '
                                 'have: the OHL broadcast cannot carry it')
        paths.append(path)
    return tuple(dict.fromkeys(paths))


def _has_path(obj: Any, path: str) -> bool:
    try:
        attrgetter(path)(obj)
    except AttributeError:
        return False
    return True


def broadcast_training_attributes_(model: nn.Module, src: int) -> None:
    """Give every rank rank ``src``'s plain training state of ``model``'s modules (:func:`training_attributes`), in
    place; nothing outside a distributed run. The values travel pickled (one ``broadcast_object_list``, also where
    this rank's modules have none: whether it runs must not hang on one rank's answer, an attribute a module sets
    during training being there on one rank only); a rank whose modules lack a path ``src`` sends raises. Every rank
    must call it. A rank whose :func:`training_attributes` raises (an ``ohl_copy_state`` path its module lacks)
    stops every rank before the broadcast, naming the rank and the error (the others waited in it)."""
    state = {}
    with stopping_together(f'broadcasting rank {src}\'s training attributes: collecting them'):
        for name, module in model.named_modules():
            for path in training_attributes(module):
                state[(name, path)] = attrgetter(path)(module)
    if not is_distributed():
        return
    received = [state]
    paths = sorted({p for _, p in state})
    what = f'broadcasting rank {src}\'s training attributes' + (f' ({", ".join(paths)})' if paths else '')
    with stopping_together(f'{what}: pickling them on rank {src}'):  # as in broadcast_state
        if get_rank() == src:
            pickle.dumps(received)
    with stopping_together(f'{what}: setting them'):  # every rank has passed the broadcast inside the block
        broadcast_object_list(received, src)
        modules = dict(model.named_modules())
        for (name, path), value in received[0].items():
            owner, _, attr = path.rpartition('.')
            setattr(attrgetter(owner)(modules[name]) if owner else modules[name], attr, value)


def broadcast_copy_state(runner: Any, src: int) -> None:
    """Give every rank rank ``src``'s training state, in place: the model's parameters and buffers and its modules'
    plain training state (:func:`training_attributes`: mmdet's ``DynamicRoIHead`` thresholds, ``beta`` and
    histories), the optimiser wrapper's state (AMP loss scaler included), every parameter scheduler and the model
    of each ``EMAHook``. Deliberately each copy's own: the random streams and the data order (the hook re-derives
    them per copy at every segment start; ``CopySampler``), and random draws a module keeps between iterations
    (mmdet's ``BatchSyncRandomResize`` input size).

    With several ranks per copy every rank takes rank ``src``'s state, also what plain DDP training
    (``broadcast_buffers=False``) keeps per rank from its own shard: BatchNorm running statistics and a
    ``DynamicRoIHead``'s thresholds. ``src`` is the best copy's lead rank, whose statistics the reward was read with
    and whose state the checkpoints hold. Every rank must call it; a state one rank cannot pickle, unpickle or load
    stops every rank there, naming that rank and its error (:func:`broadcast_state`)."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    broadcast_module_(model, src)
    if not is_distributed():
        return
    broadcast_training_attributes_(model, src)
    optim_wrapper = runner.optim_wrapper
    # a rank whose load refuses the state stops every rank there (the others went on into the next broadcast)
    state = broadcast_state(optim_wrapper.state_dict(), src, 'optimiser state')
    with stopping_together(f'loading rank {src}\'s optimiser state'):
        optim_wrapper.load_state_dict(state)
    schedulers = runner.param_schedulers
    if schedulers:
        groups = schedulers.values() if isinstance(schedulers, dict) else [schedulers]
        for group in groups:
            for scheduler in group:
                state = broadcast_state(scheduler.state_dict(), src, f'{type(scheduler).__name__} state')
                with stopping_together(f'loading rank {src}\'s {type(scheduler).__name__} state'):
                    scheduler.load_state_dict(state)
    for hook in runner.hooks:
        if isinstance(hook, EMAHook) and hasattr(hook, 'ema_model'):
            broadcast_module_(hook.ema_model, src)


def adopt_model_values(runner: Any, copy_values: dict[str, list], best: int) -> None:
    """After a broadcast of copy ``best``'s state, set the values its spaces applied at ``model.`` paths on every
    rank (``copy_values``: :func:`gather_copy_values`' result).

    The broadcast carries the model's parameters and buffers and the optimiser's state (its ``param_groups``: a
    searched lr or weight decay travels with it), but not a module's plain attributes: every copy kept its own
    sampled ``model.head.loss_cls.loss_weight`` or ``model.test_cfg...`` value next to the best copy's weights, so
    the validation after a broadcasting trunk (every rank scoring its share) and the model left after the last
    trunk ran with each copy's own sample instead of the best copy's. Other paths are left to the next trunk's
    write: the optimiser's came with its state, and a data path's write would restart the loader's workers.

    Paths that reach one value are written a covering path first, the narrower one last
    (:func:`~automl_mm.ohl.write_order.write_order`), as the exports' replay and ``SearchedValuesHook`` write the same
    values; across spaces it is the order the copies wrote in (:func:`~automl_mm.ohl.write_order.check_search_order`
    refused any other before the first trunk). A path two spaces report keeps the later space's value. In space and
    dict order, a space whose reported values overlap (``{'model.0.p': 0.3, 'model.*.p': 0.1}``, which it applied
    as ``[0.3, 0.1]``) left every copy at ``[0.1, 0.1]``.

    Raises:
        ValueError: two paths reaching the same values with different values (:func:`write_order`, naming both).
    """
    values: dict[str, Any] = {}
    for per_copy in copy_values.values():
        if not 0 <= best < len(per_copy):
            continue
        for path, value in per_copy[best].items():
            if path.split('.', 1)[0] == 'model':
                values.pop(path, None)  # a later space's write of a path last, as SearchedValuesHook takes them
                values[path] = value
    for path in write_order(runner, values, "OHLHook: the best copy's model attribute values after the broadcast"):
        set_attribute(runner, path, values[path])


