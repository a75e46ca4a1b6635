"""OHL: online hyper-parameter learning over N model copies (distributions, controllers, spaces, hook)."""
from .controllers import REINFORCE
from .copies import CopyDataParallel, CopyLayout, CopySampler, get_copy_layout, init_copy_layout, reset_copy_layout
from .distributions import BaseDistribution, Categorical, DiagGaussian, FactorisedCategorical, Product
from .hook import OHLHook
from .progress import OHLProgressHook
from .spaces import (
                     AttributeSpace,
                     LiveChoiceTransform,
    LivePolicy,
                     OHLRandomChoice,
                     OHLSpace,
                     PipelineChoiceSpace,
                     SetAttributesHook,
                     get_attribute,
                     set_attribute,
)

__all__ = [
    'AttributeSpace', 'BaseDistribution', 'Categorical', 'CopyDataParallel', 'CopyLayout', 'CopySampler',
    'DiagGaussian', 'FactorisedCategorical', 'LiveChoiceTransform', 'LivePolicy', 'OHLHook', 'OHLRandomChoice',
    'OHLSpace', 'PipelineChoiceSpace', 'Product', 'REINFORCE', 'SetAttributesHook', 'get_attribute',
    'get_copy_layout', 'init_copy_layout', 'reset_copy_layout', 'set_attribute',
]
__all__ += ['OHLProgressHook']
