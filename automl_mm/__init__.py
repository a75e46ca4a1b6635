"""automl_mm: AutoML that runs inside training, on mmengine runners.

Importing the package installs safe checkpoint loading for mmengine (see ``automl_mm.engine.checkpoint``).
"""
from . import engine  # noqa: F401  (installs the allow-listed checkpoint loader)

__version__ = '0.1.0'
