"""Where in a config a misspelled ``type`` is: ``--cfg-options model.backbone.type=SimpleConvNett`` stopped the
runner's model build with mmengine's ``KeyError: 'SimpleConvNett is not in the automl_mm::model registry. Please
check whether the value of `SimpleConvNett` is correct ...'``, which names neither the config key nor the name meant
(``train_dataloader.dataset.type=DigitDataset`` likewise, at the first epoch). :func:`located_type_error` finds the
config node of that ``type`` and gives ``model.backbone.type='SimpleConvNett' is not in the automl_mm::model
registry (did you mean 'SimpleConvNet'?)``. Used where a model or dataset is built from a config:
:func:`~automl_mm.engine.preflight_build.build_check`, the runners' ``from_cfg``
(:mod:`~automl_mm.engine.runner_checks`) and the loaders' dataset builds (:mod:`~automl_mm.engine.loader_keys`).
"""
from __future__ import annotations

import difflib
import re
from typing import Any

from automl_mm.utils.wording import a_name

from .preflight_walk import dict_nodes, typed_nodes

# mmengine 0.10.7 Registry.build_func: f'{type} is not in the {scope}::{name} registry. Please check whether ...'
_UNREGISTERED = re.compile(r'^(?P<name>\S+) is not in the (?P<scope>[\w.]+)::(?P<registry>[^:]+?) registry')


# mmengine 0.10.7 build_from_cfg: f'`cfg` or `default_args` must contain the key "type", but got {cfg}\n{default_args}'
_UNTYPED = re.compile(r'^`cfg` or `default_args` must contain the key "type", but got (?P<got>.*)\n', re.S)


def _located_untyped(got: str, node: Any, key: str) -> KeyError | None:
    """``KeyError("<key> has no 'type' (it sets: a, b)")`` for the first dict at or below ``node`` (depth first)
    without a ``type`` that mmengine printed as ``got``, or ``None``."""
    for sub, where in dict_nodes(node, key):
        if sub.get('type') is None and got in (str(sub), str(dict(sub)), repr(sub)):
            return KeyError(f"{where} has no 'type' (it sets: {', '.join(map(str, sub))}); mmengine builds a "
                            'config node from its registered type')
    return None


def _roots(registry_name: str) -> list[Any]:
    """The root registries called ``registry_name``: mmengine's (``'model'``, ``'hook'``, ...) and automl_mm's own
    roots (``'search space'``, ``'sampler'``, ``'controller'``, ``'augment op'``)."""
    import mmengine.registry as mmengine_registry

    import automl_mm.registry as automl_mm_registry

    found: list[Any] = []
    for module in (mmengine_registry, automl_mm_registry):
        for attr in dir(module):
            root = getattr(module, attr)
            if (isinstance(root, mmengine_registry.Registry) and root.parent is None and root.name == registry_name
                    and all(root is not seen for seen in found)):
                found.append(root)
    return found


def _registered_names(registry_name: str, scope: str) -> list[str]:
    """The names a lookup in ``scope``'s registry called ``registry_name`` can find: that scope's registry's and
    its root's (the root's own and its children's, as ``Registry.get`` falls back to the root)."""
    names: set[str] = set()
    for root in _roots(registry_name):
        names.update(root.module_dict)
        scoped = root._search_child(scope)
        if scoped is not None:
            names.update(scoped.module_dict)
    return sorted(names)


def other_scopes_holding(registry_name: str, name: str, scope: str) -> list[str]:
    """The scopes other than ``scope`` whose registry called ``registry_name`` registers ``name`` exactly, in the
    order of mmengine's registry tree (depth first from the root). A lookup in ``scope`` searches that scope's
    registry and mmengine's root only, so a class registered in a sibling scope (yours in ``automl_mm.registry.MODELS``
    used from an mmdet config, or in ``mmdet.registry.MODELS`` used from an automl_mm config) is found only with its
    scope prefix (``'automl_mm.MyNet'``, ``'mmdet.MyNet'``)."""
    if not isinstance(name, str) or '.' in name:
        return []
    found: list[str] = []
    for root in _roots(registry_name):
        stack = [root] if root.scope != 'mmengine' else list(root.children.values())
        while stack:
            current = stack.pop(0)
            if current.scope != scope and name in current.module_dict and current.scope not in found:
                found.append(current.scope)
            stack.extend(current.children.values())
    return found


