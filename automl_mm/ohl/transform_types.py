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

The class alone did not tell two transforms of one class apart: a second ``RandomFlip`` inserted before the searched
one (at its index) received the replayed ``prob``, silently. So each prefix records also which of its list's
transforms of that class the search wrote to, ``{'type': 'module.QualName', 'nth': k, 'count': n}`` (the k-th, from
0, of the n transforms of the class in that list, subclasses counted as the class), and the hooks refuse a list
with another number of transforms of the class, or the prefix at another of them (a transform of the class inserted
or removed anywhere in the list: which one the search wrote to cannot be told by position then), naming the
pipeline key, both counts and the indices. Exports written before (a bare class name per prefix) are still loaded
and checked by class only.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from automl_mm.utils.wording import a_name, a_type

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


def _of_its_class(obj: Any, transforms: Any, expected: str) -> tuple[int | None, list[int]]:
    """``(k, indices)``: the indices of ``transforms`` holding a transform of the class named ``expected`` (or a
    subclass), and which of them (``k``, from 0) is ``obj`` (``None``: ``obj`` is not in the list)."""
    same = [i for i, t in enumerate(transforms) if _is_a(type(t), expected)]
    k = next((n for n, i in enumerate(same) if transforms[i] is obj), None)
    return k, same


def transform_types(runner: Any, paths: Iterable[str]) -> dict[str, dict | str]:
    """``{prefix: {'type': class name, 'nth': k, 'count': n}}`` for every :func:`transform_prefixes` prefix of
    ``paths`` that resolves on ``runner`` to transforms of one class (a prefix that does not resolve is left out:
    its writer names it): the transform there is the k-th (from 0) of the n transforms of its class in its list.
    Where a ``*`` fan-out reaches lists that disagree on ``k`` or ``n``, the class name alone is recorded.

    Returns:
        ``{'train_dataloader.dataset.pipeline.transforms.1': {'type': 'automl_mm.augment.policy.OHLAutoAugment',
        'nth': 0, 'count': 1}}``, in the order of ``paths``.
    """
    out: dict[str, dict | str] = {}
    for path in paths:
        if not isinstance(path, str):
            continue
        for prefix in transform_prefixes(path):
            if prefix in out:
                continue
            try:
                found = get_attribute(runner, prefix)
                lists = get_attribute(runner, prefix.rsplit('.', 1)[0])
            except (ValueError, AttributeError, KeyError, IndexError, TypeError):
                continue
            names = {class_name(type(obj)) for obj in found}
            if len(names) != 1:
                continue
            name = names.pop()
            places = set()
            for obj, transforms in zip(found, lists):
                k, same = _of_its_class(obj, transforms, name)
                places.add((k, len(same)))
            (k, count), = places if len(places) == 1 else ((None, 0), )
            out[prefix] = name if k is None else {'type': name, 'nth': k, 'count': count}
    return out


def _recorded(key: str, value: Any, owner: str) -> tuple[str, int | None, int | None]:
    """``(class name, nth, count)`` of a ``transform_types`` value: ``{'type', 'nth', 'count'}`` or, as exported
    before the forty-seventh session, the class name alone (``nth`` and ``count`` ``None``: checked by class only).

    Raises:
        ValueError: any other value, naming ``owner`` and ``key``.
    """
    if isinstance(value, str):
        return value, None, None
    if isinstance(value, dict) and set(value) == {'type', 'nth', 'count'} and isinstance(value['type'], str):
        nth, count = value['nth'], value['count']
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (nth, count)) and 0 <= nth < count:
            return value['type'], nth, count
    raise ValueError(f"{owner}: transform_types[{key!r}] must be {{'type': 'module.Class', 'nth': k, 'count': n}} "
                     f"(the k-th, from 0, of the n transforms of that class in the list; 0 <= k < n) or, as older "
                     f"exports wrote it, 'module.Class'; got {value!r}")


