"""Attribute paths of a runner, and :class:`SetAttributesHook`, which sets fixed values at them before training.

A path starts at a runner attribute (``model`` is the unwrapped model), ``*`` fans out over a list or tuple, or
over the modules of an ``nn.ModuleList`` / ``nn.Sequential`` (a Cascade R-CNN's stages:
``model.roi_head.bbox_head.*.loss_cls.loss_weight``), and integers index lists, tuples and those containers:
``model.head.loss_module.label_smoothing``,
``optim_wrapper.optimizer.param_groups.*.weight_decay``, ``optim_wrapper.optimizer.param_groups.0.betas.0`` (Adam's
beta1). Writing an element of a tuple replaces the tuple in its parent (dict key, list index, attribute or, for
nested tuples, the enclosing tuple) with a new one of the same type holding the new element.
:class:`~automl_mm.ohl.attribute_space.AttributeSpace` writes its samples there while it learns; ``SetAttributesHook``
replays the learned value (the config fragment an ``AttributeSpace`` exports).

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
from typing import Any

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from automl_mm.registry import HOOKS

from .data_writes import is_data_path, note_data_write, watch_data_writes
from .optimizer_base import (
    BASE_KEYS,
    check_base_key,
    check_base_value,
    check_group_values,
    establish,
    is_optimizer,
    momentum_hint,
    read_base,
    wrappers_of,
    write_base,
    write_wrapper_base,
)
from .value_ranges import check_attribute_value, check_value


def resolve_attribute(runner: Any, path: str) -> list[tuple[Any, Any]]:
    """``(container, key)`` pairs that ``path`` names; ``*`` fans out over a list or tuple, ``model`` is the unwrapped
    model. A container may be a tuple: write with :func:`set_attribute`, which replaces it in its parent.

    A base-form path (``optim_wrapper.optimizer.weight_decay``, module docstring) gives ``(optimizer, key)``.

    Raises:
        ValueError: The path is empty, ends with ``*``, or a part of it does not exist (the message names the path
            and the part); a base-form path whose groups' multipliers cannot be read (a base of 0, naming the
            config key).
    """
    base = _base_target(runner, path)
    if base is not None:
        optimizers, key = base
        for optimizer in optimizers:
            read_base(optimizer, key, path, runner)  # the rules can be read: a write cannot fail half-way
        return [(optimizer, key) for optimizer in optimizers]
    parts = path.split('.')
    nodes = [chain[-1][1] for chain in path_chains(runner, path, end=-1)]
    last = parts[-1]
    pairs = []
    for node in nodes:
        if last == '*':
            raise ValueError(f'attribute path {path!r} cannot end with *')
        if isinstance(node, (list, tuple)) and not last.lstrip('-').isdigit():
            raise ValueError(f'attribute path {path!r}: {last!r} cannot index a {type(node).__name__} (an integer '
                             'is needed)')
        key: Any = int(last) if isinstance(node, (list, tuple)) else last
        if isinstance(node, dict):
            if last not in node:
                raise ValueError(f'attribute path {path!r}: key {last!r} not found'
                                 f'{_momentum_hint(node, last, path, len(parts) - 1)}')
        elif isinstance(node, (list, tuple)):
            if not -len(node) <= key < len(node):
                raise ValueError(f'attribute path {path!r}: index {key} out of range')
        elif not hasattr(node, last):
            raise ValueError(f'attribute path {path!r}: {type(node).__name__} has no attribute {last!r}')
        pairs.append((node, key))
    return pairs


def _base_target(runner: Any, path: str) -> tuple[list[Any], str] | None:
    """``(optimisers, key)`` where ``path`` names a key of built optimisers themselves (the base form,
    :mod:`automl_mm.ohl.optimizer_base`), else ``None``.

    Raises:
        ValueError: a key of an optimiser that is not a base key (``optim_wrapper.optimizer.momentum``).
    """
    parts = path.split('.')
    if len(parts) < 2 or parts[-1] == '*':
        return None
    try:
        nodes = [chain[-1][1] for chain in path_chains(runner, path, end=-1)]
    except ValueError:
        return None  # the path's own check names the missing part
    if not nodes or not all(is_optimizer(node) for node in nodes) or any(hasattr(n, parts[-1]) for n in nodes):
        return None
    for node in nodes:
        check_base_key(node, parts[-1], path)
    return nodes, parts[-1]


def _is_base_form(pairs: list[tuple[Any, Any]]) -> bool:
    """Whether :func:`resolve_attribute`'s pairs are a base-form path's ``(optimizer, key)`` (only that path resolves
    to an optimiser and a key of :data:`BASE_KEYS`: a torch optimiser has no such attribute)."""
    return bool(pairs) and all(is_optimizer(node) and key in BASE_KEYS for node, key in pairs)


def path_chains(runner: Any, path: str, end: int | None = None,
                tolerant: bool = False) -> list[list[tuple[str, Any]]]:
    """Every chain ``[(part, node), ...]`` that ``path`` names from the runner: its root (``model`` unwrapped), then
    one node per part of ``parts[1:end]`` (``*`` fanned out, the index written in the chain), in the order of the
    fan-out. The one walk of an attribute path: :func:`resolve_attribute` walks to the parent of the last part
    (``end=-1``), :func:`~automl_mm.ohl.build_time_targets.check_read_at_run_time` to the value (``end=None``,
    ``tolerant``).

    Parts are resolved a level at a time across all chains, so the first missing part reported is the shallowest.

    Args:
        runner: The runner (anything with the root attribute).
        path: The attribute path (module docstring).
        end: Walk ``parts[1:end]`` after the root.
        tolerant: A part that does not resolve ends its chain there (kept, the chain of what did resolve; a missing
            root is ``None``) instead of raising. An empty ``*`` fan-out ends no chain: it has none.

    Raises:
        ValueError: (not ``tolerant``) an empty path or root, or a part that does not exist, naming the path and
            the part.
    """
    parts = path.split('.')
    chains = [[(parts[0], _root(runner, parts, path, tolerant))]]
    for depth, part in enumerate(parts[1:end], start=1):
        longer = []
        for chain in chains:
            children = _children(chain[-1][1], part, path, depth, tolerant) if len(chain) == depth else None
            longer += [chain] if children is None else [chain + [child] for child in children]
        chains = longer
    return chains


def _root(runner: Any, parts: list[str], path: str, tolerant: bool = False) -> Any:
    if tolerant:
        root = getattr(runner, parts[0], None)
        return root.module if parts[0] == 'model' and is_model_wrapper(root) else root
    if not parts[0]:
        raise ValueError(f'empty attribute path {path!r}')
    if parts[0] == 'model':
        return runner.model.module if is_model_wrapper(runner.model) else runner.model
    if not hasattr(runner, parts[0]):
        raise ValueError(f'attribute path {path!r}: the runner has no attribute {parts[0]!r}')
    return getattr(runner, parts[0])


_MODULE_SEQUENCES = (nn.ModuleList, nn.Sequential)  # indexed by position, as a list (mmengine's subclass them)
SEQUENCES = (list, tuple, *_MODULE_SEQUENCES)  # what ``*`` fans out over and integers index


def _indexes(node: Any, part: str) -> bool:
    # a module sequence too: its attribute names are '0', '1', ..., but -1 (its last) is no attribute
    return isinstance(node, SEQUENCES) and part.lstrip('-').isdigit()


def _children(node: Any, part: str, path: str, depth: int, tolerant: bool = False) -> list[tuple[str, Any]] | None:
    """``[(part, child), ...]`` that ``part`` names below ``node`` (``*``: every element, named by its index);
    ``None`` where it names nothing and ``tolerant``.

    Raises:
        ValueError: (not ``tolerant``) ``part`` names nothing, naming the path and the part.
    """
    if part == '*':
        if isinstance(node, SEQUENCES):
            return [(str(i), child) for i, child in enumerate(node)]
        problem = (f'* at position {depth} needs a list, tuple, nn.ModuleList or nn.Sequential, got '
                   f'{type(node).__name__}')
    elif _indexes(node, part):
        if -len(node) <= int(part) < len(node):
            return [(part, node[int(part)])]
        problem = f'index {int(part)} at position {depth} out of range for a {type(node).__name__} of {len(node)}'
    elif isinstance(node, dict):
        if part in node:
            return [(part, node[part])]
        problem = f'key {part!r} not found{_momentum_hint(node, part, path, depth)}'
    elif hasattr(node, part):
        return [(part, getattr(node, part))]
    else:
        problem = f'{type(node).__name__} has no attribute {part!r}{_optimisers_hint(node, path, depth)}'
        if is_optimizer(node):
            problem += _momentum_hint(node.defaults, part, path, depth, 'param_groups.*.')
    if tolerant:
        return None
    raise ValueError(f'attribute path {path!r}: {problem}')


def _momentum_hint(settings: Any, part: str, path: str, depth: int, groups: str = '') -> str:
    """``'; <why>: target <path>'`` where ``part`` (at ``depth``) is the other optimiser family's name for momentum
    (:func:`~automl_mm.ohl.optimizer_base.momentum_hint`: ``momentum`` of an Adam-type group is ``betas.0``,
    ``betas`` of an SGD-type group is ``momentum``), ``groups`` put before it (an optimiser's own key), else ``''``.
    """
    hint = momentum_hint(settings, part)
    if hint is None:
        return ''
    parts = path.split('.')
    rest = parts[depth + 1:]
    if part == 'betas' and rest and rest[0].lstrip('-').isdigit():
        rest = rest[1:]  # betas.0 -> momentum
    return f'; {hint[1]}: target {".".join(parts[:depth] + [groups + hint[0]] + rest)}'


def _optimisers_hint(node: Any, path: str, depth: int) -> str:
    """Where an ``OptimWrapperDict`` (several optimisers, a multi-optimiser ``constructor``) keeps them: the path
    through ``optim_wrappers.<name>``."""
    wrappers = getattr(node, 'optim_wrappers', None)
    if not isinstance(wrappers, dict) or not wrappers:
        return ''
    parts = path.split('.')
    named = ['.'.join(parts[:depth] + ['optim_wrappers', name] + parts[depth:]) for name in wrappers]
    return f'; it holds one optimiser wrapper per name ({", ".join(wrappers)}): target {" or ".join(named)}'


def set_attribute(runner: Any, path: str, value: Any) -> None:
    """Set ``value`` at ``path`` (see the module docstring for the syntax); after a data path, the dataloader's
    workers restart before the next batch is loaded.

    Raises:
        ValueError: as :func:`resolve_attribute`, before anything is written; a value that leaves optimiser groups
            settings their optimiser's constructor refuses (a negative lr, Adam's beta1 of 1.5, NaN:
            :func:`~automl_mm.ohl.optimizer_base.check_group_values`) or their update rule cannot use (SGD's
            momentum of 1.5); a value outside the attribute's known range (a transform's ``prob`` of 1.5,
            :func:`~automl_mm.ohl.value_ranges.check_attribute_value`); a data path on a loader whose
            workers cannot be restarted (:func:`~automl_mm.ohl.data_writes.watch_data_writes`, which raises a
            ``RuntimeError`` for a first data write in the middle of a pass of workers started before it).
    """
    pairs = resolve_attribute(runner, path)  # every part exists: the write below cannot stop half-way
    if _is_base_form(pairs):  # the base form
        for optimizer, key in pairs:  # each group: what the config's constructor makes of value
            write_base(optimizer, key, value, path, runner)
        for optimizer, key in pairs:  # and the base that mmengine's wrapper reports and its schedulers step
            write_wrapper_base(runner, optimizer, key, value)
        return
    watch_data_writes(runner, [path], 'set_attribute')  # a data path: the loader can restart its workers
    parts = path.split('.')
    _check_group_writes(runner, path, value)
    check_attribute_value(pairs, path, value)  # a transform's prob of 1.5 (automl_mm.ohl.value_ranges)
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
    pairs = resolve_attribute(runner, path)
    if _is_base_form(pairs):
        for optimizer, key in pairs:
            check_base_value(optimizer, key, value, path, runner)
        return
    _check_group_writes(runner, path, value)
    check_attribute_value(pairs, path, value)


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
    if not rest:
        return _put(node, key, value)
    child = node[key] if isinstance(node, dict) or _indexes(node, part) else getattr(node, key)
    new_child = _write(child, rest, value)
    return node if new_child is child else _put(node, key, new_child)


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
    """Current values at ``path`` (one per ``*`` fan-out); of a base-form path, the base in effect."""
    pairs = resolve_attribute(runner, path)
    if _is_base_form(pairs):  # the base form
        return [read_base(optimizer, key, path, runner) for optimizer, key in pairs]
    return [node[key] if isinstance(node, (dict, list, tuple)) else getattr(node, key) for node, key in pairs]


def establish_base_targets(runner: Any, paths: Any) -> None:
    """Read each base-form path's group rules now (:func:`~automl_mm.ohl.optimizer_base.establish`): the writers'
    ``before_run``, after mmengine built and ``auto_scale_lr`` scaled the optimiser and before a checkpoint's groups
    replace its values. Other paths, and paths that do not resolve (their writer names them later), are skipped.

    Raises:
        ValueError: a base-form path whose rules cannot be read (a base of 0, a constructor rule that is not
            base × a multiplier), naming the path.
    """
    for path in paths:
        if not isinstance(path, str):
            continue
        try:
            base = _base_target(runner, path)
        except ValueError:
            continue  # a key no optimiser multiplies: its writer's own check names it
        if base is not None:
            optimizers, key = base
            for optimizer in optimizers:
                establish(optimizer, key, path, runner)


def _schedulers(runner: Any) -> list:
    found = getattr(runner, 'param_schedulers', None) or []
    if isinstance(found, dict):
        return [s for group in found.values() for s in (group if isinstance(group, (list, tuple)) else [group])]
    return list(found) if isinstance(found, (list, tuple)) else [found]


_UNSET = object()


def _base_advice(parts: list[str], at: int, base: bool, name: str | None, element: list[str], owner: str,
                 fixed_value: Any) -> str:
    """The base key and value a fixed write of every group's parameter becomes under a scheduler, or ''."""
    if fixed_value is _UNSET or name is None or element or not (base or parts[at + 1] == '*'):
        return ''
    key = '.'.join(parts) if base else '.'.join(parts[:at] + [name])
    return (f'; to train from this fixed value under the schedule, drop {owner}\'s entry for {".".join(parts)} and '
            f'set the base value instead, {key}={fixed_value!r} (the scheduler then scales it)')


