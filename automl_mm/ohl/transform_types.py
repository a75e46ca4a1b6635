"""The class of the pipeline transform an attribute path indexes, recorded by the exports and checked by the replay.

A path into a built pipeline names its transform by position, ``train_dataloader.dataset.pipeline.transforms.<i>``
(or ``train_loop.dataloader...transforms.<i>``, nested: ``...transforms.<i>.transforms.<j>``). An exported
``SetAttributesHook`` (``final_policy.py``) or ``TrunkScheduleHook`` (``schedule_policy.py``) merged into a config
whose train pipeline differs from the search's (a stock mmdet config with another transform before it) wrote the
learned value onto whichever transform sits at ``<i>`` there, or failed far from the cause, silently or not. The
exports now record, per ``...transforms.<i>`` prefix of their paths, the class of the transform the search wrote to
(``transform_types``: ``{prefix: 'module.QualName'}``); the hooks refuse, before writing anything, a transform at
that prefix that is not of that class (nor a subclass: the exported ``FixedAutoAugment`` in place of the search's
``OHLAutoAugment``), naming the path, the expected and the found class, and the index of the one transform of the
expected class in that list where there is exactly one.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .attributes import get_attribute


def class_name(cls: type) -> str:
    """``'module.QualName'`` of ``cls``, as ``transform_types`` records it."""
    return f'{cls.__module__}.{cls.__qualname__}'


def _is_a(cls: type, expected: str) -> bool:
    """Whether ``cls`` is the class named ``expected`` (:func:`class_name`) or a subclass of it."""
    return any(class_name(c) == expected for c in cls.__mro__)


def transform_prefixes(path: str) -> list[str]:
    """Every prefix of ``path`` that ends at an index into a pipeline's transforms, outermost first:
    ``'a.pipeline.transforms.1.transforms.0.prob'`` -> ``['a.pipeline.transforms.1',
    'a.pipeline.transforms.1.transforms.0']`` (a ``*`` fan-out is not an index: not listed)."""
    parts = path.split('.')
    return ['.'.join(parts[:k + 1]) for k in range(1, len(parts))
            if parts[k - 1] == 'transforms' and parts[k].isdigit()]


def transform_types(runner: Any, paths: Iterable[str]) -> dict[str, str]:
    """``{prefix: class name}`` for every :func:`transform_prefixes` prefix of ``paths`` that resolves on
    ``runner`` to transforms of one class (a prefix that does not resolve is left out: its writer names it).

    Returns:
        ``{'train_dataloader.dataset.pipeline.transforms.1': 'automl_mm.augment.policy.OHLAutoAugment'}``, in
        the order of ``paths``.
    """
    out: dict[str, str] = {}
    for path in paths:
        if not isinstance(path, str):
            continue
        for prefix in transform_prefixes(path):
            if prefix in out:
                continue
            try:
                found = get_attribute(runner, prefix)
            except (ValueError, AttributeError, KeyError, IndexError, TypeError):
                continue
            names = {class_name(type(obj)) for obj in found}
            if len(names) == 1:
                out[prefix] = names.pop()
    return out


def check_transform_types_arg(types: Any, paths: Iterable[str], owner: str) -> dict[str, str]:
    """``types`` (a replay hook's ``transform_types``) as a dict, checked against the hook's ``paths``.

    Raises:
        ValueError: ``types`` is not a dict of strings, or a key is not a ``...transforms.<i>`` prefix of one of
            ``paths`` (a key checked nothing), naming ``owner`` and the key.
    """
    if types is None:
        return {}
    if not isinstance(types, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in types.items()):
        raise ValueError(f"{owner}: transform_types must be {{'...pipeline.transforms.<i>': 'module.Class'}}, "
                         f'got {types!r}')
    prefixes = {prefix for path in paths for prefix in transform_prefixes(path)}
    for key in types:
        if key not in prefixes:
            raise ValueError(f'{owner}: transform_types key {key!r} is not the ...transforms.<i> part of any '
                             f'path in values ({sorted(prefixes) or "none indexes a pipeline"})')
    return dict(types)


def check_transform_types(runner: Any, types: dict[str, str], paths: Iterable[str], owner: str) -> None:
    """Refuse a pipeline transform at a recorded prefix that is not of the recorded class (module docstring).

    Args:
        runner: The run whose pipeline is checked (``before_train``: its training dataloader is built).
        types: ``{prefix: class name}`` (:func:`transform_types`).
        paths: The hook's paths (its ``values``' keys), for the suggestion.
        owner: Named in the error (``'SetAttributesHook'``).

    Raises:
        ValueError: naming ``owner``, the path, the expected and the found class, and, where exactly one transform
            of the expected class is in that list, the paths with its index to give instead.
    """
    paths = list(paths)
    for prefix, expected in types.items():
        parent, index = prefix.rsplit('.', 1)
        found = get_attribute(runner, prefix)  # an index past the list's end: named by get_attribute
        lists = get_attribute(runner, parent)
        for obj, transforms in zip(found, lists):
            if _is_a(type(obj), expected):
                continue
            short = expected.rsplit('.', 1)[-1]
            same = [i for i, t in enumerate(transforms) if _is_a(type(t), expected)]
            moved = [f'{parent}.{same[0]}{p[len(prefix):]}' for p in paths
                     if p == prefix or p.startswith(prefix + '.')] if len(same) == 1 else []
            hint = (f'; the pipeline has one {short}, at index {same[0]}: write to {", ".join(moved)} instead '
                    f'(transform_types keyed {parent}.{same[0]})' if len(same) == 1 else
                    f'; the pipeline has {len(same)} {short}s, at indices {same}: target the one the search '
                    'used' if same else f'; the pipeline has no {short}')
            raise ValueError(
                f'{owner}: {prefix} is a {type(obj).__name__} ({class_name(type(obj))}), not the {short} '
                f'({expected}) the search wrote to: this config\'s train pipeline differs from the search\'s '
                f'(a transform inserted or removed before index {index}), so the learned value would be written '
                f'onto another transform{hint}')


__all__ = ['check_transform_types', 'check_transform_types_arg', 'class_name', 'transform_prefixes',
           'transform_types']
