# OHL-Auto-Aug on Fashion-MNIST (the base of `make demo`'s leaf ..._100e_fashion-mnist-500.py; the shorter demo before
# it): 4 copies learn which of 18 augmentation elements to apply first and second, on top of crop + flip, while they
# train 20 epochs (one trunk per epoch) on 1,000 training images (100 per class), rewarded on 2,000 images of the
# held-out reward split.
# Test = the official 10,000 test images. The elements are RandAugment's 14 operations at torchvision's magnitude
# 9 (`elements='randaugment'`, with Identity) rather than the paper's 36: on the reward split they scored about
# one point higher (README, OHL-Auto-Aug on Fashion-MNIST); `elements='ohl'` restores the paper's space (the
# space's first x second element factors follow the transform: 18 x 18 here, 36 x 36 for 'ohl').
_base_ = [
    '../_base_/models/convnet_digits.py', '../_base_/datasets/fashion_mnist.py', '../_base_/schedules/sgd_30e.py',
    '../_base_/ohl_copies.py', '../_base_/ohl-autoaug_fmnist_hook.py'
]

max_epochs = 20
train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    # Fashion-MNIST's background is black: geometric elements uncover black, not AutoAugment's grey.
    dict(type='OHLAutoAugment', key='autoaug', elements='randaugment', fill=0),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    sampler={{_base_.copy_sampler}},
    dataset=dict(samples_per_class=100, pipeline=train_pipeline))
reward_dataloader = dict(dataset=dict(max_samples=2000))

custom_hooks = [dict(_base_.ohl_autoaug_hook, reward_key='accuracy/top1'),
                dict(type='OHLProgressHook')]
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, convert_to_iter_based=True)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2), logger=dict(interval=10))
