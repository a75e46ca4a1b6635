"""Runner-side machinery: safe checkpoint loading and a CPU-aware pytorch launcher (both installed on import),
and the local multi-process launcher (``automl_mm.engine.launch``)."""
from .checkpoint import (
                         UnsafeCheckpointError,
                         allow_checkpoint_globals,
                         allowed_checkpoint_globals,
                         install_safe_checkpoint_loading,
                         safe_torch_load,
)
from .dist import install_cpu_aware_pytorch_launcher

install_safe_checkpoint_loading()
install_cpu_aware_pytorch_launcher()

__all__ = ['UnsafeCheckpointError', 'allow_checkpoint_globals', 'allowed_checkpoint_globals',
           'install_cpu_aware_pytorch_launcher', 'install_safe_checkpoint_loading', 'safe_torch_load']
