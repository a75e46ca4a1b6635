"""Backwards-compatible re-export of the engines' contracts (see :mod:`automl_mm.search.base`)."""
from .base import (
                   BaseController,
                   BaseDistribution,
                   BasePathSampler,
                   BasePathSpace,
                   BaseSampler,
                   BaseSearchSpace,
                   OHLSpace,
                   PerCopySpace,
)

__all__ = ['BaseController', 'BaseDistribution', 'BasePathSampler', 'BasePathSpace', 'BaseSampler',
           'BaseSearchSpace', 'OHLSpace', 'PerCopySpace']
