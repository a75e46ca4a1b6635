# OHL-Auto-Aug, paper setting (METHODS.md §2): ImageNet, ResNet-50. The number of copies and GPUs per copy for
# ImageNet are our choice: 8 copies x 4 GPUs (batch 4 x 64 = 256 per copy, the batch the schedule's lr is set for).
_base_ = [
    '../_base_/models/resnet50_imagenet.py', '../_base_/datasets/imagenet.py',
    '../_base_/schedules/imagenet_sgd_120e.py', '../_base_/ohl_copies.py'
]

num_copies = 8
train_pipeline = [
    dict(type='mmcv.LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='OHLAutoAugment', key='autoaug'),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(sampler={{_base_.copy_sampler}}, dataset=dict(pipeline=train_pipeline))

custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         ranks_per_copy=4,
         trunk_epochs=1,
         spaces=[dict(type='PipelineChoiceSpace', key='autoaug',
                      distribution=dict(type='Categorical'))],  # 36 x 36 pairs: the transform's
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
]
env_cfg = dict(dist_cfg=dict(timeout=3600))  # ImageNet reward evaluations at trunk ends take long
