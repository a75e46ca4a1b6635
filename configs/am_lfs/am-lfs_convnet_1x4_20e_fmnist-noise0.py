# AM-LFS on reduced Fashion-MNIST with clean training labels.
_base_ = ['./am-lfs_convnet_1x4_20e_fmnist-noise40.py']
train_dataloader = dict(dataset=dict(noise_ratio=0.0, noise_type='symmetric'))
