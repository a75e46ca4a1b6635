"""``custom_imports`` modules that failed under ``allow_failed_imports=True``, remembered for the errors they cause.

mmengine's ``import_modules_from_strings`` (``Config.fromfile`` runs it on a config's ``custom_imports``) only warns
``'my_project.lr_space failed to import and is ignored.'`` when ``allow_failed_imports=True`` and a module raises
``ImportError`` (a plugin importing a package that is not installed, a misspelled module name): the run went on and
stopped later with ``KeyError: 'MyLrSpace is not in the automl_mm::search space registry'``, which named neither the
module nor why it failed (and, with a close registered name, suggested another class: ``did you mean
'LayerwiseSpace'?``). :func:`import_modules_recording_failures` replaces it (:mod:`automl_mm.engine.patches`, entry
14) with the same semantics (the same modules imported, ``None`` for a failed one, ``ImportError`` without
``allow_failed_imports``, every other exception raised as it is) and remembers each failure, with its file and
exception (:func:`custom_import_failure`); :func:`failed_imports_note` is what an unregistered ``type``'s error
appends (:func:`automl_mm.engine.preflight_types.type_hint`).

:func:`custom_import_failure` says what went wrong for any ``custom_imports`` module that failed (the message of
:func:`automl_mm.engine.config_read.read_config` and of ``--cfg-options custom_imports=...``, too).
"""
from __future__ import annotations

import difflib
import functools
import re
import sys
import warnings
from collections.abc import Callable
from importlib import import_module
from typing import Any

#: module name -> what went wrong (``"'my_project.x' (/path/x.py) failed while importing: ModuleNotFoundError:
#: No module named 'y'"``), in the order of the failures; a later successful import of the module drops it.
_FAILED: dict[str, str] = {}

#: the ``custom_imports`` modules imported in this process (names, in order; :func:`unregistered_definition` looks
#: in them for a class of one's own that a config names but no decorator registered)
_IMPORTED: dict[str, None] = {}


def _chain(err: BaseException) -> list[BaseException]:
    """``err`` and the errors it was raised from or while handling (``__cause__`` / ``__context__``), outermost
    first."""
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def failed_custom_module(err: BaseException) -> str | None:
    """The ``custom_imports`` module whose import ``err`` reports failed (mmengine's ``import_modules_from_strings``:
    ``ImportError('Failed to import <module>')`` in its chain, or :func:`custom_import_error`'s), ``None`` where
    ``err`` is no such failure."""
    marked = next((getattr(e, 'custom_imports_module', None) for e in _chain(err)
                   if getattr(e, 'custom_imports_module', None)), None)
    if marked is not None:
        return marked
    failed = next((m for m in (re.fullmatch(r'Failed to import (\S+)', str(e)) for e in _chain(err)) if m), None)
    return None if failed is None else failed[1]


def importing_custom_module(err: BaseException) -> str | None:
    """The ``custom_imports`` module whose import raised ``err`` (or an error of its chain) as it is: mmengine's
    ``import_modules_from_strings`` wraps only an ``ImportError`` (:func:`failed_custom_module`), and passes on
    anything else a module raises while imported (an extension built for another CUDA: ``RuntimeError``; a
    ``SyntaxError``), as does :func:`import_modules_recording_failures` under ``allow_failed_imports=True``. Read
    from the traceback: the name given to the outermost ``importlib.import_module`` that one of those two called;
    ``None`` where ``err`` was raised elsewhere."""
    import importlib
    import os.path as osp

    import mmengine.utils.misc

    callers = {osp.abspath(mmengine.utils.misc.__file__), osp.abspath(__file__)}
    for e in _chain(err):
        tb, caller = e.__traceback__, None
        while tb is not None:
            code = tb.tb_frame.f_code
            if code is importlib.import_module.__code__ and caller is not None and \
                    osp.abspath(caller.co_filename) in callers:
                name = tb.tb_frame.f_locals.get('name')
                return name if isinstance(name, str) and name else None
            caller, tb = code, tb.tb_next
    return None


