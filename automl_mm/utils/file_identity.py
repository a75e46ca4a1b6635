"""What tells one local file from another for a cache of what was read from it.

A cache keyed by a file's path, size and modification time served a file replaced by another of the same size and
mtime (``cp -p``, ``rsync -t``, ``tar x``, a file generated again within a tick of the file system's clock) as the
one it had read: a silently wrong dataset, label set or metafile. :func:`file_identity` adds what such a
replacement changes: the device and inode (a new file renamed over the old one: ``rsync``, ``os.replace``) and the
change time, which no tool can set (``cp -p`` onto an existing file rewrites it in place, then sets the mtime back:
the ctime moves on both).

The device and inode of the file ``os.stat`` reaches (links followed) name the file itself, so no path is part of
the key: ``data/x``, ``./data/x`` and a link to it are one file without resolving the path (``os.path.realpath``
``lstat``-s every component of it: 7 times the ``stat`` for mmdet's 102 metafiles, which the metafile cache keys at
every look-up).
"""
from __future__ import annotations

import os
from typing import NamedTuple


class FileIdentity(NamedTuple):
    """The key :func:`file_identity` gives a local file; equal for two ``stat`` calls of one unchanged file, however
    its path is spelt (links followed)."""

    device: int  #: ``st_dev``
    inode: int  #: ``st_ino``
    size: int  #: ``st_size``, bytes
    mtime_ns: int  #: ``st_mtime_ns``, ns since the epoch
    ctime_ns: int  #: ``st_ctime_ns``, ns since the epoch (inode change: not settable by ``os.utime``)


def file_identity(path: str | os.PathLike) -> FileIdentity:
    """The identity of the local file at ``path`` (:class:`FileIdentity`: one ``os.stat``, links followed): it
    changes when the file is rewritten, replaced (renamed over, copied over with its mtime kept) or its mtime is set.
    Not told apart: a file rewritten in place, same size, with its mtime set back, all within one tick of the kernel's
    timestamp clock (a few ms on Linux) after the cached read.

    Raises:
        OSError: ``path`` cannot be ``stat``-ed (``FileNotFoundError`` for a missing file), as :func:`os.stat`.
    """
    stat = os.stat(path)
    return FileIdentity(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


__all__ = ['FileIdentity', 'file_identity']
