"""OHL: online hyper-parameter learning over N model copies (distributions, controllers, spaces, hook).

The choice transforms (``LivePolicy``, ``LiveChoiceTransform``: :mod:`automl_mm.augment.choice_base`;
``OHLRandomChoice``: :mod:`automl_mm.augment.random_choice`; all named in :mod:`automl_mm.augment.choice`) are
re-exported here.
"""
from automl_mm.augment.choice import LiveChoiceTransform, LivePolicy, OHLRandomChoice

from .attributes import get_attribute, set_attribute
from .base import (
                   BaseController,
                   BaseDistribution,
                   OHLSpace,
                   PerCopySpace,
                   build_controller,
                   build_distribution,
                   build_ohl_space,
)
from .controllers import REINFORCE, FrozenController
from .copies import CopyDataParallel, CopyLayout, CopySampler, get_copy_layout, init_copy_layout, reset_copy_layout
from .distributions import Categorical, DiagGaussian, FactorisedCategorical, Product
from .hook import OHLHook
from .progress import OHLProgressHook
from .replay_hooks import SearchedValuesHook, SetAttributesHook, TrunkScheduleHook
from .spaces import AttributeSpace, PipelineChoiceSpace

__all__ = [
    'AttributeSpace', 'BaseController', 'BaseDistribution', 'Categorical', 'CopyDataParallel', 'CopyLayout',
    'CopySampler', 'DiagGaussian', 'FactorisedCategorical', 'FrozenController', 'LiveChoiceTransform', 'LivePolicy',
    'OHLHook', 'OHLRandomChoice', 'OHLSpace', 'PerCopySpace', 'PipelineChoiceSpace', 'Product', 'REINFORCE',
    'SearchedValuesHook', 'SetAttributesHook', 'TrunkScheduleHook', 'build_controller', 'build_distribution',
    'build_ohl_space',
    'get_attribute', 'get_copy_layout', 'init_copy_layout', 'reset_copy_layout', 'set_attribute',
]
__all__ += ['OHLProgressHook']
