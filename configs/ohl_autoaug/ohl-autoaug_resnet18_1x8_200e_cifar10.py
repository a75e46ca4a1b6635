# OHL-Auto-Aug, paper setting (METHODS.md §2): CIFAR-10, ResNet-18, 8 copies (one GPU each), trunk = 1 epoch,
# 1,296 pairs, Adam lr 0.05 betas (0.5, 0.999) (public reimplementation). Pipeline: crop 32 (pad 4) -> flip ->
# pair -> normalise (the optional cutout 16 of the paper's pipeline is not included).
_base_ = [
    '../_base_/models/resnet18_cifar.py', '../_base_/datasets/cifar10.py',
    '../_base_/schedules/cifar10_sgd_200e.py', '../_base_/ohl_copies.py'
]

num_copies = 8
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='OHLAutoAugment', key='autoaug'),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(sampler={{_base_.copy_sampler}}, dataset=dict(pipeline=train_pipeline))

custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         trunk_epochs=1,
         spaces=[dict(type='PipelineChoiceSpace', key='autoaug',
                      distribution=dict(type='Categorical'))],  # 36 x 36 pairs: the transform's
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
]
env_cfg = dict(dist_cfg=dict(timeout=1800))  # a trunk end waits for the slowest of 8 copies' reward evaluations
