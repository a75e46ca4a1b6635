# OHL-Auto-Aug, paper setting (METHODS.md §2): CIFAR-10 WRN-28-10, 8 copies; everything else as for ResNet-18.
_base_ = ['./ohl-autoaug_resnet18_1x8_200e_cifar10.py']
model = dict(backbone=dict(_delete_=True, type='WideResNet', depth=28, widen_factor=10, dropout=0.0),
             head=dict(in_channels=640))