def _registrations(cls: Any) -> list[tuple[str, str]]:
    """Where the class ``cls`` is registered, under any name: ``[('automl_mm::search space', 'my_lr'), ('mmdet::model',
    'MyLrSpace')]`` (``'<scope>::<registry name>'``, the key), every registry of mmengine's and automl_mm's trees
    (depth first from each root); ``[]`` for ``None`` or a class no registry holds."""
    import mmengine.registry as mmengine_registry

    import automl_mm.registry as automl_mm_registry

    if cls is None:
        return []
    found: list[tuple[str, str]] = []
    seen: list[Any] = []
    stack = [r for module in (mmengine_registry, automl_mm_registry) for r in vars(module).values()
             if isinstance(r, mmengine_registry.Registry) and r.parent is None]
    while stack:
        current = stack.pop(0)
        if any(current is r for r in seen):
            continue
        seen.append(current)
        found.extend((f'{current.scope}::{current.name}', key) for key, value in current.module_dict.items()
                     if value is cls)
        stack.extend(current.children.values())
    return found


def type_hint(registry_name: str, name: str, scope: str) -> str:
    """What to write instead of an unregistered ``name`` looked up in ``scope``: the scope prefix where another scope's
    registry holds ``name`` (mmengine's message, and a close name such as mmdet's ``'Invert'`` for one's own
    ``'MyInvert'``, pointed elsewhere), else, where another of automl_mm's registries holds ``name`` (a
    distribution of one's own registered with ``@SEARCH_SPACES``), that registry and the decorator to use, else the
    closest name the lookup can find (``difflib``, alone from a ratio of
    :data:`TYPO_RATIO`: a typo), and for a name no registered one is that close, how a class of one's own is
    registered and imported (:func:`own_class_hint`: a config without ``custom_imports`` naming ``'MyLrSpace'`` got
    ``did you mean 'LayerwiseSpace'?`` alone, and mmengine's advice on custom modules was replaced). While
    a ``custom_imports`` module failed to import under ``allow_failed_imports=True`` (mmengine only warned of it),
    the hint names that module, its file and its exception first
    (:func:`automl_mm.engine.custom_imports.failed_imports_note`).

    Returns:
        ``" (it is registered in the automl_mm::transform registry, which scope 'mmdet' does not search: write
        type='automl_mm.MyInvert')"``, ``" (did you mean 'SimpleConvNet'?)"``, ``" (did you mean 'LayerwiseSpace'?
        or, if it is a class of your own, register it with @SEARCH_SPACES.register_module() (automl_mm.registry) in
        a module that the config's custom_imports lists)"``, ``''`` (``name`` not a str), or with a failed import
        ``" (custom_imports skipped a module that failed to import (allow_failed_imports=True), which may be what
        registers it: 'my_project.lr_space' (/.../lr_space.py) failed while importing: ModuleNotFoundError: No
        module named 'not_installed_pkg'; else did you mean 'LayerwiseSpace'?)"``.
    """
    from .custom_imports import failed_imports_note

    note = failed_imports_note()
    hint = _registry_hint(registry_name, name, scope, own=not note)
    if not note:
        return hint
    return f' ({note}; else {hint[2:-1]})' if hint else f' ({note})'


