# AM-LFS on reduced Fashion-MNIST with 40 % symmetric label noise on the training split (the reward and test
# splits stay clean): 1,000 training images (100 per class), a 500-image reward split, the official 10k test set.
# 4 copies learn the loss (monotone t and tau on a cosine classifier, automl_mm/losses/parametrisation.py) while
# they train. The -noise0, -noise20 and -pairflip40 leaves change only the noise.
_base_ = ['../_base_/am-lfs_convnet_1x4.py', '../_base_/datasets/fashion_mnist.py']

train_dataloader = dict(
    sampler={{_base_.copy_sampler}},
    dataset=dict(_delete_=True, type='NoisyLabelDataset', noise_ratio=0.4, noise_type='symmetric', seed=0,
                 dataset=dict(type='FashionMNISTDataset', split='train', samples_per_class=100, data_root=None,
                              reward_size=5000, seed=0, pipeline={{_base_.train_pipeline}})))
reward_dataloader = dict(dataset=dict(samples_per_class=50))

param_scheduler = [dict(type='CosineAnnealingLR', T_max=20, by_epoch=True, convert_to_iter_based=True)]
train_cfg = dict(max_epochs=20, val_interval=20)
default_hooks = dict(checkpoint=dict(interval=20, max_keep_ckpts=1), logger=dict(interval=20))
