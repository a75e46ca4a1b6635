_base_ = [
    '../_base_/models/resnet18_cifar.py', '../_base_/datasets/cifar10.py',
    '../_base_/schedules/cifar10_sgd_200e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(interval=10), logger=dict(interval=100))