def _registry_hint(registry_name: str, name: str, scope: str, own: bool = True) -> str:
    """:func:`type_hint` without the failed imports' note; without :func:`own_class_hint` unless ``own``."""
    from .custom_imports import unregistered_class, unregistered_definition

    if not isinstance(name, str):
        return ''
    others = other_scopes_holding(registry_name, name, scope)
    if others:
        where = ' and '.join(f'{other}::{registry_name}' for other in others)
        what = ' or '.join(f'type={other + "." + name!r}' for other in others)
        return (f' (it is registered in the {where} registry, which scope {scope!r} does not search: write '
                f'{what})')
    elsewhere = _automl_mm_registries_holding(name, registry_name) if scope == 'automl_mm' else []
    if elsewhere:
        return (f' (it is registered in automl_mm\'s {" and ".join(elsewhere)} registry, and '
                f'{a_name(registry_name)} is looked up in the {registry_name} registry: '
                f'{own_class_hint(registry_name, scope, own=False)})')
    defined = unregistered_definition(name) if own else ''
    if defined:
        # one's own class in a module custom_imports imported, without its decorator: it was told to register the
        # class "in a module that the config's custom_imports lists", which it was already
        registered = _registrations(unregistered_class(name))
        renamed = [key for where, key in registered if where == f'{scope}::{registry_name}']
        if renamed:  # @SEARCH_SPACES.register_module(name='my_lr'): its type is that name
            return (f' ({name} is defined in {defined}, which custom_imports imported, and registered in the '
                    f'{scope}::{registry_name} registry as {renamed[0]!r}: write type={renamed[0]!r})')
        if registered:  # registered, in a registry this lookup does not search
            where = ' and '.join(f'the {where} registry as {key!r}' for where, key in registered)
            return (f' ({name} is defined in {defined}, which custom_imports imported, and registered in {where}, '
                    f'not in the {scope}::{registry_name} registry: register it {_register_how(registry_name, scope)})')
        return (f' ({name} is defined in {defined}, which custom_imports imported, but not registered: register it '
                f'{_register_how(registry_name, scope)})')
    close = close_names(name, _registered_names(registry_name, scope))
    if close and (not own or difflib.SequenceMatcher(None, name.lower(), close[0].lower()).ratio() >= TYPO_RATIO):
        return f' (did you mean {close[0]!r}?)'
    if not own:
        return ''
    # a name no registered one is close to is more likely one's own class whose module was not imported (no
    # custom_imports: 'MyLrSpace' got "did you mean 'LayerwiseSpace'?" alone, and mmengine's advice was gone)
    own = own_class_hint(registry_name, scope)
    return f' (did you mean {close[0]!r}? or, {own})' if close else f' ({own})'