def check_owned_attribute(runner: Any, path: str, owner: str, fixed_value: Any = _UNSET) -> None:
    """Refuse writing absolute values where something else owns them, before training.

    * A parameter of the optimiser's groups (the key after ``param_groups.<i|*>``, or any element of it such as
      ``betas.1``) that a ``param_scheduler`` schedules (its ``param_name``): mmengine's schedulers step the current
      value in chained form (a ``LinearLR`` warm-up had run its first step already), so a written value was
      multiplied by the rest of the schedule (a warm-up with ``start_factor=0.001`` turned a searched lr of 0.1 into
      100) and every trunk start wiped the decay so far (a replayed run resumed on other learning rates).
    * Beta1 (``betas.0`` or the whole ``betas``) under a momentum scheduler of an Adam-type optimiser
      (``use_betas``): it sets betas to (momentum, betas[1]) at every step, overwriting beta1; betas[1] is kept.
    * A ``*`` over the groups whose values differ (``paramwise_cfg`` multipliers, e.g. ``norm_decay_mult=0``): one
      value would overwrite them all. The base form (``optim_wrapper.optimizer.weight_decay``) keeps them; it is
      refused, as the groups' key, where a scheduler schedules that key.

    * A value read only when something was built (a head's ``train_cfg.assigner`` / ``.sampler``, an optimiser's
      ``defaults``, ``runner.cfg``): writing it would change nothing
      (:func:`~automl_mm.ohl.build_time_targets.check_read_at_run_time`).

    Args:
        fixed_value: The one value ``owner`` writes (``SetAttributesHook``: an exported ``final_policy.py`` pasted
            into a stock config, whose ``param_scheduler`` schedules the lr). Where it writes every group's
            parameter (``param_groups.*.<key>``, or the base key), the scheduler refusal gives the base key and value
            to set instead (``optim_wrapper.optimizer.lr=0.03``: the schedule then runs from it); it said only to
            drop the scheduler.

    Raises:
        ValueError: naming ``owner``, the path and the scheduler, the groups' values or the path to target instead.
    """
    from .build_time_targets import check_read_at_run_time

    check_read_at_run_time(runner, path, owner)
    parts = path.split('.')
    base = _base_target(runner, path) is not None
    if 'param_groups' not in parts and not base:
        return
    values = get_attribute(runner, path)  # a bad path: its own message first
    at = len(parts) - 3 if base else parts.index('param_groups')  # base: the key is the group's parameter
    # the group's parameter is the key after param_groups.<i|*> (betas of ...param_groups.0.betas.0); a path that
    # stops before it writes every parameter of the groups
    name = parts[-1] if base else parts[at + 2] if len(parts) > at + 2 else None
    element = [] if base else parts[at + 3:]
    for i, scheduler in enumerate(_schedulers(runner)):
        scheduled = getattr(scheduler, 'param_name', None)
        if scheduled is not None and name in (None, scheduled):
            raise ValueError(
                f'{owner} writes {path} but param_scheduler[{i}] ({type(scheduler).__name__}) schedules '
                f'{scheduled!r}: the scheduler steps the value it finds, so the written one would be rescaled by the '
                f'rest of the schedule (a warm-up multiplies it by 1 / start_factor) and each write would undo the '
                f'decay so far. Search or replay {scheduled!r} under a constant schedule (no scheduler for '
                f'{scheduled!r}){_base_advice(parts, at, base, name, element, owner, fixed_value)}')
        # a momentum scheduler of an Adam-type optimiser (use_betas) sets betas to (momentum, betas[1]) at each step
        if getattr(scheduler, 'use_betas', False) and name in (None, 'betas') and \
                (not element or _first_element(runner, '.'.join(parts[:at + 3]), element[0])):
            raise ValueError(
                f"{owner} writes {path} but param_scheduler[{i}] ({type(scheduler).__name__}) schedules 'betas' "
                f'(its momentum is betas[0]): the scheduler sets betas[0] at every step, so the written value would '
                f'be overwritten. Search or replay beta1 without a momentum scheduler (betas[1] may be written)')
    if not base and len(parts) > at + 2 and parts[at + 1] != '*':
        _check_one_parameter_group(runner, path, parts, at, owner)
    if not base and '*' in parts and len({repr(v) for v in values}) > 1:  # base: one value per optimiser
        one = '.'.join('0' if p == '*' else p for p in parts[at:])
        shown: Any = values
        if len(values) > 8:  # mmengine makes one group per parameter under paramwise_cfg: 90 for a Faster R-CNN
            counts: dict[str, int] = {}
            for v in values:
                counts[repr(v)] = counts.get(repr(v), 0) + 1
            shown = f'({len(values)} groups: ' + ', '.join(f'{v} in {n}' for v, n in counts.items()) + ')'
        key = parts[at + 2] if len(parts) == at + 3 else None
        instead = (f'Search the base instead: target {".".join(parts[:at] + [key])} (the config\'s key; each group '
                   f'gets base × its own multiplier, as mmengine\'s constructor set it)' if key in BASE_KEYS else
                   f'Give each group its own path ({one}, ...) or drop the multipliers')
        raise ValueError(f'{owner} writes {path} but the groups hold different values {shown} (paramwise_cfg '
                         f'multipliers): one value would overwrite them all. {instead}')


