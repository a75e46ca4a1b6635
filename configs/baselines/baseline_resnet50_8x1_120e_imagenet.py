# 8 GPUs x 64 images = batch 256, the batch the learning rate in the schedule is set for.
_base_ = [
    '../_base_/models/resnet50_imagenet.py', '../_base_/datasets/imagenet.py',
    '../_base_/schedules/imagenet_sgd_120e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(logger=dict(interval=100))
