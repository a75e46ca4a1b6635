"""The last module of :data:`automl_mm.engine.launch.WORKER_PRELOAD`: the fork server imports it after every
module its workers use, and importing it freezes the server's heap (:func:`automl_mm.utils.frozen_heap.
freeze_imported_heap`). Every worker forked from the server inherits the frozen generation: its collections no
longer walk the preloaded modules' objects, nor does the server's own shutdown at the end of a run (the caller of
``tools/train.py`` waited for it: the server holds the tool's stdout and stderr)."""
from automl_mm.utils.frozen_heap import freeze_imported_heap

freeze_imported_heap()
