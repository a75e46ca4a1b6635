# AM-LFS on reduced Fashion-MNIST with 40 % pairflip label noise on the training split only.
_base_ = ['./am-lfs_convnet_1x4_20e_fmnist-noise40.py']
train_dataloader = dict(dataset=dict(noise_ratio=0.4, noise_type='pairflip'))
