"""automl_mm: AutoML that runs inside training, on mmengine runners.

Importing the package (directly, through any submodule, or through mmengine's ``custom_imports``) patches mmengine
once: safe checkpoint loading, crash-safe saves and resume, the CPU-aware launcher (``automl_mm.engine.patches``).
"""
from .engine.patches import install

install()

__version__ = '0.1.0'
