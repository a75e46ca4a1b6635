"""Build from an automl_mm registry inside automl_mm's scope, whatever the config's default scope."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from mmengine.registry import DefaultScope, Registry


def type_name(kind: Any) -> str:
    """A config ``type`` as a bare class name: ``'automl_mm.Categorical'``, ``'Categorical'`` and the class
    ``Categorical`` itself all give ``'Categorical'``."""
    return kind.split('.')[-1] if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


def config_type_name(cfg: Any) -> str:
    """:func:`type_name` of a config dict's ``type``; ``''`` for anything but a dict (or a dict without ``type``)."""
    return type_name(cfg.get('type', '')) if isinstance(cfg, dict) else ''


def build_in_scope(registry: Registry, cfg: dict, default_args: dict | None = None) -> Any:
    """``registry.build(cfg)`` with ``automl_mm`` as the default scope while it builds.

    A config whose ``default_scope`` is another library's (an mmdet detector searched by CR-NAS) still resolves
    unprefixed names (``'StageAllocationSpace'``, ``'Adam'``) in automl_mm's registries and mmengine's roots.

    Args:
        registry: One of :mod:`automl_mm.registry`'s registries.
        cfg: The config dict with ``type``.
        default_args: Passed to ``registry.build``.

    Raises:
        KeyError: ``cfg['type']`` is registered neither in ``registry`` nor in its parents.
    """
    with DefaultScope.overwrite_default_scope('automl_mm'):
        return registry.build(cfg, default_args=default_args)


#: the config key of the object :func:`build_named` is building now (``None`` outside one): the key a config nested
#: in it (a space's ``distribution``, a controller's ``optimizer``) is named by (:func:`nested_key`)
_BUILDING: ContextVar[str | None] = ContextVar('automl_mm_building_key', default=None)


def building_key() -> str | None:
    """The config key of the object :func:`build_named` is building now; ``None`` outside one."""
    return _BUILDING.get()


@contextlib.contextmanager
def building_at(key: str) -> Iterator[None]:
    """Make ``key`` (e.g. ``'custom_hooks[0]'``) the :func:`building_key` inside: for an object built by a caller
    that knows its config key but not through :func:`build_named` (mmengine's ``HOOKS.build`` of a hook entry), so
    that what the object builds from its own arguments is named under it (``custom_hooks[0].spaces[1]``)."""
    token = _BUILDING.set(key)
    try:
        yield
    finally:
        _BUILDING.reset(token)


def nested_key(relative: str, fallback: str) -> str:
    """The config key of ``relative`` (e.g. ``'distribution'``) inside the config :func:`build_named` is building
    now: ``'OHLHook.spaces[0].distribution'`` while it builds ``OHLHook.spaces[0]``; ``fallback`` outside a
    :func:`build_named` (an object built in Python, or a stage after its constructor).

    A nested config's errors were prefixed with the outer key only (``OHLHook.spaces[0]: Categorical.__init__() got
    an unexpected keyword argument 'logit'``), and the argument hint listed the space's arguments, not the
    distribution's: building the nested config with :func:`build_named` under this key names it exactly."""
    outer = _BUILDING.get()
    return f'{outer}.{relative}' if outer else fallback


def build_named(registry: Registry, cfg: dict, what: str,
                errors: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError)) -> Any:
    """:func:`build_in_scope` with the errors of the lookup and the constructor prefixed by the config key ``what``
    (e.g. ``'OHLHook.spaces[0]'``): mmengine's ``KeyError`` (``'MySpaceX is not in the automl_mm::search space
    registry'``), an abstract class's or a missing argument's ``TypeError`` and a constructor's ``ValueError`` named
    the class or the name only, not where the config sets it. An unregistered name gets the closest registered one
    (``'OHLHook.spaces[0]: MySpac is not in the automl_mm::search space registry (did you mean 'MySpace'?)'``).

    Args:
        registry: One of :mod:`automl_mm.registry`'s registries.
        cfg: The config dict with ``type``.
        what: The config key, prefixed to the errors.
        errors: The kinds of error prefixed; others pass as raised.

    Raises:
        KeyError / TypeError / ValueError: as raised while building, their message prefixed with ``what`` (once).
    """
    token = _BUILDING.set(what)
    try:
        return build_in_scope(registry, cfg)
    except errors as err:
        message = err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 else str(err)
        if str(message).startswith(what):
            raise
        if isinstance(err, TypeError):
            message = _with_argument_hint(registry, cfg, message, what)
        raise type(err)(f'{what}: {_with_type_hint(message)}') from err
    finally:
        _BUILDING.reset(token)


def named_error(err: Exception, key: str) -> Exception:
    """``err`` with its message prefixed by the config key ``key`` (``'custom_hooks[0].spaces[1]: ...'``), once: a
    message that already starts with ``key`` is returned as it is. The same type where its constructor takes one
    message, else a ``ValueError``; a ``KeyError``'s message is its argument, not its quoted ``repr``."""
    message = err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 else str(err)
    if str(message).startswith(key):
        return err
    try:
        return type(err)(f'{key}: {message}')
    except Exception:  # noqa: BLE001 - a constructor of other arguments
        return ValueError(f'{key}: {message}')


# Python's message for a keyword a constructor does not take (``MyLrSpace.__init__() got an unexpected keyword
# argument 'choice'``), also where a subclass passed it on through **kwargs (then Python names the base)
_UNEXPECTED = re.compile(r"^(?P<owner>[\w.]+)\.__init__\(\) got an unexpected keyword argument '(?P<name>\w+)'$")


def _with_argument_hint(registry: Registry, cfg: dict, message: str, what: str) -> str:
    """``message`` with the arguments the built class takes where it is Python's "unexpected keyword argument"
    by the built class or a base it passes ``**kwargs`` on to, with the closest one as the config key meant:
    ``"... unexpected keyword argument 'choice' (MyLrSpace takes choices, name; did you mean
    OHLHook.spaces[0].choices?)"``; any other message (another constructor's, one the class built) as it is."""
    import difflib

    found = _UNEXPECTED.search(message)
    kind = cfg.get('type') if isinstance(cfg, dict) else None
    if found is None or kind is None:
        return message
    if isinstance(kind, type):
        cls = kind
    else:
        with DefaultScope.overwrite_default_scope('automl_mm'):
            cls = registry.get(kind)
    if not isinstance(cls, type) or found['owner'].split('.')[-1] not in {c.__name__ for c in cls.__mro__}:
        return message  # raised by another constructor (a distribution the space builds): its own message
    from automl_mm.engine.preflight_training import _parameters

    params, _, _ = _parameters(cls)
    known = list(params)
    close = difflib.get_close_matches(found['name'], known, n=1)
    meant = f'; did you mean {what}.{close[0]}?' if close else ''
    return f'{message} ({cls.__name__} takes {", ".join(known) or "no arguments"}{meant})'


def _with_type_hint(message: Any) -> Any:
    """mmengine's ``'MySpac is not in the automl_mm::search space registry. Please check ...'`` with the closest
    registered name, or the scope prefix where another scope registers it, in place of its generic advice
    (:func:`automl_mm.engine.preflight_types.type_hint`); any other message as it is."""
    from automl_mm.engine.preflight_types import _UNREGISTERED, type_hint

    found = _UNREGISTERED.match(message) if isinstance(message, str) else None
    hint = type_hint(found['registry'], found['name'], found['scope']) if found else ''
    if not hint:
        return message
    return f'{found["name"]} is not in the {found["scope"]}::{found["registry"]} registry{hint}'
