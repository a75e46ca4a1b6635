"""The source files this process imported, as they were when it imported them.

A distributed run compares the source its ranks run (:func:`automl_mm.engine.rank_agreement.source_hashes`) when
training starts, well after each process imported it: a file edited in between was hashed as edited, so ranks that
imported different versions of it (the edit landed between their imports, on a shared disk) agreed on a text that
not all of them ran. What a process imported is recorded here when it imports it (:func:`record_imported`: each
file's :func:`~automl_mm.utils.file_identity.file_identity`, one ``stat``): automl_mm's files when ``automl_mm`` is
imported, a ``custom_imports`` module's when mmengine imports it; :func:`changed_since_import` says whether the file
on disk is still that one.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any

from .file_identity import FileIdentity, file_identity

#: A package with more ``.py`` files than this is taken by its ``__init__.py`` only (:func:`module_files`).
MAX_FILES = 2000

_RECORDED: dict[str, FileIdentity] = {}  # absolute path: its identity when first recorded


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


def record_imported(module: Any) -> None:
    """Record the identity of each of ``module``'s files (:func:`module_files`) as this process imported them: call
    it as the module is imported. A file recorded before keeps its first record; one that cannot be ``stat``-ed is
    not recorded."""
    for path in module_files(module):
        key = osp.abspath(path)
        if key not in _RECORDED:
            try:
                _RECORDED[key] = file_identity(key)
            except OSError:
                pass


def imported_identity(path: str) -> FileIdentity | None:
    """The identity :func:`record_imported` recorded for the file ``path``, or ``None`` where none was."""
    return _RECORDED.get(osp.abspath(path))


def changed_since_import(path: str) -> str | None:
    """What changed in the file ``path`` since this process imported it, or ``None`` where it is the file recorded
    then (or none was recorded: not imported, or imported outside :func:`record_imported`).

    Returns:
        ``'removed'``, ``'replaced by another file'`` (another device / inode: renamed or copied over),
        ``'rewritten: <n> bytes, was <m>'`` or ``'rewritten, modified <t> s after the import'`` (mtime / ctime).
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
    if (now.device, now.inode) != (recorded.device, recorded.inode):
        return 'replaced by another file'
    if now.size != recorded.size:
        return f'rewritten: {now.size} bytes, was {recorded.size}'
    return f'rewritten, modified {(max(now.mtime_ns, now.ctime_ns) - recorded.ctime_ns) / 1e9:.3f} s after the import'


def forget(path: str) -> None:
    """Drop the record of the file ``path`` (a test's temporary module)."""
    _RECORDED.pop(osp.abspath(path), None)


__all__ = ['MAX_FILES', 'changed_since_import', 'forget', 'imported_identity', 'module_files', 'record_imported']
