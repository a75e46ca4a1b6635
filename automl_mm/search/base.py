"""Former home of the AutoML contracts, kept so that old imports keep working.

Each engine now states its own contract where it is used:

* OHL (:mod:`automl_mm.ohl.base`): ``BaseDistribution`` (``SAMPLERS``), ``BaseController`` (``CONTROLLERS``),
  ``OHLSpace`` / ``PerCopySpace`` (``SEARCH_SPACES``), driven by ``OHLHook``;
* NAS (:mod:`automl_mm.nas.base`): ``BasePathSpace`` (``SEARCH_SPACES``), ``BasePathSampler`` (``SAMPLERS``),
  driven by the search loops and ``PathSamplingHook``.

The old names are aliases of the OHL contracts (``BaseSearchSpace`` is ``OHLSpace``, ``BaseSampler`` is
``BaseDistribution``): a subclass must implement what ``OHLHook`` calls, or it fails when it is built, naming the
missing methods.
"""
from automl_mm.nas.base import BasePathSampler, BasePathSpace
from automl_mm.ohl.base import BaseController, BaseDistribution, OHLSpace, PerCopySpace

BaseSearchSpace = OHLSpace
BaseSampler = BaseDistribution

__all__ = ['BaseController', 'BaseDistribution', 'BasePathSampler', 'BasePathSpace', 'BaseSampler',
           'BaseSearchSpace', 'OHLSpace', 'PerCopySpace']
