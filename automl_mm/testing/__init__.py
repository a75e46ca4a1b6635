"""Contract checks for plugins and automl_mm's own implementations (see :mod:`automl_mm.testing.contracts`)."""
from .contracts import (
                        check_controller,
                        check_distribution,
                        check_ohl_space,
                        check_path_sampler,
                        check_path_space,
                        toy_runner,
)

__all__ = ['check_controller', 'check_distribution', 'check_ohl_space', 'check_path_sampler', 'check_path_space',
           'toy_runner']
