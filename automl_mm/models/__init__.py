"""Models: backbones (usable by mmdet detectors as ``automl_mm.<Name>``), classifiers, heads, losses."""
from .backbones import ResNet, SimpleConvNet, WideResNet
from .classifier import ImageClassifier
from .heads import LinearClsHead
from .losses import CrossEntropyLoss

__all__ = ['CrossEntropyLoss', 'ImageClassifier', 'LinearClsHead', 'ResNet', 'SimpleConvNet', 'WideResNet']
