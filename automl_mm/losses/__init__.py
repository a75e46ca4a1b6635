"""Searchable losses: AM-LFS's piecewise-linear unified loss and the bias-free head that feeds it norms."""
from .am_lfs import (
    AMLFSLoss,
    CosineLinearClsHead,
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
