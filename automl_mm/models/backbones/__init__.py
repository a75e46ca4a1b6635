from .conv_net import SimpleConvNet
from .resnet import ResNet
from .wide_resnet import WideResNet

__all__ = ['ResNet', 'SimpleConvNet', 'WideResNet']
