"""Import every automl_mm module that registers something, and optionally set the default scope."""
from __future__ import annotations

import datetime
import importlib
import warnings

from mmengine import DefaultScope

#: The automl_mm packages whose import registers every module (also what local workers preload,
#: ``automl_mm.engine.launch.WORKER_PRELOAD``).
REGISTERING_MODULES = ('automl_mm.augment', 'automl_mm.datasets', 'automl_mm.engine', 'automl_mm.evaluation',
                       'automl_mm.losses', 'automl_mm.models', 'automl_mm.nas', 'automl_mm.ohl')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register all automl_mm modules into their registries, with mmengine patched (``automl_mm.engine.patches``).

    Args:
        init_default_scope: Make ``'automl_mm'`` the current default scope, so unprefixed ``type`` names
            resolve in automl_mm's registries first (mmengine's Runner does the same from
            ``cfg.default_scope``).
    """
    for name in REGISTERING_MODULES:
        importlib.import_module(name)
    from automl_mm.engine.patches import install

    install()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('automl_mm', scope_name='automl_mm')
    elif current.scope_name != 'automl_mm':
        warnings.warn(f'The current default scope is {current.scope_name!r}, not "automl_mm"; creating a new '
                      'automl_mm default scope.', stacklevel=2)
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S.%f')
        DefaultScope.get_instance(f'automl_mm-{stamp}', scope_name='automl_mm')
