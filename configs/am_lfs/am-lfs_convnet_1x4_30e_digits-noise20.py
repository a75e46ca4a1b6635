# AM-LFS on the bundled digits with 20 % of the training labels flipped (the embedded default): 4 copies learn the
# loss function (monotone piecewise-linear t and tau on a cosine classifier, METHODS.md §3) while they train, rewarded on
# the clean reward split. A few minutes on 2 CPU cores.
_base_ = ['../_base_/am-lfs_convnet_1x4.py', '../_base_/datasets/digits.py']

train_dataloader = dict(
    sampler={{_base_.copy_sampler}},
    dataset=dict(_delete_=True, type='NoisyLabelDataset', noise_ratio=0.2, seed=0,
                 dataset=dict(type='DigitsDataset', split='train', img_size=32, max_samples=600,
                              pipeline=[dict(type='PackClsInputs')])))

train_cfg = dict(val_interval=10)
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2), logger=dict(interval=10))
