"""An installed package's metafiles parsed once per process, not at every ``package::`` base of every config.

mmengine 0.10.7 resolves a config's external base (``_base_ = ['mmdet::_base_/default_runtime.py']``) in
``Config._get_cfg_path`` by ``mmengine.config.utils._get_cfg_metainfo``, which parses the package's
``.mim/model-index.yml`` and every metafile it imports (mmdet 3.3: the index and its 101 metafiles, 102 YAML files,
about 0.25 s of pure-Python YAML on a busy core) to look the name up among the package's model configs, and only then, a
``_base_/...`` name not being a model, falls back to the file under ``.mim/configs``. It does so afresh for every
external base of every config read: ``Config.fromfile`` of an automl_mm detection config (three ``mmdet::`` bases down
its chain) spent 0.75 s of its 0.85 s there, and a CR-NAS search started by ``tools/train.py`` read its config 7 times
in one process (18 look-ups, 6.9 s of a 41 s run).

:func:`memoised_metafile_load` wraps the ``load`` that ``mmengine.config.utils`` sees (mmengine's
``mmengine.fileio.load``, which that module calls for the metafiles and nothing else): a call with a local file's path
alone parses the file the first time and keeps the result pickled, keyed by the file's identity
(:func:`~automl_mm.utils.file_identity.file_identity`: device, inode, size, mtime and ctime: an edited or
reinstalled metafile is parsed anew, also one copied over it with its size and mtime kept); every later call returns a
new copy of it (unpickled: about 3 ms for all of mmdet's metafiles), so a caller that changes what it got changes
nothing else. Any other call (a file object, a format or backend argument, a path that cannot be read: mmengine's own
error) goes to ``load`` unchanged, and a result that cannot be pickled is returned uncached. mmengine's look-up itself
(which names it finds, the fallback, its errors) is unchanged.
"""
from __future__ import annotations

import functools
import os
import pickle
from collections.abc import Callable
from typing import Any

from automl_mm.utils.file_identity import FileIdentity, file_identity

#: How many files' parsed contents are kept (mmengine reads 102 of mmdet 3.3's: model-index.yml
#: and the 101 metafiles it imports, some kilobytes pickled each).
MAX_FILES = 1024


def memoised_metafile_load(load: Callable[..., Any]) -> Callable[..., Any]:
    """``load`` (``mmengine.fileio.load``) with the parsed contents of a local file named by its path alone kept
    (see the module docstring); the wrapper's ``memoised`` is ``True`` and ``cache_clear()`` empties it.

    Args:
        load: ``load(file, file_format=None, file_client_args=None, backend_args=None, **kwargs)``.

    Returns:
        The wrapper: the parsed contents, a new copy at every call; whatever ``load`` raises, raised every time
        (nothing is kept for a failed parse).
    """
    kept: dict[FileIdentity, bytes] = {}

    @functools.wraps(load)
    def wrapper(file: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(file, (str, os.PathLike)):
            return load(file, *args, **kwargs)
        try:
            key = file_identity(file)
        except OSError:
            return load(file)  # mmengine's own error for a missing file (or a URI it reads otherwise)
        if key in kept:
            return pickle.loads(kept[key])
        contents = load(file)
        try:
            data = pickle.dumps(contents)
        except Exception:  # noqa: BLE001 (a value pickle refuses, whatever its error: returned, not kept)
            return contents
        if len(kept) >= MAX_FILES:
            kept.pop(next(iter(kept)))  # the oldest
        kept[key] = data
        return contents

    wrapper.memoised = True
    wrapper.cache_clear = kept.clear
    return wrapper


__all__ = ['MAX_FILES', 'memoised_metafile_load']
