"""Names a module still serves after the code that reads them moved to another module.

When a module is split, the names its moved code read stay importable from it (``from automl_mm.nas.loop import
share_rank0_statistics`` keeps working), but patching them there (``monkeypatch.setattr(loop, 'warn', ...)``,
``mock.patch('automl_mm.nas.loop.warn')``) would change a name nothing reads any more: the test would pass or fail
for the wrong reason. :func:`serve_moved_names` makes such a patch raise, naming where to patch instead.
"""
from __future__ import annotations

import sys
import types
from collections.abc import Mapping


class _ServingModule(types.ModuleType):
    """A module whose moved names (``_moved_names``: name -> the module that reads it now) refuse a new value."""

    def __setattr__(self, name: str, value) -> None:
        home = self.__dict__.get('_moved_names', {}).get(name)
        # setting the same object again is no patch (a reload, a patch's undo)
        if home is not None and value is not getattr(sys.modules[home], name):
            raise AttributeError(f'{self.__name__}.{name} is only served here for imports; the code that reads it '
                                 f'lives in {home}: patch {home}.{name} instead')
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        home = self.__dict__.get('_moved_names', {}).get(name)
        if home is not None:
            raise AttributeError(f'{self.__name__}.{name} is only served here for imports; the code that reads it '
                                 f'lives in {home}')
        super().__delattr__(name)


def serve_moved_names(module_name: str, moved: Mapping[str, str]) -> None:
    """Make the module ``module_name`` refuse a patch of the names in ``moved``.

    Args:
        module_name: The module that serves the names (call it with ``__name__`` at its end).
        moved: Name -> the module whose code reads it now; each name must be an attribute of both modules (the
            same object).

    Raises:
        AttributeError: At the call, a name missing from either module or bound to different objects; later, a
            ``setattr`` / ``delattr`` of a served name on the module (the message names the module to patch).
    """
    module = sys.modules[module_name]
    for name, home in moved.items():
        served, read = getattr(module, name), getattr(sys.modules[home], name)
        if served is not read:
            raise AttributeError(f'{module_name}.{name} is not {home}.{name}')
    module._moved_names = dict(moved)
    module.__class__ = _ServingModule
