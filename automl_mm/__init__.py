"""automl_mm: AutoML that runs inside training, on mmengine runners.

Importing the package (directly, through any submodule, or through mmengine's ``custom_imports``) patches mmengine
once: safe checkpoint loading, crash-safe saves and resume, the CPU-aware launcher (``automl_mm.engine.patches``).
"""
import sys

from .utils.imported_files import record_imported

record_imported(sys.modules[__name__])  # the files as imported, for the ranks' comparison (rank_agreement)

from .engine.patches import install  # noqa: E402

install()

__version__ = '0.1.0'