def custom_import_error(message: str, module: str) -> ImportError:
    """The ``ImportError`` raised where the ``custom_imports`` module ``module`` failed to import: ``message``, its
    ``name`` the module and its ``custom_imports_module`` attribute too, so that what reports it on other ranks
    (:func:`~automl_mm.engine.rank_agreement.reading_config_together`) names the module, not the reading of the
    config file (:func:`failed_custom_module`)."""
    err = ImportError(message, name=module)
    err.custom_imports_module = module  # type: ignore[attr-defined]
    return err


def custom_import_failure(err: BaseException, where: str = 'custom_imports') -> str | None:
    """What went wrong where mmengine's ``import_modules_from_strings`` failed on a ``custom_imports`` module, or
    ``None`` where ``err`` is no such failure.

    mmengine ends every failure with ``Failed to import custom modules from {...}, the current sys.path is: ...
    You should set `PYTHONPATH` ...``, also where the module was found and failed itself (a plugin importing a
    package that is not installed, or registering a name twice): the cause was two tracebacks up, behind advice that
    did not apply. Here a module no ``sys.path`` entry holds is named with that advice, and a module that was found
    with its file and the error it raised.

    Args:
        err: the error raised (``Config.fromfile``'s ``ImportError``, or ``ImportError('Failed to import X')``).
        where: what named the module, for the message (``'custom_imports'``, ``'--cfg-options custom_imports'``).

    Returns:
        ``"custom_imports: no module 'myproj.lr_space' (no folder on sys.path holds 'myproj': set PYTHONPATH to
        the folder that holds myproj/ or myproj.py, or correct the name)"``, ``"custom_imports: no module
        'myproj.lr_spac' (package 'myproj' in /tmp/myproj has no 'lr_spac'; did you mean myproj.lr_space?)"`` or
        ``"custom_imports: 'myproj.broken' (/tmp/myproj/broken.py) failed while importing: ModuleNotFoundError: No
        module named 'nonexistent_pkg'"``.
    """
    import importlib.util

    module = failed_custom_module(err)
    if module is None:
        return None
    cause = _chain(err)[-1]
    missing = getattr(cause, 'name', None) if isinstance(cause, ModuleNotFoundError) else None
    if missing and (module == missing or module.startswith(f'{missing}.')):
        parent, _, leaf = missing.rpartition('.')
        if not parent:
            return (f'{where}: no module {module!r} (no folder on sys.path holds {missing!r}: set PYTHONPATH to '
                    f'the folder that holds {missing}/ or {missing}.py, or correct the name)')
        import pkgutil

        try:
            folders = list(importlib.util.find_spec(parent).submodule_search_locations or [])
        except Exception:  # not a package
            folders = []
        names = sorted(info.name for info in pkgutil.iter_modules(folders))
        close = difflib.get_close_matches(leaf, names, n=1)
        hint = f'; did you mean {parent}.{close[0]}?' if close else ''
        return f'{where}: no module {module!r} (package {parent!r} in {", ".join(folders)} has no {leaf!r}{hint})'
    try:
        spec = importlib.util.find_spec(module)
    except Exception:  # a parent package that fails to import itself
        spec = None
    origin = f' ({spec.origin})' if spec is not None and spec.origin else ''
    return f'{where}: {module!r}{origin} failed while importing: {type(cause).__name__}: {cause}'


def _describe(module: str, err: ImportError) -> str:
    """``"'m' (/path/m.py) failed while importing: E: msg"`` or ``"no module 'm' (...)"`` for ``err``."""
    wrapped = ImportError(f'Failed to import {module}')
    wrapped.__cause__ = err
    explained = custom_import_failure(wrapped, 'custom_imports')
    explained = explained or f'custom_imports: {module!r} failed while importing: {type(err).__name__}: {err}'
    return explained.removeprefix('custom_imports: ')


