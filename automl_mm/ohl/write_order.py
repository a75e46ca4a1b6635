"""The order in which overlapping attribute paths are written: wider paths first, so the narrower one wins.

Two paths of :mod:`automl_mm.ohl.attributes` can reach one value: ``optim_wrapper.optimizer.param_groups.*.lr``
and ``optim_wrapper.optimizer.param_groups.0.lr`` both write group 0's lr, the base form
``optim_wrapper.optimizer.lr`` writes every group's, ``...param_groups.0.betas`` the tuple that
``...param_groups.0.betas.0`` writes into. Written one after the other, the last write is the value trained with.
The replay hooks (``SetAttributesHook``, ``TrunkScheduleHook``, the model paths set before a test) used to write
their ``values`` in their dict's order, which the config does not keep: mmengine's ``Config.dump`` sorts dict keys
(the work_dir copy of a config, and the config automl_mm's launcher hands to locally started workers), so
``{'...param_groups.*.lr': 0.1, '...param_groups.0.lr': 0.5}`` was replayed as group 0 at 0.5, then every group at
0.1: group 0 trained at 0.1, silently.

The canonical order, independent of any dict's order: a path that *covers* another (writes every value the other
writes, and more: a ``*`` over the groups covers one group's index, the base form covers every group key, a tuple
covers its elements) is written before it, so the narrower path wins. The search writes its spaces in space order
(``OHLHook``); :func:`check_search_order` refuses, before the first trunk, spaces whose overlapping paths that order
would write otherwise, so the search and its replay write the same values. Paths that reach the same values both
ways (two spellings of one value, ``optim_wrapper.param_groups.0.lr`` and ``optim_wrapper.optimizer.param_groups.0.lr``,
or the base form and ``param_groups.*.lr``) or that overlap without one covering the other have no order that
means anything: :func:`write_order` refuses them where their values differ, naming both paths.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .attribute_paths import SEQUENCES, base_target, path_chains, resolve_attribute
from .attributes import _is_base_form

Location = tuple[int, Any]  # (id of the container, its normalised key or index)


def _key(node: Any, part: str) -> Any:
    if isinstance(node, SEQUENCES) and part.lstrip('-').isdigit():
        return int(part) % max(len(node), 1)
    return part


def _written(runner: Any, path: str) -> list[list[Location]]:
    """Per value ``path`` writes, the locations from the root down to it (the last one written)."""
    base = base_target(runner, path)
    if base is not None:  # every group's key of the optimisers (automl_mm.ohl.optimizer_base)
        optimizers, key = base
        return [[(id(optimizer.param_groups), i), (id(group), key)]
                for optimizer in optimizers for i, group in enumerate(optimizer.param_groups)]
    last = path.split('.')[-1]
    out = []
    for chain in path_chains(runner, path, end=-1):
        nodes = [node for _, node in chain]
        parts = [part for part, _ in chain[1:]] + [last]
        out.append([(id(node), _key(node, part)) for node, part in zip(nodes, parts)])
    return out


def _covers(wide: list[list[Location]], narrow: list[list[Location]]) -> bool:
    """Whether every value of ``narrow`` is written by ``wide`` (itself or a container holding it)."""
    ends = {chain[-1] for chain in wide}
    return bool(narrow) and all(any(loc in ends for loc in chain) for chain in narrow)


def _overlap(a: list[list[Location]], b: list[list[Location]]) -> bool:
    ends_a, ends_b = {c[-1] for c in a}, {c[-1] for c in b}
    return any(loc in ends_a for c in b for loc in c) or any(loc in ends_b for c in a for loc in c)


def write_order(runner: Any, values: dict[str, Any], owner: str,
                same: Callable[[Any, Any], bool] = lambda a, b: a == b) -> list[str]:
    """The paths of ``values`` in the order to write them: a path covering another before it (module docstring),
    otherwise in ``values``' order. Independent of ``values``' order wherever the order changes what is written.

    Args:
        runner: The runner the paths resolve on.
        values: ``{path: value}`` (a ``TrunkScheduleHook``'s per-trunk lists as values).
        owner: Named in errors (``'SetAttributesHook'``).
        same: Whether two paths' values are the same (then their order does not matter).

    Raises:
        ValueError: two paths that reach the same value with different values, neither covering only part of the
            other (the same values both ways, or a partial overlap), naming ``owner`` and both paths; as
            :func:`~automl_mm.ohl.attribute_paths.path_chains` for a path that does not resolve.
    """
    paths = list(values)
    written = {path: _written(runner, path) for path in paths}
    covered = {p: 0 for p in paths}  # how many other paths p strictly covers
    for i, a in enumerate(paths):
        for b in paths[i + 1:]:
            if not _overlap(written[a], written[b]):
                continue
            ab, ba = _covers(written[a], written[b]), _covers(written[b], written[a])
            if ab != ba:
                covered[a if ab else b] += 1
            elif not same(values[a], values[b]):
                how = 'reach the same values' if ab else 'overlap, neither covering the other,'
                raise ValueError(f'{owner}: attribute paths {a!r} and {b!r} {how} with different values '
                                 f'({values[a]!r} and {values[b]!r}): which one is trained with would depend on the '
                                 'order they are written in, which a dumped config does not keep (mmengine sorts '
                                 'its keys); keep one of them')
    # a path covering another covers everything that one covers too: more covered paths, written earlier
    return sorted(paths, key=lambda p: -covered[p])


def _space_paths(runner: Any, space: Any) -> list[tuple[str, list[list[Location]]]]:
    """``(path, what it writes)`` of the attribute paths ``space`` writes: an ``AttributeSpace``'s ``targets``
    (resolved in its ``setup``); another space's (a user's ``PerCopySpace``) the paths it reports, which its exports
    replay (``scheduled_values``, and ``applied_values`` once it applied a sample), those that resolve on ``runner``
    (another one is named by its replay). A space reporting none (``PipelineChoiceSpace``: it binds its choice
    transforms, it writes no attribute path) has none."""
    from .attribute_space import AttributeSpace

    if isinstance(space, AttributeSpace):
        return [(path, _written(runner, path)) for path in space.targets]
    reported: dict[str, Any] = {}
    for method in ('scheduled_values', 'applied_values'):  # OHLSpace's (None by default)
        values = getattr(space, method, lambda: None)()
        reported.update(values if isinstance(values, dict) else {})
    out = []
    for path in reported:
        try:
            out.append((path, _written(runner, path)))
        except ValueError:  # does not resolve (path_chains)
            continue
    return out


def check_search_order(runner: Any, spaces: Sequence[Any]) -> None:
    """Refuse, before the first trunk, OHL spaces whose attribute paths overlap where ``OHLHook``'s writing order
    (space by space, a later space's write last) is not :func:`write_order`'s (a covering path first): the search
    would train with values its exports' replay (and the best copy's values written into every copy after a
    broadcast, :func:`~automl_mm.ohl.sync.adopt_model_values`) does not set. Every space's paths are checked: an
    ``AttributeSpace``'s (and a space built on it, ``LossFunctionSpace``) ``targets``, and the paths any other space
    reports (a user's ``PerCopySpace`` writing in its own ``apply``: :func:`_space_paths`). Paths of one space are
    not compared: an ``AttributeSpace`` writes one value to all its targets, and a space of the user's must write
    its own overlapping paths a covering one first (``automl_mm.testing.check_ohl_space`` compares what its targets
    hold with what it reports).

    Raises:
        ValueError: naming both spaces and both paths, and the order to list them in.
    """
    seen: list[tuple[str, str, list[list[Location]]]] = []
    for space in spaces:
        mine = [(space.name, path, written) for path, written in _space_paths(runner, space)]
        for name, path, written in seen:
            for _, own, own_written in mine:
                if name == space.name or not _overlap(written, own_written):
                    continue
                if _covers(written, own_written) and not _covers(own_written, written):
                    continue  # the earlier space's wider path, then the later's narrower one: the canonical order
                if _covers(own_written, written) and not _covers(written, own_written):
                    fix = f'list OHL space {space.name!r} before {name!r}'
                else:
                    fix = 'they reach the same values (or overlap in part): target them from one space'
                raise ValueError(f'OHL spaces {name!r} and {space.name!r} write overlapping attribute paths '
                                 f'{path!r} and {own!r}: the search writes the later space last, while replaying '
                                 'its exports writes a covering path first and the narrower one last (a dumped '
                                 f'config keeps no order), so the retrained model would train with other values; '
                                 f'{fix}')
        seen += mine


def check_declared_writes(runner: Any, space: Any, paths: Sequence[str], when: str) -> None:
    """Refuse attribute paths ``space`` wrote (through :func:`~automl_mm.ohl.attributes.set_attribute`, recorded by
    :func:`~automl_mm.ohl.attributes.recording_writes` around its ``setup`` and ``begin_trunk``) that reach values no
    path it reports reaches (:func:`_space_paths`: an ``AttributeSpace``'s ``targets``, another space's
    ``scheduled_values`` and ``applied_values``). :func:`check_search_order` and :func:`check_replay_hooks` compare
    only the reported paths: a user's space writing ``model.pair`` in its ``apply`` while reporting
    ``model.other`` escaped them, and listed after a space searching ``model.pair.0`` it overwrote that space's
    samples, silently; the replay of its exports and the best copy's values written into every copy
    (:func:`~automl_mm.ohl.sync.adopt_model_values`) left the path out as well. A path that does not resolve is left
    out (:func:`set_attribute` refused it already).

    ``paths`` also holds the values found changed without ``set_attribute`` (``recording_writes(runner)``,
    :mod:`automl_mm.ohl.state_writes`). Another attribute of an object (not a dict, list or tuple) whose attribute a
    reported path writes, or a value in plain containers it holds, is taken as that write's own: a property setter's
    derived state (an augmentation op's ``magnitude`` setter sets ``_magnitude``, and Posterize's ``bits``; a loss's
    checked ``label_smoothing`` is kept in ``_checked_label_smoothing``, its ``class_weight`` list in
    ``_checked_class_weight``, whose elements are seen changed: :func:`_setter_state`). So a space writing, without
    reporting it, another attribute of an object it reports one of is not seen; an optimiser group's other key is (a
    dict has no setter).

    Args:
        runner: The runner the paths resolve on.
        space: The OHL space that wrote ``paths``.
        paths: The paths it wrote.
        when: Named in the error (``'setup'``, ``'trunk 0'``).

    Raises:
        ValueError: naming the space, the path written and the paths it reports.
    """
    declared = _space_paths(runner, space)
    names = {path for path, _ in declared}
    chains = [chain for _, written in declared for chain in written]
    owners = _attribute_owners(runner, names)
    for path in dict.fromkeys(paths):
        if path in names:
            continue
        try:
            written = _written(runner, path)
        except ValueError:
            continue
        if written and _setter_state(runner, path, owners):
            continue  # another attribute of an object a reported path writes: that write's setter (docstring)
        if not _covers(chains, written):
            raise ValueError(f'OHL space {space.name!r} ({type(space).__name__}) wrote attribute path {path!r} in '
                             f'{when} but reports only {sorted(names)} (its scheduled_values / applied_values): '
                             'the order check against the other spaces, the replay of its exports and the best '
                             "copy's values written into every copy all leave that write out. Report every path "
                             'the space writes in its scheduled_values and applied_values')


def _setter_state(runner: Any, path: str, owners: set[int]) -> bool:
    """Whether every value ``path`` names is another attribute of an object in ``owners`` (ids,
    :func:`_attribute_owners`), or inside plain containers (dicts, lists, tuples) such an attribute holds: a loss's
    checked ``class_weight`` keeps its list in ``_checked_class_weight``, whose elements the state comparison sees
    changed (``..._checked_class_weight.0``) when the space writes the whole list."""
    for chain in path_chains(runner, path, end=-1):
        nodes = [node for _, node in chain]
        at = [i for i, node in enumerate(nodes) if id(node) in owners]
        if not at or not all(isinstance(node, (dict, list, tuple)) for node in nodes[at[-1] + 1:]):
            return False
    return True


def _attribute_owners(runner: Any, paths: Sequence[str]) -> set[int]:
    """Ids of the objects (not a dict, list or tuple: those have no setter) whose attribute one of ``paths`` writes;
    a base-form path writes group dicts, no object's attribute."""
    owners: set[int] = set()
    for path in paths:
        try:
            pairs = resolve_attribute(runner, path)
        except ValueError:
            continue
        if not _is_base_form(pairs):
            owners.update(id(node) for node, _ in pairs if not isinstance(node, (dict, list, tuple)))
    return owners


