"""The values an OHL space changed, found by comparing the run's state before and after the space ran.

:func:`~automl_mm.ohl.attributes.recording_writes` records the paths written through
:func:`~automl_mm.ohl.attributes.set_attribute`; a space writing another way escaped it: a plain
``setattr(module, 'negative_slope', v)`` on a module it reached itself, ``module.__dict__['p'] = v``,
``optimizer.param_groups[0]['lr'] = v``, ``transform.prob = v``. Such a write escaped the checks that compare what
each space writes (:func:`~automl_mm.ohl.write_order.check_declared_writes`): the write-order check against the other
spaces and the replay hooks, the replay of the space's exports and the best copy's values written into every copy.
:func:`snapshot` reads, as attribute paths, every plain value held where a space's samples act:

* ``model``: every attribute of every module (``named_modules``; torch's own bookkeeping, parameters and buffers
  left out) and what those attributes hold (a head's ``train_cfg`` dict, an mmdet assigner's ``pos_iou_thr``);
* ``optim_wrapper``: every key of every optimiser parameter group but ``params`` and the base form's bookkeeping
  (:mod:`automl_mm.ohl.optimizer_base`) (``betas`` element by element);
* ``train_dataloader.dataset``: through dataset wrappers (``dataset``, ``datasets``), every attribute of the
  pipeline's transforms, nested ones included (``...pipeline.transforms.1.prob``).

A plain value is a number, a bool, a string, ``None``, or a list, tuple or dict of them (compared element by
element, so ``...betas.0`` changed is that element; a length change is the container's path). :func:`changed_paths`
lists the paths whose value differs (NaN equals NaN).

What this cannot see (said in :class:`~automl_mm.ohl.base.OHLSpace`'s docstring and the README): a write that puts
back the value already held; values in place inside a tensor or array (mmdet's ``CrossEntropyLoss``'s ``class_weight``
tensor, which ``DETRHead`` gives it, changed with ``mul_``; a parameter; automl_mm's losses keep ``class_weight`` as a
list, compared element by element); objects outside the three roots (another hook's attribute, ``runner.cfg``, the
train loop, the dataloader itself, an optimiser's ``defaults``); values below :data:`MAX_DEPTH` containers or objects
under a module's or a pipeline's attribute, or in containers of more than :data:`MAX_ITEMS` items (their length only);
writes outside ``setup`` and ``begin_trunk`` (``begin_segment``, ``after_train_iter``); and, as
:func:`~automl_mm.ohl.write_order.check_declared_writes` takes them for a setter's own state, the other attributes of
an object whose attribute a reported path writes.
"""
from __future__ import annotations

import enum
import functools
import logging
import math
import types
from typing import Any

import numpy as np
import torch
from torch import nn

from .stored_forms import config_form

#: How many containers or objects deep below a module's attribute, a parameter group's key or a dataset's pipeline
#: the walk reads (a pipeline's ``Compose.transforms.<i>.<attr>`` is 3; a nested ``RandomChoice`` 3 more).
MAX_DEPTH = 8
#: A list, tuple or dict with more items is compared by its length only.
MAX_ITEMS = 256

_SCALARS = (bool, int, float, complex, str, bytes, type(None), np.generic, enum.Enum)
_MODULE_KEYS = frozenset(vars(nn.Module()))  # torch's bookkeeping: training, _parameters, _buffers, hooks, ...
_SKIP = (nn.Module, torch.Tensor, np.ndarray, type, types.FunctionType, types.BuiltinFunctionType,
         types.MethodType, types.ModuleType, functools.partial, logging.Logger, torch.optim.Optimizer,
         torch.utils.data.DataLoader, torch.utils.data.Dataset)


class _Length:
    """A container's length and type: the value recorded at a container's own path."""

    __slots__ = ('kind', 'size')

    def __init__(self, kind: type, size: int) -> None:
        self.kind, self.size = kind, size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Length) and (self.kind, self.size) == (other.kind, other.size)

    def __hash__(self) -> int:
        return hash((self.kind, self.size))


def _manager(value: Any) -> bool:
    from mmengine.utils import ManagerMixin  # MessageHub, MMLogger, Visualizer: run-wide state, not a target

    return isinstance(value, ManagerMixin)


