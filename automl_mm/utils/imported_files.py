"""The source files this process imported, as they were when it imported them.

A distributed run compares the source its ranks run (:func:`automl_mm.engine.rank_agreement.source_hashes`) when
training starts, well after each process imported it: a file edited in between was hashed as edited, so ranks that
imported different versions of it (the edit landed between their imports, on a shared disk) agreed on a text that
not all of them ran. What a process imported is recorded here as it imports it (:func:`record_imported`: each
file's :func:`~automl_mm.utils.file_identity.file_identity`, one ``stat``): a package's modules one by one as each is
imported (a finder on ``sys.meta_path`` that records the file the import system is about to run, and returns
nothing), so a submodule imported later than its package (lazily) is recorded as it ran, not as it was when the
package was imported; a file no module of this process imported is not recorded (:func:`changed_since_import`:
``None``). automl_mm is recorded from its own import, a ``custom_imports`` module from when mmengine imports it;
:func:`changed_since_import` says whether the file on disk is still the one recorded.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import os
import os.path as osp
import sys
import time
from typing import Any

from .file_identity import FileIdentity, file_identity

#: A package with more ``.py`` files than this is taken by its ``__init__.py`` only (:func:`module_files`).
MAX_FILES = 2000

_RECORDED: dict[str, FileIdentity] = {}  # absolute path: its identity when first recorded
_DIGESTS: dict[str, str] = {}  # absolute path: the sha256 of its text then


def module_files(module: Any) -> list[str]:
    """The ``.py`` files of an imported module: its own file, or for a package every ``.py`` file under its folder
    (``__pycache__`` skipped, sorted; its ``__init__.py`` alone past :data:`MAX_FILES`); ``[]`` where it has no source
    file. Paths as the module names them (absolute for a module found on an absolute ``sys.path``)."""
    path = getattr(module, '__file__', None)
    if not path or not path.endswith('.py'):
        return []
    if osp.basename(path) != '__init__.py':
        return [path]
    found = []
    for folder, dirs, files in os.walk(osp.dirname(path)):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        found += [osp.join(folder, f) for f in sorted(files) if f.endswith('.py')]
        if len(found) > MAX_FILES:
            return [path]
    return found


def _record_file(path: str) -> None:
    key = osp.abspath(path)
    if key not in _RECORDED:
        try:
            _RECORDED[key] = file_identity(key)
            _DIGESTS[key] = _digest(key)
        except OSError:
            _RECORDED.pop(key, None)


def _digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class _RecordingFinder:
    """A ``sys.meta_path`` finder that records the source file of each module imported under :data:`_PACKAGES`
    just before the import system runs it (the spec ``importlib.machinery.PathFinder`` finds for it, which the
    import of a submodule on its package's ``__path__`` then uses), and finds nothing itself: the import goes on as
    without it."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if path is not None and any(name.startswith(f'{package}.') for package in _PACKAGES):
            try:
                spec = importlib.machinery.PathFinder.find_spec(name, path, target)
            except (ImportError, ValueError):
                return None
            if spec is not None and isinstance(spec.origin, str) and spec.origin.endswith('.py'):
                _record_file(spec.origin)
        return None


_PACKAGES: set[str] = set()  # packages whose submodules _RecordingFinder records as they are imported


def record_imported(module: Any) -> None:
    """Record the identity of ``module``'s source file as this process imported it (call it as the module is
    imported): a module's own file; for a package its ``__init__.py``, the files of its submodules imported so far
    and, from now on, each submodule's file as it is imported (:class:`_RecordingFinder`), not the files of its
    folder that no import ran. A file recorded before keeps its first record; one that cannot be ``stat``-ed is not
    recorded."""
    path = getattr(module, '__file__', None)
    if not path or not path.endswith('.py'):
        return
    _record_file(path)
    name = getattr(module, '__name__', None)
    if osp.basename(path) != '__init__.py' or not isinstance(name, str):
        return
    if name not in _PACKAGES:
        _PACKAGES.add(name)
        if not any(isinstance(finder, _RecordingFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _RecordingFinder())
    for other, submodule in list(sys.modules.items()):
        if other.startswith(f'{name}.'):
            file = getattr(submodule, '__file__', None)
            if isinstance(file, str) and file.endswith('.py'):
                _record_file(file)


def imported_identity(path: str) -> FileIdentity | None:
    """The identity :func:`record_imported` recorded for the file ``path``, or ``None`` where none was."""
    return _RECORDED.get(osp.abspath(path))


def changed_since_import(path: str) -> str | None:
    """What changed in the file ``path`` since this process imported it, or ``None`` where it is the file recorded
    then (or none was recorded: not imported, or imported outside :func:`record_imported`).

    A file of a package's folder that no module of this process imported was not recorded (``None``): editing it
    while the process runs is no change to what it runs.

    Returns:
        ``'removed'``, ``'replaced by another file'`` (another device / inode: renamed or copied over),
        ``'rewritten: <n> bytes, was <m>'`` or ``'rewritten in place, same size (changed at <local time>)'`` (its
        mtime or ctime moved on). A file whose identity changed but whose text is the one imported (sha256 read at
        import: about 6 ms for automl_mm's 114 files of a run) is unchanged (``None``).
    """
    recorded = imported_identity(path)
    if recorded is None:
        return None
    try:
        now = file_identity(path)
    except OSError:
        return 'removed'
    if now == recorded:
        return None
    try:
        if _digest(path) == _DIGESTS.get(osp.abspath(path)):
            return None  # the same text written again (a checkout, a copy, touch): what it runs is on disk
    except OSError:
        return 'removed'
    if (now.device, now.inode) != (recorded.device, recorded.inode):
        return 'replaced by another file'
    if now.size != recorded.size:
        return f'rewritten: {now.size} bytes, was {recorded.size}'
    changed_at = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(max(now.mtime_ns, now.ctime_ns) / 1e9))
    return f'rewritten in place, same size (changed at {changed_at})'


def forget(path: str) -> None:
    """Drop the record of the file ``path`` (a test's temporary module)."""
    _RECORDED.pop(osp.abspath(path), None)
    _DIGESTS.pop(osp.abspath(path), None)


__all__ = ['MAX_FILES', 'changed_since_import', 'forget', 'imported_identity', 'module_files', 'record_imported']
