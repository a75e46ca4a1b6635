# AM-LFS, paper setting: CIFAR-10 with 20 % of the training labels flipped (never the reward or test split).
_base_ = ['./am-lfs_resnet18_1x8_200e_cifar10-noise0.py']
train_dataloader = dict(dataset=dict(noise_ratio=0.20))
