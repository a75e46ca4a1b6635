"""Small helpers: module registration, atomic JSON files."""
from .io import dump_json_atomic
from .setup_env import register_all_modules

__all__ = ['dump_json_atomic', 'register_all_modules']
