"""Element paths: an attribute path that goes on past an object's attribute into the list, tuple or dict it holds.

``...transforms.4.border_val.0`` is channel 0 of ``RandomAffine``'s ``border_val`` (a tuple), ``...loss_cls.
class_weight.1`` one weight of a loss's list, ``...transforms.2.pad_val.img`` the image entry of mmcv's ``Pad``'s
``pad_val`` (a dict), ``optim_wrapper.clip_grad_kwargs.max_norm`` a key of mmengine's ``OptimWrapper``'s clipping
settings. What is known of such a setting (its range, whether it takes real numbers, how it is stored) is known of the
object's attribute, so every check of a written value asks :func:`element_attribute` which attribute of which object
holds the element, and with which keys below it: the one walk of an element, list indices and dict keys alike.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NamedTuple


class Element(NamedTuple):
    """Where a chain ends at an element: ``owner`` (an object, not a list, tuple or dict) holds it in its attribute
    ``attribute`` (whose value is ``held``, at ``path``), ``keys`` below it (from the attribute down: list indices as
    written, dict keys)."""

    owner: Any
    attribute: str
    path: str
    keys: tuple[str, ...]
    held: Any

    @property
    def setting(self) -> str:
        """The attribute and the dict keys below it, list indices left out: the name the tables of settings use
        (``border_val`` for ``border_val.0``, ``pad_val.img`` for ``pad_val.img``, ``class_weight`` for
        ``class_weight.3``)."""
        names, node = [self.attribute], self.held
        for key in self.keys:
            if isinstance(node, Mapping):
                names.append(key)
                node = node[key]
            else:
                node = node[int(key)]
        return '.'.join(names)


def steps_into(parent: Any, part: str) -> bool:
    """Whether ``part`` names an element of ``parent``: an integer index of a list or tuple, or a key of a dict."""
    if isinstance(parent, (list, tuple)):
        return part.lstrip('-').isdigit()
    return isinstance(parent, Mapping)


def element_attribute(chain: list[tuple[str, Any]]) -> Element | None:
    """The :class:`Element` where ``chain`` (:func:`~automl_mm.ohl.attribute_paths.path_chains`) ends at an element of a
    list, tuple or dict (one index or key, or several into nested ones) that an object's attribute holds:
    ``...transforms.4.border_val.0`` gives ``Element(RandomAffine, 'border_val', '...transforms.4.border_val',
    ('0',), (114, 114, 114))``; else ``None`` (a chain ending at an attribute, or one whose containers start at the
    root)."""
    k = len(chain) - 1
    while k >= 1 and steps_into(chain[k - 1][1], chain[k][0]):
        k -= 1
    if k == len(chain) - 1 or k < 1:
        return None
    return Element(chain[k - 1][1], chain[k][0], '.'.join(part for part, _ in chain[:k + 1]),
                   tuple(part for part, _ in chain[k + 1:]), chain[k][1])


def element_attributes(chains: list[list[tuple[str, Any]]]) -> list[Element]:
    """:func:`element_attribute` of each of ``chains`` that ends at an element."""
    return [found for chain in chains if (found := element_attribute(chain)) is not None]


def replaced(held: Any, keys: tuple[str, ...], value: Any) -> Any:
    """A copy of ``held`` (lists, tuples and dicts down ``keys`` copied, the rest shared) with ``value`` at ``keys``:
    what an attribute holds after an element write, for a check that reads the whole (a loss's ``class_weight``)."""
    if not keys:
        return value
    key, rest = keys[0], keys[1:]
    if isinstance(held, Mapping):
        whole = copy.copy(held)
        whole[key] = replaced(held[key], rest, value)
        return whole
    items = list(held)
    items[int(key)] = replaced(items[int(key)], rest, value)
    if isinstance(held, tuple):
        return held._make(items) if hasattr(held, '_make') else type(held)(items)
    return items
