"""Augmentation transforms driven by an OHL distribution: the live choice transforms (``OHLRandomChoice`` and
their base), OHL-Auto-Aug's augmentation elements (the paper's 36, or RandAugment's operations) and the pair
transforms that learn or replay a policy."""
from .choice import CHOICE_META_KEY, LiveChoiceTransform, LivePolicy, OHLRandomChoice
from .elements import DEFAULT_ELEMENTS, ELEMENT_SETS, build_elements, randaugment_elements
from .ops import BaseAugmentOp, GeometricAugmentOp
from .policy import FixedAutoAugment, OHLAutoAugment

__all__ = ['BaseAugmentOp', 'CHOICE_META_KEY', 'DEFAULT_ELEMENTS', 'ELEMENT_SETS', 'FixedAutoAugment',
           'GeometricAugmentOp', 'LiveChoiceTransform', 'LivePolicy', 'OHLAutoAugment', 'OHLRandomChoice',
           'build_elements', 'randaugment_elements']