def _paramwise_cfg(runner: Any) -> bool:
    """Whether the runner's config builds its optimiser wrapper(s) with a ``paramwise_cfg`` (mmengine's
    ``DefaultOptimWrapperConstructor`` then makes one parameter group per parameter)."""
    cfg = getattr(runner, 'cfg', None)
    wrapper_cfg = cfg.get('optim_wrapper') if hasattr(cfg, 'get') else None
    if not isinstance(wrapper_cfg, dict):
        return False
    return bool(wrapper_cfg.get('paramwise_cfg')) or any(
        isinstance(one, dict) and bool(one.get('paramwise_cfg')) for one in wrapper_cfg.values())


def _check_one_parameter_group(runner: Any, path: str, parts: list[str], at: int, owner: str) -> None:
    """Refuse a group index (``param_groups.0.lr``) into an optimiser whose groups mmengine's constructor made one
    per parameter (a ``paramwise_cfg`` in the config): the write reaches one parameter and every other one keeps
    the config's value. From a single-group habit: with ``paramwise_cfg=dict(norm_decay_mult=0.)`` a searched
    ``param_groups.0.lr`` trained the first convolution's weight at it and the rest of the network at the config's
    lr, while the history recorded it as the run's lr.

    Raises:
        ValueError: naming ``owner``, the path, the group's parameter and the paths to target instead.
    """
    if not _paramwise_cfg(runner):
        return
    for chain in path_chains(runner, path, end=at):
        optimizer = chain[-1][1]
        groups = getattr(optimizer, 'param_groups', None) if is_optimizer(optimizer) else None
        if not groups or len(groups) < 2 or any(len(group['params']) != 1 for group in groups):
            continue
        index = int(parts[at + 1])
        param = groups[index]['params'][0]
        model = getattr(runner, 'model', None)
        model = model.module if is_model_wrapper(model) else model
        names = [n for n, p in model.named_parameters() if p is param] if isinstance(model, nn.Module) else []
        key = parts[at + 2]
        every = '.'.join(parts[:at + 1] + ['*'] + parts[at + 2:])
        instead = (f'the base {".".join(parts[:at] + [key])} (every group, its paramwise_cfg multiplier kept) or '
                   if key in BASE_KEYS and len(parts) == at + 3 else '')
        raise ValueError(f'{owner} writes {path}, the {key} of group {index} of {len(groups)}, which holds one '
                         f'parameter ({names[0] if names else "unnamed"}): under paramwise_cfg mmengine\'s '
                         f'constructor makes one group per parameter, so every other parameter would keep the '
                         f'config\'s value. Target {instead}{every}; give some parameters their own value with '
                         'paramwise_cfg.custom_keys')


