# 8 GPUs x 32 images = batch 256, the batch the learning rate in the schedule (0.1) is set for and the batch of one
# copy of ohl-autoaug_resnet50_4x8_120e_imagenet.py (4 x 64). (Until the twentieth session it trained 8 x 64 = 512
# at that learning rate.)
_base_ = [
    '../_base_/models/resnet50_imagenet.py', '../_base_/datasets/imagenet.py',
    '../_base_/schedules/imagenet_sgd_120e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(logger=dict(interval=100))
train_dataloader = dict(batch_size=32)
