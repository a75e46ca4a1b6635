"""The ``load_from`` check of :func:`automl_mm.engine.preflight.check_config`: a local ``load_from`` names a file.

A directory (``load_from='work_dirs/run'``, meaning its newest checkpoint) or a missing file was reported only when
the runner loaded it, after the model, datasets and (OHL) copies were built. Names mmengine's
``CheckpointLoader`` sends to another loader (``http(s)://``, ``s3://``, ``open-mmlab://``, ``torchvision://``,
...) are left to it; only those it reads as local files are checked, as its (patched) local loader reads them
(``~`` expanded).
"""
from __future__ import annotations

import os.path as osp
from typing import Any

from .preflight_walk import ConfigCheckError


def check_load_from(cfg: Any) -> None:
    """Raise unless ``cfg.load_from`` is unset, a name a non-local mmengine checkpoint loader reads, or a file.

    Raises:
        ConfigCheckError: naming ``load_from``: not a string, a directory (with the newest complete checkpoint in
            it, as ``tools/train.py --resume DIR`` says), or no file.
    """
    from automl_mm.engine.resume import checkpoint_not_found, read_as_local_file

    path = cfg.get('load_from')
    if path is None:
        return
    if not isinstance(path, str) or not path:
        raise ConfigCheckError(f'load_from must be a checkpoint file or URL, got {path!r}')
    if not read_as_local_file(path):
        return  # a URL / model-zoo name: resolved (downloaded) by mmengine when loaded
    local = osp.expanduser(path)
    if not osp.isfile(local):
        raise ConfigCheckError(checkpoint_not_found(
            local, 'load_from', '; give a .pth file (tools/train.py --resume without a path resumes the newest in '
            '--work-dir)' if osp.isdir(local) else ''))