def import_modules_recording_failures(original: Callable) -> Callable:
    """Wrap mmengine's ``import_modules_from_strings(imports, allow_failed_imports=False)``.

    Without ``allow_failed_imports`` (or with ``imports`` that are not a list or str) the call is ``original``'s.
    With it, each module is imported as mmengine does; one raising ``ImportError`` gives ``None`` in its place and a
    ``UserWarning`` naming the module, its file and the exception (mmengine's named the module only), and is
    remembered for :func:`failed_imports_note`. Any other exception (a ``SyntaxError`` in the module) is raised, as
    mmengine raises it.
    """
    @functools.wraps(original)
    def wrapper(imports: Any, allow_failed_imports: bool = False) -> Any:
        if not allow_failed_imports or not imports or not isinstance(imports, (list, str)) or (
                isinstance(imports, list) and not all(isinstance(m, str) for m in imports)):
            modules = original(imports, allow_failed_imports=allow_failed_imports)
            if isinstance(imports, (list, str)):
                _IMPORTED.update(dict.fromkeys(m for m in ([imports] if isinstance(imports, str) else imports)
                                               if isinstance(m, str) and m in sys.modules))
                _record_files(imports)
            return modules
        names = [imports] if isinstance(imports, str) else imports
        imported = []
        for name in names:
            try:
                module = import_module(name)
            except ImportError as err:
                _FAILED[name] = _describe(name, err)
                warnings.warn(f'custom_imports: {_FAILED[name]}; ignored (allow_failed_imports=True), so nothing it '
                              'registers can be built', UserWarning, stacklevel=2)
                module = None
            else:
                _FAILED.pop(name, None)
                _IMPORTED[name] = None
            imported.append(module)
        _record_files(names)
        return imported[0] if isinstance(imports, str) else imported

    wrapper.records_failures = True
    return wrapper


def _record_files(imports: Any) -> None:
    """Record the files of the ``custom_imports`` modules just imported (:func:`automl_mm.utils.imported_files.
    record_imported`): the ranks compare those, not the files as they are when training starts."""
    from ..utils.imported_files import record_imported

    for name in [imports] if isinstance(imports, str) else imports:
        if isinstance(name, str) and name in sys.modules:
            record_imported(sys.modules[name])


def failed_imports() -> dict[str, str]:
    """The ``custom_imports`` modules that failed under ``allow_failed_imports=True`` in this process and have not
    been imported since (by mmengine or otherwise): module name -> what went wrong."""
    import sys

    return {name: text for name, text in _FAILED.items() if name not in sys.modules}


def forget_failures_outside(imports: list[str]) -> None:
    """Forget the recorded failures and imports (:func:`unregistered_definition`) of modules that ``imports`` (the
    module names of the ``custom_imports`` of the config now checked: :func:`automl_mm.engine.preflight.check_config`)
    does not list; record its modules already imported as its imports. The record is of the process: a config loaded
    after another whose plugin failed (a test, a benchmark building several runs) was told, for each of its own
    unregistered types, that the other config's module 'may be what registers it', and for a class the other's
    plugin defines, that it is defined 'in hxp.spaces (...), which custom_imports imported'."""
    for name in [name for name in _FAILED if name not in set(imports)]:
        del _FAILED[name]
    # and of the modules it imported: a class of the other config's plugin, named in this one, was said to be
    # defined in a module 'which custom_imports imported'; this config's modules, imported before, are its own
    _IMPORTED.clear()
    _IMPORTED.update(dict.fromkeys(name for name in imports if isinstance(name, str) and name in sys.modules))


def _find_without_running(name: str) -> Any:
    """The ``ModuleSpec`` of module ``name`` (dotted), or ``None`` where no ``sys.path`` entry holds it, found without
    running any module. ``importlib.util.find_spec('pkg.mod')`` imports ``pkg`` first: a package whose
    ``__init__`` was what failed ran again (registering its classes a second time) and its ``ImportError`` was read
    as ``'pkg.mod'`` missing. Here only the top-level name goes through ``find_spec`` (which imports nothing for
    it); each further part is looked up in its parent's ``__path__`` (an imported parent's) or
    ``submodule_search_locations`` (a parent not imported) with ``importlib.machinery.PathFinder``."""
    import importlib.util
    from importlib.machinery import PathFinder

    parts = name.split('.')
    spec = None
    for i in range(len(parts)):
        full = '.'.join(parts[:i + 1])
        parent = sys.modules.get('.'.join(parts[:i])) if i else None
        try:
            if full in sys.modules or i == 0:
                spec = importlib.util.find_spec(full)
            else:
                locations = getattr(parent, '__path__', None) if parent is not None else (
                    spec.submodule_search_locations)
                spec = PathFinder.find_spec(full, list(locations)) if locations else None
        except (ImportError, ValueError):  # a module without __spec__ (__main__), a malformed name
            spec = None
        if spec is None:
            return None
    return spec