def check_transform_types_arg(types: Any, paths: Iterable[str], owner: str) -> dict[str, dict | str]:
    """``types`` (a replay hook's ``transform_types``) as a dict, checked against the hook's ``paths``.

    Raises:
        ValueError: ``types`` is not a dict keyed by strings, a value is neither ``{'type', 'nth', 'count'}`` nor a
            class name (:func:`_recorded`), or a key is not a ``...transforms.<i>`` prefix of one of ``paths`` (a key
            checked nothing), naming ``owner`` and the key.
    """
    if types is None:
        return {}
    if not isinstance(types, dict) or not all(isinstance(k, str) for k in types):
        raise ValueError(f"{owner}: transform_types must be {{'...pipeline.transforms.<i>': {{'type': "
                         f"'module.Class', 'nth': k, 'count': n}}}}, got {types!r}")
    types = {k: dict(v) if isinstance(v, dict) else v for k, v in types.items()}  # a ConfigDict as a dict
    for key, value in types.items():
        _recorded(key, value, owner)
    prefixes = {prefix for path in paths for prefix in transform_prefixes(path)}
    for key in types:
        if key not in prefixes:
            raise ValueError(f'{owner}: transform_types key {key!r} is not the ...transforms.<i> part of any '
                             f'path in values ({sorted(prefixes) or "none indexes a pipeline"})')
    return dict(types)


def check_transform_types(runner: Any, types: dict[str, dict | str], paths: Iterable[str], owner: str) -> None:
    """Refuse a pipeline transform at a recorded prefix that is not of the recorded class, or not the recorded one
    of the transforms of that class in its list (module docstring).

    Args:
        runner: The run whose pipeline is checked (``before_train``: its training dataloader is built).
        types: ``{prefix: {'type': class name, 'nth': k, 'count': n}}`` (:func:`transform_types`), or
            ``{prefix: class name}`` (older exports: the class is checked only).
        paths: The hook's paths (its ``values``' keys), for the suggestion.
        owner: Named in the error (``'SetAttributesHook'``).

    Raises:
        ValueError: naming ``owner``, the path, the expected and the found class, and, where exactly one transform
            of the expected class is in that list, the paths with its index to give instead; or, for a transform of
            the class, the pipeline key, the search's and this pipeline's count of transforms of the class and
            their indices.
    """
    paths = list(paths)
    for prefix, recorded in types.items():
        expected, nth, count = _recorded(prefix, recorded, owner)
        parent, index = prefix.rsplit('.', 1)
        found = get_attribute(runner, prefix)  # an index past the list's end: named by get_attribute
        lists = get_attribute(runner, parent)
        for obj, transforms in zip(found, lists):
            short = expected.rsplit('.', 1)[-1]
            if _is_a(type(obj), expected):
                k, same = _of_its_class(obj, transforms, expected)
                if nth is None or (k, len(same)) == (nth, count):
                    continue
                from automl_mm.engine.preflight_option_targets import config_key

                pipeline = (config_key(prefix) or prefix).rsplit('.', 1)[0]
                raise ValueError(
                    f'{owner}: the train pipeline {pipeline} holds {len(same)} {short} transform(s), at indices '
                    f'{same}, and {prefix} is '
                    f'the one numbered {k} of them (from 0); the search\'s pipeline held {count}, and the search '
                    f'wrote to the one numbered {nth}: {a_name(short)} was inserted or removed, so the learned value '
                    f'could be written onto another {short} than the search\'s. Make the train pipeline\'s '
                    f'{short}s those of the search, or, knowing which one the search used, give its index in values '
                    f"and transform_types with 'nth' and 'count' of this pipeline")
            same = [i for i, t in enumerate(transforms) if _is_a(type(t), expected)]
            moved = [f'{parent}.{same[0]}{p[len(prefix):]}' for p in paths
                     if p == prefix or p.startswith(prefix + '.')] if len(same) == 1 else []
            hint = (f'; the pipeline has one {short}, at index {same[0]}: write to {", ".join(moved)} instead '
                    f'(transform_types keyed {parent}.{same[0]})' if len(same) == 1 else
                    f'; the pipeline has {len(same)} {short}s, at indices {same}: target the one the search '
                    'used' if same else f'; the pipeline has no {short}')
            raise ValueError(
                f'{owner}: {prefix} is {a_type(obj)} ({class_name(type(obj))}), not the {short} '
                f'({expected}) the search wrote to: this config\'s train pipeline differs from the search\'s '
                f'(a transform inserted or removed before index {index}), so the learned value would be written '
                f'onto another transform{hint}')


__all__ = ['check_transform_types', 'check_transform_types_arg', 'class_name', 'transform_prefixes',
           'transform_types']
