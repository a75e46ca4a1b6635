"""``automl_mm/engine/tool_cli.py`` executed by itself, for ``tools/train.py`` / ``tools/test.py`` /
``tools/measure_latency.py`` to parse their command line (``--help``, a usage error) before they import torch, mmengine
and mmdet (some 3 s), and a constant of automl_mm read without importing its module (:func:`package_constant`: a
default shown by ``--help``). Loaded by path (``runpy.run_path``), as the tools are scripts, not a package."""
from __future__ import annotations

import ast
import glob
import importlib.util
import os
import os.path as osp
import runpy
import sys
import types
from typing import Any

#: what the tools import, each found (not imported) before anything else
STACK = ('torch', 'mmengine', 'mmdet', 'mmcv')


def _package_file(*parts: str) -> str:
    """The path of the file ``parts`` (``'engine', 'tool_cli.py'``) in the ``automl_mm`` package, the package found,
    not imported (its ``__init__`` patches mmengine, importing torch); ``''`` where it is not there."""
    package = importlib.util.find_spec('automl_mm')
    folders = list(package.submodule_search_locations or []) if package is not None else []
    path = osp.join(folders[0], *parts) if folders else ''
    return path if osp.isfile(path) else ''


def project_environments() -> list[str]:
    """The virtual environments ``tools/install.sh`` makes that exist here: ``AUTOML_MM_VENV`` where set, else each
    ``venv-py*`` folder holding ``bin/python`` under ``AUTOML_MM_HOME`` (default ``~/.cache/automl_mm``); ``[]``
    where there is none. With ``AUTOML_MM_VENV`` set and no folder there: that folder (``install.sh`` makes it)."""
    if os.environ.get('AUTOML_MM_VENV'):
        return [os.environ['AUTOML_MM_VENV']]
    home = os.environ.get('AUTOML_MM_HOME') or osp.join(osp.expanduser('~'), '.cache', 'automl_mm')
    return sorted(osp.dirname(osp.dirname(p)) for p in glob.glob(osp.join(home, 'venv-py*', 'bin', 'python')))


def _runs_in(venv: str) -> bool:
    """Whether this Python is the one of the environment ``venv``: its executable in that folder (as started:
    ``<venv>/bin/python`` links to the base Python) or, after ``site`` read its ``pyvenv.cfg``, its prefix."""
    venv = osp.abspath(venv)
    return any(osp.commonpath([osp.abspath(p), venv]) == venv for p in (sys.executable, sys.prefix) if p)


def require_stack(tool: str) -> None:
    """Stop ``tool`` (``'tools/train.py'``) with ``<tool>: error: ...`` on stderr and exit status 1 where this Python
    cannot import the OpenMMLab stack (:data:`STACK`) or ``automl_mm``, naming what is missing and the fix: the
    environment ``tools/install.sh`` made (``source <venv>/bin/activate``, or its ``bin/python``), ``make install``
    where there is none or where this Python is that environment's (its install stopped before a package: it was
    told to activate itself), ``PYTHONPATH`` / ``pip install -e .`` for ``automl_mm`` alone. A Python outside the
    project's environment (``python tools/train.py`` typed before activating it) stopped with a traceback ending in
    ``ModuleNotFoundError: No module named 'torch'``. Nothing is imported: each module is only found."""
    missing = [name for name in (*STACK, 'automl_mm') if importlib.util.find_spec(name) is None]
    if not missing:
        return
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    if missing == ['automl_mm']:
        fix = (f'run it with the repository on the path, PYTHONPATH={repo}, or install it into this Python: '
               f'pip install -e . in {repo}')
    else:
        venvs = project_environments()
        made = [v for v in venvs if osp.isfile(osp.join(v, 'bin', 'python'))]
        inside = [v for v in made if _runs_in(v)]
        if inside:  # its install stopped before a package (an mmcv build): activating it again changes nothing
            home = os.environ.get('AUTOML_MM_HOME') or osp.join(osp.expanduser('~'), '.cache', 'automl_mm')
            fix = (f'it is the environment tools/install.sh made, {inside[0]}, whose install did not finish: run '
                   f'make install (or bash tools/install.sh) in {repo} again; each step logs to {home}/logs')
        elif made:
            fix = (f'run the tools in the environment tools/install.sh made, {made[0]}: source {made[0]}/bin/activate '
                   f'first, or {made[0]}/bin/python {tool} ...')
        else:
            where = venvs[0] if venvs else '~/.cache/automl_mm/venv-py<version>'
            fix = (f'tools/install.sh makes the environment, at {where}: run make install (or bash tools/install.sh) '
                   f'in {repo}, then source its bin/activate')
    sys.stderr.write(f'{tool}: error: this Python ({sys.executable}) cannot import {", ".join(missing)}: {fix}\n')
    raise SystemExit(1)


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
