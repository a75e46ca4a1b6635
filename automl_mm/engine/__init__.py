"""Runner-side machinery: safe checkpoint loading (installed on import)."""
from .checkpoint import (
                         UnsafeCheckpointError,
                         allow_checkpoint_globals,
                         allowed_checkpoint_globals,
                         install_safe_checkpoint_loading,
                         safe_torch_load,
)

install_safe_checkpoint_loading()

__all__ = ['UnsafeCheckpointError', 'allow_checkpoint_globals', 'allowed_checkpoint_globals',
           'install_safe_checkpoint_loading', 'safe_torch_load']
