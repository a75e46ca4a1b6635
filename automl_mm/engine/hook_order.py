"""The order the runner will hold its hooks in, computed before any runner exists, for the start-up check's
``hooks.<index>`` paths (:func:`runner_hook_order`): mmengine's own ``Runner.register_hook`` /
``register_default_hooks`` on a stand-in hook list (:class:`_HookList`), then the hooks automl_mm registers late.
Read by :mod:`automl_mm.engine.preflight_ohl_build` (which serves these names as before).
"""
from __future__ import annotations

import weakref
from typing import Any

from .preflight_walk import config_scope


class _HookList:
    """A stand-in runner holding only its hook list, on which mmengine's own ``Runner.register_hook`` and
    ``register_default_hooks`` order the hooks (by priority; a hook after those of its priority already held)."""

    def __init__(self) -> None:
        self._hooks: list = []

    @property
    def hooks(self) -> list:
        """The hooks held, in order (``Runner.hooks``)."""
        return self._hooks

    def register_hook(self, hook: Any, priority: Any = None) -> None:
        from mmengine.runner import Runner

        Runner.register_hook(self, hook, priority)

    def register_default_hooks(self, hooks: dict) -> None:
        from mmengine.runner import Runner

        Runner.register_default_hooks(self, hooks)


def runner_hook_order(cfg: Any, custom_hooks: list) -> list[tuple[str, Any]]:
    """``(config key, hook)`` of each hook in the order the runner holds them (``runner.hooks``) once ``train`` has
    begun, where the spaces resolve their paths and the replay hooks write: mmengine's default hooks updated by
    ``default_hooks`` (built here; mmengine's own named ``mmengine's default``), then ``custom_hooks`` (the hooks built
    from the config's, in order, each at its entry's ``priority``), each placed by mmengine's ``Runner.register_hook``,
    then the hooks automl_mm registers late, each at the priority its registration uses, in the order they come:

    * a resume's :class:`~automl_mm.engine.hooks.StrictCheckpointHook` (``'LOWEST'``, by ``tools/train.py`` after the
      runner is built: :func:`~automl_mm.engine.hooks.resume_strict_hook`);
    * the hooks the runner class's ``train`` registers (:func:`~automl_mm.engine.patches.registering`, outermost
      wrapper first);
    * a NAS search loop's ``_SearchStateHook`` (``'VERY_LOW'``, by the loop's constructor, when ``train`` builds the
      loop of ``train_cfg``): before every ``'LOWEST'`` hook, so one index later each of those (a ``custom_hooks``
      entry of ``priority='LOWEST'`` included);
    * an ``OHLHook``'s ``LateTrunkStart`` (``'LOWEST'``, by its ``before_train``, before its spaces resolve, where an
      epoch-based loop runs ``trunk_iters`` trunks: :func:`~automl_mm.ohl.trunk.add_late_trunk_start`), last.

    Each late hook is named by what registers it (``registered by tools/train.py for the resume``); the search
    loop's state hook is a stand-in without its loop, and a path through it (``hooks.<i>.loop...``) is left to the
    workers (:func:`_check_hook_path`).

    Raises:
        ValueError / TypeError / KeyError: a default hook mmengine cannot build (``build_check`` built them first).
    """
    from mmengine.runner import Runner

    from automl_mm.ohl.hook import OHLHook
    from automl_mm.ohl.trunk import LateTrunkStart, add_late_trunk_start
    from automl_mm.registry import HOOKS, RUNNERS, registered_class

    from .hooks import resume_strict_hook
    from .preflight_build import _without_priority

    keys: dict[int, str] = {}
    defaults: dict[str, Any] = {}
    for name, entry in (cfg.get('default_hooks') or {}).items():
        if isinstance(entry, dict):
            built = HOOKS.build(_without_priority(entry))
            if entry.get('priority') is not None:
                built.priority = entry['priority']
            entry = built
        defaults[name] = entry
        if entry is not None:
            keys[id(entry)] = f'default_hooks.{name}'
    held = _HookList()
    held.register_default_hooks(defaults)
    entries = list(cfg.get('custom_hooks') or [])
    for i, hook in enumerate(custom_hooks):
        priority = entries[i].get('priority') if i < len(entries) and isinstance(entries[i], dict) else None
        held.register_hook(hook, priority)
        keys[id(hook)] = f'custom_hooks[{i}]'
    strict = resume_strict_hook(cfg)
    if strict is not None:
        held.register_hook(strict)
        keys[id(strict)] = 'registered by tools/train.py for the resume'
    kind = cfg.get('runner_type')
    cls = Runner if kind is None else kind if isinstance(kind, type) else \
        registered_class(RUNNERS, kind, cfg.get('_scope_') or 'automl_mm')
    for hook_class in reversed(getattr(getattr(cls, 'train', None), 'registers', ())):
        if not any(isinstance(hook, hook_class) for hook in held._hooks):
            hook = hook_class()
            held.register_hook(hook)
            keys[id(hook)] = 'registered by automl_mm at train'
    loop = _train_loop_class(cfg)
    for hook in _loop_hooks(loop):
        held.register_hook(hook)
        keys[id(hook)] = f'registered by {loop.__name__} (train_cfg) when train builds it'
    if loop is not None:
        from mmengine.runner import IterBasedTrainLoop

        for i, ohl in enumerate(custom_hooks):
            if isinstance(ohl, OHLHook):
                add_late_trunk_start(held, ohl, issubclass(loop, IterBasedTrainLoop))
                for hook in held._hooks:
                    if isinstance(hook, LateTrunkStart) and hook.ohl is ohl:
                        keys.setdefault(id(hook), f'registered by custom_hooks[{i}] (OHLHook) at before_train')
    return [(keys.get(id(hook), "mmengine's default"), hook) for hook in held._hooks]


def _train_loop_class(cfg: Any) -> type | None:
    """The class of the train loop ``Runner.build_train_loop`` builds from ``train_cfg`` (its ``type`` in the
    config's scope, else ``by_epoch``: mmengine's ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop``); ``None`` where
    there is no ``train_cfg`` or its ``type`` is no registered loop (the runner names that)."""
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

    from automl_mm.registry import LOOPS, registered_class

    node = cfg.get('train_cfg') if cfg is not None else None
    if not isinstance(node, dict):
        return None
    if 'type' not in node:
        return EpochBasedTrainLoop if node.get('by_epoch', True) else IterBasedTrainLoop
    kind = node['type']
    found = kind if isinstance(kind, type) else registered_class(LOOPS, kind, node.get('_scope_') or config_scope(cfg))
    return found if isinstance(found, type) else None


def _loop_hooks(loop: type | None) -> list:
    """Stand-ins for the hooks a train loop of class ``loop`` registers in its constructor, in order: a NAS search
    loop's (:class:`~automl_mm.nas.loop.SearchLoopBase`) ``_SearchStateHook``, at its class priority."""
    from automl_mm.nas.loop import SearchLoopBase
    from automl_mm.nas.search_state import _SearchStateHook

    if loop is not None and issubclass(loop, SearchLoopBase):
        hook = _SearchStateHook(None)
        _WITHOUT_STATE.add(hook)  # its loop is not built here
        return [hook]
    return []


#: The stand-ins of :func:`runner_hook_order` that lack what the hook they stand for holds (a search loop's state
#: hook, without its loop): a path through one of them is left to the workers (:func:`_check_hook_path`).
_WITHOUT_STATE: weakref.WeakSet = weakref.WeakSet()


__all__ = ['runner_hook_order']