def record_unseen_failures(custom_imports: Any) -> None:
    """Record the modules of a config's ``custom_imports`` (under ``allow_failed_imports=True``) that are not
    imported and were not recorded: mmengine's loop skipped them where neither :func:`import_modules_recording_failures`
    nor :func:`recording_mmengine_warnings` saw it (a loop bound before automl_mm was imported, a warnings filter
    that hid mmengine's warning, or automl_mm imported inside ``warnings.catch_warnings()``, whose exit put the
    previous ``showwarning`` back). Found without running the module or its packages again (they may have
    registered classes before they failed: :func:`_find_without_running`): a module no ``sys.path`` entry holds is
    named as missing; one that exists (its own code or its package's ``__init__`` failed), with its file and the
    advice to import it to see its error.

    Args:
        custom_imports: The config's ``custom_imports`` (a dict with ``imports`` and ``allow_failed_imports``).
    """
    if not isinstance(custom_imports, dict) or not custom_imports.get('allow_failed_imports'):
        return
    imports = custom_imports.get('imports')
    for name in [imports] if isinstance(imports, str) else imports or []:
        if not isinstance(name, str) or name in sys.modules or name in _FAILED:
            continue
        spec = _find_without_running(name)
        if spec is None:
            _FAILED[name] = _describe(name, ModuleNotFoundError(f'No module named {name!r}', name=name))
        else:
            _FAILED[name] = (f'{name!r} ({spec.origin}) failed while importing (mmengine skipped it; its error was '
                             f'not recorded: python -c "import {name}" shows it)')


def unregistered_definition(name: str) -> str:
    """Where a class called ``name`` is defined in a module that ``custom_imports`` imported in this process (or
    reached through it: a package's ``__init__`` importing it, a module of the same top-level package that one of
    them imported), for the error of a ``type`` that no registry holds:
    a class of one's own without its ``@....register_module()`` line was refused as if its module had not been
    imported (``'MyLrSpace2 is not in the automl_mm::search space registry (if it is a class of your own, register
    it ...)'``), naming neither the module that defines it nor that the decorator is what is missing.

    Returns:
        ``"my_project.lr_space (/path/my_project/lr_space.py)"``, the defining module and its file, for the first
        such module (in import order); ``''`` where none of them has a class of that name outside automl_mm and
        the installed libraries (site-packages).
    """
    found = unregistered_class(name)
    if found is None:
        return ''
    where = getattr(sys.modules.get(found.__module__), '__file__', None)
    return f'{found.__module__} ({where})' if where else found.__module__


def unregistered_class(name: str) -> type | None:
    """The class of :func:`unregistered_definition` (``None`` where there is none)."""
    import os
    import sysconfig

    # a library's own unregistered class (automl_mm's, or one installed in site-packages, that a fragment's
    # custom_imports=['automl_mm'] reaches) is not one's own class missing its decorator
    libraries = tuple(os.path.realpath(sysconfig.get_paths()[key]) + os.sep for key in ('purelib', 'platlib'))
    # then the modules of their packages that they imported in turn (custom_imports=['my_project.plugin'], whose
    # 'import my_project.lr_space' defines the class without exporting it): one's own class was told to be listed
    tops = {m.split('.')[0] for m in _IMPORTED} - {'automl_mm'}
    reached = [m for m in list(sys.modules) if m.split('.')[0] in tops and m not in _IMPORTED]
    for module_name in list(_IMPORTED) + reached:
        module = sys.modules.get(module_name)
        found = getattr(module, name, None) if module is not None and name.isidentifier() else None
        if not isinstance(found, type) or found.__name__ != name or found.__module__.split('.')[0] == 'automl_mm':
            continue
        where = getattr(sys.modules.get(found.__module__), '__file__', None)
        if where and os.path.realpath(where).startswith(libraries):
            continue
        return found
    return None


