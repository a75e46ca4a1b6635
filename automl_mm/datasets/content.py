"""Cheap content digests of data files, so that two data sources are judged one or two by what they hold, not by
their paths.

A copy of a data set under another root (``cp -r data/imagenet /scratch/``, an annotation file duplicated next to
its images) has other paths and the same images: compared by path, a reward split read from the copy and a training
split read from the original were two sources, and the config check of held-out splits let them share images
(rewards and search scores on trained images, silently). These digests read what the verdict needs and no more:
file sizes (one ``stat`` each) for every file, and the bytes of a bounded sample.
"""
from __future__ import annotations

import hashlib
import os
import os.path as osp
from collections.abc import Sequence

#: How many files of a folder :func:`files_digest` reads whole (evenly spaced in path order); the rest are told by
#: path and size only.
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


def files_digest(root: str, relpaths: Sequence[str], labels: Sequence[object] | None = None,
                 sample: int = SAMPLE_FILES) -> str | None:
    """A digest of the files ``relpaths`` under ``root`` (in the given order) as data: each file's path relative to
    ``root``, its label (``labels``, e.g. its class folder) and its size, and the bytes of ``sample`` files evenly
    spaced in the list (up to 1 MiB of each: :func:`file_digest`'s ``limit``), so that a copy of the folder under
    another root has the digest of the original and a folder of other images of the same names and sizes does
    not. ``None`` when a file cannot be read.

    Cost: one ``stat`` per file and up to ``sample`` MiB read (ImageNet's 1.28 M training images: the stats of
    the folder listing, 32 files read)."""
    h = hashlib.blake2b(digest_size=16)
    count = len(relpaths)
    picked = {round(i * (count - 1) / (sample - 1)) for i in range(sample)} if count > sample > 1 else \
        set(range(count))
    for i, rel in enumerate(relpaths):
        path = osp.join(root, rel)
        try:
            size = os.stat(path).st_size
        except OSError:
            return None
        label = '' if labels is None else repr(labels[i])
        h.update(f'{rel.replace(os.sep, "/")}\0{label}\0{size}\n'.encode())
        if i in picked:
            digest = file_digest(path, limit=_CHUNK)
            if digest is None:
                return None
            h.update(digest.encode())
    return 'blake2b:' + h.hexdigest()


__all__ = ['SAMPLE_FILES', 'file_digest', 'files_digest', 'same_file_content']
