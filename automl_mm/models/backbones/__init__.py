from .conv_net import SimpleConvNet
from .cr_base import CRSupernetMixin
from .cr_mobilenet_v2 import CRMobileNetV2
from .cr_resnet import CRResNet
from .mbconv_supernet import SPACES as MBCONV_SPACES
from .mbconv_supernet import MBConvSupernet
from .resnet import ResNet
from .wide_resnet import WideResNet

__all__ = ['CRMobileNetV2', 'CRResNet', 'CRSupernetMixin', 'MBCONV_SPACES', 'MBConvSupernet', 'ResNet', 'SimpleConvNet',
           'WideResNet']
