"""Walking an attribute path: the objects a path names on a runner, and why a path that names nothing does not.

A path is dotted parts from a runner attribute down. Its first part is a runner attribute (``model`` is the model
inside mmengine's wrappers); a name is an attribute, or a key of a dict; an integer indexes a list, a tuple, an
``nn.ModuleList`` or an ``nn.Sequential`` (negative from the end); ``*`` fans out over every element of one of them:
``model.roi_head.bbox_head.*.loss_cls.loss_weight`` (each stage of a Cascade R-CNN),
``optim_wrapper.optimizer.param_groups.0.betas.0`` (Adam's beta1 of the first group). A key of a built optimiser
itself, ``optim_wrapper.optimizer.lr`` or ``...weight_decay``, is its *base* form: each parameter group holds the
base × the multiplier ``paramwise_cfg`` gave it (:mod:`automl_mm.ohl.optimizer_base`).

:func:`path_chains` is the one walk of a path (the checks of what a path reaches walk with it);
:func:`resolve_attribute` gives the ``(container, key)`` pairs that a writer writes (:mod:`automl_mm.ohl.attributes`,
which reads and writes them and still serves every name here). A part that names nothing is refused with the path,
the part and, where one is known, the path meant (a misspelled name, a method in the way, a pipeline's
``transforms``, an ``OptimWrapperDict``'s ``optim_wrappers``, the other optimiser family's momentum).
"""
from __future__ import annotations

from typing import Any

from torch import nn

from automl_mm.utils.wording import a_or_an, a_type

from .optimizer_base import check_base_key, is_optimizer, momentum_hint, read_base


def resolve_attribute(runner: Any, path: str) -> list[tuple[Any, Any]]:
    """``(container, key)`` pairs that ``path`` names; ``*`` fans out over a list or tuple, ``model`` is the unwrapped
    model. A container may be a tuple: write with :func:`~automl_mm.ohl.attributes.set_attribute`, which replaces it
    in its parent.

    A base-form path (``optim_wrapper.optimizer.weight_decay``, module docstring) gives ``(optimizer, key)``.

    Raises:
        ValueError: The path is empty, ends with ``*``, or a part of it does not exist (the message names the path
            and the part); a base-form path whose groups' multipliers cannot be read (a base of 0, naming the
            config key).
    """
    base = base_target(runner, path)
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
            raise ValueError(f'attribute path {path!r}: {last!r} cannot index {a_type(node)} (an integer '
                             f'is needed){_element_hint(node, last, path, len(parts) - 1)}')
        key: Any = int(last) if isinstance(node, (list, tuple)) else last
        if isinstance(node, dict):
            if last not in node:
                raise ValueError(f'attribute path {path!r}: key {last!r} not found'
                                 f'{_momentum_hint(node, last, path, len(parts) - 1) or _close_name_hint(node, last)}')
        elif isinstance(node, (list, tuple)):
            if not -len(node) <= key < len(node):
                raise ValueError(f'attribute path {path!r}: index {key} out of range')
        elif not hasattr(node, last):
            hint = _transforms_hint(node, path, len(parts) - 1) if last.lstrip('-').isdigit() else ''
            raise ValueError(f'attribute path {path!r}: {type(node).__name__} has no attribute {last!r}'
                             f'{hint or _close_name_hint(node, last)}')
        elif _is_method(getattr(node, last)):  # a value written there would replace the method
            raise ValueError(f'attribute path {path!r}: {_method_problem(node, last, path, len(parts) - 1)}')
        pairs.append((node, key))
    return pairs


def base_target(runner: Any, path: str) -> tuple[list[Any], str] | None:
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
    """The object ``path``'s first part names on ``runner``; ``model`` is the model inside mmengine's model wrappers
    and a test-time augmentation wrapper (:func:`~automl_mm.engine.checkpoint.inner_model`, as mmengine's checkpoint
    loading unwraps them: under ``tools/test.py --tta`` a path resolved on ``DetTTAModel`` and the replay hooks
    stopped the test with "DetTTAModel has no attribute ...")."""
    from automl_mm.engine.checkpoint import inner_model

    if tolerant:
        root = getattr(runner, parts[0], None)
        return inner_model(root) if parts[0] == 'model' and root is not None else root
    if not parts[0]:
        raise ValueError(f'empty attribute path {path!r}')
    if parts[0] == 'model':
        return inner_model(runner.model)
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
                   f'{type(node).__name__}{_transforms_hint(node, path, depth)}')
    elif _indexes(node, part):
        if -len(node) <= int(part) < len(node):
            return [(part, node[int(part)])]
        problem = f'index {int(part)} at position {depth} out of range for {a_type(node)} of {len(node)}'
    elif isinstance(node, dict):
        if part in node:
            return [(part, node[part])]
        problem = f'key {part!r} not found{_momentum_hint(node, part, path, depth) or _close_name_hint(node, part)}'
    elif hasattr(node, part) and not _is_method(getattr(node, part)):
        return [(part, getattr(node, part))]
    elif hasattr(node, part):
        problem = _method_problem(node, part, path, depth)
    else:
        problem = (f'{type(node).__name__} has no attribute {part!r}{_optimisers_hint(node, path, depth)}'
                   f'{_transforms_hint(node, path, depth) if part.lstrip("-").isdigit() else ""}')
        if is_optimizer(node):
            problem += _momentum_hint(node.defaults, part, path, depth, 'param_groups.*.')
        if problem.endswith(f'has no attribute {part!r}'):
            problem += _element_hint(node, part, path, depth) or _close_name_hint(node, part)
    if tolerant:
        return None
    raise ValueError(f'attribute path {path!r}: {problem}')


