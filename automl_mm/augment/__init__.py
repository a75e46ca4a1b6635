"""OHL-Auto-Aug: the 36 augmentation elements and the pair transforms that learn or replay a policy."""
from .ops import DEFAULT_ELEMENTS, BaseAugmentOp, GeometricAugmentOp, build_elements
from .policy import FixedAutoAugment, OHLAutoAugment

__all__ = ['BaseAugmentOp', 'DEFAULT_ELEMENTS', 'FixedAutoAugment', 'GeometricAugmentOp', 'OHLAutoAugment',
           'build_elements']
