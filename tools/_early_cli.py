"""``automl_mm/engine/tool_cli.py`` executed by itself, for ``tools/train.py`` / ``tools/test.py`` /
``tools/measure_latency.py`` to parse their command line (``--help``, a usage error) before they import torch, mmengine
and mmdet (some 3 s), and a constant of automl_mm read without importing its module (:func:`package_constant`: a
default shown by ``--help``). Loaded by path (``runpy.run_path``), as the tools are scripts, not a package."""
from __future__ import annotations

import ast
import importlib.util
import os.path as osp
import runpy
import types
from typing import Any


def _package_file(*parts: str) -> str:
    """The path of the file ``parts`` (``'engine', 'tool_cli.py'``) in the ``automl_mm`` package, the package found,
    not imported (its ``__init__`` patches mmengine, importing torch); ``''`` where it is not there."""
    package = importlib.util.find_spec('automl_mm')
    folders = list(package.submodule_search_locations or []) if package is not None else []
    path = osp.join(folders[0], *parts) if folders else ''
    return path if osp.isfile(path) else ''


def standalone_cli() -> Any:
    """The namespace of ``automl_mm/engine/tool_cli.py`` executed alone; ``None`` where the file is not there."""
    path = _package_file('engine', 'tool_cli.py')
    return types.SimpleNamespace(**runpy.run_path(path)) if path else None


def package_constant(module: str, name: str) -> Any:
    """The value of the module-level assignment ``name = <a literal>`` in the automl_mm module ``module``
    (``'nas.latency'``), read from its source without importing it; ``None`` where the file, the assignment or a
    literal value is not there."""
    path = _package_file(*module.split('.')[:-1], module.split('.')[-1] + '.py')
    if not path:
        return None
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else \
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id == name and node.value is not None:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None
