"""The config's ``OHLHook`` and the hooks beside it, for the OHL start checks made in the launching process
(:func:`~automl_mm.engine.preflight_ohl.check_ohl_config`): the hook's config key and entry (:func:`_hook_entry`),
the class of every hook the config adds (:func:`_hook_classes`), the order mmengine registers them in against the
OHL hook's (:func:`_check_hook_order`: a ``CheckpointHook`` with several copies and an ``OHLProgressHook`` come after
it) and an ``OHLProgressHook`` without an ``OHLHook`` (:func:`_check_progress_hooks`).
"""
from __future__ import annotations

from typing import Any

from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.utils.scope import config_type_name
from automl_mm.utils.wording import a_class

from .preflight_ohl_schedule import _checkpoint_entries
from .preflight_walk import config_scope

_CONFIG_SCOPE = object()  # _hook_classes without a scope: the config's


def _hook_entry(cfg: Any) -> tuple[str, dict] | None:
    """``(config key, hook config)`` of the config's OHL hook, or ``None`` (none, or several: ``check_config``
    names those)."""
    from automl_mm.ohl.copies import find_ohl_hook

    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), config_scope(cfg))
    except ValueError:
        return None
    if found is None or not isinstance(found[1], dict):
        return None
    return f'custom_hooks[{found[0]}]', found[1]


def _refuse(key: str, hook: dict, err: Exception) -> ConfigCheckError:
    """``err`` prefixed with the hook's ``key`` and type, unless it names a key of the hook already
    (``custom_hooks[0].bn_recalibration_batches ...``); a workers' message that starts with the hook's class
    (``SetAttributesHook: hooks.6.begin_epoch=5 ...``, as its ``before_train`` says it) loses that start, which the
    prefix says."""
    said = str(err)
    if said.startswith(f'{key}.'):
        return ConfigCheckError(said)
    kind = config_type_name(hook)  # bare: 'automl_mm.SetAttributesHook' gives 'SetAttributesHook'
    own = f'{kind}: '
    return ConfigCheckError(f'{key} ({kind}): {said[len(own):] if kind and said.startswith(own) else said}')


def _hook_classes(cfg: Any, scope: str | None | object = _CONFIG_SCOPE) -> list[tuple[str, type | None]]:
    """``(config key, class)`` of every hook the config adds: ``default_hooks.<name>`` and ``custom_hooks[<i>]`` (as
    messages name config keys; :func:`_hook_entry_of` reads one back), each resolved as the runner builds it
    (``None`` where it cannot be): in its ``_scope_``, else ``scope``, the runner's scope (a built runner's own,
    :func:`~automl_mm.engine.preflight_walk.built_scope`; not given: the config's,
    :func:`~automl_mm.engine.preflight_walk.config_scope`)."""
    from automl_mm.ohl.copies import _hook_class

    scope = config_scope(cfg) if scope is _CONFIG_SCOPE else scope
    entries = [(f'default_hooks.{name}', hook) for name, hook in (cfg.get('default_hooks') or {}).items()]
    entries += [(f'custom_hooks[{i}]', hook) for i, hook in enumerate(cfg.get('custom_hooks') or [])]
    return [(key, _hook_class(hook, scope)) for key, hook in entries if hook is not None]


def _check_hook_order(cfg: Any, hook: dict, num_copies: int, scope: str) -> None:
    """:func:`~automl_mm.ohl.checks.check_hook_order` on the config: the order mmengine's ``Runner.register_hook``
    gives the hooks (by priority, ``default_hooks`` before ``custom_hooks``, each in config order where they tie),
    with each hook's ``priority`` key or its class's. A priority that cannot be read is left to
    :func:`~automl_mm.engine.preflight_runner_args.check_runner_arguments`.

    Raises:
        ValueError: a hook of :func:`~automl_mm.ohl.checks.hooks_after_ohl` (a ``CheckpointHook`` with several
            copies, an ``OHLProgressHook``) ordered before the OHL hook, naming its key.
    """
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import get_priority

    from automl_mm.ohl.checks import hooks_after_ohl, refuse_before_ohl
    from automl_mm.ohl.copies import _hook_class, find_ohl_hook

    ohl = _hook_class(hook, config_scope(cfg))

    def priority(entry: Any, cls: Any) -> int | None:
        value = entry.get('priority') if isinstance(entry, dict) else getattr(entry, 'priority', None)
        try:
            return get_priority(value if value is not None else cls.priority)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

    found = find_ohl_hook(cfg.get('custom_hooks'), config_scope(cfg))
    ohl_priority = priority(hook, ohl)
    if found is None or ohl is None or ohl_priority is None:
        return
    ordered = hooks_after_ohl(num_copies)
    # mmengine's default CheckpointHook where the config sets none (_checkpoint_entries), every other listed hook
    entries = _checkpoint_entries(cfg, scope) + [
        (key, _hook_entry_of(cfg, key)) for key, cls in _hook_classes(cfg)
        if isinstance(cls, type) and not issubclass(cls, CheckpointHook)]
    for key, entry in entries:
        cls = _hook_class(entry, config_scope(cfg)) if isinstance(entry, dict) else type(entry)
        rule = next(((why, default) for kind, why, default in ordered
                     if isinstance(cls, type) and issubclass(cls, kind)), None)
        if rule is None:
            continue
        value = priority(entry, cls)
        # default hooks are registered before every custom hook, custom hooks in their list order
        place = _custom_index(key)
        if value is not None and (value, place) < (ohl_priority, found[0]):
            refuse_before_ohl(key, getattr(cls, '__name__', 'CheckpointHook'), value, ohl.__name__, ohl_priority,
                              *rule)


def _custom_index(key: str) -> int:
    """``i`` of a ``custom_hooks[i]`` key (also ``custom_hooks.i``), -1 for a ``default_hooks.<name>`` one."""
    if key.startswith('custom_hooks['):
        return int(key[len('custom_hooks['):key.index(']')])
    if key.startswith('custom_hooks.'):
        return int(key.split('.')[1])
    return -1


def _hook_entry_of(cfg: Any, key: str) -> Any:
    """The entry of ``default_hooks.<name>`` / ``custom_hooks[<i>]`` in ``cfg``."""
    index = _custom_index(key)
    return cfg.get('custom_hooks')[index] if index >= 0 else cfg.get('default_hooks')[key.split('.', 1)[1]]


def _check_progress_hooks(cfg: Any, has_ohl_hook: bool) -> None:
    """An ``OHLProgressHook`` needs an ``OHLHook`` beside it (it refused in ``before_train``, after the runner was
    built; a retraining config made from an OHL config that dropped the ``OHLHook`` kept it)."""
    from automl_mm.ohl.copies import _hook_class
    from automl_mm.ohl.progress import OHLProgressHook

    if has_ohl_hook:
        return
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        cls = _hook_class(hook, config_scope(cfg))
        if isinstance(cls, type) and issubclass(cls, OHLProgressHook):
            raise ConfigCheckError(f'custom_hooks[{i}] is {a_class(cls)}, which reports the trunks of an OHLHook, '
                                   'but custom_hooks has no OHLHook: remove it, or add the OHLHook')
