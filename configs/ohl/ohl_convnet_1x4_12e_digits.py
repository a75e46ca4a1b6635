# OHL on digits with 4 copies (1 process each, gloo on CPU): learn which of four augmentations to apply per image
# (identity, horizontal flip, crop, vertical flip). Horizontal and vertical flips change what a digit is (a mirrored
# 3, an upside-down 6), so a learning run is expected to move probability away from them in time; 12 short epochs on
# 4 copies are too few to show it reliably (a run on 2026-12-07 ended with hflip the most likely, 0.305): this config
# shows the mechanics (copies, trunks, rewards, the learned distribution and its plots), not a learning result.
# `python tools/train.py configs/ohl/ohl_convnet_1x4_12e_digits.py` starts the 4 processes itself.
_base_ = [
    '../_base_/models/convnet_digits.py', '../_base_/datasets/digits.py', '../_base_/schedules/sgd_30e.py',
    '../_base_/ohl_copies.py'
]

num_copies = 4
choices = [
    [],  # identity
    [dict(type='mmcv.RandomFlip', prob=1.0, direction='horizontal')],
    [dict(type='RandomCrop', crop_size=32, padding=3)],
    [dict(type='mmcv.RandomFlip', prob=1.0, direction='vertical')],
]
train_pipeline = [dict(type='OHLRandomChoice', key='aug', transforms=choices), dict(type='PackClsInputs')]
train_dataloader = dict(
    sampler={{_base_.copy_sampler}},
    dataset=dict(max_samples=300, pipeline=train_pipeline))

custom_hooks = [
    dict(type='OHLHook',
         num_copies=num_copies,
         trunk_epochs=1,
         spaces=[dict(type='PipelineChoiceSpace', key='aug',
                      distribution=dict(type='Categorical', num_choices=len(choices),
                                        labels=['identity', 'hflip', 'crop', 'vflip']))],
         controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))),
         reward_key='accuracy/top1'),
]

train_cfg = dict(max_epochs=12, val_interval=4)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=12, by_epoch=True, convert_to_iter_based=True)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2), logger=dict(interval=5))
