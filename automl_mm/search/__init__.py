"""Contracts (and, as they land, implementations) of search spaces, samplers and controllers."""
from .base import BaseController, BaseSampler, BaseSearchSpace

__all__ = ['BaseController', 'BaseSampler', 'BaseSearchSpace']
