"""The copy counts a config asks for: the OHL hook among a run's hooks (:func:`find_ohl_hook`, configs or built
hooks, found by type), its ``num_copies`` and ``ranks_per_copy`` (:func:`ohl_copy_counts`, read from
``Runner.__init__``'s arguments before the runner builds the hooks: :func:`runner_copy_counts`), and their checks
(:func:`check_copy_counts`; the world size they need: :func:`check_world_size`).

Split from :mod:`automl_mm.ohl.copies` (the fifty-seventh session), which re-exports every name here; the launcher,
the config checks and ``CopyRunner`` use them before any copy layout exists.
"""
from __future__ import annotations

import inspect
from typing import Any

from mmengine.runner import Runner

from automl_mm.registry import HOOKS, config_class


def check_copy_counts(num_copies: Any, ranks_per_copy: Any) -> None:
    """Raise ``ValueError`` naming the argument unless both counts are positive integers."""
    for name, value in (('num_copies', num_copies), ('ranks_per_copy', ranks_per_copy)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:  # True passed as 1
            raise ValueError(f'{name} must be a positive integer, got {value!r}')


def check_world_size(world_size: int, num_copies: int, ranks_per_copy: int) -> None:
    """Raise ``ValueError`` unless ``world_size`` is ``num_copies * ranks_per_copy`` (the message says how many
    processes to start)."""
    if world_size != num_copies * ranks_per_copy:
        raise ValueError(
            f'world size {world_size} does not fit the OHL configuration: num_copies ({num_copies}) x '
            f'ranks_per_copy ({ranks_per_copy}) = {num_copies * ranks_per_copy} processes are needed. Run '
            '`python tools/train.py CONFIG` without a launcher to start them locally, or give torchrun/slurm '
            'that many processes.')


def _hook_class(hook: Any, scope: str | None = None) -> type | None:
    """The class of a built hook, or of a hook config's ``type`` (a registered name, scoped or not, or a class),
    resolved as the runner builds it (:func:`~automl_mm.registry.config_class`: the hook's own ``_scope_`` first,
    else ``scope``, the config's ``default_scope``); ``None`` where it cannot be resolved here."""
    if not isinstance(hook, dict):
        return type(hook)
    return config_class(HOOKS, hook, scope)


def find_ohl_hook(hooks: Any, scope: str | None = None) -> tuple[int, Any] | None:
    """The OHL hook among ``hooks`` (``custom_hooks`` configs or built hooks), found by type.

    A hook is the OHL hook when its class (or its config's ``type``: ``'OHLHook'``, ``'automl_mm.OHLHook'``, the
    class itself) is ``OHLHook`` or a subclass; a ``type`` that is not registered is not. A config's ``type`` is
    resolved as the runner builds it: in the hook's own ``_scope_``, else in ``scope``, the config's ``default_scope``
    (``None``: the current default scope, else automl_mm's registry), so a subclass registered in another scope is
    found too (:func:`~automl_mm.registry.config_class`).

    Returns:
        ``(index in hooks, hook)``, or ``None`` when there is none.

    Raises:
        ValueError: several OHL hooks (a run has one copy layout); the message names their ``custom_hooks`` indices.
    """
    from .hook import OHLHook  # the hook imports this module

    found = []
    for i, hook in enumerate(hooks or []):
        cls = _hook_class(hook, scope)
        if cls is not None and issubclass(cls, OHLHook):
            found.append((i, hook))
    if len(found) > 1:
        raise ValueError(f'custom_hooks{[i for i, _ in found]} are all OHL hooks; a run has one (one copy layout)')
    return found[0] if found else None


_RUNNER_SIGNATURE = inspect.signature(Runner.__init__)


def ohl_copy_counts(hooks: Any, scope: str | None = None) -> tuple[int, int] | None:
    """``(num_copies, ranks_per_copy)`` of the OHL hook among ``hooks`` (configs or built hooks,
    :func:`find_ohl_hook`), ``ranks_per_copy`` defaulting as ``OHLHook``'s; ``None`` without one, or where the counts
    are not valid (several OHL hooks, counts that are not positive integers: the hook's own checks report them when
    the runner builds it)."""
    from .hook import OHLHook

    try:
        found = find_ohl_hook(hooks, scope)
    except ValueError:
        return None
    if found is None:
        return None
    hook = found[1]
    get = hook.get if isinstance(hook, dict) else lambda key, default=None: getattr(hook, key, default)
    counts = get('num_copies'), get('ranks_per_copy', inspect.signature(OHLHook).parameters['ranks_per_copy'].default)
    try:
        check_copy_counts(*counts)
    except ValueError:
        return None
    return counts


def runner_copy_counts(args: tuple, kwargs: dict) -> tuple[int, int] | None:
    """:func:`ohl_copy_counts` of the ``custom_hooks`` among mmengine ``Runner.__init__``'s arguments, the hook
    configs' types resolved in its ``default_scope`` argument (``'mmengine'`` where not given), the scope the runner
    builds them in, not the process's current default scope, which is the latest runner's (an mmdet detector's
    ``'mmdet'`` holds no unprefixed ``'OHLHook'``); ``None`` also for arguments the runner refuses (it names them)."""
    try:
        call = _RUNNER_SIGNATURE.bind(None, *args, **kwargs).arguments
    except TypeError:  # mmengine's Runner.__init__ says what is wrong with the arguments
        return None
    scope = call.get('default_scope', _RUNNER_SIGNATURE.parameters['default_scope'].default)
    return ohl_copy_counts(call.get('custom_hooks'), scope if isinstance(scope, str) else None)
