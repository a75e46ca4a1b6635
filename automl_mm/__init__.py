"""automl_mm: AutoML that runs inside training, on mmengine runners.

Importing the package (directly, through any submodule, or through mmengine's ``custom_imports``) patches mmengine
once: safe checkpoint loading, crash-safe saves and resume, the CPU-aware launcher (``automl_mm.engine.patches``).
"""
import sys

from .utils.imported_files import record_imported

# each module's file as it is imported (this one now, a submodule when it is), for the ranks' comparison
record_imported(sys.modules[__name__])

from .engine.patches import install  # noqa: E402

install()

__version__ = '0.1.0'
