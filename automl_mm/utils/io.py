"""Small file helpers shared by tools and loops: files written for resumption are written atomically."""
from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import os.path as osp
import secrets
import time
from collections.abc import Callable, Iterator
from typing import IO

#: A temporary file of an earlier write to the same path older than this (seconds) was left by a killed process.
STALE_TMP_SECONDS = 3600


def _remove_stale_tmps(folder: str, name: str) -> None:
    """Delete ``.<name>*.tmp`` files of earlier writes to the same path that a SIGTERM / SIGKILL left (the
    ``except`` below does not run then: a checkpoint's whole size stayed on disk for good); files younger than
    :data:`STALE_TMP_SECONDS` may be another writer's in progress and are kept."""
    for tmp in glob.glob(osp.join(glob.escape(folder), glob.escape('.' + name) + '*.tmp')):
        with contextlib.suppress(OSError):
            if time.time() - os.stat(tmp).st_mtime > STALE_TMP_SECONDS:
                os.remove(tmp)


def _create_tmp(folder: str, name: str) -> tuple[int, str]:
    """A new, empty ``folder/.<name>.<random>.tmp`` opened for writing, created as ``open()`` creates files: 0666
    less the process's umask at this moment (``tempfile.mkstemp`` makes 0600 files; a umask read once at import
    missed a later ``os.umask(0o077)``, and the file became readable by every user)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_BINARY', 0)
    for _ in range(100):
        tmp = osp.join(folder, f'.{name}.{secrets.token_hex(6)}.tmp')
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # another writer's name (48 random bits): draw again
            continue
    raise FileExistsError(f'no free temporary name for {osp.join(folder, name)} in 100 draws')


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w') -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; on success flush, fsync and rename it onto ``path``.

    A process killed at any point leaves ``path`` either as it was or complete, never empty or half written
    (``os.replace`` is atomic on POSIX within one file system). The folder is created if missing; on any error
    the temporary file is removed and ``path`` is left as it was.

    Args:
        path: The file to (re)write.
        mode: ``'w'`` (text) or ``'wb'`` (bytes).
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = osp.realpath(path)  # a symlink's target is rewritten, as open() does (the link was replaced)
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    _remove_stale_tmps(folder, osp.basename(path))
    fd, tmp = _create_tmp(folder, osp.basename(path))
    try:
        if osp.exists(path):  # an existing file keeps its mode, as open() keeps it (a private 0600 file became 0644)
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(text: str, path: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, 'w') as f:
        f.write(text)


def savez_atomic(path: str, **arrays) -> None:
    """``numpy.savez(path, **arrays)`` written atomically (see :func:`atomic_open`); ``path`` is used as given
    (numpy adds ``.npz`` only to a name, not to an open file)."""
    import numpy as np

    with atomic_open(path, 'wb') as f:
        np.savez(f, **arrays)


def savefig_atomic(fig, path: str, **savefig_kwargs) -> None:
    """``fig.savefig(path, **savefig_kwargs)`` written atomically (see :func:`atomic_open`): an image viewer or a
    copy taken during a run never gets half a PNG. The format is taken from the file name's extension."""
    fmt = savefig_kwargs.pop('format', None) or osp.splitext(path)[1].lstrip('.').lower() or None
    with atomic_open(path, 'wb') as f:
        fig.savefig(f, format=fmt, **savefig_kwargs)


def dump_json_atomic(obj, path: str, **json_kwargs) -> None:
    """Write ``obj`` as JSON to a temporary file in the same folder, then rename: readers never see half a file.

    The folder is created if missing; on any error the temporary file is removed and ``path`` is left as it was.
    """
    with atomic_open(path, 'w') as f:
        json.dump(obj, f, **json_kwargs)


def _finite_or_none(value, replaced: list):
    if isinstance(value, dict):
        return {k: _finite_or_none(v, replaced) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v, replaced) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        replaced.append(value)
        return None
    return value


def strict_json(value, why: str | None = None):
    """``value`` (dicts, lists, tuples, scalars) with every non-finite float (NaN, inf, -inf) replaced by None, so
    that ``json.dump(..., allow_nan=False)`` accepts it: the standard library otherwise writes the bare tokens
    ``NaN`` / ``Infinity``, which are not JSON (RFC 8259) and which ``jq`` and JavaScript's ``JSON.parse`` refuse.
    Tuples become lists, as ``json`` writes them; numpy float64 values are floats and are checked too.

    Args:
        value: What is about to be written.
        why: What a None standing for a non-finite number means in this file (for example "a Kendall tau-b is
            undefined when one side's scores are all equal"). Given, a dict ``value`` with at least one replaced
            number gets the key ``'null_values'``: ``'<n> non-finite numbers (NaN/inf) written as null: <why>'``.
    """
    replaced: list = []
    clean = _finite_or_none(value, replaced)
    if why is not None and replaced and isinstance(clean, dict):
        clean['null_values'] = f'{len(replaced)} non-finite numbers (NaN/inf) written as null: {why}'
    return clean


def remove_files(folder: str, chosen: Callable[[str], bool]) -> list[str]:
    """Remove the plain files of ``folder`` (not links, not folders) whose names ``chosen(name)`` picks; nothing
    else is touched (a missing folder removes nothing). For outputs an earlier run left in a work dir, which would
    read as this run's. Returns the removed names, sorted."""
    removed = []
    try:
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        path = osp.join(folder, entry)
        if chosen(entry) and osp.isfile(path) and not osp.islink(path):
            os.remove(path)
            removed.append(entry)
    return removed
