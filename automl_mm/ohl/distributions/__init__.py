"""Learnable distributions p_θ over hyper-parameters, the samplers that OHL trains by REINFORCE.

Every distribution keeps θ as float64 CPU leaf tensors and, besides ``sample`` / ``log_prob``, exposes the two
methods the OHL hook and :class:`~automl_mm.ohl.controllers.REINFORCE` rely on:

* ``sufficient_stats(samples)``: a flat float64 vector summarising a batch of samples. Vectors add
  (``stats(a ∪ b) == stats(a) + stats(b)``), so each copy can accumulate them batch by batch and the copies'
  vectors can be all-gathered as one tensor.
* ``grad_mean_log_prob(stats)``: the analytic gradient of the *mean* log-probability of the summarised samples,
  computed without autograd, so every rank obtains a bitwise identical update from identical statistics.
"""
from ..base import BaseDistribution
from .categorical import Categorical, FactorisedCategorical
from .gaussian import DiagGaussian, check_std
from .product import Product

__all__ = ['BaseDistribution', 'Categorical', 'DiagGaussian', 'FactorisedCategorical', 'Product', 'check_std']
