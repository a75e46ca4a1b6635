"""Augmentation transforms driven by an OHL distribution: the live choice transforms (``OHLRandomChoice`` and
their base) and OHL-Auto-Aug's 36 augmentation elements and the pair transforms that learn or replay a policy."""
from .choice import CHOICE_META_KEY, LiveChoiceTransform, LivePolicy, OHLRandomChoice
from .ops import DEFAULT_ELEMENTS, BaseAugmentOp, GeometricAugmentOp, build_elements
from .policy import FixedAutoAugment, OHLAutoAugment

__all__ = ['BaseAugmentOp', 'CHOICE_META_KEY', 'DEFAULT_ELEMENTS', 'FixedAutoAugment', 'GeometricAugmentOp',
           'LiveChoiceTransform', 'LivePolicy', 'OHLAutoAugment', 'OHLRandomChoice', 'build_elements']