def _element_hint(node: Any, part: str, path: str, depth: int) -> str:
    """``"; did you mean '<path>' (its element <i> is an <part>)?"`` where ``part`` (at ``depth`` of ``path``) names
    the class of elements of the list, tuple or module sequence ``node`` (``hooks.EMAHook.momentum``: the runner's
    hooks are a list in priority order), or a class they derive from (``is a MyEMAHook, a subclass of EMAHook``: the
    range tables key classes along the MRO, so a subclass is what such a name means; ``object`` is not a hint), the
    path with each such element's index in its place; else ``''``."""
    if not isinstance(node, SEQUENCES) or part == 'object':
        return ''
    parts = path.split('.')
    meant = []
    for i, element in enumerate(node):
        cls = type(element).__name__
        if not any(c.__name__ == part for c in type(element).__mro__):
            continue
        what = f'{a_or_an(cls)} {cls}' + ('' if cls == part else f', a subclass of {part}')
        meant.append(f"{'.'.join(parts[:depth] + [str(i)] + parts[depth + 1:])!r} (its element {i} is {what})")
    return f'; did you mean {" or ".join(meant)}?' if meant else ''


def _close_name_hint(node: Any, part: str) -> str:
    """``"; did you mean '<name>'?"`` for the key of dict ``node`` or the public attribute of ``node`` (a module's
    children, parameters and buffers included) closest to the misspelled ``part`` (``loss_weigth``: ``loss_weight``),
    else ``''``."""
    import difflib

    if isinstance(node, dict):
        names = [key for key in node if isinstance(key, str)]
    else:
        try:
            names = [name for name in dir(node) if not name.startswith('_')]
        except Exception:  # noqa: BLE001 - an object whose __dir__ fails gets no guess
            return ''
    close = difflib.get_close_matches(part, names, n=1, cutoff=0.8)
    return f'; did you mean {close[0]!r}?' if close else ''


def _is_method(value: Any) -> bool:
    """Whether ``value`` is a bound method (``LinearClsHead.loss``), which a path can neither pass through nor
    write."""
    import inspect

    return inspect.ismethod(value)


def _method_problem(node: Any, part: str, path: str, depth: int) -> str:
    """Why ``part`` of ``node`` (at ``depth`` of ``path``) ends the path: it is a method (``model.head.loss`` is
    ``LinearClsHead.loss``; the head's loss module is ``loss_module``), not a module or a value, with the path
    through each child module of ``node`` that holds the rest of the path's next part (``; did you mean
    model.head.loss_module.smoothing?``), else the child modules ``node`` has."""
    parts = path.split('.')
    problem = f'{part!r} of {type(node).__name__} is a method, not a module or a value'
    if not isinstance(node, nn.Module):
        return problem
    children = [name for name, _ in node.named_children()]
    rest = parts[depth + 1:]
    meant = ['.'.join(parts[:depth] + [name] + rest) for name in children
             if rest and hasattr(getattr(node, name), rest[0])]
    if meant:
        return f'{problem}; did you mean {" or ".join(meant)}?'
    return f'{problem} (its child modules: {", ".join(children)})' if children else problem


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


def _transforms_hint(node: Any, path: str, depth: int) -> str:
    """Where a pipeline (mmengine's / mmcv's ``Compose``, which a config writes as a list) keeps its transforms:
    ``pipeline.transforms.<i>``; the config's spelling ``pipeline.<i>`` indexes nothing on the built dataset."""
    if not isinstance(getattr(node, 'transforms', None), list):
        return ''
    parts = path.split('.')
    return (f'; {type(node).__name__} keeps its transforms in .transforms: target '
            f'{".".join(parts[:depth] + ["transforms"] + parts[depth:])}')
