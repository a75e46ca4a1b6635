# AM-LFS, paper setting: CIFAR-10 with 20 % of the training labels flipped (never the reward or test split).
_base_ = ['./am-lfs_resnet18_1x8_200e_cifar10-noise0.py']
noise_ratio = 0.20  # the inherited variable would say 0.0 in a dumped config
train_dataloader = dict(dataset=dict(noise_ratio=noise_ratio))
