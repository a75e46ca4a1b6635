"""Runner-side machinery: safe checkpoint loading, crash-safe checkpoint saving and resume, and a CPU-aware pytorch
launcher (installed into mmengine by ``automl_mm.engine.patches.install()``, which ``import automl_mm`` runs); hooks
that stop runs with non-finite losses or mismatched checkpoints; the local multi-process launcher
(``automl_mm.engine.launch``)."""
from .checkpoint import (
    CheckpointFormatError,
    CheckpointMismatchError,
    UnsafeCheckpointError,
    allow_checkpoint_globals,
    allowed_checkpoint_globals,
    checkpoint_mismatch,
    diagnose_checkpoint_file,
    safe_torch_load,
)
from .hooks import FiniteLossHook, NonFiniteLossError, StrictCheckpointHook
from .resume import find_resumable_checkpoint, resolve_resume, save_checkpoint_atomic

__all__ = ['CheckpointFormatError', 'CheckpointMismatchError', 'FiniteLossHook', 'NonFiniteLossError',
           'StrictCheckpointHook', 'UnsafeCheckpointError', 'allow_checkpoint_globals', 'allowed_checkpoint_globals',
           'checkpoint_mismatch', 'diagnose_checkpoint_file', 'find_resumable_checkpoint', 'resolve_resume',
           'safe_torch_load', 'save_checkpoint_atomic']
