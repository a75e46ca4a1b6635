"""Runner-side machinery: safe checkpoint loading, crash-safe checkpoint saving and resume, and a CPU-aware pytorch
launcher (all installed on import); hooks that stop runs with non-finite losses or mismatched checkpoints; the local
multi-process launcher (``automl_mm.engine.launch``)."""
from .checkpoint import (
    CheckpointFormatError,
    CheckpointMismatchError,
    UnsafeCheckpointError,
    allow_checkpoint_globals,
    allowed_checkpoint_globals,
    checkpoint_mismatch,
    diagnose_checkpoint_file,
    install_safe_checkpoint_loading,
    safe_torch_load,
)
from .dist import install_cpu_aware_pytorch_launcher
from .hooks import FiniteLossHook, NonFiniteLossError, StrictCheckpointHook
from .resume import (
    find_resumable_checkpoint,
    install_atomic_checkpoint_saving,
    install_resume_fallback,
    resolve_resume,
    save_checkpoint_atomic,
)

install_safe_checkpoint_loading()
install_atomic_checkpoint_saving()
install_resume_fallback()
install_cpu_aware_pytorch_launcher()

__all__ = ['CheckpointFormatError', 'CheckpointMismatchError', 'FiniteLossHook', 'NonFiniteLossError',
           'StrictCheckpointHook', 'UnsafeCheckpointError', 'allow_checkpoint_globals', 'allowed_checkpoint_globals',
           'checkpoint_mismatch', 'diagnose_checkpoint_file', 'find_resumable_checkpoint',
           'install_atomic_checkpoint_saving', 'install_cpu_aware_pytorch_launcher', 'install_resume_fallback',
           'install_safe_checkpoint_loading', 'resolve_resume', 'safe_torch_load', 'save_checkpoint_atomic']