def _first_element(runner: Any, path: str, part: str) -> bool:
    """Whether ``part`` indexes the first element of the sequences at ``path`` (``0``, or ``-2`` of a pair)."""
    return part.lstrip('-').isdigit() and any(
        isinstance(v, (list, tuple)) and v and int(part) % len(v) == 0 for v in get_attribute(runner, path))


@HOOKS.register_module()
class SetAttributesHook(Hook):
    """Set fixed values at attribute paths before training: how a learned per-copy hyper-parameter is replayed.

    Args:
        values: ``{path: value}``, e.g. ``{'model.head.loss_module.label_smoothing': 0.1}``.

    Raises:
        ValueError: ``values`` not a non-empty dict; in ``before_train``, a path the runner does not have or that
            is not automl_mm's to set (named with the hook).
    """

    priority = 'HIGH'

    def __init__(self, values: dict[str, Any]) -> None:
        if not isinstance(values, dict) or not values:
            raise ValueError(f'SetAttributesHook needs a non-empty dict of values, got {values!r}')
        self.values = dict(values)

    def before_run(self, runner) -> None:
        establish_base_targets(runner, self.values)  # before a resumed checkpoint's values replace the built ones

    def before_train(self, runner) -> None:
        for path in self.values:
            check_owned_attribute(runner, path, 'SetAttributesHook', self.values[path])
        watch_data_writes(runner, self.values, 'SetAttributesHook')
        for path, value in self.values.items():
            set_attribute(runner, path, value)


