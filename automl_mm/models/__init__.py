"""Models: backbones (usable by mmdet detectors as ``automl_mm.<Name>``), classifiers, heads, losses."""
from .backbones import CRMobileNetV2, CRResNet, MBConvSupernet, ResNet, SimpleConvNet, WideResNet
from .classifier import ImageClassifier
from .heads import CosineLinearClsHead, LinearClsHead
from .losses import (
    CrossEntropyLoss,
    GeneralizedCrossEntropyLoss,
    LabelSmoothingLoss,
    Poly1CrossEntropyLoss,
    SymmetricCrossEntropyLoss,
)

__all__ = ['CosineLinearClsHead', 'CRMobileNetV2', 'CRResNet', 'CrossEntropyLoss', 'GeneralizedCrossEntropyLoss',
           'ImageClassifier', 'LabelSmoothingLoss', 'LinearClsHead', 'MBConvSupernet', 'Poly1CrossEntropyLoss',
           'ResNet', 'SimpleConvNet', 'SymmetricCrossEntropyLoss', 'WideResNet']
