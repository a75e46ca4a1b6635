"""Attribute paths of a runner: reading and writing the value a path names (walking a path to it,
:func:`resolve_attribute` and :func:`path_chains`, lives in :mod:`automl_mm.ohl.attribute_paths`; both still
import from here).

A path starts at a runner attribute (``model`` is the unwrapped model), ``*`` fans out over a list or tuple, or
over the modules of an ``nn.ModuleList`` / ``nn.Sequential`` (a Cascade R-CNN's stages:
``model.roi_head.bbox_head.*.loss_cls.loss_weight``), and integers index lists, tuples and those containers:
``model.head.loss_module.label_smoothing``,
``optim_wrapper.optimizer.param_groups.*.weight_decay``, ``optim_wrapper.optimizer.param_groups.0.betas.0`` (Adam's
beta1). Writing an element of a tuple replaces the tuple in its parent (dict key, list index, attribute or, for
nested tuples, the enclosing tuple) with a new one of the same type holding the new element.
:class:`~automl_mm.ohl.attribute_space.AttributeSpace` writes its samples there while it learns; ``SetAttributesHook``
replays the learned value (the config fragment an ``AttributeSpace`` exports; :mod:`automl_mm.ohl.replay_hooks`).
What else owns a path's value (a ``param_scheduler``, ``paramwise_cfg`` multipliers, a build-time read) is refused
before training by :func:`~automl_mm.ohl.ownership.check_owned_attribute`.

A path whose first part is ``train_dataloader`` (or that starts with ``train_loop.dataloader``) is a *data path*,
e.g. ``train_dataloader.dataset.pipeline.transforms.1.prob``: with ``num_workers > 0`` the dataloader's workers
are restarted before the next batch is loaded, continuing the pass where it was, so every batch after a write is
loaded with the written value (:mod:`automl_mm.ohl.data_writes`). The writers here and ``AttributeSpace`` write
data paths before the batch they apply to is loaded. Other paths are written as they are, with no restart.

A key of a built optimiser itself, ``optim_wrapper.optimizer.weight_decay`` or ``optim_wrapper.optimizer.lr`` (the
config's key), is the *base* value: written, each parameter group gets what the config's constructor makes of that
base, base × the multiplier that ``paramwise_cfg`` gave it (``norm_decay_mult=0.`` groups stay 0;
:mod:`automl_mm.ohl.optimizer_base`). ``SetAttributesHook``, ``TrunkScheduleHook`` and ``OHLHook`` read each group's
rule in ``before_run`` (:func:`establish_base_targets`), before a resumed checkpoint's values are loaded.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .attribute_paths import (  # noqa: F401  (re-exported: they lived here)
    _MODULE_SEQUENCES,
    SEQUENCES,
    _children,
    _close_name_hint,
    _indexes,
    _is_method,
    _method_problem,
    _momentum_hint,
    _optimisers_hint,
    _root,
    _transforms_hint,
    base_target,
    path_chains,
    resolve_attribute,
)
from .data_writes import note_data_write, watch_data_writes
from .element_paths import element_attribute
from .integer_settings import as_held_float
from .optimizer_base import (
    BASE_KEYS,
    check_base_value,
    check_group_values,
    establish,
    is_optimizer,
    read_base,
    wrappers_of,
    write_base,
    write_wrapper_base,
)
from .stored_forms import config_form, conversion
from .value_ranges import (
    check_accepted,
    check_attribute_shape,
    check_attribute_value,
    check_elements,
)


def _is_base_form(pairs: list[tuple[Any, Any]]) -> bool:
    """Whether :func:`resolve_attribute`'s pairs are a base-form path's ``(optimizer, key)`` (only that path resolves
    to an optimiser and a key of :data:`BASE_KEYS`: a torch optimiser has no such attribute)."""
    return bool(pairs) and all(is_optimizer(node) and key in BASE_KEYS for node, key in pairs)


#: The lists :func:`recording_writes` collects the paths :func:`set_attribute` writes into (innermost last).
_WRITE_RECORDS: list[list[str]] = []


@contextmanager
def recording_writes(runner: Any = None, skip: Any = ()) -> Iterator[list[str]]:
    """Collect, in order, every attribute path :func:`set_attribute` writes inside the ``with`` block (the paths
    as given, a path written twice listed twice); with ``runner``, then (when the block ends without an error) the
    path of every other value it changed where a space's samples act, however it was written (a plain ``setattr``,
    ``obj.__dict__[...]``, an optimiser group's dict entry, a transform's attribute): the run's state compared
    before and after (:mod:`automl_mm.ohl.state_writes`; attribute names in ``skip`` left out). ``OHLHook`` records
    what each OHL space writes in ``setup`` and at each trunk start
    (:func:`~automl_mm.ohl.write_order.check_declared_writes`)."""
    from .state_writes import changed_paths, snapshot

    record: list[str] = []
    before = snapshot(runner, skip) if runner is not None else None
    _WRITE_RECORDS.append(record)
    try:
        yield record
    finally:
        _WRITE_RECORDS.remove(record)
    if before is not None:  # not after an error: it propagates as raised
        seen = set(record)
        record += [path for path in changed_paths(before, snapshot(runner, skip)) if path not in seen]


def set_attribute(runner: Any, path: str, value: Any) -> None:
    """Set ``value`` at ``path`` (see the module docstring for the syntax); after a data path, the dataloader's
    workers restart before the next batch is loaded. An int written where a float is held is written as a float
    (:func:`~automl_mm.ohl.integer_settings.as_held_float`), so a float setting stays a float; a setting an object
    keeps in another form (``Expand``'s ``mean``, reversed under ``to_rgb``) is written in the config's form
    (:mod:`automl_mm.ohl.stored_forms`).

    Raises:
        ValueError: as :func:`resolve_attribute`, before anything is written; a path naming a module's buffer or
            parameter, or an element of one (:func:`~automl_mm.ohl.tensor_slots.check_tensor_slot`, where torch
            raised its bare ``TypeError``); a value that leaves optimiser groups
            settings their optimiser's constructor refuses (a negative lr, Adam's beta1 of 1.5, NaN:
            :func:`~automl_mm.ohl.optimizer_base.check_group_values`) or their update rule cannot use (SGD's
            momentum of 1.5); a value outside the attribute's known range (a transform's ``prob`` of 1.5,
            :func:`~automl_mm.ohl.value_ranges.check_attribute_value`); a data path on a loader whose
            workers cannot be restarted (:func:`~automl_mm.ohl.data_writes.watch_data_writes`, which raises a
            ``RuntimeError`` for a first data write in the middle of a pass of workers started before it); a value
            that what the object made of the attribute at ``__init__`` would undo (an ``EarlyStoppingHook``'s
            ``monitor`` implying another rule: :func:`~automl_mm.ohl.build_time_targets.check_kept_value`).
    """
    from .build_time_targets import check_kept_value  # it imports this module
    from .tensor_slots import check_tensor_slot

    check_tensor_slot(runner, path)  # a module's buffer or parameter: torch's TypeError, after the checks passed
    pairs = resolve_attribute(runner, path)  # every part exists: the write below cannot stop half-way
    for record in _WRITE_RECORDS:  # recording_writes: what an OHL space writes, against what it reports
        record.append(path)
    if _is_base_form(pairs):  # the base form
        for optimizer, key in pairs:  # each group: what the config's constructor makes of value
            write_base(optimizer, key, value, path, runner)
        for optimizer, key in pairs:  # and the base that mmengine's wrapper reports and its schedulers step
            write_wrapper_base(runner, optimizer, key, value)
        return
    watch_data_writes(runner, [path], 'set_attribute')  # a data path: the loader can restart its workers
    parts = path.split('.')
    check_attribute_shape(pairs, path, value, runner)  # a list over a float loss_weight or lr, a number over betas
    _check_group_writes(runner, path, value)
    check_attribute_value(pairs, path, value, runner)  # a transform's prob of 1.5 (automl_mm.ohl.value_ranges)
    check_kept_value(pairs, path, value)  # an EarlyStoppingHook's monitor implying another rule than its held one
    check_accepted(runner, path, value)  # a loss's class_weight.3 of -1: the list write bypasses the loss's check
    check_elements(runner, path, value)  # mmdet's class_weight (a plain list): [1, -1, 1], or -1 at .1
    base_groups = _wrapper_base_groups(runner, path)  # read before the groups change
    root = _root(runner, parts, path)
    new_root = _write(root, parts[1:], value)
    if new_root is not root:  # a tuple held by the runner itself
        setattr(runner, parts[0], new_root)
    for settings, rest in base_groups:  # the wrapper's base group follows the groups it stood for
        _write(settings, rest, value)
    note_data_write(runner, path)


def check_written_value(runner: Any, path: str, value: Any) -> None:
    """Check, without writing, that ``value`` at ``path`` leaves optimiser groups settings their optimiser accepts
    (:func:`~automl_mm.ohl.optimizer_base.check_group_values`) and lies in the attribute's known range (a
    transform's ``prob``: :func:`~automl_mm.ohl.value_ranges.check_attribute_value`); a loss checks its own when
    written (:class:`~automl_mm.models.losses.CheckedFloat`). ``AttributeSpace`` checks each of its ``choices`` at
    setup, so a choice the optimiser refuses stops the run before the first trunk, not when a copy draws it.

    Raises:
        ValueError: as :func:`set_attribute` would for ``value``.
    """
    from .build_time_targets import check_kept_value  # it imports this module
    from .tensor_slots import check_tensor_slot

    check_tensor_slot(runner, path)
    pairs = resolve_attribute(runner, path)
    if _is_base_form(pairs):
        for optimizer, key in pairs:
            check_base_value(optimizer, key, value, path, runner)
        return
    check_attribute_shape(pairs, path, value, runner)  # a list over a float loss_weight or lr, a number over betas
    _check_group_writes(runner, path, value)
    check_attribute_value(pairs, path, value, runner)
    check_kept_value(pairs, path, value)
    check_accepted(runner, path, value)  # what a loss's class_weight / ignore_index / avg_non_ignore refuses
    check_elements(runner, path, value)  # mmdet's class_weight (a plain list): [1, -1, 1], or -1 at .1


def _check_group_writes(runner: Any, path: str, value: Any) -> None:
    """Refuse a write into optimiser parameter groups (``...param_groups.<i|*>.<key>``) of a value the optimiser's
    constructor refuses (:func:`~automl_mm.ohl.optimizer_base.check_group_values`: a negative lr, Adam's beta1
    of 1.5), before anything is written."""
    parts = path.split('.')
    if 'param_groups' not in parts:
        return
    at = parts.index('param_groups')
    if len(parts) < at + 3:
        return
    by_optimizer: dict[int, tuple[Any, list]] = {}
    for chain in path_chains(runner, path, end=at + 2):
        if len(chain) < 3 or not isinstance(chain[-1][1], dict):
            continue
        owner = chain[-3][1]  # the node holding param_groups: an optimiser or its wrapper
        optimizer = owner if is_optimizer(owner) else getattr(owner, 'optimizer', None)
        if not is_optimizer(optimizer):
            continue
        group = chain[-1][1]
        new = {k: copy.deepcopy(v) for k, v in group.items() if k != 'params'}
        new = _write(new, parts[at + 2:], value)
        new['params'] = group.get('params', [])
        by_optimizer.setdefault(id(optimizer), (optimizer, []))[1].append((group, new))
    for optimizer, writes in by_optimizer.values():
        check_group_values(optimizer, writes, path, value)


def _value_at(node: Any, parts: list[str]) -> Any:
    for part in parts:
        node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
    return node


def _wrapper_base_groups(runner: Any, path: str) -> list[tuple[dict, list[str]]]:
    """``(base_param_settings, the parts below a group)`` of the wrappers whose base group the write of ``path``
    must also set: a ``*`` over every group of an optimiser (``optim_wrapper.optimizer.param_groups.*.lr``) whose
    groups all hold the base group's value (no ``paramwise_cfg`` multiplier tells them apart).

    mmengine's ``OptimWrapper`` keeps, for an optimiser of several groups, a base group built from the optimiser's
    ``defaults`` (``base_param_settings``): ``get_lr()`` reports its ``lr`` as ``base_lr`` (logged as
    ``train/base_lr``), and its schedulers, checkpoints and the OHL broadcast carry it. A ``*`` write over the groups
    left it at the config's value, so a run whose every group trained at the searched lr of 0.3 logged
    ``base_lr`` 0.1 for the whole run. The base form sets it too (:func:`~automl_mm.ohl.optimizer_base.
    write_wrapper_base`); ``optim_wrapper.param_groups.*`` (the wrapper's own list) holds it already. A group index
    (``param_groups.1.lr``) or groups that differ from the base leave it as it is."""
    parts = path.split('.')
    if 'param_groups' not in parts:
        return []
    at = parts.index('param_groups')
    if len(parts) < at + 3 or parts[at + 1] != '*':
        return []
    rest = parts[at + 2:]
    found = []
    for chain in path_chains(runner, path, end=at):
        optimizer = chain[-1][1]
        if not is_optimizer(optimizer):
            continue  # a wrapper's own param_groups list ends with its base group
        for wrapper in wrappers_of(runner, optimizer):
            settings = getattr(wrapper, 'base_param_settings', None)
            if not isinstance(settings, dict):
                continue
            try:
                base = _value_at(settings, rest)
                held = [_value_at(group, rest) for group in optimizer.param_groups]
            except (KeyError, IndexError, TypeError, ValueError):
                continue  # a key the base group does not hold
            if all(value == base for value in held):
                found.append((settings, rest))
    return found


def _write(node: Any, parts: list[str], value: Any) -> Any:
    """Write ``value`` at ``parts`` below ``node``; returns ``node``, or its replacement where it is a tuple."""
    part, rest = parts[0], parts[1:]
    if part == '*':
        for index in range(len(node)):
            child = node[index]
            new_child = _write(child, rest, value)
            if new_child is not child:
                node = _put(node, index, new_child)
        return node
    key: Any = int(part) if _indexes(node, part) else part
    convert = conversion(node, key)  # Expand's mean, kept reversed under to_rgb: written in the config's order
    if not rest:  # an int over a float as a float: 0 of choices=[0, 0.5] left the next 0.5 refused as a float over it
        held = node[key] if isinstance(node, dict) or _indexes(node, part) else getattr(node, key, None)
        if convert is not None:
            return _put(node, key, convert(node, _own(as_held_float(convert(node, held), value))))
        return _put(node, key, _own(as_held_float(held, value)))
    child = node[key] if isinstance(node, dict) or _indexes(node, part) else getattr(node, key)
    if convert is not None:  # mean.0: the config's channel 0, wherever the object keeps it
        return _put(node, key, convert(node, _write(convert(node, child), rest, value)))
    new_child = _write(child, rest, value)
    return node if new_child is child else _put(node, key, new_child)


def _own(value: Any) -> Any:
    """``value`` as each place it is written to gets it: a list, dict, set or tuple deep-copied, its nested lists,
    dicts, sets and tuples too, the other objects it holds (a module, a tensor) as they are, as is a value that is
    not one of them (a number, a string, a tensor, a module). A container written as one object to several places
    (the ``*`` fan-out over a Cascade R-CNN's stages, a space's several targets) or kept by the writer (an
    ``AttributeSpace``'s ``choices``) was shared by all of them, so a later write into one of its elements
    (``...bbox_head.0.loss_cls.class_weight.1``, beside ``...bbox_head.*.loss_cls.class_weight``) changed every
    stage's weights and the space's choice itself: its history, exported value and resume signature then named a
    list it never drew. The objects inside stay shared: a module written to share its weights keeps them, and a
    tensor that is not a graph leaf (which torch cannot deep-copy) is written."""
    if not isinstance(value, _CONTAINERS):
        return value
    memo: dict[int, Any] = {}  # deepcopy's: the held objects map to themselves, so it copies the containers only
    seen, stack = set(), [value]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            stack += [*node.keys(), *node.values()]
        elif isinstance(node, _CONTAINERS):
            stack += list(node)
        elif not isinstance(node, _ATOMS):
            memo[id(node)] = node
    return copy.deepcopy(value, memo)


_CONTAINERS = (list, dict, set, frozenset, tuple)
_ATOMS = (int, float, complex, str, bytes, bool, type(None))


def _put(node: Any, key: Any, value: Any) -> Any:
    """``node`` with ``value`` at ``key``: set in place, or a new tuple of ``node``'s type."""
    if isinstance(node, tuple):
        items = list(node)
        items[key] = value
        return node._make(items) if hasattr(node, '_make') else type(node)(items)  # namedtuple: fields
    if isinstance(node, (dict, list)) or (isinstance(node, _MODULE_SEQUENCES) and isinstance(key, int)):
        node[key] = value
    else:
        setattr(node, key, value)
    return node


def get_attribute(runner: Any, path: str) -> list[Any]:
    """Current values at ``path`` (one per ``*`` fan-out); of a base-form path, the base in effect; of a setting an
    object keeps in another form (``Expand``'s ``mean``, reversed under ``to_rgb``: :mod:`automl_mm.ohl.
    stored_forms`), the config's form, as :func:`set_attribute` takes it."""
    pairs = resolve_attribute(runner, path)
    if _is_base_form(pairs):  # the base form
        return [read_base(optimizer, key, path, runner) for optimizer, key in pairs]
    values = [config_form(node, key, getattr(node, key)) if not isinstance(node, (dict, list, tuple)) else node[key]
              for node, key in pairs]
    if not any(isinstance(node, (list, tuple)) for node, _ in pairs):
        return values
    for i, chain in enumerate(path_chains(runner, path)):  # an element of a setting kept in another form: mean.0
        found = element_attribute(chain)
        if found is not None and conversion(found.owner, found.attribute) is not None:
            values[i] = _value_at(config_form(found.owner, found.attribute, found.held), list(found.keys))
    return values


def establish_base_targets(runner: Any, paths: Any) -> None:
    """Read each base-form path's group rules now (:func:`~automl_mm.ohl.optimizer_base.establish`): the writers'
    ``before_run``, after mmengine built and ``auto_scale_lr`` scaled the optimiser and before a checkpoint's groups
    replace its values. Other paths, and paths that do not resolve (their writer names them later), are skipped.
    A second call on the same optimiser (mmengine's ``Runner.test()`` / ``val()`` after ``train()`` call
    ``before_run`` again) keeps the rules read at the first (``group_rules`` reads them once per optimiser; a stored
    rule keeps its ``auto_scale_lr`` factor): re-read from the trained groups, the written base would be taken for
    the config's.

    Raises:
        ValueError: a base-form path whose rules cannot be read (a base of 0, a constructor rule that is not
            base × a multiplier), naming the path.
    """
    for path in paths:
        if not isinstance(path, str):
            continue
        try:
            base = base_target(runner, path)
        except ValueError:
            continue  # a key no optimiser multiplies: its writer's own check names it
        if base is not None:
            optimizers, key = base
            for optimizer in optimizers:
                establish(optimizer, key, path, runner)


_MOVED = {'check_owned_attribute': 'automl_mm.ohl.ownership', 'SetAttributesHook': 'automl_mm.ohl.replay_hooks',
          'TrunkScheduleHook': 'automl_mm.ohl.replay_hooks'}


def __getattr__(name: str) -> Any:
    """Names that lived here until the forty-third session (a plugin importing them from here, as the README's
    example did, keeps working), with a ``FutureWarning`` naming their module now."""
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(f'automl_mm.ohl.attributes.{name} moved to {_MOVED[name]}; import it from there',
                      FutureWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
