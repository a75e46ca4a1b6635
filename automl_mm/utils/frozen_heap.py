"""Keep the collector off the objects a tool process holds once it has imported everything it runs.

A tool process imports torch, mmengine, mmdet and automl_mm before it does any work: about 470k objects
(modules, classes, functions), none of them garbage. Python's collector walked all of them at every full
collection (mmengine's ``BaseDataset`` runs ``gc.collect()`` at every dataset's ``full_init``) and again while the
interpreter shut down: 6.0 s of a process's exit on the shared 2-core machine under load, 1.0 s with them frozen.
:func:`freeze_imported_heap` moves them into the collector's permanent generation (``gc.freeze``, as the Python
documentation suggests before forking); objects made afterwards are collected as before.
"""
from __future__ import annotations

import gc


def freeze_imported_heap() -> None:
    """Collect once, then move every object alive into the permanent generation (``gc.freeze``).

    Call it where a process has imported what it runs and holds nothing else: ``tools/train.py`` and
    ``tools/test.py`` when started as scripts, and the fork server of the local workers after its preload
    (:mod:`automl_mm.engine.worker_preload_done`). Not in a process whose later objects should stay collectable
    (a test process calling a tool's ``main``): frozen objects are never freed.
    """
    gc.collect()
    gc.freeze()
