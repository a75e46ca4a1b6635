"""Attribute paths that name a module's registered buffer or parameter (a *tensor slot*), refused by every writer.

A writer of attribute paths (:mod:`automl_mm.ohl.attributes`: an ``AttributeSpace``'s samples, the values of a
``SetAttributesHook`` / ``TrunkScheduleHook``, the model paths ``SearchedValuesHook`` sets before a test) writes a
number or a list. At a path naming a buffer (a BN layer's ``running_mean``, AM-LFS's ``_theta``) or a parameter (a
layer's ``weight``) torch takes only a tensor, so the write stopped the run with its bare
``TypeError: cannot assign 'float' as buffer 'running_mean'`` after every start check had passed, and a path indexing
into one (``_theta.0``) named only a tensor without an attribute ``'0'``. Such a path is refused instead, before
anything is written (:func:`check_tensor_slot`), rather than written with ``fill_`` / ``copy_``: a buffer or
parameter is the module's state, which training updates and a checkpoint (``resume``, ``load_from``) restores, so a
value written into it before training was either overwritten or silently replaced the state loaded with the weights.
A module's initial weights are set by its ``init_cfg``; AM-LFS's θ through the loss's ``theta`` property, which
checks and projects what is written.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from torch import nn

from .attribute_paths import path_chains


class TensorSlot(NamedTuple):
    """A buffer or parameter a path names (``element``: the path goes on into it, to an index or to its ``data`` /
    ``grad``)."""

    module: nn.Module
    name: str
    kind: str  # 'buffer' or 'parameter'
    path: str  # the path up to it
    element: bool


#: Attributes of a tensor that hold its values (``weight.data``) or its gradient's: a path through a buffer or
#: parameter to one of them writes the slot's values, which torch takes only as a tensor.
TENSOR_VALUES = frozenset({'data', 'grad'})


def tensor_slot(runner: Any, path: str) -> TensorSlot | None:
    """The first registered buffer or parameter of a module that ``path`` names, or indexes into
    (``model.loss_module._theta.0``: integers after it, which the walk of a path cannot take into a tensor); ``None``
    where it names none. A path through a slot to the tensor's values (``weight.data``, ``running_mean.grad``, or an
    element of them: :data:`TENSOR_VALUES`) names it too: torch takes only a tensor there, and refused the write
    with its bare ``TypeError`` (``Variable data has to be a tensor, but got list``). One to another attribute of
    the tensor (``weight.requires_grad``) is not a write of its values and passes; a part that does not resolve ends
    the walk (its writer names it).
    """
    parts = path.split('.')
    for chain in path_chains(runner, path, tolerant=True):
        for depth in range(1, len(chain)):
            holder, name = chain[depth - 1][1], chain[depth][0]
            if not isinstance(holder, nn.Module):
                continue
            kind = 'buffer' if name in holder._buffers else 'parameter' if name in holder._parameters else None
            rest = parts[depth + 1:]
            indices = rest[1:] if rest and rest[0] in TENSOR_VALUES else rest
            if kind is None or not all(p.lstrip('-').isdigit() for p in indices):
                continue
            return TensorSlot(holder, name, kind, '.'.join(parts[:depth + 1]), bool(rest))
    return None


def tensor_slot_problem(path: str, slot: TensorSlot) -> str:
    """What is wrong with writing ``path`` (``attribute path '<path>' is the buffer '<name>' of the module <class>
    (a tensor), ...``)."""
    where = f'the {slot.kind} {slot.name!r} of the module {type(slot.module).__name__} (a tensor)'
    rest = path[len(slot.path) + 1:].split('.') if slot.element else []
    if rest and rest[0] in TENSOR_VALUES:
        return (f'attribute path {path!r} writes the {rest[0]} of {where}, which torch takes only as a tensor: the '
                f'write would stop the run (TypeError: ... has to be a tensor)')
    if slot.element:
        return f'attribute path {path!r} indexes into {where}, whose elements an attribute path does not reach'
    return (f'attribute path {path!r} is {where}, where torch takes no number or list: the write would stop the run '
            f'(TypeError: cannot assign ... as {slot.kind} {slot.name!r})')


def check_tensor_slot(runner: Any, path: str, owner: str | None = None) -> None:
    """Refuse ``path`` where it names a module's buffer or parameter, indexes into one or names its ``data`` /
    ``grad`` (:func:`tensor_slot`), before anything is written: ``SetAttributesHook`` / ``TrunkScheduleHook`` in
    ``before_train`` (through :func:`~automl_mm.ohl.ownership.check_owned_attribute`), the model paths set before a
    test or validation, :func:`~automl_mm.ohl.attributes.set_attribute`, and ``tools/train.py``'s config check of
    the replay hooks' model paths. An OHL space gives its own advice (``AttributeSpace.check_tensor_slot``).

    Raises:
        ValueError: ``<owner>: attribute path '<path>' is the buffer '<name>' of the module <class> (a tensor) ...``
            with what to write instead: an ``AMLFSLoss``'s ``theta`` for its ``_theta``, else a setting the module
            reads (its ``init_cfg`` for initial weights).
    """
    from automl_mm.losses.am_lfs import AMLFSLoss

    slot = tensor_slot(runner, path)
    if slot is None:
        return
    found = f'{owner}: ' if owner else ''
    found += tensor_slot_problem(path, slot)
    if isinstance(slot.module, AMLFSLoss) and slot.name == '_theta':
        theta = slot.path.rsplit('.', 1)[0] + '.theta'
        raise ValueError(f'{found}; write the whole θ to the loss\'s theta property ({theta}), which checks and '
                         'projects it (the path a LossFunctionSpace exports)')
    raise ValueError(f'{found}; a module\'s {slot.kind} is its state, which training updates and a checkpoint '
                     'restores, not a setting: write a setting the module reads instead (e.g. a BN layer\'s momentum, '
                     'a loss\'s loss_weight), and give initial weights with the module\'s init_cfg')
