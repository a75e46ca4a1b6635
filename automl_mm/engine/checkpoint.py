"""Checkpoint loading with ``weights_only=True`` semantics under torch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then refuses mmengine's own
checkpoints (they hold a ``MessageHub`` state with ``HistoryBuffer`` objects and numpy arrays). Turning
``weights_only`` off would unpickle anything, including objects whose loading runs a command. Instead we keep
the restricted unpickler and allow-list exactly the globals that mmengine / mmdet checkpoints contain.

:func:`load_from_local` replaces mmengine's local-file checkpoint loader, which ``load_checkpoint``,
``Runner.load_checkpoint`` and ``Runner.resume`` all go through (installed by :mod:`automl_mm.engine.patches`). A
file that is empty, truncated or not a torch checkpoint at all is reported as such (:class:`CheckpointFormatError`),
before anything is unpickled; :class:`UnsafeCheckpointError` is raised only when the restricted unpickler refuses a
real global.
"""
from __future__ import annotations

import builtins
import os
import os.path as osp
import pickle
import re
import struct
import sys
import zipfile
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside the allow-list; nothing from it was executed."""


class CheckpointFormatError(ValueError):
    """A checkpoint file is empty, truncated (e.g. a save that was killed) or not a torch checkpoint."""


# torch.save writes a zip archive (torch >= 1.6); older files are a bare pickle stream (protocol 2 starts 0x80).
_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_MAGIC = b'\x80'


def diagnose_checkpoint_file(path: str) -> str | None:
    """Why ``path`` cannot be a loadable torch checkpoint, or ``None`` when its container looks complete.

    Reads only the first bytes and, for zip archives, the central directory at the end (which a truncated
    file lacks), so it is cheap even for large files; nothing is unpickled.

    Returns:
        ``None``, or one of ``'missing'``, ``'empty (0 bytes)'``, ``'truncated (...)'``,
        ``'not a torch checkpoint (...)'``.
    """
    if not osp.isfile(path):
        return 'missing'
    size = osp.getsize(path)
    if size == 0:
        return 'empty (0 bytes)'
    with open(path, 'rb') as f:
        head = f.read(4)
    if head.startswith(_PICKLE_MAGIC):
        return None  # legacy (pre-zip) torch format: only unpickling can tell more
    if head != _ZIP_MAGIC:
        return f'not a torch checkpoint (it starts with {head!r}, not a zip archive or a pickle stream)'
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        return f'truncated ({size} bytes; a zip archive without a readable central directory: {err})'
    if not any(name.endswith('data.pkl') for name in names):
        return 'not a torch checkpoint (a zip archive without data.pkl)'
    return None


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


# the refused global as torch's restricted unpickler names it: "GLOBAL module.name", or "... but got <class
# 'module.Name'>" for a type it was asked to build (numpy's StrDType of a string array, for one)
_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)|global[^\w]+([\w.]+\.[\w.]+)|but got <class '([\w.]+)'>")


def safe_torch_load(f: Any, map_location: Any = None, mmap: bool = False) -> Any:
    """``torch.load(f, weights_only=True)`` with the automl_mm allow-list (``mmap=True``: tensors are mapped from
    the file, not read, for a caller that needs the checkpoint's other entries only).

    Raises:
        CheckpointFormatError: The file is empty, truncated or not a torch checkpoint (message:
            ``"<reason>: <path>"``).
        UnsafeCheckpointError: The file pickles a global outside the allow-list. The restricted unpickler
            stops before constructing it, so nothing it references is imported or run.
    """
    name = f if isinstance(f, (str, os.PathLike)) else getattr(f, 'name', '<buffer>')
    legacy = False  # a pre-zip pickle stream: nothing but unpickling tells a truncated one
    if isinstance(f, (str, os.PathLike)):
        problem = diagnose_checkpoint_file(os.fspath(f))
        if problem is not None and problem != 'missing':
            raise CheckpointFormatError(f'checkpoint is {problem}: {name}')
        if problem is None:
            with open(f, 'rb') as handle:
                legacy = handle.read(1) == _PICKLE_MAGIC
    try:
        with torch.serialization.safe_globals(list(_ALLOWED)):
            return torch.load(f, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        found = _GLOBAL_RE.search(str(err))
        culprit = next((g for g in found.groups() if g), None) if found else None
        if culprit is None or _names_nothing(culprit):
            # no global was refused, or a name cut short (a truncated legacy file stops inside its GLOBAL opcode):
            # the pickle stream itself is broken or foreign
            raise CheckpointFormatError(
                f'checkpoint is not a torch checkpoint or is corrupt ({_first_line(err)}): {name}') from None
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {name}: it pickles the object {culprit!r}, which is not a tensor, '
            'a plain container or one of the mmengine checkpoint types automl_mm allows. It was not '
            'unpickled and nothing in it ran; the file is left untouched. If you trust this file and the '
            'class is a plain data holder, allow it with '
            'automl_mm.engine.allow_checkpoint_globals([TheClass]).') from None
    except (EOFError, RuntimeError, OSError, IndexError, struct.error) as err:
        # a truncated legacy file fails inside torch's reader as EOF, 'unexpected EOF', IndexError or struct.error
        about_bytes = (isinstance(err, EOFError)
                       or (isinstance(err, OSError) and not isinstance(err, FileNotFoundError))
                       or (isinstance(err, RuntimeError) and 'PytorchStreamReader' in str(err))
                       or (legacy and (isinstance(err, (IndexError, struct.error)) or 'EOF' in str(err))))
        if not about_bytes:
            raise  # not about the file's bytes (e.g. a CUDA map_location without CUDA)
        raise CheckpointFormatError(
            f'checkpoint is truncated or corrupt ({type(err).__name__}: {_first_line(err)}): {name}') from err


def _names_nothing(culprit: str) -> bool:
    """True when ``culprit`` cannot be a real global: not a (dotted) name, a builtin that does not exist, or a module
    already imported that has no such attribute (``'torch._utils._rebuild_t'``, a name cut short). A module not
    imported is not imported here (the file is untrusted): its name counts as a real global."""
    parts = culprit.split('.')
    if not all(part.isidentifier() for part in parts):
        return True
    if len(parts) == 1:  # torch names builtins bare ('GLOBAL bytes')
        return not hasattr(builtins, culprit)
    for i in range(len(parts) - 1, 0, -1):
        obj = sys.modules.get('.'.join(parts[:i]))
        if obj is not None:
            for attr in parts[i:]:
                if not hasattr(obj, attr):
                    return True
                obj = getattr(obj, attr)
            return False
    return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine local-file checkpoint loader with :func:`safe_torch_load`."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        from .resume import checkpoint_not_found

        raise FileNotFoundError(checkpoint_not_found(filename, 'checkpoint file'))
    return safe_torch_load(filename, map_location=map_location)


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights are not those of the model: missing or unexpected keys, or other shapes."""

    @classmethod
    def from_mismatch(cls, mismatch: dict[str, list], checkpoint: str, max_keys: int = 5) -> CheckpointMismatchError:
        parts = []
        for kind, label in (('missing', 'missing in the checkpoint'), ('unexpected', 'not in the model'),
                            ('shape', 'shape mismatch (checkpoint vs model)')):
            items = mismatch.get(kind) or []
            if items:
                shown = ', '.join(str(i) for i in items[:max_keys]) + (', ...' if len(items) > max_keys else '')
                parts.append(f'{len(items)} {label}: {shown}')
        return cls(f'checkpoint {checkpoint} does not match the config\'s model ({"; ".join(parts)}). Is it a '
                   'checkpoint of another config? tools/test.py --allow-partial loads what matches.')


def _described(value: Any) -> str:
    """A checkpoint value's shape, with its type when it is not a tensor (which mmengine's loader skips)."""
    shape = tuple(getattr(value, 'shape', ()))
    return str(shape) if isinstance(value, torch.Tensor) else f'{type(value).__name__} {shape}'


def inner_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model whose weights a checkpoint holds: ``model`` without its model wrappers (DDP, ``CopyDataParallel``)
    and test-time augmentation wrapper (``BaseTTAModel``, ``tools/test.py --tta``), as mmengine loads checkpoints."""
    from mmengine.model import BaseTTAModel, is_model_wrapper

    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def checkpoint_mismatch(model: torch.nn.Module, checkpoint: dict,
                        revise_keys: Iterable[tuple[str, str]] = ((r'^module\.', ''),)) -> dict[str, list]:
    """Compare a checkpoint's weights with a model's ``state_dict`` as mmengine's loader would copy them.

    Args:
        model: The (unwrapped) model.
        checkpoint: A loaded checkpoint (``{'state_dict': ...}`` or a bare state dict).
        revise_keys: ``(pattern, replacement)`` applied to checkpoint keys first, as ``Runner.load_checkpoint``.

    Returns:
        ``{'missing': [model keys absent from the checkpoint], 'unexpected': [checkpoint keys the model lacks],
        'shape': ['key: (ckpt shape) vs (model shape)', ...]}``, each in the model's / checkpoint's key order.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else checkpoint
    revised = {}
    for key, value in state.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    expected = model.state_dict()
    # mmengine copies tensors only: a numpy array of the right shape is skipped with a warning, so it counts as
    # another shape here (it passed, and the model kept its random weights)
    shape = [f'{k}: {_described(revised[k])} vs {tuple(v.shape)}' for k, v in expected.items()
             if k in revised and (not isinstance(revised[k], torch.Tensor) or revised[k].shape != v.shape)]
    # BatchNorm accepts a state dict without num_batches_tracked (torchvision's older files), as mmengine does
    return {'missing': [k for k in expected if k not in revised and not k.endswith('num_batches_tracked')],
            'unexpected': [k for k in revised if k not in expected], 'shape': shape}
