"""``automl_mm/engine/tool_cli.py`` executed by itself, for ``tools/train.py`` / ``tools/test.py`` to parse their
command line (``--help``, a usage error) before they import torch, mmengine and mmdet (some 3 s). Loaded by path
(``runpy.run_path``), as the tools are scripts, not a package."""
from __future__ import annotations

import importlib.util
import os.path as osp
import runpy
import types
from typing import Any


def standalone_cli() -> Any:
    """The module's namespace, the package found, not imported (its ``__init__`` patches mmengine, importing
    torch); ``None`` where the file is not there."""
    package = importlib.util.find_spec('automl_mm')
    folders = list(package.submodule_search_locations or []) if package is not None else []
    path = osp.join(folders[0], 'engine', 'tool_cli.py') if folders else ''
    return types.SimpleNamespace(**runpy.run_path(path)) if osp.isfile(path) else None