def _walk(value: Any, path: str, out: dict[str, Any], depth: int, seen: set[int], skip: frozenset[str]) -> None:
    if isinstance(value, _SCALARS):
        out[path] = value
        return
    if depth <= 0 or isinstance(value, _SKIP) or _manager(value):
        return
    if isinstance(value, (list, tuple, dict)):  # not marked seen: a tuple shared by two holders is read under both
        out[path] = _Length(type(value), len(value))
        if len(value) > MAX_ITEMS:
            return
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, int) or (isinstance(key, str) and key and '.' not in key and key not in skip):
                _walk(item, f'{path}.{key}', out, depth - 1, seen, skip)
        return
    attributes = getattr(value, '__dict__', None)
    if isinstance(attributes, dict) and id(value) not in seen:  # an object held twice (a back-reference): once
        seen.add(id(value))
        for key, item in list(attributes.items()):
            if isinstance(key, str) and '.' not in key and not key.startswith('__') and key not in skip:
                # in the config's form, as paths name it: Expand's mean.0 is the config's channel 0, which it keeps
                # at mean.2 under to_rgb (stored_forms); read as stored, that write was seen as an undeclared mean.2
                _walk(config_form(value, key, item), f'{path}.{key}', out, depth - 1, seen, skip)


def _built_train_dataset(runner: Any) -> Any:
    """The training dataset, without building anything: mmengine's ``Runner.train_dataloader`` builds the train
    loop where it is still a config."""
    own = getattr(runner, '__dict__', {})
    if isinstance(own.get('_train_loop'), dict):
        return None
    try:
        return getattr(runner.train_dataloader, 'dataset', None)
    except Exception:  # noqa: BLE001  (no loop, a stand-in runner without one)
        return None


def snapshot(runner: Any, skip: frozenset[str] | set[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """``{attribute path: plain value}`` of what a space's samples can act on (module docstring); attribute or key
    names in ``skip`` are left out (:attr:`~automl_mm.ohl.base.OHLSpace.wiring_attributes`).

    Every path resolves with :func:`~automl_mm.ohl.attribute_paths.resolve_attribute` on ``runner``.
    """
    from automl_mm.engine.checkpoint import inner_model

    from .optimizer_base import BASE_VALUE_KEY, RATIO_KEY, is_optimizer

    skip = frozenset([skip] if isinstance(skip, str) else skip)  # one name given as a str
    out: dict[str, Any] = {}
    seen: set[int] = set()
    model = getattr(runner, 'model', None)
    if isinstance(model, nn.Module):
        for name, module in inner_model(model).named_modules():
            prefix = f'model.{name}' if name else 'model'
            for key, value in list(vars(module).items()):
                if key not in _MODULE_KEYS and key not in skip and '.' not in key and not key.startswith('__'):
                    _walk(value, f'{prefix}.{key}', out, MAX_DEPTH, seen, skip)
    wrapper = getattr(runner, 'optim_wrapper', None)
    wrappers = getattr(wrapper, 'optim_wrappers', None)
    named = ([(f'optim_wrapper.optim_wrappers.{k}', w) for k, w in wrappers.items()] if isinstance(wrappers, dict)
             else [('optim_wrapper', wrapper)])
    for prefix, each in named:
        optimizer = getattr(each, 'optimizer', None)
        if not is_optimizer(optimizer):
            continue
        for i, group in enumerate(optimizer.param_groups):
            for key, value in group.items():
                # the base form's bookkeeping (automl_mm.ohl.optimizer_base), which its write keeps up to date
                if key not in ('params', RATIO_KEY, BASE_VALUE_KEY) and isinstance(key, str) and '.' not in key \
                        and key not in skip:
                    _walk(value, f'{prefix}.optimizer.param_groups.{i}.{key}', out, MAX_DEPTH, seen, skip)
    stack = [('train_dataloader.dataset', _built_train_dataset(runner))]
    while stack:
        path, dataset = stack.pop()
        if dataset is None or id(dataset) in seen:
            continue
        seen.add(id(dataset))
        child = vars(dataset).get('dataset') if hasattr(dataset, '__dict__') else None
        stack.append((f'{path}.dataset', child))
        children = vars(dataset).get('datasets') if hasattr(dataset, '__dict__') else None
        if isinstance(children, (list, tuple)):
            stack.extend((f'{path}.datasets.{i}', d) for i, d in enumerate(children))
        pipeline = vars(dataset).get('pipeline') if hasattr(dataset, '__dict__') else None
        if pipeline is not None:
            _walk(pipeline, f'{path}.pipeline', out, MAX_DEPTH, seen, skip)
    return out


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        if a == b:
            return True
    except Exception:  # noqa: BLE001  (a value whose == raises: compared as changed)
        return False
    return isinstance(a, (float, np.floating)) and math.isnan(a) and math.isnan(b)


def changed_paths(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The paths of ``after`` whose value differs from ``before``'s (in ``after``'s order; a path new in ``after``
    under a container already read, such as an attribute a space added, counts too). A container whose length
    changed is named by its own path, not its elements'."""
    changed = []
    for path, value in after.items():
        if path in before and _same(before[path], value):
            continue
        if path not in before and '.' in path and path.rsplit('.', 1)[0] in changed:
            continue  # an element of a container named already
        changed.append(path)
    return changed
