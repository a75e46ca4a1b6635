"""Models: backbones (usable by mmdet detectors as ``automl_mm.<Name>``), classifiers, heads, losses."""
from .backbones import CRMobileNetV2, CRResNet, MBConvSupernet, ResNet, SimpleConvNet, WideResNet
from .classifier import ImageClassifier
from .heads import LinearClsHead
from .losses import CrossEntropyLoss

__all__ = ['CRMobileNetV2', 'CRResNet', 'CrossEntropyLoss', 'ImageClassifier', 'LinearClsHead', 'MBConvSupernet',
           'ResNet', 'SimpleConvNet', 'WideResNet']
