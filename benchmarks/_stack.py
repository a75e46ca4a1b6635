"""Imported first by every benchmark script (``import _stack``, before any third-party import and before the shared
helpers ``_arms`` and ``_nas_supernets``, which import mmengine): a Python that cannot import the OpenMMLab stack or
``automl_mm`` (``python benchmarks/am_lfs_digits.py`` typed before activating the environment, ``source
~/.cache/automl_mm/venv-py3.11/bin/activate``) stops with ``<script>: error: this Python (...) cannot import torch,
mmengine, mmdet, mmcv: ...`` on stderr and exit status 1, naming the environment to activate, as ``tools/train.py``
does: it is the tools' own check, ``tools/_early_cli.py``'s ``require_stack``, loaded by path (the ``tools`` folder
is no package). The benchmarks stopped with a traceback ending in ``ModuleNotFoundError: No module named 'torch'``
(or ``'mmengine'``, from ``_arms``). Where the stack is there, nothing is imported (each module is only found) and
nothing is printed."""
from __future__ import annotations

import os.path as osp
import runpy
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def script_name() -> str:
    """The running script as its error names it: the path typed (``sys.argv[0]``, e.g.
    ``'benchmarks/am_lfs_digits.py'`` from the repository root), so that the fix's ``<venv>/bin/python <script>`` runs
    from where it was typed; where the running ``__main__`` is not that file (a test, ``python -c``), ``__main__``'s
    file relative to the repository, else ``'benchmarks'``."""
    main = getattr(sys.modules.get('__main__'), '__file__', None)
    typed = sys.argv[0] if sys.argv else ''
    if main and typed and osp.abspath(typed) == osp.abspath(main):
        return typed
    return osp.relpath(osp.abspath(main), ROOT) if main else 'benchmarks'


runpy.run_path(osp.join(ROOT, 'tools', '_early_cli.py'))['require_stack'](script_name())
