"""Searchable losses: AM-LFS's piecewise-linear unified loss and its OHL search space.

``CosineLinearClsHead``, the bias-free head that feeds the loss norms, lives in :mod:`automl_mm.models.heads` (also
importable from here).
"""
from automl_mm.models.heads import CosineLinearClsHead

from .am_lfs import (
    AMLFSLoss,
    arcface_theta,
    cosface_theta,
    fit_piecewise_linear,
    focal_theta,
    identity_theta,
    piecewise_linear,
    sphereface_theta,
)
from .parametrisation import PARAMETRISATIONS, monotone_identity_theta, monotone_pieces, theta_length
from .space import LossFunctionSpace

__all__ = [
    'AMLFSLoss', 'CosineLinearClsHead', 'LossFunctionSpace', 'arcface_theta', 'cosface_theta', 'fit_piecewise_linear',
    'focal_theta', 'identity_theta', 'monotone_identity_theta', 'monotone_pieces', 'PARAMETRISATIONS',
    'piecewise_linear', 'sphereface_theta', 'theta_length'
]
