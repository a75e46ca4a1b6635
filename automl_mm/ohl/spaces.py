"""OHL search spaces: a distribution plus the target its samples configure.

Two ways a sample reaches training:

* **per copy** (:class:`AttributeSpace`): one sample per copy per trunk, written to an attribute path of the
  runner (``model.head.loss_module.label_smoothing``, ``optim_wrapper.optimizer.param_groups.*.weight_decay``).
* **per item** (:class:`PipelineChoiceSpace`): the distribution is published to shared memory that every
  dataloader worker reads; a pipeline transform (a ``LiveChoiceTransform`` of :mod:`automl_mm.augment.choice_base`:
  ``OHLRandomChoice``, ``OHLAutoAugment``) samples per image and records the index it applied in the sample's
  metainfo (``ohl_choice``), which the hook counts after each iteration. With ``policy_size=K`` each copy instead
  draws K choices per trunk (its policy, the controller's sample) and publishes them; the images sample among
  those.

The spaces live by concept: :class:`AttributeSpace` in :mod:`automl_mm.ohl.attribute_space`,
:class:`PipelineChoiceSpace` in :mod:`automl_mm.ohl.pipeline_space`, and the walk over a built pipeline's transforms
that finds its choice transforms in :mod:`automl_mm.ohl.pipeline_walk`; this module re-exports them (importing it
registers both spaces in ``SEARCH_SPACES``).

Attribute paths (``set_attribute``) live in :mod:`automl_mm.ohl.attributes`, ``SetAttributesHook`` in
:mod:`automl_mm.ohl.replay_hooks`.

Users add spaces by subclassing :class:`~automl_mm.ohl.base.OHLSpace` (or ``PerCopySpace``) and registering with
``@SEARCH_SPACES.register_module()``.
"""
from __future__ import annotations

from .attribute_space import AttributeSpace
from .attribute_space import _plain as _plain  # the private helpers too: old imports reach them through here
from .pipeline_space import PipelineChoiceSpace
from .pipeline_walk import _iter_transforms as _iter_transforms
from .pipeline_walk import _placement as _placement
from .pipeline_walk import _transform_lists as _transform_lists

__all__ = ['AttributeSpace', 'PipelineChoiceSpace']
