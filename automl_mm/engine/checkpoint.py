"""Checkpoint loading with ``weights_only=True`` semantics under torch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then refuses mmengine's own
checkpoints (they hold a ``MessageHub`` state with ``HistoryBuffer`` objects and numpy arrays). Turning
``weights_only`` off would unpickle anything, including objects whose loading runs a command. Instead we keep
the restricted unpickler and allow-list exactly the globals that mmengine / mmdet checkpoints contain.

``install_safe_checkpoint_loading()`` (run when ``automl_mm.engine`` is imported) replaces mmengine's
local-file checkpoint loader, which ``load_checkpoint``, ``Runner.load_checkpoint`` and ``Runner.resume``
all go through.
"""
from __future__ import annotations

import os.path as osp
import pickle
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside the allow-list; nothing from it was executed."""


def _numpy_globals() -> list[Any]:
    """What numpy arrays, dtypes and scalars pickle as (numpy 1.x and 2.x spell the module differently)."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                                 np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                                                 np.float64)]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def _history_buffer_method(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling.

    A ``HistoryBuffer`` pickles its statistics functions (``min``, ``max``, ``mean``, ``current``) as
    ``getattr(HistoryBuffer, 'min')``. A general ``getattr`` would let a crafted pickle walk from any allowed
    object to ``__globals__`` and on to ``os.system``, so only public methods of ``HistoryBuffer`` are handed out.
    """
    owner_ok = obj is HistoryBuffer or type(obj) is HistoryBuffer
    if owner_ok and not name.startswith('_') and callable(vars(HistoryBuffer).get(name)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'GLOBAL builtins.getattr used for {getattr(obj, "__name__", type(obj).__name__)}.{name}, outside the '
        'public HistoryBuffer methods')


# What mmengine's Runner.save_checkpoint writes besides tensors and plain containers: the message hub's
# HistoryBuffer objects (with their statistics methods, pickled through getattr) and the numpy
# arrays/scalars they and the runtime info hold.
_ALLOWED: list[Any] = [HistoryBuffer, (_history_buffer_method, 'builtins.getattr'), *_numpy_globals()]


def allowed_checkpoint_globals() -> tuple[Any, ...]:
    """The globals (beyond torch's own safe set) that checkpoint loading accepts.

    Entries are objects, or ``(stand_in, 'module.name')`` pairs where a restricted stand-in replaces a global.
    """
    return tuple(_ALLOWED)


def allow_checkpoint_globals(objs: Iterable[Any]) -> None:
    """Extend the allow-list, e.g. with a class your own hook stores in checkpoints.

    Only add classes whose unpickling cannot run arbitrary code (plain data holders).
    """
    for obj in objs:
        if obj not in _ALLOWED:
            _ALLOWED.append(obj)


_GLOBAL_RE = re.compile(r'GLOBAL ([\w.]+)|global[^\w]+([\w.]+\.[\w.]+)')


def safe_torch_load(f: Any, map_location: Any = None) -> Any:
    """``torch.load(f, weights_only=True)`` with the automl_mm allow-list.

    Raises:
        UnsafeCheckpointError: The file pickles a global outside the allow-list. The restricted unpickler
            stops before constructing it, so nothing it references is imported or run.
    """
    try:
        with torch.serialization.safe_globals(list(_ALLOWED)):
            return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        name = f if isinstance(f, str) else getattr(f, 'name', '<buffer>')
        found = _GLOBAL_RE.search(str(err))
        culprit = next((g for g in found.groups() if g), 'unknown') if found else 'unknown'
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {name}: it pickles the object {culprit!r}, which is not a tensor, '
            'a plain container or one of the mmengine checkpoint types automl_mm allows. It was not '
            'unpickled and nothing in it ran; the file is left untouched. If you trust this file and the '
            'class is a plain data holder, allow it with '
            'automl_mm.engine.allow_checkpoint_globals([TheClass]).') from None


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine local-file checkpoint loader with :func:`safe_torch_load`."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    return safe_torch_load(filename, map_location=map_location)


def install_safe_checkpoint_loading() -> None:
    """Route mmengine's loading of local checkpoints (``load_checkpoint``, ``Runner.resume``) through
    :func:`safe_torch_load`. Idempotent."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
