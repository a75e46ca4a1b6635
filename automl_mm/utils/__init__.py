"""Small helpers: module registration, atomic file writes."""
from .io import atomic_open, dump_json_atomic, write_text_atomic
from .setup_env import register_all_modules

__all__ = ['atomic_open', 'dump_json_atomic', 'register_all_modules', 'write_text_atomic']