@HOOKS.register_module()
class TrunkScheduleHook(Hook):
    """Replay a per-trunk schedule of values at attribute paths, without copies or ``OHLHook``.

    ``OHLHook`` records in its history every copy's values in every trunk (``copy_values``) and exports those the
    final model trained with (:func:`automl_mm.ohl.report.lineage`) as ``schedule_policy.py``, a fragment with
    this hook: retraining from scratch with it sets, at the start of trunk ``k`` (before its first iteration, where
    ``OHLHook`` applied the samples of trunk ``k``), the ``k``-th value of each path; after the last recorded trunk
    the last value stays. Trunk ``k`` covers epochs
    ``[k * trunk_epochs, (k + 1) * trunk_epochs)`` or iterations ``[k * trunk_iters, (k + 1) * trunk_iters)``. A
    resumed run sets the value of the trunk it resumes in before its first iteration. A data path (module
    docstring) is set before the trunk's first batch is loaded (after the previous iteration), the others before
    its first iteration runs.

    Args:
        values: ``{path: [value of trunk 0, value of trunk 1, ...]}`` (non-empty lists).
        trunk_epochs: Trunk length in epochs (epoch-based loops).
        trunk_iters: Trunk length in iterations; give exactly one of the two.

    Raises:
        ValueError: an empty ``values`` or list, or not exactly one positive trunk length; at ``before_train``,
            ``trunk_epochs`` under an ``IterBasedTrainLoop`` (one epoch: the first value all run), and any trunk's
            value its write would refuse or outside the target's range (:mod:`automl_mm.ohl.value_ranges`), named
            with its trunk (it stopped the run, or trained with it, when that trunk came).
    """

    priority = 'HIGH'

    def __init__(self, values: dict[str, list], trunk_epochs: int | None = None,
                 trunk_iters: int | None = None) -> None:
        if not isinstance(values, dict) or not values or not all(isinstance(v, (list, tuple)) and v
                                                                 for v in values.values()):
            raise ValueError(f'TrunkScheduleHook needs {{path: non-empty list of per-trunk values}}, got {values!r}')
        lengths = [n for n in (trunk_epochs, trunk_iters) if n is not None]
        if len(lengths) != 1 or not isinstance(lengths[0], int) or lengths[0] < 1:
            raise ValueError('TrunkScheduleHook needs exactly one positive trunk_epochs / trunk_iters, got '
                             f'trunk_epochs={trunk_epochs}, trunk_iters={trunk_iters}')
        self.values = {path: list(v) for path, v in values.items()}
        self.trunk_epochs, self.trunk_iters = trunk_epochs, trunk_iters

    def before_run(self, runner) -> None:
        establish_base_targets(runner, self.values)  # before a resumed checkpoint's values replace the built ones

    def trunk_of(self, epoch: int, iteration: int) -> int:
        """The trunk that epoch ``epoch`` / iteration ``iteration`` (0-based) belongs to."""
        return iteration // self.trunk_iters if self.trunk_iters else epoch // self.trunk_epochs

    def _apply(self, runner, trunk: int, data: bool | None = None) -> None:
        """Set trunk ``trunk``'s values: of every path, or only of the data paths (``data=True``) or the others."""
        for path, values in self.values.items():
            if data is None or data == is_data_path(path):
                set_attribute(runner, path, values[min(trunk, len(values) - 1)])

    def before_train(self, runner) -> None:
        from .checks import check_trunk_epochs_loop

        # an exported epoch schedule in an iteration-based retrain config replayed its first value all run
        check_trunk_epochs_loop(runner, self.trunk_epochs, 'TrunkScheduleHook')
        for path in self.values:
            check_owned_attribute(runner, path, 'TrunkScheduleHook')
            for trunk, value in enumerate(self.values[path]):
                # every trunk's value now, not when its trunk comes (SGD's momentum of 1.2 at trunk 5 stopped the
                # run there, a transform's prob of 1.5 trained with it): as the write would check it
                try:
                    check_written_value(runner, path, value)
                    check_value(runner, path, value)  # a loss's label_smoothing, which checks itself when written
                except ValueError as err:
                    raise ValueError(f'TrunkScheduleHook: trunk {trunk}: {err}') from None
        watch_data_writes(runner, self.values, 'TrunkScheduleHook')
        self._apply(runner, self.trunk_of(runner.epoch, runner.iter))

    def before_train_epoch(self, runner) -> None:
        if self.trunk_epochs and runner.epoch % self.trunk_epochs == 0:
            self._apply(runner, self.trunk_of(runner.epoch, runner.iter))

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        # data_batch was loaded already: the data paths were set after the previous iteration
        if self.trunk_iters and runner.iter % self.trunk_iters == 0:
            self._apply(runner, self.trunk_of(runner.epoch, runner.iter), data=False)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        done = runner.iter + 1  # the next iteration's batch is loaded next
        if self.trunk_iters and done % self.trunk_iters == 0 and done < runner.max_iters:
            self._apply(runner, self.trunk_of(runner.epoch, done), data=True)
