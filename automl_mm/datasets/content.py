"""Cheap content digests of data files, so that two data sources are judged one or two by what they hold, not by
their paths.

A copy of a data set under another root (``cp -r data/imagenet /scratch/``, an annotation file duplicated next to
its images) has other paths and the same images: compared by path, a reward split read from the copy and a training
split read from the original were two sources, and the config check of held-out splits let them share images
(rewards and search scores on trained images, silently). These read what the verdict needs and no more: file
sizes (one ``stat`` each), and the bytes of files whose sizes are equal, of a bounded sample where there are many.
"""
from __future__ import annotations

import hashlib
import os
import os.path as osp

#: How many files of a folder the content checks read (evenly spaced in path order; e.g.
#: ``ImageFolderDataset.shares_images``); the rest are told by path and size only.
SAMPLE_FILES = 32
#: Files up to this many bytes are hashed whole by :func:`file_digest` with ``limit``; larger ones by their first
#: and last ``limit // 2`` bytes and their size.
_CHUNK = 1 << 20


def file_digest(path: str, limit: int | None = None) -> str | None:
    """The BLAKE2b (16 bytes, hex) of a file's bytes, ``None`` when it cannot be read.

    Args:
        path: The file.
        limit: ``None``: every byte (cost: one read of the file). A number of bytes: a file larger than that is
            told by its size, first and last ``limit // 2`` bytes (a JPEG's header and its end differ between
            images; cost: two reads of ``limit // 2`` bytes).
    """
    h = hashlib.blake2b(digest_size=16)
    try:
        size = osp.getsize(path)
        h.update(f'{size};'.encode())
        with open(path, 'rb') as f:
            if limit is not None and size > limit:
                h.update(f.read(limit // 2))
                f.seek(size - limit // 2)
                h.update(f.read(limit // 2))
            else:
                for block in iter(lambda: f.read(_CHUNK), b''):
                    h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def same_file_content(first: str, second: str) -> bool:
    """Whether two paths hold one file's bytes: the same file (a link, another spelling), or two files of equal
    size and equal :func:`file_digest` (a copy). Cost: two ``stat`` calls; both files are read only when their
    sizes are equal."""
    try:
        if osp.samefile(first, second):
            return True
        if osp.getsize(first) != osp.getsize(second):
            return False
    except OSError:
        return False
    digest = file_digest(first)
    return digest is not None and digest == file_digest(second)


def array_digest(*arrays) -> str:
    """``'blake2b:'`` and the BLAKE2b (16 bytes, hex) of arrays' dtypes, shapes and bytes, in order: the identity of
    data held in memory (a data set's decoded images and labels), the same for the same values however they were
    stored (a plain idx file or its ``.gz``, a copy under another root). Cost: one pass over the arrays' bytes
    (Fashion-MNIST's 60,000 training images: about 0.05 s)."""
    import numpy as np

    h = hashlib.blake2b(digest_size=16)
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(f'{array.dtype.str}{array.shape};'.encode())
        h.update(memoryview(array.reshape(-1)).cast('B') if array.size else b'')
    return 'blake2b:' + h.hexdigest()


def _names(folder: str, listings: dict | None) -> frozenset[str]:
    """The names of the non-hidden files directly in ``folder`` (no ``stat``: the directory entries' types), kept in
    ``listings`` by folder when given."""
    if listings is not None and folder in listings:
        return listings[folder]
    try:
        with os.scandir(folder) as entries:
            found = frozenset(e.name for e in entries if not e.name.startswith('.') and e.is_file())
    except OSError:
        found = frozenset()
    if listings is not None:
        listings[folder] = found
    return found


def same_files(first: str, second: str, names: list[str], sample: int = SAMPLE_FILES) -> bool:
    """Whether the files ``names`` (paths relative to both folders, e.g. the names two folders both hold) are, for
    the most part, one file's bytes under ``first`` and under ``second``: up to ``sample`` of them, evenly spaced in
    sorted order, are compared (:func:`same_file_content`: sizes, then bytes where they are equal), and at least
    half of those compared must be equal. Empty files under ``first`` (placeholders) are not compared; ``False``
    when none is. Cost: up to ``sample`` pairs of files compared (two ``stat`` calls, both read where their sizes
    are equal)."""
    shared = sorted(names)
    count = len(shared)
    picked = list(dict.fromkeys(shared[round(i * (count - 1) / (sample - 1))] for i in range(sample))) \
        if count > sample > 1 else shared
    compared = [name for name in picked if osp.isfile(osp.join(first, name)) and osp.getsize(osp.join(first, name))]
    equal = sum(same_file_content(osp.join(first, name), osp.join(second, name)) for name in compared)
    return bool(compared) and 2 * equal >= len(compared)


def same_folder_content(first: str, second: str, sample: int = SAMPLE_FILES, listings: dict | None = None) -> bool:
    """Whether two image folders hold the same images: the same folder (a link, another spelling), or a copy of one
    under another path, whole or in part: :func:`same_files` on the names of the files both hold directly. Folders
    of other images under the same names (the generated COCO sets name every split's images ``000001.png``, ...)
    are two. Cost: two folder listings (no ``stat``; kept in ``listings`` when given) and :func:`same_files`'s."""
    if osp.realpath(first) == osp.realpath(second):
        return True
    return same_files(first, second, list(_names(first, listings) & _names(second, listings)), sample)


__all__ = ['SAMPLE_FILES', 'array_digest', 'file_digest', 'same_file_content', 'same_files', 'same_folder_content']
