"""The trial of every choice an :class:`~automl_mm.augment.random_choice.OHLRandomChoice` can draw, once, at the
first sample of each place and key set where a view wrapper or a second image makes a refusal possible
(:meth:`OHLRandomChoice._try_each_choice`): a refusal then stops every rank there, whatever is drawn.

Here: the refusal told apart from a sub-pipeline's own errors (:class:`_ChoiceRefused`), the transforms nested in a
choice (:func:`_nested`: a choice holding another choice transform is left to its draw), the sample's copy that
shares its data sets (:func:`_trial_copy`), and what a trial leaves as it found it: the tried transforms' attribute
items and own generators (:func:`_transform_states`, :func:`_put_back`) and the numpy / Python / torch random states
(:func:`_random_states`). Moved unchanged from ``choice.py``, which still names them.
"""
from __future__ import annotations

import collections
import copy
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose


class _ChoiceRefused(ValueError):
    """``OHLRandomChoice``'s refusal of what a sub-pipeline did (a view that drops its new values, a second image it
    left behind), told apart from a sub-pipeline's own errors when every choice is tried
    (:meth:`OHLRandomChoice._try_each_choice`)."""


def _nested(transform: Any, depth: int = 0, seen: set | None = None):
    """``transform`` and the transforms nested in it, each once, depth first: what mmcv's ``cache_random_params``
    walks (mmengine's / mmcv's ``Compose`` and wrappers' ``transforms``, an iterable transform's items) and the
    transforms and pipelines its other attributes hold, themselves or in a list, tuple or dict (mmdet's
    ``MultiBranch.branch_pipelines``, mmyolo's ``Mosaic.pre_transform``)."""
    seen = set() if seen is None else seen
    if id(transform) in seen:
        return
    seen.add(id(transform))
    yield transform
    if depth > 8:
        return
    inner = getattr(transform, 'transforms', None)
    if inner is None and isinstance(transform, BaseTransform) and hasattr(transform, '__iter__'):
        inner = list(transform)
    if inner is not None and not isinstance(inner, (list, tuple)):
        inner = [inner]
    items = list(inner or ())
    for name, value in (getattr(transform, '__dict__', None) or {}).items():
        if name == 'transforms':
            continue
        values = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        items += [item for item in values if isinstance(item, (BaseTransform, Compose))]
    for item in items:
        yield from _nested(item, depth + 1, seen)


def _trial_copy(results: dict) -> dict:
    """A deep copy of ``results`` for a trial, sharing the data sets it refers to (a ``torch.utils.data.Dataset``
    among its values or those of the dicts and lists in it, three levels down: mmyolo's datasets put themselves in
    ``results['dataset']``, mmdet's ``MultiImageMixDataset`` samples in ``mix_results``), which no transform
    changes and whose copy would hold every annotation of the set. The copy is held by nothing else (no reference
    cycle): it is freed when the trial drops it, not at the next collection of cycles."""
    memo: dict = {}
    _share_data_sets(results, memo, 0)
    return copy.deepcopy(results, memo)


def _share_data_sets(value: Any, memo: dict, depth: int) -> None:
    """Put the data sets :func:`_trial_copy` shares into the deep copy's ``memo``. A function of its own: a closure
    that calls itself is a reference cycle, which kept the memo, and with it each trial's copy, alive."""
    if isinstance(value, torch.utils.data.Dataset):
        memo[id(value)] = value
    elif depth < 3 and isinstance(value, dict):
        for inner in value.values():
            _share_data_sets(inner, memo, depth + 1)
    elif depth < 3 and isinstance(value, (list, tuple)):
        for inner in value:
            _share_data_sets(inner, memo, depth + 1)


#: Marks an attribute whose value :func:`_put_back` gives back by identity only (no items or generator state).
_NO_STATE = object()


def _attribute_state(value: Any) -> Any:
    """What a trial may change of a transform's attribute ``value`` in place, to put back (:func:`_put_back`): a
    list's, dict's, set's or deque's items (mmdet's ``CachedMosaic`` / ``CachedMixUp`` ``results_cache``), a generator
    of its own's state (numpy's ``Generator`` / ``RandomState``, Python's ``random.Random``, a ``torch.Generator``);
    :data:`_NO_STATE` for other values (put back by identity)."""
    if isinstance(value, (list, dict, set, collections.deque)):
        return copy.copy(value)
    if isinstance(value, np.random.Generator):
        return value.bit_generator.state
    if isinstance(value, random.Random):
        return value.getstate()
    if isinstance(value, (np.random.RandomState, torch.Generator)):
        return value.get_state()
    return _NO_STATE


def _transform_states(pipeline: Any) -> list | None:
    """The attributes of ``pipeline`` and of the transforms nested in it (:func:`_nested`), with what a trial may
    change of their values in place (:func:`_attribute_state`), for :func:`_put_back`; None where one holds an
    iterator (a generator, an open file: a trial's ``next`` cannot be undone) or a value whose items cannot be
    copied."""
    states = []
    for transform in _nested(pipeline):
        attrs = getattr(transform, '__dict__', None)
        if not isinstance(attrs, dict):
            continue
        if any(isinstance(value, Iterator) for value in attrs.values()):
            return None
        try:
            states.append((attrs, dict(attrs), {key: _attribute_state(value) for key, value in attrs.items()}))
        except Exception:  # noqa: BLE001 (a container of its own kind that copy.copy cannot copy: left to its draw)
            return None
    return states


def _put_back(states: list) -> None:
    """Give the transforms of :func:`_transform_states` the attributes they held (an attribute a trial set, mmcv's
    ``_cache`` of random parameters, dropped) and their values' items (a container written only where its items
    changed, :func:`_same_items`) and generator states."""
    for attrs, held, inner in states:
        attrs.clear()
        attrs.update(held)
        for key, state in inner.items():
            if state is _NO_STATE:
                continue
            value = held[key]
            if isinstance(value, (list, collections.deque, dict, set)) and _same_items(value, state):
                continue  # not written to: a container of its own kind may refuse writes (a read-only dict)
            if isinstance(value, list):
                value[:] = state
            elif isinstance(value, collections.deque):
                value.clear()
                value.extend(state)
            elif isinstance(value, (dict, set)):
                value.clear()
                value.update(state)
            elif isinstance(value, np.random.Generator):
                value.bit_generator.state = state
            elif isinstance(value, random.Random):
                value.setstate(state)
            else:  # numpy's RandomState, a torch.Generator
                value.set_state(state)


def _same_items(value: Any, held: Any) -> bool:
    """Whether the list, deque, dict or set ``value`` holds the items ``held`` (its copy) holds: the same objects (a
    set: equal items)."""
    if isinstance(value, dict):
        return len(value) == len(held) and all(key in held and held[key] is item for key, item in value.items())
    if isinstance(value, set):
        return value == held
    return len(value) == len(held) and all(a is b for a, b in zip(value, held))


def _random_states() -> tuple:
    """numpy's, Python's and torch's global random states (what mmcv's, mmdet's and users' transforms draw from)."""
    return np.random.get_state(), random.getstate(), torch.get_rng_state()


def _set_random_states(states: tuple) -> None:
    np.random.set_state(states[0])
    random.setstate(states[1])
    torch.set_rng_state(states[2])
