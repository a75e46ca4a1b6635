# AM-LFS on reduced Fashion-MNIST with 20 % symmetric label noise on the training split only.
_base_ = ['./am-lfs_convnet_1x4_20e_fmnist-noise40.py']
train_dataloader = dict(dataset=dict(noise_ratio=0.2, noise_type='symmetric'))