def check_replay_hooks(runner: Any, spaces: Sequence[Any]) -> None:
    """Refuse, before the first trunk, a replay hook of the run (``SetAttributesHook``, ``TrunkScheduleHook``) that
    writes an attribute path an OHL space writes (the same values, a covering path or a narrower one).

    Both write the value the copies train with, at other moments: a ``SetAttributesHook`` before training, and
    every trunk's samples replaced its value (the config's value was never trained with, silently); a
    ``TrunkScheduleHook`` at its own trunk starts, in ``before_train_iter`` of an iteration loop, after ``OHLHook``
    had applied the trunk's samples, so the copies trained with the schedule's value while the history, the
    rewards' credit and the exports named the samples, silently. A path that does not resolve is left to the hook,
    which refuses it.

    Raises:
        ValueError: naming the hook (its config key where the runner's config has it), its path, the space and the
            space's path.
    """
    from .checks import _hook_keys
    from .replay_hooks import SetAttributesHook, TrunkScheduleHook

    hooks = [h for h in getattr(runner, 'hooks', []) if isinstance(h, (SetAttributesHook, TrunkScheduleHook))]
    if not hooks:
        return
    searched = [(space.name, path, written) for space in spaces for path, written in _space_paths(runner, space)]
    keys = _hook_keys(runner)
    for hook in hooks:
        for path in hook.values:
            try:
                written = _written(runner, path)
            except ValueError:  # does not resolve: the hook names it
                continue
            for name, target, target_written in searched:
                if _overlap(written, target_written):
                    key = keys.get(type(hook), type(hook).__name__)
                    raise ValueError(
                        f'{key} ({type(hook).__name__}) writes {path!r}, which OHL space {name!r} searches '
                        f'({target!r}): the copies would train with one of the two values while the search credits '
                        'its samples (a SetAttributesHook value is replaced at every trunk start, a TrunkScheduleHook '
                        'value replaces the samples where it writes after them). Remove the path from the hook, or '
                        'the space')
