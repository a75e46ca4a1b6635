"""The run's environment log line without importing torchvision for its version.

mmengine 0.10.7's ``collect_env`` (called by every ``Runner.__init__`` through ``Runner._log_env``, and by
``BaseStrategy.collect_env`` for ``FlexibleRunner``) imports torchvision only to log ``TorchVision: <version>``.
Nothing else of a digits, OHL or NAS run imports torchvision, so every process that builds a runner (each
``tools/train.py`` / ``tools/test.py``, each OHL copy process) paid torchvision's import for that line: 1.0-1.1 s
of CPU (2.0-2.1 s wall on 2 busy cores) at each process's start, after ``import automl_mm``.

:func:`collect_env_reading_torchvision_version` wraps ``collect_env``: when torchvision is installed and not
imported yet, its version is read from its ``version.py`` (``__version__ = '...'``, the string the package sets,
e.g. ``'0.29.1+cu130'``; read with :mod:`ast`, nothing of torchvision runs) and ``collect_env`` runs with
torchvision's import blocked for the call; the version is then put back where mmengine lists it (after
``PyTorch compiling details``, before ``OpenCV``). The log reads as before. torchvision already imported, or a
``version.py`` that holds no such literal: mmengine's ``collect_env`` as it is.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import os.path as osp
import sys
from collections.abc import Callable

_KEY = 'TorchVision'
_AFTER = 'PyTorch compiling details'  # mmengine's key before TorchVision


def torchvision_version() -> str | None:
    """torchvision's ``__version__`` read from its installed ``version.py`` without importing it; ``None`` when
    torchvision is not installed or the file holds no ``__version__ = '<literal>'``."""
    try:
        spec = importlib.util.find_spec('torchvision')
        if spec is None or not spec.submodule_search_locations:
            return None
        path = osp.join(list(spec.submodule_search_locations)[0], 'version.py')
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read())
    except (OSError, ValueError, SyntaxError, ImportError):
        return None
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and [getattr(t, 'id', None) for t in statement.targets] == \
                ['__version__'] and isinstance(statement.value, ast.Constant) and \
                isinstance(statement.value.value, str):
            return statement.value.value
    return None


def collect_env_reading_torchvision_version(collect_env: Callable[[], dict]) -> Callable[[], dict]:
    """``collect_env`` (mmengine's) that reads torchvision's version instead of importing it (module docstring);
    the wrapper's ``reads_torchvision_version`` is ``True``."""

    @functools.wraps(collect_env)
    def wrapper() -> dict:
        version = None if 'torchvision' in sys.modules else torchvision_version()
        if version is None:
            return collect_env()
        sys.modules['torchvision'] = None  # `import torchvision` raises ModuleNotFoundError, which mmengine skips
        try:
            env = collect_env()
        finally:
            if sys.modules.get('torchvision', 0) is None:
                del sys.modules['torchvision']
        if _KEY in env:  # (mmengine imported it after all)
            return env
        items = list(env.items())
        at = next((i + 1 for i, (k, _) in enumerate(items) if k == _AFTER), len(items))
        return type(env)(items[:at] + [(_KEY, version)] + items[at:])

    wrapper.reads_torchvision_version = True
    return wrapper


__all__ = ['collect_env_reading_torchvision_version', 'torchvision_version']