def close_names(name: str, names: Any, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The at most ``n`` of ``names`` closest to ``name``, compared without case (:func:`difflib.get_close_matches`
    on the lower-cased names, ``cutoff`` its ratio), each returned as registered: ``'Reinforce'`` gets
    ``['REINFORCE']`` and ``'sgd'`` ``['SGD']``, which a case-sensitive comparison found no letter in common with
    (ratios 0.11 and 0); closest first (:func:`~automl_mm.engine.preflight_data_hint.closest_first`: a name equal to
    ``name`` but for case first)."""
    spelled: dict[str, str] = {}
    for known in names:
        spelled.setdefault(str(known).lower(), str(known))
    from .preflight_data_hint import closest_first

    close = closest_first(name.lower(), difflib.get_close_matches(name.lower(), list(spelled), n=n, cutoff=cutoff))
    return [spelled[c] for c in close]


#: The :func:`difflib.SequenceMatcher` ratio from which a registered name is offered alone as the one meant (a typo:
#: 'Acuracy' / 'Accuracy' 0.93, 'SimpleConvNett' / 'SimpleConvNet' 0.96); below it, down to difflib's 0.6
#: ('MyLrSpace' / 'LayerwiseSpace' 0.61), the hint adds :func:`own_class_hint`.
TYPO_RATIO = 0.8


def _automl_mm_registries_holding(name: str, registry_name: str) -> list[str]:
    """The names of automl_mm's registries other than ``registry_name`` that register ``name`` (a distribution
    registered with ``@SEARCH_SPACES.register_module()``: ``['search space']``)."""
    import mmengine.registry as mmengine_registry

    import automl_mm.registry as automl_mm_registry

    found = []
    for attr in sorted(dir(automl_mm_registry)):
        registry = getattr(automl_mm_registry, attr)
        if (isinstance(registry, mmengine_registry.Registry) and registry.scope == 'automl_mm'
                and registry.name != registry_name and name in registry.module_dict and registry.name not in found):
            found.append(registry.name)
    return found


def _register_how(registry_name: str, scope: str) -> str:
    """How to register a class into the registry ``registry_name`` a lookup in ``scope`` searches: ``'with
    @SEARCH_SPACES.register_module() (automl_mm.registry)'`` (automl_mm's registry of that name), else ``'in the
    mmdet::model registry'``."""
    import mmengine.registry as mmengine_registry

    import automl_mm.registry as automl_mm_registry

    registries = {a: getattr(automl_mm_registry, a) for a in dir(automl_mm_registry)}
    attr = next((a for a, r in registries.items() if isinstance(r, mmengine_registry.Registry)
                 and r.scope == 'automl_mm' and r.name == registry_name), None) if scope == 'automl_mm' else None
    return f'with @{attr}.register_module() (automl_mm.registry)' if attr else \
        f'in the {scope}::{registry_name} registry'


def own_class_hint(registry_name: str, scope: str = 'automl_mm', own: bool = True) -> str:
    """How a class of one's own gets into the registry called ``registry_name`` that a lookup in ``scope`` searches:
    ``"if it is a class of your own, register it with @SEARCH_SPACES.register_module() (automl_mm.registry) in a
    module that the config's custom_imports lists"`` (the decorator of automl_mm's registry of that name); for
    another scope, ``"... register it in the mmdet::model registry in a module ..."``; without ``own``, from
    ``"register it"`` on."""
    how = _register_how(registry_name, scope)
    return ('if it is a class of your own, ' if own else '') + \
        f"register it {how} in a module that the config's custom_imports lists"


def located_type_error(err: BaseException, node: Any, key: str) -> KeyError | None:
    """A ``KeyError`` naming the config key of the ``type`` that ``err`` (mmengine's "X is not in the
    <scope>::<registry> registry") was about, with the closest registered name, or ``None`` where ``err`` is no such
    error or no node below ``node`` has that ``type``.

    Args:
        err: the error the build raised.
        node: the config node that was built (``model``, a dataset config), a dict.
        key: the config key of ``node`` (``'model'``, ``'train_dataloader.dataset'``).

    Returns:
        ``KeyError("<key>.type='X' is not in the <scope>::<registry> registry (did you mean 'Y'?)")`` for the first
        node (depth first) of that type (the hint: :func:`type_hint`, the scope prefix where another scope
        registers ``'X'``); for mmengine's "must contain the key "type"" the key of the node without one,
        ``KeyError("<key>.<path> has no 'type' (it sets: ...)")``; else ``None``.
    """
    if not isinstance(err, KeyError) or not err.args or not isinstance(err.args[0], str):
        return None
    untyped = _UNTYPED.match(err.args[0])
    if untyped is not None:
        return _located_untyped(untyped['got'], node, key)
    found = _UNREGISTERED.match(err.args[0])
    if found is None:
        return None
    name = found['name']
    for sub, where in typed_nodes(node, key):
        if sub['type'] != name:
            continue
        hint = type_hint(found['registry'], name, found['scope'])
        return KeyError(f'{where}.type={name!r} is not in the {found["scope"]}::{found["registry"]} registry{hint}')
    return None


__all__ = ['located_type_error', 'other_scopes_holding', 'own_class_hint', 'type_hint']
