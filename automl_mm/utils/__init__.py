"""Small helpers: module registration, building in automl_mm's scope, atomic file writes."""
from .io import atomic_open, dump_json_atomic, write_text_atomic
from .scope import build_in_scope, config_type_name, type_name
from .setup_env import register_all_modules

__all__ = ['atomic_open', 'build_in_scope', 'config_type_name', 'dump_json_atomic', 'register_all_modules', 'type_name',
           'write_text_atomic']
