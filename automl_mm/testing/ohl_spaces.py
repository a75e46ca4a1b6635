"""The contract check of OHL spaces (``SEARCH_SPACES``, :class:`~automl_mm.ohl.base.OHLSpace`):
:func:`check_ohl_space`, driven on :func:`toy_runner` or a real runner (overview in
:mod:`automl_mm.testing.contracts`)."""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_mm.ohl.base import BaseDistribution, OHLSpace, build_ohl_space
from automl_mm.utils.scope import type_name

from ._assertions import _all_zero, _check, _fail, _generator


def _close(a: Any, b: Any) -> bool:
    """Equal values (``==``: ``None`` and lists holding it too), or equal to float64 rounding (lists / tensors
    element-wise). ``None`` became NaN in the float64 array, unequal to itself: a choice ``None`` (``choices=[None,
    [1.0, 2.0]]`` for a ``class_weight``) was reported as not exported (``export_fragment() sets ... = None but
    scheduled_values() reports ... = None``) and, sampled, as not applied."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # numpy's elementwise comparison of arrays of other shapes
            if bool(a == b):
                return True
    except Exception:  # noqa: BLE001  (an ambiguous array truth value: compared element-wise below)
        pass
    try:
        return bool(np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-9,
                                atol=0.0))
    except (TypeError, ValueError):
        return a == b


def toy_runner(**attributes: Any) -> SimpleNamespace:
    """A stand-in runner for :func:`check_ohl_space`: a small model, an mmengine ``OptimWrapper`` with SGD (lr 0.1,
    weight decay 1e-4) and ``seed``; ``attributes`` add or replace attributes (e.g. ``train_dataloader``)."""
    from mmengine.optim import OptimWrapper

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=1e-4)
    runner = SimpleNamespace(model=model, optim_wrapper=OptimWrapper(optimizer), seed=0, iter=0, epoch=0)
    for key, value in attributes.items():
        setattr(runner, key, value)
    return runner


def check_ohl_space(space: dict | OHLSpace, runner: Any, data_batches: Callable[[], Iterable] | None = None,
                    seed: int = 0) -> OHLSpace:
    """Check an OHL space (``SEARCH_SPACES``) against :class:`~automl_mm.ohl.base.OHLSpace`, driving it as
    ``OHLHook`` does on one rank of one copy.

    Args:
        space: Its config (built in automl_mm's scope, as ``OHLHook`` builds it) or an instance.
        runner: What the space binds to (a real mmengine Runner, or :func:`toy_runner` with the attributes the
            space touches).
        data_batches: Per-item spaces, and spaces that count the items of their trunk draw
            (:meth:`~automl_mm.ohl.base.OHLSpace.fresh_count` not ``None``: ``PipelineChoiceSpace(policy_size=K)``): a
            callable returning training batches (each a dict with ``data_samples`` carrying
            ``metainfo['ohl_choice']``), called after ``begin_trunk`` so the batches are drawn from the trunk's θ;
            its samples (its fresh items) must be counted.
        seed: The hook's seed.

    Returns:
        The set-up space.
    """
    from mmengine.config import Config

    from automl_mm.ohl.attributes import get_attribute, recording_writes
    from automl_mm.ohl.copies import CopyLayout
    from automl_mm.ohl.write_order import check_declared_writes

    def declared(wrote: list[str], when: str) -> None:  # what OHLHook refuses: a write it does not report
        try:
            check_declared_writes(runner, space, wrote, when)
        except ValueError as err:
            raise _fail(space, str(err)) from None

    config = copy.deepcopy(space) if isinstance(space, dict) else None
    space = build_ohl_space(space, 'space')
    space.resolve(runner)
    _check(isinstance(space.name, str) and bool(space.name), space, 'name must be a non-empty str')
    _check(isinstance(space.distribution, BaseDistribution), space, 'distribution must be a BaseDistribution')
    _check(isinstance(space.per_item, bool), space, 'per_item must be a bool')
    size = space.distribution.stats_size()
    layout = CopyLayout(num_copies=1, ranks_per_copy=1, rank=0, world_size=1)
    with recording_writes(runner, getattr(space, 'wiring_attributes', ())) as wrote:
        space.setup(runner, layout, seed)
    declared(wrote, 'setup')
    space.reset_stats()
    stats = space.trunk_stats()
    _check(torch.is_tensor(stats) and stats.dtype == torch.float64 and tuple(stats.shape) == (size,), space,
           f'trunk_stats() must be a float64 vector of length distribution.stats_size()={size}')
    _check(_all_zero(stats), space, 'trunk_stats() must be zero after reset_stats()')

    space.begin_segment(runner, 0)
    with recording_writes(runner, getattr(space, 'wiring_attributes', ())) as wrote:
        space.begin_trunk(runner, 0, _generator(seed))
    declared(wrote, 'trunk 0')
    if space.per_item:
        if data_batches is not None:
            for batch in data_batches():
                space.after_train_iter(runner, batch)
            counted = space.distribution.sample_count(space.trunk_stats())
            _check(counted > 0, space, 'after_train_iter counted no sample of the given batches')
    else:
        first = space.trunk_stats()
        _check(space.distribution.sample_count(first) > 0, space,
               'begin_trunk must record() the samples it drew (the controller learns from them)')
        space.trunk_stats().add_(1.0)
        _check(torch.equal(space.trunk_stats(), first), space, 'trunk_stats() must return a copy')
        space.reset_stats()
        space.begin_trunk(runner, 0, _generator(seed))
        _check(torch.equal(space.trunk_stats(), first), space,
               'per-copy samples must depend on the generator only (all ranks of a copy must agree)')
        applied = space.applied_values()
        for path, value in (applied or {}).items():
            try:
                held = get_attribute(runner, path)
            except ValueError:
                continue  # not an attribute path of this runner: nothing to compare
            _check(all(_close(v, value) for v in held), space,
                   f'applied_values() reports {path} = {value!r} but the target holds {held!r} after begin_trunk '
                   '(the recorded sample must be the one applied)')
        if isinstance(config, dict):
            # another rank of the same copy: it must record (and so apply) the same sample
            twin = build_ohl_space(copy.deepcopy(config), 'space')
            twin.resolve(runner)
            twin.setup(runner, CopyLayout(num_copies=1, ranks_per_copy=2, rank=1, world_size=2), seed)
            twin.reset_stats()
            twin.begin_trunk(runner, 0, _generator(seed))
            _check(torch.equal(twin.trunk_stats(), first), space,
                   'the ranks of one copy must draw the same per-copy sample (it must not depend on the rank)')
            space.begin_trunk(runner, 0, _generator(seed))  # the target holds this rank's sample again
        if data_batches is not None and space.fresh_count() is not None:
            # OHLHook gives a copy whose ranks count 0 fresh items statistics of 0 samples
            for batch in data_batches():
                space.after_train_iter(runner, batch)
            _check(space.fresh_count() != 0, space, 'fresh_count() is 0 after the batches drawn from the trunk\'s '
                   'policy: OHLHook would count no sample of every copy (after_train_iter must count the items '
                   'that carry the trunk\'s draw)')
    stale, fresh = space.stale_count(), space.fresh_count()
    _check(isinstance(stale, int) and stale >= 0, space, f'stale_count() must be an int >= 0, got {stale!r}')
    _check(fresh is None or (isinstance(fresh, int) and not isinstance(fresh, bool) and fresh >= 0), space,
           f'fresh_count() must be None or an int >= 0, got {fresh!r}')
    space.reset_stats()
    _check(_all_zero(space.trunk_stats()) and space.stale_count() == 0 and space.fresh_count() in (None, 0), space,
           'reset_stats() must zero the statistics, the stale count and the fresh count')

    fragment = space.export_fragment()
    _check(isinstance(fragment, str) and fragment.strip() != '', space, 'export_fragment() must return config text')
    try:
        exported = Config.fromstring(fragment, file_format='.py')
    except Exception as exc:  # noqa: BLE001  (any parse or evaluation error is the finding)
        raise _fail(space, f'export_fragment() is not a valid Python config: {exc}\n{fragment}') from exc
    for path, value, key, written in _fragment_values(exported.to_dict(), space.scheduled_values() or {}):
        _check(_close(written, value), space,
               f'export_fragment() sets {key} = {written!r} but scheduled_values() reports {path} = {value!r} at '
               f'the mode of theta: a retrain with the fragment would not train with the value the search '
               f'learned\n{fragment}')
    return space


def _fragment_values(exported: dict, scheduled: dict) -> list[tuple[str, Any, str, Any]]:
    """The values an exported fragment (a config dict) sets for the paths of ``scheduled_values()``: at the same
    config key (``optim_wrapper.optimizer.lr`` in ``optim_wrapper = dict(optimizer=dict(lr=...))``) and in the
    ``values`` of a ``SetAttributesHook`` of ``custom_hooks`` (``values={path: ...}``); other keys and hooks are
    not compared (a fragment that sets its values another way, as AM-LFS's whole loss, is not checked here).

    Returns:
        ``(path, scheduled value, the fragment's key, the fragment's value)`` for each path the fragment sets.
    """
    found = []
    hooks = exported.get('custom_hooks')
    hooks = hooks if isinstance(hooks, list) else []
    for path, value in scheduled.items():
        node: Any = exported
        for part in path.split('.'):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        if node is not _MISSING:
            found.append((path, value, path, node))
        for i, hook in enumerate(hooks):
            # SetAttributesHook's values are the fixed values (a TrunkScheduleHook's are per trunk)
            values = hook.get('values') if isinstance(hook, dict) else None
            if type_name(hook.get('type', '')) == 'SetAttributesHook' and isinstance(values, dict) and path in values:
                found.append((path, value, f'custom_hooks[{i}].values[{path!r}]', values[path]))
    return found


_MISSING = object()