def failed_imports_note() -> str:
    """What an error about an unregistered ``type`` adds while some ``custom_imports`` module failed to import under
    ``allow_failed_imports=True`` (and has not been imported since): ``"custom_imports skipped a module that failed
    to import (allow_failed_imports=True), which may be what registers it: 'my_project.lr_space'
    (/.../lr_space.py) failed while importing: ModuleNotFoundError: No module named 'not_installed_pkg'"``, each
    failed module's cause joined by ``'; '``; ``''`` where none failed."""
    failed = failed_imports()
    if not failed:
        return ''
    modules = 'a module' if len(failed) == 1 else f'{len(failed)} modules'
    return (f'custom_imports skipped {modules} that failed to import (allow_failed_imports=True), which may be what '
            f'registers it: ' + '; '.join(failed.values()))


# mmengine 0.10.7 import_modules_from_strings, inside its `except ImportError:`
_MMENGINE_WARNING = re.compile(r'^(?P<module>\S+) failed to import and is ignored\.$')


def recording_mmengine_warnings(showwarning: Callable) -> Callable:
    """Wrap ``warnings.showwarning``: mmengine's own ``'<module> failed to import and is ignored.'`` is shown as
    before and its module remembered with the ``ImportError`` being handled (mmengine warns inside its ``except``).
    This covers the call that was already running when automl_mm was imported: a stock launcher's
    ``custom_imports=dict(imports=['automl_mm', 'my_project.x'], allow_failed_imports=True)`` imports automl_mm,
    which installs :func:`import_modules_recording_failures`, from inside mmengine's own loop."""
    @functools.wraps(showwarning)
    def wrapper(message: Any, category: type, *args: Any, **kwargs: Any) -> Any:
        found = _MMENGINE_WARNING.match(str(message)) if issubclass(category, UserWarning) else None
        handled = sys.exc_info()[1]
        if found is not None and isinstance(handled, ImportError):
            _FAILED[found['module']] = _describe(found['module'], handled)
        return showwarning(message, category, *args, **kwargs)

    wrapper.records_failures = True
    return wrapper


def _mmengine_loop_running() -> bool:
    """Whether mmengine's own ``import_modules_from_strings`` (not :func:`import_modules_recording_failures`) is
    running on this thread's stack under ``allow_failed_imports=True``: automl_mm is being imported by its loop."""
    import mmengine.utils.misc as misc_module

    function = misc_module.import_modules_from_strings
    code = getattr(getattr(function, '__wrapped__', function), '__code__', None)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code and frame.f_locals.get('allow_failed_imports'):
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """Put :func:`import_modules_recording_failures` where ``Config.fromfile`` and ``mmengine.utils`` callers find
    ``import_modules_from_strings`` (idempotent), and, only where mmengine's own loop is running (automl_mm imported
    by a stock launcher's ``custom_imports``), :func:`recording_mmengine_warnings` in ``warnings.showwarning``: for
    the rest of that loop, and left in place after it (nothing takes it out but the exit of a
    ``warnings.catch_warnings()`` around it; it records only mmengine's own warning, inside its ``except``).

    ``showwarning`` is no longer wrapped at every import: the process-wide wrapper was the only record of a later
    loop bound before automl_mm, and it was dropped where automl_mm was first imported inside
    ``warnings.catch_warnings()`` (its exit restores ``showwarning``) or never called where a filter hid the warning;
    such failures are now found when the config is checked (:func:`record_unseen_failures`)."""
    import mmengine.config.config as config_module
    import mmengine.utils as utils_module
    import mmengine.utils.misc as misc_module

    for module in (config_module, utils_module, misc_module):
        if not getattr(module.import_modules_from_strings, 'records_failures', False):
            module.import_modules_from_strings = import_modules_recording_failures(module.import_modules_from_strings)
    if not getattr(warnings.showwarning, 'records_failures', False) and _mmengine_loop_running():
        warnings.showwarning = recording_mmengine_warnings(warnings.showwarning)


__all__ = ['failed_imports', 'failed_imports_note', 'forget_failures_outside', 'import_modules_recording_failures',
           'install', 'record_unseen_failures', 'unregistered_class', 'unregistered_definition']
